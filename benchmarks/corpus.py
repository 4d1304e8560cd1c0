"""Deterministic synthetic corpora for sample data and benchmarks (no downloads, no models).

Every generator draws from a seeded ``random.Random``: the same seed and size give the same
bytes, so benchmark numbers stay comparable between versions. Kinds:

- topic prose (``document``, ``sentence``, ``paragraph``, ``near_duplicate``): English
  paragraphs on six topics from a small grammar; unrelated documents share few 5-word shingles
  while reading like prose (sample_data, the DP benchmark, tests);
- ``write_scale_corpus``: topic prose as gzip JSONL shards with 5% exact and 5% near duplicates
  and 10% of documents led by a PII line (bench_scale, bench_runner_memory);
- ``write_spine_corpus``: topic prose as gzip JSONL shards with 5% exact duplicates
  (bench_spine);
- ``mixed_quality_corpus``: clean and short prose, boilerplate, lists, code, repetition, short
  lines, lorem ipsum and noisy prose, amounts drawn so that many documents land near the quality
  filters' thresholds (bench_filters);
- ``clustered_corpus``: template prose with families of edited copies at controlled edit rates
  (bench_near_dedup);
- ``long_document``: 20-60 K-character documents in the style of court judgments and clinical
  nursing notes (capitalised names, courts, places, facilities; all-capital note blocks; phone,
  pager, record and case numbers, dates), all invented (bench_pii speed --long).

Write one to disk (JSON lines; a directory of gzip shards for ``scale`` and ``spine``)::

    .venv/bin/python -m benchmarks.corpus mixed-quality 3000 corpus.jsonl --seed 7
    .venv/bin/python -m benchmarks.corpus clustered 1500 corpus.jsonl --seed 42
    .venv/bin/python -m benchmarks.corpus long 12 long12.jsonl --seed 16
    .venv/bin/python -m benchmarks.corpus scale 10000 corpus/
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def _words(text: str) -> list[str]:
    return text.split()


def _phrases(text: str) -> list[str]:
    """Comma-separated entries, each with its whitespace collapsed (entries may wrap lines)."""
    return [" ".join(p.split()) for p in text.split(",")]


# ------------------------------------------------------------------------------ topic prose

TOPICS = {
    "gardening": (
        _phrases(
            """
            tomato, seedling, compost, trellis, mulch, greenhouse, orchard, hedge, soil, root,
            blossom, pruning shear, watering can, raised bed, pollinator
            """
        ),
        _words(
            """
            planted watered pruned harvested fertilized transplanted covered staked weeded composted
            """
        ),
        _words("early shady damp sandy fragrant hardy young overgrown sunny"),
    ),
    "cooking": (
        _words(
            """
            saucepan onion garlic broth oven dough skillet recipe spice butter lentil casserole
            marinade bread pastry
            """
        ),
        _words("simmered roasted chopped whisked seasoned baked stirred braised kneaded tasted"),
        _words("crisp savory tender golden smoky rich tangy warm fresh"),
    ),
    "astronomy": (
        _words(
            """
            telescope nebula comet orbit galaxy eclipse planet moon star observatory meteor spectrum
            asteroid constellation horizon
            """
        ),
        _words(
            """
            observed measured tracked photographed charted calculated predicted catalogued detected
            recorded
            """
        ),
        _words("distant faint bright icy ancient massive rotating dusty clear"),
    ),
    "cycling": (
        _phrases(
            """
            bicycle, saddle, chain, gear, helmet, route, climb, descent, tyre, pedal, handlebar,
            peloton, valley road, mountain pass, repair kit
            """
        ),
        _words("climbed descended repaired adjusted raced cleaned inflated replaced rode crossed"),
        _words("steep windy smooth muddy narrow long gravelly quiet rolling"),
    ),
    "history": (
        _words(
            """
            archive manuscript treaty castle harbour merchant guild chronicle parliament village
            bridge cathedral market monastery census
            """
        ),
        _words(
            """
            documented rebuilt negotiated founded abandoned described restored recorded excavated
            translated
            """
        ),
        _words("medieval forgotten coastal royal crowded ruined famous local old"),
    ),
    "software": (
        _phrases(
            """
            compiler, database, server, library, function, query, cache, release, pipeline, thread,
            scheduler, index, schema, test suite, module
            """
        ),
        _words(
            """
            refactored deployed profiled benchmarked migrated documented rewrote tuned released
            reviewed
            """
        ),
        _words("slow stable legacy concurrent distributed small robust new faster"),
    ),
}
DETS = _words("the a one that our their every some this another")
PREPS = _words(
    """
    near beside behind under above around without after before along across beyond inside against
    """
)
LINKS = _phrases("although, because, while, so, even though, since, until, once, whenever, as")
ADVS = _words(
    """
    slowly carefully again quietly twice briefly gladly hastily patiently finally mostly rarely
    """
)
PEOPLE = _phrases(
    """
    the neighbours, my aunt, a visitor, the team, two students, an engineer, the owner, a stranger,
    our guide, the committee, a child, the volunteers
    """
)
SEEM = _words("seemed looked felt remained became stayed proved")
NAMES = _words(
    """
    Alice Bruno Chen Dana Elif Farah Goran Hana Ivan Jonas Kofi Lena Mateo Nadia Omar Priya Quinn
    Rosa Sami Tomas
    """
)
PLACES = _words(
    """
    Lisbon Oslo Kyoto Nairobi Quito Porto Tallinn Hobart Cusco Ghent Bergen Leeds Toledo Dakar Perth
    """
)
OPENERS = [
    "",
    "",
    "",
    "Yesterday,",
    "In spring,",
    "Later that week,",
    "By noon,",
    "Surprisingly,",
    "As usual,",
    "Once again,",
    "Before long,",
    "At first,",
    "Meanwhile,",
    "After some debate,",
    "Without much fuss,",
    "For a while,",
    "Early on,",
    "In the end,",
]


def _np(rng: random.Random, nouns: list[str], adjs: list[str]) -> str:
    parts = [rng.choice(DETS)]
    if rng.random() < 0.6:
        parts.append(rng.choice(adjs))
    parts.append(rng.choice(nouns))
    return " ".join(parts)


def sentence(rng: random.Random, topic: str) -> str:
    """One sentence from a small grammar: fixed five-word runs rarely repeat inside a document
    (the Gopher repetition rules would rightly drop templated text)."""
    nouns, verbs, adjs = TOPICS[topic]
    subject = rng.choice(PEOPLE) if rng.random() < 0.35 else _np(rng, nouns, adjs)
    words = [rng.choice(OPENERS), subject]
    if rng.random() < 0.3:
        words.append(rng.choice(ADVS))
    words += [rng.choice(verbs), _np(rng, nouns, adjs)]
    if rng.random() < 0.6:
        words += [rng.choice(PREPS), _np(rng, nouns, adjs)]
    if rng.random() < 0.5:
        words += [rng.choice(LINKS), _np(rng, nouns, adjs), rng.choice(SEEM), rng.choice(adjs)]
    if rng.random() < 0.15:
        words += ["in", str(rng.randint(1950, 2025))]
    if rng.random() < 0.15:
        words += ["according to", rng.choice(NAMES), "from", rng.choice(PLACES)]
    text = " ".join(w for w in words if w)
    return text[0].upper() + text[1:] + "."


def paragraph(rng: random.Random, topic: str, sentences: int) -> str:
    return " ".join(sentence(rng, topic) for _ in range(sentences))


def document(rng: random.Random, min_words: int = 80, max_words: int = 300) -> str:
    """A multi-paragraph English document of roughly ``min_words``..``max_words`` words."""
    topic = rng.choice(sorted(TOPICS))
    target = rng.randint(min_words, max_words)
    paras: list[str] = []
    words = 0
    while words < target:
        p = paragraph(rng, topic, rng.randint(2, 5))
        paras.append(p)
        words += len(p.split())
    return "\n\n".join(paras)


def near_duplicate(rng: random.Random, text: str, edit_rate: float = 0.03) -> str:
    """Edit ``edit_rate`` of the words (at least two edits): substitute, delete or insert."""
    words = text.split(" ")
    n = max(2, round(edit_rate * len(words)))
    positions = set(rng.sample(range(len(words)), min(n, len(words))))
    out: list[str] = []
    for i, w in enumerate(words):
        if i not in positions:
            out.append(w)
            continue
        op = rng.randrange(3)
        if op == 0:
            out.append(rng.choice(["very", "quite", "rather", "truly", "still"]))
        elif op == 1:
            out.extend([w, rng.choice(["indeed", "again", "also"])])
        # op == 2: delete the word
    return " ".join(out)


# ------------------------------------------------------------ gzip JSONL shards of topic prose

PII_LINES = [
    "Contact Dana Whitfield at dana.whitfield@example.com for details.",
    "Call the office on (415) 555-0173 before noon.",
    "The invoice went to card 4111 1111 1111 1111 last week.",
    "Login attempts came from 198.51.100.23 overnight.",
]


def write_scale_corpus(directory: Path, docs: int, files: int = 10) -> int:
    """``docs`` documents of English prose, 5% exact and 5% near duplicates, 10% with a PII line,
    as ``files`` gzip JSONL shards (``{"id", "text"}``) in ``directory``; returns the
    uncompressed bytes. Same arguments, same bytes (gzip mtime 0)."""
    rng = random.Random(11)
    total = 0
    per_file = -(-docs // files)
    recent: list[str] = []
    n = 0
    for f in range(files):
        lines = []
        for _ in range(per_file):
            if n >= docs:
                break
            r = rng.random()
            if recent and r < 0.05:
                text = rng.choice(recent)
            elif recent and r < 0.10:
                text = near_duplicate(rng, rng.choice(recent), 0.02)
            else:
                text = document(rng, 80, 260)
                if rng.random() < 0.10:
                    text = rng.choice(PII_LINES) + "\n\n" + text
                recent.append(text)
                recent = recent[-200:]
            lines.append(json.dumps({"id": f"d{n}", "text": text}))
            n += 1
        data = ("\n".join(lines) + "\n").encode()
        total += len(data)
        (directory / f"part-{f:03d}.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
    return total


def write_spine_corpus(directory: Path, docs: int, files: int = 10) -> int:
    """``docs`` documents (``{"id", "text", "source"}``), 5% exact duplicates, the rest unique
    by a numbered first sentence over up to 5,000 base documents, as ``files`` gzip JSONL
    shards in ``directory``; returns the uncompressed characters. The decompressed content is
    the same for the same arguments (the gzip header carries the write time)."""
    rng = random.Random(42)
    base = [document(rng, 60, 260) for _ in range(min(docs, 5000))]
    total = 0
    per_file = -(-docs // files)
    n = 0
    for f in range(files):
        with gzip.open(directory / f"part-{f:03d}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for _ in range(per_file):
                if n >= docs:
                    break
                text = (
                    base[n % len(base)]
                    if rng.random() < 0.05
                    else f"Record {n}. " + rng.choice(base)
                )
                line = json.dumps({"id": f"d{n}", "text": text, "source": "bench"}) + "\n"
                fh.write(line)
                total += len(line)
                n += 1
    return total


# ------------------------------------------------------------------- mixed-quality documents

_MQ_NOUNS = _words(
    """
    committee proposal river bridge council survey city report market school teacher student doctor
    patient garden village road engine system method result question answer window kitchen library
    museum festival harvest storm weather journey company worker manager budget policy election
    museum painting novel author chapter story forest mountain valley island harbour ship captain
    train station ticket price customer product service network software computer language dataset
    model
    """
)
_MQ_VERBS = _words(
    """
    reviewed found raised agreed asked prepared built opened closed studied measured described
    improved reduced increased changed visited explained published noticed discussed tested planned
    painted wrote read bought sold carried moved followed
    """
)
_MQ_ADJS = _words(
    """
    new old small large quiet busy careful simple difficult useful strange bright dark local
    national early late modern ancient steady rapid gentle heavy clear
    """
)
_MQ_ADVS = _words("quickly slowly carefully finally recently often rarely clearly quietly")
_MQ_CONNECT = _words("although because after before while since when unless whereas even though")
_MQ_PEOPLE = _phrases(
    """
    the chair, the mayor, a spokesperson, the engineers, local residents, the staff, the staff, the
    mayor, the women, older adults, immigrant families, Muslim leaders, disabled visitors, gay
    couples, young people, the engineers, a spokesperson, the chair
    """
)
_MQ_MENU = _phrases(
    """
    Home, About us, Contact, Blog, Shop, Careers, Press, Help, FAQ, Login, Sign up, Cart, Search,
    Terms of use, Privacy policy, Sitemap, News, Events
    """
)
_MQ_HASHTAGS = _words("#news #today #love #tbt #travel #food #music #photo")
_MQ_BOILER = [
    "This website uses cookies to improve your experience.",
    "Please enable JavaScript in your browser to view this page.",
    "Share on Facebook",
    "Share on Twitter",
    "Read more »",
    "© 2024 All rights reserved.",
    "Subscribe to our newsletter!",
    "Click here to continue...",
    "Posted by admin",
    "Leave a comment",
]
_MQ_LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat."
)
_MQ_CODE = [
    "def {n}(x, y):\n    if x > y:\n        return x - y\n    return {{'a': x, 'b': y}}",
    "function {n}(a) {{\n  const b = a.map((v) => v * 2);\n  return b.filter(Boolean);\n}}",
    "for i in range(10):\n    print(i, {n}[i])",
    "SELECT {n}, COUNT(*) FROM orders WHERE price > 10 GROUP BY {n};",
    '<div class="{n}">\n  <p>{n}</p>\n</div>',
    '#include <stdio.h>\nint main() {{ printf("%d\\n", {n}); return 0; }}',
]


class MixedQuality:
    """Documents of nine kinds, drawn with ``KINDS``' weights; one method per kind. Some people
    are named by identity terms, so the disparity report has groups to measure."""

    KINDS = (
        ("clean", 28),
        ("short", 8),
        ("boilerplate", 12),
        ("listing", 10),
        ("code", 7),
        ("repetitive", 12),
        ("short_lines", 7),
        ("lorem", 4),
        ("noisy", 12),
    )

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def word(self, pool: list[str] = _MQ_NOUNS) -> str:
        return self.r.choice(pool)

    def sentence(self) -> str:
        r = self.r
        parts = [
            r.choice(["The", "A", "Every", "One", "That"]),
            self.word(_MQ_ADJS),
            self.word(),
            self.word(_MQ_VERBS),
            r.choice(["the", "a", "their", "its"]),
            self.word(),
        ]
        if r.random() < 0.5:
            parts += [r.choice(_MQ_CONNECT), r.choice(_MQ_PEOPLE), self.word(_MQ_VERBS)]
            parts += ["the", self.word()]
        if r.random() < 0.3:
            parts += ["with", r.choice(["a", "the"]), self.word(_MQ_ADJS), self.word()]
        if r.random() < 0.25:
            parts.insert(3, self.word(_MQ_ADVS))
        if r.random() < 0.15:
            parts += ["and", "it", "didn't", "change", "the", self.word()]
        if r.random() < 0.1:
            parts += ["in", str(r.randint(1900, 2024))]
        if r.random() < 0.1:
            parts += ["(" + self.word(_MQ_ADJS) + "-" + self.word() + ")"]
        end = r.choices([".", "!", "?", "...", ""], weights=[85, 3, 5, 3, 4])[0]
        return " ".join(parts) + end

    def paragraph(self, n: int | None = None) -> str:
        n = n or self.r.randint(2, 6)
        return " ".join(self.sentence() for _ in range(n))

    def prose(self, paragraphs: int | None = None, sep: str = "\n") -> str:
        k = paragraphs or self.r.randint(1, 7)
        return sep.join(self.paragraph() for _ in range(k))

    # --- kinds ---------------------------------------------------------------------------

    def clean(self) -> str:
        return self.prose(sep=self.r.choice(["\n", "\n\n"]))

    def short(self) -> str:
        return " ".join(self.sentence() for _ in range(self.r.randint(1, 4)))

    def boilerplate(self) -> str:
        r = self.r
        lines = r.sample(_MQ_MENU, r.randint(2, 10)) if r.random() < 0.7 else []
        lines += self.prose(r.randint(1, 4)).split("\n")
        lines += r.sample(_MQ_BOILER, r.randint(1, 5))
        if r.random() < 0.4:
            lines += [" | ".join(r.sample(_MQ_MENU, 5))]
        return "\n".join(lines)

    def listing(self) -> str:
        r = self.r
        bullet = r.choice(["- ", "• ", "* ", "", "1. "])
        items = [
            bullet
            + " ".join(self.word(_MQ_ADJS if j % 2 else _MQ_NOUNS) for j in range(r.randint(1, 6)))
            + r.choice(["", "", "."])
            for _ in range(r.randint(5, 40))
        ]
        head = [self.sentence()] if r.random() < 0.6 else []
        return "\n".join(head + items)

    def code(self) -> str:
        r = self.r
        blocks = [r.choice(_MQ_CODE).format(n=self.word()) for _ in range(r.randint(1, 4))]
        if r.random() < 0.5:
            blocks.insert(0, self.paragraph(r.randint(1, 3)))
        return "\n\n".join(blocks)

    def repetitive(self) -> str:
        r = self.r
        kind = r.choice(["lines", "paragraphs", "phrase", "ngrams"])
        base = self.prose(r.randint(2, 6)).split("\n")
        if kind == "lines":
            rep = r.choice(base)
            for _ in range(r.randint(1, 8)):
                base.insert(r.randrange(len(base) + 1), rep)
            return "\n".join(base)
        if kind == "paragraphs":
            paras = [self.paragraph() for _ in range(r.randint(2, 6))]
            paras += r.choices(paras, k=r.randint(1, 4))
            return "\n\n".join(paras)
        if kind == "phrase":
            phrase = " ".join(self.word() for _ in range(r.randint(2, 4)))
            n = r.randint(2, 25)
            return "\n".join(base) + " " + " ".join([phrase] * n) + "."
        words = self.paragraph(3).split()
        k = r.randint(5, 12)
        chunk = words[:k]
        return " ".join(words + chunk * r.randint(1, 4)) + "\n" + self.paragraph()

    def short_lines(self) -> str:
        r = self.r
        if r.random() < 0.5:  # verse
            return "\n".join(
                " ".join(
                    self.word(r.choice([_MQ_NOUNS, _MQ_ADJS, _MQ_VERBS]))
                    for _ in range(r.randint(2, 6))
                )
                + r.choice(["", ",", "."])
                for _ in range(r.randint(6, 30))
            )
        rows = [" | ".join(self.word() for _ in range(3))]
        rows += [
            " | ".join([self.word(), str(r.randint(1, 999)), f"{r.random():.2f}"])
            for _ in range(r.randint(5, 25))
        ]
        return "\n".join(rows)

    def lorem(self) -> str:
        r = self.r
        if r.random() < 0.5:
            return "\n".join([_MQ_LOREM] * r.randint(1, 3))
        parts = self.prose(r.randint(2, 5)).split("\n")
        parts.insert(r.randrange(len(parts) + 1), _MQ_LOREM)
        return "\n".join(parts)

    def noisy(self) -> str:
        r = self.r
        lines = self.prose(r.randint(1, 5)).split("\n")
        out = []
        for line in lines:
            x = r.random()
            if x < 0.25:
                line += " " + " ".join(r.sample(_MQ_HASHTAGS, r.randint(1, 6)))
            elif x < 0.45:
                line = line.rstrip(".") + "..."
            elif x < 0.6:
                line += " See https://example.org/" + self.word() + " for details."
            elif x < 0.75:
                line += " " + " ".join(str(r.randint(0, 9999)) for _ in range(r.randint(3, 15)))
            out.append(line)
        if r.random() < 0.3:
            out.append("… " * r.randint(2, 10))
        return "\n".join(out)

    def document(self) -> tuple[str, str]:
        """(kind, text) of one document of a kind drawn by weight."""
        kinds = self.KINDS
        kind = self.r.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
        return kind, getattr(self, kind)()


def mixed_quality_corpus(n: int, seed: int = 7) -> list[dict[str, str]]:
    """``n`` records ``{"id": "doc00000", "kind", "text"}`` from ``MixedQuality(seed)``."""
    g = MixedQuality(seed)
    docs = []
    for i in range(n):
        kind, text = g.document()
        docs.append({"id": f"doc{i:05d}", "kind": kind, "text": text})
    return docs


# ----------------------------------------------------- near-duplicate clusters of template prose
# Edits applied to a copy of a base document, each at a controlled rate: word substitutions,
# insertions and deletions (a fraction of the words), reordered paragraphs, and an appended
# boilerplate footer shared by many documents (the case that makes huge LSH buckets). The
# vocabulary (~330 nouns and as many other words) is larger than topic prose's, so unrelated
# documents share almost no shingles.

_TPL_NOUNS = _words(
    """
