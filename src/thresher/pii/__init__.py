"""PII detection and anonymization (Presidio + offline spaCy), keys, audit, re-identification.

No ``apache_beam`` here: the Beam wiring lives in ``thresher.stages.pii``.
"""
