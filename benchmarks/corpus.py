"""Deterministic synthetic prose for sample data and benchmarks (no downloads, no models).

Documents are built from topic vocabularies and sentence templates with a seeded
``random.Random``, so unrelated documents share few 5-word shingles while reading like prose.
"""

from __future__ import annotations

import random

TOPICS = {
    "gardening": (
        [
            "tomato",
            "seedling",
            "compost",
            "trellis",
            "mulch",
            "greenhouse",
            "orchard",
            "hedge",
            "soil",
            "root",
            "blossom",
            "pruning shear",
            "watering can",
            "raised bed",
            "pollinator",
        ],
        [
            "planted",
            "watered",
            "pruned",
            "harvested",
            "fertilized",
            "transplanted",
            "covered",
            "staked",
            "weeded",
            "composted",
        ],
        ["early", "shady", "damp", "sandy", "fragrant", "hardy", "young", "overgrown", "sunny"],
    ),
    "cooking": (
        [
            "saucepan",
            "onion",
            "garlic",
            "broth",
            "oven",
            "dough",
            "skillet",
            "recipe",
            "spice",
            "butter",
            "lentil",
            "casserole",
            "marinade",
            "bread",
            "pastry",
        ],
        [
            "simmered",
            "roasted",
            "chopped",
            "whisked",
            "seasoned",
            "baked",
            "stirred",
            "braised",
            "kneaded",
            "tasted",
        ],
        ["crisp", "savory", "tender", "golden", "smoky", "rich", "tangy", "warm", "fresh"],
    ),
    "astronomy": (
        [
            "telescope",
            "nebula",
            "comet",
            "orbit",
            "galaxy",
            "eclipse",
            "planet",
            "moon",
            "star",
            "observatory",
            "meteor",
            "spectrum",
            "asteroid",
            "constellation",
            "horizon",
        ],
        [
            "observed",
            "measured",
            "tracked",
            "photographed",
            "charted",
            "calculated",
            "predicted",
            "catalogued",
            "detected",
            "recorded",
        ],
        ["distant", "faint", "bright", "icy", "ancient", "massive", "rotating", "dusty", "clear"],
    ),
    "cycling": (
        [
            "bicycle",
            "saddle",
            "chain",
            "gear",
            "helmet",
            "route",
            "climb",
            "descent",
            "tyre",
            "pedal",
            "handlebar",
            "peloton",
            "valley road",
            "mountain pass",
            "repair kit",
        ],
        [
            "climbed",
            "descended",
            "repaired",
            "adjusted",
            "raced",
            "cleaned",
            "inflated",
            "replaced",
            "rode",
            "crossed",
        ],
        ["steep", "windy", "smooth", "muddy", "narrow", "long", "gravelly", "quiet", "rolling"],
    ),
    "history": (
        [
            "archive",
            "manuscript",
            "treaty",
            "castle",
            "harbour",
            "merchant",
            "guild",
            "chronicle",
            "parliament",
            "village",
            "bridge",
            "cathedral",
            "market",
            "monastery",
            "census",
        ],
        [
            "documented",
            "rebuilt",
            "negotiated",
            "founded",
            "abandoned",
            "described",
            "restored",
            "recorded",
            "excavated",
            "translated",
        ],
        [
            "medieval",
            "forgotten",
            "coastal",
            "royal",
            "crowded",
            "ruined",
            "famous",
            "local",
            "old",
        ],
    ),
    "software": (
        [
            "compiler",
            "database",
            "server",
            "library",
            "function",
            "query",
            "cache",
            "release",
            "pipeline",
            "thread",
            "scheduler",
            "index",
            "schema",
            "test suite",
            "module",
        ],
        [
            "refactored",
            "deployed",
            "profiled",
            "benchmarked",
            "migrated",
            "documented",
            "rewrote",
            "tuned",
            "released",
            "reviewed",
        ],
        [
            "slow",
            "stable",
            "legacy",
            "concurrent",
            "distributed",
            "small",
            "robust",
            "new",
            "faster",
        ],
    ),
}

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
DETS = ["the", "a", "one", "that", "our", "their", "every", "some", "this", "another"]
PREPS = [
    "near",
    "beside",
    "behind",
    "under",
    "above",
    "around",
    "without",
    "after",
    "before",
    "along",
    "across",
    "beyond",
    "inside",
    "against",
]
LINKS = [
    "although",
    "because",
    "while",
    "so",
    "even though",
    "since",
    "until",
    "once",
    "whenever",
    "as",
]
ADVS = [
    "slowly",
    "carefully",
    "again",
    "quietly",
    "twice",
    "briefly",
    "gladly",
    "hastily",
    "patiently",
    "finally",
    "mostly",
    "rarely",
]
PEOPLE = [
    "the neighbours",
    "my aunt",
    "a visitor",
    "the team",
    "two students",
    "an engineer",
    "the owner",
    "a stranger",
    "our guide",
    "the committee",
    "a child",
    "the volunteers",
]
SEEM = ["seemed", "looked", "felt", "remained", "became", "stayed", "proved"]


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


NAMES = [
    "Alice",
    "Bruno",
    "Chen",
    "Dana",
    "Elif",
    "Farah",
    "Goran",
    "Hana",
    "Ivan",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tomas",
]
PLACES = [
    "Lisbon",
    "Oslo",
    "Kyoto",
    "Nairobi",
    "Quito",
    "Porto",
    "Tallinn",
    "Hobart",
    "Cusco",
    "Ghent",
    "Bergen",
    "Leeds",
    "Toledo",
    "Dakar",
    "Perth",
]


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