account answer apartment argument article audience author balance bank basket battery beach
bicycle bird blanket boat body bottle boundary branch bread bridge brother budget building
cabinet camera campaign candle capital captain career carpet castle category ceiling century
chair chapter character cheese chicken child church circle citizen city climate clock cloud
coach coast coffee collection college colony committee community company computer concert
condition contract corner council country county course cousin craft crowd culture cup
customer dance daughter debate decade decision desert design detail device diary dinner
direction director disease district doctor document dog door dream driver economy editor
election electricity emergency employee energy engine engineer entrance environment error
evening event evidence exam example exchange exercise factory family farm farmer father
feature festival field figure film finger fire fish flight floor flower forest fortune frame
friend fruit furniture future garden gate generation gift girl glass goal government grain
grandmother grass group guest guitar hall harbor harvest health heart height highway history
holiday horse hospital hotel house husband idea image income industry insect instrument
island journey judge kitchen knowledge lake language lawyer leader lesson letter library
light lunch machine magazine manager map market meal meeting member memory message method
minister minute mirror model moment morning mother mountain movie museum music nation
neighbor network newspaper night novel ocean office officer opinion orange owner painting
paper parent park partner passenger path patient pattern payment people period permission
person phone photo piano picture plan plant plate player poem poet police policy politics
population position potato power president pressure price prison problem process product
professor program project property province public quality queen question radio rain reader
reason recipe record region relation report republic research resource restaurant result
river road rock room rule safety salad sample school science scientist season secretary
sector security series shape ship shirt shoe shop signal singer sister situation skill sky
society soldier song soup source speech sport spring square staff stage standard station
statement steak stone storage story stranger strategy street student studio style subject
success sugar summer supply surface survey system table teacher team technology television
temperature tennis theater theory thing thought ticket tooth tourist tower town tradition
traffic train truck truth university valley variety vehicle version village virus visitor
voice volume war water wealth weather wedding week wife window winter woman wood worker
writer year youth
"""
)

_TPL_ADJECTIVES = _words(
    """
