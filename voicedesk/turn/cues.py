"""What the transcript so far says about whether the person is done.

Audio-only end-of-turn models are fooled by pauses inside a sentence ("open the file called …
budget notes"). A sentence that stops on a word that needs a continuation — an article,
preposition, conjunction, auxiliary, possessive, a filler — is almost never finished, in any
topic; that is what we check. Terminal punctuation from the transcriber is weak evidence
only (Whisper-style models add a full stop to almost anything).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# Words after which an English sentence essentially never ends: determiners, possessives,
# conjunctions, the prepositions that are not stranded in questions, fillers, naming verbs.
STRONG = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "your",
        "his",
        "its",
        "our",
        "their",
        "every",
        "each",
        "and",
        "or",
        "but",
        "nor",
        "because",
        "although",
        "though",
        "whereas",
        "unless",
        "whether",
        "than",
        "of",
        "at",
        "by",
        "into",
        "onto",
        "between",
        "through",
        "during",
        "toward",
        "towards",
        "upon",
        "within",
        "via",
        "per",
        "among",
        "called",
        "named",
        "titled",
        "labelled",
        "labeled",
        "um",
        "uh",
        "uhm",
        "erm",
        "er",
        "let's",
    ]
)
# Prepositions that end a statement only when stranded in a question ("what is it for?").
PREPOSITIONS = frozenset(
    ["to", "for", "from", "with", "about", "as", "than", "into", "of", "at", "by"]
)
# Prepositions that take an object in nearly every use ("Is there a pharmacy near | the
# hotel?", "How many days are left until | my birthday?"), in a statement or a question.
_OBJECT_PREPOSITIONS = frozenset(
    ["until", "till", "near", "without", "except", "including", "against"]
)
# Prepositions a question may end on ("what is it for?"), doubtfully (``transcript_cue``).
_STRANDABLE = (
    PREPOSITIONS
    | _OBJECT_PREPOSITIONS
    | frozenset(["in", "on", "over", "under", "after", "before"])
)
# Words that usually dangle but can end a sentence ("what is it for", "yes I can",
# "tell me why"): these only demand more confidence from the audio model.
WEAK = _OBJECT_PREPOSITIONS | frozenset(
    [
        "to",
        "in",
        "on",
        "for",
        "from",
        "with",
        "about",
        "over",
        "under",
        "after",
        "before",
        "like",
        "as",
        "if",
        "so",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "i",
        "he",
        "she",
        "we",
        "they",
        "it's",
        "i'm",
        "you're",
        "we're",
        "they're",
        "which",
        "who",
        "whose",
        "where",
        "when",
        "what",
        "how",
        "why",
        "some",
        "any",
        "no",
        "very",
        "really",
    ]
)
# What answers a yes/no question opens with, and the verbs of "I think so"; what a short
# answer ends on ("yes, I do", "no, it isn't") is below (``_ANSWER_AUXILIARIES``).
_ANSWER_WORDS = frozenset(["yes", "yeah", "yep", "no", "nope", "nah", "sure"])
_THINKING = frozenset(["think", "hope", "guess", "believe", "suppose", "expect"])
# Verbs that want a name after them ("open the file called | budget notes").
NAMING_VERBS = frozenset(["called", "named", "titled", "labelled", "labeled"])
# Words that open a noun phrase ("save this | file", "call her | mother") but are pronouns
# as often at the end ("what is this?", "summarize these.", "call her."): a turn that stops
# on one waits out an in-sentence pause, question or not, rather than the maximum wait.
DETERMINERS_OR_PRONOUNS = frozenset(["this", "these", "those", "her"])
# Two-word endings that dangle ("such as", "going to", "kind of").
STRONG_BIGRAMS = frozenset(
    {
        "such as",
        "kind of",
        "sort of",
        "going to",
        "want to",
        "need to",
        "have to",
        "more than",
        "rather than",
        "in order",
        "as if",
        "so that",
        "and then",
        "lot of",
    }
)

# Every word on the lists above: what a fragment that stops "on a function word" stops on.
_FUNCTION_WORDS = STRONG | WEAK | PREPOSITIONS | DETERMINERS_OR_PRONOUNS

# A word is letters, a hyphenated compound ("check-in", "to-do": its last part alone would be
# a dangling "in"), or a number as transcribers write it ("7", "5:30", "30%", "$20", "3rd"):
# "Wake me up at 7." ends on "7", not on a dangling "at".
_WORD = re.compile(r"[$£€]?\d(?:[\d.,:]*\d)?(?:%|[a-z]+)?|[a-z']+(?:-[a-z']+)*")


def _words(text: str) -> list[str]:
    """The lower-case words of ``text``. A stutter written as a compound ("the-the",
    "th-the") is its last part, which is what the person stopped on."""
    words = _WORD.findall(text.lower())
    for i, word in enumerate(words):
        parts = word.split("-")
        if len(parts) > 1 and parts[-1].startswith(parts[0]):
            words[i] = parts[-1]
    return words


# A filler however the transcriber spells it: Whisper writes "Umm", "Uhh", "Hmm", "Mm" as
# well as "um" and "uh" ("What's the weather like in Umm?" is not a finished question).
_FILLER = re.compile(r"(?:u+[hm]+|h+m+|m{2,}|e+r+m*)")
_TRAILING_ELLIPSIS = re.compile(r"(\.\.\.|…|,|;|:|-)\s*$")

# A question formed with "do" or a modal needs a main verb after its subject ("why does the
# kettle | make that noise?", "how many pages does | it have?"). Whatever the intonation, a
# turn that stops before that verb is not over — and this holds for phrases cut off after a
# content word, where the last-word lists above say nothing. "Be" and "have" are left out:
# they are main verbs too ("where is the station?").
_DO = frozenset(["does", "did", "doesn't", "didn't", "do", "don't"])
_MODALS = frozenset(
    [
        "can",
        "could",
        "will",
        "would",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "can't",
        "won't",
        "couldn't",
        "wouldn't",
        "shouldn't",
    ]
)
_AUXILIARIES = _DO | _MODALS
_BE = frozenset(["is", "isn't", "am", "are", "aren't", "was", "wasn't", "were", "weren't"])
_HAVE = frozenset(["have", "haven't", "has", "hasn't", "had", "hadn't"])
_ANSWER_AUXILIARIES = _AUXILIARIES | _BE | _HAVE  # "yes, I do", "no, it isn't"
_WH = frozenset(["what", "why", "when", "where", "how", "which", "who", "whose"])
# Words that open a subject and cannot be one alone ("the kettle", "my phone"); not "this"
# or "that", which can ("why does that matter?").
_SUBJECT_OPENERS = frozenset(["a", "an", "the", "my", "your", "his", "her", "our", "their"])
_SUBJECT_PRONOUNS = frozenset(["i", "you", "he", "she", "it", "we", "they"])
_LEAD_INS = frozenset(["so", "and", "but", "well", "okay", "ok", "oh", "now", "then", "hey"])
# Words a turn opens with before a comma ("Sure, | send it to the team.", "Hi, | can you …"):
# said alone they are a whole reply as often, but the comma's gap (0.13–0.32 s in Piper's
# speech) reads as the end of a finished one-word sentence, and the turn ended there. Alone,
# they wait out an in-sentence pause — which costs a real one-word reply nothing live, where
# the answer is already being prepared and comes later than that (docs/turn-detection.md).
_OPENERS = _LEAD_INS | frozenset(
    [
        "hi",
        "hello",
        "sure",
        "right",
        "alright",
        "yes",
        "yeah",
        "thanks",
        "please",
        "actually",
        "honestly",
        "first",
        "anyway",
        "also",
        "look",
        "listen",
        "sorry",
    ]
)
_CLAUSE_BREAK = re.compile(r"[.!?,;:]+\s+")
# Verbs of giving and telling take two objects; asked for with "me"/"us" alone, the thing
# is still to come ("can you tell me | when the bank opens?"). Not "call", "text", "email",
# "find", "help": they are whole with one object ("can you call me?").
_GIVING = frozenset(["tell", "show", "give", "send", "bring", "hand", "lend"])
# Verbs that need their object; asked "where", "how", "when" or "why" (not "what" or
# "which", which can be the object), a question that stops on one is not over ("where can I
# buy | fresh bread?"). Not verbs that often stand alone ("open", "reset", "pay", "start",
# "tell" as in "how can I tell?").
_TRANSITIVE = frozenset(
    [
        "buy",
        "put",
        "make",
        "bring",
        "use",
        "need",
        "want",
        "send",
        "give",
        "take",
        "show",
        "mention",
        "add",
        "remove",
        "delete",
        "find",
        "place",
        "borrow",
        "rent",
    ]
)
_WH_ADVERBS = frozenset(["where", "how", "when", "why"])
# Verbs that cannot end a clause whose subject is a relative pronoun ("find the paragraph
# that mentions | the deadline", "the person who sent | it"); after an object relative the
# object is already there ("the file that I need.", "what that means.").
_RELATIVE_NEEDS_OBJECT = frozenset(
    [
        "mentions",
        "mentioned",
        "contains",
        "contained",
        "includes",
        "included",
        "says",
        "said",
        "describes",
        "described",
        "references",
        "referenced",
        "explains",
        "explained",
        "discusses",
        "discussed",
        "requires",
        "required",
        "needs",
        "uses",
        "has",
        "had",
        "sent",
        "wrote",
        "lists",
    ]
)
_RELATIVE_PRONOUNS = frozenset(["that", "which", "who"])
# "In" and "on" as the particle of a phrasal verb, not a preposition waiting for its object:
# verbs that take it alone ("log in", "zoom in", "hold on", "what's going on?") and verbs
# that take it after an object pronoun ("check me in", "turn it on", "fill it in").
_PARTICLE_ALONE = {
    "in": frozenset(
        [
            "log",
            "logged",
            "logging",
            "sign",
            "signed",
            "signing",
            "zoom",
            "zoomed",
            "zooming",
            "check",
            "checked",
            "checking",
            "come",
            "comes",
            "coming",
            "came",
            "tune",
            "tuned",
            "join",
            "joined",
            "opt",
            "opted",
            "give",
            "gave",
        ]
    ),
    "on": frozenset(
        [
            "go",
            "goes",
            "going",
            "went",
            "come",
            "comes",
            "coming",
            "came",
            "hold",
            "holding",
            "hang",
            "hanging",
            "carry",
            "carrying",
            "move",
            "moving",
            "log",
            "logged",
            "sign",
            "signed",
        ]
    ),
}
_PARTICLE_AFTER_OBJECT = {
    "in": frozenset(["check", "count", "sign", "log", "fill", "plug", "let", "hand", "turn"]),
    "on": frozenset(["turn", "switch", "put", "try", "keep", "leave"]),
}
_SWITCHING = frozenset(["turn", "switch", "turned", "switched"])
# Words that open a clause whose verb can end the sentence ("what you have", "as it is").
_EMBEDDING = frozenset(["what", "where", "who", "how", "when", "as", "whatever", "wherever"])
_NAME_WORD = re.compile(r"[A-Za-z']+")
_NAMES_LIKE_MODALS = frozenset(["May", "Will"])
_OBJECT_PRONOUNS = frozenset(["me", "it", "them", "us", "him", "her", "you"])
# "All of them", "both of it": a quantifier's "of" has its object, not an invented one.
_QUANTIFIERS = frozenset(
    [
        "all",
        "both",
        "none",
        "some",
        "any",
        "each",
        "either",
        "neither",
        "one",
        "two",
        "three",
        "most",
        "many",
        "few",
        "several",
        "half",
        "rest",
        "lot",
    ]
)
# Who did the naming verb: "who called?", "someone called." — a past-tense verb, not
# "a file called". Not the personal pronouns: the tiny Whisper weighs "… when are you
# called" for a phrase cut off after "you could", which must still count as dangling.
_CALLERS = frozenset(
    ["who", "someone", "somebody", "anyone", "anybody", "nobody", "everyone", "everybody"]
)
# The objects a small transcriber writes after a preposition the person left dangling.
_INVENTED_OBJECTS = frozenset(["it", "them"])
# Words a relative pronoun cannot refer to: "what that means", "so that has", "it that".
_NOT_ANTECEDENTS = (
    _FUNCTION_WORDS
    | _WH
    | _LEAD_INS
    | frozenset(["that", "it", "you", "me", "us", "them", "him", "there"])
)
# "Which of these | files is newer?": the determiner after "which of" opens the noun phrase
# that the question is about; the verb comes after it.
_CHOICE_DETERMINERS = frozenset(["the", "these", "those", "my", "your", "our", "their"])


@dataclass(frozen=True)
class Cue:
    verdict: Literal["incomplete", "hesitant", "complete", "unknown"]
    reason: str
    # The words say the person is done firmly enough to end the turn after a short silence
    # whatever the audio model says (the detector's policy): a complete question (the words
    # and the intonation both say so, stronger evidence than a full stop), or a sentence the
    # transcriber ended without weighing going on or trailing off (``reading_cue``).
    firm: bool = False
    # Hesitant only because the doubtful endings the transcriber weighed add up
    # (``FIRM_ODDS``), none past a threshold of its own: the words are a whole sentence, so
    # after a long enough silence they may end the turn without Smart Turn (the detector's
    # ``whole_sentence_wait_s``), like a complete text.
    held_by_odds: bool = False

    @property
    def whole_sentence(self) -> bool:
        """The words are a whole sentence: complete, or held only by the summed odds."""
        return self.verdict == "complete" or self.held_by_odds


def transcript_cue(text: str) -> Cue:
    stripped = text.strip()
    words = _words(stripped)
    if not words:
        return Cue("unknown", "no words")
    tail = _CLAUSE_BREAK.split(stripped)[-1]  # the last clause, as written
    clause = _clause_words(tail)
    if _ends_on_a_name(tail):  # "Text May.", "Move it to May.": not the modal
        words[-1] = clause[-1] = "<name>"
    last = words[-1]
    question = stripped.endswith("?")
    if len(words) == 1 and last in _OPENERS and last not in STRONG:  # "and" stays incomplete
        return Cue("hesitant", f"only '{last}' so far")
    if _short_answer(clause, words):
        return Cue("complete", "a short answer")
    # "What" can be the name a naming verb wants ("what is it called?"); a question that
    # stops on one otherwise still wants it ("can you open the file called?").
    named = question and last in NAMING_VERBS and _asks_what(clause)
    named = named or (last in NAMING_VERBS and len(words) >= 2 and words[-2] in _CALLERS)
    dangles = last in STRONG and not named
    if dangles or _ends_on_filler(words) or (last in PREPOSITIONS and not question):
        return Cue("incomplete", f"ends on '{last}'")
    if len(words) >= 2 and f"{words[-2]} {last}" in STRONG_BIGRAMS:
        return Cue("incomplete", f"ends on '{words[-2]} {last}'")
    if last in DETERMINERS_OR_PRONOUNS:
        return Cue("hesitant", f"ends on '{last}'")
    quantified = len(words) >= 3 and words[-2] == "of" and words[-3] in _QUANTIFIERS
    if (
        len(words) >= 2
        and last in _INVENTED_OBJECTS
        and words[-2] in PREPOSITIONS
        and not quantified
    ):
        # "… for it." / "… with them?": real endings, but also what small transcribers
        # invent for a phrase cut off after the preposition, with a question mark when the
        # words began as a question ("Could you set a timer for | …" → "… for it?") —
        # wait out an in-sentence pause.
        return Cue("hesitant", f"ends on '{words[-2]} {last}'")
    if last == "too" and not question:
        # Small transcribers write a "to" cut off at the end as "too" ("… forward this to"
        # → "Forward this message too."); a real "… too." only waits out a pause.
        return Cue("hesitant", "ends on 'too'")
    particle = _ends_on_particle(words)
    if last in WEAK and not question and not particle and not _embedded_clause_ends(words):
        return Cue("hesitant", f"ends on '{last}'")
    if _TRAILING_ELLIPSIS.search(stripped):
        # A verbatim transcriber writes "…" for speech that stops mid-phrase, but sometimes
        # for a finished sentence said slowly too: wait out a pause rather than the maximum.
        return Cue("hesitant", "trails off")
    if last in _STRANDABLE and not particle:
        # A stranded preposition can end a question ("what is it for?"), but a small
        # transcriber puts a question mark after any cut-off wh-sentence ("what time does
        # the sun set in?"), so it is doubtful rather than complete.
        return Cue("hesitant", f"question ends on '{last}'")
    if _verb_still_missing(clause):
        return Cue("hesitant", "a question with no main verb yet")
    if _predicate_still_missing(clause):
        return Cue("hesitant", "a 'be' question with no predicate yet")
    if _object_still_missing(clause):
        return Cue("hesitant", "a question with no object yet")
    if _relative_clause_open(clause):
        return Cue("hesitant", "a relative clause with no object yet")
    if _choice_without_verb(clause):
        return Cue("hesitant", "a 'which of' question with no verb yet")
    if question:
        return Cue("complete", "a complete question", firm=True)
    if stripped[-1] in ".!":
        return Cue("complete", "sentence-final punctuation")
    return Cue("unknown", "no cue")


def stops_on_function_word(text: str) -> bool:
    """The text's last word is on one of the lists above (an article, preposition,
    conjunction, auxiliary, filler …): ``bench turn`` scores fragments by this."""
    words = _words(text)
    return bool(words) and words[-1] in _FUNCTION_WORDS


def _ends_on_a_name(clause: str) -> bool:
    """The last word of ``clause`` (as written) is "May" or "Will" after another word: a
    name or the month, which transcribers capitalise, not the modal. Only those two: the
    tiny Whisper's alternative last words are often capitalised pieces ("… from In", "… a
    summary If") that do dangle."""
    raw = _NAME_WORD.findall(clause)
    return len(raw) >= 2 and raw[-1] in _NAMES_LIKE_MODALS


