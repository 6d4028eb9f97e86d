"""Markdown marks out of a streamed answer, before it is spoken, shown and remembered.

A model asked for plain speech still writes "**bold**", "`code`", "## Heading" or "> quote"
at times, and a voice would read the marks aloud. But the same characters belong to words:
a file called q3_budget.md, C#, "x > 3". Dropping every ``*_`#>`` (as a single regex did)
turned q3_budget.md into q3budget.md in the answer shown and in the conversation the model
reads back, so its next tool call could name a file that does not exist. The answer arrives
in small deltas, and whether an underscore is inside a word depends on the character after
it, which may be in the next delta: a trailing underscore is held until that comes. So is a
trailing star: one with blanks on both sides is arithmetic ("5 * 3 = 15"), kept, where
dropping it made "5 3 = 15"; so is one after a number, a one-letter name or a bracket and
before a letter or digit ("x*y", "2*3", "f(x)*g(x)"), shown and said "xy" and "23" before. Nor is a path's or an address's: an underscore after a slash
("src/_private.py"), around a file's name ("__init__.py") or a "#" after a slash
("example.com/#top") is no emphasis nor heading; a word that starts with underscores is held
whole, its slashes included, to tell a file's or folder's name from emphasis ("__bold__",
"_src/main.py_": its marks both go). An address (``https://…``, ``www.…``) keeps every mark
in it ("wiki/Python_(programming_language)", "?x=_y#_top"): it is held whole until it ends,
and only the punctuation or marks after its end ("**[docs](https://a.org/x_)**") go.

Pictographs (emoji) are dropped too: a voice reads an emoji's name. So is what is left of
a keycap ("1️⃣" is a digit, U+FE0F and U+20E3): the digit stays. Pictographs often stand
where words would, in a list ("Fruits: 🍎, 🍌, and 🍇 are nice."), and dropping them one by one
left the list's commas and "and" to be read out ("Fruits:,, and are nice."). So a run of
them is dropped with the commas, semicolons and "and"/"or" between them; with the comma or
semicolon after it when it stood in a list (after a ":", "," or ";"); and with the list mark
before it (", and", ": ") when a sentence end follows ("Pick one: 🍎 or 🍌?" is "Pick one?").
After a word, the punctuation after a run stays and its blanks go ("Sure 👍, here" is
"Sure, here"); at a line start the blanks after it go too. A heart between a person and a
word ("I ❤️ it", "she ❤️ Go") is the verb, said and shown as one ("I love it"): dropped,
"I it" was heard "I hate it"; so is one with an "s" after any word ("She ❤️s it",
"Everyone ❤️s pizza" are "… loves it", "… loves pizza": they were "She loves s it",
"Everyone s pizza"), and so is a thumbs-up, as "like" ("I 👍 it" is "I like it": it was
"I it"; "Sure 👍, here" has no person before it). A check mark or a cross standing for a
value after a colon ("Python: ✅, Java: ❌.") is said "yes" or "no" but not shown
(:attr:`SpeakableText.said_words`): dropped, "Python: Java." lost the values; in a
table's cell, mixed ones are "yes and no" (or "yes or no", a slash between them), and one
before the cell's words "yes," ("| ✅ partly |"). What may still be such a run, or
the mark before one, at the end of a delta waits for the next delta.

Code is another matter: a fenced block or an inline code span is something the person may
copy from the shown answer, so its text is kept as written ("# install the deps" stays a
comment, ``a*b`` keeps its star) and only the fence lines and the backticks go. Whether a
line is a fence is only known once its start is whole (three backticks, or two and then a
letter?), so a line start made only of spaces, backticks or tildes is held until it is; an
opening fence line is held to its end (it is dropped, unless a backtick in it makes it inline
code after all). A backtick run is held until its length is known: a code span ends only at
a run as long as the one that opened it.
The voice reads a line that starts with "|" as a table's row; in a code block it is code
("| grep foo"), so where each of a block's lines begins in the text is given
(:attr:`SpeakableText.code_lines`) for :class:`~voicedesk.engine.spoken.SpokenText`,
and where each inline span opens and closes (:attr:`SpeakableText.code_spans`): in code an
address's path is what the person types, said there ("curl localhost:11434/api/tags" lost
it, said "curl localhost port 1 1 4 3 4").
A list item's star ("* eggs") goes too, and with it what the spoken form knew of the item:
so where each such item begins is given as well (:attr:`SpeakableText.item_lines`), for
its end to be said as a sentence's, as a "- eggs" item's is. So is where a heading begins
("## Summary"): its words, with no full stop, ran into the next line's ("Summary Here it
is.", Piper with no pause), as a paragraph's title is never read.
Written by hand because it must work on a stream, one delta at a time, with no delay beyond
those holds.
"""

