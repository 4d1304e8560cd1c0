"""One composite ``beam.PTransform`` per module, named as a verb.

Every stage takes a ``PCollection[Document]`` and returns a dict of three PCollections:
``"main"`` (the documents that go on), ``"fates"`` (``Fate`` rows for the documents that leave
here: dropped or duplicate) and ``"dead_letter"`` (``DeadLetter`` rows for documents that raised).
"""
