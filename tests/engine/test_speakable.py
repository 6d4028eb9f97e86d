"""Code in a streamed answer: fence lines and backticks go, the code itself stays as written,
however the answer is cut into deltas."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import numpy as np
import pytest

from voicedesk.engine.speakable import SpeakableText
from voicedesk.engine.spoken import SpokenText
from voicedesk.providers.sentence_stream import SentenceStream

ANSWER = (
    "Here is how:\n"
    "```python\n"
    "# install the deps\n"
    "pip install -r requirements.txt\n"
    "x = a*b  # **not bold**, my_var\n"
    "```\n"
    "Then run `a*b` or ``a ` b`` on **q3_budget.md**, in C# where x > 3.\n"
    "1. Install:\n"
    "   ~~~~bash\n"
    "   ls *.md > _list_\n"
    "   ~~~\n"
    "   ~~~~\n"
    "## Done\n"
)
SAID = (
    "Here is how:\n"
    "# install the deps\n"
    "pip install -r requirements.txt\n"
    "x = a*b  # **not bold**, my_var\n"
    "Then run a*b or a ` b on q3_budget.md, in C# where x > 3.\n"
    "1. Install:\n"
    "   ls *.md > _list_\n"
    "   ~~~\n"
    " Done\n"
)


def _spoken(deltas: list[str]) -> str:
    speakable = SpeakableText()
    return "".join(speakable.feed(d) for d in deltas) + speakable.flush()


def _shown_and_said_in_steps(answer: str, step: int) -> tuple[str, str]:
    """What is shown and said of ``answer`` come ``step`` characters at a time, through the
    Markdown pass and then the spoken form, given the lines the pass found to be code or
    list items (as the reply does): a "#" is read differently by each, at any split."""
    speakable, spoken = SpeakableText(), SpokenText()
    shown, said = [], []
    for at in range(0, len(answer), step):
        shown.append(speakable.feed(answer[at : at + step]))
        said.append(spoken.feed(shown[-1], speakable.code_lines, speakable.item_lines))
    shown.append(speakable.flush())
    said.append(spoken.feed(shown[-1], speakable.code_lines, speakable.item_lines))
    said.append(spoken.flush())
    return "".join(shown), "".join(said)


def _random_split(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, max(1, len(text) // 3))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@pytest.mark.parametrize("seed", range(20))
def test_a_code_answer_comes_out_the_same_however_it_is_split(seed: int) -> None:
    assert _spoken([ANSWER]) == SAID
    assert _spoken(list(ANSWER)) == SAID
    assert _spoken(_random_split(ANSWER, seed)) == SAID


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("```\n_x_ **y**\n```\n**z**", "_x_ **y**\nz"),  # no info string; stripped again after
        ("Run:\n```sh\nls\n```", "Run:\nls\n"),  # closing fence at the very end
        ("```py", ""),  # an answer cut right after an opening fence
        ("```\ncode *kept*", "code *kept*"),  # never closed: code to the end
        ("````\n```\n````\n*z*", "```\nz"),  # a shorter run does not close a longer fence
        ("```\n``` not a close\n```\n", "``` not a close\n"),  # a closing fence has no info
        ("  ```js\n  a_b*c\n  ```\nok", "  a_b*c\nok"),  # indented, as in a list item
        ("~~~\n# a\n~~~\n~~gone?~~", "# a\n~~gone?~~"),  # tildes, and a strike-through kept
        ("```a*b``` then *c*", "a*b then c"),  # backticks in the info string: inline code
        ("x ```\ny", "x \ny"),  # not at a line start: a code span, ended by the line end
        ("`__init__` and __init__", "__init__ and init"),
        ("`open *star* \n*b*", "open *star* \nb"),  # unclosed: the line end ends the span
        ("the ` key", "the  key"),  # a lone backtick is dropped, as before
    ],
)
def test_code_is_kept_as_written_and_only_its_fences_go(answer: str, said: str) -> None:
    assert _spoken([answer]) == said
    assert _spoken(list(answer)) == said


def test_only_what_may_still_be_a_fence_or_a_backtick_run_waits() -> None:
    """Text and code come out in the delta that brings them; a fence's info string and a
    line start that may still turn into a fence are the only things held."""
    speakable = SpeakableText()
    steps = [
        ("Here", "Here"),
        (":\n``", ":\n"),  # a fence, or a code span of two?
        ("`pyt", ""),  # a fence: its info string is dropped with it
        ("hon\n# ins", "# ins"),
        ("tall a*b\n  ", "tall a*b\n"),  # an indented closing fence, or code?
        ("x\n``", "  x\n"),
        ("`\nSee `a", "See a"),
        ("*", "*"),
        ("` **b", " b"),
    ]
    for delta, said in steps:
        assert speakable.feed(delta) == said, delta
    assert speakable.flush() == ""


async def test_code_lines_reach_the_voice_whole() -> None:
    """A code line has no sentence end for SentenceStream to cut at: it goes with the next
    piece, and nothing of the cleaned answer is lost or sent empty."""
    pieces: list[str] = []

    async def synth(text: str):  # type: ignore[no-untyped-def]
        pieces.append(text)
        yield np.zeros(10, dtype=np.int16)

    stream = SentenceStream(synth, 24_000)
    speakable = SpeakableText()
    for delta in _random_split(ANSWER, 1):
        await stream.send_text(speakable.feed(delta))
    await stream.send_text(speakable.flush())
    await stream.end_text()
    chunks = [chunk async for chunk in stream.audio()]
    assert len(chunks) == len(pieces) and all(p.strip() for p in pieces)
    assert " ".join(pieces).split() == SAID.split()


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 5])
def test_pictographs_are_not_spoken(cut: int) -> None:
    """The voice was sent "🎉🚀" and "👩‍👩‍👧" to read out."""
    answer = "Done 🎉🚀! Family 👩\u200d👩\u200d👧, 👍🏽, ❤️, old new at 25°C; keep `a~~b`."
    speakable = SpeakableText()
    deltas = [answer[i : i + cut] for i in range(0, len(answer), cut)] if cut else [answer]
    said = "".join(speakable.feed(d) for d in deltas) + speakable.flush()
    assert said == "Done! Family, old new at 25°C; keep a~~b."


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 5])
@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("Step 1\ufe0f\u20e3 done", "Step 1 done"),  # a keycap: its digit is said
        ("Press #\ufe0f\u20e3 or 2\u20e3.", "Press or 2."),
        ("Sure 👍, here it is 🎉.", "Sure, here it is."),  # no space before the punctuation
        ("Sure 👍 thanks\t🎉\n🚀 Next 👍", "Sure thanks\nNext"),
        ("I love👍 it  ", "I love it  "),  # an answer's own trailing blanks still come
    ],
)
def test_what_a_pictograph_leaves_reads_right(answer: str, said: str, cut: int) -> None:
    """A keycap's digit was said with its emoji marks ("1️⃣"), and the blank before a
    dropped pictograph stayed before the comma or full stop after it ("Sure , here")."""
    speakable = SpeakableText()
    deltas = [answer[i : i + cut] for i in range(0, len(answer), cut)] if cut else [answer]
    assert "".join(speakable.feed(d) for d in deltas) + speakable.flush() == said


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("Fruits: 🍎, 🍌, and 🍇 are nice.", "Fruits: are nice."),
        ("Fruits: 🍎 🍌 🍇.", "Fruits."),
        ("Pick one: 🍎 or 🍌?", "Pick one?"),
        ("We have apples, pears, and 🍇.", "We have apples, pears."),
        ("Items: 🍎; 🍌; done", "Items: done"),
        ("Flags 🇫🇷, 🇩🇪 & 🇯🇵 fly here.", "Flags fly here."),
        (
            "Scotland 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f wins",
            "Scotland wins",
        ),
        (
            "Team: 👩🏽\u200d💻, 👨\u200d👩\u200d👧\u200d👦 and 🏳️\u200d🌈, all set!",
            "Team: all set!",
        ),
        # a heart after a person stands for a word: "I it" was heard "I hate it"
        ("I ❤️ it, we ❤️❤️ you, she ♥ Go.", "I love it, we love you, she loves Go."),
        ("Thanks ❤️ see you. I ❤️, you ❤️.", "Thanks see you. I, you."),
        # ... and a thumbs-up "like": "I 👍 it" was said "I it"; not alone ("Sure 👍, …")
        (
            "I 👍 it, she 👍🏽 Go, everyone 👍s pizza; I ❤️👍 it, thanks 👍 see you.",
            "I like it, she likes Go, everyone likes pizza; I it, thanks see you.",
        ),
        # ... and a heart with an "s" after any word: "She loves s it", "Everyone s pizza"
        (
            "She ❤️s it, everyone ❤️s pizza; she ❤️s.",
            "She loves it, everyone loves pizza; she loves.",
        ),
        ("cats and 🐶 dogs", "cats and dogs"),
        ("It's sunny ☀️ and warm ⌚", "It's sunny and warm"),
        ("Sure 👍, here it is.", "Sure, here it is."),
        ("Hi! 😊 How are you?", "Hi! How are you?"),
        ("- 🍎 apple\n- 🍌, banana", "- apple\n- banana"),
        ("🍎, 🍌, 🍇", ""),
        ("👍🏾", ""),
    ],
)
def test_emoji_in_a_list_take_its_commas_with_them(answer: str, said: str, seed: int) -> None:
    """The answer "Fruits: 🍎, 🍌, and 🍇 are nice." was spoken "Fruits:,, and are nice.": each
    emoji went alone and left the list's commas and "and" to be read out."""
    assert _spoken([answer]) == said
    assert _spoken(list(answer)) == said
    assert _spoken(_random_split(answer, seed)) == said


