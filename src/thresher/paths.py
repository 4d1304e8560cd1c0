"""Path helpers that work for local paths and URIs without loading a filesystem plugin.

Building a pipeline graph for Dataflow on a laptop must not require the launcher to have the
``gs://`` filesystem installed; workers, which read and write, do have it.
"""

from __future__ import annotations

import os


def join_uri(base: str, *parts: str) -> str:
    if "://" in base:
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(base, *parts)


def publishable(value: object) -> object:
    """``value`` (a recipe, or part of one) with every absolute local path shown by its last
    component only (``/home/ann/corpus/`` -> ``corpus/``), for what gets published (the card,
    ``report.html``); ``manifest.json`` keeps the paths. URIs (``gs://...``) stay as they are."""
    if isinstance(value, str):
        if "://" in value or not os.path.isabs(value):
            return value
        name = os.path.basename(value.rstrip("/")) or value
        return name + "/" if value.endswith("/") and name != value else name
    if isinstance(value, dict):
        return {k: publishable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [publishable(v) for v in value]
    return value


def published_recipe(recipe: dict) -> dict:
    """The recipe as the card and report show it: as is with ``output.absolute_sources``,
    else with local absolute paths cut to their names (``publishable``)."""
    if recipe.get("output", {}).get("absolute_sources"):
        return recipe
    shown = publishable(recipe)
    return shown if isinstance(shown, dict) else recipe