from __future__ import annotations

import re

from voicedesk.engine.spoken import URL

# outside code; backticks are code spans' (see _text). A backslash before a star is
# Markdown's escape: the star is the character meant ("5 \* 3"), and the backslash goes.
# Only a star's: "\_" and "\\" are in Windows paths (C:\_build, \\server), which stay.
# A ">" is a run of its own: taken with a "#" after it ("<b>#news"), the two went as one.
# A "#" is a run of its own too: taken with the emphasis after it ("C#__init__", "F#*x*"),
# the run was dropped whole, sharp and all ("Cinit", "Fx"), and whether it was hung on
# where the answer was cut (a "#" at a delta's end was decided alone, kept as C#'s).
_MARKS = re.compile(r"\\\*|[*_]+|#+|>+")
_SHARP_END = re.compile(r"(?<![\w#])[A-Z]#\Z")
# Pictographs a voice cannot say (it reads their names, or stumbles), with what joins them
# into one ("👩‍👩‍👧", "👍🏽", "❤️", the tags of "🏴󠁧󠁢󠁳󠁣󠁴󠁿"): not spoken, not shown.
_PICTOGRAPH = "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u231a\u231b\u23e9-\u23fa]"
_JOINERS = "[\ufe0f\u20e3\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]"
_PICTOGRAPHS = re.compile(rf"{_PICTOGRAPH}(?:{_JOINERS}|\u200D{_PICTOGRAPH})*\u200D?")
# a pictograph, or the emoji marks of a keycap whose digit (or # or *) is text ("1️⃣")
_UNSAID = rf"(?:{_PICTOGRAPHS.pattern}|[\uFE0E\uFE0F\u20E3]+)"
_CONJUNCTION = r"(?i:and|or|&)"
# A run of them (see the module's docstring): the list mark before it ("lead"), the blanks
# and separators between them, and what follows it ("after": blanks, a comma or semicolon).
_UNSAID_RUN = re.compile(
    rf"(?P<lead>[,;:]?(?:[ \t]+{_CONJUNCTION}(?=[ \t]))?)[ \t]*{_UNSAID}"
    rf"(?:[ \t]*(?:[,;/][ \t]*)?(?:{_CONJUNCTION}[ \t]+)?{_UNSAID})*"
    r"(?P<after>[ \t]*(?P<sep>[,;])?[ \t]*)"
)
# what may still become the lead of a run when the next delta brings a pictograph
# (a word cut short is waited for only after a comma: "pears, an" may be "pears, and 🍇")
_MAY_LEAD = re.compile(rf"(?:[,;:]?[ \t]+{_CONJUNCTION}|[,;:][ \t]+(?i:an?|o)|[,;:])?[ \t]*\Z")
# what may still go on a run that ends here: "and", "or" or "&" and a pictograph
_MAY_GO_ON = re.compile(r"(?:(?i:a|an|and|o|or|&)|/)?[ \t]*\Z")
# A heart after a person and before a word stands for the verb ("I ❤️ it", "We ❤️ Python"):
# dropped, "I it" was heard "I hate it". It is said, and shown, as the word.
_HEARTS = (
    "\u2764\u2665\U0001f495\U0001f496\U0001f497\U0001f498\U0001f49e\U0001f493\U0001f60d\U0001f970"
)
# ... and so does a thumbs-up, for "like" ("I 👍 it" was said "I it")
_VERBS = dict.fromkeys(_HEARTS, "love") | {"\U0001f44d": "like"}
_LOVER_BEFORE = re.compile(r"(?<![\w'])(?:(I|we|you|they)|(he|she))[ \t]*\Z", re.IGNORECASE)
# A heart with an "s" after it is a verb ("She ❤️s it", "Everyone ❤️s pizza"): it was said
# "She loves s it", and dropped after any other word, "Everyone s pizza".
_VERB_S = re.compile(r"s(?!\w)")
_VERB_S_START = re.compile(r"s[ \t]*")
_WORD_BEFORE = re.compile(r"\w[ \t]*\Z")
_ENDS_CLAUSE = ".!?\n"  # a run before one of these ended what it was in: its list mark goes
# only an underscore or a star depends on what follows (snake_case, "5 * 3"); \Z, not $,
# which matches before a final line end too: a delta ending "__\n" was cut before the run
# and its line end lost
_TRAILING = re.compile(  # a backslash too: it may escape a star
    r"[_*\\]+\Z"
    r"|(?<!#)#\Z"  # "#" may go on as a number's sign or a channel: "issue #42", "#general"
    # a word that starts with underscores, whole, a path's slashes included: "__init__.py"
    # and "_utils/a.py" are files, "__bold__" and "_src/main.py_" emphasis
    r"|(?<![\w/\\])_+[\w./\\-]*\Z"
    r"|(?<=\w)_+\.\Z"  # "__init__." may go on as ".py"
    # a glob's stars: "src/*." may go on as "src/*.py"; a word that starts with them and a
    # slash or a file's extension, whole: "**/*.md" is a glob, "**/etc/hosts**" emphasis
    r"|\*+\.\Z"
    r"|(?<![\w/\\*])\*+(?:/|\.\w)\S*\Z"
)
# after a word's opening underscores: a file's name ("__init__.py", "_x_.md"), not emphasis
# or of a folder's ("_utils/a.py")
_FILE_NAME_REST = re.compile(r"[^\W_]\w*?_+\.[A-Za-z]|[^\W_][\w.-]*/")
# the rest of a word after its opening underscores, up to what ends a sentence or clause
_WORD_REST = re.compile(r"[^\s]*?(?=[.,;:!?)\]'\"]*(?:\s|\Z))")
_EXTENSION_START = re.compile(r"\.[A-Za-z]")
# what ends a sentence or emphasis after an address, not part of it (GitHub's autolinks)
_ADDRESS_TAIL = "?!.,:*_~'\""
_BLANK = " \t"  # a fence line may be indented (inside a list item, by more than CommonMark's 3)
# marks where a code block's line begins until its place in the cleaned text is known (the
# pictographs' pass may still move it); a private-use character, dropped from the model's text
_CODE_LINE = "\ue000"
# ...and where a list item whose star was dropped begins ("* eggs" is shown " eggs")
_ITEM_LINE = "\ue001"
# ... and a word said where nothing is shown, between these two: a check mark or a cross
# standing for a value after a colon ("Python: ✅, Java: ❌", "- Fast: ✅") is said "yes" or
# "no". Dropped, "Python: Java." was heard, and the list's values were lost; it stays
# dropped from what is shown (a reader sees the answer without it, as before).
_WORD_START, _WORD_END = "\ue002", "\ue003"
# ... and where an inline code span opens and closes: in code, an address's path is what
# the person types ("curl localhost:11434/api/tags"), said, where prose says only its host
_SPAN_OPEN, _SPAN_CLOSE = "\ue004", "\ue005"
_CARRIED_MARKS = _CODE_LINE + _ITEM_LINE + _SPAN_OPEN + _SPAN_CLOSE
_LINE_MARKS = re.compile(f"([{_CARRIED_MARKS}]|{_WORD_START}[^{_WORD_END}]*{_WORD_END})")
_SAID_WORDS = re.compile(f"{_WORD_START}[^{_WORD_END}]*{_WORD_END}")
_YES_NO = {"\u2705": "yes", "\u2714": "yes", "\u2611": "yes", "\u274c": "no", "\u274e": "no"}
_PRIVATE_MARKS = _CARRIED_MARKS + _WORD_START + _WORD_END