def test_a_list_mark_waits_only_for_the_next_delta() -> None:
    """A comma or "and" at the end of a delta may lead into emoji: it waits for the next
    delta, which says whether it is said."""
    speakable = SpeakableText()
    steps = [("Apples,", "Apples"), (" pears", ", pears"), (" and", ""), (" 🍇", ""), (".", ".")]
    for delta, said in steps:
        assert speakable.feed(delta) == said, delta
    assert speakable.flush() == ""


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("12 * 7 = 84.", "12 * 7 = 84."),
        ("Area: 3 * 4 * 2 m, or 2 ** 3 = 8.", "Area: 3 * 4 * 2 m, or 2 ** 3 = 8."),
        ("Fill in _ here, **bold** * note", "Fill in _ here, bold * note"),
        ("* one\n  * two\n\t* three * four", " one\n   two\n\t three * four"),  # bullets go
        ("x *y* z and *", "x y z and "),
        ("5 \\* 3 = 15, **bold** \\*not\\*", "5 * 3 = 15, bold *not*"),  # escaped stars
        ("C:\\Users and \\\\server\\share", "C:\\Users and \\\\server\\share"),
        # a product without blanks: "x*y" was shown and said "xy", "2*3" "23"
        (
            "Compute x*y, 2*3 = 6, a*b*c, f(x)*g(x); *not* un*believ*able **2**x.",
            "Compute x*y, 2*3 = 6, a*b*c, f(x)*g(x); not unbelievable 2x.",
        ),
    ],
)
def test_a_star_between_blanks_is_arithmetic_and_said(answer: str, said: str, seed: int) -> None:
    """An answer "12 * 7 = 84" was spoken "12  7 = 84": every star was taken for emphasis;
    and of Markdown's escaped star ("5 \\* 3") the backslash was read out."""
    assert _spoken([answer]) == said
    assert _spoken(list(answer)) == said
    assert _spoken(_random_split(answer, seed)) == said


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("Build in C:\\_build\\out now", "Build in C:\\_build\\out now"),
        ("Saved to \\\\server\\_shared today", "Saved to \\\\server\\_shared today"),
    ],
)
def test_an_underscore_after_a_backslash_is_kept(answer: str, said: str, seed: int) -> None:
    """A backslash before an underscore is a Windows path's ("C:\\_build") or Markdown's
    escape: in neither is the underscore emphasis. It was dropped, and the answer shown and
    remembered named a folder that does not exist ("C:\\build")."""
    assert _spoken([answer]) == said
    assert _spoken(list(answer)) == said
    assert _spoken(_random_split(answer, seed)) == said


