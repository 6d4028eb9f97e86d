"""The spoken form of an answer: links by their labels, URLs by their hosts, struck text not
said, table pipes as pauses, paths by their file names; the same however the answer is cut
into deltas, and a position in what was said carried over to the text shown."""

from __future__ import annotations

import pytest

from voicedesk.engine.heard import heard_prefix
from voicedesk.engine.speakable import SpeakableText
from voicedesk.engine.spoken import SpokenText
from voicedesk.providers.sentence_stream import _FIRST_CUT, _LATER_CUT

CASES = [
    (
        "Read [the report](https://example.com/q3/report.pdf) first.",
        "Read the report first.",
    ),
    ("See https://www.example.com/path?x=1. Then go.", "See example.com. Then go."),
    (
        "Docs: <https://docs.python.org/3/>, or www.python.org.",
        "Docs: docs.python.org, or python.org.",
    ),
    (
        "Its page (https://en.wikipedia.org/wiki/Foo_(bar)) says so.",
        "Its page (en.wikipedia.org) says so.",
    ),
    ("[](https://www.python.org) and [https://a.org/x](https://a.org/x)", "python.org and a.org"),
    # a task list's box is not said (Piper said "ex Call Ann"), nor a box in the words
    (
        "Todo:\n- [ ] Buy milk\n- [x] Call Ann\n1. [X] Pay\n- see [x] here\n",
        "Todo:\nBuy milk.\nCall Ann.\n1. Pay.\nsee [x] here.\n",
    ),
    # an HTML line break in a table's cell is a pause (Piper said "one bar two")
    (
        "| a | one<br>two<BR/>three. <br /> four |\nx < y, a<b",
        "a, one, two, three.  four.\nx less than y, a<b",
    ),
    # a range between numbers: Piper said "five ten minutes", "dollar ten dollar twenty"
    (
        "Wait 5–10 minutes, pay $10–$20 (20–30% off), 1914–1918; not 3– nor A–B.",
        "Wait 5 to 10 minutes, pay 10 dollars to 20 dollars (20 to 30% off), 1914 to 1918; "
        "not 3– nor A–B.",
    ),
    # bullets as a list's marks (the items ran together), arrows as pauses ("right arrow")
    (
        "• eggs\n• milk\nOpen Settings → Privacy, or A→B.",
        "eggs.\nmilk.\nOpen Settings , Privacy, or A, B.",
    ),
    # an arrow as models write it in plain text, between blanks: Piper said "Settings
    # Privacy" in one breath; in code ("p->next", "x=>y") it stays
    (
        "Open Settings -> Privacy => Camera, not p->next or x=>y or a - > b.",
        "Open Settings , Privacy , Camera, not p->next or x=>y or a - > b.",
    ),
    # an amount with the currency after it: Piper said "dollar twenty", "dollar three
    # point five zero", "euros five"; a variable's "$" is no currency
    (
        "Pay $20, $1, $1,250 a year, $3.50, $0.99, $1.2M, $5k or €5 million, £5. Set $HOME.",
        "Pay 20 dollars, 1 dollar, 1,250 dollars a year, 3 dollars 50, 99 cents, "
        "1.2 million dollars, 5 thousand dollars or 5 million euros, 5 pounds. Set $HOME.",
    ),
    # a scale letter split from the next delta ("$3b" + "n") was said "3 billion dollarsn";
    # one cent is "1 cent", not "1 cents"; a range written with a hyphen is one too (Piper
    # said "20 dollars dollar thirty", "five dash ten"), but not a phone number (said digit
    # by digit) or a date (by its month's name)
    (
        "Costs $3bn, $0.01, €0.01 or £0.01; $20-$30, $5-10, 5-10 minutes, 20%-30%, "
        "1990-2000, 9-5; not 555-1234, 2024-05-01, COVID-19, -5 or 5-.",
        "Costs 3 billion dollars, 1 cent, 1 cent or 1 penny; 20 dollars to 30 dollars, "
        "5 dollars to 10, 5 to 10 minutes, 20% to 30%, 1990 to 2000, 9 to 5; not 5 5 5, 1 2 3 4, "
        "May 1, 2024, COVID-19, -5 or 5-.",
    ),
    # a tilde before a number is "about": Piper said "tilde 5", "tilde dollar twenty"
    (
        "The meeting is ~~Monday~~ Tuesday, at ~5 pm, for ~$20 (~30% off) in ~/notes/a.md.",
        "The meeting is  Tuesday, at about 5 pm, for about 20 dollars (about 30% off) in a.md.",
    ),
    ("An ~~unclosed mark\nstays.", "An unclosed mark\nstays."),
    (
        "| Name | Age |\n|---|:--:|\n| Ann | 31 |\n| Bob | 40. |\nDone.",
        "Name, Age.\nAnn, 31.\nBob, 40.\nDone.",
    ),
    ("  | a | b |  \n| - | - |\n", "a, b.\n"),
    # a list's dashes were read with its words ("- eggs\n- milk": Piper said "eggs-milk",
    # Whisper heard "Ex-Milk") and its items ran together: each item ends as a sentence
    ("Buy:\n- eggs\n- milk\n+ bread.\n\nDone.", "Buy:\neggs.\nmilk.\nbread.\n\nDone."),
    # an empty item ends no sentence: the voice was given a lone "." ("1. ." for a number)
    ("Buy:\n- eggs\n- \n1. \n- milk\n", "Buy:\neggs.\n\n1. \nmilk.\n"),
    (
        "Steps:\n1. Preheat\n  2) Mix, then bake\n-5 degrees is cold\n3 - 2 = 1\n",
        "Steps:\n1. Preheat.\n  2) Mix, then bake.\n-5 degrees is cold\n3 minus 2 = 1\n",
    ),
    ("| a | b\n| c | d\nso", "a, b.\nc, d.\nso"),
    ("|x| is not a row? | it is read as one", "x, is not a row? it is read as one"),
    (
        "Open src/_private.py and notes/q3_budget.md, or src/__init__.py.",
        "Open private.py and q3 budget.md, or init.py.",
    ),
    ("Set my_var in ~/notes/todo.txt or C:\\work\\a_b.txt", "Set my var in todo.txt or a b.txt"),
    (
        "and/or 24/7 at 5 km/h, see [1, 2] and x[0], wow!",
        "and or 24 7 at 5 kilometers per hour, see [1, 2] and x[0], wow!",
    ),
    ("[notes/a_b.md](notes/a_b.md) is ready", "a b.md is ready"),
    ("Say https: or www or http://", "Say https: or www or http://"),
    ("日本語の[リンク](https://例え.jp/a)です。", "日本語のリンクです。"),
    # a bracket in a link's address, as CommonMark allows: the link's end is the one after it
    (
        "See [Python](https://en.wikipedia.org/wiki/Python_(programming_language)) first.",
        "See Python first.",
    ),
    ('a [x](https://a.org/(x)y) and [y](<b(1).md> "t") z', "a x and y z"),
    # two names as alternatives are said so, not as a folder and its file (was "Node.js")
    ("I use React/Node.js and C#/.NET.", "I use React or Node.js and C sharp or .NET."),
    ("Compare README.md/CHANGELOG.md", "Compare README.md or CHANGELOG.md"),
    ("Edit package.json/tsconfig.json.", "Edit package.json or tsconfig.json."),
    ("Edit $HOME/.bashrc or $XDG_DATA_HOME/", "Edit .bashrc or XDG DATA HOME"),
    ("TCP/IP, I/O, 24/7, 1/2 cup, n/a", "TCP/IP, I/O, 24 7, one half cup, n/a"),
    ("Open docs/README.md, Documents/notes.txt", "Open README.md, notes.txt"),
    # an address without its scheme is said as its host, as with one (was "slash pricing")
    (
        "See example.com/pricing, github.com/org/repo and www.example.com/a/b.",
        "See example.com, github.com and example.com.",
    ),
    ("Go to docs.python.org/3/library/re.html now", "Go to docs.python.org now"),
    (
        "Clone git@github.com:org/repo.git, see example.com: it",
        "Clone git at github.com, see example.com: it",
    ),
    # a host's port is said with a path after it too: "localhost:8000/docs" was read
    # "colon eight thousand slash docs", and "example.com:8080/a" lost its port
    (
        "At localhost:8000/docs or example.com:8080/a",
        "At localhost port 8000 or example.com port 80 80",
    ),
    # ... and so a URL's: "http://localhost:8080/docs" was "localhost", no server to open
    (
        "Open http://localhost:8080/docs, https://example.com:8443/a?x=1 or "
        "[http://127.0.0.1:5000/api](http://127.0.0.1:5000/api); not main.py:42/x.",
        "Open localhost port 80 80, example.com port 84 43 or 127.0.0.1 port 5000; "
        "not main.py:42/x.",
    ),
    ("Not hosts: setup.py/x, Node.js/Deno, a.md/b", "Not hosts: setup.py/x, Node.js/Deno, a.md/b"),
    # "w/" and "w/o" are no folder: they were said "w" and "w/o"
    ("Mix it w/ 2 eggs, W/O sugar, w/o salt.", "Mix it with 2 eggs, without sugar, without salt."),
    # an escaped pipe in a table's cell is no cell's end: "ls \\, wc, count."
    ("| Command | Use |\n|---|---|\n| ls \\| wc | count |", "Command, Use.\nls | wc, count."),
    # an email address's "@" is said (Piper said "jane dot doe example dot com")
    (
        "Mail jane.doe@example.com, git@github.com:o/r.git, not @alice or a @ b.",
        "Mail jane.doe at example.com, git at github.com, not @alice or a @ b.",
    ),
    # a glob is said as its file name's pattern, its star "star" (Piper said "asterisk")
    ("Match src/*.py or **/*.md", "Match star.py or star.md"),
    # a file in a folder whose name has a capital is no pair of alternatives: it was said
    # "Documents or Report.pdf" (a library's "X.js" still is one: "React or Node.js")
    (
        "Open Documents/Report.pdf, Models/User.swift and Express/Next.js",
        "Open Report.pdf, User.swift and Express or Next.js",
    ),
    # a macOS application's bundle is a folder, not an address: it was said "myapp.app"
    (
        "Open MyApp.app/Contents/Info.plist, not my.vercel.app/about",
        "Open Info.plist, not my.vercel.app",
    ),
    # pip's address of a git repository is said by its host, as any address: since "+"
    # went into a word, it was said whole, every slash of it
    (
        "Run pip install git+https://github.com/openai/whisper.git?x=1 now.",
        "Run pip install github.com now.",
    ),
    # a language's or a note's sharp is said so: Piper said "C#" "see hash"
    (
        "Write C#, F# or C++ in G# minor, not #C# or ABC#.",
        "Write C sharp, F sharp or C++ in G sharp minor, not #C# or ABC#.",
    ),
    # an address without its scheme is its host whole, query and all: Piper said
    # "youtube dot com v equals a b c one hundred twenty three"
    (
        "Open youtube.com/watch?v=abc123, example.com/a,b and (example.com/s?q=1&x=%20).",
        "Open youtube.com, example.com and (example.com).",
    ),
    # a module and its object ("uvicorn main.app:app") is no git address: its ":app" went
    (
        "Run uvicorn main.app:app or hello.io:create, at example.com:8080",
        "Run uvicorn main.app:app or hello.io:create, at example.com port 80 80",
    ),
    # a Slack channel or a hashtag is said by its name: Piper said "hash general"
    (
        "Join #general or #dev-team on Slack, see #42.",
        "Join general or dev-team on Slack, see number 42.",
    ),
    # HTML tags are not said: Piper said "b bold slash b"; a block's tag is a pause, and a
    # "<" that opens no known tag stays ("List<T>", "a<b")
    (
        'This is <b>bold</b>, <span class="x">this</span> and <I>it</I>.<p>Next</p> '
        "x < y, List<T>, a<b, <tag>.",
        "This is bold, this and it. Next,  x less than y, List<T>, a<b, <tag>.",
    ),
    # a block's tag at the answer's very end, and the tags after it, leave no pause to end
    # on (the voice was given "Done. " and "Milk, ")
    ("Done.</p>", "Done."),
    ("<ul><li>Eggs</li><li>Milk</li></ul>\n", "Eggs, Milk\n"),
    ("<p>Hi</p> <p>there</p>\n\n", "Hi,  there\n\n"),
    # a comparison written without blanks is no tag, its words no attributes; a tag's last
    # attribute may go without a value
    (
        "If a<b then c, or x<y z>w; <details open>x</details> <b\tclass='a b'>y</b> "
        "<a href=https://x.org/?b=c>z</a>",
        "If a<b then c, or x<y z>w; x,  y z",
    ),
    # an HTML character reference is said as its character: Piper said "and amp"
    (
        "Tom &amp; Jerry&nbsp;go, 5 &lt; 6, it&#39;s &#x2014; &bogus; AT&T, a=1&b=2 & more",
        "Tom & Jerry go, 5 < 6, it's \u2014 &bogus; AT&T, a=1&b=2 & more",
    ),
    # a slash between numbers or words said "slash" ("fifty slash fifty", "and slash or"):
    # a fraction by its words, two numbers one after the other, two words as alternatives
    (
        "A 50/50 chance, open 24/7: add 1/2 cup and/or 3/4 tsp, 2/3 of it, 9/11, 4/5, $5/month, "
        "$20/mo, km/h, I/O, 12/25/2026.",
        "A 50 50 chance, open 24 7: add one half cup and or three quarters of a teaspoon, two thirds "
        "of it, 9 11, 4 out of 5, 5 dollars per month, 20 dollars per month, km/h, I/O, "
        "December 25, 2026.",
    ),
    # a rate after a number is said "per", its known units in full: Piper said "20 dollars
    # per user slash mo", "60 k m slash h", "100 rex slash s"; without a number it is as
    # written
    (
        "At $20/user/mo, 60 km/h, 1 km/h or 60km/h, 100 req/s, 1 req/s, 5 tokens/sec, "
        "2 MB/s, 1.5 Mb/s; not km/h, I/O, a/s.",
        "At 20 dollars per user per month, 60 kilometers per hour, 1 kilometer per hour or 60 "
        "kilometers per hour, 100 requests per second, 1 request per second, 5 tokens per "
        "second, 2 megabytes per second, 1.5 megabits per second; not km/h, I/O, a/s.",
    ),
    # a place in a series is "1 of 3": Piper said "Step one third" (heard "Accept one third")
    (
        "Step 1/3: open it. Page 2/10, part 1/2,\nChapter 3/12; not a step\n1/2 cup, a level "
        "1/2 tsp.",
        "Step 1 of 3: open it. Page 2 of 10, part 1 of 2,\nChapter 3 of 12; not a step\n"
        "one half cup, a level one half teaspoon.",
    ),
    # a date with slashes by its month's name where its order is plain (Piper said
    # "12-25-20-5-2026"); "3/4/2026" may be March 4 or April 3: with both orders in the
    # answer it is its numbers (it was "3/4/2026", heard "3-slash4-2026"), and no
    # date is no date
    (
        "On 12/25/2026, 25/12/2026 or 5/5/2026; not 3/4/2026, 2/30/2026 nor 13/13/2026.",
        "On December 25, 2026, 25 December 2026 or May 5, 2026; not 3 4 2026, 2/30/2026 "
        "nor 13/13/2026.",
    ),
    # ... alone, its numbers; after a date whose order is plain, in that order
    (
        "Meet on 3/4/2026. Or 12/25/2026, then 3/4/2026.",
        "Meet on 3 4 2026. Or December 25, 2026, then March 4, 2026.",
    ),
    (
        "From 25/12/2026 to 3/4/2026 or 5/5/2026.",
        "From 25 December 2026 to 3 April 2026 or 5 May 2026.",
    ),
    # a pair after one said as two numbers is said so too: "2/5" was "2 out of 5"
    (
        "Between 2/1 and 2/5, from 3/2 to 3/4; 1/2 and 3/4 cup, 4/5 or 3/5.",
        "Between 2 1 and 2 5, from 3 2 to 3 4; one half and three quarters cup, 4 out of 5 "
        "or 3 out of 5.",
    ),
    # ... and a pair before one said as two numbers: "2/5" was "2 out of 5" before "2 1"
    (
        "Pick 2/5 and 2/1, from 3/4 to 3/2; 1/2 and 3/4 cup, 4/5 or 3/5, 24/7 and more.",
        "Pick 2 5 and 2 1, from 3 4 to 3 2; one half and three quarters cup, 4 out of 5 or 3 "
        "out of 5, 24 7 and more.",
    ),
    # a score out of 100: it was "95 100", heard "95-100"
    (
        "Scored 95/100, 100/100; 50/50, 101/100.",
        "Scored 95 out of 100, 100 out of 100; 50 50, 101 100.",
    ),
    # an inline tag between two letters is a blank: "a<b>c</b>" was said "ac"
    (
        "Read a<b>c</b> now, x<i>y</i>z, <b>Note</b>: ok, a <b>b</b>.",
        "Read a c now, x y z, Note: ok, a b.",
    ),
    # abbreviations a careful reader expands: Piper said "IDI", "BS", "CPP 4-7"
    (
        "Python vs. Go, or C vs Rust, i.e. fast; see pp. 4–7, approx. 5 mins; e.g. this. "
        "Vs. VS Code, I.E. that.",
        "Python versus Go, or C versus Rust, that is fast; see pages 4 to 7, approximately 5 "
        "minutes; e.g. this. Versus VS Code, that is that.",
    ),
    # a count's scale letter, a version, a ratio, a power: Piper said "one point two M",
    # "be 1.2.3", "16 colon 9", "to 10"
    (
        "It has 1.2M users, 3B parameters, $4.5B; 2.5GB, 5K, V8. Get v1.2.3, v2 or V1.0.",
        "It has 1.2 million users, 3 billion parameters, 4.5 billion dollars; 2.5 gigabytes, "
        "5K, V8. "
        "Get version 1.2.3, version 2 or version 1.0.",
    ),
    (
        "Use 16:9 or 4:3 at 3:30, John 3:16. 2^10 is 1024, x^2, (a+b)^2, a ^ b.",
        "Use 16 to 9 or 4 to 3 at 3:30, John 3:16. 2 to the power of 10 is 1024, x to the "
        "power of 2, (a+b) to the power of 2, a ^ b.",
    ),
    # a chapter and verse is no ratio ("Genesis 1:1" was "Genesis 1 to 1"), and "v2" by an
    # operator is a variable, no version ("let v2 = 3" was "let version 2 = 3")
    (
        "Read Genesis 1:1, Psalm 23:1 or Acts 2:4; a 3:1 win. Let v2 = 3, v1 + v2, (v2-v1), "
        "x = v3; get v2.",
        "Read Genesis 1:1, Psalm 23:1 or Acts 2:4; a 3 to 1 win. Let v2 = 3, v1 + v2, "
        "(v2-v1), x = v3; get version 2.",
    ),
    # a product without blanks: Piper said "x asterisk y"; a glob's star stays
    (
        "x*y, 2*3 or 1.5*2, a*b*c; src/*.py",
        "x times y, 2 times 3 or 1.5 times 2, a times b times c; star.py",
    ),
    # a count per a span of time: heard "3 slash month"
    (
        "Pay 3/month, 2/day or 5/hr; 24/7, 1/2.",
        "Pay 3 per month, 2 per day or 5 per hour; 24 7, one half.",
    ),
    # a temperature's scale in full: Piper said "degrees F", "degrees C"
    (
        "It's 72°F, -5 °C, 20-25°C or 1°C; a 45° angle, 1°Celsius.",
        "It's 72 degrees Fahrenheit, -5 degrees Celsius, 20 to 25 degrees Celsius or 1 degree "
        "Celsius; a 45° angle, 1°Celsius.",
    ),
    # days of a range in full, hours and minutes, feet and inches: heard "Montfry",
    # "1H30M", "5-11"; "Sun" and "30m" alone stay
    (
        "Open Mon–Fri, Tue-Thu; Sun is out. Cook 1h 30m, 1h30m or 2h, 30m away. "
        "He is 5'11\" tall, the 90's.",
        "Open Monday to Friday, Tuesday to Thursday; Sun is out. Cook 1 hour 30 minutes, 1 hour "
        "30 minutes or 2 hours, 30m away. He is 5 foot 11 tall, the 90's.",
    ),
    # a time on the hour: Piper said "nine zero zero"; a trillion: "1.5 dollarsT"
    (
        "Open 9:00–17:00, 9:00 am or 9:00am, 12:00 noon; not 0:00, 99:00 nor 3:30. "
        "Debt: $1.5T. Mt. Fuji, Ave. Q.",
        "Open 9 o'clock to 5 pm, 9 am or 9 am, 12 o'clock noon; not 0:00, 99:00 nor "
        "3:30. Debt: 1.5 trillion dollars. Mount Fuji, Avenue Q.",
    ),
    # a duration on the hour after a word that says how long is minutes, not a time: "Bake
    # for 1:00" was said "Bake for 1 o'clock"; an alarm "for 7:00" is still a time
    (
        "Bake for 1:00, microwave it for 2:00. The run took 5:00, it lasts 10:00; "
        "set an alarm for 7:00, open at 9:00.",
        "Bake for 1 minute, microwave it for 2 minutes. The run took 5 minutes, it lasts 10 "
        "minutes; set an alarm for 7 o'clock, open at 9 o'clock.",
    ),
    # an emergency number called is said digit by digit: Piper said "nine hundred eleven"
    # (heard "900-11"); other numbers after "call" stay numbers
    (
        "Call 911 now, dial 112 or ring 999. Call 100 people; 911 is busy.",
        "Call nine-one-one now, dial one-one-two or ring nine-nine-nine. Call 100 people; 911 "
        "is busy.",
    ),
    # ... and so is one listed after it: "Call 112 or 999" said the second "nine hundred
    # ninety nine"
    (
        "Call 112 or 999, dial 911, 112 and 999. Call 911 or 100 people, call 911 and then 999.",
        "Call one-one-two or nine-nine-nine, dial nine-one-one, one-one-two and nine-nine-nine. "
        "Call nine-one-one or 100 people, call nine-one-one and then 999.",
    ),
    # a duration with its seconds after a word that says how long is minutes and seconds:
    # Whisper heard Piper's "Simmer for 1:30" as "simmer for 130"; a time, or one before
    # its unit, is as written
    (
        "Simmer for 1:30, bake it for 12:05. The lap took 0:45; it takes 1:30 hours, wait "
        "for 1:30 pm. Meet at 1:30.",
        "Simmer for 1 minute 30 seconds, bake it for 12 minutes 5 seconds. The lap took 45 "
        "seconds; it takes 1:30 hours, wait for 1:30 pm. Meet at 1:30.",
    ),
    # scientific notation as a reader of the maths says it: Whisper heard Piper's "1e-6" as
    # "one E6", its sign lost
    (
        "Use 1e-6, 6.02e23 or 2.5E+8; not 0x1e6, e-6, 1e.",
        "Use 1 times 10 to the power of minus 6, 6.02 times 10 to the power of 23 or 2.5 times "
        "10 to the power of 8; not 0x1e6, e-6, 1e.",
    ),
    # a recipe's spoons and a wind's speed in full: Whisper heard Piper's "1 tsp salt" as
    # "1 T", "winds 10 mph" as "Wednesday and MPH"
    (
        "Add 1 tsp salt, 2 tbsp oil, 1 Tbsp butter; winds 10 mph, a 1 mph breeze, 30mph. "
        "Not tsp, mph alone.",
        "Add 1 teaspoon salt, 2 tablespoons oil, 1 tablespoon butter; winds 10 miles per hour, "
        "a 1 mile per hour breeze, 30 miles per hour. Not tsp, mph alone.",
    ),
    # a mixed number: "1 1/2 cups" was said "1 one half cups"
    (
        "Use 1 1/2 cups and 2 3/4 tsp, 1 1/2 to 2 1/2 inches, 1/2 tsp; not 3 1/5, v1.2 1/2, "
        "2/1 and 2/5.",
        "Use 1 and one half cups and 2 and three quarters teaspoons, 1 and one half to 2 and "
        "one half inches, one half of a teaspoon; not 3 1 out of 5, version 1.2 one half, 2 1 "
        "and 2 5.",
    ),
    # a superscript square or cube: Whisper heard Piper's "x²" as "X2"
    (
        "x² + 1, 5 m², (a+b)² and 2³, E = mc²; not ² alone.",
        "x squared + 1, 5 square meters, (a+b) squared and 2 cubed, E = mc squared; not ² alone.",
    ),
    # an international number with blanks between its groups digit by digit: Whisper heard
    # Piper's "+44 20 7946 0958" as "plus 44 27,946 0-958"
    (
        "Call +44 20 7946 0958 or +33 1 42 68 53 00, +1 (800) 555-0199. Not +5 10 20, a + b, "
        "+44 only, +3 points.",
        "Call plus 44, 2 0, 7 9 4 6, 0 9 5 8 or plus 33, 1, 4 2, 6 8, 5 3, 0 0, plus 1, 8 0 0, "
        "5 5 5, 0 1 9 9. Not +5 10 20, a + b, +44 only, +3 points.",
    ),
    # a month or a day written short in a date in full: Whisper heard Piper's "on Tue, Dec
    # 8" as "on 2. decade"; elsewhere they are words ("Mar", "Sun") and as written
    (
        "On Tue, Dec 8 at 10am; 8 Dec 2026, Sept 3, Mar. 5, Sun 12 May, Dec 2026. Not Mar "
        "the view, Sun, sea, Dec alone, Jan 3.5, May 4:30, Jan 20266. On Dec 8.",
        "On Tuesday, December 8 at 10am; 8 December 2026, September 3, March 5, Sunday 12 May, "
        "December 2026. Not Mar the view, Sun, sea, Dec alone, Jan 3.5, May 4:30, Jan 20266. "
        "On December 8.",
    ),
    # short forms a voice misread, by their exact case: "12% YoY" was heard "12 yield
    # wide", "npm test" "mpm test"
    (
        "Revenue grew 12% YoY, 3% QoQ and 1% MoM. Run npm test. Ask your mom, MOM or NPM.",
        "Revenue grew 12% year over year, 3% quarter over quarter and 1% month over month. "
        "Run N P M test. Ask your mom, MOM or NPM.",
    ),
    # a complexity in big-O notation as people say it: "O(n log n)" was heard "O and log
    # in", "O(1)" "O1"; a bracket that never closes, or a word, is none
    (
        "Sort is O(n log n), get O(1), O(n^2) or O(log(n)); not O(n items, Open(x), O().",
        "Sort is big O of n log n, get big O of 1, big O of n squared or big O of log(n); "
        "not O(n items, Open(x), O().",
    ),
    # ... but "MoM" is a change over a month only after the change: "Send the MoM" (the
    # minutes of a meeting) was said "Send the month over month"
    (
        "Send the MoM, the MoM's notes, up $2M MoM (+3%) MoM; YoY growth.",
        "Send the MoM, the MoM's notes, up 2 million dollars month over month (+3%) month "
        "over month; year over year growth.",
    ),
    # ... a percentage written with a blank or in words too: "5 % MoM" and "3 percent MoM"
    # were left as written, "MoM"
    (
        "Up 5 % MoM, 3 percent MoM or 2 per cent MoM; send the MoM.",
        "Up 5 % month over month, 3 percent month over month or 2 per cent month over month; "
        "send the MoM.",
    ),
    # a time zone after a time letter by letter: Whisper heard Piper's "10am EST" as "10
    # AME"; America's Pacific, Central and Mountain ones by their names ("9:30 am PST" was
    # heard "930 ampsd", "9am MST" "9am the missed st"); elsewhere, and one Piper spells
    # already ("UTC"), as written
    (
        "At 10am EST, 3 p.m. PST, 15:00 UTC or 9:30 CET. Not EST alone, West, 5 CET.",
        "At 10am E S T, 3 p.m. Pacific Standard Time, 3 pm UTC or 9:30 C E T. "
        "Not EST alone, West, 5 CET.",
    ),
    (
        "At 10am CST, 9am MST, 8:30 PM PDT, 11 am CDT or 1pm MDT; the PST file, 5 MST.",
        "At 10am Central Standard Time, 9am Mountain Standard Time, 8:30 PM Pacific Daylight "
        "Time, 11 am Central Daylight Time or 1pm Mountain Daylight Time; the PST file, 5 MST.",
    ),
    # a port as people say one: Whisper heard Piper's "port 8080 now" as "port 8000 daily
    # now", "localhost:8080" as "local host colon 880"
    (
        "Open port 8080, port 5432, ports 3000, port 8008, port 11434 or port 443; "
        "localhost:8080, 127.0.0.1:5000. Not 8080 alone, John 3:16, 10:30.",
        "Open port 80 80, port 54 32, ports 3000, port 8008, port 1 1 4 3 4 or port 443; "
        "localhost port 80 80, 127.0.0.1 port 5000. Not 8080 alone, John 3:16, 10:30.",
    ),
    # ... but a file's name and a line in it is no host and its port: "main.py:42" was said
    # "main.py port 42", "README.md:20" "README.md port 20"
    (
        "See main.py:42, README.md:20, config.yaml:10 and app.test.ts:1234; db.internal:5432.",
        "See main.py:42, README.md:20, config.yaml:10 and app.test.ts:1234; db.internal port "
        "54 32.",
    ),
    # an address's street word in full and its ZIP code digit by digit: Whisper heard
    # Piper's "Amphitheatre Pkwy" as "amphitheater P-Qui", "CA 94043" as "94,043"
    (
        "1600 Amphitheatre Pkwy, Mountain View, CA 94043; 10 Sunset Blvd, Hwy 101. Austin, "
        "TX 78701-1234. Not IN 12345 units, 5 OR 50000 people.",
        "1600 Amphitheatre Parkway, Mountain View, CA 9 4 0 4 3; 10 Sunset Boulevard, Highway "
        "101. Austin, TX 7 8 7 0 1, 1 2 3 4. Not IN 12345 units, 5 OR 50000 people.",
    ),
    # a unit after a number in full: Whisper heard Piper's "5 kHz" as "5KHC", "60fps" as
    # "60 FDS", "5000 mAh" as "5000 m off"; alone it is as written, and a "W" after a
    # blank is a street's west
    (
        "It is 2.5GB, 512 MB, 1 GB or a 4 MB file at 100Mbps; 5 kHz, 120Hz, 60fps, 4K, "
        "5000 mAh, 500ms, 450W, 3.1 mi, 2 L, 5 mL. Not GB, L, 350 W 42nd St, 2 MB/s.",
        "It is 2.5 gigabytes, 512 megabytes, 1 gigabyte or a 4 megabyte file at 100 megabits "
        "per second; 5 kilohertz, 120 hertz, 60 frames per second, 4K, 5000 milliamp hours, "
        "500 milliseconds, 450 watts, 3.1 miles, 2 liters, 5 milliliters. Not GB, L, 350 W "
        "42nd St, 2 megabytes per second.",
    ),
    # a Roman numeral after a word that numbers is its number, after a name an ordinal:
    # Piper said "World War Roman II", "Henry Roman 8"; "an IV", "Type C", "DC" and a
    # sentence's first word are no numeral and name
    (
        "World War II, World War I, Super Bowl LVIII, Chapter IV, Type II; Henry VIII, Louis "
        "XIV, John Paul II, John XXIII. Not Type C, Give IV fluids, an IV, Washington DC, "
        "Henry V, OS X, I, Roman II.",
        "World War 2, World War 1, Super Bowl 58, Chapter 4, Type 2; Henry the Eighth, Louis "
        "the Fourteenth, John Paul the Second, John the Twenty-third. Not Type C, Give IV "
        "fluids, an IV, Washington DC, Henry V, OS X, I, Roman II.",
    ),
    # the ordinal only after a ruler's name, and a lone "I" is a number only after a
    # capitalized numbering word: "Administer IV fluids" was "Administer the Fourth
    # fluids", "Mark II" "Mark the Second", "after the war I went home" "the war 1 went"
    (
        "Administer IV fluids, Rocky II, the Mark II, Queen Elizabeth II. After the war I "
        "went home; in that phase I learned; tell Mark I said hi. World War I, Part I.",
        "Administer IV fluids, Rocky 2, the Mark 2, Queen Elizabeth the Second. After the war "
        "I went home; in that phase I learned; tell Mark I said hi. World War 1, Part 1.",
    ),
    # a title's number after any other name: Whisper heard Piper's "Rocky II" as "Rocky
    # Roman 2"; a numeral of two letters but "II", a placeholder and "Roman II" as written
    (
        "Rocky II, Rocky III, Final Fantasy VII, Star Trek II. Give IV fluids, Civilization "
        "VI, Roman II, Henry V; replace XXX with it.",
        "Rocky 2, Rocky 3, Final Fantasy 7, Star Trek 2. Give IV fluids, Civilization VI, "
        "Roman II, Henry V; replace XXX with it.",
    ),
    # a recipe's or a workout's time in full: Whisper heard Piper's "3 to 4 min per side"
    # as "3 to 4 men per side"
    (
        "Fry for 3–4 min per side, 10 mins, a 2 hr drive, 2 hrs, 30 sec, 1 secs. Not min "
        "alone, min(3, 4).",
        "Fry for 3 to 4 minutes per side, 10 minutes, a 2 hour drive, 2 hours, 30 seconds, 1 "
        "second. Not min alone, min(3, 4).",
    ),
    # a negative number after an operator or a bracket is "minus": Piper said nothing for
    # its sign ("x = -3" was heard "x equals three"); elsewhere it is as written (and "3 - 2"
    # after an operator "3 minus 2": Piper said nothing for it either)
    (
        "x = -3, y=-10, (-3, 4), [-1], 5 + -2; not -5 degrees, 3 - 2, a -b, 5-10.",
        "x = minus 3, y=minus 10, (minus 3, 4), [minus 1], 5 + minus 2; not -5 degrees, "
        "3 minus 2, a -b, 5 to 10.",
    ),
    # a house's number is no count: "221B Baker Street" was "221 billion Baker Street"
    (
        "At 221B Baker Street, 5B Main; 3B parameters, the 8B model, 3B.",
        "At 221B Baker Street, 5B Main; 3 billion parameters, the 8 billion model, 3 billion.",
    ),
    # a footnote's reference is not said (Piper said "one, one"), its text is a footnote
    (
        "A claim.[^1] More[^note].\n\n[^1]: A source.\n[^note]: B. See [^1](x), [^ or [^].",
        "A claim. More.\n\nFootnote 1: A source.\nFootnote note: B. See ^1, [^ or [^].",
    ),
    # a time's range: "8am–5pm" was said "8am 5pm"
    (
        "Open 8am–5pm, 9 AM–5 PM or 9 a.m.–5 p.m.; Mon–Fri.",
        "Open 8am to 5pm, 9 AM to 5 PM or 9 a.m. to 5 p.m.; Monday to Friday.",
    ),
    # a multiplier: Piper said "three ex faster"; in algebra, a variable's or a number's
    # "x" stays ("3x + 2", "x2", "x86", "0x1F")
    (
        "It's 3x faster at 1.5x speed, or 10x. 3×4 or ×2; 3x + 2 = x2 on x86 with 0x1F.",
        "It's 3 times faster at 1.5 times speed, or 10 times. 3 times 4 or times 2; "
        "3x + 2 = x2 on x86 with 0x1F.",
    ),
    # a phone number digit by digit, a date by its month's name: Piper said "five hundred
    # fifty five dash one hundred twenty three dash …" and "twelve dash zero six"
    (
        "Call 555-123-4567, +1-555-123-4567 or 555-1234 on 2026-12-06 at 2026-12-06T09:30Z "
        "(2026-01-31T23:05:10+05:30), (555) 123-4567; not 2026-13-40 nor 5-10 or 100-1000.",
        "Call 5 5 5, 1 2 3, 4 5 6 7, plus 1, 5 5 5, 1 2 3, 4 5 6 7 or 5 5 5, 1 2 3 4 on "
        "December 6, 2026 at December 6, 2026, 9:30 UTC (January 31, 2026, 23:05:10 UTC plus "
        "5:30), 5 5 5, 1 2 3, 4 5 6 7; not 2026-13-40 nor 5 to 10 or 100 to 1000.",
    ),
    # a phone number with its trunk "1" or its area code in brackets, and a ZIP+4 code,
    # digit by digit: Piper said "1-800-55-0199" (as Whisper heard it), "eight hundred",
    # and "94,105 to 1,234"; a bracket or a plus that opens none is said as written
    (
        "Call 1-800-555-0199, +1 (800) 555-0199 or (800)555-0199 at 94105-1234; "
        "not (12) 5, (a), +5, a + b, 1-555-1234 nor 10000-20000.",
        "Call 1, 8 0 0, 5 5 5, 0 1 9 9, plus 1, 8 0 0, 5 5 5, 0 1 9 9 or 8 0 0, 5 5 5, 0 1 9 9 "
        "at 9 4 1 0 5, 1 2 3 4; not (12) 5, (a), +5, a + b, 1-555-1234 nor 10000 to 20000.",
    ),
    # a host without its scheme keeps its port, as "localhost:8080" does (it was dropped:
    # "example.com"), with a path after it too
    (
        "Open example.com:443 or example.com:8080/x, then localhost:8080.",
        "Open example.com port 443 or example.com port 80 80, then localhost port 80 80.",
    ),
    # a unit's word called as a function is code: it was "4 minutes(a, b)"
    ("Use 4 min(a, b), not 4 min (or so).", "Use 4 min(a, b), not 4 minutes (or so)."),
    # "the Sun" is the star, no Sunday: "The Sunday 8 minutes away"
    (
        "The Sun 8 minutes away; Sun 8 Dec, the sun.",
        "The Sun 8 minutes away; Sunday 8 December, the sun.",
    ),
    # a short month ending its sentence keeps the sentence's full stop (it was not said)
    (
        "It is on 8 Dec. Then Mar. 5, 2026 and 8 Dec. 2026.",
        "It is on 8 December. Then March 5, 2026 and 8 December 2026.",
    ),
    # an amount with a European's separators: it was "1.299 euros,00", "5 euros,50"; a
    # fuel's "€1.299" alone stays as written
    (
        "Pay €1.299,00, €5,50, €12.345.678,99 or €1,00; fuel is €1.299/L, not $1,250.",
        "Pay 1,299 euros, 5 euros 50, 12,345,678 euros 99 or 1 euro; fuel is 1.299 euros per liter, "
        "not 1,250 dollars.",
    ),
    # ... and with a scale word after it, its comma a decimal one: "€5,5 million" was said
    # "5 euros 50 million"; German's "Mio." and "Mrd." too, the dot a full stop at the end
    (
        "It is €5,5 million, €1.299,50 billion or €1,2 Mrd. for us; €3,5 Mio. Then €5,5 mile.",
        "It is 5.5 million euros, 1,299.5 billion euros or 1.2 billion euros for us; "
        "3.5 million euros. Then 5 euros 50 mile.",
    ),
    # ... with its currency's code before or after it, by its name: "EUR 18" was heard
    # "year 18", "100 SEK" "100 sdk"
    (
        "Pay CHF 20, CHF 4.50, USD 20, EUR 1, CHF 1'200, 20 CHF or 100 SEK. "
        "Prices in CHF are high; EUR/USD is 1.08; CHF 5.5.",
        "Pay 20 Swiss francs, 4 Swiss francs 50, 20 US dollars, 1 euro, 1,200 Swiss francs, "
        "20 Swiss francs or 100 Swedish kronor. Prices in CHF are high; euro dollar is 1.08; "
        "CHF 5.5.",
    ),
    # a price's unit after the code is said "per" (it was left as written, "5 USD/month"),
    # and a year before the code is no amount: "In 2024 EUR inflation" was "2024 euros
    # inflation"; the code describes the noun after it, said as one
    (
        "Pay 5 USD/month, EUR 5/month, 10 EUR/kg or 2 CHF/user/mo. In 2024 EUR inflation "
        "rose; since 1999 USD rates fell. It was 2024 EUR in total; EUR/USD is 1.1.",
        "Pay 5 US dollars per month, 5 euros per month, 10 euros per kilogram or 2 Swiss "
        "francs per user per month. In 2024 euro inflation rose; since 1999 US dollar rates "
        "fell. It was 2024 euros in total; euro dollar is 1.1.",
    ),
    # ... but with no noun after it, a year's money ("figures in 2024 USD."): it was said
    # "2024 US dollar"; and a rate's time after the code is said as a rate's: "10 EUR/h"
    # was "10 euros per h" (and "$10/h" too)
    (
        "All figures are in 2024 USD; prices in 2023 EUR, adjusted. The fee is 10 EUR/h, "
        "2 USD/min or $10/h.",
        "All figures are in 2024 US dollars; prices in 2023 euros, adjusted. The fee is 10 "
        "euros per hour, 2 US dollars per minute or 10 dollars per hour.",
    ),
    # ... but a number that counts the noun after the code is the noun's ("2 CAD files" was
    # "2 Canadian dollars files"), and an amount under one is no "0 US dollars 99"
    (
        "Export 2 CAD files; 5 USD bills; 1 USD equals 0.92 EUR, 10 EUR plus tax; USD 0.99.",
        "Export 2 CAD files; 5 USD bills; 1 US dollar equals 0.92 euros, 10 euros plus tax; "
        "0.99 US dollars.",
    ),
    # ... with one digit after its comma, tens of cents, as "2,5 €" is: "€5,5" was heard
    # "five euros five"; and none before it, cents ("€0,50" was "0 euros 50")
    (
        "Pay €5,5, €1.299,5 or €1,2; €0,50, €0,01 or £0,5; not $1,250, €5,50.5 nor ¥0,5.",
        "Pay 5 euros 50, 1,299 euros 50 or 1 euro 20; 50 cents, 1 cent or 50 pence; "
        "not 1,250 dollars, 5 euros,50.5 nor 0 yen,5.",
    ),
    # a unit before a noun it describes is one, as a hyphen would join them: "10 megabytes
    # blocks"; not before what says more of the amount, a verb, or a recipe's ingredient
    (
        "Use 10 MB blocks, take a 2 min walk or 30 min drive; 10 MB free, 5 min later, "
        "2 GB of RAM, 30 ms waits, 2 tsp vanilla.",
        "Use 10 megabyte blocks, take a 2 minute walk or 30 minute drive; 10 megabytes free, "
        "5 minutes later, 2 gigabytes of RAM, 30 milliseconds waits, 2 teaspoons vanilla.",
    ),
    # ... and before a mark, a screw or a hole ("the 10 minutes mark", "3 millimeters
    # screws"); a watt or a volt after a blank before such a noun too (they were said "65
    # W", "12 V"), not a street's west nor a letter with no number
    (
        "At the 10 min mark, use 3 mm screws in 6 mm holes, a 12 V battery, a 65 W charger "
        "and 12V; not 350 W 42nd St, Henry V, 5 V rail.",
        "At the 10 minute mark, use 3 millimeter screws in 6 millimeter holes, a 12 volt "
        "battery, a 65 watt charger and 12 volts; not 350 W 42nd St, Henry V, 5 volt rail.",
    ),
    # a weight, a length, a liquid in full: Piper said "K G", "G", "M L", "ahz", "F T"
    (
        "Add 500 g flour, 250 ml milk, 1 lb beef and 8 oz cheese; it weighs 3.5 kg. "
        "A 5 km run, 10 cm, 2 mm, 6 ft tall, 200g; not 5G or 60 km/h.",
        "Add 500 grams flour, 250 milliliters milk, 1 pound beef and 8 ounces cheese; it weighs "
        "3.5 kilograms. A 5 kilometer run, 10 centimeters, 2 millimeters, 6 feet tall, "
        "200 grams; not 5G or 60 kilometers per hour.",
    ),
    # a mobile network's generation in lower case is no gram: "a 5g network" was said "a 5
    # gram network", "my 4g phone" "my 4 grams phone"
    (
        "A 5g network, my 4g phone; add 5g salt, 5g chips, it weighs 5g.",
        "A 5G network, my 4G phone; add 5 grams salt, 5 grams chips, it weighs 5 grams.",
    ),
    # a price per weight or liquid: it was "per K G", "per L"
    (
        "Apples are $3/kg or $1.50/lb, milk €1/L; 3/month.",
        "Apples are 3 dollars per kilogram or 1 dollar 50 per pound, milk 1 euro per liter; "
        "3 per month.",
    ),
    # what a sentence says lasts hours is in hours and minutes ("The flight lasts 1:45" was
    # "1 minute 45 seconds"); a song, a recipe's step: minutes and seconds
    (
        "The flight from Paris takes 1:45. The movie runs for 2:15! Simmer for 1:30. "
        "The song lasts 3:45.",
        "The flight from Paris takes 1 hour 45 minutes. The movie runs for 2 hours 15 minutes! "
        "Simmer for 1 minute 30 seconds. The song lasts 3 minutes 45 seconds.",
    ),
    # an amount with the euro's sign after it: heard "20 years", "550 euros", "1.2900
    # euros"; not a year before an amount, nor "3 $ signs"
    (
        "Pay 20 €, 5,50 €, 1.299,00 €, 3.50 €, 0,99 €, 1 € or 5€/month; in 2024 €5, 3 $ signs, 2,5 €.",
        "Pay 20 euros, 5 euros 50, 1,299 euros, 3 euros 50, 99 cents, 1 euro or 5 euros per "
        "month; in 2024 5 euros, 3 $ signs, 2 euros 50.",
    ),
    # ... and a price per litre, kilogram or kilowatt-hour with three digits after its comma,
    # a decimal one, as fuel is priced: "1,799 €/L" was said "1,799 euros per liter"; not
    # without such a unit, nor with a dot
    (
        "Fuel is 1,799 €/L, power 0,299€/kWh, -1,799 €/kg; 1,799 € total, 1,799 €/month, "
        "1.799 €/L, 1,799 people.",
        "Fuel is 1.799 euros per liter, power 0.299 euros per kWh, minus 1.799 euros per "
        "kilogram; 1,799 euros total, 1,799 euros per month, 1,799 euros per liter, 1,799 people.",
    ),
    # a scale word between the number and the euro's sign, as German writes millions: "5,5
    # Mio. €" was left as written; without the sign a count ("5 Mio Leute", once left as
    # written), not a word that is no scale's
    (
        "It is 5,5 Mio. €, 1,2 Mrd. €/Jahr, 3 Mio. €; 2,50 million € or 500 Tsd.€. "
        "We are 5 m away, 5 Mio Leute, 5 mil.",
        "It is 5.5 million euros, 1.2 billion euros per Jahr, 3 million euros; 2.5 million "
        "euros or 500 thousand euros. We are 5 meters away, 5 million Leute, 5 mil.",
    ),
    # ... and so with the euro's sign before it: "€1,799/L" was "1,799 euros per liter"
    (
        "Fuel is €1,799/L, power €0,299/kWh, −€1,659/l; €1,799 total, €1,799/month, €1,2/L.",
        "Fuel is 1.799 euros per liter, power 0.299 euros per kWh, minus 1.659 euros per "
        "liter; 1,799 euros total, 1,799 euros per month, 1 euro 20 per liter.",
    ),
    # a minus before an amount: "-$20" was heard "dollar twenty", its minus lost
    (
        "Down -$20, −€5 or - $3; $20-$30.",
        "Down minus 20 dollars, minus 5 euros or - 3 dollars; 20 dollars to 30 dollars.",
    ),
    # ... and before an amount with the euro's sign after it: "-5,50 €" was said "-5,50
    # euros" (heard "550 euros", its minus lost); not a number alone, nor "x-5"
    (
        "Down -5,50 €, -5 € or -1.299,00 €; x = -5 €/month; -5 items, x-5 €.",
        "Down minus 5 euros 50, minus 5 euros or minus 1,299 euros; x = minus 5 euros per "
        "month; -5 items, x-5 €.",
    ),
    # a command line in prose, no backticks: its address is what the person types, path and
    # all ("curl localhost port 1 1 4 3 4" lost which address); an address after a word
    # that is no such command is its host and port as before
    (
        "Run curl localhost:11434/api/tags to check, or curl -s -X POST "
        "http://localhost:8080/v1/chat, wget https://a.org/x.tgz; open localhost:80/x.",
        "Run curl localhost port 1 1 4 3 4 slash api slash tags to check, or curl -s -X POST "
        "localhost port 80 80 slash v1 slash chat, wget a.org slash x.tgz; open localhost "
        "port 80.",
    ),
    # German's short scale words with no currency after them: "5,5 Mio." was left as
    # written; the dot is the sentence's where it ends there
    (
        "It grew 5,5 Mio. this year, 1,2 Mrd. in all; 3 Mio. €. Users: 2 Mio.",
        "It grew 5.5 million this year, 1.2 billion in all; 3 million euros. Users: 2 million.",
    ),
    # "MoM" in brackets after a change, and alone in a table's heading: it was left "MoM";
    # a row's "MoM" cell and "Send the MoM" stay a meeting's minutes
    (
        "Up 5% (MoM), Send the MoM (today).\n| Month | MoM |\n|---|---|\n| MoM | sent |\n",
        "Up 5% (month over month), Send the MoM (today).\nMonth, month over month.\nMoM, sent.\n",
    ),
    # a host and port's query is not said, as a scheme's address's is not: it was read
    # as written after the port, "localhost port 80 80?q=x&n=2"
    (
        "Open localhost:8080/search?q=x&n=2 now; localhost:8080? Or curl localhost:80/x?q=1.",
        "Open localhost port 80 80 now; localhost port 80 80? Or curl localhost port 80 slash x.",
    ),
    # big O only for a complexity: "Oxygen O(2)" was "Oxygen big O of 2"
    (
        "Oxygen O(2) and O(10); sorting is O(n log n), lookup O(1).",
        "Oxygen O(2) and O(10); sorting is big O of n log n, lookup big O of 1.",
    ),
    # a count's "Mio." before a German noun (in capitals) is no full stop: "5.5 million.
    # Nutzer" was said, a sentence's end inside one, and cut there for the voice; streamed,
    # "3 Mrd. Euro" kept its dot where whole it did not. Before a sentence's first word
    # ("Die"), or at a line's end, it is the full stop still.
    (
        "Die App hat 5,5 Mio. Nutzer und 3 Mrd.  Euro Umsatz, €2,5 Mio. Gewinn. Es sind 4 "
        "Mio. Die Zahl: 2 Tsd.\nNeu.",
        "Die App hat 5.5 million Nutzer und 3 billion  Euro Umsatz, 2.5 million euros Gewinn. "
        "Es sind 4 million. Die Zahl: 2 thousand.\nNeu.",
    ),
    # a query after a path is no word of it, as an address's is not ("GET /search?q=x"
    # was read "search question mark q equals x"), in code as in prose; a fraction's "?"
    # stays
    (
        "Or GET /v2/items?limit=50#top now. Is it 1/2?",
        "Or GET items now. Is it one half?",
    ),  # a fraction written as one character, as recipes do: Whisper heard Piper's "1 ½" as
    # "1 1 12" and "1¼" as "1 1 1 1 1"
    (
        "Mix 1 ½ cups flour, ¼ tsp salt and 1¼ cups milk; platform 9¾, ⅔ full.",
        "Mix 1 and a half cups flour, a quarter teaspoon salt and 1 and a quarter cups milk; "
        "platform 9 and three quarters, two thirds full.",
    ),
    # a number with a "B" or an "M" after a place's name is its label: "Room 4B" was said
    # "Room 4 billion"
    (
        "Meet in Room 4B, then gate 12B or Suite 3M; 4B users.",
        "Meet in Room 4B, then gate 12B or Suite 3M; 4 billion users.",
    ),
    # a weight's or a volume's unit in a rate by its name, as after a number alone: "mg per
    # day" was heard "in G per day"
    (
        "Take max. 3,200 mg/day, 1 g/day or 2 L/day.",
        "Take maximum 3,200 milligrams per day, 1 gram per day or 2 liters per day.",
    ),
    # a whole amount with German's scale word, as one with cents: "€2 Mrd." was said "2
    # euros Mrd."
    (
        "Wir zahlen €2 Mrd. Umsatz und €3 Mio. Das war es; $5 Mio. now, €7 more.",
        "Wir zahlen 2 billion euros Umsatz und 3 million euros. Das war es; 5 million dollars "
        "now, 7 euros more.",
    ),
    # a common fraction in sixths by its words (it was "1 out of 6", a score), fifths,
    # tenths, twelfths and sixteenths before "of" or a measure; counts stay counts ("11/12",
    # "14/16", "4/6"); an improper one in halves or thirds too (it
    # was "4 3"), but a score stays one
    (
        "Odds 1/6, then 5/12 of it, 5/16 inch, 1/16 tsp; 1/5 of it, 3/10 of them; scale by 4/3, by 3/2; "
        "4/5 stars, 24/7, 11/12, 14/16, 4/6.",
        "Odds one sixth, then five twelfths of it, five sixteenths inch, one sixteenth of a teaspoon; one fifth of it, "
        "three tenths of them; scale by four thirds, by three halves; 4 out of 5 stars, 24 7, 11 12, 14 16, 4 out of 6.",
    ),
    # a recipe's unit after a fraction written as one character, and a fluid ounce: Piper
    # said "a quarter tsp", "4 F L ounces"
    (
        "Add ¼ tsp salt, 1½ cups flour, 4 fl oz milk, 1/2 fl oz rum, 2 lbs pork, 1 qt stock, "
        "3 gal; fl oz alone.",
        "Add a quarter teaspoon salt, 1 and a half cups flour, 4 fluid ounces milk, "
        "one half of a fluid ounce rum, 2 pounds pork, 1 quart stock, 3 gallons; fl oz alone.",
    ),
    # a day and a month after a weekday are a date: by the month's name where its order is
    # plain, from its numbers or an earlier one, else its numbers (it was "Friday 12 11",
    # "Saturday one sixth")
    (
        "Fri 12/11 or Sat 1/6; Mon, 12/21 then Tue 1/5.",
        "Friday 12 11 or Saturday 1 6; Monday, December 21 then Tuesday January 5.",
    ),
    ("Fri 25/12, Sat 1/6.", "Friday 25 December, Saturday 1 June."),
    # a travel answer's short forms in full, with no full stop inside its sentence ("Take
    # max." was cut as a sentence of its own), one where its sentence ends
    (
        "Take max. 2 daily. Dep. 9:40, arr. 13:05, incl. tax, excl. fees (est.). Set it to "
        "max. Then go; at max.",
        "Take maximum 2 daily. Departure 9:40, arrival 13:05, including tax, excluding fees "
        "(estimated). Set it to maximum. Then go; at maximum.",
    ),
    # an area or a volume as one reads it: "180 sq ft" was heard "180 SQFD", "16.7 m²" said
    # "m squared"; a variable's square and "sq" with no unit after it stay as they were
    (
        "So 180 sq ft, 1 sq mi or about 16.7 m²; 2 ft³, 1 cm², x² and sq. No sq m2, 5 sq. m.",
        "So 180 square feet, 1 square mile or about 16.7 square meters; 2 cubic feet, 1 square "
        "centimeter, x squared and sq. No sq m2, 5 sq. m.",
    ),
    # a tracking number or a code in groups of four, character by character (Piper said the
    # first as one huge number); not a count with its separators, nor an amount
    (
        "Track 9400111899223197428490 or 1Z999AA10123456784, order #123456789012; "
        "not 1,234,567,890, $1000000000, 25000000000 bytes, ABC123 or ABCDEFGHIJK.",
        "Track 9 4 0 0, 1 1 1 8, 9 9 2 2, 3 1 9 7, 4 2 8 4, 9 0 or 1 Z 9 9, 9 A A 1, 0 1 2 3, "
        "4 5 6 7, 8 4, order number 1 2 3 4, 5 6 7 8, 9 0 1 2; not 1,234,567,890, "
        "1000000000 dollars, 25000000000 bytes, ABC123 or ABCDEFGHIJK.",
    ),
    # a long number before what it counts, or after "timestamp", is a count, not a code read
    # in groups ("1 7 3 3, 5 7 4 0, 0 0 seconds"); a code before a verb stays one
    (
        "It ran 1733574000 seconds; timestamp 1733574000. Order 1234567890 ships.",
        "It ran 1,733,574,000 seconds; timestamp 1,733,574,000. Order 1 2 3 4, 5 6 7 8, 9 0 ships.",
    ),
    # a dose's "max." before a number in words is no sentence's end ("maximum. Two tablets"
    # was cut there); before another word it still is
    (
        "Take max. Two tablets, est. Three hours. Set it to max. Then wait.",
        "Take maximum Two tablets, estimated Three hours. Set it to maximum. Then wait.",
    ),
    # a fraction of a larger part before "of" or a measure by its words ("1 36 of the
    # batch", heard "136"), a chance alone "1 in 36"; a date's "1/25" and a count's "11/12"
    # as they were
    (
        "The odds are 1/36, so 1/36 of rolls, 3/64 inch, 17/32 in; on 1/25, 11/12 done, 2/36 of it.",
        "The odds are 1 in 36, so one thirty-sixth of rolls, three sixty-fourths inch, 17 "
        "thirty-seconds in; on 1 25, 11 12 done, 2 36 of it.",
    ),
    # a release's short forms: "v1.2.x" (heard "be 1 2x"), "EOL" ("eva well"), "LTS"; a file
    # pattern's star ("asterisk py")
    (
        "Node 16 is EOL; use 20.x LTS or v1.2.x, not v1.2.*. Match src/**/*.py.",
        "Node 16 is end-of-life; use 20 dot x L T S or version 1.2 dot x, not version 1.2 dot "
        "star. Match star.py.",
    ),
    # a comparison and a minus between blanks in a formula (Piper said nothing for them:
    # "if x5", "8 1 equals 255"); a menu's ">" a pause, as an arrow is; a hyphen between
    # blanks elsewhere, a "<" between words, a tag and an arrow as they were
    (
        "If x > 5 and y < 3, 2^8 - 1 = 255 and 10 - 3 = 7. Open 9 - 5 daily. Use a < b, "
        "p->q, <b>c</b>, x - the rest, odds < 0.1, file < env. Open Settings > Privacy.",
        "If x greater than 5 and y less than 3, 2 to the power of 8 minus 1 = 255 and 10 minus "
        "3 = 7. Open 9 - 5 daily. Use a less than b, p->q, c, x - the rest, odds less than "
        "0.1, file < env. Open Settings , Privacy.",
    ),
    # a dose by weight, micrograms, a blood pressure, a held key's short name, in full (Piper
    # said "mg slash kge", "M C G", "12080", "see in d plus k"); a pair "3/2" as it was
    (
        "Give 0.5 mg/kg or 1 mg/kg, 2.5 mcg; BP 135/85, 120/80 mmHg, 3/2. Press Cmd+K, "
        "Opt+Shift+P or Ctrl+C.",
        "Give 0.5 milligrams per kilogram or 1 milligram per kilogram, 2.5 micrograms; BP 135 "
        "over 85, 120 over 80 millimeters of mercury, three halves. Press Command+K, "
        "Option+Shift+P or Ctrl+C.",
    ),
    # a shell's redirections and joins between blanks: Piper said "2>&1" "two and one"
    # (heard "2M1"), nothing for "|" or ">", and "/dev/null" by its "null" (heard "knelt");
    # no comparison ("x > y"), no ">" standing for itself, and no table row "a | b"
    (
        "Run make 2>&1 | tee log.txt, or cd app && make > /dev/null 2> /dev/full; x > y, "
        "a - > b, a | b.",
        "Run make 2 to 1 pipe tee log.txt, or cd app and make to dev null 2 to dev full; x "
        "greater than y, a - > b, a | b.",
    ),
    # a chemical formula letter by letter: Piper said "ko two", "nah C L"; not a model's or
    # a chip's name, one element twice, nor NaN
    (
        "CO2, H2SO4 and NaCl; not A100, M2, GPT-4o, B2B, FP16 or NaN.",
        "C O 2, H 2 S O 4 and N A, C L; not A100, M2, GPT-4o, B2B, FP16 or NaN.",
    ),
    # a pace per distance (Piper said "slash K M") and version specifiers (its "<" lost)
    (
        "At 13:05, run 5:30/km; needs Python >=3.11,<4, numpy~=1.26; if n>=0 stop.",
        "At 13:05, run 5 30 per kilometer; needs Python 3.11 or later, below 4, numpy "
        "compatible with 1.26; if n>=0 stop.",
    ),
    # a latency's and a memory's units, a phone's extension, "YTD": Piper said "micro S",
    # "G I B", "ekst", "itd"
    (
        "Call ext. 42: 850 µs, 3.2 GiB/s, 32 GiB, up 3% YTD.",
        "Call extension 42: 850 microseconds, 3.2 gibibytes per second, 32 gibibytes, up 3% "
        "year to date.",
    ),
    # a watt and a volt after a blank, but for a street's west; a second and a meter apart
    # from their number (not a decade's "90s", nor millions: "5 m users"); a relay's
    # "4x400"; a memory's rate and a
    # signal's power: heard "15w", "5b", "90s", "for x400m", "mt per second", "dbm"
    (
        "It draws 15 W at 5 V; rest 90 s, run 4x400 m; DDR5 at 6000 MT/s, -67 dBm. Not 350 "
        "W 42nd St, the 90s, 5 m users.",
        "It draws 15 watts at 5 volts; rest 90 seconds, run 4 by 400 meters; DDR5 at 6000 "
        "megatransfers per second, -67 decibel milliwatts. Not 350 W 42nd St, the 90s, 5 m "
        "users.",
    ),
    # a bond's tenor, basis points (bits per second only where the sentence speaks of data,
    # or for a modem's rate), a currency pair: heard "10 y", "25 bps", "your slash usd"
    (
        "The 10Y rose 25 bps and 1 bps; EUR/USD is 1.08. The link does 300 bps, a modem 9600 bps.",
        "The 10 year rose 25 basis points and 1 basis point; euro dollar is 1.08. The link does "
        "300 bits per second, a modem 9600 bits per second.",
    ),
    # an evening's time on the hour (it was "20 hundred"), one version range after a
    # product's name (it was "greater or equal"), a version glob's star (it was "dot x")
    (
        "Meet at 20:00 or 24:00; needs Python >=3.11; pin 4.2.* or django==4.2.*; if value "
        ">=3.5 stop.",
        "Meet at 8 pm or midnight; needs Python 3.11 or later; pin 4.2 dot star or django "
        "exactly 4.2 dot star; if value >=3.5 stop.",
    ),
    # a chess move, a chord, an offset from UTC: heard "nf3", "hash m7", "in 7", "g match
    # 7", "udc plus by 30", "gdom t8"
    (
        "Play Nf3, then Bxc4+; C#m7, Am7 and Gmaj7, not Am I or Bb. India is UTC+5:30, LA GMT-8.",
        "Play knight f3, then bishop takes c4 check; C sharp minor 7, A minor 7 and G major 7, "
        "not Am I or Bb. India is UTC plus 5 30, LA GMT minus 8.",
    ),
    # a size in inches (its mark was not said: "a 27 monitor"), not a quotation's close
    # (a full stop inside it closes no quotation);
    # a cooking time's "1h30" (heard "one h30"), a size's "1920x1080"
    (
        'A 27" monitor is 23.5" wide; he said "No. 27" twice. Bake 1h30, a 1920x1080 screen.',
        'A 27 inch monitor is 23.5 inches wide; he said "No. 27" twice. Bake 1 hour 30 minutes, '
        "a 1920 by 1080 screen.",
    ),
]


