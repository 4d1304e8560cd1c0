"""PII detection and anonymization (Presidio + offline spaCy), keys, audit, re-identification.

No ``apache_beam`` here: the Beam wiring lives in ``thresher.stages.pii``.

Importing this package (or any module in it but ``recognizers``) has no side effects: Presidio
and spaCy load on first use, through ``thresher.pii.presidio_compat.load_presidio``, which keeps
the import offline and hides ``torch``/``transformers`` while it runs.

The text logic around Presidio is plain Python with its own tests: ``segments`` (analysis
segments and sentence runs), ``truecase`` (case views for NER), ``spans`` (resolving
overlapping detections), ``names`` (name candidates and document-level name recall),
``gates`` (cheap per-entity preconditions). ``engine`` builds the Presidio engines;
``analyzer`` is the adapter that runs them over segments.
"""
