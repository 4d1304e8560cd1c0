"""Names of the tagged outputs that every reader and stage returns."""

# The outputs of every reader and stage (Beam tagged outputs): kept records, lineage rows of
# records that left, dead letters, and an optional fourth, PCollection[tuple[str, float]] of
# run-level statistics (e.g. ("pii.entity.EMAIL_ADDRESS", 3)) summed per key into the
# manifest's `stats`. Keys and numbers only: never text or values.
MAIN = "main"
FATES = "fates"
DEAD = "dead_letter"
STATS = "stats"
