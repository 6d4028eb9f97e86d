"""The suite's own set-up: what lets its tests run in parallel processes (pytest-xdist)."""

from __future__ import annotations

import pytest

from voicedesk.config import data_dir


def test_a_test_process_keeps_voicedesk_data_in_a_folder_of_its_own(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """tests/conftest.py points voicedesk's data folder into this process's temporary
    folder (one per xdist worker): the parallel processes must not share conversations,
    logs by fixed name or the microphone check's marker, nor leave them in the person's
    own data folder."""
    assert data_dir().is_relative_to(tmp_path_factory.getbasetemp())
