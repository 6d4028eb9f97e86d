"""What every test shares."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _heap_unfrozen() -> Iterator[None]:
    """A command run in-process (``main(["run", ...])``) freezes the heap as the process it
    expects to own (``engine.heap``); in the test process that would keep every later
    test's leftovers from collection, so it is undone after each test."""
    yield
    gc.unfreeze()
