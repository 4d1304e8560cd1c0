"""A seeded generator of mixed-quality English documents for the filter benchmark.

Kinds: clean prose, short prose, prose with boilerplate (menus, cookie and share lines),
lists, code, repetition (lines, paragraphs, phrases), short lines (verse, tables), lorem
ipsum, and noisy prose (hashtags, ellipses, numbers, URLs). Amounts are drawn at random so
that many documents land near the filters' thresholds, where implementations can disagree.
Same seed, same corpus.

    python benchmarks/filter_corpus.py 3000 corpus.jsonl --seed 7
"""

from __future__ import annotations

import json
import random
import sys

NOUNS = [
    "committee",
    "proposal",
    "river",
    "bridge",
    "council",
    "survey",
    "city",
    "report",
    "market",
    "school",
    "teacher",
    "student",
    "doctor",
    "patient",
    "garden",
    "village",
    "road",
    "engine",
    "system",
    "method",
    "result",
    "question",
    "answer",
    "window",
    "kitchen",
    "library",
    "museum",
    "festival",
    "harvest",
    "storm",
    "weather",
    "journey",
    "company",
    "worker",
    "manager",
    "budget",
    "policy",
    "election",
    "museum",
    "painting",
    "novel",
    "author",
    "chapter",
    "story",
    "forest",
    "mountain",
    "valley",
    "island",
    "harbour",
    "ship",
    "captain",
    "train",
    "station",
    "ticket",
    "price",
    "customer",
    "product",
    "service",
    "network",
    "software",
    "computer",
    "language",
    "dataset",
    "model",
]
VERBS = [
    "reviewed",
    "found",
    "raised",
    "agreed",
    "asked",
    "prepared",
    "built",
    "opened",
    "closed",
    "studied",
    "measured",
    "described",
    "improved",
    "reduced",
    "increased",
    "changed",
    "visited",
    "explained",
    "published",
    "noticed",
    "discussed",
    "tested",
    "planned",
    "painted",
    "wrote",
    "read",
    "bought",
    "sold",
    "carried",
    "moved",
    "followed",
]
ADJS = [
    "new",
    "old",
    "small",
    "large",
    "quiet",
    "busy",
    "careful",
    "simple",
    "difficult",
    "useful",
    "strange",
    "bright",
    "dark",
    "local",
    "national",
    "early",
    "late",
    "modern",
    "ancient",
    "steady",
    "rapid",
    "gentle",
    "heavy",
    "clear",
]
ADVS = [
    "quickly",
    "slowly",
    "carefully",
    "finally",
    "recently",
    "often",
    "rarely",
    "clearly",
    "quietly",
]
CONNECT = [
    "although",
    "because",
    "after",
    "before",
    "while",
    "since",
    "when",
    "unless",
    "whereas",
    "even",
    "though",
]
# Some people are named by identity terms, so the disparity report has groups to measure.
PEOPLE = [
    "the chair",
    "the mayor",
    "a spokesperson",
    "the engineers",
    "local residents",
    "the staff",
    "the staff",
    "the mayor",
    "the women",
    "older adults",
    "immigrant families",
    "Muslim leaders",
    "disabled visitors",
    "gay couples",
    "young people",
    "the engineers",
    "a spokesperson",
    "the chair",
]
MENU = [
    "Home",
    "About us",
    "Contact",
    "Blog",
    "Shop",
    "Careers",
    "Press",
    "Help",
    "FAQ",
    "Login",
    "Sign up",
    "Cart",
    "Search",
    "Terms of use",
    "Privacy policy",
    "Sitemap",
    "News",
    "Events",
]
BOILER = [
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
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat."
)
CODE = [
    "def {n}(x, y):\n    if x > y:\n        return x - y\n    return {{'a': x, 'b': y}}",
    "function {n}(a) {{\n  const b = a.map((v) => v * 2);\n  return b.filter(Boolean);\n}}",
    "for i in range(10):\n    print(i, {n}[i])",
    "SELECT {n}, COUNT(*) FROM orders WHERE price > 10 GROUP BY {n};",
    '<div class="{n}">\n  <p>{n}</p>\n</div>',
    '#include <stdio.h>\nint main() {{ printf("%d\\n", {n}); return 0; }}',
]
HASHTAGS = ["#news", "#today", "#love", "#tbt", "#travel", "#food", "#music", "#photo"]


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def word(self, pool=NOUNS) -> str:
        return self.r.choice(pool)

    def sentence(self) -> str:
        r = self.r
        parts = [
            r.choice(["The", "A", "Every", "One", "That"]),
            self.word(ADJS),
            self.word(),
            self.word(VERBS),
            r.choice(["the", "a", "their", "its"]),
            self.word(),
        ]
        if r.random() < 0.5:
            parts += [r.choice(CONNECT), r.choice(PEOPLE), self.word(VERBS), "the", self.word()]
        if r.random() < 0.3:
            parts += ["with", r.choice(["a", "the"]), self.word(ADJS), self.word()]
        if r.random() < 0.25:
            parts.insert(3, self.word(ADVS))
        if r.random() < 0.15:
            parts += ["and", "it", "didn't", "change", "the", self.word()]
        if r.random() < 0.1:
            parts += ["in", str(r.randint(1900, 2024))]
        if r.random() < 0.1:
            parts += ["(" + self.word(ADJS) + "-" + self.word() + ")"]
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
        lines = r.sample(MENU, r.randint(2, 10)) if r.random() < 0.7 else []
        lines += self.prose(r.randint(1, 4)).split("\n")
        lines += r.sample(BOILER, r.randint(1, 5))
        if r.random() < 0.4:
            lines += [" | ".join(r.sample(MENU, 5))]
        return "\n".join(lines)

    def listing(self) -> str:
        r = self.r
        bullet = r.choice(["- ", "• ", "* ", "", "1. "])
        items = [
            bullet
            + " ".join(self.word(ADJS if j % 2 else NOUNS) for j in range(r.randint(1, 6)))
            + r.choice(["", "", "."])
            for _ in range(r.randint(5, 40))
        ]
        head = [self.sentence()] if r.random() < 0.6 else []
        return "\n".join(head + items)

    def code(self) -> str:
        r = self.r
        blocks = [r.choice(CODE).format(n=self.word()) for _ in range(r.randint(1, 4))]
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
                " ".join(self.word(r.choice([NOUNS, ADJS, VERBS])) for _ in range(r.randint(2, 6)))
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
            return "\n".join([LOREM] * r.randint(1, 3))
        parts = self.prose(r.randint(2, 5)).split("\n")
        parts.insert(r.randrange(len(parts) + 1), LOREM)
        return "\n".join(parts)

    def noisy(self) -> str:
        r = self.r
        lines = self.prose(r.randint(1, 5)).split("\n")
        out = []
        for line in lines:
            x = r.random()
            if x < 0.25:
                line += " " + " ".join(r.sample(HASHTAGS, r.randint(1, 6)))
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
        kinds = [
            ("clean", 28),
            ("short", 8),
            ("boilerplate", 12),
            ("listing", 10),
            ("code", 7),
            ("repetitive", 12),
            ("short_lines", 7),
            ("lorem", 4),
            ("noisy", 12),
        ]
        kind = self.r.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
        return kind, getattr(self, kind)()


def generate(n: int, seed: int = 7) -> list[dict[str, str]]:
    g = Gen(seed)
    docs = []
    for i in range(n):
        kind, text = g.document()
        docs.append({"id": f"doc{i:05d}", "kind": kind, "text": text})
    return docs


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    path = sys.argv[2] if len(sys.argv) > 2 else "filter_corpus.jsonl"
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 7
    with open(path, "w", encoding="utf-8") as fh:
        for d in generate(count, seed):
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"wrote {count} documents to {path}")
