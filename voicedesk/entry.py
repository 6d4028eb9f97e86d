"""The ``voicedesk`` command's entry point (``[project.scripts]``, ``python -m voicedesk``).

Importing the command line (:mod:`voicedesk.cli`, and the standard library it needs) takes
the command's first ~0.1 s, before anything of ours can handle Ctrl-C: pressed then, it was
a KeyboardInterrupt traceback through the import machinery. This module imports nothing
before it, so the command is inside the ``try`` below from its first import on.
"""


def main() -> None:
    """Run the command (:func:`voicedesk.cli.entry`); Ctrl-C before it handles Ctrl-C
    ends it as Ctrl-C ends a command, with 130 and no traceback."""
    try:
        from voicedesk.cli import entry

        entry()
    except KeyboardInterrupt:
        import signal

        # a second Ctrl-C must not break into the interpreter's own ending with another
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # exit_status.INTERRUPTED; not imported here, where a second Ctrl-C could break it
        raise SystemExit(130) from None
