"""The engine (being split into one module per stage; for now all in ``prepare.py``)."""

from trainspec.engine.prepare import (
    ActivationKind,
    clear_graphs,
    clear_memo,
    fingerprint,
    trace_count,
    train,
)

__all__ = ["train", "fingerprint", "clear_memo", "clear_graphs", "trace_count", "ActivationKind"]