able ancient angry anxious appropriate aware beautiful big bitter blue brave brief bright
broad brown busy calm careful central cheap chemical civil clean clear clever close cold
common complex confident conscious cool correct creative critical curious dangerous dark dear
decent deep different difficult direct dirty distant dry eager early eastern easy economic
effective efficient electric elegant empty entire environmental equal essential exact
excellent expensive extra fair familiar famous fast federal final fine flat foreign formal
fresh friendly full funny general gentle glad golden good grand great green grey guilty
happy hard healthy heavy helpful hidden high historical honest hot huge human hungry ideal
illegal important impossible independent industrial initial inner innocent internal
international kind large late legal light little local logical lonely long loose loud lovely
low lucky mad main major mental middle mild military minor modern narrow national natural
nervous new nice noble normal northern obvious odd official old open ordinary organic
original pale patient perfect personal physical plain pleasant polite poor popular positive
powerful practical precious pretty primary private proper proud public pure quick quiet rapid
rare raw ready real recent regular relevant remote rich right rough round royal rural sad
safe scared secret serious sharp short shy silent silly simple single slow small smart smooth
social soft solid southern special specific standard steady strange strict strong stupid
sudden sweet tall technical terrible thick thin tiny tired total tough traditional tropical
typical ugly unusual upper urban useful usual valuable various vast visible vital warm weak
wealthy weird western wet white whole wide wild wise wonderful wooden young
"""
)

_TPL_VERBS = _words(
    """
