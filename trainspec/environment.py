"""What a run's result depends on outside the recipe, and how trainspec writes files.

:func:`environment` names the versions that decide what a run records (the run cache keys on
them, the JSON results report them); :func:`write_atomic` writes through a temporary file and a
rename so that a reader never sees half a file.
"""

from __future__ import annotations

import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path


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