def _said(deltas: list[str]) -> str:
    spoken = SpokenText()
    return "".join(spoken.feed(d) for d in deltas) + spoken.flush()


@pytest.mark.parametrize(("shown", "said"), CASES)
def test_the_spoken_form_is_the_same_however_the_answer_is_split(shown: str, said: str) -> None:
    assert _said([shown]) == said
    assert _said(list(shown)) == said
    for i in range(1, len(shown)):
        assert _said([shown[:i], shown[i:]]) == said, i
        for j in range(i + 1, len(shown), 7):
            assert _said([shown[:i], shown[i:j], shown[j:]]) == said, (i, j)


@pytest.mark.parametrize(("shown", "said"), CASES)
def test_every_word_said_maps_back_into_the_shown_text(shown: str, said: str) -> None:
    spoken = SpokenText()
    assert "".join(spoken.feed(c) for c in shown) + spoken.flush() == said
    assert spoken.shown_offset(len(said)) == len(shown)
    offsets = [spoken.shown_offset(n) for n in range(len(said) + 1)]
    assert offsets == sorted(offsets)  # never backwards


def test_a_link_is_heard_whole_or_not_at_all() -> None:
    shown = "Read [the report](https://example.com/q3/report.pdf) first, then the rest."
    spoken = SpokenText()
    said = spoken.feed(shown) + spoken.flush()
    assert said == "Read the report first, then the rest."

    def heard(words: str) -> str:
        return shown[: spoken.shown_offset(len(words))].rstrip()

    assert heard("Read") == "Read"
    assert heard("Read the") == "Read"  # half its label: the link was not heard
    assert heard("Read the report") == "Read [the report](https://example.com/q3/report.pdf)"
    assert heard("Read the report first, then") == (
        "Read [the report](https://example.com/q3/report.pdf) first, then"
    )


