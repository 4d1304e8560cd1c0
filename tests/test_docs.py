"""The README and docs/: the generated key reference is current, every relative link resolves,
the README stays a README (short, every subcommand in its table), recipe examples validate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from thresher.cli import main
from thresher.config import PipelineConfig, load_config
from thresher.recipe_reference import REGENERATE, render_recipe_reference

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+?)\s*$")


def _prose(text: str) -> list[str]:
    """Lines outside fenced code blocks, with inline code removed (links there are not links)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else HEADING.match(line)
        if match:
            slug = _slug(match.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_recipe_reference_is_current():
    on_disk = (DOCS / "recipe-reference.md").read_text(encoding="utf-8")
    assert on_disk == render_recipe_reference(), (
        f"docs/recipe-reference.md is stale: regenerate it with `{REGENERATE}`"
    )


def _leaf_keys(model: type, prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            keys += _leaf_keys(sub, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_recipe_reference_has_one_row_per_key_with_its_default():
    text = render_recipe_reference()
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([\w.]+)` \| [^|]+ \| `(.*?)` \|", text, re.MULTILINE)
    }
    keys = _leaf_keys(PipelineConfig)
    assert len(keys) > 100
    assert sorted(rows) == sorted(keys)
    assert rows["dedup.near.threshold"] == "0.8"
    assert rows["input.exclude"] == '[".*", "_*"]'
    assert rows["pii.default_operator.type"] == '"placeholder"'
    # Negative: a row per key, so a renamed key is visible, and no section keys as rows.
    assert "dedup.near" not in rows and "pii.default_operator" not in rows


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page: Path):
    broken = []
    for line in _prose(page.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{target} (no file {dest.relative_to(REPO)})")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{target} (no heading with anchor #{anchor})")
    assert not broken, f"{page.relative_to(REPO)}: broken links: {broken}"


def test_links_check_catches_a_broken_link(tmp_path: Path):
    page = tmp_path / "p.md"
    page.write_text("# Title\n[ok](#title) [bad](missing.md) `[code](nope.md)`\n")
    targets = [t for line in _prose(page.read_text()) for t in LINK.findall(line)]
    assert targets == ["#title", "missing.md"]
    assert "title" in _anchors(page) and not (tmp_path / "missing.md").exists()


def test_readme_is_short_and_lists_every_subcommand(capsys):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    with pytest.raises(SystemExit):
        main(["--help"])
    usage = capsys.readouterr().out
    commands = re.search(r"\{([\w,]+)\}", usage)
    assert commands is not None
    listed = set(re.findall(r"^\| `thresher (\w+)", readme, re.MULTILINE))
    assert listed == set(commands.group(1).split(","))
    assert "make run" in readme and "make test" in readme


def test_recipe_examples_in_docs_validate(tmp_path: Path):
    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        recipe = tmp_path / f"example{i}.yaml"
        recipe.write_text(block, encoding="utf-8")
        load_config(recipe)
