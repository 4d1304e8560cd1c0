"""The recipe key reference (``docs/recipe-reference.md``), rendered from the recipe's JSON Schema.

Defaults, types, allowed values and descriptions live in one place, ``thresher.config``; this
module only formats them. Types, allowed values and descriptions come from
``recipe_json_schema()`` (what ``schemas/recipe.schema.json`` holds); defaults come from a
default ``PipelineConfig`` dumped as JSON, because JSON Schema omits the defaults of fields built
by a ``default_factory`` (lists, dicts, nested sections).

One table per section (a nested model such as ``dedup.near``), keys in declaration order. The
output is deterministic: the same code renders the same text, so a test compares the file on
disk with it. Regenerate with::

    python -m thresher.recipe_reference > docs/recipe-reference.md
"""

from __future__ import annotations

import json
from typing import Any

from thresher.config import PipelineConfig, recipe_json_schema

REGENERATE = "python -m thresher.recipe_reference > docs/recipe-reference.md"

_BOUNDS = (
    ("minimum", ">="),
    ("exclusiveMinimum", ">"),
    ("maximum", "<="),
    ("exclusiveMaximum", "<"),
)


def _ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _without_null(node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``T | None`` is ``anyOf: [T, null]``: return T and whether null is allowed."""
    options = node.get("anyOf")
    if not options:
        return node, False
    rest = [o for o in options if o.get("type") != "null"]
    if len(rest) == 1:
        return rest[0], len(rest) < len(options)
    return node, False


def _type_name(node: dict[str, Any], seen: dict[str, str]) -> str:
    if "anyOf" in node:  # ``A | B``: each in turn
        return " or ".join(_type_name(option, seen) for option in node["anyOf"])
    name = _ref_name(node)
    if name is not None:
        return f"object (keys as `{seen[name]}`)" if name in seen else "object"
    kind = node.get("type")
    if kind == "array":
        return f"list of {_type_name(node.get('items', {}), seen)}"
    if kind == "object":
        values = node.get("additionalProperties")
        if isinstance(values, dict):
            return f"map of {_type_name(values, seen)}"
        return "map"
    return str(kind) if kind else "any"


def _allowed(node: dict[str, Any]) -> str:
    """Enumerated values and numeric or size bounds, as one short phrase."""
    if "anyOf" in node:
        return " or ".join(phrase for phrase in map(_allowed, node["anyOf"]) if phrase)
    parts: list[str] = []
    if "enum" in node:
        parts.append(", ".join(f"`{v}`" for v in node["enum"]))
    if "const" in node:  # a Literal with one value
        parts.append(f"`{node['const']}` only")
    parts += [f"{op} {node[key]}" for key, op in _BOUNDS if key in node]
    low, high = node.get("minLength"), node.get("maxLength")
    if low is not None and low == high:
        parts.append(f"exactly {low} character(s)")
    elif high is not None:
        parts.append(f"{low or 0} to {high} characters")
    elif low:
        parts.append("non-empty" if low == 1 else f"at least {low} characters")
    if "minItems" in node:
        parts.append(f"at least {node['minItems']} item(s)")
    values = node.get("additionalProperties")
    if isinstance(values, dict) and _allowed(values):
        parts.append(f"values {_allowed(values)}")
    return "; ".join(parts)


def _cell(text: str) -> str:
    """Table-safe: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _default(value: Any) -> str:
    return "`" + json.dumps(value, ensure_ascii=False) + "`"


def _row(path: str, prop: dict[str, Any], default: Any, seen: dict[str, str]) -> str:
    node, nullable = _without_null(prop)
    kind = _type_name(node, seen) + (" or null" if nullable else "")
    cells = (
        f"`{path}`",
        kind,
        _default(default),
        _allowed(node) or "",
        prop.get("description") or node.get("description") or "",
    )
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _sections(
    schema: dict[str, Any],
    defs: dict[str, Any],
    defaults: dict[str, Any],
    path: str,
    seen: dict[str, str],
) -> list[str]:
    """Markdown for one section and, after it, each nested section (depth first)."""
    rows: list[str] = []
    nested: list[tuple[str, str]] = []
    for key, prop in schema.get("properties", {}).items():
        name = _ref_name(prop)
        if name is not None:
            nested.append((key, name))
            continue
        rows.append(_row(f"{path}.{key}" if path else key, prop, defaults[key], seen))
    out: list[str] = []
    if rows:
        out += [f"## `{path}`", ""]
        if schema.get("description"):
            out += [schema["description"].strip(), ""]
        out += [
            "| key | type | default | allowed | description |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    for key, name in nested:
        child = f"{path}.{key}" if path else key
        out += _sections(defs[name], defs, defaults[key], child, seen)
    return out


def _section_paths(
    schema: dict[str, Any], defs: dict[str, Any], path: str, seen: dict[str, str]
) -> dict[str, str]:
    """Model name -> the first key path where its section is rendered."""
    for key, prop in schema.get("properties", {}).items():
        name = _ref_name(prop)
        if name is not None and name not in seen:
            seen[name] = f"{path}.{key}" if path else key
            _section_paths(defs[name], defs, seen[name], seen)
    return seen


def render_recipe_reference() -> str:
    """The whole reference as Markdown: a header, then one table per recipe section.

    Deterministic (a pure function of ``thresher.config``); never reads the file system.
    """
    schema = recipe_json_schema()
    defaults = PipelineConfig().model_dump(mode="json")
    header = [
        "# Recipe key reference",
        "",
        "<!-- Generated from thresher.config; do not edit. Regenerate with:",
        f"     {REGENERATE} -->",
        "",
        "Every recipe key, section by section: its type, its default, the values it accepts and",
        "what it does. This page is rendered from the recipe model in `src/thresher/config.py`",
        "(the same model that validates recipes and exports `schemas/recipe.schema.json`), so the",
        "defaults here are the defaults the code uses. How recipes are written and overridden:",
        "[recipes.md](recipes.md). Any key can be set from the command line with",
        "`--set section.key=value`.",
        "",
    ]
    defs = schema.get("$defs", {})
    body = _sections(schema, defs, defaults, "", _section_paths(schema, defs, "", {}))
    return "\n".join(header + body).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(render_recipe_reference(), end="")
