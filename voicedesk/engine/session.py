"""The conversation session: wires audio, turn detection, providers, context and metrics.

Policies live in their own modules (``turn.detector`` decides end of turn, ``reply`` streams
one answer, ``speaking`` follows what is played and acts on speech over it by
``barge_in``'s rule, ``heard`` what was heard, ``metrics`` the timings); this module only
connects them. Everything runs on one asyncio loop; the audio thread hands blocks over with
``call_soon_threadsafe`` and never waits for us.

Turn flow (hands-free):
  speech_start → stream audio to STT
  speech_stop  → commit STT, pre-open TTS; when the text lands, start the LLM preemptively
  speech_resume→ the person went on: cancel that reply quietly
  turn_end     → confirm: the held audio starts playing
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from voicedesk import events as ev
from voicedesk.audio.base import PLAYBACK_RATE
from voicedesk.config import Settings
from voicedesk.engine.api import CHECK_SOUND_UTTERANCE, Mode, check_sound
from voicedesk.engine.context import compact_tool_results, tool_result_gist
from voicedesk.engine.metrics import TurnRecord, unheard_holding_line
from voicedesk.engine.reply import Reply, streams_closed
from voicedesk.engine.session_log import SessionLog
from voicedesk.engine.speaking import Speaking, error_line
from voicedesk.engine.tool_jobs import ToolJobs
from voicedesk.errors import (
    AuthError,
    ContentFilterError,
    ContextTooLongError,
    ProviderError,
    RefusedSettingError,
    UserError,
)
from voicedesk.providers.base import (
    CLAUSE_END_MARKS,
    ChatRequest,
    LanguageModel,
    SpeechToText,
    TextToSpeech,
    ToolCall,
)
from voicedesk.providers.local_stt import CUE_READERS
from voicedesk.providers.openai_llm import silent_truncation_warning
from voicedesk.tools.wording import plural

if TYPE_CHECKING:
    from voicedesk.audio.aec import EchoVerdict
    from voicedesk.turn.pause_reading import PauseReader

log = logging.getLogger(__name__)


@dataclass
class _Turn:
    """A user turn in progress (possibly several STT segments)."""

    turn_id: int
    record: TurnRecord
    segments: list[str] = field(default_factory=list)
    # The words of an unheard turn this one took back and goes on from ("What's the weather
    # | in Paris"); its own segments follow them.
    earlier: str = ""
    # The unheard turn whose answer waits on this turn's words: the person spoke again right
    # after it, which may be them going on or only a cough (``Session._hold_unheard_answer``).
    holds: _Turn | None = None
    # The tool calls the answer taken back with ``earlier`` had made, with what came of
    # them: this turn's answer goes on from them (a create may have been done).
    carried: list[dict[str, Any]] = field(default_factory=list)
    # The turns this one took back (``earlier``'s), whose retraction is logged with this
    # turn's words (``Session._log_user``): logged as they were taken back, a process
    # killed or quit before this turn's answer was confirmed left the log with the question
    # retracted and nothing in its place.
    retracts: list[int] = field(default_factory=list)
    # The unheard turn whose held answer this one let play (no words yet): more speech in
    # this turn before that answer begins holds it again.
    released: _Turn | None = None
    pending_commits: int = 0
    ended: bool = False
    ended_nth: int = 0  # the session's how-manyth spoken turn end this was (0: none yet)
    barge_in: bool = False  # started while an answer was playing
    # Over the answer with fewer words than barge_in.min_words ("mm-hm"), or only a stretch
    # of the answer's own words (its echo, Speaking.echoes_the_answer): a backchannel, not
    # a turn. Re-judged on every transcript, so going on in the same turn makes it one.
    backchannel: bool = False
    typed: bool = False
    followup: bool = False  # an answer to background tool results, not to something said
    logged_user: bool = False
    failed: bool = False  # reported to the person (notice and spoken line) once
    # Its answer waits for that of a line typed after its words began (``_confirm_after``
    # runs): one wait a turn, whatever attempts its answer takes meanwhile.
    waits: bool = False
    unheard_told: bool = False  # push-to-talk with no words: said once
    # audio time at which an answer held back in a dangling pause is prepared (PREPARE_AHEAD_S)
    prepare_at_s: float | None = None
    # (the VAD's end of the latest speech, where its words ended): the timings' speech_end
    words_end: tuple[float, float] | None = None
    # What the session log's last progress record says was heard of this turn's answer,
    # and when on the timeline it was written (``Session._log_progress``).
    heard_logged: str = ""
    heard_logged_s: float = -math.inf

    @property
    def text(self) -> str:
        return " ".join(s for s in (self.earlier, *self.segments) if s).strip()


# A turn the person ended themselves (``TurnDetector.end_now``), not a pause the detector
# judged: committed at once, whether or not the VAD heard the speech stop.
_ENDED_BY_THE_PERSON = frozenset({"ptt", "muted", "mode"})

# A pause whose words need a continuation ("Set a timer for …") ends only with more speech or
# the maximum wait, and a person usually goes on: an answer prepared at once would nearly
# always be cancelled, a whole prompt paid for nothing. It is started this long before the
# maximum wait instead, enough for the LLM's first token (~0.7 s) and the first audio
# (~0.33 s), so a person who does stop there hears it as soon as before.
PREPARE_AHEAD_S = 1.2
# How far past the end of a WAV input the detector must have heard before a headless run may
# end: over a VAD window, so the input's last samples have been windowed and read.
HEARD_PAST_S = 0.1
# A request that has waited this long for tool servers still starting says so: the
# documents server's own start (under a second) goes unremarked.
TOOLS_WAIT_UNSAID_S = 1.0
# The most the answers wait, from the first that waits, for tool servers still starting:
# then they go without those servers' tools, which join the next requests once up. A
# server that never answered held the first answer until its handshake gave up (8 s), for
# a question that may need none of its tools; the documents server is up in about one.
TOOLS_WAIT_MAX_S = 3.0
# While an answer plays, what has been heard of it is looked at this often, and logged when
# it has passed the end of a clause or sentence, or else when it has grown and the last
# record is this old: a process killed mid-answer (kill -9, a power cut) keeps in its log
# what the person heard, a clause or two seconds behind at worst.
PROGRESS_LOOK_S = 0.25
PROGRESS_MAX_GAP_S = 2.0
_CLAUSE_END = re.compile(f"[{CLAUSE_END_MARKS}]")


def _quoted(names: list[str]) -> str:
    return " and ".join(f"“{name}”" for name in names)


def _final_at_the_end(rec: TurnRecord) -> None:
    """A transcript final before the speech end it is timed from was waited for not at
    all: its stage is 0, not negative. The talk key held past a pause ends the turn at its
    release, after the pause's words were already transcribed: "stt" read -0.6 s. Both
    stamps are on the session timeline, so a transcript that came after the end keeps its
    own moment (the next commit's ``stt_final`` is stamped later still)."""
    final, end = rec.t.get("stt_final"), rec.t.get("speech_end")
    if final is not None and end is not None and final < end:
        rec.mark("stt_final", end, overwrite=True)


def _carried_on(carried: list[dict[str, Any]], kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool calls a merged turn goes on from: those of the answer taken back (``kept``;
    asked again without them, the model would make them a second time), after those that
    answer had itself been carried, unless it holds them already: an answer is asked with
    its turn's carried calls, and they are in its ``tool_messages``. Added again, the same
    call and its result were sent twice when the person went on twice (OpenAI refuses
    that)."""
    return [*(m for m in carried if m not in kept), *kept]


class Session:
    """Implements :class:`voicedesk.engine.api.SessionControl`."""

    def __init__(
        self,
        settings: Settings,
        *,
        audio: Any,
        stt: SpeechToText,
        llm: LanguageModel,
        tts: TextToSpeech,
        detector: Any,
        context: Any,
        tools: Any | None = None,
        bus: ev.EventBus | None = None,
        session_log: SessionLog | None = None,
        fallback_tts: TextToSpeech | None = None,
        pause_reader: PauseReader | None = None,
    ) -> None:
        """``pause_reader``: the local reading of each pause for the end-of-turn cues
        (``turn.local_cues``), beside the streaming transcript."""
        self.settings = settings
        self.bus = bus or ev.EventBus()
        self.audio = audio
        self.stt = stt
        self.llm = llm
        self.tts = tts
        self.fallback_tts = fallback_tts
        self.pause_reader = pause_reader
        # As many readings at once as the cue transcriber has workers: a reading of a pause
        # the person has since spoken on cannot be stopped, so the latest pause's reading
        # runs beside it rather than waiting the ~0.6 s it takes.
        self._reading_slots = asyncio.Semaphore(CUE_READERS)
        self.detector = detector
        self.context = context
        self.tools = tools
        self._tools_left_out: list[str] = []  # too big for the budget, as last said
        self.log = session_log
        self.mode = settings.turn.mode
        self.muted = False
        self.state: ev.EngineState = "idle"
        self.records: list[TurnRecord] = []

        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0_ns: int | None = None
        self._block_s = settings.audio.block_ms / 1000
        self._last_block_s = 0.0
        self._turn_ids = itertools.count(1)
        # The last turn the person spoke or typed: what the documents server is told a
        # call answers (an answer to background results is a turn nobody spoke, and a
        # confirmation counts only in a later turn of the person's than its question).
        self._person_turn = 0
        self._utterance_ids = itertools.count(1)
        self._turn: _Turn | None = None
        self._stt_streaming = False
        self._reply: Reply | None = None  # the reply being prepared or played
        self._reply_turn: _Turn | None = None
        # the person is heard (speaking, or holding the talk key): what barge-in and a
        # held answer go by
        self._heard = _HeardOrKeyHeld(detector)
        self._speaking: Speaking[_Turn] = Speaking(
            settings,
            audio=audio,
            detector=self._heard,
            bus=self.bus,
            clock=self.now_s,
            tts=tts,
            fallback_tts=fallback_tts,
            utterance_ids=self._utterance_ids,
            answer_started=self._answer_started,
            answer_ended=self._answer_ended,
            update_idle=self._update_idle,
            key_held=lambda: self._ptt_open,
        )
        self._ptt_open = False
        # the detector's VAD starts (``TurnDetector.vad_starts``) the early pause has followed
        self._vad_starts = 0
        self._turns_ended = 0  # spoken turns ended so far
        self._hushed_after = 0  # how many had ended at the stop key's last press
        # the turn whose answer that press stopped (None: none was playing): turns asked
        # after it are newer questions, not hushed
        self._hushed_for: int | None = None
        self._typing = 0  # typed lines cutting the answer playing, to take its place
        # One typed line at a time, in the order typed (asyncio's lock is first come, first
        # served): a line that waited for the answer it cut was overtaken by the lines typed
        # after it, so three lines typed quickly were asked and answered out of order.
        self._typed_in_turn = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tool_jobs = (
            ToolJobs(
                tools,
                patience_s=settings.tools.tool_patience_s,
                is_quiet=self._is_quiet,
                is_closing=lambda: self._closing,
                deliver=self._deliver_tool_results,
                notice=self._notice,
                set_state=self._set_state,
                spawn=self._spawn,
                keep=self._log_pending_tools,
                dropped=getattr(context, "add_dropped_calls", lambda turn_id, messages: None),
            )
            if tools is not None
            else None
        )
        self._closing = False
        self._tools_up: asyncio.Future[None] | None = None  # the tool servers' start
        self._said_tools_wait = False  # that an answer waits for them, said once
        # when the answers stop waiting for them (TOOLS_WAIT_MAX_S after the first began)
        self._tools_wait_ends: float | None = None
        # the end of the wait the person was told ("waits up to 2 s more"), and for which
        # servers: a wait given back and begun again ends later, and is told again
        self._told_wait_ends: float | None = None
        self._told_wait_for: list[str] = []
        self._said_tools_gone_without = False
        self._tools_wait_answers = 0  # answers in _wait_tools_up, whatever part of it
        # the answers waiting past TOOLS_WAIT_UNSAID_S, and the servers last said awaited
        # (``ToolServersWait``): a preemptive answer and the turn's own may both wait
        self._tools_waiting = 0
        self._tools_wait_said: tuple[str, ...] = ()
        self._progress_due_s = 0.0  # when the playing answer's heard part is looked at next
        self._idle = asyncio.Event()
        self._idle.set()
        if session_log is not None and hasattr(context, "on_summary"):
            context.on_summary = self._log_summary
        if session_log is not None and hasattr(context, "on_window"):
            context.on_window = self._log_window

    def _log_summary(
        self,
        summary: str,
        folded: list[int],
        summary_turns: int,
        calls: list[list[Any]],
        partly: list[list[Any]],
    ) -> None:
        """``calls``: the tool calls the folded turns carried, as [turn id, call id];
        ``partly``: the turns the summary took in only part of, kept in the window, as
        [turn id, message keys] (see ``ContextManager.on_summary``)."""
        assert self.log is not None
        record = {
            "type": "summary",
            "summary": summary,
            "folded_turn_ids": folded,
            "summary_turns": summary_turns,
            "folded_calls": calls,
        }
        if partly:
            record["partly_folded"] = partly
        self.log.append(record)

    def _log_window(self, learnt: dict[str, Any]) -> None:
        """A refusal lowered the budget to fit the model's window: ``--resume`` keeps to it
        from the first request, instead of being refused and retrying again."""
        assert self.log is not None
        self.log.append({"type": "context_window", **learnt})

    def continue_from(self, last_turn_id: int) -> None:
        """Number new turns after a resumed conversation's last one."""
        self._turn_ids = itertools.count(last_turn_id + 1)
        self._person_turn = last_turn_id

    # ------------------------------------------------------------------ clock
    def now_s(self) -> float:
        """Session timeline (= input audio timeline) for loop-side moments."""
        if self._t0_ns is None:
            return self._last_block_s
        return (time.monotonic_ns() - self._t0_ns) / 1e9

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.log is not None:
            self.log.on_broken = self._log_broken
        # The tool servers come up beside the voice services, and the microphone does not
        # wait for them: it opened only once every server had answered or START_WAIT_S
        # (10 s) had passed, so one that hung kept the status at "starting" that long, and
        # what the person said meanwhile was never heard. A request waits for them instead
        # (``_wait_tools_up``), within the same bound, so the first answer has their tools.
        if self.tools is not None:
            self._tools_up = asyncio.ensure_future(self.tools.start())
        # The voice is needed only if there is a speaker, which is known once the audio has
        # started: its failure waits until then (``_use_the_voice``).
        voice = asyncio.ensure_future(self.tts.warm())
        try:
            await asyncio.gather(self._connect_stt(), self.llm.warm())
        except BaseException:
            if self._tools_up is not None:
                self._tools_up.cancel()  # stop() closes the servers already started
            voice.cancel()
            # its own failure, if it came first, is not the one to report: read, not logged
            voice.add_done_callback(lambda t: t.cancelled() or t.exception())
            raise
        # A resumed conversation killed mid-summary has its unfolded turns in the window:
        # left for the first new turn's end, that turn's request carried them all (a
        # prompt up to twice the size, a slower first token). Folded in the background
        # from here, as any summary is: no answer waits for it, and a turn ending
        # meanwhile finds it running and is chained after it (``maybe_summarize``).
        fold_backlog = getattr(self.context, "maybe_summarize", None)
        if fold_backlog is not None:
            fold_backlog()
        voice_error: BaseException | None = None
        try:
            await voice
        except Exception as exc:
            voice_error = exc
        warning = silent_truncation_warning(
            getattr(self.llm, "server_url", ""), self.settings.llm.context_window
        )
        if warning:
            self._notice("warning", warning)
        if self._tools_up is not None:
            # Their definitions are checked against the budget once they are up, whether
            # before the microphone opens or after: a check now refused the start when they
            # won the race with the voice services (a slow network), and said a notice
            # when they lost, the same config either way.
            self._tools_up.add_done_callback(self._tools_came)
        # The early pause's worker sees every block from the first, as the turn detector
        # does: begun a few blocks later, its VAD's 32 ms windows fell between the
        # detector's, and the two heard the same speech begin and end a block apart.
        early = self._speaking.pause_early() if hasattr(self.audio, "block_observer") else None
        if early is not None:
            self.audio.block_observer = early.observe
        self.audio.start(self._loop, self._on_block)
        if early is not None:  # known once the devices are
            early.echo_possible = getattr(self.audio, "echo_possible", True)
        self._use_the_voice(voice_error)
        self._speaking.watch_double_talk()
        self._set_state("muted" if self.muted else "listening")

    def _tools_came(self, started: asyncio.Future[None]) -> None:
        """The tool servers have come up (or START_WAIT_S passed): their definitions must
        fit the context budget beside the system prompt and a turn. Too big, the
        conversation goes on (without the tools left out, and with less of itself in each
        request), and the fix is said."""
        if started.cancelled() or self._closing:
            return
        if started.exception() is not None:
            log.warning("starting the tool servers failed", exc_info=started.exception())
            return
        check_room = getattr(self.context, "check_room", None)
        if check_room is None:
            return
        try:
            check_room(self._offered_tools())
        except UserError as exc:
            self._notice("error", exc.message + (f" → {exc.hint}" if exc.hint else ""))

    async def _wait_tools_up(self) -> bool:
        """Wait for tool servers still in their start, at most TOOLS_WAIT_MAX_S from the
        first answer that waited, then go without them; whether there was any wait.

        An answer dropped while it waits (prepared in a pause the person talked on from)
        gives its time back, unless another answer waits on: it had started the clock, and
        the answer to the whole question, asked seconds later, went without a server that
        came up within 3 s of that question."""
        starting = self._tools_up
        if starting is None or starting.done():
            return False
        loop = asyncio.get_running_loop()
        if self._tools_wait_ends is None:
            self._tools_wait_ends = loop.time() + TOOLS_WAIT_MAX_S
        if self._tools_wait_ends - loop.time() <= 0:
            return False  # the answers already went without them: a later one does not wait
        self._tools_wait_answers += 1
        try:
            return await self._wait_tools_within()
        except asyncio.CancelledError:
            if self._tools_wait_answers == 1 and not self._said_tools_gone_without:
                self._tools_wait_ends = None
            raise
        finally:
            self._tools_wait_answers -= 1

    async def _wait_tools_within(self) -> bool:
        """:meth:`_wait_tools_up`'s wait, once it has its bound."""
        starting = self._tools_up
        assert starting is not None and self._tools_wait_ends is not None
        loop = asyncio.get_running_loop()
        left = self._tools_wait_ends - loop.time()
        log.info("a request waits for the tool servers still starting")
        # Once said, a later wait (the answer dropped for a new one) is the same long
        # start: its own grace showed "thinking" for a second in between.
        if not self._said_tools_wait:
            try:
                await asyncio.wait_for(asyncio.shield(starting), min(TOOLS_WAIT_UNSAID_S, left))
                return True
            except TimeoutError:
                pass
            except Exception:
                log.debug("the tool servers' start failed", exc_info=True)
                return True
        # "thinking" for seconds, unexplained, on the first question: say why, once as
        # a notice, and for as long as it lasts as an event a display can show. One
        # notice says it all (the wait, its bound, what comes after): three came for one
        # hung server, and none when it came up (the manager says that now).
        names: list[str] = getattr(self.tools, "starting", list)()
        if names and not self._said_tools_wait:
            self._said_tools_wait = True
            unsaid = getattr(self.tools, "unsaid_slow", list)(names)
            if unsaid:
                self._tell_tools_wait(unsaid, "slow to start")
        elif self._told_wait_ends is not None and self._tools_wait_ends > self._told_wait_ends:
            # The answer that was told of dropped its wait (the person went on) and gave
            # its time back: this one waits longer than said ("up to 2 s more" before a
            # wait of 3 s from now). Said again, with what is true now.
            told = [name for name in names if name in self._told_wait_for]
            if told:
                self._tell_tools_wait(told, "still starting")
        self._tools_waiting += 1
        try:
            left = self._tools_wait_ends - loop.time()
            async with asyncio.timeout(max(left, 0.0)):
                await self._follow_tools_wait(starting)
        except TimeoutError:
            self._go_without_tools()
        finally:  # also when the answer is dropped meanwhile (the person went on)
            self._tools_waiting -= 1
            self._say_tools_wait()
        return True

    def _tell_tools_wait(self, names: list[str], how: str) -> None:
        """Say how long at most the answer waits for ``names``, tool servers still
        starting, and remember it: a notice that waits longer than it said is told again."""
        assert self._tools_wait_ends is not None
        now = asyncio.get_running_loop().time()
        many = len(names) > 1
        more = max(1, math.ceil(self._tools_wait_ends - now))
        self._told_wait_ends, self._told_wait_for = now + more, names
        self._notice(
            "info",
            f"Tool server{'s' if many else ''} {_quoted(names)} "
            f"{'are' if many else 'is'} {how}: the answer waits up to "
            f"{more} s more, then goes without {'their' if many else 'its'} tools, "
            f"which are added once {'each is' if many else 'it is'} ready.",
        )

    def _go_without_tools(self) -> None:
        """The answers waited TOOLS_WAIT_MAX_S for tool servers that have not answered.
        The person was told so as the wait began (:meth:`_wait_tools_up`): logged only."""
        names: list[str] = getattr(self.tools, "starting", list)()
        if not names or self._said_tools_gone_without:
            return
        self._said_tools_gone_without = True
        log.info("answering without tool servers %s, not up after %g s", names, TOOLS_WAIT_MAX_S)

    async def _follow_tools_wait(self, starting: asyncio.Future[None]) -> None:
        """Wait for the tool servers' start, saying which are still awaited each time one
        comes up: said once, "quick, slow" went on blaming "quick" for seconds after it
        was ready. ``asyncio.wait``, not an await: a dropped answer leaves the start be."""
        one_ended = getattr(self.tools, "one_start_ended", None)
        while not starting.done():
            self._say_tools_wait()
            if one_ended is None or not self._tools_wait_said:
                await asyncio.wait({starting})  # (nothing named, so nothing to update)
                break
            one = asyncio.ensure_future(one_ended())
            try:
                await asyncio.wait({starting, one}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                one.cancel()

    def _say_tools_wait(self) -> None:
        """Publish which tool servers the answers wait for (none, once no answer waits),
        when that has changed: several waiting answers say the same thing once."""
        servers: tuple[str, ...] = ()
        if self._tools_waiting:
            servers = tuple(getattr(self.tools, "starting", list)())
        if servers != self._tools_wait_said:
            self._tools_wait_said = servers
            self.bus.publish(ev.ToolServersWait(servers=servers))

    def _offered_tools(self) -> list[dict[str, Any]]:
        """The tools offered to the model: all of them, unless their definitions would take
        more than their share of the context budget; then the biggest are left out, said
        once for each change (a server that comes up later can bring more)."""
        tools = self.tools.llm_tools() if self.tools is not None else []
        fit = getattr(self.context, "fit_tools", None)
        if fit is None:
            return tools
        # The documents tools last, as the tool manager's cap on their number has them.
        builtin = {t["function"]["name"] for t in tools if self._is_docs_tool(t)}
        kept, left_out = fit(tools, builtin)
        if left_out and left_out != self._tools_left_out:
            shown = ", ".join(left_out[:5]) + (
                f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
            )
            them = "them" if len(left_out) > 1 else "it"
            # named as configured: "my.srv" offers my_srv__huge, and is found by that name
            servers = list(
                dict.fromkeys(self.tools.server_of(n) if self.tools else None for n in left_out)
            )
            if None in servers:
                off = "the tool server that offers"
            elif len(servers) > 1:
                off = "tool servers " + " and ".join(f"“{s}”" for s in servers) + ", which offer"
            else:
                off = f"tool server “{servers[0]}”, which offers"
            self._notice(
                "warning",
                f"Left out {plural(len(left_out), 'tool')} whose definitions would take "
                f"over half of context.budget_tokens "
                f"({self.settings.context.budget_tokens}): {shown}. Raise the budget, or "
                f"turn off {off} {them} (enabled = false).",
            )
        self._tools_left_out = left_out
        return kept

    def _is_docs_tool(self, tool: dict[str, Any]) -> bool:
        """Whether ``tool`` is one of the built-in documents server's."""
        from voicedesk.tools.manager import DOCS_SERVER

        server_of = getattr(self.tools, "server_of", None)
        return server_of is not None and server_of(tool["function"]["name"]) == DOCS_SERVER

    def _use_the_voice(self, error: BaseException | None) -> None:
        """With a speaker, a voice that failed to warm up stops the start, as it would have
        before the audio started; without one (typing only), answers are shown, not spoken,
        and no voice is used at all (``NoSpeechTTS``)."""
        if getattr(self.audio, "speaker", True):
            if error is not None:
                raise error
            return
        from voicedesk.providers.no_speech_tts import NoSpeechTTS

        log.info("no speaker: answers are shown, not spoken (%s not used)", self.tts.name)
        for unused in (self.tts, self.fallback_tts):
            if unused is not None:
                self._spawn(unused.aclose())
        self.tts, self.fallback_tts = NoSpeechTTS(), None
        self._speaking.use_voice(self.tts)

    async def _connect_stt(self) -> None:
        """Open the transcriber's socket before the first word. A rejected key or setting
        stops the start (the person must fix it); a server that fails or cannot be reached
        now (an HTTP 500, a network still coming up) does not: the session starts, says so,
        and the transcriber dials again with the first speech it is sent, keeping that
        speech."""
        try:
            await self.stt.connect()
        except (AuthError, RefusedSettingError):
            raise
        except ProviderError as exc:
            self._notice(
                "error",
                f"Speech-to-text is not reachable yet: {exc.message}. "
                "It is tried again when you speak." + (f" → {exc.hint}" if exc.hint else ""),
            )

    async def stop(self) -> None:
        """Release everything; a failure the person must hear about (the output WAV could
        not be written) is raised once the rest is closed, other close errors are logged."""
        self._closing = True
        self._log_unanswered_merge()
        await self._speaking.cut_heard_answer()
        audio_error: UserError | None = None
        try:
            self.audio.stop()
        except UserError as exc:
            audio_error = exc
        except Exception:
            log.warning("stopping the audio failed", exc_info=True)
        if self._speaking.early is not None:  # no more blocks come: its thread may end
            self._speaking.early.close()
        for reply in {self._reply, self._speaking.playing} - {None}:
            assert reply is not None
            await reply.cancel()
        await streams_closed()  # the voice sockets of cut answers, before the voice itself
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        cancel_summary = getattr(self.context, "cancel", None)
        if cancel_summary is not None:  # a background summary must not outlive the LLM client
            cancel_summary()
            with contextlib.suppress(Exception):
                await self.context.wait_summary()
        if self.log is not None:
            # Nothing is recorded once the answers, tasks and summary are stopped: its
            # last records' fsync is waited for (off the loop: a slow disk's fsync must
            # not stall the stop's other work), and the file is let go (a process holding
            # many conversations, a benchmark or resumes, kept each one open). Before the
            # providers and the tool servers, whose shutdown may take seconds (a server
            # that ignores being stopped: the MCP SDK's ~4 s): the terminal UI bounds the
            # stop, and one cut short there left the log open until the process exited.
            try:
                await asyncio.to_thread(self.log.close)
            except OSError:
                log.warning("closing the session log failed", exc_info=True)
        for closer in (self.stt.aclose, self.llm.aclose, self.tts.aclose):
            with contextlib.suppress(Exception):
                await closer()
        if self.fallback_tts is not None:
            with contextlib.suppress(Exception):
                await self.fallback_tts.aclose()
        if self._tools_up is not None:
            self._tools_up.cancel()
        if self.tools is not None:
            with contextlib.suppress(Exception):
                await self.tools.aclose()
        self._set_state("idle")
        if audio_error is not None:
            raise audio_error

    async def wait_idle(self) -> None:
        """Until no turn, reply or playback is in flight (headless runs end on this)."""
        while True:
            await self._idle.wait()
            await asyncio.sleep(0.05)
            if self._is_idle():
                return

    async def wait_heard_out(self, end_s: float) -> None:
        """Until the input up to ``end_s`` (its end, on the session's timeline) has been
        heard, no turn is being decided or beginning, and nothing is in flight: all that a
        run over a WAV file has to do is done. Waiting ``turn.max_wait_ms`` after the end of
        the input instead kept every headless run going ~2.5 s after its last answer, even
        when the last turn had ended long before; a turn still being decided at the end of
        the input holds this until it is decided and answered.

        A turn the talk key holds open when the input has been heard out ends there, as
        the key's release would (``ptt_release``), with all its words: nothing more can
        come to it, and it held this until the caller's limit (the terminal UI's 120 s),
        answered only then."""
        while self._last_block_s < end_s + HEARD_PAST_S:
            await asyncio.sleep(0.02)
        if self._ptt_open:
            self.ptt_release()
            self.bus.publish(ev.TalkKeyLetGo())
        while True:
            await self.wait_idle()
            if self._last_block_s >= end_s + HEARD_PAST_S and self.detector.at_rest:
                return
            await asyncio.sleep(0.02)

    def _is_idle(self) -> bool:
        return (
            self._turn is None
            and self._reply is None
            and self._speaking.playing is None
            and self._speaking.line is None
            and not any(not t.done() for t in self._tasks)
        )

    def _update_idle(self) -> None:
        if self._is_idle():
            self._idle.set()
        else:
            self._idle.clear()

    # ------------------------------------------------------------------ SessionControl
    def set_mode(self, mode: Mode, *, talk_key: bool = False) -> None:
        """``talk_key``: the talk key switched hands-free to push-to-talk, and is pressed
        now (``ptt_press``): the person goes on with it, so the turn being spoken goes on as
        the key's, ended at its release. Ended at the switch, half a question was answered
        at once and its rest was a turn of its own."""
        if talk_key and mode == "push-to-talk" and self.mode == "hands-free":
            # An answer the words hold back stays held: they go on with the key, and
            # decide its fate as they would have without it (``_went_on``). Let go here,
            # it began over the person holding the key.
            self._goes_on_with_the_key()
        else:
            self._end_open_turn("ptt" if self._ptt_open else "mode")
            self._release_held_answer()
        self._ptt_open = False
        self.mode = mode
        self.detector.mode = mode  # push-to-talk turns end on the key, never on silence
        self.detector.reset()
        self._set_state("muted" if self.muted else "listening")

    def ptt_press(self) -> None:
        self._ptt_open = True
        # The error line stops at the press, as speech over it stops it for good: left to
        # barge-in, it played on over the key for barge-in's minimum of speech.
        self._speaking.stop_line()
        self._handle_signals(self.detector.ptt_press(self._last_block_s))
        if not self._speaking.barge.paused:
            # A hands-free turn the key goes on with (``set_mode``) starts no turn, and the
            # pause at a new turn's start never came: the answer its "mm-hm" let play on
            # played over the held key until barge-in heard enough of the person.
            self._wait_for_the_talk_key()

    @property
    def talk_key_down(self) -> bool:
        """The talk key's turn is open (``ptt_press`` and no release or let-go since)."""
        return self._ptt_open

    def ptt_release(self) -> None:
        self._ptt_open = False
        self._handle_signals(self.detector.ptt_release(self._last_block_s))

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        if muted:
            self._end_open_turn("muted")
            self._release_held_answer()
            self.detector.reset()
            self._stt_streaming = False
        self._set_state("muted" if muted else "listening")

    def _goes_on_with_the_key(self) -> None:
        """The turn being spoken stays open for the talk key's speech: an answer prepared
        in its pause is cancelled, as when speech resumes (the key's words come after it)."""
        turn = self._turn
        if turn is None:
            return
        turn.prepare_at_s = None
        if self._reply is not None and self._reply_turn is turn:
            turn.record.preemptive_restarts += 1
            reply, self._reply = self._reply, None
            self._spawn(reply.cancel())

    def _end_open_turn(self, reason: str) -> None:
        """End the turn being spoken where the person muted the microphone or switched the
        mode, with the words said so far, as a talk key let go does. Only the detector was
        reset: the session's turn stayed open, so the next speech after it (unmuted) went
        on as that turn, and was answered as the muted words were (the transcript of both),
        or the turn in its pause never ended and its question went unanswered."""
        self._handle_signals(self.detector.end_now(self._last_block_s, reason))

    def interrupt(self) -> None:
        speaking = self._speaking
        # An answer to a turn already over is cut as it comes (``_maybe_confirm``): its
        # words still being transcribed or its first words still being made, nothing was
        # playing to cut, and the answer began seconds after the person asked for quiet.
        # (Counted in turn ends, not in time: a turn's end is stamped with its audio
        # block's time, which the loop's clock can be a few ms short of.)
        self._hushed_after = self._turns_ended
        # Pressed over an answer playing, the key is for that answer: a question asked over
        # it (barge-in off, or its words not in yet) and ended is a newer one, still to be
        # answered. Hushed too, its answer was cut as it came, and the person, who had only
        # silenced the old answer, heard nothing of the one they had asked for.
        answered = speaking.playing_turn if speaking.playing is not None else None
        self._hushed_for = answered.turn_id if answered is not None else None
        waiting = self._reply_turn
        if waiting is not None and waiting.waits and self._reply is not None:
            # A spoken question's answer waiting for the typed line's (``_confirm_after``)
            # goes with it: began as the stop key cut the typed answer, it went on talking
            # to a person who had asked for quiet. The question stays in the history and
            # the log, unanswered, as when speech over the typed answer replaces it.
            reply, self._reply, self._reply_turn = self._reply, None, None
            self._spawn(reply.cancel())
        if speaking.line is not None:
            speaking.pause(self.now_s())  # stops the error line for good
        if speaking.playing is not None:
            self._spawn(speaking.cut(self.now_s()))
            if self._tool_jobs is not None:  # an answer was stopped: not what it began
                self._tool_jobs.tell_runs_on()

    def play_check_sound(self) -> float | None:
        pcm = check_sound()
        self.audio.playback.enqueue(CHECK_SOUND_UTTERANCE, pcm)
        return pcm.size / PLAYBACK_RATE

    async def send_text(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        async with self._typed_in_turn:
            await self._send_text(text)

    async def _send_text(self, text: str) -> None:
        # The error line about an earlier turn ("Please say that again") is over: the
        # person has moved on. Left to play, the typed line's answer waited behind it.
        self._speaking.stop_line()
        if self._speaking.playing is not None:
            # A spoken turn's answer waiting for the one cut here (``_confirm_after``)
            # waits for this line's: let go in the cut's await, it began, and this line's
            # answer cut it a moment later, unheard.
            self._typing += 1
            try:
                if getattr(self.audio, "speaker", True):
                    await self._speaking.cut(self.now_s())
                else:
                    await self._speaking.end_unspoken(self.now_s())
            finally:
                self._typing -= 1
        spoken = self._turn  # a spoken turn may be in progress; the typed one stands alone
        # The answer being prepared for spoken words (in their pause, or waiting on their
        # transcript) is theirs, not this line's to replace: cancelled by this turn's
        # request, the spoken turn ended with no answer to confirm and went unanswered,
        # unrecorded and out of the history. Set aside, it is back in its place once the
        # typed answer is confirmed, and the spoken turn's end confirms it as before.
        prepared = (self._reply, self._reply_turn)
        self._reply = self._reply_turn = None
        turn = self._new_turn(self.now_s())
        self._turn = spoken
        turn.typed = True
        turn.segments.append(text)
        turn.ended = True
        turn.record.user_text = text
        turn.record.eou_reason = "typed"
        self.bus.publish(ev.TranscriptFinal(turn_id=turn.turn_id, text=text))
        self._start_reply(turn, confirmed=True)
        if prepared[0] is not None:
            if self._reply is None:
                self._reply, self._reply_turn = prepared
            else:  # never so far: a typed answer is confirmed as it starts
                self._spawn(prepared[0].cancel())

    # ------------------------------------------------------------------ audio thread hop
    def _on_block(
        self,
        block: np.ndarray,
        index: int,
        marks: list[Any],
        words: np.ndarray | None = None,
        echo: EchoVerdict | None = None,
    ) -> None:
        """``words``: the block as the transcriber gets it, ``echo`` the canceller's verdict
        on it (``AudioIO``'s callback)."""
        audio_s = index * self._block_s
        # The audio's start on the monotonic clock, from the block handed over soonest: a
        # block is never early, but one the loop was too busy to take (the terminal UI
        # drawing its first screen as the audio starts) is late, and anchoring on the first
        # alone put every moment timed on the loop that late for the whole session.
        t0_ns = time.monotonic_ns() - int(audio_s * 1e9)
        if self._t0_ns is None or t0_ns < self._t0_ns:
            self._t0_ns = t0_ns
        self._last_block_s = audio_s
        for mark in marks:
            self._speaking.on_mark(mark, index)
        if self._closing:
            return
        # before the microphone's say: an answer plays with the talk key up, or muted
        self._log_progress(audio_s)
        listening = not self.muted and (self.mode == "hands-free" or self._ptt_open)
        early = self._speaking.early
        if early is not None:  # the worker judges only what this loop's barge-in hears
            microphone = getattr(self.audio, "microphone", True)
            early.armed = listening and microphone and self.mode == "hands-free"
        if self.muted or not getattr(self.audio, "microphone", True):  # nothing to hear
            return
        if not listening:  # the talk key is up: kept only for the next press's pre-roll
            self.detector.listen_idle(block, words)
            return
        signals = self.detector.feed(block, audio_s, words)
        starts = self.detector.vad_starts
        if starts != self._vad_starts:
            # The detector's VAD windows began at this block (its first, or the first after
            # a reset: a mute, a mode switch): so do the worker's. Counted on the VAD itself,
            # not flagged beside each reset, so a reset added later cannot be missed.
            self._vad_starts = starts
            if early is not None:
                early.realign(index)
        if self._stt_streaming:
            self.stt.push_audio(block if words is None else words)
        self._handle_signals(signals)
        self._prepare_held_answer(audio_s)
        self._speaking.check(audio_s + self._block_s, echo)

    def _log_progress(self, now_s: float) -> None:
        """Log how much of the playing answer has been heard (``PROGRESS_LOOK_S``): its
        turn record is written only when it ends, and a process killed while it played
        left the person's question in the log and not a word of the answer, which
        ``--resume`` then gave the model as never said. Each progress record carries only
        what was heard since the one before, and where in the heard text it goes on from
        (``heard_at``; less than the text logged when the estimate went back): a whole
        heard text each time made a long answer's records quadratic in its length.
        ``--resume`` joins them; the turn record supersedes them all."""
        speaking = self._speaking
        reply, turn = speaking.playing, speaking.playing_turn
        if self.log is None or reply is None or turn is None or now_s < self._progress_due_s:
            return
        self._progress_due_s = now_s + PROGRESS_LOOK_S
        heard = reply.heard()
        logged = turn.heard_logged
        if heard == logged:
            return
        # a heard part that went back (the estimate is redone once the audio is complete)
        # is put right at once
        went_on = heard.startswith(logged)
        passed_a_clause = _CLAUSE_END.search(heard, len(logged)) is not None
        if went_on and not passed_a_clause and now_s - turn.heard_logged_s < PROGRESS_MAX_GAP_S:
            return
        turn.heard_logged, turn.heard_logged_s = heard, now_s
        same = (i for i, (a, b) in enumerate(zip(logged, heard, strict=False)) if a != b)
        at = next(same, min(len(logged), len(heard)))  # where the two part
        record: dict[str, Any] = {
            "type": "progress",
            "turn_id": turn.turn_id,
            "heard_at": at,
            "heard_more": heard[at:],
        }
        if reply.done and reply.audio_complete and heard == reply.text:
            record["whole"] = True  # all of it was heard: not cut off, if the log ends here
        self.log.note(record)

    def _prepare_held_answer(self, audio_s: float) -> None:
        """The dangling pause has lasted to ``PREPARE_AHEAD_S`` before the maximum wait."""
        turn = self._turn
        if turn is None or turn.prepare_at_s is None or audio_s < turn.prepare_at_s:
            return
        turn.prepare_at_s = None
        if not self.detector.in_speech and not turn.pending_commits and self._no_answer_to(turn):
            self._start_reply(turn, confirmed=False)

    def _no_answer_to(self, turn: _Turn) -> bool:
        """No answer is being prepared, or only one to words ``turn`` has gone on from: the
        first segment's text ("Is it going to rain?") answered early, then "… And" came
        and held the turn to its maximum wait. That stale answer blocked the one to the
        whole text, which was then never asked: the turn ended in silence."""
        reply = self._reply
        return reply is None or (self._reply_turn is turn and reply.user_text != turn.text)

    # ------------------------------------------------------------------ turn signals
    def _handle_signals(self, signals: list[Any]) -> None:
        for sig in signals:
            handler = getattr(self, f"_on_{sig.kind}", None)
            if handler is not None:
                handler(sig)

    def _on_speech_start(self, sig: Any) -> None:
        # where the speech began (the VAD declares it turn.start_ms later): barge-in counts
        # its minimum speech from there, as bench echo tuned it
        self._speaking.speech_started(sig.start_s if sig.start_s is not None else sig.audio_s)
        self.bus.publish(ev.SpeechStarted(audio_s=sig.audio_s))
        if self._turn is None:
            held = self._hold_unheard_answer(sig.audio_s)
            turn = self._new_turn(sig.audio_s)
            turn.holds = held
            turn.barge_in = held is None and self._speaking.heard_over(sig.audio_s)
            if held is None:
                self._wait_for_the_talk_key()
        self._stream_turn_audio()
        self._set_state("hearing")
        # after a long pause the LLM connection may be gone: open it while they speak
        warm_if_idle = getattr(self.llm, "warm_if_idle", None)
        if warm_if_idle is not None:
            warm_if_idle()

    def _moved_on_from(self, turn: _Turn) -> bool:
        """The person has begun a later turn (it is being heard or answered, or it is
        over): a spoken "not understood" about this one would come between them and that
        answer, which waited behind it (~3 s with a stalled speech-to-text), or after it,
        about a question they have moved on from; the notice still says it."""
        live = (self._turn, self._reply_turn, self._speaking.playing_turn)
        if any(t is not None and t.turn_id > turn.turn_id for t in live):
            return True
        return any(r.turn_id > turn.turn_id and r.user_text for r in self.records)

    def _spoken_over_later(self, turn: _Turn) -> bool:
        """A later turn is being spoken over the paused answer. Its words decide whether the
        answer is cut or resumed; resuming it on this turn's late text (a backchannel's)
        played the answer over the person until their speech paused it again."""
        later = self._turn
        return later is not None and later is not turn and later.barge_in

    def _hold_unheard_answer(self, at_s: float) -> _Turn | None:
        """Speech began before a confirmed answer started playing: hold the answer back
        and return its turn, whose fate this speech's words decide (``_went_on``).

        Only for speech that starts within the detector's longest wait (``max_wait_s``) of
        the decision: the person going on after a pause the turn ended in. Later speech is
        a turn of its own. Merged however late, a slow or stalled model's turn took in
        whatever came next ("Hello?" 8 s on), asked again and restarted its wait each time.
        Taken back at the first sound, a cough or a click right after a question threw its
        answer away and asked again once the noise was over: a second or two more to wait.
        """
        reply, turn = self._speaking.playing, self._speaking.playing_turn
        if reply is None or turn is None or "playback_start" in turn.record.t or turn.typed:
            return None
        decided = turn.record.t.get("eou_decided")
        if decided is not None and at_s - decided > self.detector.max_wait_s:
            return None
        if self.audio.playback.played_samples(reply.utterance_id) > 0:
            return None  # handed to the device: it will be heard, it cannot be taken back
        self._speaking.hold()
        return turn

    async def _went_on(self, turn: _Turn) -> None:
        """``turn``'s speech has words: the person went on from the turn whose answer it
        holds. That answer is cancelled unheard, and its turn continues as this one."""
        held, turn.holds = turn.holds, None
        reply = self._speaking.playing
        if held is None or reply is None or self._speaking.playing_turn is not held:
            self._speaking.release()  # that answer is gone already (it failed, or was cut)
            return
        if reply.went_background:
            # Its calls run on in the background and come back to its turn: they cannot be
            # taken back. Merged, the turn was asked as if none had been made (the model
            # could make them again), the holding line unsaid: these words are a turn of
            # their own. A backchannel ("okay") lets the holding line play. Words cut it
            # now, before it begins: let play, their own answer cut it a moment later
            # ("I'm wor—"), and that answer, prepared while it played, was asked without
            # it, the model not knowing of its own running call. Cut unheard, it is kept in
            # the history as said but not heard (``_finish_turn``), before these words.
            if self._speaking.barge.enough_words(turn.text):
                await self._speaking.cut(turn.record.t.get("speech_start", self.now_s()))
            else:
                turn.barge_in = True
                self._speaking.release()
            return
        self._speaking.forget()
        self._spawn(reply.cancel())
        turn.carried = _carried_on(held.carried, reply.kept_tool_messages())
        self.context.drop_turn(held.turn_id)
        turn.retracts.append(held.turn_id)  # logged with this turn's words (_log_user)
        turn.earlier = held.text
        turn.record.t["speech_start"] = held.record.t.get(
            "speech_start", turn.record.t["speech_start"]
        )
        turn.record.preemptive_restarts = held.record.preemptive_restarts + 1
        self.bus.publish(ev.TurnMerged(turn_id=held.turn_id, into=turn.turn_id))

    def _release_held_answer(self) -> None:
        if self._turn is not None:
            self._no_words_over_held(self._turn)

    def _no_words_over_held(self, turn: _Turn) -> None:
        """``turn``'s speech so far had no words (a cough, a click) and has stopped: the
        held answer plays, and anything more the person says is speech over it."""
        if turn.holds is None:
            return
        turn.released, turn.holds = turn.holds, None
        turn.barge_in = self._speaking.playing is not None
        later = self._turn
        if self._ptt_open and later is not None and later is not turn:
            # the key is down again for a later turn (pressed before this one settled)
            if self._speaking.release_to_the_key(self.now_s()):
                later.barge_in = True
            return
        self._speaking.release()

    def _hold_again(self, turn: _Turn, at_s: float) -> None:
        """``turn`` let an unheard answer play after a wordless sound, and speaks again
        before that answer began (a cough, then "… in Paris"): hold it again, for these
        words to decide. It began meanwhile over the person, and was cut."""
        released, turn.released = turn.released, None
        if released is None or self._speaking.playing_turn is not released:
            return
        if self._hold_unheard_answer(at_s) is released:
            turn.holds, turn.barge_in = released, False

    def _hold_for_speech_under_way(self, answered: _Turn) -> None:
        """``answered``'s answer is confirmed while the person has begun speaking again
        with no words transcribed yet (its own transcript was slow): held, as if it had
        been confirmed before they began, since it would start over them."""
        later = self._turn
        if later is None or later is answered or later.holds is not None or later.barge_in:
            return
        if later.text or later.typed:
            return  # words already: speech over the answer, as before
        began = later.record.t.get("speech_start")
        if began is None:
            return
        if self._hold_unheard_answer(began) is answered:
            later.holds = answered

    def _wait_for_the_talk_key(self) -> None:
        """A confirmed answer not yet begun while the talk key is held for a later turn (the
        answer confirmed with the key down, or the key pressed before its first sound):
        paused before any of it plays, as speech over it pauses it, and the key's turn
        decides at its release (words cut it, none let it play). Barge-in counted its
        minimum speech from the press, so a typed line's answer ready just after it played
        over the held key until then. (A spoken turn's answer is held instead, above.)

        So is an answer begun but silent at the press (its tools running after its holding
        line, or the model's words after them still to come): barge-in counts only while
        an answer can be heard, and let the first block of its next words play over the
        held key before it paused them. And so is one heard at the press: the key is no
        noise that barge-in's minimum of speech must tell apart, and that minimum let the
        answer play on over the held key, or, pressed in a holding line's last blocks
        (less than the minimum), let the line run out unpaused and the first block of the
        words after its tools play."""
        later, speaking = self._turn, self._speaking
        answered = speaking.playing_turn
        if not self._ptt_open or later is None or answered is None or later is answered:
            return
        if speaking.pause_before_it_begins(self.now_s()):
            later.barge_in = True

    def _on_speech_resume(self, sig: Any) -> None:
        if self.mode != "push-to-talk":  # with the key held, barge-in heard no pause
            self._speaking.speech_resumed(
                sig.audio_s, sig.start_s, continues=sig.reason == "continue"
            )
            self.bus.publish(ev.SpeechStarted(audio_s=sig.audio_s))
        turn = self._turn
        if turn is not None:
            turn.prepare_at_s = None
            self._hold_again(turn, sig.audio_s)
        if turn is not None and self._reply is not None and self._reply_turn is turn:
            turn.record.preemptive_restarts += 1
            reply, self._reply = self._reply, None
            self._spawn(reply.cancel())
        if not self._stt_streaming:
            self._stream_turn_audio()
        self._set_state("hearing")

    def _stream_turn_audio(self) -> None:
        """Send the pre-roll and speech so far, then keep streaming each block."""
        if self._stt_streaming:
            return
        self._stt_streaming = True
        pcm = self.detector.transcript_audio()
        if pcm.size:
            self.stt.push_audio(pcm)

    def _on_speech_stop(self, sig: Any) -> None:
        turn = self._turn
        if self.mode != "push-to-talk":  # the key, not a pause, ends speech for barge-in
            self._speaking.speech_stopped(sig.end_s if sig.end_s is not None else sig.audio_s)
            self.bus.publish(ev.SpeechStopped(audio_s=sig.audio_s, end_s=sig.end_s))
        if turn is None:
            return
        # the timings start where the words ended, a few windows before the VAD's end
        end_s = sig.end_s if sig.end_s is not None else sig.audio_s
        turn.words_end = (end_s, self.detector.words_end(end_s))
        turn.record.mark("speech_end", turn.words_end[1], overwrite=True)
        turn.pending_commits += 1
        self._spawn(self._commit(turn))
        if self.mode == "push-to-talk":
            return  # a pause with the key held: no cues to read, and still "hearing"
        if self.pause_reader is not None:
            self._spawn(self._read_pause(turn, self.pause_reader))
        if not turn.barge_in:
            self._set_state("thinking")

    def _on_eou_check(self, sig: Any) -> None:
        self.bus.publish(
            ev.EouCheck(
                audio_s=sig.audio_s,
                probability=sig.probability,
                text_so_far=sig.text,
                verdict=sig.verdict or "wait",
            )
        )

    def _on_turn_end(self, sig: Any) -> None:
        turn = self._turn
        if turn is None:
            return
        self._stt_streaming = False
        self._turn = None
        turn.ended = True
        self._turns_ended += 1
        turn.ended_nth = self._turns_ended
        rec = turn.record
        rec.mark("eou_decided", sig.audio_s, overwrite=True)
        if sig.end_s is not None:
            vad_end, words_end = turn.words_end or (None, sig.end_s)
            rec.mark("speech_end", words_end if vad_end == sig.end_s else sig.end_s, overwrite=True)
            _final_at_the_end(rec)
        rec.eou_reason = sig.reason
        rec.eou_probability = sig.probability
        self.bus.publish(
            ev.TurnEnded(
                turn_id=turn.turn_id,
                start_s=sig.start_s if sig.start_s is not None else rec.t.get("speech_start", 0.0),
                end_s=sig.end_s if sig.end_s is not None else sig.audio_s,
                decided_s=sig.audio_s,
                reason=sig.reason,
                probability=sig.probability,
                text="" if turn.backchannel else turn.text,
            )
        )
        if (
            sig.reason in _ENDED_BY_THE_PERSON
            and turn.pending_commits == 0
            and turn.words_end is None
        ):
            # ended by the person (``end_now``) with no speech stop at all: commit now
            turn.pending_commits += 1
            rec.mark("speech_end", sig.audio_s)
            self._spawn(self._commit(turn))
        self._spawn(self._after_commits_clear(turn))
        if turn.prepare_at_s is not None:  # held back, and the turn ended before it was due
            turn.prepare_at_s = None
            if not turn.pending_commits and (
                self._reply_turn is not turn or self._no_answer_to(turn)
            ):
                self._start_reply(turn, confirmed=True)
        self._maybe_confirm(turn)
        self._update_idle()

    async def _after_commits_clear(self, turn: _Turn) -> None:
        """Drop trailing silence appended after the last commit so it can't leak into the next turn."""
        with contextlib.suppress(Exception):
            await self.stt.clear()
        await self._settle(turn)

    # ------------------------------------------------------------------ STT
    def _stt_failed(self, turn: _Turn, message: str, hint: str | None = None) -> None:
        """A transcript of ``turn`` failed: said once a turn. A turn asks for one at each
        pause and at its end, and with speech-to-text out of reach each failed alike: the
        same error was shown twice or more for one turn."""
        if (turn.record.error or "").startswith("stt:"):
            log.info("speech-to-text failed again in turn %d: %s", turn.turn_id, message)
            return
        fix = f" → {hint}" if hint else ""  # what to check, as an answer's says
        # the provider's own message may begin so ("Speech-to-text failed: Speech-to-text
        # failed: Transcription failed" for a transcription the service failed)
        message = message.removeprefix("Speech-to-text failed: ")
        self._notice("error", f"Speech-to-text failed: {message}{fix}", turn=turn.turn_id)
        turn.record.error, turn.record.error_fix = f"stt: {message}", hint

    async def _commit(self, turn: _Turn) -> None:
        # The segment's place is taken now, in the order the commits are sent: a slow
        # transcript (resent, or late) may come after the next segment's, and appending on
        # arrival put "what's the weather … mm-hm" out of the order it was said.
        slot = len(turn.segments)
        turn.segments.append("")
        try:
            text = await self.stt.commit()
        except ProviderError as exc:
            self._stt_failed(turn, exc.message, exc.hint)
            text = ""
        except Exception as exc:
            log.exception("STT commit failed")
            self._stt_failed(turn, str(exc))
            text = ""
        finally:
            turn.pending_commits -= 1
        now = self.now_s()
        turn.segments[slot] = text.strip()
        if turn.holds is not None:
            if turn.text:
                await self._went_on(turn)
            elif not turn.pending_commits and (turn.ended or not self._heard.in_speech):
                # (with the talk key still held, its release ends the wordless speech)
                self._no_words_over_held(turn)
        turn.record.mark("stt_final", now, overwrite=True)
        turn.record.user_text = turn.text
        turn.backchannel = (
            turn.barge_in
            and bool(turn.text)
            and (
                not self._speaking.barge.enough_words(turn.text)
                or (
                    self.mode == "hands-free"
                    and (
                        self._speaking.echoes_the_answer(turn.text)
                        or self._speaking.only_echo_since(turn.record.t.get("speech_start", now))
                    )
                )
            )
        )
        if text.strip() and not turn.backchannel:
            self.bus.publish(ev.TranscriptFinal(turn_id=turn.turn_id, text=turn.text))
        if not turn.ended and not turn.pending_commits:
            # Only a text of every segment so far is the words of the latest speech. An
            # earlier segment's text that comes while a later one is still being transcribed
            # ("Is it going to rain?" of "… rain? And") ended the turn as a firm question
            # 0.25 s into the pause after "And"; the detector waits for the rest as for any
            # late text (``TEXT_WAIT_S``), and the local reading may decide meanwhile.
            self._handle_signals(self.detector.set_text(turn.text, self._last_block_s))
        speaking = self._speaking
        if turn.barge_in and speaking.playing is not None and speaking.barge.paused:
            # Too few words so far while the person is talking again, or while a later
            # part of what they said is still being transcribed: the answer stays paused and
            # the rest of the interruption decides (resuming now would play the answer over
            # them, or on after "Thank you, | that was really helpful" read as a backchannel).
            going_on = (
                (not turn.ended and self._heard.in_speech)  # speaking, or the key held
                or turn.pending_commits > 0
                or self._spoken_over_later(turn)
            )
            if speaking.barge.enough_words(turn.text) or not going_on:
                await speaking.decide(
                    turn.text,
                    turn.record.t.get("speech_start", now),
                    hands_free=self.mode == "hands-free",
                )
        if self._words_over_a_silent_answer(turn):
            await speaking.cut(turn.record.t.get("speech_start", now))
        if turn.text and not turn.backchannel and (turn.ended or not self.detector.in_speech):
            if turn.ended or not self.detector.holds_to_max_wait:
                self._start_reply(turn, confirmed=turn.ended)
            else:
                # the maximum wait counts from the VAD's end, not the words'
                end_s = turn.words_end[0] if turn.words_end else self._last_block_s
                turn.prepare_at_s = end_s + self.detector.max_wait_s - PREPARE_AHEAD_S
        await self._settle(turn)

    def _words_over_a_silent_answer(self, turn: _Turn) -> bool:
        """``turn`` has words (not a backchannel) said while an earlier answer is playing
        but silent: its tools run, or the model reads their results. Nothing was paused
        (there was no sound to pause), so no barge-in decided it; the answer was cut only
        when this turn's own answer was confirmed, and that answer, prepared meanwhile,
        was asked without it: the model answered "stop" knowing neither what it had just
        said nor the tool call it had made. Cut now, as a barge-in cuts a paused answer
        on the same words, the answer to them is prepared with both."""
        speaking = self._speaking
        answered = speaking.playing_turn
        return (
            turn.barge_in
            and bool(turn.text)
            and not turn.backchannel
            and speaking.playing is not None
            and speaking.playing.in_tool_round
            and answered is not None
            and answered is not turn
            and "playback_start" in answered.record.t
            and not speaking.barge.paused
            and not speaking.audible(self.now_s())
        )

    async def _read_pause(self, turn: _Turn, reader: PauseReader) -> None:
        """The local reading of this pause for the turn detector's cues (not for the LLM:
        the streaming transcript is the better text). Dropped when the person went on."""
        pause = self.detector.pauses
        audio, silence_s = self.detector.pause_audio()
        # A pause the person has already spoken on when its turn to be read comes is not
        # read at all, so the latest pause's reading never queues behind readings nobody
        # needs (~0.6 s of a core each).
        async with self._reading_slots:
            if self.detector.pauses != pause or self.detector.in_speech or turn.ended:
                return
            try:
                reading = await asyncio.to_thread(reader.read, audio, silence_s)
            except Exception:  # the turn goes on with the streaming text alone
                log.exception("local reading of the pause failed")
                return
        if self._turn is turn and not turn.ended:
            self._handle_signals(
                self.detector.set_reading(reading, self._last_block_s, pause=pause)
            )

    async def _settle(self, turn: _Turn) -> None:
        """A turn with no words (noise, cough), or only a backchannel over the answer, and
        nothing pending is dropped: no answer, no history, no log record."""
        if turn.ended and turn.pending_commits == 0 and (not turn.text or turn.backchannel):
            self._no_words_over_held(turn)
            self._let_typed_answer_play(turn)  # a cough while typing was no interruption
            if self._reply_turn is turn:
                return
            if turn.barge_in and self._speaking.barge.paused:
                if self._spoken_over_later(turn):
                    return  # the person is talking over the paused answer again: theirs to decide
                now = self.now_s()
                await self._speaking.decide(
                    turn.text,
                    turn.record.t.get("speech_start", now),
                    hands_free=self.mode == "hands-free",
                )
                if turn.record.error and not turn.failed and not turn.text:
                    # Speech-to-text lost the words said over it (the talk key held, all
                    # decided at the release): the answer plays on, as it cannot be told
                    # what they were, but the turn is kept, failed, as one lost with no
                    # answer playing is; dropped as a cough, it was in neither the records
                    # nor the log. No error line over the answer: the notice says it.
                    turn.failed = True
                    self._finish_turn(turn, heard="", interrupted=False)
            elif turn.record.error and not turn.failed and not turn.text:
                # no words because speech-to-text failed, not because there were none:
                # the person must hear that they were not understood
                turn.failed = True
                self._finish_turn(turn, heard="", interrupted=False)
                # (nor after the stop key pressed since it ended: the person asked for
                # quiet, and the notice says it)
                if not self._moved_on_from(turn) and not self._hushed(turn):
                    self._spawn(self._speaking.speak_error_line())
            elif turn.record.eou_reason == "ptt" and not turn.text and not turn.unheard_told:
                # the person chose to send this: a dropped turn must not pass unremarked
                turn.unheard_told = True
                self._notice(
                    "info",
                    "No words were heard while push-to-talk was open: speak while it is "
                    "open; if the level meter stays flat, check the microphone (c).",
                )
            if self._state_is_turn_idle():
                self._set_state("speaking" if self._speaking.playing else "listening")
        self._update_idle()

    def _state_is_turn_idle(self) -> bool:
        return self._turn is None and self._reply is None

    # ------------------------------------------------------------------ replies
    def _start_reply(self, turn: _Turn, *, confirmed: bool, followup: bool = False) -> None:
        if self._reply is not None and self._reply_turn is turn:
            # the words it was built for: its request may carry them clipped to the budget
            if self._reply.user_text == turn.text:
                if confirmed:
                    self._maybe_confirm(turn)
                return
            old, self._reply = self._reply, None
            turn.record.preemptive_restarts += 1
            self._spawn(old.cancel())
        elif self._reply is not None:
            old, self._reply = self._reply, None
            self._spawn(old.cancel())
        tools = self._offered_tools()
        counted = self._sent_tools(tools)
        if not turn.followup:
            self._person_turn = turn.turn_id
        person_turn = self._person_turn
        text = None if followup else turn.text
        if text is not None and self._tool_jobs is not None:
            self._tool_jobs.cancel_if_asked(text)
        carried = turn.carried if text is not None else []
        messages, prompt_tokens = self.context.build_for(
            text, tools=counted, pending=carried or None, turn_id=turn.turn_id
        )

        def refit(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return self.context.build_for(
                text, tools=self._sent_tools(tools), pending=pending, turn_id=turn.turn_id
            )[0]

        def shrink(
            refused: ChatRequest, error: ContextTooLongError, pending: list[dict[str, Any]]
        ) -> list[dict[str, Any]]:
            self.context.fit_refused(error, refused.messages, self._sent_tools(refused.tools))
            return refit(pending)

        request = ChatRequest(
            messages=messages,
            tools=tools,
            max_tokens=self.settings.llm.max_tokens,
            temperature=self.settings.llm.temperature,
        )
        turn.record.prompt_tokens = prompt_tokens

        async def with_the_tools_up() -> bool:
            """A tool server still starting: its tools join the request once it is up
            (the list ``refit`` and ``shrink`` build with too), and the messages are built
            again beside them. Whether it waited."""
            if not await self._wait_tools_up():
                return False
            tools[:] = self._offered_tools()
            request.messages, turn.record.prompt_tokens = self.context.build_for(
                text, tools=self._sent_tools(tools), pending=carried or None, turn_id=turn.turn_id
            )
            return True

        reply = Reply(
            turn_id=turn.turn_id,
            utterance_id=next(self._utterance_ids),
            request=request,
            llm=self.llm,
            open_tts=self.tts.open_stream,
            playback=self.audio.playback,
            clock=self.now_s,
            record=turn.record,
            bus=self.bus,
            run_tools=(
                (
                    lambda turn_id, calls, message: self._run_tools(
                        reply, turn_id, calls, message, person_turn
                    )
                )
                if self._tool_jobs is not None
                else None
            ),
            preemptive=not confirmed,
            user_text=text,
            refit=refit,
            shrink=shrink if hasattr(self.context, "fit_refused") else None,
            shown_only=not getattr(self.audio, "speaker", True),
            answer_shown=lambda: self._answer_shown(reply),
            closing=lambda: self._closing,
            on_tool_results=lambda: self._log_tool_results(reply, turn.turn_id),
            reads_only=self._reads_only,
            before_request=(
                with_the_tools_up
                if self._tools_up is not None and not self._tools_up.done()
                else None
            ),
        )
        reply.tool_messages = list(carried)  # logged and kept with this answer's own
        self._reply, self._reply_turn = reply, turn
        reply.start()
        self._spawn(self._watch_reply(reply, turn))
        if confirmed:
            self._maybe_confirm(turn)
        self._update_idle()

    def _sent_tools(self, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """The definitions the budget holds beside the conversation: those actually sent.
        A model that refused tools is sent none, and counted they took a third of the room."""
        return tools if getattr(self.llm, "takes_tools", True) else None

    def _reads_only(self, calls: list[ToolCall]) -> bool:
        """Whether a prepared answer may make these calls before the turn is confirmed."""
        reads_only = getattr(self.tools, "reads_only", None)
        return reads_only is not None and reads_only(c.name for c in calls)

    def _maybe_confirm(self, turn: _Turn) -> None:
        reply = self._reply
        if reply is None or self._reply_turn is not turn or not turn.ended:
            return
        stale = reply.user_text != turn.text
        if (stale and not turn.followup) or turn.pending_commits:
            return  # a newer transcript is on its way; _commit restarts the reply
        failed = reply.failed is not None and not reply.cancelled
        if failed and reply.preemptive:
            # The preemptive attempt failed before the end of turn was decided: only an
            # attempt. The decided turn gets a fresh one, whose failure is reported.
            self._reply = self._reply_turn = None
            turn.record.preemptive_restarts += 1
            self._start_reply(turn, confirmed=True, followup=turn.followup)
            return
        speaking = self._speaking
        if self._typed_later_plays(turn):
            # the line typed after these words began is answered first, to its end
            self._let_typed_answer_play(turn)
            if not turn.waits:  # one wait: an attempt that failed meanwhile is not another
                turn.waits = True
                self._spawn(self._confirm_after(turn, reply, speaking.playing))
            return
        if failed:
            # The decided turn's own attempt failed while it waited for a typed line's
            # answer: reported now, as a confirmed answer's failure is. Taken for a
            # preemptive attempt, it was asked again at once, and again, a request every
            # tenth of a second to a failing server until the typed answer had played,
            # each attempt with a wait of its own, and the turn recorded once per wait.
            self._reply = self._reply_turn = None
            if not turn.followup:
                self._log_user(turn)
                self.context.add_user(turn.turn_id, turn.text)
            self._spawn(self._reply_failed(reply, turn))
            return
        if speaking.playing is not None and speaking.playing is not reply:
            # named: by the time the task runs, playing is already this new answer
            self._spawn(speaking.cut(self.now_s(), speaking.playing, speaking.playing_turn))
        hushed = self._hushed(turn)
        speaking.play(reply, turn)
        if hushed:
            # none of it may be handed over before the cut below runs
            self.audio.playback.pause()
        self._hold_for_speech_under_way(turn)
        self._wait_for_the_talk_key()
        self._reply = None
        self._reply_turn = None
        if not turn.followup:
            if not turn.logged_user:
                # The calls it goes on from (a merged turn's) in the same write as its words
                # and the retraction: written after them, a process killed in between left
                # the call retracted with the question and the merged turn without it.
                tools = reply.tool_messages[reply.tools_logged :]
                reply.tools_logged = len(reply.tool_messages)
                self._log_user(turn, tools)
            self.context.add_user(turn.turn_id, turn.text)
        self._set_state("thinking")
        reply.confirm()
        self._log_tool_results(reply, turn.turn_id)  # those of its rounds before it was
        if hushed:  # recorded as an answer cut before a word of it was heard
            # (named: an answer confirmed before the task runs is not this one)
            self._spawn(speaking.cut(self.now_s(), reply, turn))

    def _hushed(self, turn: _Turn) -> bool:
        """The stop key was pressed after ``turn`` was over (its end decided) and before
        its answer began: that answer is the one the person asked to stop. (Not the answer
        to background results coming back later: a turn of its own. Nor one to a question
        asked over the answer the key stopped: the key was for that one.)"""
        if turn.typed or turn.followup:
            return False
        if self._hushed_for is not None and turn.turn_id > self._hushed_for:
            return False
        return 0 < turn.ended_nth <= self._hushed_after

    def _typed_later_plays(self, turn: _Turn) -> bool:
        """The answer playing is to a line typed after ``turn``'s speech began (while it
        was said, or in its pause), and nobody is speaking now. Confirming ``turn``'s
        answer cut it, often before a word of it was heard (one begun while these words
        were said was paused by them at once): the typed line went unanswered for an answer
        to words said before it. Both were asked; each is answered, the one playing first."""
        playing = self._speaking.playing_turn
        return (
            self._turn is None
            and playing is not None
            and playing.typed
            and not playing.followup
            and playing.turn_id > turn.turn_id
            and not turn.typed
        )

    def _spoken_over_typed(self) -> bool:
        """The person is in a turn begun over the typed line's answer: its words, which
        cut that answer, are theirs to have answered. The answer waiting behind it began
        as the cut came, over the rest of the interruption ("Wait, stop. | Tell me
        something else"), or in its pause, heard until that turn ended."""
        return self._turn is not None and self._turn.barge_in

    def _let_typed_answer_play(self, turn: _Turn) -> None:
        """``turn``'s speech is over: the answer to a line typed while it was said, paused
        as it began over it (that speech was no interruption of it), plays on. Only a turn
        with words did this: over one with none (a cough, a word to someone else, a
        transcript that failed), the typed answer stayed paused for good, unheard, and the
        session never went idle."""
        speaking = self._speaking
        if speaking.barge.paused and self._typed_later_plays(turn):
            speaking.barge.reset()
            speaking.resume()

    async def _confirm_after(self, turn: _Turn, reply: Reply, playing: Reply | None) -> None:
        """Confirm ``turn``'s answer once ``playing`` is over (played out or cut; cut by
        a line typed, that line's answer is waited for in turn). One a
        later turn's answer replaced meanwhile (the person spoke over the typed line's
        answer) leaves ``turn`` asked and unanswered, in the history and the log as such:
        dropped, the question was in neither. So is it when the session stops first."""
        try:
            while (
                self._typing
                or (self._speaking.playing is playing and playing is not None)
                or self._spoken_over_typed()
            ):
                await asyncio.sleep(0.02)
        except asyncio.CancelledError:
            self._log_user(turn)  # quitting: --resume has the question, unanswered
            raise
        finally:
            turn.waits = False
        if self._closing:
            self._log_user(turn)
            return
        current = self._reply
        if current is not None and self._reply_turn is turn and not current.cancelled:
            self._maybe_confirm(turn)  # this attempt, or the one that replaced a failed one
        elif not turn.logged_user:
            self._log_user(turn)
            self.context.add_user(turn.turn_id, turn.text)
            self._finish_turn(turn, heard="", interrupted=True, reply=reply)

    def _log_user(self, turn: _Turn, tools: list[dict[str, Any]] | None = None) -> None:
        """The turn's words, once, with the retraction of the turns it took back after
        them, in one write: the log never holds a question retracted without the turn
        that goes on from it. ``tools``: the calls it goes on from and those its answer
        made before it was confirmed, not logged yet (at its confirmation; at quitting,
        ``_log_unanswered_merge``, those no answer of its own will log)."""
        if turn.logged_user or self.log is None:
            return
        turn.logged_user = True
        records: list[dict[str, Any]] = [
            {"type": "user", "turn_id": turn.turn_id, "text": turn.text}
        ]
        if tools:
            records.append(self._tools_record(turn.turn_id, tools))
        records += [{"type": "retracted", "turn_id": t} for t in turn.retracts]
        self.log.append_all(records)

    def _log_unanswered_merge(self) -> None:
        """Quitting before a merged turn's answer is confirmed: the turn is logged as it
        stands, with the calls of the answer it took back, so that ``--resume`` has the
        question and what its tools did. Unlogged, the question was lost with the turn
        taken back (a create may have been done). A turn that took nothing back and was
        not confirmed is the person's unfinished words, not logged, as before."""
        for turn in (self._turn, self._reply_turn):
            if turn is not None and turn.retracts and not turn.followup and turn.text:
                self._log_user(turn, turn.carried)

    async def _watch_reply(self, reply: Reply, turn: _Turn) -> None:
        await reply.generation_done.wait()
        if reply.cancelled:
            return
        if reply.failed is not None:
            if reply.confirmed:
                await self._reply_failed(reply, turn)
            elif turn.ended:
                self._maybe_confirm(turn)  # retried now, or when its transcript is in
            # else held: retried when the turn ends, or cancelled if the person goes on
            return
        # generation finished; playback_end comes from the audio thread's "drained" mark
        while self._speaking.playing is None and self._reply is reply and not reply.cancelled:
            await asyncio.sleep(0.02)
        if self._speaking.playing is reply and reply.audio_complete and not reply.samples_out:
            # Nothing to play (an empty answer, text the voice made no sound for, or no
            # speaker: the answer is its text): no mark will ever end it, and the turn
            # waited for one for good.
            if not reply.text.strip() and reply.emoji_dropped:
                # the model did answer, with nothing a voice can say: not a failure
                self._notice(
                    "info",
                    f"The answer to turn {turn.turn_id} was only emoji, "
                    "which are neither spoken nor shown.",
                )
            elif not reply.text.strip() and not getattr(reply, "reached_max_tokens", False):
                # (one the model's length limit emptied is said with its cause, at its end)
                self._notice("warning", f"The answer to turn {turn.turn_id} was empty.")
            self._speaking.end_silent(reply)

    async def _reply_failed(self, reply: Reply, turn: _Turn) -> None:
        """A confirmed answer failed: say so once, keep what was heard of it, speak the
        error line (interruptible like an answer)."""
        if turn.failed:
            return
        turn.failed = True
        exc = reply.failed
        message = exc.message if isinstance(exc, UserError) else str(exc)
        # what fixes it too (a context window too small: a larger model, or fewer tokens)
        hint = exc.hint if isinstance(exc, UserError) and exc.hint else None
        turn.record.error, turn.record.error_fix = message, hint
        turn.record.filtered = isinstance(exc, ContentFilterError)
        fix = f" → {hint}" if hint else ""
        if turn.record.filtered:
            # the provider's refusal, said as one: "No answer … [error]" read as a service
            # down, and asking again as the error line says gets the same refusal
            self._notice(
                "warning",
                f"The provider's content filter withheld the answer to turn {turn.turn_id}: "
                f"{message}{fix}",
                turn=turn.turn_id,
            )
        else:
            self._notice(
                "error", f"No answer for turn {turn.turn_id}: {message}{fix}", turn=turn.turn_id
            )
        heard = ""
        if self._reply is reply:
            self._reply = self._reply_turn = None
        if self._speaking.playing is reply:
            heard = self._speaking.drop_failed(reply)  # a synthesis failure mid-answer
            # begun to play, it ends here even with no whole word heard (its first sound
            # was): with none, the record kept a start of playback and no end
            if heard or "playback_start" in turn.record.t:
                turn.record.mark("playback_end", self.now_s(), overwrite=True)
        self._finish_turn(turn, heard=heard, interrupted=False, reply=reply, failed=True)
        if self._turn is None and self._reply is None and self._speaking.playing is None:
            # nothing is coming for this turn: not "thinking" until the person speaks again
            self._set_state("muted" if self.muted else "listening")
        line = error_line(
            typed=turn.typed,
            followup=turn.followup,
            tools_ran=self._may_have_acted(reply),
            background=bool(getattr(reply, "went_background", False)),
            filtered=turn.record.filtered,
        )
        if not self._hushed(turn):  # the stop key asked for quiet: the notice says it
            await self._speaking.speak_error_line(line)

    def _may_have_acted(self, reply: Reply) -> bool:
        """Whether a tool call of ``reply`` may have changed something: one that only read
        (MCP's readOnlyHint) is harmless to make again, and a failed answer that had only
        read a document was met with "so nothing is done twice, ask me what I did"."""
        names = [
            call["function"]["name"]
            for message in reply.tool_messages
            for call in message.get("tool_calls") or ()
        ]
        reads_only = getattr(self.tools, "reads_only", None)
        return bool(names) and not (reads_only is not None and reads_only(names))

    def _answer_started(self) -> None:
        """ "speaking", unless the person has begun a turn meanwhile: theirs wins."""
        if self._turn is None:
            self._set_state("speaking")

    def _log_tool_results(self, reply: Reply, turn_id: int, *, ended: bool = False) -> None:
        """Log the tool results of ``reply`` not logged yet, as they come (once it is the
        turn's confirmed answer, or has ended): logged only with the answer, once it had
        played, a process killed while it was spoken lost the record of what its tools
        had done (a document created), and the resumed conversation did not know of it.
        A preemptive attempt's are left to its confirmation: if it is cancelled instead,
        the attempt that replaces it runs its own."""
        if self.log is None or not (reply.confirmed or ended):
            return
        new = reply.tool_messages[reply.tools_logged :]
        reply.tools_logged = len(reply.tool_messages)
        if new:
            self.log.append(self._tools_record(turn_id, new))

    def _tools_record(self, turn_id: int, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The log's record of a turn's tool messages: their gist (resuming needs no more;
        the log need not grow by a whole document), and what the person was shown of a
        result that was not its text (an image), for ``--resume`` to show it the same."""
        record = {"type": "tools", "turn_id": turn_id, "messages": compact_tool_results(messages)}
        # where the results of the calls that failed are, always said (none: []): a log
        # with neither this nor ``failed`` (call ids, which two calls of one id shared) is
        # from before, and its results are resumed as before, any SDK error prefix taken off
        record["failed_at"] = self._tool_jobs.failed_in(messages) if self._tool_jobs else []
        # what was shown of a result, by its place in the messages (as ``failed_at``): by
        # call id (``shown``, in logs from before), a call_0 of the next round took it too
        shown = self._tool_jobs.shown_of(messages) if self._tool_jobs is not None else {}
        if shown:
            record["shown_at"] = {str(at): tool_result_gist(text) for at, text in shown.items()}
        return record

    def _answer_shown(self, reply: Reply) -> None:
        """With no speaker the answer begins as its first words are shown: "answering"
        (the status bar's word for "speaking" then) while the rest streams in, rather than
        "thinking" until all of it had come."""
        if self._speaking.playing is reply:
            self._answer_started()

    def _answer_ended(self, turn: _Turn, reply: Reply, heard: str, interrupted: bool) -> None:
        """An answer played out (``interrupted`` False) or was cut: its turn is recorded.
        A cut one leaves the state alone while another reply is prepared or has taken its
        place; one that played out, only while the person is talking."""
        self._finish_turn(turn, heard=heard, interrupted=interrupted, reply=reply)
        if interrupted:
            if self._turn is None and self._reply is None and self._speaking.playing is None:
                self._set_state("listening")
        elif self._turn is None:
            self._set_state("listening")

    def _finish_turn(
        self,
        turn: _Turn,
        *,
        heard: str,
        interrupted: bool,
        reply: Reply | None = None,
        failed: bool = False,
    ) -> None:
        """Record the turn; the history keeps what was heard of the answer, marked as cut
        off when barge-in or a failure (``failed``) stopped it."""
        rec = turn.record
        rec.assistant_text = reply.text if reply else ""
        rec.heard_text = heard
        rec.interrupted = interrupted
        rec.failed = failed
        if reply is not None:
            if reply.tool_messages:
                # the answer that used the results is over: their gist is all that is kept
                tool_messages = compact_tool_results(reply.tool_messages)
                self.context.add_tool_exchange(turn.turn_id, tool_messages)
                self._log_tool_results(reply, turn.turn_id, ended=True)
            capped = getattr(reply, "reached_max_tokens", False) and not failed
            rec.reached_max_tokens = capped
            cut = "interrupted" if interrupted else "failed" if failed else None
            if capped and not interrupted:
                cut = "length"  # heard to where the model stopped, mid-sentence
                cap = self.settings.llm.max_tokens
                if rec.assistant_text.strip():
                    said = f"stopped at llm.max_tokens ({cap} tokens); raise it for longer answers"
                else:
                    # A reasoning model spends its tokens thinking first, at times all of
                    # them: "stopped at llm.max_tokens; raise it for longer answers", beside
                    # "was empty", did not say why an answer had no length at all.
                    effort = self.settings.llm.reasoning_effort
                    # a level chosen above the least: thinking less is the other way out
                    lower = (
                        f", or lower llm.reasoning_effort ({effort})"
                        if effort in ("low", "medium", "high", "xhigh")
                        else ""
                    )
                    said = (
                        f"was empty: the model used all of llm.max_tokens ({cap} tokens) "
                        "before it said a word (a reasoning model spends them thinking "
                        f"first); raise llm.max_tokens{lower}"
                    )
                # an answer with words shows its own cut; an empty one has no line to show it
                shown_on = turn.turn_id if rec.assistant_text.strip() else None
                self._notice("warning", f"The answer to turn {turn.turn_id} {said}.", turn=shown_on)
            rec.went_background = bool(getattr(reply, "went_background", False))
            # its calls run on: the model must know what it said of them, heard or not
            unheard = unheard_holding_line(rec.to_json())
            if heard or not cut or unheard:
                self.context.add_assistant(turn.turn_id, heard, cut=cut, unheard=unheard)
        record = rec.to_json()
        self.records.append(rec)
        if self.log is not None:
            self.log.append(record)
        self.bus.publish(ev.TurnMetrics(turn_id=turn.turn_id, record=record))
        self.context.maybe_summarize()
        self._update_idle()

    # ------------------------------------------------------------------ tools
    async def _run_tools(
        self,
        reply: Reply,
        turn_id: int,
        calls: list[ToolCall],
        assistant_msg: dict[str, Any],
        person_turn: int,
    ) -> list[dict[str, Any]] | None:
        """Run a round's calls; those of a confirmed answer are logged first, as pending:
        logged only with their results, a call killed mid-way (one that writes runs up to
        ``tools.tool_patience_s`` in the foreground) left no trace, though it may have done
        what it was asked. ``person_turn``: the last turn the person spoke or typed."""
        assert self._tool_jobs is not None
        if reply.confirmed:
            self._log_pending_tools(turn_id, [assistant_msg])
        return await self._tool_jobs.run(
            turn_id, calls, assistant_msg, on_results=reply.results_came, person_turn=person_turn
        )

    def _log_pending_tools(self, turn_id: int, messages: list[dict[str, Any]]) -> None:
        """Tool calls not yet answered, with what has come of them: logged as they start,
        as they go to the background, as their results come and as they are cancelled.
        Background results are answered only at the next quiet moment, and a process
        killed or quit before then kept nothing of what its tools did: a resumed model did
        not know it had called them. ``--resume`` gives the model those no tools record
        answered, in the turn that called them; each record of a call supersedes the one
        before."""
        if self.log is not None:
            record: dict[str, Any] = {"type": "pending_tools", "turn_id": turn_id}
            record["messages"] = compact_tool_results(messages)
            record["failed_at"] = self._tool_jobs.failed_in(messages) if self._tool_jobs else []
            shown = self._tool_jobs.shown_in(messages) if self._tool_jobs is not None else {}
            if shown:  # a picture: "[image, image/png, 35 kB]", as in a tools record
                record["shown_at"] = {str(at): tool_result_gist(t) for at, t in shown.items()}
            self.log.append(record)

    def _deliver_tool_results(self, messages: list[dict[str, Any]]) -> None:
        """Answer with background tool results: a follow-up turn nobody spoke."""
        turn = self._new_turn(self.now_s())
        self._turn = None  # not a spoken turn: nothing to hear, nothing to transcribe
        turn.typed = turn.followup = turn.ended = True
        turn.record.eou_reason = "tool_result"
        self.context.add_tool_exchange(turn.turn_id, messages)
        if self.log is not None:
            self.log.append(self._tools_record(turn.turn_id, messages))
        self._start_reply(turn, confirmed=True, followup=True)

    def _is_quiet(self) -> bool:
        """Nobody is speaking, being transcribed or being answered."""
        return (
            self._turn is None
            and self._reply is None
            and self._speaking.playing is None
            and not self.detector.in_speech
        )

    # ------------------------------------------------------------------ helpers
    def _new_turn(self, at_s: float) -> _Turn:
        turn_id = next(self._turn_ids)
        rec = TurnRecord(turn_id=turn_id)
        rec.mark("speech_start", at_s)
        self._turn = _Turn(turn_id=turn_id, record=rec)
        self._update_idle()
        return self._turn

    def _set_state(self, state: ev.EngineState) -> None:
        if state == "listening" and self.muted:
            # An answer ending (or a wordless turn dropped) with the microphone off: a turn
            # muted mid-question is answered after the mute, and "listening" then said the
            # person was heard while they were not.
            state = "muted"
        if state != self.state:
            self.state = state
            self.bus.publish(ev.StateChanged(state=state))

    def _notice(self, level: ev.NoticeLevel, message: str, *, turn: int | None = None) -> None:
        """``turn``: the turn whose own display says it too (see ``ev.Notice.turn_id``)."""
        self.bus.publish(ev.Notice(level=level, message=message, turn_id=turn))

    def _log_broken(self, message: str) -> None:
        """The session log stopped recording (a full disk): a notice, which the terminal UI
        shows, where a logged warning went only to its log file. Called from the log's
        syncing thread too, so it is handed to the loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            log.warning("%s", message)
            return
        loop.call_soon_threadsafe(self._notice, "warning", message)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("session task failed", exc_info=t.exception())
            self._update_idle()

        task.add_done_callback(done)
        self._idle.clear()
        return task


class _HeardOrKeyHeld:
    """The turn detector as barge-in sees it: with the talk key held the person is heard
    from its press to its release, pauses included. The detector tells those pauses so the
    answer is prepared in them (``TurnDetector._held_key_pauses``); seen as silence, a
    paused answer could play on over someone still holding the key to talk."""

    def __init__(self, detector: Any) -> None:
        self._detector = detector

    @property
    def in_speech(self) -> bool:
        detector = self._detector
        if detector.in_speech:
            return True
        return getattr(detector, "mode", "") == "push-to-talk" and detector.in_turn