def test_a_path_is_remembered_as_written_once_its_file_name_is_heard() -> None:
    shown = "I saved notes/q3_budget.md for you."
    spoken = SpokenText()
    said = spoken.feed(shown) + spoken.flush()
    # the letters of "I saved q3 budget.md" had played (alignment counts no blanks)
    letters = len("Isavedq3budget.md")
    words = heard_prefix(said, played_samples=1, sample_rate=1, letters_at_played=letters)
    assert shown[: spoken.shown_offset(len(words))] == "I saved notes/q3_budget.md"
    letters = len("Isavedq3bud")
    words = heard_prefix(said, played_samples=1, sample_rate=1, letters_at_played=letters)
    assert shown[: spoken.shown_offset(len(words))].rstrip() == "I saved"


def test_a_url_s_dots_cut_no_sentence() -> None:
    said = _said(["Go to https://www.example.co.uk/a.b/c.html?v=1.2 for it. Then"])
    assert said == "Go to example.co.uk for it. Then"
    cuts = [m.end() for m in _FIRST_CUT.finditer(said)] + [
        m.end() for m in _LATER_CUT.finditer(said)
    ]
    assert set(cuts) == {len("Go to example.co.uk for it. ")}


def test_plain_words_are_said_as_soon_as_they_are_whole() -> None:
    spoken = SpokenText()
    assert spoken.feed("It is") == "It "  # "is" may go on ("isn't")
    assert spoken.feed(" ten past") == "is ten "
    assert spoken.feed(" three.\n") == "past three.\n"


