"""What every test shares."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_as_in_a_terminal() -> Iterator[None]:
    """Ctrl-C reaches the test process and the commands it starts as it does in a terminal.

    A suite started in the background by a script (``.ci/run &``, a scheduler's job) has
    SIGINT ignored, and every command it starts inherits that: the Ctrl-C tests then sent a
    SIGINT nobody heard (the demo talked on to its 60 s timeout; the second Ctrl-C raised
    nothing), failing on how the suite was launched rather than on the code. Python's own
    handler here makes the children start with SIGINT at its default, as from a shell."""
    before = signal.getsignal(signal.SIGINT)
    if before == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if before == signal.SIG_IGN:
            signal.signal(signal.SIGINT, before)


@pytest.fixture(autouse=True, scope="session")
def _data_folder_of_this_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each test process keeps what voicedesk writes to its data folder (conversations, the
    terminal UI's logs and their pruning, tool servers' logs by fixed name such as
    ``logs/mcp-big.log``, the microphone check's first-run marker) in a folder of its own.

    The suite runs in parallel processes (pytest-xdist): sharing the person's data folder,
    two of them would write one tool server's log at once and prune each other's logs, and
    a conversation or marker one left would change what another found there. It also
    leaves the person's own folder alone (the suite had left dozens of simulated
    conversations and logs in it). A test that sets ``XDG_DATA_HOME`` itself still wins; the
    user cache (the rewritten turn model, written atomically) stays shared, as it is made
    once for all of them."""
    before = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("XDG_DATA_HOME", None)
        else:
            os.environ["XDG_DATA_HOME"] = before


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


@contextlib.contextmanager
def _sim_on_its_own_loop(*args: Any, **kw: Any) -> Iterator[Any]:
    from voicedesk.sim.server import SimServer

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sim-elsewhere", daemon=True)
    thread.start()
    server = SimServer(*args, **kw)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@pytest.fixture
def sim_elsewhere() -> Callable[..., contextlib.AbstractContextManager[Any]]:
    """A simulated cloud answering from a thread and event loop of its own (SimServer's
    arguments): a server far away, which the test's loop being busy does not hold up, and
    which blocking clients (`doctor`, the one-token model check) can reach."""
    return _sim_on_its_own_loop
