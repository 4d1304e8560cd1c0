"""thresher: lossless, privacy-safe curation of text corpora on Apache Beam."""

__version__ = "0.1.0"