PATHS = [
    "Open src/_private.py and src/__init__.py now.",
    "Edit __init__.py and test_.py, then _utils/__main__.py.",
    "See https://example.com/docs/#top and https://x.org/a_b/_c for it.",
]


@pytest.mark.parametrize("text", PATHS)
def test_paths_and_addresses_are_shown_as_written_however_they_are_split(text: str) -> None:
    """A path's underscores after a slash ("src/_private.py") or around a file's name
    ("__init__.py"), and an address's "#" after a slash, were taken for Markdown marks and
    dropped: the answer shown and remembered named "src/private.py", a file that does not
    exist, for the model's next tool call."""
    assert _spoken([text]) == text
    assert _spoken(list(text)) == text
    for i in range(1, len(text)):
        assert _spoken([text[:i], text[i:]]) == text, i


@pytest.mark.parametrize(
    ("text", "said"),
    [("__bold__.", "bold."), ("_really_ sure", "really sure"), ("a __b__.\nc", "a b.\nc")],
)
def test_emphasis_next_to_a_full_stop_is_still_dropped(text: str, said: str) -> None:
    assert _spoken([text]) == said
    assert _spoken(list(text)) == said


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Open _src/main.py_ now.", "Open src/main.py now."),
        ("Edit __config/settings.json__, then _b/c_.", "Edit config/settings.json, then b/c."),
        ("See _src/_private.py_ and _utils/a.py.", "See src/_private.py and _utils/a.py."),
        ("Open __init__.py__ or the _utils/ folder", "Open __init__.py or the _utils/ folder"),
    ],
)
def test_an_emphasised_path_loses_both_its_marks(text: str, said: str) -> None:
    """A path in underscore emphasis ("_src/main.py_") kept its opening underscores, taken
    for a folder's name ("_utils/a.py"), and lost its closing ones: the answer shown and
    remembered named "_src/main.py", a file that does not exist."""
    assert _spoken([text]) == said
    assert _spoken(list(text)) == said
    for i in range(1, len(text)):
        assert _spoken([text[:i], text[i:]]) == said, i