accepted achieved added admired admitted adopted advised affected agreed allowed announced
answered appeared applied approached argued arranged arrived asked assumed attacked attended
avoided baked believed belonged borrowed broke brought built bought called carried caught
changed chose cleaned climbed closed collected compared completed considered contained
continued controlled cooked copied counted covered created crossed damaged decided defended
delivered described designed destroyed developed discovered discussed divided doubted drew
dropped earned encouraged enjoyed entered escaped examined expected explained explored faced
failed fed fixed followed forgave found gathered grabbed guided handled hated heard helped
hid hired held hurt ignored imagined improved included increased informed invented invited
joined judged kept kicked killed knew launched learned left lifted liked listened lost loved
managed marked married measured met missed mixed moved named needed noticed obtained offered
opened ordered organized owned painted passed performed picked placed planned played pointed
prepared presented prevented printed produced promised protected proved provided published
pulled pushed raised reached read received recognized recorded reduced refused remembered
removed repaired repeated replaced reported rescued respected returned revealed saved searched
selected sent served shared shot showed signed solved sold spent started stopped studied
suggested supported surprised taught tested thanked threw touched trained translated
travelled treated trusted turned understood used visited waited walked wanted warned washed
watched welcomed won worried wrote
"""
)

_TPL_ADVERBS = _words(
    """