class SpeakableText:
    """Feed it an answer's text deltas in order; it returns what to say and show of each."""

    def __init__(self) -> None:
        self._before = "\n"  # the raw character before what comes next: a line start at first
        self._blank_line = True  # the raw line so far is only blanks (a bullet may come)
        self._pending = ""  # raw text not decided yet (see the module's docstring)
        self._fence: tuple[str, int] | None = None  # an open block's fence character and length
        self._span = 0  # the backticks that opened the inline code span we are in, 0 outside
        self._held = ""  # cleaned text that may still be (the lead of) a run of pictographs
        self._last = "\n"  # the last character said: a line start at first
        self._tail = "\n"  # the last characters said: the word before a heart ("I ❤️ it")
        self._word = ""  # the raw word (no blank yet) the pending text goes on: an address?
        self.dropped = False  # a pictograph was dropped: an answer of only emoji says nothing
        # where a code block's lines begin in the text the last feed or flush returned
        self.code_lines: list[int] = []
        # where list items whose star was dropped, and headings, begin, in the same text
        self.item_lines: list[int] = []
        # words said but not shown, each where it is said in the same text ("yes" for a ✅)
        self.said_words: list[tuple[int, str]] = []
        # where inline code spans open (True) and close (False), in the same text
        self.code_spans: list[tuple[int, bool]] = []
        self._marks_next = ""  # marks of lines that begin where the next text returned does

    def feed(self, delta: str) -> str:
        self._pending += delta.translate(dict.fromkeys(map(ord, _PRIVATE_MARKS)))
        return self._lines_out(self._unpictured(self._drain(final=False), final=False))

    def flush(self) -> str:
        """What was held back at the end of the answer."""
        return self._lines_out(self._unpictured(self._drain(final=True), final=True))

    def _lines_out(self, text: str) -> str:
        """``text`` without the marks of its code lines' and star items' starts, kept in
        ``code_lines`` and ``item_lines``. A mark at its end (what follows it still held: a
        pictograph that may go on, a star's blank) is told with the next text: an empty
        text is passed on to no one, and the mark was lost."""
        text = self._marks_next + text
        kept = len(text.rstrip(_CARRIED_MARKS))
        text, self._marks_next = text[:kept], text[kept:]
        out: list[str] = []
        self.code_lines, self.item_lines, self.said_words = [], [], []
        self.code_spans = []
        at = 0
        for part in _LINE_MARKS.split(text):
            if part == _CODE_LINE:
                self.code_lines.append(at)
            elif part == _ITEM_LINE:
                self.item_lines.append(at)
            elif part in (_SPAN_OPEN, _SPAN_CLOSE):
                self.code_spans.append((at, part == _SPAN_OPEN))
            elif part.startswith(_WORD_START):
                self.said_words.append((at, part[1:-1]))
            else:
                out.append(part)
                at += len(part)
        return "".join(out)

    def _unpictured(self, text: str, *, final: bool) -> str:
        """``text`` without its runs of pictographs, and without the list marks they leave
        (see the module's docstring); the end that may still be one waits unless ``final``."""
        text, self._held = self._held + text, ""
        runs = list(_UNSAID_RUN.finditer(text))
        hold = len(text)
        if not final:
            hold = _MAY_LEAD.search(text).start()  # type: ignore[union-attr]  # always matches
            for run in runs:
                if run.end() > hold or _MAY_GO_ON.match(text, run.end()):
                    hold = min(hold, run.start())  # a run may go on in the next delta
                elif _VERB_S_START.fullmatch(text, run.end()):
                    hold = min(hold, run.start())  # "She ❤️s" may be "She ❤️s it"
            text, self._held = text[:hold], text[hold:]
        out: list[str] = []
        done = 0
        for run in runs:
            if run.end() > hold:
                break
            self.dropped = True
            out.append(text[done : run.start()])
            said = "".join(out)
            before = said[-1] if said else self._last
            after = self._held[0] if run.end() == len(text) and self._held else ""
            after = text[run.end()] if run.end() < len(text) else after
            verb = _VERB_S.match(text, run.end()) is not None and not run.group("after")
            loves = _loves(run, (self._tail + said)[-8:], after, verb=verb)
            left = loves if loves else _left_of_run(run, before, after or "\n")
            value = _value_said(run, self._tail + said, left, after or "\n")
            out.append(left + value)
            done = run.end() + (1 if loves and verb else 0)  # "She ❤️s it": its "s" is the verb's
        out.append(text[done:])
        cleaned = "".join(out)
        shown = _SAID_WORDS.sub("", cleaned)  # (a line's marks stay: they are no line start)
        if shown:
            self._last = shown[-1]
            self._tail = (self._tail + shown)[-8:]
        return cleaned

    def _drain(self, *, final: bool) -> str:
        """Decide as much of the pending text as can be decided; the rest waits for more."""
        out: list[str] = []
        while self._pending:
            if self._fence is not None:
                step = self._in_fence(*self._fence, final)
            elif self._span:
                step = self._in_span(final)
            else:
                step = self._text(final)
            if step is None:
                break
            out.append(step)
        return "".join(out)

    def _take(self, n: int) -> str:
        """The next ``n`` raw characters, consumed."""
        taken, self._pending = self._pending[:n], self._pending[n:]
        if taken:
            self._before = taken[-1]
            start = len(taken)  # (only what was taken is looked through: a delta)
            while start and not taken[start - 1].isspace():
                start -= 1
            word = taken[start:] if start else self._word + taken
            # of it, only an address still going on, or what may begin one ("https:/"), is
            # kept: Japanese or Chinese text has no blanks to end a word
            address = [*URL.finditer(word)][-1:]
            if address and address[0].end() == len(word):
                self._word = word[address[0].start() :]
            else:
                self._word = word[-len("<https://") :]
            line = taken.rpartition("\n")
            self._blank_line = (bool(line[1]) or self._blank_line) and not line[2].strip(_BLANK)
        return taken

    def _run_end(self, start: int) -> int:
        """Where the run of the character at ``start`` ends."""
        text, end = self._pending, start
        while end < len(text) and text[end] == text[start]:
            end += 1
        return end

    def _skip_blank(self, start: int) -> int:
        text = self._pending
        while start < len(text) and text[start] in _BLANK:
            start += 1
        return start

    def _in_fence(self, char: str, length: int, final: bool) -> str | None:
        """Inside a fenced block: lines verbatim, up to a closing fence line (dropped): at
        least ``length`` of the opening ``char``, nothing but blanks around it."""
        text = self._pending
        if self._before == "\n":
            start = self._skip_blank(0)
            if start == len(text) and not final:
                return None
            if start < len(text) and text[start] == char:
                end = self._run_end(start)
                if end == len(text) and not final:
                    return None
                if end - start >= length:
                    tail = self._skip_blank(end)
                    if tail == len(text) and not final:
                        return None
                    if tail == len(text) or text[tail] == "\n":
                        self._take(tail + 1)
                        self._fence = None
                        return ""
        line_end = text.find("\n")
        prefix = _CODE_LINE if self._before == "\n" else ""
        return prefix + self._take(line_end + 1 if line_end >= 0 else len(text))

    def _in_span(self, final: bool) -> str | None:
        """Inside an inline code span: verbatim, up to a backtick run as long as the opening
        one. A line end closes it too, so that a stray backtick cannot leave the rest of the
        answer unstripped."""
        text = self._pending
        if text[0] == "\n":
            self._span = 0  # the line end itself is left to _text
            return _SPAN_CLOSE
        if text[0] != "`":
            stops = [i for i in (text.find("`"), text.find("\n")) if i >= 0]
            return self._take(min(stops, default=len(text)))
        end = self._run_end(0)
        if end == len(text) and not final:
            return None
        if end == self._span:
            self._span = 0
            self._take(end)
            return _SPAN_CLOSE
        return self._take(end)

    def _text(self, final: bool) -> str | None:
        """Outside code: marks dropped, a fence line or a code span's backticks recognised."""
        text = self._pending
        if self._before == "\n":
            start = self._skip_blank(0)
            if start == len(text) and not final:
                return None
            if start < len(text) and text[start] in "`~":
                fence = self._opening_fence(start, final)
                if fence is None:
                    return None
                if fence:
                    return ""
        if text[0] == "`":
            end = self._run_end(0)
            if end == len(text) and not final:
                return None
            self._span = 0 if end == len(text) else end  # an unclosable span at the very end
            self._take(end)
            return _SPAN_OPEN if self._span else ""
        stop = min((i for i in (text.find("`"), text.find("\n") + 1) if i > 0), default=len(text))
        chunk = text[:stop]
        if stop == len(text) and not final:
            held = _TRAILING.search(chunk)
            cut = min(held.start() if held else len(chunk), self._open_address(chunk))
            # a run of marks is one ("#_", "**_"): cleaned in two parts, what is kept of it
            # depended on where a delta ended ("?x=_y#_top" whole lost its "#_", one
            # character at a time only the "_")
            chunk = chunk[: len(chunk[:cut].rstrip("*_#\\"))]
        if not chunk:
            return None
        before, blank_line, word = self._before, self._blank_line, self._word
        self._take(len(chunk))
        return _clean(chunk, before, blank_line, word)

    def _open_address(self, chunk: str) -> int:
        """Where an address that may still go on starts in ``chunk`` (its length if none):
        held whole, as the voice holds it anyway, to tell its own underscores from emphasis
        around it ("_https://b.org/_c_")."""
        text = self._word + chunk
        last = [*URL.finditer(text)][-1:]
        if not last or last[0].end() < len(text):
            return len(chunk)
        return max(0, last[0].start() - len(self._word))

    def _opening_fence(self, start: int, final: bool) -> bool | None:
        """Whether the line is an opening fence, then consumed; None: not known yet."""
        text = self._pending
        char = text[start]
        end = self._run_end(start)
        if end == len(text) and not final:
            return None
        if end - start < 3:
            return False
        line_end = text.find("\n", end)
        info = text[end:] if line_end < 0 else text[end:line_end]
        if char == "`" and "`" in info:
            return False  # ```code``` on one line: an inline span, not a fence
        if line_end < 0 and not final:
            return None
        self._take(len(text) if line_end < 0 else line_end + 1)
        self._fence = (char, end - start)
        return True


