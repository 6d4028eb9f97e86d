"""What every test shares."""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _heap_unfrozen() -> Iterator[None]:
    """A command run in-process (``main(["run", ...])``) freezes the heap as the process it
    expects to own (``engine.heap``); in the test process that would keep every later
    test's leftovers from collection, so it is undone after each test."""
    yield
    gc.unfreeze()


@pytest.fixture
def small_drive(tmp_path: Path) -> Iterator[Path]:
    """A real drive of 256 kB (a tmpfs, mounted as root), for a test to fill up
    (``fill_drive``): a full disk as the kernel reports it, ENOSPC from a short write."""
    drive = tmp_path / "drive"
    drive.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("a drive that fills up needs root (a tmpfs mount) to make")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(drive)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield drive
    finally:
        subprocess.run(["umount", "-l", str(drive)], check=False)


@pytest.fixture
def fill_drive() -> Callable[[Path], Path]:
    """Write to a drive until it is full; returns the filler file, to delete to free it."""

    def fill(drive: Path) -> Path:
        filler = drive / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        finally:
            os.close(fd)
        return filler

    return fill
