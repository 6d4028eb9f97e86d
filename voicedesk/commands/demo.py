"""``voicedesk demo``: the whole loop against the simulated cloud, with bundled speech.

No keys, no network, no microphone: a recorded person (Piper speech bundled with voicedesk)
talks to the real engine, the simulated cloud answers over real sockets, and a documents
tool runs on a sample workspace. Reading the budget memo is made slow on purpose: the
assistant says it is working on it, answers the next question meanwhile, and speaks the
memo's summary when the tool is done. Without ``--headless`` it runs in the terminal UI.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from voicedesk.commands import DocHelpFormatter, path_arg

DEMO_TURNS = ["hello", "docs", "budget", "question", "thanks"]
# The built-in documents server's tools, as the LLM sees them (namespaced per server).
DOCS_LIST_TOOL = "docs__list_documents"
DOCS_READ_TOOL = "docs__read_document"
SLOW_READ_S = 12.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from voicedesk.commands.run import METRICS_OUT_HELP, add_force, add_sim_delays, add_sim_fault
    from voicedesk.exit_status import exit_status_help

    parser = sub.add_parser(
        "demo",
        description=f"{__doc__}\n{exit_status_help()}",
        formatter_class=DocHelpFormatter,
    )
    parser.add_argument("--headless", action="store_true", help="no TUI; print the conversation")
    parser.add_argument(
        "--output",
        type=path_arg,
        metavar="OUT.wav",
        help="write what the assistant says here (it grows in OUT.partial.wav until the end); "
        "an existing OUT.wav is refused unless --force is given",
    )
    add_force(parser)
    add_sim_delays(parser)
    add_sim_fault(parser, "make")
    parser.add_argument("--metrics-out", type=path_arg, metavar="FILE.jsonl", help=METRICS_OUT_HELP)
    parser.add_argument("--no-tools", action="store_true", help="skip the documents tool")
    parser.set_defaults(func=run)


def demo_script(with_tools: bool) -> Any:
    from voicedesk.sim.script import SimScript, SimToolCall, SimTurn

    texts = {name: text for name, text in _texts().items()}
    docs_turn = SimTurn(
        transcript=texts["docs"],
        reply="You have three documents: the budget memo, the meeting notes, and a draft plan "
        "for the winter offsite.",
        tool_calls=[SimToolCall(name=DOCS_LIST_TOOL, arguments={})] if with_tools else [],
    )
    budget_turn = SimTurn(
        transcript=texts["budget"],
        reply="The summary says the team asks for forty two thousand euros next quarter, five "
        "percent less than last quarter, because hosting got cheaper.",
        tool_calls=[SimToolCall(name=DOCS_READ_TOOL, arguments={"path": "budget-memo.md"})]
        if with_tools
        else [],
    )
    return SimScript(
        turns=[
            SimTurn(
                **_heard_in_parts(texts["hello"]),
                reply="Loud and clear. I'm ready whenever you are. What shall we work on?",
            ),
            docs_turn,
            budget_turn,
            SimTurn(
                transcript=texts["question"],
                reply="About seven minutes for a firm yolk, and nine or ten for hard boiled.",
            ),
            SimTurn(**_heard_in_parts(texts["thanks"]), reply="You're welcome. Talk to you later."),
        ]
    )


def _heard_in_parts(text: str) -> dict[str, Any]:
    """A scripted turn's transcript as a real service gives it for speech with a pause at a
    comma ("Hi there, | can you hear me okay?"): the words before the pause when the pause
    is committed, the rest with the next commit. The simulated service gave the whole
    sentence at the pause, so without local cues the turn ended there, at a comma."""
    head, _, rest = text.partition(", ")
    return {"transcript": f"{head},", "continued": [rest]}


def _texts() -> dict[str, str]:
    from voicedesk.bench.scenarios import load_utterance

    return {name: load_utterance(name)[1] for name in DEMO_TURNS}


def demo_workspace() -> Path:
    """A fresh copy of the sample documents, so the demo never touches the person's files."""
    folder = Path(tempfile.mkdtemp(prefix="voicedesk-demo-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    target = folder / "workspace"
    src = resources.files("voicedesk") / "assets" / "demo" / "workspace"
    with resources.as_file(src) as folder:
        shutil.copytree(folder, target)
    return target


def prepare(args: argparse.Namespace) -> tuple[Any, Path, Path, Any]:
    """Settings, input WAV, output WAV and sim options for a demo run."""
    from voicedesk.bench.scenarios import compose
    from voicedesk.commands.run import load_run_settings
    from voicedesk.engine.builder import SimOptions

    with_tools = not args.no_tools
    settings = load_run_settings(args)
    data = settings.model_dump()
    data["turn"]["mode"] = "hands-free"  # the recorded person never presses a key
    # Reading a document is made slow (as a remote server might be), so the demo shows a tool
    # running in the background while the person asks something else.
    data["tools"].update(
        workspace=str(demo_workspace()),
        docs_server=with_tools,
        mcpServers={},
        docs_server_args=["--slow", f"{DOCS_READ_TOOL.split('__')[1]}={SLOW_READ_S}"],
    )
    settings = type(settings).model_validate(data)
    workdir = Path(tempfile.mkdtemp(prefix="voicedesk-demo-audio-"))
    out = args.output or (workdir / "assistant.wav")
    # with --output nothing in it is asked for; without, it is kept once answers are in it
    atexit.register(_drop_unless_answered, workdir, None if args.output else out)
    inp = workdir / "person.wav"
    compose(DEMO_TURNS, gaps_s=[8.0, 10.0, 9.0, 16.0]).write(inp)
    sim = SimOptions(
        ttft_s=args.sim_ttft,
        ttfb_s=args.sim_ttfb,
        stt_s=args.sim_stt,
        script=demo_script(with_tools),
        faults=getattr(args, "sim_fault", []),
    )
    return settings, inp, out, sim


def _drop_unless_answered(workdir: Path, answers: Path | None) -> None:
    """Remove the demo's audio folder at exit unless ``answers`` (None: never kept) has
    begun in it. A demo stopped before its first answer (Ctrl-C during the start, a
    start-up error) said the answers' file "was not written" and left the folder behind
    with the person's side alone, 1.7 MB in the temporary folder after each such try."""
    from voicedesk.audio.wavio import partial_path

    if answers is not None and (answers.exists() or partial_path(answers).exists()):
        return
    shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    from voicedesk.commands.run import check_run_args
    from voicedesk.errors import UserError

    if getattr(args, "resume", False):
        raise UserError(
            "--resume does not apply to the demo: it always plays its conversation from the start",
            "drop --resume; `voicedesk --resume` continues your own last conversation",
        )
    if not args.headless:  # before check_run_args makes the --output folder for nothing
        from voicedesk.commands.tui import require_a_terminal

        require_a_terminal(demo=True)
    check_run_args(args)
    args.demo = True  # hands-free whatever the config says; its log is kept apart
    if not args.headless:
        from voicedesk.commands import tui

        return tui.run(args)
    from voicedesk.commands.termination import until_terminated

    return asyncio.run(until_terminated(run_headless(args), leave=True))


async def run_headless(args: argparse.Namespace) -> int:
    from voicedesk.commands.run import converse, file_state, headless_ended, headless_listeners

    settings, inp, out, sim = prepare(args)
    bus, printer, metrics = headless_listeners(args.metrics_out)
    # with --output the person's side is a temporary file, gone at exit: not worth naming
    side = "" if args.output else f"the person's side is {inp}; "
    print(f"demo: {side}the assistant's answers go to {out}", flush=True)
    out_before = file_state(out)
    conversation = converse(
        settings,
        input_path=inp,
        output_path=out,
        sim=sim,
        bus=bus,
        with_tools=not args.no_tools,
        log_kind="demo",
    )
    stopped = await headless_ended(conversation, printer, metrics, out, out_before)
    if stopped is not None:  # Ctrl-C, or its output lost: as run says it
        return stopped
    print(f"demo: done — listen to the answers in {out}")
    return printer.exit_status("demo")