def _clean(text: str, before: str, blank_line: bool, word: str = "") -> str:
    """``text`` without its marks; ``before`` is the raw character that preceded it,
    ``blank_line`` says whether its line had only blanks before it, and ``word`` is the raw
    word it goes on (an address may have begun in it)."""
    addresses = _addresses(word + text, len(word))

    def keep_or_drop(m: re.Match[str]) -> str:
        run, start, end = m.group(), m.start(), m.end()
        lead = (word + text)[: len(word) + start]  # the raw text up to the run
        if run[0] == "\\":
            return "*"  # an escaped star: the character itself
        if any(a <= start < b for a, b in addresses):
            return run  # an address's: "wiki/Python_(programming_language)", "?x=_y#_top"
        prev = text[start - 1] if start else before
        nxt = text[end] if end < len(text) else ""
        kind = run[0]
        if len(set(run)) == 1:
            if kind == "_" and prev.isalnum() and nxt.isalnum():
                return run  # snake_case
            if kind == "_" and prev == "\\":
                return run  # a Windows path's "C:\\_build" (or an escape): no emphasis
            if kind == "_" and prev == "/" and (nxt.isalnum() or nxt == "_"):
                return run  # a path's part: "src/_private.py", "src/__init__.py"
            if kind == "_" and prev.isalnum() and _EXTENSION_START.match(text, end):
                return run  # the end of a file's name: "__init__.py", "test_.py"
            name = _FILE_NAME_REST.match(text, end) if kind == "_" else None
            if name and not (name.group().endswith("/") and _closed(run, text, end)):
                return run  # the start of one: "__init__.py", "_utils/a.py"
            if kind == "*" and _glob(run, text, prev, end):
                return run  # a glob's: "src/*.py", "**/*.md", "*.pyc"
            if kind == "#" and prev == "/":
                return run  # an address's fragment: "https://example.com/#top"
            line_start = blank_line and not text[:start].strip(_BLANK)
            if kind in "*_" and prev in _BLANK and nxt and nxt in _BLANK and not line_start:
                return run  # "5 * 3": blanks on both sides make no emphasis, nor a bullet
            if (
                run == "*"
                and (nxt.isalnum() or nxt == "(")
                and _operand_before(word + text[:start])
            ):
                return run  # a product written without blanks: "x*y", "2*3", "f(x)*g(x)"
            if run == "*" and line_start and nxt and nxt in _BLANK:
                return _ITEM_LINE  # a list item's bullet: not said, but where it was is told
            if kind == "#" and line_start and len(run) <= 6 and (not nxt or nxt in _BLANK):
                return _ITEM_LINE  # a heading's: its line is said as a sentence, as an item
            if kind == "#" and prev.isalnum() and (nxt not in "*_" or _sharp(lead + run)):
                return run  # C#, F# (and "C#__init__"; not "?x=_y#_top"'s, as before)
            if run == "#" and nxt.isdigit():
                return run  # a number's sign: "issue #42", "#1 on the list"
            if run == "#" and nxt.isalpha() and not line_start:
                return run  # a channel or a hashtag ("#general"): a heading's is at a line start
            if kind == ">" and prev != "\n":
                return run  # a comparison, not a quote
            if kind in "*_" and nxt.isalnum() and _sharp(lead):
                # emphasis right after a sharp ("C#__init__", "F#*x*"): a blank keeps the
                # two apart, or "C#init" was said as one word, heard "see in it"
                return " "
        return ""

    return _MARKS.sub(keep_or_drop, text)


