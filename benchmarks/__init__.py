"""trainspec benchmarks: ``python benchmarks/run.py`` (see run.py)."""
