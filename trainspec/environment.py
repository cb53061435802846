"""What a run's result depends on outside the recipe, and how trainspec writes files.

:func:`environment` names the versions that decide what a run records (the run cache keys on
them, the JSON results report them); :func:`write_atomic` writes through a temporary file and a
rename so that a reader never sees half a file.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import re
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any


def environment() -> dict[str, str | None]:
    """Versions that decide what a run records (read without importing TensorFlow)."""

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    tf_version = version("tensorflow") or version("tensorflow-cpu")
    return {
        "trainspec": version("trainspec"),
        "tensorflow": tf_version,
        "keras": version("keras"),
        "numpy": version("numpy"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so a reader never sees
    half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: What TensorFlow's C++ side prints on a CPU machine while it loads and looks for a GPU:
#: noise in every captured output, never about the user's model.
_TF_NOISE = re.compile(
    r"All log messages before absl::InitializeLog|cudart_stub\.cc|cuda_platform\.cc|cuInit|"
    r"cpu_feature_guard\.cc|To enable the following instructions|rebuild TensorFlow with"
)


def json_safe(value: Any) -> Any:
    """``value`` with every NaN/Inf float as None (JSON has neither) and every mapping key a
    string, through dicts, lists and tuples.

    Example:
        >>> json_safe({"loss": [1.0, float("nan")], 2: (float("inf"),)})
        {'loss': [1.0, None], '2': [None]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras without their C++ start-up lines.

    ``TF_CPP_MIN_LOG_LEVEL`` (unless the user set it) hides TensorFlow's info and warning logs;
    the lines TensorFlow writes before its logger starts (no level hides them) and the failed
    CUDA probe of a CPU machine are dropped from standard error while TensorFlow loads and lists
    its devices; anything else it writes is passed on. Called when the first run starts, never at
    collection; then the objects alive are frozen out of the garbage collector's scans.

    Example:
        >>> import_tensorflow_quietly()                                     # doctest: +SKIP
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        _freeze_imports()
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # the CUDA probe logs here
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            kept = "".join(line for line in text.splitlines(True) if not _TF_NOISE.search(line))
            if kept.strip():
                sys.stderr.write(kept)
    _freeze_imports()


def _freeze_imports() -> None:
    """Take everything alive now (mostly TensorFlow's and Keras' modules, about a million
    objects) out of the cyclic garbage collector's scans, once per process.

    Every full collection walked them again: in ``pytest specs/`` with a warm cache the
    collector took 5.4 s of 42 s, 3.4 s of it pytest's own collections at the session's end;
    2.4 s once they are frozen.  Reference counting still frees what they stop using; only
    cyclic garbage among them now would stay, and imported modules are kept for the process's
    life anyway.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


_frozen = False
