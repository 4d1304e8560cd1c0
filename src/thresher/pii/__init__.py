"""PII detection and anonymization (Presidio + offline spaCy), keys, audit, re-identification.

No ``apache_beam`` here: the Beam wiring lives in ``thresher.stages.pii``.

Importing this package loads Presidio and spaCy with ``torch`` and ``transformers`` hidden:
Presidio imports its optional Hugging Face engine eagerly and thinc probes for torch, which
with the ``dp`` extra installed costs about 2 s per worker process for machinery the spaCy
pipeline never uses. Both import normally afterwards (``thresher finetune`` needs them).
"""

from __future__ import annotations

import sys


def _load_nlp_stack_without_torch() -> None:
    if any(m in sys.modules for m in ("presidio_analyzer", "spacy", "thinc")):
        return  # already loaded by someone else: nothing to save
    hidden = [m for m in ("torch", "transformers") if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import presidio_analyzer  # noqa: F401
        import spacy  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


_load_nlp_stack_without_torch()