abroad actually almost already always anyway apparently barely briefly carefully certainly
clearly closely completely constantly currently deeply definitely directly easily entirely
especially eventually exactly fairly finally firmly frankly freely fully generally gently
gradually happily hardly heavily honestly hopefully immediately increasingly indeed largely
lately mostly naturally nearly neatly normally obviously occasionally often openly partly
perfectly personally politely possibly precisely probably promptly quickly quietly rarely
readily really recently regularly relatively roughly sadly safely seldom seriously sharply
silently simply slightly slowly smoothly softly sometimes soon steadily strictly strongly
suddenly surely swiftly tightly together truly typically usually warmly widely wisely
"""
)

_TPL_PREPOSITIONS = _words(
    "about above across after against along among around at before behind below beside "
    "between beyond by during for from in inside into near of off on onto outside over past "
    "through toward under until upon with within without"
)

_TPL_DETERMINERS = _words(
    "the a this that every each some another one our their his her its my your"
)
_TPL_NAMES = _words(
    """
Anna Bruno Clara Daniel Elena Farid Grace Hiro Ines Jonas Kofi Lena Marco Nadia Omar Priya
Quentin Rosa Samuel Tomas Uma Victor Wanda Xavier Yara Zoltan
"""
)
_TPL_CONNECTIVES = [
    "However,",
    "Meanwhile,",
    "Later,",
    "In the end,",
    "At first,",
    "For this reason,",
    "Even so,",
    "By then,",
    "Afterwards,",
    "In fact,",
    "Still,",
    "Naturally,",
]

# A template is a list of slots: N noun, A adjective, V verb, R adverb, P preposition,
# D determiner, M name, C connective, or a literal word.
_TPL_TEMPLATES = [
    "D A N R V D N P D A N",
    "M V D N P D N and V D A N",
    "C D N V R P D A N",
    "D N P D N V D A N P M",
    "M and M V D A N R",
    "C M V that D N had V D N",
    "D A N V D N , and D N V R",
    "P D A N , M V D N",
    "D N of D N V D A N P D N",
    "M R V D N , but D A N V",
    "C D A N V P D N",
    "why had D N V D N P D A N",
]
FOOTER = (
    "This article was published by the regional newsroom. All rights reserved. Reproduction "
    "in whole or in part without written permission is prohibited. Subscribe to our "
    "newsletter for daily updates, and follow us for more stories from the community."
)
_TPL_SLOTS = {
    "N": _TPL_NOUNS,
    "A": _TPL_ADJECTIVES,
    "V": _TPL_VERBS,
    "R": _TPL_ADVERBS,
    "P": _TPL_PREPOSITIONS,
    "D": _TPL_DETERMINERS,
    "M": _TPL_NAMES,
    "C": _TPL_CONNECTIVES,
}


def template_sentence(rng: random.Random) -> str:
    """One sentence: a template from ``_TPL_TEMPLATES`` with its slots filled."""
    slots = _TPL_SLOTS
    words = [rng.choice(slots[s]) if s in slots else s for s in rng.choice(_TPL_TEMPLATES).split()]
    text = " ".join(words).replace(" ,", ",")
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "!", "?"])


def template_document(rng: random.Random, min_words: int = 150, max_words: int = 450) -> str:
    """Paragraphs of template sentences, between ``min_words`` and about ``max_words``."""
    target = rng.randint(min_words, max_words)
    paragraphs: list[str] = []
    words = 0
    while words < target:
        para = " ".join(template_sentence(rng) for _ in range(rng.randint(3, 6)))
        paragraphs.append(para)
        words += len(para.split())
    return "\n\n".join(paragraphs)


@dataclass(frozen=True)
class Edits:
    """Edit rates of one variant: fractions of words substituted, inserted, deleted;
    paragraphs shuffled; boilerplate footer appended."""

    substitute: float = 0.0
    insert: float = 0.0
    delete: float = 0.0
    reorder: bool = False
    footer: bool = False


def edit(rng: random.Random, text: str, e: Edits) -> str:
    """A copy of ``text`` with the edits of ``e``."""
    paragraphs = text.split("\n\n")
    if e.reorder and len(paragraphs) > 1:
        rng.shuffle(paragraphs)
    out = []
    for para in paragraphs:
        words = para.split()
        new: list[str] = []
        for w in words:
            r = rng.random()
            if r < e.delete:
                continue
            if r < e.delete + e.substitute:
                w = rng.choice(_TPL_NOUNS + _TPL_ADJECTIVES + _TPL_VERBS)
            new.append(w)
            if rng.random() < e.insert:
                new.append(rng.choice(_TPL_ADVERBS + _TPL_ADJECTIVES))
        out.append(" ".join(new))
    result = "\n\n".join(out)
    if e.footer:
        result += "\n\n" + FOOTER
    return result


# Variant recipes, mild to heavy. The exact Jaccard of word 5-gram shingles each gives on these
# documents (5th / 50th / 95th percentile, 60 samples, printed by `bench_near_dedup recipes`)
# decides the labels of the labelled benchmark: LIGHT variants (5th percentile >= 0.83) are
# duplicates of their original, HEAVY ones (95th percentile <= 0.66) are different documents;
# MIDDLE ones straddle 0.8 and their families are left out of the labelled scoring (the
# exact-Jaccard truth scores them).
VARIANTS = [
    Edits(substitute=0.005),  # LIGHT
    Edits(substitute=0.004, insert=0.003),
    Edits(insert=0.004, delete=0.004),
    Edits(reorder=True),
    Edits(footer=True),
    Edits(substitute=0.01, insert=0.005),  # MIDDLE
    Edits(delete=0.01, insert=0.01),
    Edits(substitute=0.01, reorder=True, footer=True),
    Edits(substitute=0.02, delete=0.01),
    Edits(substitute=0.03, insert=0.02, delete=0.02),  # HEAVY
    Edits(substitute=0.05, insert=0.03),
    Edits(substitute=0.08, delete=0.04),
    Edits(substitute=0.15, insert=0.05, delete=0.05),
]
LIGHT = range(0, 5)
MIDDLE = range(5, 9)
HEAVY = range(9, 13)


def clustered_corpus(
    seed: int,
    bases: int,
    dup_fraction: float = 0.5,
    max_variants: int = 3,
    footer_fraction: float = 0.1,
) -> list[tuple[str, str, int, int]]:
    """(id, text, family, recipe) records: ``bases`` originals (recipe -1), a ``dup_fraction``
    of them with 1 to ``max_variants`` edited copies (recipe = index into ``VARIANTS``);
    ``footer_fraction`` of originals also carry the shared boilerplate footer (so the footer
    alone links nothing). Shuffled."""
    rng = random.Random(seed)
    records: list[tuple[str, str, int, int]] = []
    for b in range(bases):
        text = template_document(rng)
        if rng.random() < footer_fraction:
            text += "\n\n" + FOOTER
        records.append((f"b{b:06d}", text, b, -1))
        if rng.random() < dup_fraction:
            for v in range(rng.randint(1, max_variants)):
                k = rng.randrange(len(VARIANTS))
                records.append((f"b{b:06d}-v{v}", edit(rng, text, VARIANTS[k]), b, k))
    rng.shuffle(records)
    return records


# ------------------------------------------------------------------------------------ command


# ------------------------------------------------------------------------- long documents

_FIRST = _words(
    """
    Tomasz Brenda Henrik Marta Sanjay Claire Ebere Gareth Fatima Derek Linda Karen Peter Maria
    Alistair Eileen Yusuf Ingrid Pavel Aoife Rajesh Mirela Olusegun Beatriz Kenji Siobhan Dmitri
    """
)
_LAST = _words(
    """
    Wrobel Kowalczyk Solberg Quintero Bhattacharya Fontaine Obi Llewellyn Holm Baker Okafor Novak
    Gonzalez McGregor Fox Demir Lindqvist Horvat Byrne Menon Petrescu Adeyemi Carvalho Tanaka
    Brennan Volkov Whitfield
    """
)
_TOWNS = _words(
    """
    Ghent Bergen Leeds Toledo Tallinn Hobart Porto Cusco Dakar Perth Lublin Cork Aarhus Graz
    Bratislava Tampere Braga Cluj Split Kaunas
    """
)
_LEGAL = [
    "The applicant, {name}, was born in {year} and lives in {town}.",
    "On {date} the {town} District Court dismissed the claim brought by {title} {last}.",
    "{title} {name} appealed to the {town} Regional Court, which upheld the judgment on {date}.",
    "The Government, represented by their Agent, {name}, of the Ministry of Justice, argued "
    "that the complaint was inadmissible under Article {n} of the Convention.",
    "In a letter of {date}, counsel for the applicant, {title} {last}, asked the {town} City "
    "Council to disclose the records of case no. {case}.",
    "The Court notes that the {town} police headquarters opened criminal proceedings against "
    "{name} on {date} (application no. {case}).",
    "Witnesses, among them {name} and {name2}, stated that the applicant had been held in the "
    "{town} detention facility for {n} days.",
    "The Supreme Court of Justice, sitting in {town}, quashed that decision and remitted the case "
    "to the Court of Appeal, which on {date} awarded {title} {last} EUR {n},000 in respect of "
    "non-pecuniary damage.",
    "According to the expert report drawn up by Professor {name} of the University of {town}, "
    "the injuries were consistent with the applicant's account.",
    "The Chamber, composed of Judges {name}, {name2} and {last}, deliberated in private on "
    "{date} and delivered the following judgment.",
]
_CLINICAL = [
    "PT SEEN BY DR {LAST} ON ROUNDS. C/O CHEST PAIN {n}/10, RADIATING TO L ARM.",
    "NOK: {NAME} ({REL}), CONTACT {phone}. AWARE OF ADMISSION.",
    "MRN {mrn}. ADMITTED TO {TOWN} MEMORIAL FROM ED ON {DATE}.",
    "BP {n}0/{n}5, HR {n}8, SPO2 9{n}% ON RA. AFEBRILE. LUNGS CLEAR BILAT.",
    "DISCUSSED WITH DR {NAME}, PAGER #{pager}. PLAN: SERIAL TROPONINS, ECG IN AM.",
    "FAMILY ({NAME2}) AT BEDSIDE, UPDATED BY RN {LAST}.",
    "TRANSFERRED TO {TOWN} GENERAL HOSPITAL ICU FOR FURTHER MGMT. REPORT GIVEN TO {NAME}.",
    "MEDS GIVEN AS CHARTED. PAIN CONTROLLED WITH PRN ANALGESIA. NO ACUTE DISTRESS NOTED.",
    "FOLLOW UP WITH DR {LAST} AT {TOWN} CLINIC IN {n} WEEKS. FAX SUMMARY TO {phone}.",
    "PT AMBULATING WITH ASSIST X1. TOLERATING DIET. VOIDING QS.",
]
_MONTHS = _words("January February March April May June July August September October November")
_RELS = _words("WIFE HUSBAND SON DAUGHTER BROTHER SISTER MOTHER FATHER")
_TITLES = _words("Mr Mrs Ms Dr")


def _fill(rng: random.Random, template: str) -> str:
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    name2 = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    last, town = rng.choice(_LAST), rng.choice(_TOWNS)
    date = f"{rng.randint(1, 28)} {rng.choice(_MONTHS)} {rng.randint(1995, 2024)}"
    values = {
        "name": name,
        "name2": name2,
        "last": last,
        "town": town,
        "date": date,
        "NAME": name.upper(),
        "NAME2": name2.upper(),
        "LAST": last.upper(),
        "TOWN": town.upper(),
        "DATE": date.upper(),
        "REL": rng.choice(_RELS),
        "title": rng.choice(_TITLES),
        "year": str(rng.randint(1940, 2000)),
        "n": str(rng.randint(1, 9)),
        "case": f"{rng.randint(1000, 99999)}/{rng.randint(10, 24)}",
        "mrn": str(rng.randint(10_000_000, 99_999_999)),
        "pager": str(rng.randint(1000, 9999)),
        "phone": f"({rng.randint(200, 989)}) {rng.randint(200, 989)}-{rng.randint(1000, 9999)}",
    }
    return template.format(**values)


def long_document(rng: random.Random, min_chars: int = 20_000, max_chars: int = 60_000) -> str:
    """One long document (``min_chars``..``max_chars`` characters, all invented): a court
    judgment in numbered paragraphs, with blocks of all-capital clinical notes and topic prose
    between them, so it holds many capitalised words, names, places, facilities, phone and
    pager numbers, record and case numbers and dates."""
    target = rng.randint(min_chars, max_chars)
    parts: list[str] = []
    size = 0
    number = 1
    while size < target:
        kind = rng.random()
        if kind < 0.55:
            sents = [_fill(rng, rng.choice(_LEGAL)) for _ in range(rng.randint(2, 6))]
            part = f"{number}. " + " ".join(sents)
            number += 1
        elif kind < 0.85:
            lines = [_fill(rng, rng.choice(_CLINICAL)) for _ in range(rng.randint(4, 12))]
            part = f"NURSING NOTE {rng.randint(1, 23):02d}:{rng.randint(0, 59):02d}\n" + "\n".join(
                lines
            )
        else:
            part = paragraph(rng, rng.choice(sorted(TOPICS)), rng.randint(3, 6))
        parts.append(part)
        size += len(part) + 2
    return "\n\n".join(parts)


def long_corpus(n: int, seed: int = 16) -> list[str]:
    """``n`` long documents (``long_document``), the same for the same seed."""
    rng = random.Random(seed)
    return [long_document(rng) for _ in range(n)]


def _jsonl_rows(kind: str, size: int, seed: int) -> Iterator[dict]:
    if kind == "long":
        for i, text in enumerate(long_corpus(size, seed)):
            yield {"id": str(i), "text": text}
    elif kind == "mixed-quality":
        yield from mixed_quality_corpus(size, seed)
    else:
        for i, text, family, recipe in clustered_corpus(seed, size):
            yield {"id": i, "text": text, "family": family, "recipe": recipe}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["mixed-quality", "clustered", "long", "scale", "spine"])
    ap.add_argument("size", type=int, help="documents (clustered: originals)")
    ap.add_argument("path", help="a JSONL file; a directory for scale and spine")
    ap.add_argument(
        "--seed", type=int, default=7, help="mixed-quality, clustered and long (bench: 16) only"
    )
    a = ap.parse_args(argv)
    if a.kind in ("scale", "spine"):
        Path(a.path).mkdir(parents=True, exist_ok=True)
        write = write_scale_corpus if a.kind == "scale" else write_spine_corpus
        write(Path(a.path), a.size)
    else:
        with open(a.path, "w", encoding="utf-8") as fh:
            for row in _jsonl_rows(a.kind, a.size, a.seed):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {a.kind} corpus to {a.path}")


if __name__ == "__main__":
    main()
