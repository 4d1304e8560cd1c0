"""Wiring shared by the stages: exception handling into dead letters, and stage outputs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from apache_beam import typehints
from apache_beam.pvalue import PCollection

from thresher.records import DeadLetter, Document, derived_id
from thresher.tags import DEAD, FATES, MAIN, STATS

__all__ = [
    "DEAD",
    "FATES",
    "MAIN",
    "STATS",
    "apply_guarded",
    "errors_to_dead_letters",
    "with_errors_as_dead_letters",
]

_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def _where(tb: Any) -> str:
    """The innermost ``file:line`` of a traceback, without the exception's message.

    Exception messages can quote input (a ``KeyError`` repeats the key, a ``ValueError`` the
    value), so dead letters carry only the type and the code location.
    """
    text = tb if isinstance(tb, str) else "".join(str(x) for x in (tb or ()))
    frames = _FRAME.findall(text)
    if not frames:
        return "unknown location"
    path, line = frames[-1]
    short = path.split("site-packages/")[-1].split("/src/")[-1]
    return f"{short}:{line}"


def _documents_in(element: Any) -> list[Document]:
    if isinstance(element, Document):
        return [element]
    if isinstance(element, tuple) and len(element) == 2:
        _, value = element
        if isinstance(value, Document):
            return [value]
        if isinstance(value, Iterable) and not isinstance(value, str | bytes):
            return [d for d in value if isinstance(d, Document)]
    return []


def errors_to_dead_letters(stage: str):
    """A FlatMap function turning ``with_exception_handling`` failures into ``DeadLetter`` rows.

    A failed grouped element (key, documents) dead-letters every document in the group, so no
    record goes missing.
    """

    def convert(bad: Any) -> Iterable[DeadLetter]:
        element, error = bad
        exc_type, _exc_value, tb = (*tuple(error), None, None, None)[:3]
        name = getattr(exc_type, "__name__", str(exc_type))
        message = f"unexpected {name} in stage '{stage}' at {_where(tb)}"
        docs = _documents_in(element)
        beam.metrics.Metrics.counter(stage, "dead_letter").inc(max(1, len(docs)))
        if not docs:
            yield DeadLetter(
                id=derived_id(stage, 0),
                source="?",
                position=-1,
                stage=stage,
                error_type=name,
                message=message + " (element was not a document)",
            )
        for doc in docs:
            yield DeadLetter(
                id=doc.id,
                source=doc.source,
                position=doc.position,
                stage=stage,
                error_type=name,
                message=message,
            )

    return convert


def with_errors_as_dead_letters(stage: str):
    """A FlatMap function for a guarded ParDo's ``DEAD`` output where Beam puts its failures
    too (``with_exception_handling(dead_letter_tag=DEAD)``): the stage's own ``DeadLetter``
    rows pass through, Beam's failure records become rows as ``errors_to_dead_letters`` makes
    them. One output, so no ``Flatten`` joins the two: on Beam's local runner each Flatten of
    outputs costs a stage of its own (about 10 ms) that only copies them."""
    convert = errors_to_dead_letters(stage)

    def rows(item: Any) -> Iterable[DeadLetter]:
        return (item,) if isinstance(item, DeadLetter) else convert(item)

    return rows


def apply_guarded(
    pcoll: PCollection,
    label: str,
    dofn: beam.DoFn,
    stage: str,
    extra: tuple[str, ...] = (),
    side_inputs: tuple[Any, ...] = (),
) -> dict[str, PCollection]:
    """``ParDo(dofn, *side_inputs)`` with tagged fates/dead letters and exceptions caught as
    dead letters.

    The DoFn yields documents on the main output, ``TaggedOutput(FATES, Fate)`` and
    ``TaggedOutput(DEAD, DeadLetter)``; each tag in ``extra`` (e.g. ``STATS``) is returned
    under its own name too.
    """
    results = pcoll | label >> beam.ParDo(dofn, *side_inputs).with_outputs(
        FATES, DEAD, *extra, main=MAIN
    ).with_exception_handling(dead_letter_tag=DEAD)
    # Beam types its failure tag as its own ``DeadLetter`` tuple, whose coder cannot encode
    # thresher's rows: the shared output holds either
    results[DEAD].element_type = typehints.Any
    dead = results[DEAD] | f"{label}DeadLetters" >> beam.FlatMap(with_errors_as_dead_letters(stage))
    return {MAIN: results[MAIN], FATES: results[FATES], DEAD: dead} | {
        tag: results[tag] for tag in extra
    }
