"""Reading raw corpora and writing output shards."""