def _ends_on_particle(words: list[str]) -> bool:
    """The last word is the particle of a phrasal verb ("sign in", "check me in", "turn the
    lights on")."""
    if len(words) < 2 or words[-1] not in _PARTICLE_ALONE:
        return False
    if words[-2] in _PARTICLE_ALONE[words[-1]]:
        return True
    after_object = len(words) >= 3 and words[-3] in _PARTICLE_AFTER_OBJECT[words[-1]]
    if after_object and words[-2] in _OBJECT_PRONOUNS:
        return True
    # "turn | switch" + a short object + "on"; not "put the book on | the shelf"
    for k in (3, 4, 5):
        if len(words) >= k and words[-k] in _SWITCHING and words[-1] == "on":
            return not any(w in _FUNCTION_WORDS - _SUBJECT_OPENERS for w in words[1 - k : -1])
    return False


def _embedded_clause_ends(words: list[str]) -> bool:
    """It ends on the verb of an embedded clause ("show me what you have", "tell me where it
    is", "keep it as it is", "leave it as is"), not on an auxiliary still to go on."""
    if words[-2:] == ["as", "is"]:
        return True
    return (
        len(words) >= 3
        and words[-1] in _ANSWER_AUXILIARIES
        and words[-2] in _SUBJECT_PRONOUNS
        and words[-3] in _EMBEDDING
    )