def _sharp(text: str) -> bool:
    """Whether ``text`` ends in a language's or a note's sharp: a capital alone and "#"
    ("C#", "F#"), which emphasis right after it ("C#__init__") must leave said."""
    return _SHARP_END.search(text) is not None


def _operand_before(text: str) -> bool:
    """Whether ``text`` (what came before a star with a letter or digit right after it)
    ends in what a product's star follows: a number, a one-letter variable or a closing
    bracket ("2*3", "x*y", "f(x)*g(x)"). The star was dropped as emphasis, and "x*y" was
    shown and said "xy", "2*3" "23"; a word's star opens emphasis ("un*believ*able")."""
    last = text[-1:]
    if last.isdigit() or last == ")":
        return True
    return last.isalpha() and not text[-2:-1].isalnum()


def _addresses(text: str, offset: int) -> list[tuple[int, int]]:
    """Where the addresses (bare, or a link's) in ``text`` are, less ``offset``: without
    the punctuation or emphasis marks that end them, nor a closing bracket opened before."""
    spans = []
    for url in URL.finditer(text):
        address = url.group()
        while address and (
            address[-1] in _ADDRESS_TAIL
            or (address[-1] == ")" and address.count(")") > address.count("("))
        ):
            address = address[:-1]
        spans.append((url.start() - offset, url.start() - offset + len(address)))
    return spans


