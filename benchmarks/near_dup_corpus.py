"""Synthetic prose and near-duplicate clusters with controlled edits, for the near-dedup
benchmarks. No downloads: a word list per part of speech and a small template grammar, driven
by a seeded ``random.Random`` (same seed, same corpus).

Edits applied to a copy of a base document, each at a controlled rate: word substitutions,
insertions and deletions (a fraction of the words), reordered paragraphs, and an appended
boilerplate footer shared by many documents (the case that makes huge LSH buckets).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


def _words(text: str) -> list[str]:
    return text.split()


NOUNS = _words(
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

ADJECTIVES = _words(
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

VERBS = _words(
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

ADVERBS = _words(
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

PREPOSITIONS = _words(
    "about above across after against along among around at before behind below beside "
    "between beyond by during for from in inside into near of off on onto outside over past "
    "through toward under until upon with within without"
)

DETERMINERS = _words("the a this that every each some another one our their his her its my your")
NAMES = _words(
    """
Anna Bruno Clara Daniel Elena Farid Grace Hiro Ines Jonas Kofi Lena Marco Nadia Omar Priya
Quentin Rosa Samuel Tomas Uma Victor Wanda Xavier Yara Zoltan
"""
)
CONNECTIVES = [
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
TEMPLATES = [
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


def sentence(rng: random.Random) -> str:
    slots = {
        "N": NOUNS,
        "A": ADJECTIVES,
        "V": VERBS,
        "R": ADVERBS,
        "P": PREPOSITIONS,
        "D": DETERMINERS,
        "M": NAMES,
        "C": CONNECTIVES,
    }
    words = [rng.choice(slots[s]) if s in slots else s for s in rng.choice(TEMPLATES).split()]
    text = " ".join(words).replace(" ,", ",")
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "!", "?"])


def document(rng: random.Random, min_words: int = 150, max_words: int = 450) -> str:
    """Paragraphs of template sentences, between ``min_words`` and about ``max_words``."""
    target = rng.randint(min_words, max_words)
    paragraphs: list[str] = []
    words = 0
    while words < target:
        para = " ".join(sentence(rng) for _ in range(rng.randint(3, 6)))
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
                w = rng.choice(NOUNS + ADJECTIVES + VERBS)
            new.append(w)
            if rng.random() < e.insert:
                new.append(rng.choice(ADVERBS + ADJECTIVES))
        out.append(" ".join(new))
    result = "\n\n".join(out)
    if e.footer:
        result += "\n\n" + FOOTER
    return result


# Variant recipes, mild to heavy. The exact Jaccard of word 5-gram shingles each gives on these
# documents (5th / 50th / 95th percentile, 60 samples, printed by `bench_near_dedup.py recipes`)
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
        text = document(rng)
        if rng.random() < footer_fraction:
            text += "\n\n" + FOOTER
        records.append((f"b{b:06d}", text, b, -1))
        if rng.random() < dup_fraction:
            for v in range(rng.randint(1, max_variants)):
                k = rng.randrange(len(VARIANTS))
                records.append((f"b{b:06d}-v{v}", edit(rng, text, VARIANTS[k]), b, k))
    rng.shuffle(records)
    return records
