"""Shared fixtures of the documents-tools tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicedesk.tools.docs_server import DocsTools
from voicedesk.tools.workspace import Workspace


@pytest.fixture
def tools(tmp_path: Path) -> DocsTools:
    """The documents tools on an empty workspace, their undo history beside it."""
    root = tmp_path / "ws"
    root.mkdir()
    return DocsTools(Workspace(root, tmp_path / "history"))
