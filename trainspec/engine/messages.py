"""Readable error text out of TensorFlow and Keras exceptions.

In: an exception raised while building, checking or running a recipe.  Out: one short line
(``first_line``) and where the user's own code raised it (``user_frame``), for the
``RecipeError``/``DataError``/``BuildError`` messages the engine raises instead.
"""

from __future__ import annotations

import os
import re
import traceback

_TF_NOISE = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]( name:\s*\S*)?")


def user_frame(exc: BaseException) -> str:
    """`` (at file:line)`` of the innermost frame outside TensorFlow, Keras and trainspec, or
    ``""`` when every frame is theirs.

    Example:
        >>> user_frame(RuntimeError("no traceback"))
        ''
    """
    frames = traceback.extract_tb(exc.__traceback__)
    skip = ("tensorflow", "keras", os.sep + "trainspec" + os.sep, "site-packages")
    for frame in reversed(frames):
        if not any(s in frame.filename for s in skip):
            return f" (at {frame.filename}:{frame.lineno})"
    return ""


def first_line(exc: BaseException) -> str:
    """The readable part of an exception message: TensorFlow's node names and Keras' echo of
    the call arguments removed.

    Example:
        >>> first_line(ValueError("bad shape [Op:MatMul] name: dense"))
        'bad shape'
    """
    text = _TF_NOISE.sub(" ", str(exc)).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep = []
    for ln in lines:
        if ln.startswith(("Arguments received by", "Call arguments received", "•")):
            break
        keep.append(ln)
    return " ".join(keep)[:600]