def test_a_minus_between_blanks_holds_the_voice_only_to_the_word_after_it() -> None:
    """ " - " between numbers is "minus" in a formula ("10 - 3 = 7"): the voice waited for
    a "=", the sentence's end or 60 characters, and an answer that began "About 5 - 10
    minutes is enough for most people" was handed to the voice 30 characters late. A word
    after the operand tells it is no formula's."""
    spoken = SpokenText()
    assert spoken.feed("About 5 - 10 minutes ") == "About 5 - 10 minutes "
    assert spoken.held == 0
    spoken = SpokenText()
    assert spoken.feed("So 10 - 3 ") == "So 10 "  # "= 7" may come yet
    assert spoken.feed("= 7 ").startswith("minus 3 = ")


def test_a_comparison_written_without_blanks_holds_the_voice_a_word_at_most() -> None:
    """ "a<b" began a known tag, and the words after it were taken for its attributes: the
    voice waited for a ">" or 150 characters."""
    spoken = SpokenText()
    said = [spoken.feed(word + " ") for word in ["if", "a<b", "then", "c", "else", "d"]]
    assert said == ["if ", "a", "<b then ", "c ", "else ", "d "]
    assert spoken.held == 0


def test_a_bracket_that_never_closes_keeps_the_voice_silent_only_so_long() -> None:
    """A "[" held the rest of its line from the voice, to see whether it was a link."""
    spoken = SpokenText()
    aside = "[an aside that goes on " + "and on " * 30
    said = "".join(spoken.feed(word + " ") for word in aside.split(" "))
    assert said.startswith("[an aside that goes on and on")
    assert len(aside) - len(said) < 160