def _glob(run: str, text: str, prev: str, end: int) -> bool:
    """Whether the star ``run`` (ending at ``end``, after ``prev``) is a glob's, which the
    person may copy from the shown answer: after a slash and before a name, a slash or a
    file's extension ("src/*.py", "a/**/b"), or opening a word that goes on with a slash or
    an extension and does not close it ("**/*.md", "*.pyc"; not "**/etc/hosts**"). Two
    stars open one only before a slash: "**.NET Framework**" is bold, whose closing stars
    may come only words later."""
    nxt = text[end : end + 2]
    goes_on = nxt[:1].isalnum() or nxt[:1] == "/" or (nxt[:1] == "." and nxt[1:].isalnum())
    if prev == "/":
        return goes_on
    if len(run) > 1 and nxt[:1] != "/":
        return False
    return goes_on and not nxt[:1].isalnum() and not prev.isalnum() and not _closed(run, text, end)


def _closed(run: str, text: str, end: int) -> bool:
    """Whether the path after an opening underscore ``run`` (ending at ``end``) closes it: a
    path in emphasis ("_src/main.py_"), whose marks both go, not one whose folder's name
    starts with underscores ("_utils/a.py")."""
    word = _WORD_REST.match(text, end)
    rest = word.group() if word is not None else ""
    return rest.endswith(run) and not rest.endswith("_" + run) and len(rest) > len(run)


