"""Stage 1, prepare_dataset: a dataset upload becomes a run, its spec checked and its manifest written."""