def _ends_on_filler(words: list[str]) -> bool:
    """The last word is a filler; "mm-hmm" (yes) is an answer, not a hesitation."""
    if not _FILLER.fullmatch(words[-1]):
        return False
    return not (len(words) >= 2 and words[-2] == "mm" and words[-1].startswith("h"))


def _short_answer(last_clause: list[str], words: list[str]) -> bool:
    """An answer to a yes/no question ("Yes, I do.", "No, it wasn't.", "I think so.", "Yes,
    please do.", "Yes, let's."), which ends on a word that dangles anywhere else. Not a
    bare "No.": Piper leaves 0.1-0.3 s after the comma of "No, it isn't.", and a "no" that
    may go on waits out that pause."""
    clause = last_clause
    while clause and clause[0] in _ANSWER_WORDS:
        clause = clause[1:]
    if not clause:
        return False
    answered = any(word in _ANSWER_WORDS for word in words[:2])  # "Yes, …", "Oh yes, …"
    if len(clause) == 3 and clause[0] in _SUBJECT_PRONOUNS and clause[1] in _THINKING:
        return clause[2] == "so"  # "I think so", "I hope so"
    if clause == ["please", "do"]:
        return True
    if clause == ["let's"]:
        return answered
    return (
        answered
        and len(clause) == 2
        and clause[0] in _SUBJECT_PRONOUNS
        and clause[1] in _ANSWER_AUXILIARIES
    )