def _loves(run: re.Match[str], said: str, after: str, *, verb: bool = False) -> str:
    """What is said for a run of hearts between a person and a word (" love ", " loves "),
    or of thumbs-up (" like "), empty for any other run; ``said`` is the text said before
    it; ``verb``: an "s" after it makes it a verb after any word (" loves", the "s" taken
    with it)."""
    pictures = _PICTOGRAPHS.findall(run.group())
    if run.group("lead") or run.group("sep") or not after.isalnum():
        return ""
    verbs = {_VERBS.get(picture[0]) for picture in pictures}
    if len(verbs) != 1 or None in verbs:
        return ""  # ("I ❤️❤️ it" is loved as much; "I ❤️👍 it" says no one word)
    word = verbs.pop()
    if verb:
        return f" {word}s" if _WORD_BEFORE.search(said) else ""
    person = _LOVER_BEFORE.search(said)
    if person is None:
        return ""
    return f" {word} " if person.group(1) else f" {word}s "


def _left_of_run(run: re.Match[str], before: str, after: str) -> str:
    """What stays of a run of pictographs: ``before`` is the character said before it (a
    line end at the start), ``after`` the one after it (a line end at the end)."""
    lead, blanks = run.group("lead"), " " if run.group("after") else ""
    if after in _ENDS_CLAUSE:
        return ""  # "Sure 👍." and "Pick one: 🍎 or 🍌?": the run ended its clause
    if lead:
        return lead + blanks  # "cats and 🐶 dogs", "Fruits: 🍎, 🍌 are nice"
    if before == "\n":
        return ""  # a line start: the run and what follows it up to the words
    if before in ",;:(-":
        return blanks  # an item of a list (or a list line): its separator goes with it
    return run.group("after").lstrip(_BLANK)[:1] + blanks if run.group("sep") else blanks


