"""The exit statuses of a conversation (`voicedesk`, `run`, `demo`): one table, which the
code returns and `run --help`, `demo --help` and the README say (a test compares the
README's list with it). The lists written by hand left out 1 and 141, and said nothing of
129 and 143.

Imports nothing: the command line reads it for ``--help``, which stays instant.
"""

from __future__ import annotations

OK = 0
# Standard output took no more (``cli.StdoutError``); Python's own status for an error
# nobody caught, which ends with its traceback.
OUTPUT_FAILED = 1
USER_ERROR = 2  # ``errors.UserError`` and argparse's usage errors
SERVICE_FAILED = 3  # ``errors.ProviderError``, and a headless run's lost turns
SIGNALLED = 128  # + the signal's number, as a shell reports a command a signal ended
INTERRUPTED = SIGNALLED + 2  # SIGINT, Ctrl-C
BROKEN_PIPE = SIGNALLED + 13  # SIGPIPE's number: the reader of standard output went away

# (status, what it means), in order
EXIT_STATUSES: tuple[tuple[int, str], ...] = (
    (
        OK,
        "the conversation went through (with --headless, a turn answered although "
        "speech-to-text failed on part of it, or one whose answer the provider's content "
        "filter withheld, included: each is said where it happened)",
    ),
    (
        OUTPUT_FAILED,
        "standard output could not be written (a full disk, a closed descriptor); also an "
        "unexpected error, shown with its traceback (a bug: please report it)",
    ),
    (
        USER_ERROR,
        "an argument, the config, a file or a device is wrong; the message says which, "
        "and how to fix it",
    ),
    (
        SERVICE_FAILED,
        "a service failed: at the start (a rejected key, a server down), or, with "
        "--headless, on the way (a turn not understood, or its answer failed; the "
        "conversation goes on, and the run says how many at its end)",
    ),
    (SIGNALLED + 1, "SIGHUP: its terminal closed (unless it was started with it ignored)"),
    (
        INTERRUPTED,
        "Ctrl-C (SIGINT; unless it was started with it ignored), also when the reader of its "
        "standard output went with it (`… | head`)",
    ),
    (BROKEN_PIPE, "the reader of its standard output went away (`… | head -1`)"),
    (SIGNALLED + 15, "SIGTERM (`kill`, a logout, a service manager)"),
)


def exit_status_help() -> str:
    """The table as ``--help`` shows it, after the command's description."""
    import textwrap

    lines = ["Exit status:"]
    for status, meaning in EXIT_STATUSES:
        # the help keeps the description's line breaks: wrapped here, as the docstrings are
        lines += textwrap.wrap(
            meaning,
            width=88,
            initial_indent=f"  {status:>3}  ",
            subsequent_indent=" " * 7,
            break_on_hyphens=False,
        )
    return "\n".join(lines)


def exit_status_markdown() -> str:
    """The table as the README lists it (a test compares the two)."""
    return "\n".join(f"- `{status}`: {meaning}" for status, meaning in EXIT_STATUSES)
