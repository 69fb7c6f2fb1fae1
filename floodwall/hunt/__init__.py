"""``floodwall hunt``: the log pipeline run over files (ingest, normalize, detect, store)."""