ADDRESSES = [
    (
        "See [Python](https://en.wikipedia.org/wiki/Python_(programming_language)) first.",
        "See [Python](https://en.wikipedia.org/wiki/Python_(programming_language)) first.",
    ),
    (
        "Go to https://example.com/search?q=a_b&x=_y#_top or www.x.org/__init__/ now.",
        "Go to https://example.com/search?q=a_b&x=_y#_top or www.x.org/__init__/ now.",
    ),
    (
        "It is **[the docs](https://a.com/x_(y))**, _https://b.org/_c_",
        "It is [the docs](https://a.com/x_(y)), https://b.org/_c",
    ),
    ("中文：https://a.com/x_(y)看。好", "中文：https://a.com/x_(y)看。好"),
]


@pytest.mark.parametrize(("text", "said"), ADDRESSES)
@pytest.mark.parametrize("seed", range(5))
def test_an_address_is_shown_as_written_however_it_is_split(
    text: str, said: str, seed: int
) -> None:
    """An address's underscores were taken for emphasis and dropped: the answer shown and
    remembered linked ".../wiki/Python(programming_language)", a page that does not exist,
    and "?x=y#top" for "?x=_y#_top". Emphasis around an address still goes."""
    assert _spoken([text]) == said
    assert _spoken(list(text)) == said
    assert _spoken(_random_split(text, seed)) == said
    for i in range(1, len(text)):
        assert _spoken([text[:i], text[i:]]) == said, i


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Match src/*.py and **/*.md with it.", "Match src/*.py and **/*.md with it."),
        ("Delete *.pyc and a/**/b, not *this*.", "Delete *.pyc and a/**/b, not this."),
        ("Edit **/etc/hosts** and **src/**.", "Edit /etc/hosts and src/."),
        ("It is *src/*.py*, 5 * 3.", "It is src/*.py, 5 * 3."),
    ],
)
@pytest.mark.parametrize("seed", range(4))
def test_a_glob_keeps_its_stars(text: str, said: str, seed: int) -> None:
    """A glob's stars were taken for emphasis and dropped: "src/*.py" was shown, and
    remembered for the model's next tool call, as "src/.py", and "**/*.md" as "/.md".
    Stars after a slash, or opening a word that goes on with a slash or a file's extension
    and does not close them, stay; emphasis around a path still goes."""
    assert _spoken([text]) == said
    assert _spoken(list(text)) == said
    assert _spoken(_random_split(text, seed)) == said


