"""What the voice says of an answer, where it must differ from what is shown and remembered.

After :mod:`voicedesk.engine.speakable` an answer's text is what the person reads and what
the model reads back, and it must stay as written: a link's address, a file's path with its
underscores ("notes/q3_budget.md") are what the model's next tool call names. Read aloud as
written, they are noise: a voice reads a Markdown link's address, a bare URL letter by
letter, "tilde tilde" for a strikethrough, "pipe" for a table's columns, and "slash" and
"underscore" in a path. So the voice gets a spoken form:

- a link ``[the report](https://example.com/q3.pdf)`` is its label ("the report"), or its
  host when the label is empty or itself an address;
- a bare URL (``https://…``, ``www.…``, ``<https://…>``) is its host name without "www."
  ("example.com"), with its port if it has one ("localhost port 80 80"), or "a link" when it has none
  (in code, a block's line or an inline span, with its path too, what the person types there:
  "curl localhost:11434/api/tags" is "curl localhost port 1 1 4 3 4 slash api slash tags",
  and so in prose right after a command that fetches it: "run curl localhost:11434/api/tags";
  a query after a host and its port, "?q=x&n=2", not at all, as with a scheme);
  its sentence's full stop stays outside it,
  and so does what goes on after it with no blank: a dash, or Japanese, Chinese, Thai or
  Korean text (which also ends before an address or a path glued to it);
- struck text ``~~old~~`` is not said at all (it was struck out: "the meeting is ~~Monday~~
  Tuesday" is said "the meeting is Tuesday");
- a table row ``| a | b |`` is its cells with pauses between them ("a, b."), a separator
  line ``|---|---|`` nothing;
- a list item ``- eggs`` (or ``+``, ``•``, or ``1.``) ends as a sentence ("eggs."), its dash or plus
  not said: Piper read "- eggs\\n- milk" as "eggs-milk", and the items ran together; so does
  a ``* eggs`` item, whose star the Markdown pass took (``SpeakableText.item_lines``), and
  a heading ("## Summary", its marks taken the same way);
- a tilde before a number ("~5 pm", "~$20") "about": Piper said "tilde"; an amount with
  its currency's sign ("$20", "$3.50", "$1.2M") with the currency after it ("20 dollars",
  "3 dollars 50", "1.2 million dollars"; with European separators, "€1.299,00", "1,299
  euros", "€5,5" "5 euros 50", "€5,5 million" or "€5,5 Mio." "5.5 million euros", "€0,50"
  "50 cents"; with its currency's code, "CHF 4.50",
  "4 Swiss francs 50", "EUR 18" (heard "year 18") "18 euros", "USD 0.99" "0.99 US dollars",
  but not "2 CAD files", whose number counts the files, and after a year one word with
  what it describes, "In 2024 EUR inflation" "euro inflation" (with no noun after it a
  year's money, "in 2024 USD." "2024 US dollars"); before a price's unit
  "per", "5 USD/month" "5 US dollars per month" ("10 EUR/h" "10 euros per hour"); with the euro's sign after it,
  "5,50 €" "5 euros 50", a fuel's price "1,799 €/L" (or "€1,799/L") "1.799 euros per liter", German's
  millions "5,5 Mio. €" "5.5 million euros" (and "5,5 Mio." with no sign "5.5 million"); a minus before
  it, "-$20",
  "minus 20 dollars"): Piper said "dollar twenty", heard "550 euros"; a number's sign
  ("issue #42") "number": Piper said "hash"; an en dash
  between numbers ("5–10 minutes", "$10–$20") "to": Piper said "five ten", and so a
  hyphen ("5-10", "$20-$30", not "555-1234" or "2024-05-01"): "five dash ten"; an arrow
  ("Settings → Privacy", "Settings -> Privacy") a pause: Piper said "right arrow", and
  nothing at all for "->";
- a task list's box (``- [x] Call Ann``) nothing, an HTML line break (``a<br>b``, in a
  table's cell) or a block's tag (``<p>``, ``<li>``) a pause (none at the answer's end), any other known HTML tag
  (``<b>bold</b>``, ``<span class="x">``) nothing, or a blank between two letters
  ("a<b>c</b>" was "ac"): Piper said "ex Call Ann", "a bar b"
  and "b bold slash b"; a character reference (``&amp;``, ``&nbsp;``) its character:
  Piper said "and amp";
- a path (``src/_private.py``, ``./run.sh``, ``C:\\work\\a.txt``) is its last part, and an
  underscore inside a word (``q3_budget.md``, ``my_var``) a space: "q3 budget.md";
- two names with a slash between them (``React/Node.js``) alternatives: "React or Node.js";
  an address without a scheme (``github.com/org/repo``) its host; "w/" and "w/o" "with"
  and "without"; the "@" of an email address "at"; a sharp "sharp" ("C#" is "C sharp");
  a channel or a hashtag ("#general") its name: Piper said "hash general";
- a slash between numbers a fraction's words ("1/2" "one half", "3/4" "three quarters",
  "1/6" "one sixth", "4/3" "four thirds", and before "of" or a measure "1/5 of it" "one
  fifth of it", "5/16 inch" "five sixteenths inch"),
  a score ("4/5" "4 out of 5") or two numbers ("50/50" "50 50", "24/7" "24 7"), a place in
  a series ("Step 1/3") "1 of 3", a date ("12/25/2026") by its month's name where its
  order is plain or an earlier date showed it, else by its numbers ("3 4 2026"), and so a
  day and a month after a weekday ("Fri 12/25" "Friday December 25", "Fri 12/11" "Friday
  12 11"), "and/or"
  "and or", and after an amount
  "per" ("$5/month" "5 dollars per month", "$20/user/mo" "… per user per month"; "3/month"
  "3 per month"), and so
  after a number in a rate ("60 km/h" "60 kilometers per hour", "100 req/s"): Piper said
  "slash" in each; a multiplier before
  a word ("3x faster", "×2") "times": Piper said "three ex faster", not in algebra ("3x + 2");
- a phone number with hyphens ("555-123-4567", "1-800-555-0199"), its area code in
  brackets ("(800) 555-0199") or an international one with blanks ("+44 20 7946 0958")
  digit by digit, its groups with pauses, a ZIP+4 code
  ("94105-1234") too, and
  an ISO date ("2026-12-06", "2026-12-06T14:30Z") by its month's name ("December 6, 2026,
  14:30 UTC"): Piper said "five hundred fifty five dash …", "twelve dash zero six".
- a product's star ("x*y") and a power ("2^10") "times" and "to the power of", a ratio ("16:9", not a verse: "Genesis 1:1") "to", a count's scale letter ("1.2M",
  "3B") its word, a version ("v1.2.3"; not a variable: "v2 = 3") "version 1.2.3", "i.e.", "vs.", "pp." and "approx."
  in full, "max.", "dep.", "arr.", "incl.", "excl." and "est." too (without their dot, but
  where their sentence ends), a tracking number or a long code in groups of four ("1 Z 9
  9, 9 A A 1, …"), a complexity ("O(n log n)", "O(1)"; not "Oxygen O(2)") "big O of n log n", "YoY", "QoQ" and "MoM" too (but "MoM" only after a change, "5% MoM", "5% (MoM)", or alone in a table's heading: "Send the
  MoM" is a meeting's minutes), "npm" letter by letter, a footnote's reference ("[^1]") nothing and its text ("[^1]: …") "Footnote 1",
  a dash after a time's "am" or "pm" ("8am–5pm") or between short days ("Mon–Fri") "to",
  the days in full, a month or a day written short in a date ("Tue, Dec 8") in full
  (heard "2. decade"; not "the Sun"), a time zone after a time ("10am EST") letter by letter (heard "10
  AME"), America's Pacific, Central and Mountain ones by their names ("9:30 am PST" "9:30 am
  Pacific Standard Time": heard "930 ampsd"), a time on the hour ("9:00") "9 o'clock" (but after a word that says how
  long, "Bake for 1:00", "took 5:00", minutes, "Simmer for 1:30" "1 minute 30 seconds": it
  was "1 o'clock", heard "130"; what a sentence says lasts hours, "The flight lasts 1:45",
  hours and minutes), an emergency number called ("Call 911", and one listed
  after it, "or 999") digit by digit, a number in scientific notation ("1e-6") "1 times 10
  to the power of minus 6" (heard "one E6"), a superscript square or cube ("x²") "squared"
  or "cubed" (heard "X2"; a length's unit so after a number an area or a volume, "16.7 m²"
  "16.7 square meters", and "180 sq ft" "180 square feet"), a mixed number ("1 1/2 cups") "1 and one half", a port as
  people say one ("port 8080", "localhost:8080" "80 80", "example.com:443" "example.com
  port 443", and so with a path or a scheme, "http://localhost:8080/docs" "localhost port 80
  80": heard "8000 daily", "colon 880", and the port was dropped with a path; not a file and its line, "main.py:42", nor a
  function named like a unit, "min(a, b)"),
  "1/36 of it" "one thirty-sixth of it" and a chance "1/36" "1 in 36", a long count
  ("1733574000 seconds") as a number, "EOL" "end-of-life", "v1.2.x" "version 1.2 dot x",
  a file pattern's "*.py" "star.py", in a formula ">" "greater than", "<" "less than"
  and " - " "minus", a dose "0.5 mg/kg" "0.5 milligrams per kilogram", a blood pressure
  "120/80 mmHg" "120 over 80 millimeters of mercury", "Cmd+K" "Command+K",
  "Pkwy", "Blvd" and "Hwy" in full and a ZIP code after its state ("CA 94043") digit by
  digit (heard "P-Qui", "94,043"), a unit after a number ("5 kHz", "60fps", "2.5GB") in
  full (a recipe's "tsp" and "tbsp", after a fraction too, "¼ tsp" "a quarter
  teaspoon", its "fl oz" "fluid ounces", and a wind's "mph" too: heard "1 T", "Wednesday and
  MPH", and a weight's or a length's, "3.5 kg", "8 oz": "K G", "ahz"; one before a noun it
  describes, "10 MB blocks" "10 megabyte blocks", "a 12 V battery" "a 12 volt battery"), a Roman numeral ("World War II", "Henry
  VIII") a number or a ruler's ordinal,
  a negative number after an operator or a bracket ("x = -3") "minus", "°F" and "°C" in
  full, "1h 30m"
  "1 hour 30 minutes", "5'11\"" "5 foot 11": Whisper heard Piper's reading as "to 10", "16
  colon 9", "1.2M", "be 1.2.3", "IDI", "BS", "CPP", "Montfry", "9-0-0", "degrees F",
  "1H30M", "5-11";
- a shell's joins and redirections between blanks ("make 2>&1 | tee log.txt", "cd app &&
  make > /dev/null") as a command is read out, "2 to 1", "pipe" (only before a command
  that reads one: "| grep"), "and", "to", and "/dev/null" "dev null": Piper said "two and
  one", nothing for "|" and ">", "null"; a chemical formula ("CO2", "NaCl", "H2SO4") its
  letters one by one with their counts, "C O 2", "N A, C L" (``_FORMULA``: not "A100",
  "M2", "GPT-4o", "FP16"); a pace ("5:30/km") "5 30 per kilometer"; a package's version
  specifiers ("Python >=3.11,<4", "numpy~=1.26") "3.11 or later, below 4", "compatible
  with 1.26" (Piper lost the "<"); "µs", "ns", "GiB" and "MiB" after a number in full;
  "ext." "extension", "YTD" "year to date".

The answer arrives in deltas; what may still become one of these is held until it is known:
a word until the blank after it (a voice speaks only whole words anyway, so this costs no
time), a ``[`` until its link is whole or cannot be one, a ``~~`` to its closing ``~~`` or
its line's end (neither longer than 150 characters before its "]" or closing ``~~``: an
aside in brackets that never closes must not keep the voice silent), a line that starts with ``|`` until it is known to be a separator or not, a " - " until a "=" after it, its
sentence's end or the first word after its operand tells whether it is a formula's minus.

The voice's playback position (alignment characters, the share of audio played) is in the
spoken text; :meth:`SpokenText.shown_offset` carries a position in it over to the shown
text, so that an answer cut at a barge-in is remembered up to what was heard. A position
inside a replaced stretch (a link's label half said) counts as before it: a link is heard
whole or not at all.
"""

from __future__ import annotations

import datetime
import html
import math
import re
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