def _value_said(run: re.Match[str], said: str, left: str, after: str) -> str:
    """The word a run that is one check mark or cross standing for a value is said as,
    between the marks of a word said but not shown: after a colon ("Python: ✅, Java: ❌.",
    "- Fast: ✅") or alone in a table's cell ("| Java | ❌ |": its row was said "Java, ."),
    where its clause ends after it (or a comma or semicolon follows). Empty for any other run: in a sentence ("Done ✅ and tested") it says
    nothing a word does not. ``left`` is what is shown of the run; the word is what is said
    of the run past it ("Java: ❌." shows "Java." and says "Java: no.")."""
    pictures = _PICTOGRAPHS.findall(run.group())
    before = _SAID_WORDS.sub("", said).rstrip(_BLANK + _CARRIED_MARKS)
    in_cell = before.endswith("|") and after == "|"  # alone in a table's cell: "| Java | ❌ |"
    # at a cell's start before its words ("| Sync | ✅ partly |", "| ❌ not yet |"): said
    # with a comma before them, "yes, partly"; dropped, only "partly" was heard
    opens_cell = before.endswith("|") and after.isalnum() and not run.group("lead")
    word = _cell_value(pictures, run.group(), in_cell)
    if word is None or not (run.group("sep") or after in _ENDS_CLAUSE or in_cell or opens_cell):
        return ""
    if not (run.group("lead").startswith(":") or before.endswith(":") or in_cell or opens_cell):
        return ""
    first = run.group().index(pictures[0])
    rest = run.group()[run.group().rindex(pictures[-1]) + len(pictures[-1]) :]
    whole = run.group()[:first] + word + ("," if opens_cell else "") + rest
    if not whole.startswith(left):
        return ""
    said_word = whole[len(left) :].rstrip(_BLANK) if in_cell else whole[len(left) :]
    return f"{_WORD_START}{said_word}{_WORD_END}"


def _cell_value(pictures: list[str], run: str, in_cell: bool) -> str | None:
    """What a run of check marks and crosses says: one of them, or several of one kind
    alone in a cell ("| Speed | ✅ ✅ |", a rating), say "yes" or "no" once; mixed ones alone
    in a cell ("| Sync | ✅ ❌ |", "✅ / ❌") say each in turn, "yes and no", or "yes or no"
    when a slash or "or" is between them (the row was said "Sync, ." or "Sync, /."). None:
    the run is not one to say (another pictograph in it, or several outside a cell)."""
    words = list(dict.fromkeys(_YES_NO.get(picture[0]) for picture in pictures))
    if None in words or not (len(pictures) == 1 or in_cell):
        return None
    joiner = " or " if re.search(r"/|(?i:\bor\b)", run) else " and "
    return joiner.join(w for w in words if w is not None)