@pytest.mark.parametrize(
    ("shown", "said"),
    [
        (
            "公式サイト（https://www.python.org/）をご覧ください。次へ。",
            "公式サイト（python.org）をご覧ください。次へ。",
        ),
        (
            "詳細は、https://example.com/aを参照してください。ほかにもあります。",
            "詳細は、example.comを参照してください。ほかにもあります。",
        ),
        (
            "参考：https://ja.wikipedia.org/wiki/東京。首都です。",
            "参考：ja.wikipedia.org東京。首都です。",
        ),
        ("在https://例え.jp/a看。", "在例え.jp看。"),  # glued to the word before it too
        (
            "詳細はhttps://example.com/aを参照してください。",
            "詳細はexample.comを参照してください。",
        ),
        ("日本語のwww.example.com/pricingを見て。", "日本語のexample.comを見て。"),
        ("见：https://例え.jp/a看。", "见：例え.jp看。"),
        ("ดูที่https://example.com/aนะครับ ขอบคุณ", "ดูที่example.comนะครับ ขอบคุณ"),
        ("https://example.com/a를 참고하세요.", "example.com를 참고하세요."),
        (
            "Check https://example.com/a—it's free… “https://x.org” too.",
            "Check example.com—it's free… “x.org” too.",
        ),
    ],
)
def test_a_url_ends_where_text_written_without_spaces_or_a_dash_goes_on(
    shown: str, said: str
) -> None:
    """A bare URL ran to the next blank: in Japanese or Chinese, which have none, the rest
    of the line after it (or the answer) was taken for its address, never said, and the
    voice silent until the line's end; so were the words after an em dash glued to it."""
    assert _said([shown]) == said
    spoken = SpokenText()
    words = [spoken.feed(c) for c in shown]
    # the host is said once the address is over, not at the line's end
    assert "".join(words).startswith(said[: len(said) - 4])
    assert spoken.shown_offset(len(said)) == len(shown)