# a Markdown link or image, whole: [label](address "title"); its address may hold brackets
# in pairs, as CommonMark's may ("wiki/Python_(programming_language)"): the link ended at
# the first ")", and the voice said the rest ("Python)")
_LINK = re.compile(
    r"!?\[([^\]\n]*)\]\(\s*<?((?:[^()\s>]|\([^()\s>]*\))*)>?(?:\s+\"[^\"\n]*\")?\s*\)"
)
# what may still become one when more text comes: an address has no blank in it, only
# before its title (what cannot be one, "[b](see the notes …", held the voice to the line's end)
_LINK_START = re.compile(
    r"!?(?:\[[^\]\n]*(?:\](?:\(\s*<?(?:[^()\s>]|\([^()\s>]*\))*(?:\([^()\s>]*)?"
    r"(?:>?\s+(?:\"[^\"\n]*\"?\s*)?|>)?)?)?)?\Z"
)
# A bare URL runs to the next blank, as Markdown's autolinks do, but not over what cannot
# be in one as written: punctuation a sentence puts after it with no blank ("—", "…", "”",
# "。", "）") and text written without spaces (Japanese, Chinese) after its ASCII part
# ("https://example.com/aを参照してください。"), which was taken for its address, never
# said. Such letters right after "://" or one another are its host's ("https://例え.jp").
# (engine/speakable.py keeps the Markdown marks in what it matches: an address's "_".)
_NO_URL = r"\s<>\"`|\[\]\u2000-\u206f\u3000-\u303f\uff00-\uffef"
# Thai, Lao, Khmer and Myanmar are written without spaces between words too, and Korean
# puts its particles right after a word ("https://example.com/a를"): an address's path ran
# over them, and the words after it were never said ("ดูที่https://example.com/aนะครับ").
_WITHOUT_SPACES = (
    r"\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\uac00-\ud7a3"
    r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
)
URL = re.compile(
    rf"<?(?:https?://|www\.)"
    rf"(?:[^{_NO_URL}{_WITHOUT_SPACES}]|(?:(?<=://)|(?<=[^\x00-\x7f]))[{_WITHOUT_SPACES}])*>?",
    re.IGNORECASE,
)
# a version control system's scheme before an address, as pip writes it
_VCS_PREFIX = re.compile(r"(?:git|hg|svn|bzr)\+(?=https?://)", re.IGNORECASE)
_URL_PREFIXES = ("https://", "http://", "www.", "<https://", "<http://", "<www.")
# what ends a sentence or a clause after a URL, not part of it ("see example.com/a.")
_URL_TAIL = re.compile(r"[.,;:!?'\")]+>?\Z")
# a word as far as paths and identifiers go ("C#/.NET", "C++/CLI", "src/*.py" and
# "$HOME/.bashrc" are one)
_TOKEN = re.compile(r"[\w.~/\\:#+*$-]+")
_TOKEN_TAIL = re.compile(r"[.:~-]+\Z")  # "see notes/a.md." ends its sentence outside the path
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}\Z")
# two names as alternatives, not a folder and a file: "React/Node.js", "C#/.NET",
# "README.md/CHANGELOG.md" (each a capital's, or a dot and a capital's: "Documents/notes.txt"
# is a file in a folder), or two files' ("package.json/tsconfig.json")
_NAME = r"(?:[A-Z]|\.[A-Z])[\w.#+-]*"
_FILE = r"[\w-]+\.[A-Za-z][A-Za-z0-9]{0,7}"
_ALTERNATIVES = re.compile(rf"({_NAME})/({_NAME})|({_FILE})/({_FILE})")
# A tracking number, an order's or a booking's code: a long run of digits with no separator
# ("9400111899223197428490"), or of digits and capitals ("1Z999AA10123456784"). Piper said
# the first as one number, "nine sextillion four hundred …", the second as a word with
# numbers in it; a person reads it out in groups of four, character by character, so the
# listener can write it down. (A count or an amount has its separators: "1,234,567,890".)
_LONG_CODE = re.compile(r"\d{10,}|(?=[A-Z0-9]{10,}\Z)(?=(?:[A-Z]*\d){4})(?=\d*[A-Z])[A-Z0-9]+")
# ... of which these may end a sentence too ("Turn it to max. Then wait."): before a capital
# or at the answer's end their full stop is said as one
_MAY_END = frozenset(["max.", "est.", "incl.", "excl."])
_SENTENCE_AFTER = re.compile(r"[ \t]+[A-Z]|[ \t]*\n|[ \t]*\Z")
# ... but not before a number in words, capitalised as if a sentence began: "Take max. Two
# tablets" is one sentence, its dose ("maximum. Two tablets" was cut there, a pause and a
# new sentence's fall in the middle of the dose; "max. 2 tablets" was not)
_COUNT_AFTER = re.compile(
    r"[ \t]+(?:One|Two|Three|Four|Five|Six|Seven|Eight|Nine|Ten|Eleven|Twelve|Fifteen|Twenty"
    r"|Thirty|Forty|Fifty|Sixty|Hundred|Half)\b"
)
_CAPITAL_WORD_START = re.compile(r"[ \t]+[A-Z][A-Za-z]*")  # ("max. Tw" may be "max. Two")
# (a round number written without separators is a count: "10000000000 bytes")
_ROUND_NUMBER = re.compile(r"[1-9]\d{0,3}0{6,}")
# ... and so is a long number before what it counts or after "timestamp": "1733574000
# seconds", "Unix time 1733574000" were read in groups as a code ("1 7 3 3, 5 7 4 0, 0
# 0 seconds"); said as the number it is, with its separators ("1,733,574,000 seconds").
# By a list of nouns, not any plural: "order 1234567890 ships today" is a code still.
_COUNTED_AFTER = re.compile(
    r"[ \t]+(?:(?:milli|micro|nano)?seconds|ms|minutes|hours|days|years|bytes|[KMGT]?B"
    r"|bits|rows|records|entries|events|items|lines|words|tokens|requests|calls|hits|views"
    r"|visits|visitors|downloads|users|people|times|steps|pixels|cells)\b"
)
_COUNTED_AFTER_START = re.compile(r"[ \t]+[A-Za-z]*\Z")
_TIMESTAMP_BEFORE = re.compile(
    r"\b(?:(?:unix|epoch|posix)[ \t]+(?:time|seconds)|timestamps?|epoch)[ \t]+(?:of[ \t]+|is[ \t]+)?\Z",
    re.IGNORECASE,
)
_LONG_CODE_BEFORE = re.compile(r"[$€£¥.,]\Z")  # "$1000000000", "0.1234567890": a number's
# written short with a slash, said in full: "w/" was taken for a folder and said "w"
_SAID_AS = {"w/": "with", "w/o": "without"}
# Abbreviations a careful reader expands: Whisper heard Piper's "i.e." as "IDI", "vs." as
# "BS", "pp." as "CPP", "Mt." as "T" and "Ave." as "Abe". (Piper reads "e.g.", "etc.",
# "Dr." and "St." as their words already.)
_ABBREVIATIONS = {
    "i.e.": "that is",
    "vs.": "versus",
    "vs": "versus",
    "pp.": "pages",
    "approx.": "approximately",
    "mt.": "Mount",
    "ave.": "Avenue",
    # a travel answer's and a label's short forms: Piper said "dep. 9:40" "depth", "Take max."
    # was cut as a sentence of its own before its dose ("max" then "3 tablets"); said in
    # full and without the dot, no sentence ends there ("min." is a unit's: "5 min.")
    "max.": "maximum",
    "dep.": "departure",
    "arr.": "arrival",
    "incl.": "including",
    "excl.": "excluding",
    "est.": "estimated",
    "ext.": "extension",  # a phone's: "ext. 42" was said "ekst", a sentence of its own
}
# Short forms a voice misreads, said as a reader says them, by their exact case (a "mom" is
# no month over month): Whisper heard Piper's "12% YoY" as "12 yield wide", "8% QoQ" as "8
# coke q", "npm test" as "mpm test" ("pnpm" and "npx" it read well)
_SHORT_FORMS = {
    "YoY": "year over year",
    "MoM": "month over month",
    "QoQ": "quarter over quarter",
    "npm": "N P M",
    # "Node 16 is EOL; use 20.x LTS": heard "eva well", "xltvess" ("end of life" without its
    # hyphens was heard "in the blyph")
    "EOL": "end-of-life",
    "LTS": "L T S",
    # a portfolio's "up 3.2% YTD": Piper said "itd"
    "YTD": "year to date",
}
# ... but "MoM" is as often the minutes of a meeting ("Send the MoM" was said "Send the month
# over month"): it is a change over a month only after the change ("5% MoM", "$2M MoM",
# "(+3%) MoM", and in brackets after it, "5% (MoM)": that was left "MoM", heard "mom").
# "YoY" and "QoQ" mean nothing else.
_AFTER_A_CHANGE_ONLY = frozenset(["MoM"])
# ... or alone in a table's heading cell ("| Month | MoM |"), a column of changes
_CELL_START_BEFORE = re.compile(r"\|[ \t]*\Z")
_CELL_END_AFTER = re.compile(r"[ \t]*(?:\||\n|\Z)")
# (a percentage written with a blank or in words too: "5 % MoM", "3 percent MoM")
_CHANGE_BEFORE = re.compile(
    r"\d(?:[ \t]?%|[kKMB]|bn|pp|[ \t]+(?i:per[ \t]?cent))?(?:\)?[ \t]+|[ \t]*\()\Z"
)
# A count with its scale's letter ("1.2M users", "3B parameters", "$4.5B" is an amount's):
# Whisper heard Piper's reading as "1.2M users", "3 B parameters". Only M and B: "5K" is as often a race or a
# screen as five thousand, and "2.5GB" is a unit.
_COUNT_SCALE = re.compile(r"(\d+(?:\.\d+)?)(M|B|bn)")
_COUNT_SCALES = {"M": "million", "B": "billion", "bn": "billion"}
# ... but a whole number with a "B" before a name is a house's number ("221B Baker Street"):
# it was said "221 billion Baker Street"
_HOUSE_NUMBER = re.compile(r"\d+B")
_NAME_AFTER = re.compile(r"[ \t]+[A-Z]")
# ... and so is one after a place's name ("Room 4B", "Gate 12B", "Suite 3M"): it was said
# "Room 4 billion"
_PLACE_BEFORE = re.compile(
    r"\b(?:room|gate|seat|apt|apartment|suite|unit|floor|level|building|bldg|terminal|"
    r"platform|track|row|bay|flat|block|lot|box|locker|hall|pier|stand|zone|section|wing)"
    r"\.?[ \t]+\Z",
    re.IGNORECASE,
)
# A fraction written as one character ("1 ½ cups", "¼ tsp", "1¼", "9¾"), as recipes do:
# Whisper heard Piper's "1 ½" as "1 1 12" and "1¼" as "1 1 1 1 1": said in words, "1 and a
# half", "a quarter", after a number and a blank too ("1 ½" is "1 and a half")
_VULGAR = re.compile(r"(\d*)([½⅓⅔¼¾⅕⅛⅜⅝⅞])")
_VULGAR_SAID = {
    "½": "a half",
    "⅓": "a third",
    "⅔": "two thirds",
    "¼": "a quarter",
    "¾": "three quarters",
    "⅕": "a fifth",
    "⅛": "an eighth",
    "⅜": "three eighths",
    "⅝": "five eighths",
    "⅞": "seven eighths",
}
_WHOLE_BEFORE = re.compile(r"(?<![\d.,])\d+[ \t]+\Z")
# A unit after a number, written short ("2.5GB", "5 kHz", "60fps", "100Mbps", "5000 mAh"):
# Whisper heard Piper's reading as "5KHC", "120 Hc", "60 FDS", "5000 m off", "500 MSB",
# "2 Ella". Said in full, as a reader says it; only after a number ("GB" alone may be a
# country, "L" a letter), and by its exact case ("MB" bytes, "Mb" bits, "mb" none).
_UNIT_WORDS: dict[str, tuple[str, str]] = {
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "fps": ("frame per second", "frames per second"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "Kbps": ("kilobit per second", "kilobits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "ms": ("millisecond", "milliseconds"),
    "W": ("watt", "watts"),
    "V": ("volt", "volts"),
    "kW": ("kilowatt", "kilowatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "mi": ("mile", "miles"),
    "L": ("liter", "liters"),
    "mL": ("milliliter", "milliliters"),
    # a recipe's spoons and a wind's speed: Whisper heard Piper's "1 tsp salt" as "1 T",
    # "winds 10 mph" as "Wednesday and MPH"
    "tsp": ("teaspoon", "teaspoons"),
    "tbsp": ("tablespoon", "tablespoons"),
    "Tbsp": ("tablespoon", "tablespoons"),
    "mph": ("mile per hour", "miles per hour"),
    # a weight, a length, a liquid: Piper said "3.5 K G", "500 G flour", "250 M L water", "8
    # ahz cheese", "1 L B", "6 F T tall"
    "g": ("gram", "grams"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "ml": ("milliliter", "milliliters"),
    "oz": ("ounce", "ounces"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "qt": ("quart", "quarts"),
    "gal": ("gallon", "gallons"),
    "mm": ("millimeter", "millimeters"),
    "cm": ("centimeter", "centimeters"),
    "km": ("kilometer", "kilometers"),
    "ft": ("foot", "feet"),
    # a recipe's or a workout's time: Whisper heard Piper's "3 to 4 min per side" as "3 to
    # 4 men per side"
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    # a dose's and a pressure's: Piper said "2.5 M C G", "120 80 M M H G"
    "mcg": ("microgram", "micrograms"),
    "µg": ("microgram", "micrograms"),
    "mmHg": ("millimeter of mercury", "millimeters of mercury"),
    # a latency's and a memory's: Piper said "850 µs" "micro S", "32 GiB" "G I B"
    "µs": ("microsecond", "microseconds"),
    "ns": ("nanosecond", "nanoseconds"),
    "KiB": ("kibibyte", "kibibytes"),
    "MiB": ("mebibyte", "mebibytes"),
    "GiB": ("gibibyte", "gibibytes"),
    "TiB": ("tebibyte", "tebibytes"),
    # a memory's transfer rate and a signal's power: Piper said "6000 MT/s" "6000 M T per
    # second", "-67 dBm" "D B M"; and a length and a time written apart from their number
    # ("a 4x400 m relay", "rest 90 s"): heard "400m", "90s" (see ``_SPACED_ONLY``)
    "MT": ("megatransfer", "megatransfers"),
    "dB": ("decibel", "decibels"),
    "dBm": ("decibel milliwatt", "decibel milliwatts"),
    "m": ("meter", "meters"),
    "s": ("second", "seconds"),
}
_UNIT = re.compile(
    r"(\d+(?:[.,]\d+)*)?(" + "|".join(sorted(_UNIT_WORDS, key=len, reverse=True)) + ")"
)
# ... and before a noun it describes, as a hyphen would join them ("10 MB blocks", "a 2 min
# walk") one: it was "10 megabytes blocks". A count's, a time's, a power's or a frequency's
# unit, and only before a noun such a unit describes: after one, what follows is as often
# what more says of the amount ("10 MB free", "5 min later", "100 ms took", "400 ms
# unseen"), which a guess from the word's form got wrong in this project's own docs; a
# recipe's "2 tsp vanilla" is an amount of what follows.
_ADJECTIVE_UNITS = frozenset(
    [
        "KB",
        "kB",
        "MB",
        "GB",
        "TB",
        "ms",
        "min",
        "mins",
        "hr",
        "hrs",
        "sec",
        "secs",
        "Hz",
        "kHz",
        "MHz",
        "GHz",
        "kW",
        "kWh",
        "mAh",
        "mi",
        "mm",
        "cm",
        "km",
        "ft",
        "W",
        "V",
        "m",
    ]
)
_DESCRIBED = frozenset(
    [
        "walk",
        "drive",
        "ride",
        "run",
        "jog",
        "hike",
        "commute",
        "trip",
        "flight",
        "layover",
        "break",
        "nap",
        "rest",
        "wait",
        "pause",
        "delay",
        "gap",
        "timer",
        "timeout",
        "window",
        "interval",
        "slot",
        "session",
        "meeting",
        "call",
        "lecture",
        "talk",
        "class",
        "lesson",
        "workout",
        "sprint",
        "warmup",
        "cooldown",
        "video",
        "clip",
        "song",
        "episode",
        "read",
        "chunk",
        "block",
        "frame",
        "buffer",
        "segment",
        "sample",
        "step",
        "increment",
        "budget",
        "target",
        "limit",
        "cap",
        "file",
        "download",
        "upload",
        "attachment",
        "image",
        "photo",
        "page",
        "packet",
        "payload",
        "archive",
        "backup",
        "partition",
        "disk",
        "card",
        "plan",
        "quota",
        "model",
        "battery",
        "bulb",
        "heater",
        "charger",
        "motor",
        "panel",
        "adapter",
        "tone",
        "signal",
        "loop",
        "trail",
        "radius",
        "mark",
        "screw",
        "bolt",
        "nail",
        "hole",
        "drill",
        "bit",
        "pipe",
        "cable",
        "lens",
        "supply",
        "rail",
        "bike",
        "car",
    ]
)
# ... and of those in the plural only those that are no verbs as well: "less than 30 ms
# waits" is a verb's
_DESCRIBED_MANY = frozenset(
    [
        "blocks",
        "chunks",
        "files",
        "frames",
        "windows",
        "videos",
        "clips",
        "images",
        "photos",
        "pages",
        "packets",
        "payloads",
        "sessions",
        "intervals",
        "slots",
        "segments",
        "partitions",
        "increments",
        "samples",
        "episodes",
        "songs",
        "lectures",
        "lessons",
        "workouts",
        "meetings",
        "naps",
        "timers",
        "timeouts",
        "archives",
        "disks",
        "cards",
        "models",
        "batteries",
        "bulbs",
        "heaters",
        "chargers",
        "motors",
        "panels",
        "adapters",
        "tones",
        # (verbs too, but not after a length: "3 mm screws" are no "3 millimeters" that screw)
        "screws",
        "bolts",
        "nails",
        "holes",
        "pipes",
        "cables",
        "lenses",
    ]
)
_NOUN_AFTER = re.compile(r"[ \t]+([a-z]+)(?![\w'’-])")
_NOUN_AFTER_START = re.compile(r"[ \t]*[a-z]*\Z")
# ... after a fraction, a part of one ("3/4 tsp" "three quarters of a teaspoon"; it was
# "three quarters teaspoons")
_FRACTION_BEFORE = re.compile(r"(?<![\w.,/])(\d{1,4})/(2|3|4|6|8|16)[ \t]+\Z")
# ... and so after one written as one character ("¼ tsp" "a quarter teaspoon", "1½ cups"
# "1 and a half cups"): its unit was left as written, "a quarter tsp"
_VULGAR_BEFORE = re.compile(r"(?<![\w.,])(\d*)[ \t]?[½⅓⅔¼¾⅕⅛⅜⅝⅞][ \t]+\Z")
# ... and a US fluid ounce, written in two words ("4 fl oz"): Piper said "4 F L ounces"
_FLUID_BEFORE = re.compile(r"\bfl\.?[ \t]+\Z")
_FLUID_AFTER = re.compile(r"[ \t]+oz\b")
_FLUID_AFTER_START = re.compile(r"[ \t]*o?\Z")
_ARTICLE_AHEAD = re.compile(r"\b(?:a|an)[ \t]+(?:[A-Za-z]+[ \t]+)?\Z", re.IGNORECASE)
_ARTICLE_BEFORE = re.compile(r"\b(?:a|an)[ \t]+\Z", re.IGNORECASE)
# (a "W" after a blank may be a street's west, "350 W 42nd St", "100 W Main St": a number
# or a name follows it there, as none follows a power or a voltage; after a blank and before
# anything else, "15 W.", "draws 15 W at idle", "a 65 W charger", "5 V and 2 A", they are
# watts and volts: they were said "15 W" (heard "fifteen double-u"), "5 V")
_GLUED_ONLY = frozenset(["W", "V"])
_STREET_AFTER = re.compile(r"[ \t]+(?:\d|[A-Z])")
# ... and an "m" or an "s" only after a blank: glued to its number it is as often a decade
# ("the 90s"), a million ("5m users") or a minute after an hour ("1h 30m").
_SPACED_ONLY = frozenset(["m", "s"])
# A relay's or a set's count and distance ("4x400 m", "8x200 m"): the distance's number is
# the one the unit follows; "4x400" is said "4 by 400" as a size's "1920x1080" is.
_BY = re.compile(r"(\d{1,4})[x×](\d{1,4})")
_BY_BEFORE = re.compile(r"(?<![\w.,])\d{1,4}[x×](\d{1,4})[ \t]+\Z")
# A bond's tenor ("the 10Y yield", "2Y at 4.5%"): heard "10 y"; said "10 year".
_TENOR = re.compile(r"(\d{1,2})Y")
# "bps" after a number: basis points in an answer about money ("rates rose 25 bps", "the
# spread widened 40 bps"), where it is written bare far more often than a data rate, which
# carries its prefix ("56 kbps", "100 Mbps"); bits per second only where the sentence before
# it speaks of data or a line's speed ("the link does 300 bps", "a 9600 bps serial port"),
# or for a number no basis point reaches (1200 and over: a modem's and a serial port's rates).
_DATA_BEFORE = re.compile(
    r"\b(?:links?|lines?|modems?|serial|baud|bandwidth|throughput|bit ?rates?|data|speeds?|"
    r"uploads?|downloads?|network|connections?|transfers?|sends?|sent|transmits?)\b",
    re.IGNORECASE,
)
# A mobile network's generation written in lower case ("a 5g network", "my 4g phone"): its
# "g" is no gram ("a 5 gram network"). Only before a word such a generation describes:
# "add 5g salt" and "it weighs 5g" are grams.
_GENERATION = re.compile(r"[2-6]g")
_GENERATION_OF = frozenset(
    [
        "network",
        "networks",
        "phone",
        "phones",
        "smartphone",
        "smartphones",
        "signal",
        "signals",
        "coverage",
        "connection",
        "connections",
        "connectivity",
        "data",
        "speed",
        "speeds",
        "modem",
        "modems",
        "router",
        "routers",
        "service",
        "plan",
        "plans",
        "tower",
        "towers",
        "mast",
        "masts",
        "band",
        "bands",
        "internet",
        "rollout",
        "hotspot",
        "sim",
        "reception",
    ]
)
_NUMBER_BEFORE = re.compile(r"(?<![\w.,])(\d+(?:[.,]\d+)*)[ \t]+\Z")  # "5 kHz": its 5
# a time on the hour ("9:00", "17:00", "9:00am"): Whisper heard Piper's "9:00" as "9-0-0"; a reader says "9 o'clock" ("9 am" with its am or pm, "17 hundred" past noon)
_ON_THE_HOUR = re.compile(r"(\d{1,2}):00([AaPp]\.?[Mm]\.?)?")
# ... but after a word that says how long something takes ("Bake for 1:00", "The run took
# 5:00", "It lasts 2:00") it is a duration in minutes and seconds, as a timer or a stopwatch
# shows one: it was said "1 o'clock", "5 o'clock". Not after "for" alone: "Set an alarm for
# 7:00" is a time.
_DURATION_BEFORE = re.compile(
    r"(?:\b(?:took|takes?|taking|lasts?|lasted|lasting)"
    r"|\b(?:bake|cook|microwave|simmer|boil|roast|fry|grill|steam|heat|steep|brew|rest|"
    r"knead|blend|mix|whisk|stir|chill|freeze|soak|rinse|brush|wash|wait|hold|run|walk|"
    r"jog|plank|stretch|play)\w*(?:[ \t]+(?:it|them|this|that|these|those))?[ \t]+for)"
    r"[ \t]+\Z",
    re.IGNORECASE,
)
# ... and so is one with its seconds ("Simmer for 1:30", "The lap took 2:45"): "1 minute
# 30 seconds". As written Whisper heard Piper's reading as "130". Not before a unit that
# says what it counts ("it takes 1:30 hours"), nor before "am" or "pm".
_MINUTES_SECONDS = re.compile(r"(\d{1,2}):([0-5]\d)")
# ... but what a sentence says lasts hours ("The flight lasts 1:45", "The movie runs for
# 2:15") is in hours and minutes, as its timetable or its listing shows it: it was said "1
# minute 45 seconds". (A song, a lap, a run, a recipe's step: minutes and seconds.)
_HOURS_LONG = re.compile(
    r"\b(?:flights?|movies?|films?|drives?|trips?|journeys?|commutes?|layovers?|hikes?|"
    r"concerts?|meetings?|matche?s?|games?|shows?|operas?|surgery|surgeries|ferry|ferries|"
    r"train ride|bus ride|car ride|boat ride|road trip)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?](?=[ \t\n]|\Z)|\n")
_DURATION_UNITS = ("hours", "hrs", "h", "minutes", "mins", "min", "m")
_AM_PM_AFTER = re.compile(r"[ \t]*[AaPp]\.?[Mm]\b")
_AM_PM_START = re.compile(r"[ \t]*(?:[AaPp]\.?(?:[Mm]\.?)?)?")
# a number in scientific notation ("1e-6", "6.02e23", "2.5E+8"): Whisper heard Piper's
# "1e-6" as "one E6", its sign lost. Said as a reader of the maths says it.
_SCIENTIFIC = re.compile(r"(\d+(?:\.\d+)?)[eE]([+-]?)(\d{1,3})")
# a square or a cube written as a superscript ("x²", "5 m²", "(a+b)³"): Whisper heard
# Piper's "x²" as "X2", said "x two"
_SUPERSCRIPT = re.compile(r"([A-Za-z0-9]*)([²³])")
# ... but a length's unit squared or cubed after a number is an area or a volume, said as
# one reads it ("16.7 m²" "16.7 square meters", "2 ft³" "2 cubic feet"; it was "m squared"),
# and so "sq" before one ("180 sq ft" "180 square feet": heard "180 SQFD")
_AREA_UNITS = {
    "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "km": ("kilometer", "kilometers"),
    "ft": ("foot", "feet"),
    "in": ("inch", "inches"),
    "yd": ("yard", "yards"),
    "mi": ("mile", "miles"),
}
_AREA = re.compile(rf"({'|'.join(_AREA_UNITS)})([²³])")
_SQUARE_BEFORE = re.compile(r"\bsq[ \t]+\Z")
_SQUARE_AFTER = re.compile(rf"[ \t]+(?:{'|'.join(_AREA_UNITS)})\b")
_SQUARE_AFTER_START = re.compile(r"[ \t]*[a-z]{0,2}\Z")
_POWERS_SAID = {"²": "squared", "³": "cubed"}
# An address's street words written short: Whisper heard Piper's "Amphitheatre Pkwy" as
# "amphitheater P-Qui". ("St", "Ave." and "Rd" Piper reads as their words already.)
_STREET_WORDS = {"Pkwy": "Parkway", "Blvd": "Boulevard", "Hwy": "Highway", "Fwy": "Freeway"}
# A ZIP code after a town and its state's two letters ("Mountain View, CA 94043"), digit by
# digit, as people say one: Whisper heard Piper's reading as "94,043". (After the comma: "IN",
# "OR" and "ME" are words too.)
_STATE_BEFORE = re.compile(
    r",[ \t]*(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|"
    r"NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)[ \t]+\Z"
)
_ZIP = re.compile(r"\d{5}(?:-\d{4})?")
# A time zone after a time ("10am EST", "9:30 CET") letter by letter, as people say one:
# Piper read "EST" as a word, heard "10 AME". Only those with a vowel: Piper spells "UTC"
# already.
_TIME_ZONES = frozenset(
    ("EST", "EDT", "AKST", "AKDT", "CET", "CEST", "EET", "EEST", "WET", "WEST", "IST")
)
# ... but America's Pacific, Central and Mountain zones by their names, as a reader says
# them: Piper did not spell these after a time, nor did it spell them clearly when they
# were written spelled out; heard "9:30 am PST" as "930 ampsd", "10am CST" as "10amc to
# st", "9am MST" as "9am the missed st"
_TIME_ZONE_NAMES = {
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
}
_TIME_BEFORE = re.compile(r"\d(?:[ \t]?[AaPp]\.?[Mm]\.?|:\d\d)[ \t]+\Z")
# A network port as people say one: "port 8080" "80 80", "port 5432" "54 32", a five-digit
# one digit by digit ("11434" "1 1 4 3 4"); Piper said "eight thousand eighty", heard
# "8000 AD". Round ones ("3000", "8000", "3001") are said as numbers, as people do. After
# "port" or a host and its colon ("localhost:8080", heard "local host colon 880").
_PORT_BEFORE = re.compile(r"\bports?[ \t]+\Z", re.IGNORECASE)
_PORT = re.compile(r"\d{4,5}")
# ... but not a file's name and a line in it ("main.py:42", "README.md:20"): a code or
# document file's extension is no host's ending, though some are a country's (.py, .md)
_CODE_EXTENSIONS = (
    "py|pyi|ipynb|js|mjs|cjs|jsx|ts|tsx|md|mdx|rst|txt|json|jsonl|yaml|yml|toml|ini|cfg|conf|"
    "lock|log|csv|html?|css|scss|sass|less|xml|sh|bash|zsh|ps1|bat|rs|go|cc|cpp|cxx|hpp|hh|"
    "cs|java|kt|kts|scala|swift|mm|rb|php|pl|pm|lua|dart|ex|exs|erl|hrl|hs|ml|mli|clj|vue|"
    "svelte|sql|gradle|tf|proto|env"
)
_HOST_PORT = re.compile(
    r"(localhost|\d{1,3}(?:\.\d{1,3}){3}|"
    rf"[\w-]+(?:\.[\w-]+)*\.(?!(?:{_CODE_EXTENSIONS}):)[a-z]{{2,}}):(\d{{2,5}})"
)
# A command line written in prose, without backticks ("run curl localhost:11434/api/tags to
# check"): its address is what the person types, path and all, as in code; said as its host
# and port alone, "curl localhost port 1 1 4 3 4", which address to fetch was lost. Clearly
# a command only right after a tool that fetches an address, with only its options between
# ("curl -s -X POST", "wget -q", "git clone --depth 1"): "open" or "visit" are words too.
_COMMAND_BEFORE = re.compile(
    r"(?<![\w./-])(?:curl|wget|xh|git[ \t]+clone)"
    r"(?:[ \t]+(?:--?[A-Za-z][\w-]*(?:=[^\s]*)?|GET|POST|PUT|PATCH|DELETE|HEAD|\d+"
    r"|'[^'\n]*'|\"[^\"\n]*\"))*[ \t]+\Z"
)
# An address's query after a host and port ("localhost:8080/search?q=x&n=2"): not said, as
# an address with a scheme's is not; it was read as written after the port
_QUERY = re.compile(r"[?#][\w.~%+-][^\s\"'`<>]*")
_QUERY_START = re.compile(r"[?#][^\s]*")
# a version ("v1.2.3", "v2", "V1.0"): Whisper heard Piper's "v1.2.3" as "be 1.2.3";
# an upper-case V only with a dot ("V8" is an engine)
_VERSION = re.compile(r"v(\d+(?:\.\d+)*)|V(\d+(?:\.\d+)+)")
# a version's series with a placeholder ("v1.2.x", "Node 20.x"): Piper said "1 2x", heard
# "be 1 2x", "20 xl"; a person says "1.2 dot x", and a glob's "4.2.*" "4.2 dot star", as
# shown (it was "4.2 dot x": what is heard did not match what is on the screen)
_SERIES = re.compile(r"(v?)(\d+(?:\.\d+)*)\.([xX*])")
# ... but "v2" beside an operator is a variable ("let v2 = 3", "v1 + v2"): it was said
# "let version 2 = 3"
_OPERATOR_AFTER = re.compile(r"[ \t]*(?:[=+*/<>^±×÷−]|-[ \t\d])")
_OPERATOR_BEFORE = re.compile(r"(?:[=+*/<>^±×÷−(]|[ \t]-)[ \t]*\Z")
_PLAIN_VERSION = re.compile(r"v\d+")
# a file pattern's name ("*.py", the last part of "src/**/*.py"): said "star.py", as
# people say it; Piper said "asterisk py"
_GLOB_NAME = re.compile(r"\*{1,2}\.[A-Za-z0-9]{1,8}")
# a ratio or a score with a colon ("16:9", "3:1"): Whisper heard "16 colon 9". A time
# has two digits after its colon ("3:30"), a verse too ("John 3:16"): those stay.
# a runner's or a swimmer's pace, minutes and seconds a distance ("5:30/km", "8:45/mi",
# "1:50/100m"): Piper said "five thirty slash K M"
_PACE_UNITS = {"km": "kilometer", "mi": "mile", "mile": "mile", "100m": "100 meters"}
_PACE = re.compile(r"(\d{1,2}):([0-5]\d)/(km|mi|mile|100m)")
_RATIO = re.compile(r"(\d{1,3}):(\d)")
# A chapter and verse is no ratio: "Genesis 1:1" was said "Genesis 1 to 1". The books
# whose verses an answer quotes most, by the name written before the numbers.
_BOOK_BEFORE = re.compile(
    r"\b(?:Genesis|Exodus|Leviticus|Numbers|Deuteronomy|Joshua|Judges|Ruth|Samuel|Kings|"
    r"Chronicles|Ezra|Nehemiah|Esther|Job|Psalms?|Proverbs|Ecclesiastes|Song of Songs|"
    r"Isaiah|Jeremiah|Lamentations|Ezekiel|Daniel|Hosea|Joel|Amos|Obadiah|Jonah|Micah|"
    r"Nahum|Habakkuk|Zephaniah|Haggai|Zechariah|Malachi|Matthew|Mark|Luke|John|Acts|"
    r"Romans|Corinthians|Galatians|Ephesians|Philippians|Colossians|Thessalonians|Timothy|"
    r"Titus|Philemon|Hebrews|James|Peter|Jude|Revelation|Surah|Sura)[ \t]\Z"
)
# A Roman numeral after a name or a word that numbers things ("Henry VIII", "World War
# II", "Chapter IV", "Super Bowl LVIII"): Piper said "Henry Roman 8", "World War Roman
# II" (as Whisper heard it). After a word that numbers, its number ("World War 2",
# "Chapter 4"); after a name, a monarch's or a pope's ordinal ("Henry the Eighth", "John
# Paul the Second"), of I, V and X only and two letters at least: "Washington DC", "an IV",
# "I" and "CV" are no numerals; nor is a "C" or an "L" alone ("Type C", "Grade C"). Other
# capitalized words are no rulers' names (``_RULERS``): "Give IV fluids"; after one a
# title's "II" or a numeral of three letters or more is its number ("Rocky II" "Rocky 2").
_ROMAN = re.compile(r"(?=[IVXLC])C{0,3}(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_NUMBERING_BEFORE = re.compile(
    r"\b(?:War|Chapter|Part|Volume|Vol\.|Book|Act|Scene|Phase|Section|Article|Title|Bowl|"
    r"Episode|Type|Class|Stage|Grade|Level|Tier|Round|Division|Schedule|Apollo|Vatican|"
    r"Mark)"
    r"[ \t]+\Z",
    re.IGNORECASE,
)
_NAME_BEFORE = re.compile(r"\b([A-Z][a-z]+)[ \t]+\Z")
# The names that kings, queens, emperors and popes reign under, in their English form:
# only after one is a numeral a ruler's ordinal. After any capitalized word, a sentence's
# first ("Administer IV fluids") was "Administer the Fourth fluids", and a title or a model
# ("Rocky II", "Final Fantasy VII", "Mark II") "Rocky the Second", "Mark the Second".
_RULERS = frozenset(
    [
        "Adrian",
        "Afonso",
        "Albert",
        "Alexander",
        "Alexius",
        "Alfonso",
        "Amadeus",
        "Amenhotep",
        "Andrew",
        "Anne",
        "Antiochus",
        "Artaxerxes",
        "Baldwin",
        "Basil",
        "Benedict",
        "Boniface",
        "Carl",
        "Carlos",
        "Casimir",
        "Catherine",
        "Celestine",
        "Charles",
        "Christian",
        "Clement",
        "Constantine",
        "Cyrus",
        "Darius",
        "David",
        "Edmund",
        "Edward",
        "Elizabeth",
        "Emmanuel",
        "Eric",
        "Erik",
        "Eugene",
        "Felipe",
        "Felix",
        "Ferdinand",
        "Francis",
        "Frederick",
        "Frederik",
        "George",
        "Gregory",
        "Gustav",
        "Gustavus",
        "Haakon",
        "Hadrian",
        "Harald",
        "Harold",
        "Henry",
        "Honorius",
        "Innocent",
        "Isabella",
        "Ivan",
        "James",
        "Joao",
        "John",
        "Joseph",
        "Juan",
        "Julius",
        "Karl",
        "Ladislaus",
        "Leo",
        "Leopold",
        "Louis",
        "Ludwig",
        "Magnus",
        "Mahmud",
        "Malcolm",
        "Manuel",
        "Martin",
        "Mary",
        "Matthias",
        "Maximilian",
        "Mehmed",
        "Michael",
        "Murad",
        "Napoleon",
        "Nicholas",
        "Olaf",
        "Otto",
        "Paul",
        "Pedro",
        "Peter",
        "Philip",
        "Philippe",
        "Pius",
        "Ptolemy",
        "Rama",
        "Ramesses",
        "Richard",
        "Robert",
        "Rudolf",
        "Sancho",
        "Selim",
        "Sergius",
        "Sigismund",
        "Sixtus",
        "Stephen",
        "Sylvester",
        "Thutmose",
        "Umberto",
        "Urban",
        "Victor",
        "Vladimir",
        "Wilhelm",
        "Willem",
        "William",
    ]
)
_ORDINALS = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
]
_TENS = {
    20: "twent",
    30: "thirt",
    40: "fort",
    50: "fift",
    60: "sixt",
    70: "sevent",
    80: "eight",
    90: "ninet",
}
# A negative number after an operator or an opening bracket ("x = -3", "(-3, 4)"): Piper
# said nothing for its sign there, and "x = -3" was heard "x equals three". Said "minus"
# (elsewhere, "-3" and "to -3", Piper says "minus" itself).
_NEGATIVE = re.compile(r"-\d[\d,.]*")
_NEGATIVE_BEFORE = re.compile(r"[=(\[<>+*/][ \t]*\Z")
# a temperature's scale after its degree sign
_DEGREES = {"F": "Fahrenheit", "C": "Celsius"}
_FEET_INCHES = re.compile(r"'(\d{1,2})[\"″]")
_INCH_MARKS = '"'
_INCH_NUMBER_BEFORE = re.compile(r"(?<![\w.,])\d{1,3}(?:[./]\d{1,2})?\Z")  # "27", "1/4", "2.5"
# a day of the week written short beside a range's dash ("Mon–Fri", "Mon-Fri"): said in
# full, the dash "to" (Whisper heard Piper's "Mon–Fri" as "Montfry"); alone, "Sun" and "Sat" are
# words, so they stay
_WEEKDAYS = {
    "Mon": "Monday",
    "Tue": "Tuesday",
    "Tues": "Tuesday",
    "Wed": "Wednesday",
    "Thu": "Thursday",
    "Thur": "Thursday",
    "Thurs": "Thursday",
    "Fri": "Friday",
    "Sat": "Saturday",
    "Sun": "Sunday",
}
_WEEKDAY = "(?:" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + ")"
_WEEKDAY_RANGE = re.compile(rf"({_WEEKDAY})-({_WEEKDAY})")
_WEEKDAY_BEFORE_DASH = re.compile(rf"\b{_WEEKDAY}\Z")
_WEEKDAY_AFTER_DASH = re.compile(rf"\b{_WEEKDAY}[ \t]*–[ \t]*\Z")
# a duration in hours and minutes ("1h 30m", "1h30m", "2h"): heard "1H30M"; "30m"
# alone may be meters, so minutes only after hours
_HOURS = re.compile(r"(\d+)h(?:(\d+)(?:m(?:in)?)?)?")  # "1h30m", "1h30" (heard "one h30")
_MINUTES_AFTER_HOURS = re.compile(r"\d+h[ \t]+\Z")
_MINUTES = re.compile(r"(\d+)m(?:in)?")
# a product written without blanks ("x*y", "2*3", "a*b*c"), its star said "times"
_PRODUCT = re.compile(r"\w+(?:\.\d+)?(?:\*\w+(?:\.\d+)?)+")
# a footnote's reference ("a claim.[^1]"), said as nothing (heard "one, one" with its text), and
# its text at a line's start ("[^1]: A source."), said "Footnote 1: A source."
_FOOTNOTE = re.compile(r"\[\^([^\]\s]{1,20})\]")
_FOOTNOTE_START = re.compile(r"\[(?:\^[^\]\s]{0,20})?\Z")
# a number's sign ("issue #42", "#1 on the list"), said "number"
_NUMBER_SIGN = re.compile(r"#\d[\d,.]*")
# a Slack channel or a hashtag ("#general", "#dev-team"), said by its name: Piper said "hash"
_CHANNEL = re.compile(r"#[A-Za-z][\w-]*")
# a tilde before a number is "about" ("~5 pm", "~$20", "~30%"); "~/notes" is a path
_ABOUT = re.compile(r"~(?=[$€£¥]?\d)")
# An amount with its currency's sign before it ("$20", "$1,250", "$3.50", "$1.2M", "€5
# million"): Piper read the sign first, "dollar twenty", "dollar three point five zero",
# "euros twenty". Said with the currency after it, as it is spoken: "20 dollars", "3
# dollars 50", "1.2 million dollars". A scale word after a blank is waited for.
_CURRENCY = {"$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("pound", "pounds")}
_CURRENCY["¥"] = ("yen", "yen")
_SCALES = {"k": "thousand", "m": "million", "b": "billion", "bn": "billion", "t": "trillion"}
_SCALE_WORDS = ("thousand", "million", "billion", "trillion")
_AMOUNT = re.compile(
    r"([$€£¥])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"
    r"(?:(bn|[kKmMbBtT])\b|[ \t]+(thousand|million|billion|trillion)\b)?"
)
# ... written with a European's separators, a dot between thousands and a comma before the
# cents ("€1.299,00", "€5,50"): it was said "1.299 euros,00", one point two nine nine. Only
# with its cents after the comma: "€1.299" alone may be a fuel's price per liter. One digit
# is tens of cents, as in "2,5 €" ("€5,5" was heard "five euros five").
_EUROPEAN_AMOUNT = re.compile(r"([$€£¥])(\d{1,3}(?:\.\d{3})+|\d+),(\d\d?)(?![\d,.]\d|\d)")
_EUROPEAN_START = re.compile(r"[$€£¥](?:\d{1,3}(?:\.\d{3})*\.\d{0,3}|\d+)(?:,\d{0,2})?\Z")
# ... and one with a scale word after it ("€5,5 million", "€1,2 Mrd.", German's "Mio." and
# "Mrd."): it was said "5 euros 50 million", the comma being a decimal one there. Said
# "5.5 million euros", as "$1.2 million" is. An abbreviation's dot goes when the sentence
# goes on after it ("€3,5 Mio. for", "€2 Mio. Umsatz": German's nouns have capitals, and the
# dot before one was said as a full stop); before a word that starts sentences ("Then",
# "Die"), at a line's or the answer's end it is the full stop.
_SENTENCE_STARTS = (
    "The|This|That|These|Those|Then|There|It|Its|We|I|You|They|He|She|And|But|So|Or|If|In|On|"
    "At|For|A|An|As|To|With|By|From|After|Before|Also|Now|Today|Next|Here|What|How|Why|When|"
    "Which|Who|Der|Die|Das|Den|Dem|Des|Ein|Eine|Es|Er|Wir|Ich|Du|Ihr|Sie|Man|Und|Aber|Oder|"
    "Dann|Damit|Dabei|Im|Am|Zum|Zur|Mit|Bei|Nach|Vor|Seit|Auch|Heute|Jetzt|Dies|Diese|Dieser|"
    "Wie|Was|Wann|Warum|Wo"
)
_GOES_ON = rf"(?=[ \t]+(?!(?:{_SENTENCE_STARTS})\b)[^\W_]|[,;:)])"
_EUROPEAN_SCALE = re.compile(
    rf"[ \t]+(?:(thousand|million|billion|trillion)\b|(Mio|Mrd)(?:\.{_GOES_ON}|\b))"
)
_EUROPEAN_SCALE_WORDS = {"Mio": "million", "Mrd": "billion"}
# (a word after its dot is held whole: "€3,5 Mio. Th" may be "Then", a sentence's start)
_EUROPEAN_SCALE_START = re.compile(r"[ \t]+(?:[a-zA-Z]*|(?:Mio|Mrd)\.[ \t]*[^\W\d_]*)\Z")
# ... or with its sign after the number, as much of Europe writes it ("20 €", "5,50 €",
# "1.299,00 €", "2,5 €", "3.50 €", "5€"): heard "20 years", "550 euros", "1.2900 euros". Said as
# one with the sign before it: "20 euros", "5 euros 50", "1,299 euros". Only the euro's:
# "3 $ signs" is no amount, and a dollar, a pound or a yen is written before its number.
_AMOUNT_BLANK = " \t\u00a0\u202f"
# A price per litre, kilogram or kilowatt-hour with three digits after its comma ("1,799 €/L",
# as fuel is priced) has a decimal comma, as the euro's sign after it says, and no thousands:
# it was said "1,799 euros per liter". Said "1.799 euros per liter". Without a unit after it
# ("1,799 € total") it stays as it was said.
_MEASURE_UNITS = r"(?:L|l|kg|g|lb|gal|kWh|MWh|Wh|m³|m3)(?![\w³])"
_AMOUNT_AFTER = re.compile(
    r"(?:(?P<whole>\d{1,3}(?:\.\d{3})+|\d+)(?:,(?P<cents>\d\d?))?"
    r"|(?P<plain>\d+)\.(?P<dot_cents>\d\d)"
    rf"|(?P<unit_whole>\d+),(?P<unit_decimals>\d{{3}})(?=[{_AMOUNT_BLANK}]?€/{_MEASURE_UNITS}))"
    rf"[{_AMOUNT_BLANK}]?€(?![\w€])"
)
# ... with a scale word between the number and the sign, as German writes millions ("5,5
# Mio. €", "1,2 Mrd. €", "3 Mio. €", "2,5 million €"): it was left as written, "5,5 Mio. €".
# Said "5.5 million euros", as "€5,5 Mio." is.
_SCALED_AFTER = re.compile(
    rf"(?P<whole>\d{{1,3}}(?:\.\d{{3}})+|\d+)(?:,(?P<decimals>\d+))?[{_AMOUNT_BLANK}]+"
    r"(?:(?P<word>thousand|million|billion|trillion)|(?P<short>Tsd|Mio|Mrd)\.?)"
    rf"[{_AMOUNT_BLANK}]?€(?![\w€])"
)
_SHORT_SCALES = {**_EUROPEAN_SCALE_WORDS, "Tsd": "thousand"}
# ... and with no sign at all ("5,5 Mio. Nutzer", "it grew by 1,2 Mrd. this year"): a count
# in German's short scale words, left as written, "5,5 Mio." (Piper said "five five m i o").
# Said "5.5 million"; its dot as after "€5,5 Mio.": gone where the sentence goes on (it was
# kept before any capital, "5.5 million. Nutzer", a full stop in the middle of a sentence,
# and streamed "3 Mrd. Euro" was said so while whole it was not), else the full stop.
_SCALED_COUNT = re.compile(
    rf"(?P<whole>\d{{1,3}}(?:\.\d{{3}})+|\d+)(?:,(?P<decimals>\d+))?[{_AMOUNT_BLANK}]+"
    rf"(?P<short>Tsd|Mio|Mrd)(?:\.{_GOES_ON}|\b)"
)
_SCALE_PREFIXES = "|".join(
    sorted({w[:n] for w in (*_SCALE_WORDS, *_SHORT_SCALES) for n in range(1, len(w) + 1)})
)
_SCALED_AFTER_START = re.compile(
    rf"(?:\d{{1,3}}(?:\.\d{{3}})+|\d+)(?:,\d*)?[{_AMOUNT_BLANK}]+"
    rf"(?:(?:{_SCALE_PREFIXES})(?:\.?[{_AMOUNT_BLANK}]*€?|\.[{_AMOUNT_BLANK}]+[^\W\d_]*))?\Z"
)
# ... and so with the sign before it ("€1,799/L"): it was said "1,799 euros per liter"
_UNIT_PRICE = re.compile(rf"€(\d+),(\d{{3}})(?=/{_MEASURE_UNITS})")
_UNIT_PRICE_START = re.compile(r"€\d+,\d{3}(?:/[A-Za-z³3]{0,3})?\Z")
# what may still become one ("1.29", "5,5", "5,50 ", "20 ", "1,799 €/k"): each start of one
_AMOUNT_AFTER_START = re.compile(
    r"(?:\d{1,3}(?:\.\d{3})*|\d+)(?:\.\d{0,2})?"
    rf"(?:,\d{{0,2}}[{_AMOUNT_BLANK}]?€?|[{_AMOUNT_BLANK}]?€?)\Z"
    rf"|\d+,\d{{3}}[{_AMOUNT_BLANK}]?(?:€(?:/[A-Za-z]{{0,2}})?)?\Z"
)
# ... or with its currency's code before or after it ("CHF 20", "EUR 18", "100 SEK"): Whisper
# heard Piper's "EUR 18" as "year 18", "CHF 20" as "c d hf20", "100 SEK" as "100 sdk". Said
# by the currency's name after the number, as an amount with its sign is ("20 Swiss
# francs", "4 Swiss francs 50"); a Swiss amount's thousands may be apart by an apostrophe.
_CURRENCY_CODES = {
    "EUR": ("euro", "euros"),
    "USD": ("US dollar", "US dollars"),
    "GBP": ("pound", "pounds"),
    "CHF": ("Swiss franc", "Swiss francs"),
    "JPY": ("yen", "yen"),
    "CAD": ("Canadian dollar", "Canadian dollars"),
    "AUD": ("Australian dollar", "Australian dollars"),
    "SEK": ("Swedish krona", "Swedish kronor"),
    "NOK": ("Norwegian krone", "Norwegian kroner"),
    "DKK": ("Danish krone", "Danish kroner"),
}
_CODE_AMOUNT = re.compile(r"[ \t]+(\d{1,3}(?:[,'’]\d{3})+|\d+)(?:\.(\d\d))?(?![\w'’]|[.,]\d)")
# ... said as written after a number when a plural noun follows, which the number counts:
# "2 CAD files" was "2 Canadian dollars files", "2 GBP accounts" "2 pounds accounts". Not
# before a verb an amount does ("1 USD equals 0.92 EUR").
_AMOUNT_VERBS = frozenset(
    ["equals", "buys", "gets", "costs", "goes", "means", "makes", "pays", "does", "works"]
)
_CODE_AMOUNT_START = re.compile(r"[ \t]*(?:\d[\d,.'’]*)?\Z")
# ... and a code before a price's unit ("5 USD/month", "10 EUR/kg"): it was left as
# written, "U S D slash month"; said "5 US dollars per month"
_CODE_PER = re.compile(r"([A-Z]{3})(?:/[A-Za-z]+)+")
# ... and a pair of them, a rate of exchange ("EUR/USD", "USD/JPY")
_CURRENCY_PAIR = re.compile(r"([A-Z]{3})/([A-Z]{3})")
# ... but not after a year ("In 2024 EUR inflation rose", "since 1999 USD rates"): the code
# describes what follows, said as one ("euro inflation"); "In 2024 euros inflation" was said
_YEAR_BEFORE = re.compile(
    r"\b(?:in|since|during|until|till|through)[ \t]+(?:19|20)\d\d[ \t]+\Z", re.IGNORECASE
)
# a minus before an amount ("-$20", "−€5"): "-$20" was heard "dollar twenty"
_MINUS_SIGNS = "-\u2212"
# what may still become an amount's scale word: "$5 mil"
_MAY_SCALE = re.compile(r"[ \t]+[a-z]*\Z")
# a language's or a musical note's sharp ("C#", "F#", "G# minor"): Piper said "C hash"
_SHARP = re.compile(r"[A-G]#")
# A chord's name ("C#m7", "Am7", "Gmaj7", "F#7", "Bbm"): Whisper heard Piper's reading as
# "hash m7", "in 7", "g match 7". Said as a musician says it, "C sharp minor 7". Only with
# a sharp, or a flat or a quality and what more a chord's name has: "Am", "Bb", "Db" alone
# are words or other short forms.
_CHORD = re.compile(r"([A-G])(#|b)?(maj|min|m|dim|aug|sus)?(\d{1,2})?")
_CHORD_SAID = {"#": "sharp", "b": "flat", "maj": "major", "min": "minor", "m": "minor"}
# A chess move of a piece ("Nf3", "Bxc4", "Qd8+"): heard "nf3", "and c6". Said by its piece's
# name, "knight f3", "bishop takes c4", "queen d8 check".
_CHESS_MOVE = re.compile(r"([KQRBN])(x?)([a-h][1-8])(\+|#)?")
_PIECES = {"K": "king", "Q": "queen", "R": "rook", "B": "bishop", "N": "knight"}
# An offset from UTC or GMT ("UTC+5:30", "GMT-8"): heard "udc plus by 30", "gdom t8"; said
# with its sign in words, "GMT minus 8" (Piper spells the zone's letters itself).
_OFFSET = re.compile(r"(UTC|GMT)([+±\u2212-])(\d{1,2})(?::?([0-5]\d))?")
# an address written without its scheme: a host name ending in a top-level domain that is
# no file's extension, then its path ("example.com/pricing", "github.com/org/repo"); not a
# macOS application's bundle ("MyApp.app/Contents/Info.plist" is a path, said "Info.plist")
_SCHEMELESS_HOST = (
    r"(?![\w.-]+\.app/Contents\b)"
    r"((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:com|org|net|io|dev|ai|app|co|edu|gov|info|me|us|uk|de|fr|eu|ca|au|jp|in|tv|xyz))"
)
_SCHEMELESS = re.compile(
    _SCHEMELESS_HOST
    # a port, or git's path ("github.com:org/repo.git"); not a module's object ("main.app:app")
    + r"(?::\d*/|/|:(?=\d+\b)|:(?=[\w.~-]+/))",
    re.IGNORECASE,
)
# one with a path, to its end as a bare URL's ("youtube.com/watch?v=abc"): a word ended at
# its "?", and the voice said its query ("v equals a b c")
# a run of text written without spaces: a word's characters (\w) as far as paths go, so an
# address or a path written right after it ("詳細はhttps://example.com/aを…") was one word
# with it, never taken for an address, and the voice spelt the address out
_SPACELESS_RUN = re.compile(rf"[{_WITHOUT_SPACES}]+")
_BARE_URL = re.compile(
    _SCHEMELESS_HOST + rf"(?::\d*)?/(?:[^{_NO_URL}{_WITHOUT_SPACES}])*", re.IGNORECASE
)
_SEPARATOR_LINE = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-*:?[ \t]*)*\n?\Z")
_CELL_END = re.compile(r"[ \t]*\|[ \t]*")
_ENDS_SAYING = ".!?:;,"
# A list item's marker at a line start: a dash or a plus (said as nothing), or a number
# ("1." or "1)", said as written). "*" items reach here without their star (speakable.py).
# A bullet character ("• eggs"), as models write one at times, is one too: Piper said
# nothing for it, and the items ran together as one sentence.
_BULLETS = "-+•◦▪‣"
_BULLET = re.compile(rf"[ \t]*[{_BULLETS}][ \t]+")
# a range between numbers ("5–10 minutes", "$10–$20", "20–30%"): Piper said "five ten"
_RANGE_DASH = "–"
# One written with a hyphen ("5-10 minutes", "1990-2000", "9-5"), a word of its own: Piper
# said "five dash ten". Not a phone number ("555-1234") nor a date ("2024-05-01"): the
# word is two numbers and one hyphen, and no phone number (``_PHONE``, told first).
_HYPHEN_RANGE = re.compile(r"(\d[\d,.]*)-(\d[\d,.]*)")
# A phone number with hyphens ("555-123-4567", "+1-555-123-4567", "555-1234"): Piper said
# "five hundred fifty five dash one hundred twenty three dash four thousand …". Said digit
# by digit, its groups with pauses between them, as a person reads one out.
# A North American one with its trunk "1" ("1-800-555-0199") is one too, said "1, 8 0 0, …":
# Whisper heard Piper's reading as "1-800-55-0199".
_PHONE = re.compile(r"(?:\+(\d{1,3})-|(1)-(?=\d{3}-\d{3}-\d{4}\Z))?(?:(\d{3})-)?(\d{3})-(\d{4})")
# ...and one whose area code is in brackets ("(800) 555-0199", "+1 (800) 555-0199"), said
# the same way: the area code was said as a number ("eight hundred"). What may still become
# one is held: it is a few characters long.
_BRACKETED_PHONE = re.compile(r"(?:\+(\d{1,3})[ \t])?\((\d{3})\)[ \t]?(\d{3})-(\d{4})(?![\w-])")
_BRACKETED_PHONE_START = re.compile(
    r"(?:\+\d{0,3}|\+\d{1,3}[ \t](?=\(|\Z))?"
    r"(?:\((?:\d{1,3}(?:\)(?:[ \t]?(?:\d{1,3}(?:-\d{0,4})?)?)?)?)?)?\Z"
)
# An international number written with blanks between its groups ("+44 20 7946 0958", as
# the UK, France or Germany write one): Whisper heard Piper's reading as "plus 44 27,946
# 0-958". Said digit by digit, its groups with pauses, as the bracketed ones are.
_SPACED_PHONE = re.compile(r"\+(\d{1,3})((?:[ \t]\d{1,4}){2,5})(?![\w-]|[ \t]+\d)")
_SPACED_PHONE_START = re.compile(r"\+\d{1,3}(?:[ \t]\d{1,4}){0,5}[ \t]*\Z")
# An emergency or service number after the word that calls it ("Call 911", "dial 112",
# "ring 999", "text 988"): said digit by digit, as everyone says it. Piper said "nine
# hundred eleven" (Whisper heard "900-11"), "one hundred twelve". Its digits as words with
# hyphens: "9 1 1" and "nine one one" were heard "of mine 111", "nine-one-one" "9-1-1".
_SHORT_NUMBER = re.compile(r"[2-9]11|112|999|000|988|110|119|111")
# ... and so is one listed after it ("Call 112 or 999", "dial 911, 112"): the second was
# said "nine hundred ninety nine"
_CALLED_BEFORE = re.compile(
    r"\b(?:call|calls|calling|called|dial|dialled|dialed|dialing|"
    r"dialling|ring|phone|text)[ \t]+"
    rf"(?:(?:{_SHORT_NUMBER.pattern})(?:[ \t]*,[ \t]*(?:(?:or|and)[ \t]+)?|[ \t]+(?:or|and)[ \t]+))*"
    r"\Z",
    re.IGNORECASE,
)
# a US ZIP+4 code ("94105-1234"), said digit by digit: Piper said "94,105 to 1,234" (it was
# taken for a range, which never goes from a larger number down to a smaller one)
_ZIP_PLUS_4 = re.compile(r"\d{5}-\d{4}")
# A date as ISO 8601 writes it ("2026-12-06"), with its time at times
# ("2026-12-06T14:30:00Z"): Piper said "two thousand twenty six dash twelve dash zero six".
# Said by its month's name: "December 6, 2026", "December 6, 2026, 14:30 UTC".
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
)
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
# A month or a day written short in a date ("Dec 8", "8 Dec 2026", "Tue, Dec 8"): Whisper
# heard Piper's "on Tue, Dec 8" as "on 2. decade". Said in full, only beside a day's number
# or a month: "Mar" and "Sun" are words too.
_SHORT_MONTHS = {m[:3]: m for m in _MONTHS if len(m) > 3} | {"Sept": "September"}
_DAY_AFTER = re.compile(r"\.?,?[ \t]+\d{1,2}(?!\d|[.,]\d|:)")
_YEAR_AFTER = re.compile(r"\.?,?[ \t]+(?:1[89]|20)\d\d(?!\d|[.,]\d|:)")  # "Dec 2026"
_DAY_BEFORE = re.compile(r"(?<![\d.,:])\d{1,2}[ \t]+\Z")
# "the Sun" is the star, no day: "The Sun 8 minutes away" was said "The Sunday 8 …"
_THE_BEFORE = re.compile(r"\bthe[ \t]+\Z", re.IGNORECASE)
_MONTH_AFTER = re.compile(r"\.?,?[ \t]+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b")
_DATE_AFTER_START = re.compile(r"\.?,?[ \t]*[A-Za-z0-9]*[.,:]?\Z")
# a slash between two numbers ("50/50", "24/7", "1/2", "4/5"): Piper said "fifty slash
# fifty". A common fraction is said by its words ("one half", "three quarters"), a score
# as one ("4 out of 5"), any other pair as two numbers ("fifty fifty", "twenty four seven")
_NUMBER_PAIR = re.compile(r"(\d{1,4})/(\d{1,4})")
_DIGIT_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
]
# A common fraction's part by its denominator: "1/6" was "1 out of 6", heard as a score
# (sixths only in lowest terms: "4/6" is a count, no one writes that fraction). Fifths,
# tenths, twelfths and sixteenths are said so only before "of" or a measure ("1/5 of the
# budget", "5/16 inch", "1/16 tsp"): alone, "4/5", "7/10" and "11/12" are as often counts
# ("4 out of 5"; this project's docs say "finished 11/12, 9/12" and "14/16 / 15/16").
_FRACTIONS = {2: "half", 3: "third", 4: "quarter", 6: "sixth", 8: "eighth"}
_LOWEST_TERMS_ONLY = frozenset([6, 12, 16])
_FRACTIONS_OF = {5: "fifth", 10: "tenth", 12: "twelfth", 16: "sixteenth"}
_OF_AFTER = re.compile(
    r"[ \t]+(?:of|inch|inches|in|cups?|tsp|tbsp|teaspoons?|tablespoons?|miles?|mi|oz|ounces?"
    r"|lbs?|pounds?|fl|yd|yards?|ft|feet|foot|mm|cm|km|hours?|hrs?|mins?|minutes?)\b"
)
# An improper fraction in halves or thirds ("4/3", "3/2"): it was said "4 3", two numbers;
# "four thirds" is how it is read. (In quarters and more it is as often a time signature,
# "5/4" "five four", or a date.)
_IMPROPER = {2: "halves", 3: "thirds"}
# A day and a month after a weekday ("Fri 12/11", "Tue, 3/24") are a date, said as one:
# by its month's name where the order is plain from its numbers ("Fri 12/25" "Friday
# December 25", "Fri 25/12" "Friday 25 December") or from an earlier date of the answer,
# else by its numbers as written ("Fri 12/11" "Friday 12 11"), as an American reads a date
# aloud ("twelve eleven") and a European who knows the writer: a month's name would be a
# guess, wrong for half the world (December 11 or 12 November), and "12 slash 11" says the
# character, not the date. Not a fraction nor a score: "Fri 1/6" was "Friday one sixth".
_WEEKDAY_DATE_BEFORE = re.compile(
    r"\b(?:Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun|Monday|Tuesday|Wednesday|Thursday"
    r"|Friday|Saturday|Sunday)\.?,?[ \t]+\Z"
)
# after a word that counts a place in a series ("Step 1/3", "Page 2/10"), a pair is "1 of 3":
# Piper said "Step one third", heard "Accept one third". (Not "level" nor "round": "a level
# 1/2 teaspoon" is a measure.)
_PLACE_IN_SERIES = re.compile(
    r"\b(?:step|page|part|chapter|slide|section|episode|question|lesson|stage|phase|volume)"
    r"[ \t]+\Z",
    re.IGNORECASE,
)
# a fraction after a whole number is a mixed number ("1 1/2 cups", "2 3/4 inches"): it was
# said "1 one half cups"; a reader says "1 and one half"
_WHOLE_BEFORE = re.compile(r"(?<![\w.,/:-])\d+[ \t]+\Z")
# A date written with slashes ("12/25/2026", "25/12/2026"): Piper said "12-25-20-5-2026"
# (as Whisper heard it). Said by its month's name when the order is plain: a day after 12
# tells the order (12/25 is month first, as in the US; 25/12 day first). Where both could be
# a month ("3/4/2026") and differ, a careful reader who does not know the writer's order
# reads out the numbers as written, "3 4 2026", and leaves the order to the listener, who
# knows it as well as a reader of the text would: a month's name would be a guess, wrong
# for half the world, and said as written Whisper heard Piper's reading as
# "3-slash4-2026". An earlier date of the same answer whose order was plain
# tells it, as it tells a reader: after "12/25/2026", "3/4/2026" is March 4.
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
DateOrder = Literal["month first", "day first"]
# A pair right after another joined to it ("between 2/1 and 2/5", "2/1-2/5"): said as the
# other was. "2/5" alone is a score, "2 out of 5", but after "2/1 and", which is no
# fraction nor score, it is a date too (Piper's listener heard "2 1 and 2 out of 5").
_JOINERS = ("and", "to", "or", "through", "until", "till")
_JOINED = rf"[ \t]*(?:(?:{'|'.join(_JOINERS)})[ \t]+|[-–][ \t]*)"
_PAIR_BEFORE = re.compile(rf"(?<![\d/])(\d{{1,4}})/(\d{{1,4}}){_JOINED}\Z", re.IGNORECASE)
# ... and one before another that is said as two numbers ("between 2/5 and 2/1"): "2/5" was
# said "2 out of 5" before "2 1". A pair is held until what follows it tells.
_PAIR_AFTER = re.compile(rf"{_JOINED}(\d{{1,4}})/(\d{{1,4}})(?![\d/])", re.IGNORECASE)
_PAIR_AFTER_START = re.compile(rf"{_JOINED}[\d/]*", re.IGNORECASE)
# a multiplier ("3x faster", "1.5x speed", "it is 10x."): Piper said "three ex faster".
# Only before a word or a clause's end: in algebra ("3x + 2 = 5") it is "three ex". ("x2"
# stays as written: it is as often a variable's name, "x1 and x2", as "times two".)
_TIMES_AFTER = re.compile(r"(\d+(?:\.\d+)?)[xX]")
_MULTIPLIER_AFTER = re.compile(r"[ \t]+[A-Za-z]|[,;:!?)]|\.(?!\w)|\Z")
_MULTIPLY = "×"
# after an amount, a slash and a unit ("$5/month", "$20/user"): Piper said "slash"
_PER_UNIT = re.compile(r"/([A-Za-z]+)")
_UNITS_SAID = {
    "mo": "month",
    "yr": "year",
    "hr": "hour",
    "wk": "week",
    # a price's weight, length or liquid ("$3/kg", "€1.80/L"): it was "per K G", "per L"
    "kg": "kilogram",
    "g": "gram",
    "lb": "pound",
    "oz": "ounce",
    "l": "liter",
    "ml": "milliliter",
    "km": "kilometer",
    "mi": "mile",
    "ft": "foot",
}
# ...and after a bare count ("3/month", "2/day", "5/hr"): heard "3 slash month"
# A dose by weight or a concentration after a number ("0.5 mg/kg", "5 mmol/L"): Piper said
# "mg slash kge". Its slash is "per": "0.5 milligrams per kilogram".
_DOSE = re.compile(r"(mg|mcg|µg|g|mL|ml|mmol|IU)/(kg|L|l|dL|mL|ml)")
_DOSE_SAID = {
    "mmol": ("millimole", "millimoles"),
    "IU": ("international unit", "international units"),
    "dL": ("deciliter", "deciliters"),
}
# a blood pressure ("120/80 mmHg", "BP 120/80"): it was said "120 80", heard "12080";
# a reader says "120 over 80"
_PRESSURE_BEFORE = re.compile(r"\b(?:blood[ \t]+pressure|BP)\b[^.!?\n\d]{0,20}\Z", re.IGNORECASE)
_PRESSURE_AFTER = re.compile(r"[ \t]*mmHg\b")
_PRESSURE_AFTER_START = re.compile(r"[ \t]*(?:m(?:m(?:H(?:g)?)?)?)?\Z")
# a key held with another ("Cmd+K", "Opt+Shift+P"): Piper said "see in d plus k"
_KEY_COMBO = re.compile(r"(?:(?:Ctrl|Cmd|Alt|Opt|Option|Shift|Win|Super|Meta|Fn)\+)+\w{1,3}")
_KEYS_SAID = {"Cmd": "Command", "Opt": "Option"}
_PER_TIME = re.compile(
    r"(\d[\d,.]*)/(month|year|week|day|hour|minute|second|mo|yr|wk|hr|min|sec)", re.IGNORECASE
)
# A rate after a number ("60 km/h", "100 req/s", "5 tokens/sec", "2 MB/s"): Piper said "60
# k m slash h", "rex slash s". Its slash is said "per", and the units a listener knows
# only in full are said so; not without a number before it ("km/h" alone may be the
# unit's name, as written). A number and its unit written as one word ("60km/h") too.
_RATE = re.compile(r"(\d+(?:[.,]\d+)*)?([A-Za-z]+)/(s|sec|min|h|hr|day|wk|mo|yr)")
_PER_SAID = {
    "s": "second",
    "sec": "second",
    "min": "minute",
    "h": "hour",
    "hr": "hour",
    "day": "day",
    "wk": "week",
    "mo": "month",
    "yr": "year",
}
# (one, many); "MB" is megabytes and "Mb" megabits, as written
_RATE_UNITS_SAID = {
    "km": ("kilometer", "kilometers"),
    "m": ("meter", "meters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "kB": ("kilobyte", "kilobytes"),
    "KB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "MiB": ("mebibyte", "mebibytes"),
    "GiB": ("gibibyte", "gibibytes"),
    "kb": ("kilobit", "kilobits"),
    "Kb": ("kilobit", "kilobits"),
    "Mb": ("megabit", "megabits"),
    "Gb": ("gigabit", "gigabits"),
    "req": ("request", "requests"),
    "ops": ("operation", "operations"),
}
_AFTER_NUMBER = re.compile(r"(\d[\d,.]*)[ \t]*\Z")  # the number a rate's unit follows
# a complexity in big-O notation ("O(n log n)", "O(n^2)", "O(log(n))"): said as people
# say it, "big O of n log n" (heard "O and log in", "O1")
_BIG_O_INNER = r"(?:[^()\n]|\([^()\n]{0,20}\))"
_BIG_O = re.compile(rf"O\(({_BIG_O_INNER}{{1,24}})\)")
_BIG_O_START = re.compile(rf"O(?:\({_BIG_O_INNER}{{0,24}}(?:\([^()\n]{{0,20}})?)?\Z")
# an arrow ("Settings → Privacy"), which Piper said "right arrow": a pause
_ARROWS = "→⟶⇒"
# A comparison or a minus between blanks and two operands (``SpokenText._operator``)
_OPERAND_BEFORE = re.compile(r"(?:[\w)\]²³]|\d%)[ \t]+\Z")
_COMPARISON_START = re.compile(r"[<>-][ \t]*[A-Za-z0-9]?")
# ... a comparison with a number after it ("odds < 0.1", "x > -3"), or between two short
# operands ("x > y", "a < b"); not between words ("TOML file < environment"), nor a menu's
# path ("Settings > Privacy", said with a pause: Piper ran the names together)
_NUMBER_COMPARED = re.compile(r"[<>][ \t]+-?\d")
_SHORT_OPERAND_BEFORE = re.compile(r"(?<![\w.])(?:[A-Za-z]|\d+|[\w]+\))[ \t]+\Z")
_SHORT_COMPARED = re.compile(r"[<>][ \t]+(?:[A-Za-z](?!\w)|\d|\()")
_MENU_STEP = re.compile(r">[ \t]+[A-Z]")
_FORMULA_BEFORE = re.compile(r"[=+×÷*^]|[ \t][/<>][ \t]")
# ... the look ahead for its "=" ends at the sentence's end, or at a word after the
# operand ("5 - 10 minutes", "9 - 5 on weekdays"): a formula's "=" comes after operands and
# operators, not words. Looking on to the sentence's end or 60 characters, the voice
# waited 30 characters (about 8 tokens) more, median of 8 answers, before its first piece
# when " - " came in its first words ("About 5 - 10 minutes is enough…"); now none more.
_MINUS_AHEAD = re.compile(
    r"-[^\n=.!?]*?(?:(=)|[.!?](?=[ \t\n]|\Z)|\n|(?<=[ \t])[A-Za-z][A-Za-z'’])"
)
_MINUS_LOOK = 60
_MINUS_OPERAND = re.compile(r"-[ \t]+(?:\d|\(|[A-Za-z](?![\w']))")  # "- 1", "- x", not "- the"
_MINUS_START = re.compile(r"-[ \t]+[A-Za-z]")
# Shell's joins and redirections between blanks, as answers about commands write them in
# prose ("run make 2>&1 | tee log.txt", "add > /dev/null", "cd app && npm test"): Piper
# said "2>&1" "two and one" (heard "2M1"), nothing for ">" or "|" ("pipe it with | grep
# foo" was heard "with correct food") and "&&" "and and". Said as people read a command
# out: "2 to 1", "to", "pipe", "and", "or". A "|" is a pipe only before a command that
# reads one ("| grep"): a table's row written without its outer pipes ("a | b") is no pipe.
_REDIRECT = re.compile(r"(?:([0-9])?>>?|&>)(?:&([0-9]))?(?=[ \t\n]|\Z|[.,;:)])")
_REDIRECT_START = re.compile(r"[0-9]?(?:>>?(?:&[0-9]?)?)?\Z|&>?\Z")
_PIPED = frozenset(
    [
        "grep",
        "egrep",
        "rg",
        "tee",
        "sort",
        "uniq",
        "head",
        "tail",
        "wc",
        "less",
        "more",
        "jq",
        "yq",
        "xargs",
        "awk",
        "sed",
        "cut",
        "tr",
        "sh",
        "bash",
        "zsh",
        "python",
        "python3",
        "column",
        "cat",
        "gzip",
        "base64",
        "sha256sum",
    ]
)
_PIPED_AFTER = re.compile(r"\|[ \t]+([a-z][a-z0-9]*)(?=[ \t\n.,;:)]|\Z)")
_PIPED_START = re.compile(r"\|(?:[ \t]+[a-z0-9]*)?\Z")
# a device file, said by its whole path: its last part alone ("null") names nothing
_DEVICES = {
    "/dev/null": "dev null",
    "/dev/full": "dev full",
    "/dev/zero": "dev zero",
    "/dev/stdout": "standard out",
    "/dev/stderr": "standard error",
}
# A chemical formula ("H2O", "CO2", "NaCl", "C6H12O6", "H2SO4"): Piper said "CO2" "ko
# two", "NaCl" "nah C L" (heard "now CL"), "H2SO4" "H two so four". Said as a chemist reads
# one, its elements' letters one by one with their counts: "C O 2", "N A, C L" (an "A"
# before another letter was said "uh": a pause after it keeps its letter's name). A word
# is a formula only where nothing else reads it so: two elements or more, not one repeated
# ("B2B", "P2P"), each a real element's symbol ("A100", "M2", "EC2" hold a letter that is
# none; "GPT-4o" a hyphen), with a count of 2 to 12 (a formula writes no 1: "H1N1", and a
# model's "FP16", "BF16" count more), or, with no count at all, two-letter symbols only of
# the elements everyday salts and bases are made of ("NaCl", "KCl", "NaOH"; not "PoC",
# "GaN", "NaN", "CO" nor "USB"). Where a code or a name is still taken for one ("PS5",
# "C3PO"), its letters and digits one by one are how people say it anyway.
_ELEMENTS = frozenset(
    [
        "H",
        "He",
        "Li",
        "Be",
        "B",
        "C",
        "N",
        "O",
        "F",
        "Ne",
        "Na",
        "Mg",
        "Al",
        "Si",
        "P",
        "S",
        "Cl",
        "Ar",
        "K",
        "Ca",
        "Sc",
        "Ti",
        "V",
        "Cr",
        "Mn",
        "Fe",
        "Co",
        "Ni",
        "Cu",
        "Zn",
        "Ga",
        "Ge",
        "As",
        "Se",
        "Br",
        "Kr",
        "Rb",
        "Sr",
        "Y",
        "Zr",
        "Nb",
        "Mo",
        "Tc",
        "Ru",
        "Rh",
        "Pd",
        "Ag",
        "Cd",
        "In",
        "Sn",
        "Sb",
        "Te",
        "I",
        "Xe",
        "Cs",
        "Ba",
        "La",
        "Ce",
        "Pr",
        "Nd",
        "Pm",
        "Sm",
        "Eu",
        "Gd",
        "Tb",
        "Dy",
        "Ho",
        "Er",
        "Tm",
        "Yb",
        "Lu",
        "Hf",
        "Ta",
        "W",
        "Re",
        "Os",
        "Ir",
        "Pt",
        "Au",
        "Hg",
        "Tl",
        "Pb",
        "Bi",
        "Po",
        "At",
        "Rn",
        "Fr",
        "Ra",
        "Ac",
        "Th",
        "Pa",
        "U",
        "Np",
        "Pu",
        "Am",
        "Cm",
        "Bk",
        "Cf",
        "Es",
        "Fm",
        "Md",
        "No",
        "Lr",
    ]
)
_EVERYDAY_ELEMENTS = frozenset(
    [
        "H",
        "C",
        "N",
        "O",
        "F",
        "Na",
        "Mg",
        "Al",
        "Si",
        "P",
        "S",
        "Cl",
        "K",
        "Ca",
        "Mn",
        "Fe",
        "Cu",
        "Zn",
        "Br",
        "Ag",
        "I",
        "Ba",
        "Au",
        "Hg",
        "Pb",
        "Li",
    ]
)
_FORMULA = re.compile(r"(?:[A-Z][a-z]?(?:[2-9]|1[0-2])?){2,8}")
_FORMULA_PART = re.compile(r"([A-Z][a-z]?)(\d*)")
_NOT_FORMULAS = frozenset(["NaN"])
# A package's version specifiers ("Python >=3.11,<4", "requests>=2.31,<3", "numpy~=1.26"):
# Piper said ">=3.11,<4" "greater or equal three point one one, four", its "<" lost, and
# "~=" "tilde equals". Said as a reader says the range: "3.11 or later, below 4",
# "compatible with 1.26". Only after a name of 3 letters or more and written as a
# packaging tool's is, each operator glued to its version: a comparison in prose ("x >=
# 5", "if n>=0") stays one.
_SPEC = r"(?:===?|~=|!=|>=|<=|>|<)\d+(?:\.(?:\d+|\*))*"
_SPECIFIERS = re.compile(rf"{_SPEC}(?:[ \t]*,[ \t]*{_SPEC})*")
_SPECIFIERS_START = re.compile(r"[<>=~!][<>=~!\d.,* \t]{0,30}\Z")
_SPEC_PARTS = re.compile(r"(===?|~=|!=|>=|<=|>|<)(\d+(?:\.(?:\d+|\*))*)")
_SPEC_SAID = {
    ">=": "{} or later",
    ">": "above {}",
    "<": "below {}",
    "<=": "{} or earlier",
    "==": "exactly {}",
    "===": "exactly {}",
    "~=": "compatible with {}",
    "!=": "not {}",
}
_PACKAGE_BEFORE = re.compile(r"(?<![\w.-])[A-Za-z][\w.-]{2,}[ \t]?\Z")
_PRODUCT_BEFORE = re.compile(r"(?<![\w.-])[A-Z][\w.-]{2,}[ \t]\Z")
_SHELL_JOINS = {"&&": "and", "||": "or"}
_ASCII_ARROWS = ("->", "=>")  # the same, between blanks ("Settings -> Privacy")
_NUMBERED = re.compile(r"[ \t]*\d{1,3}[.)][ \t]+")
# a task list's box after an item's marker ("- [ ] Buy milk", "- [x] Call Ann")
_TASK_BOX = re.compile(r"\[[ xX]\][ \t]+")
_TASK_BOX_START = re.compile(r"\[(?:[ xX](?:\][ \t]*)?)?\Z")
# An HTML tag, as models write one at times ("<b>bold</b>", "a<br>b" in a table's cell,
# "<span class=…>"): Piper said "b bold slash b", "a bar b". A known tag only ("List<T>",
# "a<b" are none); one that breaks a line or a block is a pause, any other nothing.
# Its attributes are names with values (class="x"), but for a last one alone (<details
# open>): so a comparison written without blanks ("if a<b then c") is told from a tag with
# its second word, where any text up to a ">" was taken for attributes and held the voice
# until a ">" or 150 characters came.
_ATTRIBUTE_NAME = r"[A-Za-z_:][-\w:.]*"
_ATTRIBUTE = rf"{_ATTRIBUTE_NAME}=(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'<>`]+)"
_ATTRIBUTE_START = rf"{_ATTRIBUTE_NAME}(?:=(?:\"[^\"\n]*|'[^'\n]*|[^\s\"'<>`]*))?"
_TAG = re.compile(
    rf"</?([A-Za-z][A-Za-z0-9]*)(?:[ \t]+{_ATTRIBUTE})*(?:[ \t]+{_ATTRIBUTE_NAME}|[ \t]*)/?>"
)
_TAG_START = re.compile(
    rf"<(?:/?(?:([A-Za-z][A-Za-z0-9]*)(?:[ \t]+{_ATTRIBUTE})*"
    rf"(?:[ \t]+(?:{_ATTRIBUTE_START})?|[ \t]*/)?)?)?\Z"
)
# what may follow a block's tag at the answer's end: blanks and other tags ("</li></ul>")
_TAGS_LEFT = re.compile(r"(?:\s|</?[A-Za-z][^<>\n]*>)*(?:<[^<>\n]*)?")
_INLINE_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "big",
        "cite",
        "code",
        "del",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "tt",
        "u",
        "var",
    ]
)
_BLOCK_TAGS = frozenset(
    [
        "blockquote",
        "br",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_TAGS = _INLINE_TAGS | _BLOCK_TAGS
# An HTML character reference ("&amp;", "&nbsp;", "&#39;"), as models write one at times
# with their tags: Piper said "and amp", "and nbsp". Said as the character it stands for
# (html.unescape; a no-break space a blank); one that stands for none stays ("&bogus;").
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_ENTITY_START = re.compile(r"&(?:#[0-9xX]?[0-9a-fA-F]{0,6}|[A-Za-z][A-Za-z0-9]{0,31})?\Z")
# the longest a "[" or "~~" is held to see whether it is a link or struck text: a bracket
# opening an aside that never closes must not keep the voice silent to the line's end
_HOLD_MAX = 150
_TAIL_KEPT = 24  # of the shown text before a word: enough for the word before it
_SENTENCE_KEPT = 120  # ... and enough for its sentence's subject


class SpokenText:
    """Feed it the shown text's deltas in order; each call returns the next stretch to say.

    ``shown_offset`` maps a position in all that was said so far to one in the shown text."""

    def __init__(self) -> None:
        self._pending = ""  # shown text not decided yet
        self._shown = 0  # shown characters decided (said or replaced)
        self._said = 0  # spoken characters returned
        self._last_said = "\n"
        self._before = "\n"  # the shown character before the pending text
        self._in_row = False  # inside a table row (its line began with "|")
        self._in_table = False  # the last line begun was a table's (a row or its separator)
        self._heading_row = False  # the row being said is its table's first: its headings
        self._in_item = False  # inside a list item (its line began with "-", "+" or "1.")
        self._item_from = 0  # where the item's words begin in the spoken text
        self._amount_to = -1  # where the last amount ("$20") ends in the shown text
        self._date_orders: set[DateOrder] = set()  # as the answer's earlier dates showed
        self._shown_tail = ""  # the last shown characters decided: the words before a word
        self._sentence_tail = ""  # ... and more of them, for what a sentence is about
        self._code_lines: set[int] = set()  # where lines of code begin, in the shown text
        self._item_lines: set[int] = set()  # where star list items begin, their star gone
        self._words_at: dict[int, str] = {}  # words said where nothing is shown ("yes" for ✅)
        self._code_spans: list[tuple[int, bool]] = []  # where inline code opens and closes
        self._code_line = False  # in a code block's line
        self._pause_due = False  # a round ended inside a code line: a pause before what follows
        # (spoken start, spoken end, shown start, shown end) of each replaced stretch
        self._replaced: list[tuple[int, int, int, int]] = []

    def feed(
        self,
        delta: str,
        code_lines: Iterable[int] = (),
        item_lines: Iterable[int] = (),
        said_words: Iterable[tuple[int, str]] = (),
        code_spans: Iterable[tuple[int, bool]] = (),
    ) -> str:
        """``code_lines``: where in ``delta`` a code block's lines begin
        (:attr:`SpeakableText.code_lines`): one that starts with "|" is no table's row.
        ``item_lines``: where list items whose star was dropped begin
        (:attr:`SpeakableText.item_lines`): each ends as a sentence, as a "- " item does.
        ``said_words``: words said where nothing is shown (:attr:`SpeakableText.said_words`),
        each where in ``delta`` it is said. ``code_spans``: where inline code spans open
        (True) and close (False) in ``delta`` (:attr:`SpeakableText.code_spans`)."""
        start = self._shown + len(self._pending)
        self._code_spans.extend((start + i, opens) for i, opens in code_spans)
        self._code_lines.update(start + i for i in code_lines)
        self._item_lines.update(start + i for i in item_lines)
        for i, word in said_words:
            self._words_at[start + i] = self._words_at.get(start + i, "") + word
        self._pending += delta
        return self._drain(final=False)

    def flush(self) -> str:
        """What was held back: the answer (or its round) ended. So has an inline code span:
        the close of one that ends the round ("I will run `ls`", then a tool call) comes
        with no text and reaches no one, and the next round's prose was taken for code, an
        address said with its path ("localhost port 80 80 slash admin slash users")."""
        said = self._drain(final=True)
        if self._code_spans and self._code_spans[-1][1]:
            self._code_spans.append((self._shown + len(self._pending), False))
        if self._code_line:
            # so has a code block left open in the middle of its line ("```\ncurl
            # localhost:8080/x", then a tool call): the next round's prose went on as that
            # line, its address said with its path and its first word glued to the code's
            # ("slash xThen open localhost port 80 80 slash admin slash users")
            self._code_line = False
            self._pause_due = not self._last_said.isspace()
        return said

    def _says_path(self) -> bool:
        """Whether an address coming next is said with its path: in code, or right after a
        command that fetches it in prose (``_COMMAND_BEFORE``)."""
        sentence = _SENTENCE_END.split(self._sentence_tail)[-1]
        return self._in_code() or _COMMAND_BEFORE.search(sentence) is not None

    def _in_code(self) -> bool:
        """Whether what comes next is code: in a code block's line or an inline code span."""
        if self._code_line:
            return True
        for at, opens in reversed(self._code_spans):
            if at <= self._shown:
                return opens
        return False

    @property
    def held(self) -> int:
        """How many characters of the shown text are held back for now (a word until the
        blank after it, a link until it is whole)."""
        return len(self._pending)

    def shown_offset(self, said: int) -> int:
        """Where the first ``said`` spoken characters end in the shown text."""
        shift = 0
        for sp0, sp1, sh0, sh1 in self._replaced:
            if said < sp0:
                break
            if said < sp1:
                return sh0  # inside a replaced stretch: not heard whole
            shift = sh1 - sp1
        return said + shift

    # ------------------------------------------------------------------ work
    def _drain(self, *, final: bool) -> str:
        out: list[str] = []
        if self._pause_due and self._pending:
            self._pause_due = False
            if not self._pending[0].isspace():  # said where nothing is shown, as a line end
                self._replaced.append((self._said, self._said + 1, self._shown, self._shown))
                self._said += 1
                self._last_said = "\n"
                out.append("\n")
        while self._pending or self._shown in self._words_at:
            word = self._words_at.pop(self._shown, None)
            if word is not None:
                # said where nothing is shown: what went before it ended where it stands
                # (a check mark stood there), as it does at the answer's end
                self._replaced.append(
                    (self._said, self._said + len(word), self._shown, self._shown)
                )
                self._said += len(word)
                self._last_said = word[-1] if word else self._last_said
                out.append(word)
                continue
            later = [at - self._shown for at in self._words_at if at > self._shown]
            cut = min(later, default=len(self._pending))
            if cut < len(self._pending):
                pending, rest = self._pending[:cut], self._pending[cut:]
                self._pending = pending
                while self._pending:
                    step = self._step(True)
                    if step is None:
                        break
                    self._consume(*step, out)
                self._pending += rest
                continue
            step = self._step(final)
            if step is None:
                break
            shown, spoken = step
            self._consume(shown, spoken, out)
        return "".join(out)

    def _consume(self, shown: str, spoken: str, out: list[str]) -> None:
        if shown != spoken:
            self._replaced.append(
                (self._said, self._said + len(spoken), self._shown, self._shown + len(shown))
            )
        self._pending = self._pending[len(shown) :]
        self._shown += len(shown)
        self._said += len(spoken)
        if spoken:
            self._last_said = spoken[-1]
        self._before = shown[-1]
        self._shown_tail = (self._shown_tail + shown)[-_TAIL_KEPT:]
        self._sentence_tail = (self._sentence_tail + shown)[-_SENTENCE_KEPT:]
        if shown.endswith("\n"):
            self._in_row = self._in_item = False
        out.append(spoken)

    def _step(self, final: bool) -> tuple[str, str] | None:
        """The next stretch of pending shown text and what is said of it; None: wait."""
        text = self._pending
        if self._before == "\n":
            self._code_line = self._shown in self._code_lines
        if not self._in_item and (star := self._star_item()) is not None:
            return star
        if self._before == "\n" and not self._in_row and self._shown not in self._code_lines:
            row = self._row_start(final)
            if row is not False:
                return row
            self._in_table = False
            item = self._item_start(final)
            if item is not False:
                return item
        ch = text[0]
        if ch == "\n" and (self._in_row or self._in_item):  # a row's or an item's end
            if self._in_item and self._said == self._item_from:
                return "\n", "\n"  # an empty item ("- "): a lone "." the voice would say
            return "\n", "\n" if self._last_said in _ENDS_SAYING else ".\n"
        if self._in_row and text.startswith("\\|"):
            return "\\|", "|"  # an escaped pipe ("`a \\| b`" in a cell): no cell's end
        if self._in_row and (ch == "|" or ch in " \t"):
            if not final and not text.strip(" \t"):
                return None  # blanks may be a cell's end
            if _CELL_END.match(text):
                return self._cell_end(final)
        if ch == "@" and _TOKEN.fullmatch(self._before):
            if len(text) == 1 and not final:
                return None
            if text[1:2].isalnum():  # an email address: the voice (Piper) dropped its "@"
                return "@", " at "
        if ch == "&":
            entity = _ENTITY.match(text)
            if entity is not None:
                said = html.unescape(entity.group()).replace("\xa0", " ")
                if said != entity.group():
                    return entity.group(), said
            elif not final and _ENTITY_START.match(text) is not None:
                return None  # "&am" may be "&amp;" yet
        if ch == "[":
            footnote = _FOOTNOTE.match(text)
            follows = text[footnote.end() : footnote.end() + 1] if footnote is not None else ""
            if footnote is not None and not follows and not final:
                return None  # "[^1](x)" is a link
            if footnote is not None and follows != "(":
                label = footnote.group(1)
                if self._before == "\n" and follows == ":":
                    return footnote.group(), f"Footnote {label}"  # its text: "[^1]: A source."
                return footnote.group(), ""  # a reference to it: "a claim.[^1]"
            if not final and text[1:2] == "^" and _FOOTNOTE_START.match(text):
                return None  # "[^1" may be a footnote yet
        if ch in "[<":
            mark = self._mark(final)
            if mark is not False:
                return mark
        if ch in "[!":
            link = self._link(final)
            if link is not False:
                return link
        if ch == "~" and not text.startswith("~/"):
            strike = self._strike(final)
            if strike is not False:
                return strike
        # (after a range's hyphen, said "to": "$20-$30")
        if ch in _CURRENCY and (not _TOKEN.fullmatch(self._before) or self._last_said == " "):
            amount = self._amount(final)
            if amount is not False:
                return amount
        # (a time's "am" or "pm" too: "8am–5pm" was said "8am 5pm")
        weekday = _WEEKDAY_BEFORE_DASH.search(self._shown_tail) is not None  # "Mon–Fri"
        after_number = (
            self._before.isdigit()
            or weekday
            or self._before == "%"
            or re.search(r"\d[ \t]?[ap]\.?m\.?\Z", self._shown_tail, re.IGNORECASE) is not None
        )
        # a hyphen after an amount or a percentage ("$20-$30", "20%-30%"): a word of numbers
        # alone ("5-10") is told in _spoken_token
        hyphen = ch == "-" and (self._shown == self._amount_to or self._before == "%")
        if (ch == _RANGE_DASH and after_number) or hyphen:
            if len(text) == 1 and not final:
                return None  # a number may follow
            if text[1:2].isdigit() or text[1:2] in _CURRENCY or (weekday and text[1:2].isalpha()):
                return ch, " to "
        if ch == "/" and self._shown == self._amount_to:
            unit = _PER_UNIT.match(text)  # "$5/month": "5 dollars per month"
            if not final and (len(text) == 1 or (unit is not None and unit.end() == len(text))):
                return None
            if unit is not None:
                word = unit.group(1)
                self._amount_to = self._shown + unit.end()  # "$20/user/mo": per user per month
                # a rate's time ("10 EUR/h", "$2/min") as a rate says it: "per h" was said
                said = _UNITS_SAID.get(word.lower()) or _PER_SAID.get(word, word)
                return unit.group(), " per " + said
        if ch == "^" and (self._before.isalnum() or self._before == ")"):
            # a power ("2^10", "x^2"): Whisper heard Piper's "2^10" as "to 10"
            if len(text) == 1 and not final:
                return None
            if text[1:2].isdigit() or text[1:2].isalpha():
                return ch, " to the power of "
        if ch == "°" and (self._before.isdigit() or self._before in " \t"):
            # a temperature's scale ("72°F", "-5 °C"): heard "degrees F", "degrees C"
            if len(text) < 3 and not final:
                return None  # "°F" may go on ("°Fahrenheit")
            scale = _DEGREES.get(text[1:2])
            if scale is not None and not text[2:3].isalpha():
                blank = "" if self._last_said.isspace() else " "
                one = re.search(r"(?<![\d.])1[ \t]*\Z", self._shown_tail) is not None
                return text[:2], f"{blank}{'degree' if one else 'degrees'} {scale}"
        if ch in _INCH_MARKS and self._before.isdigit():
            # a size in inches ("a 27\" monitor", "1/4\" bolt"): the mark was not said, heard
            # "a 27 monitor"; not a quotation's closing mark ("he said \"27\"")
            # (a quotation may go on over a line's break or a full stop: "heard \"27,946\n0
            # 5\"", "\"No. 5\"": only a paragraph's end closes it)
            line = re.split(r"\n[ \t]*\n", self._sentence_tail)[-1]
            quoted = re.search(r"(?:\A|[\s(\[/])\"[^\"]*\Z", line) is not None
            if not quoted and _INCH_NUMBER_BEFORE.search(self._shown_tail):
                if not final and re.fullmatch(r".[ \t]*[A-Za-z]*", text):
                    return None  # "27\" " may be "27\" monitor": "27 inch monitor"
                noun = re.match(r".[ \t]+[A-Za-z]", text) is not None and not re.match(
                    r".[ \t]+(?:wide|tall|long|deep|thick|high|across)\b", text
                )  # ("6.1\" wide": inches)
                blank = "" if self._last_said.isspace() else " "
                return ch, blank + ("inch" if noun else "inches")
        if ch == "'" and self._before.isdigit():
            # a height in feet and inches ("5'11\""): heard "5-11"
            height = _FEET_INCHES.match(text)
            if height is not None:
                return height.group(), f" foot {height.group(1)}"
            if not final and re.fullmatch(r"'\d{0,2}", text):
                return None
        if ch == _MULTIPLY:  # "3×4", "×2": Piper said nothing for it, or "multiplication"
            if len(text) == 1 and not final:
                return None
            before = "" if self._last_said.isspace() else " "
            return ch, before + "times" + ("" if text[1:2] in ("", " ", "\t", "\n") else " ")
        if ch in _ARROWS:
            return ch, ", " if self._last_said.isalnum() else ","
        if ch in "<>=~!" and _PACKAGE_BEFORE.search(self._shown_tail):
            specifiers = self._specifiers(text, final)
            if specifiers is not False:
                return specifiers
        if ch in "0123456789>&|" and self._before in " \t" and not self._in_row:
            shell = self._shell(text, final)
            if shell is not False:
                return shell
        if ch in "<>-" and self._before in " \t" and _OPERAND_BEFORE.search(self._shown_tail):
            operator = self._operator(ch, text, final)
            if operator is not False:
                return operator
        if ch in "-=" and self._before in " \t":
            # an arrow as models write it in plain text ("Settings -> Privacy"), between
            # blanks: Piper said nothing for it, the two names in one breath
            arrow = text[:2] in _ASCII_ARROWS
            if not final and len(text) < 3 and (text == ch or arrow):
                return None  # it may be one yet
            if arrow and text[2:3] in (" ", "\t"):
                return text[:2], ", " if self._last_said.isalnum() else ","
        at_word = not _TOKEN.fullmatch(self._before) or bool(_SPACELESS_RUN.match(self._before))
        if ch.isdigit() and at_word:
            after_sign = self._amount_after(final)
            if after_sign is not False:
                return after_sign
        if ch == "O" and at_word:
            # a complexity in big-O notation ("O(n log n)", "O(1)"): Piper said "O" and
            # the bracket's words ran on, heard "O and log in", "O1"
            if (big_o := _BIG_O.match(text)) is not None and _is_complexity(big_o.group(1)):
                return big_o.group(), f"big O of {_big_o_said(big_o.group(1))}"
            if not final and _BIG_O_START.fullmatch(text):
                return None  # "O(n log" may be "O(n log n)"
        if ch == "-" and at_word and text[1:2].isdigit():
            # "-5,50 €": the hyphen joins the number, which was then no amount (heard
            # "550 euros", its minus lost); "−5,50 €" was said as one after its minus sign
            after_sign = self._amount_after(final, 1)
            if after_sign is None:
                return None
            if after_sign is not False:
                return ch + after_sign[0], f"minus {after_sign[1]}"
        if ch in _MINUS_SIGNS and at_word and text[1:2] in ("", *_CURRENCY):
            if len(text) == 1 and not final:
                return None  # "-" may be "-$20"
            if text[1:2]:
                return ch, "minus "
        if ch in "+(" and at_word:
            phone = self._bracketed_phone(final)
            if phone is not False:
                return phone
        if at_word:
            url = self._url(final)
            if url is not False:
                return url
        token = _TOKEN.match(text)
        if token is None:
            return ch, ch
        run = _SPACELESS_RUN.match(text)
        if run is not None:
            return run.group(), run.group()  # said as written; what follows may be an address
        word = token.group()
        glued = _SPACELESS_RUN.search(word)
        if glued is not None:  # a path or a name written right before Japanese or Chinese
            after_run = _SPACELESS_RUN.match(self._before) is not None
            if after_run and not re.search(r"[A-Za-z0-9~]", word[: glued.start()]):
                word = word[: glued.start()]  # "資料/計画.md": no path begins at its "/"
            elif token.end() == len(text) and not final:
                return None  # the path may go on in Japanese: "docs/設計.md"
            else:
                word = word[: _path_end(word, glued.start())]
        elif token.end() == len(text) and not final:
            return None  # a word is said once whole: it may be a path or a URL yet
        if not at_word:
            return word, word
        after = text[len(word) :]
        if (
            not final
            and word.lower() in _MAY_END
            and (not after.strip(" \t") or _CAPITAL_WORD_START.fullmatch(after))
        ):
            # "max. " may end its sentence ("max. Then") or not ("max. 3", "max. Two")
            return None
        if (
            not final
            and word.isdigit()
            and len(word) >= 10
            and (not after.strip(" \t") or _COUNTED_AFTER_START.fullmatch(after))
        ):
            return None  # "1733574000 " may be "1733574000 seconds", a count, no code
        if not final and _TIMES_AFTER.fullmatch(word) and not after.strip(" \t"):
            return None  # "3x " is a multiplier if a word follows ("3x faster"), not "3x + 2"
        if not final and _ON_THE_HOUR.fullmatch(word) and _AM_PM_START.fullmatch(after):
            return None  # "9:00 " may be "9:00 am", said "9 am"
        if (
            not final
            and _MINUTES_SECONDS.fullmatch(word)
            and _DURATION_BEFORE.search(self._shown_tail)
            and (_unit_after(after) is None or _AM_PM_START.fullmatch(after))
        ):
            return None  # "for 1:30 " may be "for 1:30 hours" or "1:30 pm"
        short = word.rstrip(".")
        if (
            not final
            and (short in _WEEKDAYS or short in _SHORT_MONTHS)
            and _DATE_AFTER_START.fullmatch(after)
        ):
            return None  # "Dec " may be "Dec 8", said "December 8"
        if (
            not final
            and (written_unit := _UNIT.fullmatch(word)) is not None
            and written_unit.group(2) in _ADJECTIVE_UNITS
            and _NOUN_AFTER_START.fullmatch(after)
        ):
            return None  # "10 MB " may be "10 MB blocks", said "10 megabyte blocks"
        if not final and word in _CURRENCY_CODES and _CODE_AMOUNT_START.fullmatch(after):
            return None  # "CHF " may be "CHF 20", said "20 Swiss francs"
        if (
            not final
            and word in _CURRENCY_CODES
            and _NUMBER_BEFORE.search(self._shown_tail)
            and _NOUN_AFTER_START.fullmatch(after)
        ):
            return None  # "2 CAD " may be "2 CAD files", no Canadian dollars
        if not final and _GENERATION.fullmatch(word) and _NOUN_AFTER_START.fullmatch(after):
            return None  # "a 5g " may be "a 5g network", no gram
        if not final and _HOUSE_NUMBER.fullmatch(word) and not after.strip(" \t"):
            return None  # "221B " may be "221B Baker Street"
        if not final and word == "sq" and _SQUARE_AFTER_START.fullmatch(after):
            return None  # "180 sq " may be "180 sq ft", said "180 square feet"
        if not final and word == "fl" and _FLUID_AFTER_START.fullmatch(after):
            return None  # "4 fl " may be "4 fl oz", said "4 fluid ounces"
        if (
            not final
            and (pair := _NUMBER_PAIR.fullmatch(word)) is not None
            and _part_of(int(pair.group(1)), int(pair.group(2))) is not None
            and _NOUN_AFTER_START.fullmatch(after)
        ):
            return None  # "1/5 " may be "1/5 of it", said "one fifth of it"
        if (
            not final
            and (pair := _NUMBER_PAIR.fullmatch(word)) is not None
            and int(pair.group(2)) < int(pair.group(1))
            and _PRESSURE_AFTER_START.fullmatch(after)
        ):
            return None  # "120/80 " may be "120/80 mmHg", said "120 over 80"
        if not final and _NUMBER_PAIR.fullmatch(word) and _may_join(after):
            return None  # "2/5 " may be "2/5 and 2/1", said "2 5 and 2 1"
        if not final and _PLAIN_VERSION.fullmatch(word) and not after.strip(" \t"):
            return None  # "v2 " may be a variable: "v2 = 3"
        orders = self._date_orders
        order = next(iter(orders)) if len(orders) == 1 else None  # (both: none is plain)
        if (date := _SLASH_DATE.fullmatch(word.rstrip(".:~-"))) is not None:
            shows = _slash_date_said(date, order)[1]
            orders.update([shows] if shows else [])
        elif (pair := _NUMBER_PAIR.fullmatch(word.rstrip(".:~-,;"))) is not None and (
            _WEEKDAY_DATE_BEFORE.search(self._shown_tail)
        ):
            shows = _day_month_said(int(pair.group(1)), int(pair.group(2)), order)[1]
            orders.update([shows] if shows else [])  # "Fri 12/25": later "Sat 1/6" is January
        if word in _AFTER_A_CHANGE_ONLY and self._heading_row and self._in_row:
            # alone in a table's heading, "| Month | MoM |", it names a column of changes
            # (it was left "MoM", heard "mom"); in a row's cell it may be a document still
            if not final and not after.strip(" \t"):
                return None  # "| MoM " may go on: "| MoM notes |"
            if _CELL_START_BEFORE.search(self._shown_tail) and _CELL_END_AFTER.match(after):
                return word, _SHORT_FORMS[word]
        sentence = _SENTENCE_END.split(self._sentence_tail)[-1]
        shown, said = _spoken_token(word, after, self._shown_tail, order, sentence)
        if (address := _HOST_PORT.match(shown)) is not None and self._says_path():
            said += _path_said(shown[address.end() :])  # "localhost:11434/api/tags"
        # ... and so after a path said by its name ("GET /search?q=x", in code or prose):
        # "search?q=x" was read as written, "question mark q equals x"
        path = "/" in word and any(c.isalpha() for c in word)  # ("1/2?" is a fraction's)
        if (address is not None or path) and shown == word and said != shown:
            if not final and _QUERY_START.fullmatch(after):
                return None  # "localhost:8080/search?q" may go on: "?q=x&n=2"
            if (query := _QUERY.match(after)) is not None:
                # its query is no word of the path: "localhost port 80 80?q=x&n=2" was said,
                # where an address with a scheme drops it
                tail = _URL_TAIL.search(query.group())
                shown += query.group()[: tail.start()] if tail is not None else query.group()
        if shown != said and shown.split(" ")[0] in _CURRENCY_CODES:
            self._amount_to = self._shown + len(shown)  # "5 USD/month": "… per month"
        return shown, said

    def _row_start(self, final: bool) -> tuple[str, str] | Literal[False] | None:
        """At a line start: a table row's opening pipe, a separator line, or False."""
        text = self._pending
        blanks = len(text) - len(text.lstrip(" \t"))
        if blanks == len(text):
            return None if not final else False
        if text[blanks] != "|":
            return False
        line_end = text.find("\n")
        line = text if line_end < 0 else text[: line_end + 1]
        if "-" in line and _SEPARATOR_LINE.match(line):
            if line_end < 0 and not final:
                return None  # "|---|" so far: a separator line, unless more comes
            self._in_table = True
            return line, ""
        if line_end < 0 and not final and re.fullmatch(r"[ \t]*\|[ \t|:]*", line):
            return None  # "| :" may be the start of "| :--- |"
        opening = _CELL_END.match(text)
        assert opening is not None
        self._in_row = True
        self._heading_row = not self._in_table
        self._in_table = True
        return text[: opening.end()], ""

    def _star_item(self) -> tuple[str, str] | None:
        """At a list item whose star the Markdown pass dropped (" eggs", "   eggs"
        nested): its blanks, said as nothing; None if none begins here. Told only by
        ``item_lines``, it is an item as a "- " one is: its end is said as a sentence's (the
        items went to the voice as one run of words, "eggs milk bread", with no pause)."""
        text = self._pending
        lead = len(text) - len(text.lstrip(" \t"))
        if not any(self._shown + i in self._item_lines for i in range(lead + 1)):
            return None
        self._in_item = True
        self._item_from = self._said
        return (text[:lead], "") if lead else None

    def _item_start(self, final: bool) -> tuple[str, str] | Literal[False] | None:
        """At a line start: a list item's marker, or False. Its dash was read with the
        words around it ("- eggs\\n- milk" was "eggs-milk", heard "Ex-Milk"), and its
        items ran into each other with no pause: the dash is said as nothing, and the
        item's end as the end of a sentence (``_step``)."""
        text = self._pending
        marker = _BULLET.match(text) or _NUMBERED.match(text)
        if marker is None:
            # "-", "1" or "12." so far may be a marker yet; anything else is no item
            maybe = re.fullmatch(rf"[ \t]*(?:[{_BULLETS}]|\d{{1,3}}[.)]?)", text)
            return None if maybe is not None and not final else False
        if marker.end() == len(text) and not final:
            return None  # the item's words are still to come
        self._in_item = True
        said = "" if marker.group().strip() in _BULLETS else marker.group()
        self._item_from = self._said + len(said)
        return marker.group(), said

    def _amount(self, final: bool) -> tuple[str, str] | Literal[False] | None:
        """An amount with its currency's sign before it, said with the currency after it
        (``_AMOUNT``); False: none here; None: it may go on (more digits, a scale word)."""
        text = self._pending
        amount = _AMOUNT.match(text)
        if amount is None:
            return None if not final and len(text) == 1 else False
        rest = text[amount.end() :]
        if not final and _EUROPEAN_START.match(text):
            return None  # "€1.299" may be "€1.299,00"
        if not final and _UNIT_PRICE_START.match(text):
            return None  # "€1,799/" may be "€1,799/L", no thousands
        if (price := _UNIT_PRICE.match(text)) is not None:
            self._amount_to = self._shown + price.end()  # its "/L" said "per liter"
            return price.group(), f"{price.group(1)}.{price.group(2)} euros"
        european = _EUROPEAN_AMOUNT.match(text)
        if european is not None and european.group(1) == "¥" and len(european.group(3)) == 1:
            european = None  # (a yen has no tenths to say)
        after = text[european.end() :] if european is not None else ""
        if not final and european is not None and after[:1] in (",", ".") and len(after) < 2:
            return None  # "€5,50." may go on: "€5,50.5" is none
        if european is not None and european.group(1) != "¥":
            scale = _EUROPEAN_SCALE.match(after)
            if not final:  # (a whole word too: "Mrd" may go on as "Mrd. for")
                start = _EUROPEAN_SCALE_START.match(after)
                words = (*_SCALE_WORDS, *_EUROPEAN_SCALE_WORDS)
                if start is not None and (
                    "." in start.group()
                    or any(w.startswith(start.group().strip().rstrip(". \t")) for w in words)
                ):
                    return None  # "€5,5 mil" may be "€5,5 million"; "€3,5 Mio." a sentence's end
            if scale is not None:
                self._amount_to = self._shown + european.end() + scale.end()
                sign, whole, cents = european.groups()
                number = whole.replace(".", ",") + "." + cents
                number = number.rstrip("0").rstrip(".")  # "€5,50 Mio." is 5.5 million
                word = scale.group(1) or _EUROPEAN_SCALE_WORDS[scale.group(2)]
                return european.group() + scale.group(), f"{number} {word} {_CURRENCY[sign][1]}"
        if european is not None:
            self._amount_to = self._shown + european.end()
            sign, whole, cents = european.groups()
            whole = whole.replace(".", ",")  # ("1,299" as "$1,299" is said)
            cents = cents.ljust(2, "0")  # "€5,5" is 5 euros 50
            if whole == "0" and sign in "$€£":  # "€0,50": 50 cents, as "€0.50" is said
                n, small = int(cents), ("penny", "pence") if sign == "£" else ("cent", "cents")
                return european.group(), f"{n} {small[0] if n == 1 else small[1]}"
            one, many = _CURRENCY[sign]
            said = f"{whole} {one if whole == '1' else many}"
            return european.group(), said if cents == "00" or sign == "¥" else f"{said} {cents}"
        if european is None and not any(amount.group(n) for n in (3, 4, 5)):
            # a whole amount with German's scale word ("€2 Mrd.", "€3 Mio. Umsatz"): it was
            # said "2 euros Mrd.", as "€2,5 Mrd." is said "2.5 billion euros"
            start = _EUROPEAN_SCALE_START.match(rest) if not final else None
            if start is not None and (
                "." in start.group()
                or any(w.startswith(start.group().strip()) for w in _EUROPEAN_SCALE_WORDS)
            ):
                return None  # "€2 Mr" may be "€2 Mrd."
            scale = _EUROPEAN_SCALE.match(rest)
            if scale is not None and scale.group(2):
                self._amount_to = self._shown + amount.end() + scale.end()
                word = _EUROPEAN_SCALE_WORDS[scale.group(2)]
                return (
                    amount.group() + scale.group(),
                    f"{amount.group(2)} {word} {_CURRENCY[amount.group(1)][1]}",
                )
        if not final and amount.group(4) and not rest:
            return None  # "$3b" may be "$3bn"; said at once, "3 billion dollarsn"
        if not final and not amount.group(4) and not amount.group(5):
            if re.fullmatch(r"(?:[,.]\d*)?", rest):
                return None  # "$1" may be "$1,250" or "$3.50"
            may = _MAY_SCALE.match(rest)
            if may is not None and any(w.startswith(may.group().strip()) for w in _SCALE_WORDS):
                return None  # "$5 " may be "$5 million"
        self._amount_to = self._shown + amount.end()
        return amount.group(), _amount_said(amount)

    def _amount_after(self, final: bool, start: int = 0) -> tuple[str, str] | Literal[False] | None:
        """An amount with its currency's sign after the number (``_AMOUNT_AFTER``), said
        as one with the sign before it; False: none here; None: it may become one.
        ``start``: where in the pending text its number begins (after a minus)."""
        text = self._pending[start:]
        scaled = _SCALED_AFTER.match(text)
        if scaled is not None and (scaled.end() < len(text) or final):
            self._amount_to = self._shown + start + scaled.end()  # ("5 Mio. €/year")
            number = scaled["whole"].replace(".", ",")
            if scaled["decimals"]:
                number = f"{number}.{scaled['decimals']}".rstrip("0").rstrip(".")
            word = scaled["word"] or _SHORT_SCALES[scaled["short"]]
            return scaled.group(), f"{number} {word} euros"
        if not final and _SCALED_AFTER_START.match(text):
            return None  # "5,5 Mio. " may be "5,5 Mio. €"
        count = _SCALED_COUNT.match(text)
        if count is not None and (count.end() < len(text) or final):
            number = count["whole"].replace(".", ",")
            if count["decimals"]:
                number = f"{number}.{count['decimals']}".rstrip("0").rstrip(".")
            return count.group(), f"{number} {_SHORT_SCALES[count['short']]}"
        amount = _AMOUNT_AFTER.match(text)
        if amount is None or (amount.end() == len(text) and not final):
            may = not final and _AMOUNT_AFTER_START.match(text) is not None
            return None if may else False  # ("20 €" may be "20 €5", no amount)
        self._amount_to = self._shown + start + amount.end()  # ("5 €/month": "per month")
        if amount["unit_whole"]:
            number = f"{amount['unit_whole']}.{amount['unit_decimals']}"
            return amount.group(), f"{number} {'euro' if number == '1' else 'euros'}"
        whole = (amount["whole"] or amount["plain"]).replace(".", ",")  # as "€1,299" is said
        cents = amount["cents"] or amount["dot_cents"]
        cents = cents.ljust(2, "0") if cents else None  # "2,5 €" is 2 euros 50 ("2 years 5")
        if whole == "0" and cents:  # "0,99 €": 99 cents, as "€0.99" is said
            return amount.group(), f"{int(cents)} {'cent' if cents == '01' else 'cents'}"
        said = f"{whole} {'euro' if whole == '1' else 'euros'}"
        return amount.group(), said if cents in (None, "00") else f"{said} {cents}"

    def _mark(self, final: bool) -> tuple[str, str] | Literal[False] | None:
        """A task list's box at its item's start ("- [x] Call Ann"), said as nothing
        (Piper said "ex Call Ann"), or an HTML tag (``_TAG``): a line break ("a<br>b", as
        models write one in a table's cell) or a block's a pause (Piper said "a bar b"),
        any other nothing (Piper said "b bold slash b"); False: neither."""
        text = self._pending
        if text[0] == "[" and self._in_item and self._said == self._item_from:
            box = _TASK_BOX.match(text)
            if box is not None and (box.end() < len(text) or final):
                return box.group(), ""
            if box is None and _TASK_BOX_START.match(text) is None:
                return False
            return None if not final else False
        if text[0] == "<":
            tag = _TAG.match(text)
            name = tag.group(1).lower() if tag is not None else ""
            if tag is not None and name in _INLINE_TAGS:
                # Between two letters or digits, a blank: the text is shown as written, tags
                # and all, and "a<b>c</b>" was said "ac", a word that is nowhere on the
                # screen. (A word emphasised in part, "<b>un</b>likely", is said in two:
                # models write that far less often than a tag glued to a word.)
                after = text[tag.end() : tag.end() + 1]
                if not after and not final:
                    return None
                glued = self._last_said.isalnum() and after.isalnum()
                return tag.group(), " " if glued else ""
            if tag is not None and name in _BLOCK_TAGS:
                if _TAGS_LEFT.fullmatch(text, tag.end()):
                    # only blanks and tags after it so far: at the answer's end no pause
                    # is said (the voice was left a ", " to end on)
                    if final:
                        return tag.group(), ""
                    if len(text) <= _HOLD_MAX:
                        return None
                last = self._last_said  # a pause after a word; after a full stop a blank
                return tag.group(), ", " if last.isalnum() else "" if last.isspace() else " "
            start = _TAG_START.match(text) if not final and tag is None else None
            if start is not None and len(text) <= _HOLD_MAX:
                begun = (start.group(1) or "").lower()
                if any(t.startswith(begun) for t in _TAGS):
                    return None  # "<", "</" or "<sp" may be a tag yet
        return False

    def _bracketed_phone(self, final: bool) -> tuple[str, str] | Literal[False] | None:
        """A phone number whose area code is in brackets (``_BRACKETED_PHONE``), said digit
        by digit; False: none here; None: it may be one yet."""
        text = self._pending
        phone = _BRACKETED_PHONE.match(text)
        if phone is not None and (phone.end() < len(text) or final):
            country, *groups = phone.groups()
            said = _digits_said(groups)
            return phone.group(), f"plus {country}, {said}" if country else said
        if not final and (phone is not None or _BRACKETED_PHONE_START.match(text)):
            return None
        spaced = _SPACED_PHONE.match(text)
        if spaced is not None and sum(c.isdigit() for c in spaced.group(2)) >= 6:
            if not final and not text[spaced.end() :].strip(" \t"):
                return None  # "+44 20 7946 0958 " may go on: "… 12"
            groups = spaced.group(2).split()
            return spaced.group(), f"plus {spaced.group(1)}, {_digits_said(groups)}"
        if not final and _SPACED_PHONE_START.match(text):
            return None
        return False

    def _cell_end(self, final: bool) -> tuple[str, str] | None:
        """A pipe in a table row: a pause between cells, or the row's end."""
        text = self._pending
        pipe = _CELL_END.match(text)
        assert pipe is not None
        if pipe.end() == len(text) and not final:
            return None
        if self._shown + pipe.end() in self._words_at:
            return pipe.group(), ", "  # a cell said but not shown follows: "| Java | ❌ |"
        if pipe.end() == len(text) or text[pipe.end()] == "\n":
            return pipe.group(), "" if self._last_said in _ENDS_SAYING else "."
        return pipe.group(), " " if self._last_said in _ENDS_SAYING else ", "

    def _specifiers(self, text: str, final: bool) -> tuple[str, str] | Literal[False] | None:
        """A package's version specifiers after its name (``_SPECIFIERS``): ">=3.11,<4"
        "3.11 or later, below 4". None: wait, they may go on; False: none here."""
        found = _SPECIFIERS.match(text)
        if (
            found is not None
            and not final
            and re.fullmatch(r"[\d.,* \t<>=~!]*", text[found.end() :])
        ):
            return None  # ">=3." may go on: ">=3.11,<4"
        if found is None:
            return None if not final and _SPECIFIERS_START.fullmatch(text) else False
        spec = found.group()
        parts = _SPEC_PARTS.findall(spec)
        glued = not self._before.isspace()
        # (after a blank, one operator with a dotted version after a name written with its
        # capital, "Python >=3.11", "Django >=4.2", is a product's range: it was said "greater
        # or equal"; a variable's comparison, "value >=3.5", keeps its operator)
        named = glued or _PRODUCT_BEFORE.search(self._shown_tail) is not None
        if not (len(parts) > 1 or parts[0][0] in ("~=", "==", "===") or (named and "." in spec)):
            return False  # "n>=0", "Python >=3": no range of versions told apart from a comparison
        said = ", ".join(
            _SPEC_SAID[op].format(version.replace(".*", " dot star"))  # "==4.2.*"
            for op, version in parts
        )
        return spec, (" " if glued else "") + said

    def _shell(self, text: str, final: bool) -> tuple[str, str] | Literal[False] | None:
        """A shell's redirection or join between blanks (``_REDIRECT``, ``_PIPED``,
        ``_SHELL_JOINS``): "2>&1" "2 to 1", "> out.txt" "to out.txt", "| grep" "pipe
        grep", "&&" "and". None: wait, it may be one yet; False: none here."""
        blank = "" if self._last_said.isspace() else " "
        if text[:2] in _SHELL_JOINS:
            if len(text) == 2 and not final:
                return None  # "&&" may be "&&&" (no join), or go on with a blank
            if text[2:3] in (" ", "\t", "\n"):
                return text[:2], blank + _SHELL_JOINS[text[:2]]
            return False
        if text[0] == "|":
            if not final and _PIPED_START.fullmatch(text):
                return None  # "| gr" may be "| grep"
            piped = _PIPED_AFTER.match(text)
            if piped is not None and piped.group(1) in _PIPED:
                return "|", blank + "pipe"
            return False
        redirect = _REDIRECT.match(text)
        if redirect is not None and redirect.end() == len(text) and not final:
            return None  # "2>" may be "2>&1"
        if redirect is None:
            if not final and _REDIRECT_START.match(text) and not text[:1].isdigit():
                return None  # ">" may be ">>" or ">&2"
            if not final and text[:1].isdigit() and re.fullmatch(r"[0-9](?:>>?&?)?", text):
                return None  # "2" may be "2>&1"
            return False
        said = [redirect.group(1) or "", "to", redirect.group(2) or ""]
        if redirect.group(2) is None:
            # a ">" may be a comparison ("x > y") or stand for itself ("a - > b"): a
            # redirection only before a file ("> out.txt", "2> errors.log", "> /dev/null")
            rest = text[redirect.end() :]
            if not final and not re.match(r"[ \t]*\S+[ \t\n]", rest):
                return None
            target = re.match(r"[ \t]*(\S+)", rest)
            name = target.group(1).rstrip(".,;:") if target is not None else ""
            if not (_is_path(name) or _is_file_name(name)):
                return False
        return redirect.group(), blank + " ".join(w for w in said if w)

    def _operator(self, ch: str, text: str, final: bool) -> tuple[str, str] | Literal[False] | None:
        """A comparison or a minus between blanks in a formula ("x > 5", "2^8 - 1 = 255"):
        Piper said nothing for either, "if x5", "2 to the power of 8 1 equals 255". ">" and
        "<" between two operands are "greater than" and "less than"; " - " before a number
        is "minus" where its sentence is a formula (an operator before it, or "=" after it
        in the sentence: "10 - 3 = 7"), held until that is known (a "=", the sentence's
        end or ``_MINUS_LOOK`` characters); elsewhere ("open 9 - 5") as written. False:
        no operator here."""
        if ch in "<>":
            if not final and _COMPARISON_START.fullmatch(text):
                return None  # "x > " may be "x > 5" or "x > y"
            if _NUMBER_COMPARED.match(text) or (
                _SHORT_OPERAND_BEFORE.search(self._shown_tail) and _SHORT_COMPARED.match(text)
            ):
                blank = "" if self._last_said.isspace() else " "
                return ch, f"{blank}{'greater' if ch == '>' else 'less'} than"
            if ch == ">" and _MENU_STEP.match(text):
                # a menu's path ("Settings > Privacy > Camera"): a pause, as an arrow's
                return ch, ","
            return False
        if len(text) < 3 and not final:
            return None if _COMPARISON_START.fullmatch(text) else False
        if not final and _MINUS_START.fullmatch(text):
            return None  # "- x" may be "- x =" or "- xs"
        if _MINUS_OPERAND.match(text) is None:
            return False
        sentence = _SENTENCE_END.split(self._sentence_tail)[-1]
        ahead = _MINUS_AHEAD.match(text)
        if _FORMULA_BEFORE.search(sentence) or (ahead is not None and ahead.group(1)):
            blank = "" if self._last_said.isspace() else " "
            return ch, f"{blank}minus"
        if ahead is None and not final and len(text) < _MINUS_LOOK:
            return None  # "10 - 3" may go on: "10 - 3 = 7"
        return False

    def _link(self, final: bool) -> tuple[str, str] | Literal[False] | None:
        text = self._pending
        link = _LINK.match(text)
        # (a label longer than a "[" is held for is none, however the text came: the same
        # as when its "]" came only after the hold had ended)
        if link is not None and text.find("]") <= _HOLD_MAX:
            label, address = link.group(1).strip(), link.group(2)
            if not label or URL.fullmatch(label):
                label = _host(label or address)
            else:
                label = _said_alone(label)
            return link.group(), label
        if not final and _LINK_START.match(text):
            label = text.find("]")
            if len(text if label < 0 else text[:label]) <= _HOLD_MAX:
                return None  # (an address may be long; a label, or an aside, is not)
        return False

    def _strike(self, final: bool) -> tuple[str, str] | Literal[False] | None:
        text = self._pending
        if text == "~" and not final:
            return None
        if not text.startswith("~~"):
            return False
        close = text.find("~~", 2)
        line_end = text.find("\n")
        if 0 <= close < _HOLD_MAX and (line_end < 0 or close < line_end):
            return text[: close + 2], ""  # (closed later, it is not: see _link)
        if line_end < 0 and not final and len(text) <= _HOLD_MAX:
            return None
        return "~~", ""  # not closed on its line (or soon): only the marks go

    def _url(self, final: bool) -> tuple[str, str] | Literal[False] | None:
        # pip's address of a repository ("git+https://github.com/o/r.git") is one too: "+"
        # goes on a word, which was said whole
        vcs = _VCS_PREFIX.match(self._pending)
        prefix = vcs.group() if vcs is not None else ""
        text = self._pending[len(prefix) :]
        short = len(text) < len("<https://")  # (only such a short text can be cut from one)
        if not final and short and any(p.startswith(text.lower()) for p in _URL_PREFIXES):
            return None
        url = URL.match(text)
        bare = url is None and not prefix
        if bare:
            url = _BARE_URL.match(text)
        if url is None:
            return False
        if url.end() == len(text) and not final:
            return None
        address = url.group()
        tail = _URL_TAIL.search(address)
        if tail is not None and not address.startswith("<"):
            address = address[: tail.start()]
            # a closing bracket that opened inside it is its own (a Wikipedia address)
            while (
                address.count("(") > address.count(")")
                and len(address) < url.end()
                and text[len(address)] == ")"
            ):
                address += ")"
        if address.lower().rstrip("/") in ("http:", "https:", "www.", "www"):
            return False
        said = _host("//" + address if bare else address)
        if self._says_path():
            # read as _host reads it: "www.example.com/docs" has no scheme either (its
            # whole was taken for a path, "example.com slash www.example.com slash docs")
            whole = address.strip("<>")
            if bare or whole.lower().startswith("www."):
                whole = "//" + whole
            said += _path_said(urlsplit(whole).path)
        return prefix + address, said


def _host(address: str) -> str:
    """How an address is said: its host, without "www.", and its port, as a host's alone is
    said ("localhost:8080/docs" is "localhost port 80 80": the port was dropped, and with it
    which server to open); "a link" when it has none."""
    address = address.strip("<>")
    if address.lower().startswith("www."):
        address = "//" + address
    try:
        parts = urlsplit(address)
        host = parts.hostname or ""
    except ValueError:
        host = ""
    host = host.removeprefix("www.")
    if not host:
        return "a link"
    try:
        port = parts.port
    except ValueError:
        port = None  # git's "github.com:org/repo.git" names no port
    return f"{host} port {_port_said(str(port))}" if port is not None else host


def _is_complexity(inner: str) -> bool:
    """Whether "O(…)" is big-O notation: a complexity names a size ("n", "log n", "V + E")
    or is constant, "O(1)". A bare number other than 1 is no complexity anyone writes:
    "Oxygen O(2)" (an atom and its count) was said "Oxygen big O of 2"."""
    return inner.strip() == "1" or any(c.isalpha() for c in inner)


def _big_o_said(inner: str) -> str:
    """What is inside big-O's bracket, said: "n^2" is "n squared", "n*m" "n times m"."""
    inner = re.sub(r"\^2(?!\d)", " squared", inner)
    return " ".join(inner.replace("^", " to the power of ").replace("*", " times ").split())


def _path_said(path: str) -> str:
    """An address's path as it is said in code, where it is what the person types
    ("curl localhost:11434/api/tags"): "localhost port 1 1 4 3 4" lost it."""
    parts = [part for part in path.strip("<>").split("?")[0].split("#")[0].split("/") if part]
    return "".join(f" slash {part}" for part in parts)


def _said_alone(text: str) -> str:
    """How a stretch of text (a link's label) is said on its own."""
    spoken = SpokenText()
    return spoken.feed(text) + spoken.flush()


def _spoken_token(
    word: str,
    after: str = "",
    before: str = "",
    date_order: DateOrder | None = None,
    sentence: str = "",
) -> tuple[str, str]:
    """A whole word (path, identifier or plain) and how it is said; a sentence's full stop
    or colon after it is left for the next step, said as it is. ``after``: the text that
    follows the word, as far as it has come; ``before``: the shown text just before it
    ("Step " makes "1/3" a place in a series); ``date_order``: the order of day and month
    an earlier date of the answer showed; ``sentence``: its sentence before it, as far as
    the words before it tell what it is about ("The flight lasts 1:45")."""
    # (as written, or in capitals with its dots: "VS Code" is no "versus")
    short = _ABBREVIATIONS.get(word if not word.endswith(".") else word.lower())
    if short is not None and word[0].isupper() and word[1:].islower() and short[0].islower():
        short = short[0].upper() + short[1:]  # "Dep. 9:40": "Departs 9:40"
    if (
        short is not None
        and word.lower() in _MAY_END
        and _SENTENCE_AFTER.match(after)
        and not _COUNT_AFTER.match(after)
    ):
        return word, short + "."  # "Set it to max. Then wait.": its sentence ends there
    if short is not None:
        return word, short  # ("i.e." takes its own dots: they end no sentence)
    tail = _TOKEN_TAIL.search(word)
    core = word[: tail.start()] if tail is not None else word
    after = word[len(core) :] + after
    if not core:
        return word, word
    if (
        _LONG_CODE.fullmatch(core)
        and not _LONG_CODE_BEFORE.search(before)
        and not _ROUND_NUMBER.fullmatch(core)
    ):
        if core.isdigit() and (_COUNTED_AFTER.match(after) or _TIMESTAMP_BEFORE.search(before)):
            return core, f"{int(core):,}"  # "1733574000 seconds": a count
        return core, _code_said(core)  # a tracking number or an order's code
    if (
        (pair := _CURRENCY_PAIR.fullmatch(core)) is not None
        and pair.group(1) in _CURRENCY_CODES
        and pair.group(2) in _CURRENCY_CODES
    ):
        # "EUR/USD": "euro dollar", as a trader says the pair (it was "your slash U S D")
        base, quote = (_CURRENCY_CODES[code][0].removeprefix("US ") for code in pair.groups())
        return core, f"{base} {quote}"
    if (per := _CODE_PER.fullmatch(core)) is not None:
        after = core[per.end(1) :] + after  # "5 USD/month": its "/month" said after it
        core = per.group(1)
    if (currency := _CURRENCY_CODES.get(core)) is not None and (
        (coded := _CODE_AMOUNT.match(after)) is not None
        or (counted := _NUMBER_BEFORE.search(before)) is not None
    ):
        one, many = currency
        if coded is None and _YEAR_BEFORE.search(before) and _NOUN_AFTER.match(after):
            # "In 2024 EUR inflation": a year, and "euro inflation"; with no noun after it,
            # a year's money ("figures in 2024 USD."), "2024 US dollars" as before
            return core, one
        if coded is None:  # "100 SEK": its number is said already
            if (noun := _NOUN_AFTER.match(after)) is not None and _counts(noun.group(1)):
                return core, core  # "2 CAD files", "2 GBP accounts": their number is theirs
            return core, one if counted is not None and counted.group(1) == "1" else many
        units = re.sub("['’]", ",", coded.group(1))
        if units == "0" and coded.group(2) is not None:
            return core + coded.group(), f"0.{coded.group(2)} {many}"  # "0 US dollars 99"
        cents = f" {coded.group(2)}" if coded.group(2) not in (None, "00") else ""
        # "CHF 4.50": "4 Swiss francs 50"
        return core + coded.group(), f"{units} {one if units == '1' else many}{cents}"
    if (said := _SHORT_FORMS.get(core)) is not None and (
        core not in _AFTER_A_CHANGE_ONLY or _CHANGE_BEFORE.search(before)
    ):
        return core, said  # "up 12% YoY." keeps its full stop
    spoken = core
    if (host := _HOST_PORT.match(core)) is not None and core[host.end() :][:1] in ("", "/"):
        # (before an address without its scheme: "example.com:443" was said "example.com",
        # and "localhost:8000/docs" as written, "colon eight thousand slash docs")
        return core, f"{_spoken_token(host.group(1))[1]} port {_port_said(host.group(2))}"
    if (address := _SCHEMELESS.match(core)) is not None:
        return core, _host("//" + address.group(1))
    if _NUMBER_SIGN.fullmatch(core):
        if _LONG_CODE.fullmatch(core[1:]):
            return core, "number " + _code_said(core[1:])  # "order #123456789012"
        return core, "number " + core[1:]  # "issue #42": Piper said "hash 42"
    if _CHANNEL.fullmatch(core):
        return core, _spoken_token(core[1:])[1]  # "#general": Piper said "hash general"
    if (phone := _PHONE.fullmatch(core)) is not None and _is_phone(phone):
        return core, _phone_said(phone)
    if _NEGATIVE.fullmatch(core) and _NEGATIVE_BEFORE.search(before):
        return core, "minus " + core[1:]  # "x = -3": Piper said "x equals three"
    if _SHORT_NUMBER.fullmatch(core) and _CALLED_BEFORE.search(before):
        return core, "-".join(_DIGIT_WORDS[int(d)] for d in core)  # "nine-one-one"
    if (date := _ISO_DATE.fullmatch(core)) is not None and (said := _date_said(date)):
        return core, said
    if (area := _AREA.fullmatch(core)) is not None and (
        written := _NUMBER_BEFORE.search(before)
    ):  # "16.7 m²": "16.7 square meters" (it was "m squared")
        one, many = _AREA_UNITS[area.group(1)]
        return (
            core,
            f"{'square' if area.group(2) == '²' else 'cubic'} {_one_or_many(written, one, many)}",
        )
    if (
        core in _AREA_UNITS
        and (square_before := _SQUARE_BEFORE.search(before)) is not None
        and (written := _NUMBER_BEFORE.search(before[: square_before.start()])) is not None
    ):  # "180 sq ft": "180 square feet" (heard "180 SQFD")
        return core, _one_or_many(written, *_AREA_UNITS[core])
    if core == "sq" and _NUMBER_BEFORE.search(before) and _SQUARE_AFTER.match(after):
        return core, "square"
    if (square := _SUPERSCRIPT.fullmatch(core)) is not None and (
        square.group(1) or before[-1:] in (")", "]")
    ):
        base = _spoken_token(square.group(1), "", before)[1] if square.group(1) else ""
        return core, f"{base} {_POWERS_SAID[square.group(2)]}"  # "x²" was "x two"
    if core in _TIME_ZONES and _TIME_BEFORE.search(before):
        return core, " ".join(core)  # "10am EST": heard "10 AME"
    if core in _TIME_ZONE_NAMES and _TIME_BEFORE.search(before):
        return core, _TIME_ZONE_NAMES[core]  # "9:30 am PST": heard "930 ampsd"
    if (street := _STREET_WORDS.get(core)) is not None:
        return core, street  # "Amphitheatre Pkwy": heard "P-Qui"
    if _ZIP.fullmatch(core) and _STATE_BEFORE.search(before):
        return core, _digits_said(core.split("-"))  # "CA 94043"
    if _PORT.fullmatch(core) and _PORT_BEFORE.search(before):
        return core, _port_said(core)  # "port 8080": "80 80"
    if (scientific := _SCIENTIFIC.fullmatch(core)) is not None:
        number, sign, power = scientific.groups()
        minus = "minus " if sign == "-" else ""
        return core, f"{number} times 10 to the power of {minus}{int(power)}"
    if _ZIP_PLUS_4.fullmatch(core):
        return core, _digits_said(core.split("-"))
    if (numbers := _HYPHEN_RANGE.fullmatch(core)) is not None:
        return core, f"{numbers.group(1)} to {numbers.group(2)}"  # "5-10": "five dash ten"
    if _ABOUT.match(core):
        rest = core[1:]  # "~5 pm": Piper said "tilde 5"; "~$20": "tilde dollar twenty"
        amount = _AMOUNT.fullmatch(rest)
        return core, "about " + (_amount_said(amount) if amount else _spoken_token(rest)[1])
    if (dose := _DOSE.fullmatch(core)) is not None and (
        written := _NUMBER_BEFORE.search(before)
    ) is not None:
        top = _UNIT_WORDS.get(dose.group(1)) or _DOSE_SAID[dose.group(1)]
        bottom = _UNIT_WORDS.get(dose.group(2)) or _DOSE_SAID[dose.group(2)]
        return core, f"{_one_or_many(written, *top)} per {bottom[0]}"  # "0.5 mg/kg"
    if _KEY_COMBO.fullmatch(core):
        return core, re.sub(r"\w+(?=\+)", lambda key: _KEYS_SAID.get(key[0], key[0]), core)
    if (per := _PER_TIME.fullmatch(core)) is not None:
        unit = per.group(2).lower()
        return core, f"{per.group(1)} per {_UNITS_SAID.get(unit, _PER_SAID.get(unit, unit))}"
    if (abbreviation := _SAID_AS.get(core.lower())) is not None:
        return core, abbreviation  # "w/ 2 eggs" is no folder "w"
    if _SHARP.fullmatch(core):
        return core, f"{core[0]} sharp"
    if (vulgar := _VULGAR.fullmatch(core)) is not None:
        whole, part = vulgar.group(1), _VULGAR_SAID[vulgar.group(2)]
        joined = whole or _WHOLE_BEFORE.search(before) is not None
        return core, f"{whole} and {part}".lstrip() if joined else part
    if (count := _COUNT_SCALE.fullmatch(core)) is not None and not (
        (_HOUSE_NUMBER.fullmatch(core) and _NAME_AFTER.match(after)) or _PLACE_BEFORE.search(before)
    ):
        return core, f"{count.group(1)} {_COUNT_SCALES[count.group(2)]}"  # "1.2M users"
    if (
        _GENERATION.fullmatch(core)
        and (noun := _NOUN_AFTER.match(after)) is not None
        and noun.group(1) in _GENERATION_OF
    ):
        return core, core.upper()  # "a 5g network": said as "5G" is
    if core == "fl" and _FLUID_AFTER.match(after):
        if _FRACTION_BEFORE.search(before):
            return core, "of a fluid"  # "1/2 fl oz": "one half of a fluid ounce"
        if _NUMBER_BEFORE.search(before):
            return core, "fluid"  # "4 fl oz": "4 fluid ounces"
    if (offset := _OFFSET.fullmatch(core)) is not None:
        zone, sign, hours, minutes = offset.groups()
        said = f"{zone} {'plus' if sign == '+' else 'minus'} {hours}"  # ("G M T" was "gint t")
        return core, said + (f" {minutes}" if minutes and minutes != "00" else "")
    if (move := _CHESS_MOVE.fullmatch(core)) is not None:
        said = f"{_PIECES[move.group(1)]}{' takes' if move.group(2) else ''} {move.group(3)}"
        return core, said + {"+": " check", "#": " mate", None: ""}[move.group(4)]
    if (chord_name := _chord_said(core)) is not None:
        return core, chord_name
    if (tenor := _TENOR.fullmatch(core)) is not None:
        return core, f"{tenor.group(1)} year"  # "the 10Y yield": "the 10 year yield"
    if (by := _BY.fullmatch(core)) is not None:
        return core, f"{by.group(1)} by {by.group(2)}"  # "4x400", "1920x1080"
    if core == "bps" and (rate := _NUMBER_BEFORE.search(before)) is not None:
        points = rate.group(1).replace(",", "")
        bits = _DATA_BEFORE.search(sentence) or (points.isdigit() and int(points) >= 1200)
        if bits:
            return core, "bit per second" if points == "1" else "bits per second"
        return core, "basis point" if points == "1" else "basis points"
    if (
        (unit := _UNIT.fullmatch(core)) is not None
        and not after.startswith("(")
        and not (unit.group(1) and unit.group(2) in _SPACED_ONLY)
        and not (unit.group(2) == "m" and _counted_after(after))  # "5 m users": millions
    ):
        # (a unit's word called as a function is code: "4 min(a, b)" was "4 minutes(a, b)")
        number, lead = unit.group(1) or "", before
        glued = unit.group(2) in _GLUED_ONLY and _STREET_AFTER.match(after) is not None
        if (
            not number
            and not glued
            and (written := _NUMBER_BEFORE.search(before)) is not None
            and not (
                unit.group(2) in _SPACED_ONLY and before[: written.start()].endswith(tuple("$€£¥"))
            )
        ):  # ("$5 m" is money, no meters)
            number, lead = written.group(1), before[: written.start()]
        elif not number and not glued and (relay := _BY_BEFORE.search(before)) is not None:
            number = relay.group(1)  # "4x400 m": "4 by 400 meters"
        if unit.group(2) == "oz" and not number and (fluid := _FLUID_BEFORE.search(before)):
            if _FRACTION_BEFORE.search(before[: fluid.start()]):
                return core, "ounce"  # "1/2 fl oz": "one half of a fluid ounce"
            written = _NUMBER_BEFORE.search(before[: fluid.start()])
            if written is not None:  # "4 fl oz": "4 fluid ounces"
                return core, "ounce" if written.group(1) == "1" else "ounces"
        fraction = _FRACTION_BEFORE.search(before) if not unit.group(1) else None
        vulgar_before = _VULGAR_BEFORE.search(before) if not unit.group(1) else None
        if vulgar_before is not None and not number:
            one, many = _UNIT_WORDS[unit.group(2)]
            if vulgar_before.group(1):
                return core, many  # "1½ cups": "1 and a half cups"
            # "¼ tsp" "a quarter teaspoon" (as "½ tsp" is "a half teaspoon", not "a half of
            # a teaspoon"), "¾ tsp" "three quarters of a teaspoon"
            said_before = _VULGAR_SAID[vulgar_before.group(0).strip(" \t")[-1]]
            return core, one if said_before.startswith(("a ", "an ")) else f"of a {one}"
        if (
            fraction is not None
            and 0 < int(fraction.group(1)) < int(fraction.group(2))
            and not _WHOLE_BEFORE.search(before[: fraction.start()])  # ("2 3/4 tsp": many)
        ):
            one = _UNIT_WORDS[unit.group(2)][0]
            if _ARTICLE_AHEAD.search(before[: fraction.start()]):
                return core, one  # "a level 1/2 tsp": "a level one half teaspoon"
            return core, f"of a {one}"  # "3/4 tsp": of a teaspoon
        if number:
            one, many = _UNIT_WORDS[unit.group(2)]
            # "a 4 MB file" is "a 4 megabyte file"; "1 frame per second" has no such use
            article = _ARTICLE_BEFORE.search(lead)
            noun = _NOUN_AFTER.match(after) if unit.group(2) in _ADJECTIVE_UNITS else None
            describes = noun is not None and _describes(noun.group(1))
            singular = number == "1" or ((article is not None or describes) and " per " not in one)
            said = one if singular else many
            return core, f"{unit.group(1)} {said}" if unit.group(1) else said  # "5 kHz"
    if (series := _SERIES.fullmatch(core)) is not None:
        lead = "version " if series.group(1) else ""
        placeholder = "star" if series.group(3) == "*" else "x"
        return core, f"{lead}{series.group(2)} dot {placeholder}"  # "v1.2.x", "20.x", "4.2.*"
    if (version := _VERSION.fullmatch(core)) is not None and not (
        _PLAIN_VERSION.fullmatch(core)
        and (_OPERATOR_AFTER.match(after) or _OPERATOR_BEFORE.search(before))
    ):
        return core, f"version {version.group(1) or version.group(2)}"  # "v1.2.3"
    if (roman := _roman_said(core, before)) is not None:
        return core, roman  # "Henry VIII": Piper said "Henry Roman 8"
    if (month := _SHORT_MONTHS.get(core)) is not None and (
        _DAY_AFTER.match(after) or _YEAR_AFTER.match(after) or _DAY_BEFORE.search(before)
    ):
        # ("Mar. 5": its dot ends no sentence; "on 8 Dec." it does, and was not said)
        dotted = after.startswith(".") and (_DAY_AFTER.match(after) or _YEAR_AFTER.match(after))
        dot = "." if dotted else ""
        return core + dot, month  # "Dec 8": heard "decade"
    if (
        core in _WEEKDAYS
        and (_MONTH_AFTER.match(after) or _DAY_AFTER.match(after))
        and not (core == "Sun" and _THE_BEFORE.search(before))  # "The Sun 8 minutes away"
    ):
        return core, _WEEKDAYS[core]  # "Tue, Dec 8": heard "2."
    if (days := _WEEKDAY_RANGE.fullmatch(core)) is not None:
        return core, f"{_WEEKDAYS[days.group(1)]} to {_WEEKDAYS[days.group(2)]}"  # "Mon-Fri"
    if core in _WEEKDAYS and (after[:1] == "–" or _WEEKDAY_AFTER_DASH.search(before)):
        return core, _WEEKDAYS[core]  # "Mon–Fri"
    if (hours := _HOURS.fullmatch(core)) is not None:
        said = _counted(hours.group(1), "hour")  # "1h 30m", "1h30m"
        return core, said + (f" {_counted(hours.group(2), 'minute')}" if hours.group(2) else "")
    if (minutes := _MINUTES.fullmatch(core)) is not None and _MINUTES_AFTER_HOURS.search(before):
        return core, _counted(minutes.group(1), "minute")
    if _PRODUCT.fullmatch(core):
        return core, core.replace("*", " times ")  # "x*y" was "xy": its star was dropped
    if (pace := _PACE.fullmatch(core)) is not None:
        whole, part, unit = pace.groups()
        # "5:30/km": "5 30 per kilometer" (Piper said "five thirty slash K M")
        return core, f"{whole} {part} per {_PACE_UNITS[unit]}"
    if (formula := _formula_said(core)) is not None:
        return core, formula
    if (hour := _ON_THE_HOUR.fullmatch(core)) is not None and 1 <= int(hour.group(1)) <= 24:
        number = int(hour.group(1))
        if hour.group(2):
            return core, f"{number} {hour.group(2)}"  # "9:00am": "9 am"
        if _AM_PM_AFTER.match(after):
            return core, str(number)  # "9:00 am"
        if _DURATION_BEFORE.search(before):
            return core, _counted(str(number), "minute")  # "Bake for 1:00": 1 minute
        if number <= 12:
            return core, f"{number} o'clock"
        # "20:00": "8 pm" (it was "20 hundred"), "24:00": midnight
        return core, "midnight" if number == 24 else f"{number - 12} pm"
    if (
        (duration := _MINUTES_SECONDS.fullmatch(core)) is not None
        and _DURATION_BEFORE.search(before)
        and not _AM_PM_AFTER.match(after)
        and _unit_after(after) is not True
    ):
        whole, seconds = int(duration.group(1)), int(duration.group(2))
        if whole < 24 and _HOURS_LONG.search(sentence):
            said = _counted(str(whole), "hour") if whole else ""
            return core, f"{said} {_counted(str(seconds), 'minute')}".strip()  # a flight's
        said = _counted(str(whole), "minute") if whole else ""
        return core, f"{said} {_counted(str(seconds), 'second')}".strip()  # "Simmer for 1:30"
    if (ratio := _RATIO.fullmatch(core)) is not None and not _BOOK_BEFORE.search(before):
        return core, f"{ratio.group(1)} to {ratio.group(2)}"  # "16:9"
    if (pair := _NUMBER_PAIR.fullmatch(core)) is not None:
        left, right = int(pair.group(1)), int(pair.group(2))
        if _PLACE_IN_SERIES.search(before):
            return core, f"{left} of {right}"  # "Step 1/3"
        if right < left and (_PRESSURE_AFTER.match(after) or _PRESSURE_BEFORE.search(before)):
            return core, f"{left} over {right}"  # "120/80 mmHg"
        if _WEEKDAY_DATE_BEFORE.search(before):
            return core, _day_month_said(left, right, date_order)[0] or f"{left} {right}"
        if _WHOLE_BEFORE.search(before) and 0 < left < right and right in _FRACTIONS:
            return core, "and " + _number_pair_said(left, right)  # "1 1/2 cups"
        if (named := _part_of(left, right)) is not None and _OF_AFTER.match(after):
            # "1/5 of the budget", "1/36 of the batch", "3/64 inch"
            return core, _fraction_said(left, named)
        for other in (_PAIR_BEFORE.search(before), _PAIR_AFTER.match(after)):
            if other is None:
                continue
            # (an improper fraction joined to another pair is a date too: "from 3/2 to 3/4")
            if _plain_pair(int(other.group(1)), int(other.group(2))) or _plain_pair(left, right):
                return core, f"{left} {right}"  # "between 2/1 and 2/5", "2/5 and 2/1"
        return core, _number_pair_said(left, right)
    if (date := _SLASH_DATE.fullmatch(core)) is not None:
        return core, _slash_date_said(date, date_order)[0] or core
    rate = _RATE.fullmatch(core)
    count = _AFTER_NUMBER.search(before) if rate is not None and not rate.group(1) else None
    if rate is not None and (rate.group(1) or count is not None):
        return core, _rate_said(rate, rate.group(1) or (count.group(1) if count else ""))
    if core.lower() == "and/or":
        return core, f"{core[:3]} {core[4:]}"  # Piper said "and slash or"
    if (times := _TIMES_AFTER.fullmatch(core)) is not None and _MULTIPLIER_AFTER.match(after):
        return core, f"{times.group(1)} times"  # "3x faster": Piper said "three ex faster"
    names = _alternatives(core)
    if names is not None and _is_path(core):  # ("TCP/IP", "I/O" are said as written)
        first, second = (f"{n[0]} sharp" if _SHARP.fullmatch(n) else n for n in names)
        return core, f"{first} or {second}"
    if core in _DEVICES:
        return core, _DEVICES[core]  # "> /dev/null": it was said "null", heard "knelt"
    if _is_path(core):
        parts = [p for p in re.split(r"[/\\]", core) if p and p not in (".", "..", "~")]
        spoken = parts[-1].lstrip("$") if parts else core  # "$XDG_DATA_HOME/" is a name
    if _GLOB_NAME.fullmatch(spoken):
        return core, "star" + spoken.lstrip("*")  # "src/**/*.py": heard "asterisk py"
    if "_" in spoken:
        # "q3_budget.md" is "q3 budget.md", "__init__.py" "init.py"
        spoken = re.sub(r" (?=\.)", "", re.sub(r"_+", " ", spoken).strip()) or spoken
    return core, spoken


def _formula_said(word: str) -> str | None:
    """A chemical formula's letters and counts one by one (``_FORMULA``), or None: the word
    is none."""
    if word in _NOT_FORMULAS or _FORMULA.fullmatch(word) is None:
        return None
    parts = _FORMULA_PART.findall(word)
    symbols = [symbol for symbol, _ in parts]
    if len(set(symbols)) < 2 or not all(symbol in _ELEMENTS for symbol in symbols):
        return None
    counted = any(count for _, count in parts)
    if not counted and not (
        any(len(symbol) == 2 for symbol in symbols)
        and all(symbol in _EVERYDAY_ELEMENTS for symbol in symbols)
    ):
        return None
    said = []
    for i, (symbol, count) in enumerate(parts):
        letters = " ".join(symbol.upper())
        if letters.endswith("A") and i + 1 < len(parts) and not count:
            letters += ","  # "Na" before "Cl": "N A, C L", not "N uh C L"
        said.append(f"{letters} {count}" if count else letters)
    return " ".join(said)


def _counts(word: str) -> bool:
    """Whether ``word`` after "2 CAD" is what the number counts: a plural noun ("files",
    "accounts", "bills"), not a verb or a word an amount goes on with ("1 USD equals",
    "5 EUR plus tax", "10 EUR less", "5 USD is")."""
    return (
        len(word) > 3
        and word.endswith("s")
        and not word.endswith(("ss", "us", "is"))
        and word not in _AMOUNT_VERBS
    )


def _counted_after(after: str) -> bool:
    """Whether a plural noun that no unit describes follows (``after``): what a number
    before it counts ("5 m users" is 5 million users, no meters; "a 400 m race" meters)."""
    noun = _NOUN_AFTER.match(after)
    if noun is None or _describes(noun.group(1)):
        return False
    word = noun.group(1)
    return word.endswith("s") and not word.endswith(("ss", "us", "is", "as"))


def _chord_said(word: str) -> str | None:
    """A chord's name as a musician says it ("C#m7" "C sharp minor 7"), None for no chord's
    (``_CHORD``)."""
    chord = _CHORD.fullmatch(word)
    if chord is None:
        return None
    root, accidental, quality, number = chord.groups()
    named = bool(accidental or quality) and bool(number or (accidental and quality))
    if accidental != "#" and not named:
        return None  # "Am", "Bb", "Db", "C" alone are words or other short forms
    parts = [root, _CHORD_SAID.get(accidental or ""), _CHORD_SAID.get(quality or "", quality)]
    return " ".join(part for part in [*parts, number] if part)


def _describes(word: str) -> bool:
    """Whether a unit before ``word`` describes it ("10 MB blocks", "2 min walk")."""
    return word in _DESCRIBED or word in _DESCRIBED_MANY


def _port_said(port: str) -> str:
    """A port's number as people say it: "80 80", "54 32", "80 oh 8", "1 1 4 3 4"; a round one
    ("3000", "8000", "3001", "443") as a number."""
    if len(port) == 5:
        return " ".join(port)
    if len(port) != 4 or port[1:3] == "00" or port[2:] == "00":
        return port
    low = port[2:] if port[2] != "0" else f"oh {port[3]}"
    return f"{port[:2]} {low}"


def _unit_after(after: str) -> bool | None:
    """Whether a unit of time follows a duration (``after``, what has come after it so far):
    True, or None when it may still ("1:30 h" may be "1:30 hours"); False: none does."""
    word = re.match(r"[ \t]*([A-Za-z]*)", after)
    letters = word.group(1).lower() if word is not None else ""
    rest = after[word.end() :] if word is not None else after
    if not letters:
        return None if not rest else False
    if not rest:
        return None if any(u.startswith(letters) for u in _DURATION_UNITS) else False
    return letters in _DURATION_UNITS


def _may_join(after: str) -> bool:
    """Whether ``after``, what has come after a number pair so far, may still join another
    pair to it ("… and 2/1", "… – 2/1")."""
    word = re.fullmatch(r"[ \t]*([A-Za-z]*)", after)
    if word is not None:
        return any(j.startswith(word.group(1).lower()) for j in _JOINERS)
    return _PAIR_AFTER_START.fullmatch(after) is not None


def _roman_said(word: str, before: str) -> str | None:
    """How a Roman numeral (``_ROMAN``) after ``before`` is said: "2" after a word that
    numbers ("World War II"), "the Eighth" after a name ("Henry VIII"); None: no numeral
    here."""
    if not word or _ROMAN.fullmatch(word) is None:
        return None
    letters = [_ROMAN_VALUES[c] for c in word]
    value = sum(
        -v if i + 1 < len(letters) and v < letters[i + 1] else v for i, v in enumerate(letters)
    )
    numbering = _NUMBERING_BEFORE.search(before)
    if numbering is not None:
        if word in ("C", "L"):
            return None  # "Type C", "Class C"
        if word == "I" and (not numbering.group()[0].isupper() or numbering.group()[0] == "M"):
            # the pronoun in running text: "after the war I went home" was "the war 1
            # went", "tell Mark I said hi" "Mark 1 said"; "World War I" keeps its capital
            return None
        return str(value)
    name = _NAME_BEFORE.search(before)
    if name is None or len(word) < 2 or not set(word) <= set("IVX") or value >= 40:
        return None
    if name.group(1) not in _RULERS:
        # a title's number ("Rocky II", "Final Fantasy VII"): as written Whisper heard Piper's
        # "Rocky II" as "Rocky Roman 2". Not a numeral of two letters but "II": "Give IV
        # fluids", "Civilization VI" are as written; nor the numeral named ("Roman II"),
        # nor a placeholder ("Replace XXX with your key")
        if (word == "II" or len(word) >= 3) and name.group(1) != "Roman" and word != "XXX":
            return str(value)
        return None
    if value < 20:
        return "the " + _ORDINALS[value].capitalize()
    tens, ones = divmod(value, 10)
    if not ones:
        return f"the {_TENS[tens * 10].capitalize()}ieth"
    return f"the {_TENS[tens * 10].capitalize()}y-{_ORDINALS[ones]}"


def _counted(number: str, unit: str) -> str:
    """ "1 hour", "2 hours"."""
    return f"{number} {unit}" if number == "1" else f"{number} {unit}s"


def _is_phone(phone: re.Match[str]) -> bool:
    """Whether ``_PHONE``'s match is a phone number: a local one alone ("555-1234",
    "(555) 123-4567") unless it is a range of round numbers, up ("500-1000 words")."""
    if phone.group(1) or phone.group(2) or phone.group(3):
        return True
    low, high = int(phone.group(4)), int(phone.group(5))
    return not (low < high and low % 10 == 0 and high % 10 == 0)


def _phone_said(phone: re.Match[str]) -> str:
    """A phone number digit by digit, its groups with pauses: "5 5 5, 1 2 3, 4 5 6 7"."""
    country, *groups = phone.groups()
    said = [" ".join(group) for group in groups if group]
    return (f"plus {country}, " if country else "") + ", ".join(said)


def _digits_said(groups: Iterable[str]) -> str:
    """Groups of digits read one by one, with pauses between the groups: "9 4 1 0 5, 1 2 3 4"."""
    return ", ".join(" ".join(group) for group in groups)


def _date_said(date: re.Match[str]) -> str:
    """An ISO date (and time) by its month's name: "December 6, 2026, 14:30 UTC"; empty
    when it is no date ("2026-13-40")."""
    year, month, day, hour, minute, second, zone = date.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return ""
    said = f"{_MONTHS[int(month) - 1]} {int(day)}, {year}"
    if hour is None:
        return said
    said += f", {int(hour)}:{minute}" + (f":{second}" if second and second != "00" else "")
    if zone == "Z":
        return said + " UTC"
    if zone:
        hours, minutes = int(zone[1:3]), zone[-2:]
        sign = "plus" if zone[0] == "+" else "minus"
        return said + f" UTC {sign} {hours}" + (f":{minutes}" if minutes != "00" else "")
    return said


def _rate_said(rate: re.Match[str], count: str) -> str:
    """A rate (``_RATE``) after the number ``count`` said with "per": "60 kilometers per
    hour", "1 request per second", "5 tokens per second"."""
    number, unit, per = rate.groups()
    # a dose or a weight a day ("3,200 mg/day", "2 L/day") by the unit's name after a number
    # (Whisper heard Piper's "mg per day" as "in G per day")
    one, many = _RATE_UNITS_SAID.get(unit) or _UNIT_WORDS.get(unit, (unit, unit))
    said = f"{one if count == '1' else many} per {_PER_SAID[per]}"
    return f"{number} {said}" if number else said


def _slash_date_said(
    date: re.Match[str], order: DateOrder | None = None
) -> tuple[str, DateOrder | None]:
    """A date written with slashes by its month's name ("December 25, 2026" for 12/25/2026,
    "25 December 2026" for 25/12/2026), and the order it shows (None: not plain from this
    date alone). ``order``: the one an earlier date showed. Both orders possible and no
    order known: its numbers one after the other ("3 4 2026", see ``_SLASH_DATE``). Empty:
    no date ("2/30/2026", "13/13/2026")."""
    first, second, year = (int(n) for n in date.groups())
    shown: DateOrder | None = None
    if first <= 12 and second > 12:
        shown = "month first"  # as the US writes it
    elif first == second <= 12:
        shown, order = None, order or "month first"  # "5/5/2026": either way
    elif second <= 12 < first:
        shown = "day first"
    elif first <= 12 and second <= 12 and order is None:
        try:
            datetime.date(year, first, second)
            datetime.date(year, second, first)
        except ValueError:
            return "", None  # "0/5/2026"
        return f"{first} {second} {year}", None
    use = shown or order
    if use is None:
        return "", None
    month, day = (first, second) if use == "month first" else (second, first)
    try:
        datetime.date(year, month, day)
    except ValueError:
        return "", None  # "2/30/2026", "0/5/2026"
    template = "{m} {d}, {y}" if use == "month first" else "{d} {m} {y}"
    return template.format(m=_MONTHS[month - 1], d=day, y=year), shown


def _one_or_many(number: re.Match[str], one: str, many: str) -> str:
    """A unit's word for the number before it (``_NUMBER_BEFORE``'s): one for "1"."""
    return one if number.group(1) == "1" else many


def _code_said(code: str) -> str:
    """A long code (``_LONG_CODE``) as a person reads it out to be written down: in groups
    of four with a pause between them, character by character ("1 Z 9 9, 9 A A 1, …")."""
    return ", ".join(" ".join(code[i : i + 4]) for i in range(0, len(code), 4))


def _fraction_said(numerator: int, part: str) -> str:
    """A proper fraction in words, by its numerator and the name of its part ("one sixth",
    "five twelfths", "three halves" is not one: see ``_IMPROPER``; "17 thirty-seconds": a
    numerator past fifteen in digits)."""
    said = _DIGIT_WORDS[numerator] if numerator < len(_DIGIT_WORDS) else str(numerator)
    return f"{said} {part if numerator == 1 else part + 's'}".replace("halfs", "halves")


def _part_of(numerator: int, denominator: int) -> str | None:
    """The name of a proper fraction's part where it is one only before "of" or a measure
    (``_OF_AFTER``): fifths, tenths, twelfths, sixteenths (in lowest terms where
    ``_LOWEST_TERMS_ONLY`` says), and any other part up to 99ths in lowest terms ("1/36 of
    the batch" "one thirty-sixth", "3/64 inch" "three sixty-fourths": said "1 36", "3 64",
    heard "136 of the batch", "364 inch"); None: not such a fraction."""
    if not 0 < numerator < denominator or denominator in _FRACTIONS:
        return None
    if denominator in _FRACTIONS_OF:
        if denominator in _LOWEST_TERMS_ONLY and math.gcd(numerator, denominator) != 1:
            return None
        return _FRACTIONS_OF[denominator]
    if not 10 < denominator < 100 or math.gcd(numerator, denominator) != 1:
        return None
    if denominator < 20:
        return _ORDINALS[denominator]
    tens, ones = divmod(denominator, 10)
    return f"{_TENS[tens * 10]}ieth" if not ones else f"{_TENS[tens * 10]}y-{_ORDINALS[ones]}"


def _day_month_said(
    first: int, second: int, order: DateOrder | None = None
) -> tuple[str, DateOrder | None]:
    """A day and a month with a slash between them, after a weekday (see
    ``_WEEKDAY_DATE_BEFORE``), by its month's name where the order is plain ("December 25",
    "25 December"), and the order it shows; empty where it is not (its numbers are said as
    written) or it is no date ("2/30")."""
    shown: DateOrder | None = None
    if first <= 12 < second:
        shown = "month first"
    elif second <= 12 < first:
        shown = "day first"
    elif first == second:
        order = order or "month first"  # "5/5": either way
    use = shown or order
    if use is None:
        return "", None
    month, day = (first, second) if use == "month first" else (second, first)
    try:
        datetime.date(2024, month, day)  # (a leap year: "2/29" is a date)
    except ValueError:
        return "", None
    said = f"{_MONTHS[month - 1]} {day}" if use == "month first" else f"{day} {_MONTHS[month - 1]}"
    return said, shown


def _plain_pair(first: int, second: int) -> bool:
    """Whether a pair is neither a proper fraction nor a score: two numbers ("2/1", "3/2",
    "50/50"), which makes a pair joined to it ("between 2/1 and 2/5") two numbers too."""
    said = _number_pair_said(first, second, improper=False)
    return said == f"{first} {second}"


def _number_pair_said(first: int, second: int, *, improper: bool = True) -> str:
    """Two numbers with a slash between them: a common fraction by its words ("one half",
    "three quarters"), a score out of 10 or less as one ("4 out of 5", "9 out of 10"), any
    out of 100 too ("95 out of 100"), any other pair as two numbers ("50 50", "24 7", "9 11")."""
    if (
        0 < first < second
        and second in _FRACTIONS
        and (second not in _LOWEST_TERMS_ONLY or math.gcd(first, second) == 1)
    ):
        return _fraction_said(first, _FRACTIONS[second])
    if improper and second in _IMPROPER and second < first <= 10:
        return f"{_DIGIT_WORDS[first]} {_IMPROPER[second]}"  # "4/3": "four thirds"
    if 0 <= first <= second <= 10 or (second == 100 and first <= second):
        return f"{first} out of {second}"  # ("95/100" was "95 100", heard "95-100")
    if first == 1 and 31 < second < 10_000:
        # a chance ("the odds are 1/36"): "1 36" was heard "136". A person reads it "1 in
        # 36", as odds are said; not "one thirty-sixth", a part of something (said so before
        # "of": ``_part_of``). Only past 31: "1/25" may be January 25, "1/12" a date too.
        return f"1 in {second}"
    return f"{first} {second}"


def _amount_said(amount: re.Match[str]) -> str:
    """How an amount (``_AMOUNT``) is said: "20 dollars", "1 dollar", "3 dollars 50",
    "1.2 million dollars"."""
    sign, whole, cents, short, word = amount.groups()
    one, many = _CURRENCY[sign]
    scale = _SCALES[short.lower()] if short else word
    if scale:
        number = f"{whole}.{cents}" if cents else whole
        return f"{number} {scale} {many}"
    unit = one if whole == "1" else many
    if whole == "0" and cents and len(cents) == 2 and sign in "$€£":
        n = int(cents)  # "$0.99": 99 cents; "$0.01": 1 cent
        small = ("penny", "pence") if sign == "£" else ("cent", "cents")
        return f"{n} {small[0] if n == 1 else small[1]}"
    if cents and len(cents) == 2 and sign != "¥":
        return f"{whole} {unit} {cents}" if cents != "00" else f"{whole} {unit}"
    number = f"{whole}.{cents}" if cents else whole
    return f"{number} {one if number == '1' else many}"


def _path_end(word: str, first_run: int) -> int:
    """Where a path or file name glued to Japanese or Chinese text ends in ``word``: after
    the last of its runs of such letters that the path still takes in ("docs/設計.mdを見て"
    is the path "docs/設計.md"; it was cut at "設計" and said "docs"), else before the first
    ("notes/q3_budget.mdにあります", "C#です")."""
    cuts = [len(word), *(run.start() for run in _SPACELESS_RUN.finditer(word, first_run + 1))]
    for cut in sorted(cuts, reverse=True):
        core = word[:cut]
        if _is_path(core) or _is_file_name(core):
            return cut
    return first_run


def _alternatives(core: str) -> tuple[str, str] | None:
    """The two names of ``core`` when it is two alternatives with a slash between them
    ("React/Node.js", "README.md/CHANGELOG.md"), else None. A capitalised name then a file
    ("Documents/Report.pdf", "Models/User.swift") is a file in its folder, said by its file
    name; a library named "X.js" is no file ("React/Node.js")."""
    names = _ALTERNATIVES.fullmatch(core)
    if names is None:
        return None
    first, second = (n for n in names.groups() if n is not None)
    if _is_file_name(second) and not _is_file_name(first):
        return None
    return first, second


def _is_file_name(name: str) -> bool:
    """A name with a file's extension: not ".NET", nor a library's "Node.js"."""
    extension = _EXTENSION.search(name)
    return extension is not None and extension.start() > 0 and extension.group() != ".js"


def _is_path(word: str) -> bool:
    """A file's or folder's path, not "and/or", "24/7" or "km/h"."""
    if ("/" not in word and "\\" not in word) or "://" in word:
        return False
    if re.match(r"(?:\.{1,2}|~)?[/\\]|[A-Za-z]:\\", word):
        return True  # /etc/hosts, ./run.sh, ~/notes, C:\work
    if _EXTENSION.search(word):
        return True  # notes/q3_budget.md
    return word.endswith(("/", "\\")) and any(c.isalpha() for c in word)  # src/