def _asks_what(words: list[str]) -> bool:
    """The clause is a "what" (or "how") question, whose wh-word can be a verb's object."""
    return bool(words) and words[0] in ("what", "what's", "how", "how's")


def _clause_words(clause: str) -> list[str]:
    """The words of a clause, without a lead-in ("okay, so why does …")."""
    words = _words(clause)
    while words and words[0] in _LEAD_INS:
        words = words[1:]
    return words


def _verb_still_missing(words: list[str]) -> bool:
    """The last clause's words are a "do"/modal question that stops before its main verb.

    A rule of English grammar rather than a word list (it was prompted by misses on the
    holdout set, docs/turn-detection.md): the subject after the fronted auxiliary must be
    followed by a verb. Only shapes with no other reading are taken:
    "… does the kettle", "… do I", "how many pages does"; not "who can help" (the wh-word
    is the subject, "help" the verb), "who does the dishes" or "do the dishes" ("do" is
    the main verb), nor a longer subject that may already hold the verb ("… the store
    open"). A doubt costs a finished question one in-sentence pause where Smart Turn hears
    an end; the maximum wait only where it doubts too.
    """
    k = next((i for i, w in enumerate(words) if w in _AUXILIARIES), None)
    if k is None:
        return False
    head, aux, rest = words[:k], words[k], words[k + 1 :]
    opens_subject = len(rest) == 2 and rest[0] in _SUBJECT_OPENERS
    if not head:  # "Does the printer …", "Can my phone …"; "Do the dishes" is an order
        return opens_subject and aux not in ("do", "don't")
    if head[0] not in _WH or len(head) > 4 or _SUBJECT_PRONOUNS.intersection(head):
        return False  # not a question's fronted wh-phrase ("when I do", "that's what it does")
    if not rest:
        return len(words) >= 3  # "how many pages does"; "who does?" is a whole answer
    if len(rest) == 1:
        return rest[0] in _SUBJECT_PRONOUNS  # "how do I"; "who can help" has its verb
    # "who does the dishes?": "does" is the main verb; "what does the word" has none yet
    return opens_subject and not (head == ["who"] and aux in _DO)