@pytest.mark.parametrize(
    ("shown", "said"),
    [
        ("ファイルはnotes/q3_budget.mdにあります。", "ファイルはq3 budget.mdにあります。"),
        ("これはC#です。", "これはC sharpです。"),
        ("東京タワーは高い。", "東京タワーは高い。"),
    ],
)
def test_a_path_or_name_glued_to_japanese_is_said_as_one(shown: str, said: str) -> None:
    """Japanese and Chinese put no blank around a path or a name: with the text before and
    after it, it was one word, said as written ("notes slash q3 underscore budget…")."""
    assert _said([shown]) == said
    assert _said(list(shown)) == said


@pytest.mark.parametrize(
    ("shown", "said"),
    [
        ("見て：docs/設計.md。", "見て：設計.md。"),
        ("ファイルはdocs/設計.mdにあります。", "ファイルは設計.mdにあります。"),
        ("~/プロジェクト/メモ.md を開く", "メモ.md を開く"),
        ("C:\\ユーザー\\a.txt を開く", "a.txt を開く"),
        ("notes_日本.mdを開いて。", "notes 日本.mdを開いて。"),
        ("資料/計画.mdを見て。", "資料/計画.mdを見て。"),
    ],
)
def test_a_path_with_japanese_in_it_is_said_by_its_file_name(shown: str, said: str) -> None:
    """A path whose folder or file name is Japanese was cut at its first Japanese letter:
    "docs/設計.md" was said "docs設計.md", "~/プロジェクト/メモ.md" all of it, as written."""
    assert _said([shown]) == said
    assert _said(list(shown)) == said
    spoken = SpokenText()
    out = ""
    for ch in shown:
        out += spoken.feed(ch)
    out += spoken.flush()
    assert spoken.shown_offset(len(out)) == len(shown)