@pytest.mark.parametrize("seed", range(4))
def test_bold_around_a_name_that_starts_with_a_dot_is_no_glob(seed: int) -> None:
    """Bold stars before ".NET" or ".env" were taken for a glob's and kept, the closing ones
    dropped: "**.NET Framework**" was shown, and said, as "**.NET Framework". A glob opens
    a word with one star ("*.pyc") or two and a slash ("**/*.md"), not two and a dot."""
    text = "Use **.NET Framework** or a **.env file**, and match **/*.md or *.pyc."
    said = "Use .NET Framework or a .env file, and match **/*.md or *.pyc."
    assert _spoken([text]) == said
    assert _spoken(list(text)) == said
    assert _spoken(_random_split(text, seed)) == said


async def test_pieces_begin_in_the_answers_order_when_an_earlier_one_ends_out_of_turn() -> None:
    """Two pieces are synthesised at once. Each waited for the piece two places back, so
    when the second ended before the first (a short sentence after a long one), the fourth
    began before the third, which the person hears sooner, and the third waited behind
    it. Pieces now begin in the answer's order as soon as one of the two is done."""
    first_done = asyncio.Event()
    begun: list[str] = []

    async def synth(text: str) -> AsyncIterator[np.ndarray]:
        begun.append(text)
        if text.startswith("One"):
            await first_done.wait()  # the long first sentence, still being made
        yield np.zeros(10, dtype=np.int16)

    stream = SentenceStream(synth, 24_000, min_first_chars=1)
    sentences = ["One long first sentence.", "Two.", "Three.", "Four."]
    for sentence in sentences:
        await stream.send_text(sentence + " ")
    await stream.end_text()
    for _ in range(20):  # the short ones take turns beside the first, still running
        await asyncio.sleep(0)
    assert begun == sentences, begun
    first_done.set()
    chunks = [chunk async for chunk in stream.audio()]
    assert begun == sentences and len(chunks) == 4


@pytest.mark.parametrize("step", [1, 2, 3, 100])
def test_a_number_s_sign_is_kept_and_said_number(step: int) -> None:
    """ "issue #42" was shown and remembered as "issue 42" (the "#" taken for a heading's
    mark), and a voice given "#42" said "hash 42". The sign stays in what is shown; the
    voice says "number 42". A heading's marks still go, and its line ends as a sentence."""

    answer = "## Bugs\nSee issue #42 and PR #7, the #1 fix.\n#5 first"
    shown, said = _shown_and_said_in_steps(answer, step)
    assert shown == " Bugs\nSee issue #42 and PR #7, the #1 fix.\n#5 first"
    assert said == "Bugs.\nSee issue number 42 and PR number 7, the number 1 fix.\nnumber 5 first"