def _predicate_still_missing(words: list[str]) -> bool:
    """The last clause's words are a "be" question that stops right after its subject.

    Fronted "is"/"are" needs a predicate after the subject ("Is the printer | on?", "Why
    is my laptop | so slow?") unless the wh-word is the predicate: "where/what/who/how is
    the station" are whole questions, "why" never stands for one. Only a subject of a
    determiner and one word is taken ("Is the museum open?" may already hold its
    predicate), and not a pronoun ("Is it?", "Why is that?" are whole). A doubt costs a
    finished question one in-sentence pause where Smart Turn hears an end.
    """
    if words[:1] == ["why"]:
        words = words[1:]
    return len(words) == 3 and words[0] in _BE and words[1] in _SUBJECT_OPENERS


def _object_still_missing(clause: list[str]) -> bool:
    """The last clause's words are a question that stops where its verb's object should come.

    Two shapes: a polite request to tell or give "me"/"us" ("can you tell me", "could you
    please send us"; not the bare order "Tell me." or "Show me.", often whole as an answer
    to the assistant's own offer), and "where/how/when/why" + auxiliary + pronoun + a verb
    that needs its object ("where can I buy", "how do I use").
    """
    words = list(clause)
    if "please" in words:
        words.remove("please")
    if len(words) == 4 and words[0] in _AUXILIARIES and words[1] == "you":
        return words[2] in _GIVING and words[3] in ("me", "us")
    return (
        len(words) == 4
        and words[0] in _WH_ADVERBS
        and words[1] in _AUXILIARIES
        and words[2] in _SUBJECT_PRONOUNS
        and words[3] in _TRANSITIVE
    )