def test_a_bracket_whose_address_cannot_be_one_keeps_the_voice_silent_only_so_long() -> None:
    """After "](" the rest of the line was held, as a link's address might still close:
    one with a blank in it ("see the notes …") cannot be one, and the voice waited for the
    line's end (here 1,500 characters, over a minute of speech) to say the first word."""
    line = "Use a [b](see the notes " + "and more words " * 100
    spoken = SpokenText()
    said = "".join(spoken.feed(line[i : i + 4]) for i in range(0, len(line), 4))
    assert said == line  # all of it, its line not over yet
    assert said + spoken.feed("end.\nNext") + spoken.flush() == line + "end.\nNext"
    # a title after the blank may still make one
    assert _said(list('A [c](d.md  "the t") and [e](f (g')) == "A c and [e](f (g"


@pytest.mark.parametrize(
    "shown",
    [
        "See ["
        + "a long aside " * 12
        + "](https://example.com/x) and ~~"
        + "old " * 40
        + "~~ new.",
        "See [" + "b" * 149 + "](x.md) or ~~" + "c" * 147 + "~~ and ~~" + "d" * 148 + "~~ end.",
    ],
)
def test_a_long_bracket_or_strike_is_said_the_same_however_it_comes(shown: str) -> None:
    """A "[" or "~~" is held at most 150 characters to see whether it is a link or struck
    text, then said as it is. Come in one delta, with its "](" or closing "~~" further on,
    it was a link, or struck: what the voice said hung on how the model cut its text."""
    whole = _said([shown])
    assert whole == _said(list(shown))
    for size in (3, 7, 40, 200):
        assert whole == _said([shown[i : i + size] for i in range(0, len(shown), size)]), size