@pytest.mark.parametrize("step", [1, 2, 3, 100])
def test_a_channel_or_hashtag_keeps_its_sign(step: int) -> None:
    """ "Join #general on Slack" was shown and remembered as "Join general on Slack": a "#"
    before a word was taken for a heading's mark, though a heading's is only at its line's
    start. The sign stays in what is shown and read back; the voice says the name alone.
    A heading's marks, even with no blank after them, still go. After a tag's ">" the "#"
    and the ">" went together, taken for one run of marks ("<bnews</b>")."""

    answer = "## Team\nJoin #general, or #dev-team (#random too), <b>#news</b>.\n#Tip for you"
    shown, said = _shown_and_said_in_steps(answer, step)
    assert shown == " Team\nJoin #general, or #dev-team (#random too), <b>#news</b>.\nTip for you"
    assert said == "Team.\nJoin general, or dev-team (random too), news.\nTip for you"


def test_a_run_of_marks_is_cleaned_whole_however_it_is_split() -> None:
    """A run of marks of more than one kind ("#_", "**_") was cleaned in two parts when a
    delta ended inside it, and what was kept of it depended on where: "?x=_y#_top" in prose
    lost its "#_" whole and only its "_" one character at a time."""
    text, said = "See ?x=_y#_top now.", "See ?x=ytop now."
    assert _spoken([text]) == said
    assert _spoken(list(text)) == said
    for i in range(1, len(text)):
        assert _spoken([text[:i], text[i:]]) == said, i
        for j in range(i + 1, len(text)):
            assert _spoken([text[:i], text[i:j], text[j:]]) == said, (i, j)


def _heard_form(deltas: list[str]) -> str:
    """What the voice is given of an answer: the Markdown pass, then the spoken form."""
    speakable, spoken = SpeakableText(), SpokenText()
    said = [spoken.feed(speakable.feed(d)) for d in deltas]
    return "".join(said) + spoken.feed(speakable.flush()) + spoken.flush()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("C#__init__ and F#*x*", "C sharp init and F sharp x"),
        ("Use C#**x** or G#_y_.", "Use C sharp x or G sharp y."),
    ],
)
def test_emphasis_after_a_sharp_leaves_the_sharp_said_however_it_is_split(
    text: str, said: str
) -> None:
    """A "#" was one run with the emphasis after it ("#__"), dropped whole: "C#__init__"
    was shown "Cinit" and said as one word. The sharp stays, a blank between it and the
    emphasised word, at every split of the answer."""
    assert _heard_form([text]) == said
    assert _heard_form(list(text)) == said
    for i in range(1, len(text)):
        assert _heard_form([text[:i], text[i:]]) == said, i
        for j in range(i + 1, len(text)):
            assert _heard_form([text[:i], text[i:j], text[j:]]) == said, (i, j)


@pytest.mark.parametrize(
    ("answer", "first"),
    [
        ("Take max. 2 tablets a day with food, and drink water.", "Take maximum 2 tablets"),
        ("Flight LH 401 dep. 9:40, arr. 13:05 at JFK.", "Flight LH 401 departure 9:40"),
    ],
)
async def test_a_short_form_s_dot_cuts_no_first_piece(answer: str, first: str) -> None:
    """ "Take max. 2 tablets …" was cut after "max." as a first piece of its own ("Take
    max." said with a falling voice, then "2 tablets"): said in full, with no dot, the
    short form ends no clause however the answer comes in."""
    pieces: list[str] = []

    async def synth(text: str):  # type: ignore[no-untyped-def]
        pieces.append(text)
        yield np.zeros(10, dtype=np.int16)

    for size in (1, 3, 7, len(answer)):
        pieces.clear()
        stream = SentenceStream(synth, 24_000)
        speakable, spoken = SpeakableText(), SpokenText()
        for i in range(0, len(answer), size):
            await stream.send_text(spoken.feed(speakable.feed(answer[i : i + size])))
        await stream.send_text(spoken.feed(speakable.flush()) + spoken.flush())
        await stream.end_text()
        _ = [chunk async for chunk in stream.audio()]
        assert pieces[0].startswith(first), (size, pieces)