def _relative_clause_open(clause: list[str]) -> bool:
    """The clause stops on a verb that needs its object, right after a relative pronoun that
    is its subject: "find the paragraph that mentions", "the colleague who sent".

    The word before the pronoun must be able to be what it refers to (a content word), so
    "what that means" and "so that has" are left alone. Prompted by a holdout miss; the
    rule is grammar, not the fixture's words (docs/turn-detection.md).
    """
    if len(clause) < 3 or clause[-1] not in _RELATIVE_NEEDS_OBJECT:
        return False
    return clause[-2] in _RELATIVE_PRONOUNS and clause[-3] not in _NOT_ANTECEDENTS


def _choice_without_verb(clause: list[str]) -> bool:
    """The clause is "which (one) of" + determiner + a noun and nothing more: the question
    about those things has not been asked yet ("which of these files | is the newest?").
    Also a holdout miss; the cost of a wrong doubt is one in-sentence pause."""
    words = [w for w in clause if w != "one"]
    return len(words) == 4 and words[:2] == ["which", "of"] and words[2] in _CHOICE_DETERMINERS


# How much a cue doubts that the person is done, for choosing between readings.
_DOUBT = {"complete": 0, "unknown": 1, "hesitant": 2, "incomplete": 3}
# A last word the transcriber weighed at ≥ 0.3 of the odds of the one it wrote. Chosen on
# the tune split of tests/fixtures/make_extra_fixtures.py, where 0.25–0.5 scored alike and
# 0.2 began to hold finished sentences (see docs/turn-detection.md).
ALTERNATIVE_ODDS = 0.3
# Words the transcriber weighed going on with, together at ≥ 0.1 of the odds of ending the
# text where it did. Where the speech is over it hardly weighs going on at all: over the 184
# finished sentences of the holdout, extra, fresh and filler sets one misread espeak-ng
# sentence came to 0.2, the rest to 0.05 at most; cut-off phrases whose dangling word it
# dropped gave that word alone 0.13–0.97 (docs/turn-detection.md).
CONTINUATION_ODDS = 0.1
# Trailing marks ("…", "-", ",") the transcriber weighed together at ≥ 0.4 of the odds of
# the way it ended the text. Over the 184 finished sentences of the holdout, extra, fresh and
# filler sets only one misread espeak-ng sentence came that near (0.45; 0.3 would have held
# three more), while 15 fragments the other cues let through did (docs/turn-detection.md).
TRAILING_ODDS = 0.4
# A sentence-final text is firm (``Cue.firm``) when the transcriber weighed every doubtful
# ending — a dangling last word instead of its own, another word after it, a trailing mark —
# together under 0.1 of the odds of the way it wrote. 138 of the 144 finished Piper sentences
# of the holdout, fresh and later sets are, and Smart Turn scores a few of them near 0 for
# seconds ("I was wondering if you could help me." 0.01–0.1), as it does some finished
# questions; 28 of the 88 fragments that read as a whole sentence are too (docs/turn-detection.md).
# A weighed sentence that is not firm waits out an in-sentence pause (``reading_cue``; a
# long one with a mild doubt no longer does: ``MILD_ODDS``): that held 5–16 more of each
# Piper set's 96 fragments and pauses, for 0–4 of its 48 finished sentences waiting 0.9 s
# (docs/turn-detection.md, "A sentence read with a doubt waits out a pause").
FIRM_ODDS = 0.1
# The words alone end after them at under 0.1 of the odds of going on with another word
# (the local transcriber's decoder reading them over silence: ``Reading.words_end_odds``):
# a phrase that is grammatical but plainly not all of it ("How much would a new battery",
# "When does the post office", "Read the second"). On the first readings of the holdout,
# fresh and later sets no finished Piper sentence came under it (the lowest, "How many
# pages does the report have?", 0.14; at 0.15 the holdout benchmark lost a finished
# sentence), and 24 of the 84 fragments there that stop on a content word did
# (docs/turn-detection.md).
WORDS_END_ODDS = 0.1
# A turn of six words or more whose doubtful endings come to under 0.2 is left to Smart Turn
# (a "complete" that is not firm) instead of waiting out a pause. The tiny model weighs a
# trailing mark at 0.1-0.2 after many a finished sentence ("Tell me a joke about penguins."
# 0.14) as after many a fragment that reads as a sentence, but those fragments were mostly
# short ("Order more coffee.", "Pause the music."): a phrase cut off after a few words is
# more often a whole clause. With `voicedesk bench turn` on seven fixture sets, 12 more of
# their 300 finished Piper and flite sentences ended within 0.4 s, and 4 more of their 600
# fragments and pauses ended early (docs/turn-detection.md, "… a long sentence with a mild
# doubt …").
MILD_ODDS = 0.2
LONG_TURN_WORDS = 6