def _shown_and_said(deltas: list[str]) -> tuple[str, str]:
    """What is shown and said of an answer, through the Markdown pass as the reply does."""
    speakable, spoken = SpeakableText(), SpokenText()
    shown: list[str] = []
    said: list[str] = []
    for delta in [*deltas, None]:
        text = speakable.feed(delta) if delta is not None else speakable.flush()
        shown.append(text)
        lines = (
            speakable.code_lines,
            speakable.item_lines,
            speakable.said_words,
            speakable.code_spans,
        )
        said.append(spoken.feed(text, *lines))
    return "".join(shown), "".join(said) + spoken.flush()


@pytest.mark.parametrize(
    ("answer", "shown", "said"),
    [
        # a check mark or a cross standing for a value is said "yes" or "no": the values
        # were dropped, "Python: Java.", "Fast" and "Cheap"; what is shown stays as it was
        ("Python: ✅, Java: ❌.", "Python: Java.", "Python: yes, Java: no."),
        ("- Fast: ✅\n- Cheap: ❌\n", "- Fast\n- Cheap\n", "Fast: yes.\nCheap: no.\n"),
        ("Tests: ✔️; docs: ✅!", "Tests: docs!", "Tests: yes; docs: yes!"),
        # ... and so alone in a table's cell: the row was said "Java, ." (the cell's value
        # lost), in a first or a middle cell too
        (
            "| Python | ✅ |\n| Java |❌|\n| ✅ | a | ❌ |",
            "| Python | |\n| Java ||\n| | a | |",
            "Python, yes.\nJava, no.\nyes, a, no.",
        ),
        # ... and so several of one kind alone in a cell, said once (the row was said
        # "Speed, ."); mixed ones each in turn, "or" for a slash or an "or" between them
        # (the row was said "Both, ." and "Either, /.", Whisper heard "Either flash")
        (
            "| Speed | ✅ ✅ |\n| Cost |❌❌|\n| Both | ✅ ❌ |\n| Either | ✅ / ❌ |",
            "| Speed | |\n| Cost ||\n| Both | |\n| Either | |",
            "Speed, yes.\nCost, no.\nBoth, yes and no.\nEither, yes or no.",
        ),
        ("| Mac | ✅/❌ | ❌ or ✅ |", "| Mac | | |", "Mac, yes or no, no or yes."),
        # ... and at a cell's start before its words, with a comma: "partly" alone was said
        ("| a | ✅ done |", "| a | done |", "a, yes, done."),
        (
            "| Sync | ✅ partly | ❌ not yet |",
            "| Sync | partly | not yet |",
            "Sync, yes, partly, no, not yet.",
        ),
        # in a sentence it is dropped as before
        ("Done ✅ and tested. Status: ✅ Done", "Done and tested. Status: Done", None),
    ],
)
def test_a_check_mark_standing_for_a_value_is_said_yes_or_no(
    answer: str, shown: str, said: str | None
) -> None:
    said = shown if said is None else said
    assert _shown_and_said([answer]) == (shown, said)
    assert _shown_and_said(list(answer)) == (shown, said)
    for i in range(1, len(answer)):
        assert _shown_and_said([answer[:i], answer[i:]]) == (shown, said), i
        for j in range(i + 1, len(answer)):
            assert _shown_and_said([answer[:i], answer[i:j], answer[j:]]) == (shown, said)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        # in code an address's path is what the person types: "curl
        # localhost:11434/api/tags" was said "curl localhost port 1 1 4 3 4", its path lost
        (
            "Run `curl localhost:11434/api/tags` or `https://a.org/v1/m?x=1`.",
            "Run curl localhost port 1 1 4 3 4 slash api slash tags or a.org slash v1 slash m.",
        ),
        (
            "```\ncurl localhost:11434/api/tags\n```\nOr localhost:11434/api/tags.",
            "curl localhost port 1 1 4 3 4 slash api slash tags\nOr localhost port 1 1 4 3 4.",
        ),
        # an address without its scheme, "www." too: it was "example.com slash
        # www.example.com slash docs"
        (
            "Visit `www.example.com/docs/setup` or `<www.a.org/x>`.",
            "Visit example.com slash docs slash setup or a.org slash x.",
        ),
        # its query is not said, as with a scheme ("slash search?q=x&n=2" was read as written)
        (
            'Run `curl "localhost:8080/search?q=x&n=2"` now.',
            'Run curl "localhost port 80 80 slash search" now.',
        ),
        # a query after a bare path is not said either, in a block as in prose: "GET
        # /search?q=x" was read as written in the block, "search question mark q equals x"
        (
            "```\nGET /search?q=x&n=2\n```\nOr GET /search?q=x.",
            "GET search\nOr GET search.",
        ),
        # in prose an address is its host (and port) as before, after a span too
        (
            "Open `x` or http://localhost:8080/docs; `a`b localhost:80/x.",
            "Open x or localhost port 80 80; ab localhost port 80.",
        ),
    ],
)
def test_an_address_in_code_is_said_with_its_path(answer: str, said: str) -> None:
    shown = _shown_and_said([answer])[0]
    assert _shown_and_said([answer]) == (shown, said)
    assert _shown_and_said(list(answer)) == (shown, said)
    for i in range(1, len(answer)):
        assert _shown_and_said([answer[:i], answer[i:]]) == (shown, said), i
        for j in range(i + 1, len(answer), 3):
            assert _shown_and_said([answer[:i], answer[i:j], answer[j:]]) == (shown, said)


def _said_over_two_rounds(rounds: list[str], split: int) -> tuple[SpokenText, str]:
    """Two tool rounds of one answer as the reply says them: the first streamed in two
    pieces cut at ``split``, each round cleaned anew (``SpeakableText``) and flushed at its
    end, one spoken form for the whole answer. The spoken form and what it said."""
    spoken, said = SpokenText(), []
    for deltas in ([rounds[0][:split], rounds[0][split:]], [rounds[1]]):
        speakable = SpeakableText()
        for delta in [*deltas, None]:
            text = speakable.feed(delta) if delta is not None else speakable.flush()
            marks = speakable.code_lines, speakable.item_lines, speakable.said_words
            said.append(spoken.feed(text, *marks, speakable.code_spans))
        said.append(spoken.flush())  # as the reply does at each round's end
    return spoken, "".join(said)


def test_code_that_ends_a_round_does_not_go_on_into_the_next() -> None:
    """A span that closed at the very end of a round ("I will run `ls`", then a tool call)
    told its close with no text, which reached no one: the next round's prose was taken
    for code, its address said with its path ("localhost port 80 80 slash admin slash
    users"). The voice's spoken form lasts the whole answer; each round is cleaned anew."""
    rounds = ["I will run `ls`", " Then open http://localhost:8080/admin/users now."]
    for split in range(1, len(rounds[0])):
        heard = _said_over_two_rounds(rounds, split)[1]
        assert heard == "I will run ls Then open localhost port 80 80 now.", split


def test_a_code_block_left_open_at_a_round_s_end_does_not_go_on_into_the_next() -> None:
    """A fenced block the model left open in the middle of its line before a tool call
    ("```\\ncurl localhost:8080/x"): the next round's prose went on as that code line, its
    first word glued to the code's and its address said with its path ("slash xThen open
    localhost port 80 80 slash admin slash users"). It starts after a pause, as prose."""
    rounds = [
        "Let me check:\n```\ncurl localhost:8080/x",
        "Then open http://localhost:8080/admin/users now.",
    ]
    for split in range(1, len(rounds[0])):
        spoken, heard = _said_over_two_rounds(rounds, split)
        assert heard == (
            "Let me check:\ncurl localhost port 80 80 slash x\nThen open localhost port 80 80 now."
        ), split
        # the pause is said where nothing is shown: the heard end is the shown end
        assert spoken.shown_offset(len(heard)) == len("".join(rounds)) - len("```\n"), split
