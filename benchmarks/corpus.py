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

TEMPLATES = [
    "The {adj} {noun} was {verb} before the {noun2} could be {verb2}.",
    "We {verb} the {noun} twice, and each time the {noun2} looked more {adj}.",
    "After the {adj} week, everyone agreed that the {noun} had been {verb} with care.",
    "Nobody expected the {noun2} to matter, yet it shaped how the {noun} was {verb}.",
    "In the end, the {adj} {noun2} and the {noun} were {verb} together.",
    "She {verb} the {adj} {noun} while her colleagues {verb2} the {noun2} nearby.",
    "It is worth noting that a {adj} {noun} rarely needs to be {verb} more than once.",
    "Most guides say the {noun} should be {verb} early, but the {noun2} tells a different story.",
    "By the time the {noun2} was {verb2}, the {adj} {noun} had already changed.",
    "They {verb} a {adj} {noun}, then wrote down what the {noun2} taught them.",
    "A {adj} {noun} is easy to overlook until the {noun2} has been {verb2}.",
    "For three days the {noun} stayed {adj}, and then it was finally {verb}.",
]

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


def sentence(rng: random.Random, topic: str) -> str:
    nouns, verbs, adjs = TOPICS[topic]
    s = rng.choice(TEMPLATES).format(
        adj=rng.choice(adjs),
        noun=rng.choice(nouns),
        noun2=rng.choice(nouns),
        verb=rng.choice(verbs),
        verb2=rng.choice(verbs),
    )
    if rng.random() < 0.25:
        s = (
            f"{rng.choice(NAMES)} from {rng.choice(PLACES)} said so in {rng.randint(1950, 2025)}. "
            + s
        )
    return s


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
    """Substitute, delete or insert about ``edit_rate`` of the words."""
    words = text.split(" ")
    out: list[str] = []
    for w in words:
        r = rng.random()
        if r < edit_rate / 3:
            continue
        if r < 2 * edit_rate / 3:
            out.append(rng.choice(["very", "quite", "rather", "truly", "still"]))
        elif r < edit_rate:
            out.extend([w, rng.choice(["indeed", "again", "also"])])
            continue
        out.append(w)
    return " ".join(out)