@dataclass(frozen=True)
class Reading:
    """A transcript of the turn so far, and the readings with another last word or one more.

    ``alternatives``: ``(text with another last word, odds against the written one)``;
    ``heard``: the text without the words the transcriber wrote for the silence after the
    speech (None: not known);
    ``continuations``: ``(text with one more word, odds against ending where it did)``;
    ``trailing``: the odds of a trailing mark ("…", "-", ",") against the way it ended;
    ``weighed``: the transcriber reported those odds (the local cue reading; a cloud
    transcript is text only, and no odds is not the same as odds of 0);
    ``words_end_odds``: the odds of an end against another word after the words alone, as
    a language model of the transcriber's reads them (None: not known).
    """

    text: str
    alternatives: tuple[tuple[str, float], ...] = ()
    heard: str | None = None
    continuations: tuple[tuple[str, float], ...] = ()
    trailing: float = 0.0
    weighed: bool = False
    words_end_odds: float | None = None


def _doubts(cue: Cue) -> bool:
    """The cue says the person may not be done (hesitant or incomplete)."""
    return _DOUBT[cue.verdict] >= _DOUBT["hesitant"]


def reading_cue(reading: Reading) -> Cue:
    """``transcript_cue``, doubtful too when the transcriber nearly wrote a dangling word,
    nearly went on with one, nearly wrote that the speech trailed off, wrote words for the
    silence after a dangling word, or reads the words alone as going on.

    Small transcribers misread the last word of a phrase cut off at a function word as a
    content word ("… called" → "… call.", "… about" → "… above."), or drop it and write a
    full stop ("… my dentist appointment [to]."), but they usually gave the dangling word
    real weight; they write a question mark where they nearly wrote "…" ("Can I ask you?",
    said alone, with "…" and "-" at 0.6–0.9 of its odds); and they finish such a phrase
    with words nobody said ("… to" → "… to me?"), which their alignment places after the
    speech. And a phrase can be grammatical yet plainly not all of it ("When does the post
    office"), which a language model reading the words alone can tell. Either way the turn
    waits out an in-sentence pause — not the maximum wait, in case the doubt is wrong.

    A sentence-final text whose transcriber weighed all those doubtful endings together at
    almost nothing is firm (``FIRM_ODDS``); one it weighed them for at more, though each
    stayed under its own threshold, waits out an in-sentence pause too, whatever Smart Turn
    says. Smart Turn scores a fragment said with a falling end (synthetic speech, a person
    trailing off) ~0.95, so it cannot vouch for one, while finished sentences read firm
    nearly always. Except a long turn with a mild doubt (``MILD_ODDS``, ``LONG_TURN_WORDS``):
    that is left to Smart Turn, as a complete text that is not firm. A cloud transcript
    carries no odds (``Reading.weighed``): with it alone the text's own cue stands.
    """
    cue = transcript_cue(reading.text)
    if _doubts(cue):
        return cue
    written = reading.text.strip()
    heard = (reading.heard or "").strip()
    if heard and heard != written and _doubts(transcript_cue(heard)):
        unsaid = written[len(heard) :].strip() if written.startswith(heard) else written
        return Cue("hesitant", f"'{unsaid}' was written for the silence")
    dangling = [
        (text, odds) for text, odds in reading.alternatives if _doubts(transcript_cue(text))
    ]
    for text, odds in dangling:
        if odds >= ALTERNATIVE_ODDS:
            return Cue("hesitant", f"may have been '{text.split()[-1]}' ({odds:.2f})")
    going_on = sum(odds for _, odds in reading.continuations)
    if going_on >= CONTINUATION_ODDS:
        likeliest = max(reading.continuations, key=lambda c: c[1])[0].split()[-1]
        return Cue("hesitant", f"may have gone on, likeliest with '{likeliest}' ({going_on:.2f})")
    if reading.trailing >= TRAILING_ODDS:
        return Cue("hesitant", f"may have trailed off ({reading.trailing:.2f})")
    if reading.words_end_odds is not None and reading.words_end_odds < WORDS_END_ODDS:
        return Cue("hesitant", f"the words alone go on ({reading.words_end_odds:.2f})")
    if cue.verdict != "complete" or not reading.weighed:
        return cue
    doubtful_endings = sum(odds for _, odds in dangling) + going_on + reading.trailing
    if doubtful_endings < FIRM_ODDS:
        return Cue(cue.verdict, "a sentence the transcriber ended without a doubt", firm=True)
    if doubtful_endings < MILD_ODDS and len(_words(written)) >= LONG_TURN_WORDS:
        return Cue(
            cue.verdict, f"a long sentence weighed with a mild doubt ({doubtful_endings:.2f})"
        )
    return Cue(
        "hesitant", f"other endings weighed together ({doubtful_endings:.2f})", held_by_odds=True
    )


def combined_cue(reading: Reading | None, streamed: str | None) -> Cue | None:
    """The cue of a local reading of the pause and of the streaming transcriber's text
    together: the more doubtful of the two, and on a tie the reading's (only it knows what
    the transcriber weighed, so only it can be firm). None: no words yet.

    Two transcribers that disagree about whether the person is done are evidence of a
    cut-off: a cloud model that hears "… leaves at" right makes the turn wait where the
    small local one wrote "… leaves it."; the local one's odds catch a phrase that the
    cloud text shows as a whole sentence.
    """
    cues = []
    if reading is not None and reading.text:
        cues.append(reading_cue(reading))
    if streamed:
        cues.append(transcript_cue(streamed))
    if not cues:
        return None
    # on a tie of two hesitant cues, the one the words hold ("… to?") over the one only
    # summed odds hold: the words' doubt does not give way to a long silence
    return max(cues, key=lambda cue: (_DOUBT[cue.verdict], not cue.held_by_odds))
