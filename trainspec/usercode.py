"""Errors raised by the user's code inside a run, told as the user's errors.

A metric, a loss function, a ``train_step``, a ``Lambda`` or custom layer, or a callback that
raises surfaces from deep inside TensorFlow: at trace time as a Python exception through Keras'
and TensorFlow's frames, at run time as ``Graph execution error: Detected at node ... defined
at ...``.  :func:`explain` turns either into a :class:`UserCodeError` that names the recipe, the
field whose code raised (found by matching the failing frames against the code of the recipe's
callables), the step, the error's own message and the user's frames (file, line, function,
source line); the original exception stays chained as ``__cause__``.

Example:
    >>> from trainspec.usercode import clean_message
    >>> clean_message("Graph execution error:\\n\\nDetected at node G defined at (most recent "
    ...               "call last):\\n  File \\"m.py\\", line 4, in f\\n\\nindices = 9 is not in "
    ...               "[0, 2)\\n\\t [[{{node G}}]] [Op:__inference_loop_1]")
    'indices = 9 is not in [0, 2)'
"""

from __future__ import annotations

import inspect
import linecache
import os
import re
import sysconfig
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from trainspec.exceptions import RecipeError, TrainspecError
from trainspec.recipe import metric_items

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>[^\s*]+)')
_NOISE = re.compile(
    r"\s*\[\[\{\{node [^}]*\}\}\]\]|\s*\[Op:[^\]]*\]( name:\s*\S*)?|\{\{function_node [^}]*\}\}"
)
_TRAINSPEC = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LIBRARY = tuple(
    {os.path.join(sysconfig.get_paths()[k], "") for k in ("stdlib", "platstdlib", "purelib",
                                                           "platlib")}
    | {_TRAINSPEC}
)
#: Fields whose values hold user code, in the order a frame is attributed (a layer's ``call``
#: can call a metric function, not the other way round).
FIELDS = ("train_step", "metrics", "loss", "callbacks", "model")


class UserCodeError(RecipeError):
    """The user's code in a recipe field raised during a run.

    ``field`` names the field (``model``, ``loss``, ``metrics``, ``train_step``,
    ``callbacks``), ``step`` the training step (or ``None`` before the first), ``frames`` the
    user's frames as ``(file, line, function)``."""

    def __init__(self, message: str, *, field: str | None, recipe: str | None,
                 step: str | None = None, frames: list[tuple[str, int, str]] | None = None):
        self.step = step
        self.frames = frames or []
        super().__init__(message, field=field, recipe=recipe)


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    name: str

    def render(self) -> str:
        source = linecache.getline(self.file, self.line).strip()
        text = f'    File "{self.file}", line {self.line}, in {self.name}'
        return text + (f"\n      {source}" if source else "")


def is_user_file(filename: str) -> bool:
    """Not the standard library, an installed package, trainspec, or generated code."""
    if filename.startswith("<") or "__autograph_generated" in filename:
        return False
    return not os.path.abspath(filename).startswith(_LIBRARY)


def frames_of(exc: BaseException) -> list[Frame]:
    """The user's frames of ``exc`` (and of the exceptions it chains), outermost first: from its
    traceback, and from the stacks TensorFlow and autograph print in their messages."""
    seen: set[tuple[str, int]] = set()
    out: list[Frame] = []
    for error in _chain(exc):
        candidates = [Frame(f.filename, f.lineno or 0, f.name)
                      for f in traceback.extract_tb(error.__traceback__)]
        for line in str(error).splitlines():
            match = _FRAME.match(line)
            if match:
                candidates.append(Frame(match["file"], int(match["line"]), match["name"]))
        for frame in candidates:
            key = (frame.file, frame.line)
            if is_user_file(frame.file) and key not in seen:
                seen.add(key)
                out.append(frame)
    return out


def _autograph_frames(exc: BaseException, recipe: Any) -> list[Frame]:
    """Frames in code autograph generated (``tf__<name>`` in a temporary file), mapped to the
    recipe's function of that name (its ``def`` line: autograph keeps no line mapping)."""
    names = {f.name[4:] for error in _chain(exc)
             for f in traceback.extract_tb(error.__traceback__)
             if "__autograph_generated" in f.filename and f.name.startswith("tf__")}
    if not names:
        return []
    candidates = [recipe.train_step, *_losses(recipe.loss), *metric_items(recipe.metrics)]
    out = []
    for fn in candidates:
        code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        if code is not None and code.co_name in names:
            out.append(Frame(code.co_filename, code.co_firstlineno, code.co_name))
    return out


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    while exc is not None and exc not in chain and len(chain) < 8:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return chain


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_KERAS_CALL = re.compile(r"^Exception encountered when calling [\w.]+\(\)\.\s*")


def clean_message(text: str) -> str:
    """The error's own words: TensorFlow's ``Graph execution error`` header, the stack it
    prints, node names, terminal colours and Keras' wrapping and echo of the call arguments
    removed."""
    lines = _ANSI.sub("", text).splitlines()
    last_frame = max((i for i, ln in enumerate(lines) if _FRAME.match(ln)), default=-1)
    if last_frame >= 0:
        lines = lines[last_frame + 1:]
    keep: list[str] = []
    for line in lines:
        stripped = _KERAS_CALL.sub("", _NOISE.sub("", line).strip()).strip()
        if not stripped or stripped.startswith(("Graph execution error", "Detected at node")):
            continue
        if stripped.startswith(("Arguments received by", "Call arguments received", "•")):
            break
        if stripped.endswith("defined at (most recent call last):"):
            continue
        keep.append(stripped)
    return " ".join(keep)[:600] or text.strip().splitlines()[0][:600]


def _losses(loss: Any) -> list[Any]:
    """The loss, or each output's loss of a per-output list or dict."""
    if isinstance(loss, dict):
        return list(loss.values())
    return list(loss) if isinstance(loss, list) else [loss]


def _codes(value: Any) -> list[Any]:
    """Code objects of a callable or of the user-defined methods of an object's class."""
    if value is None or isinstance(value, str):
        return []
    function = getattr(value, "__func__", value)
    code = getattr(function, "__code__", None)
    if code is not None:
        return [code]
    wrapped = getattr(value, "python_function", None) or getattr(value, "__wrapped__", None)
    if wrapped is not None and wrapped is not value:
        return _codes(wrapped)
    codes = []
    for cls in type(value).__mro__:
        module = getattr(cls, "__module__", "") or ""
        if module.split(".")[0] in ("keras", "tensorflow", "builtins", "abc", "typing"):
            continue
        for attr in vars(cls).values():
            attr = getattr(attr, "__func__", attr)
            if inspect.isfunction(attr):
                codes.append(attr.__code__)
    return codes


def _lines(code: Any) -> tuple[str, int, int]:
    numbers = [line for _, _, line in code.co_lines() if line]
    return os.path.realpath(code.co_filename), code.co_firstlineno, max(numbers or [0])


def sources(recipe: Any, model: Any = None) -> dict[str, list[tuple[str, int, int]]]:
    """For each field holding user code, the ``(file, first line, last line)`` of its code."""
    found: dict[str, list[Any]] = {
        "train_step": _codes(recipe.train_step),
        "metrics": [c for m in metric_items(recipe.metrics) for c in _codes(m)],
        "loss": [c for fn in _losses(recipe.loss) if callable(fn) for c in _codes(fn)],
        "callbacks": [c for cb in recipe.callbacks for c in _codes(cb)],
        "model": _codes(recipe.model) if not hasattr(recipe.model, "layers") else [],
    }
    if model is not None:
        found["model"] += _model_codes(model)
    return {field: [_lines(c) for c in codes] for field, codes in found.items()}


def _model_codes(model: Any) -> list[Any]:
    codes = _codes(model)
    layers: Iterable[Any] = ()
    try:
        layers = model._flatten_layers(include_self=False, recursive=True)
    except Exception:
        layers = getattr(model, "layers", ())
    for layer in layers:
        function = getattr(layer, "function", None)  # keras.layers.Lambda
        if callable(function):
            codes += _codes(function)
        codes += _codes(layer)
    return codes


def attribute(frames: list[Frame], known: dict[str, list[tuple[str, int, int]]]) -> str | None:
    """The field whose code holds the innermost user frame that belongs to any field."""
    for frame in reversed(frames):
        path = os.path.realpath(frame.file)
        for field in FIELDS:
            if any(path == f and lo <= frame.line <= hi for f, lo, hi in known.get(field, ())):
                return field
    return None


_WHAT = {
    "train_step": "the train_step",
    "metrics": "a metric",
    "loss": "the loss function",
    "callbacks": "a callback",
    "model": "the model's code (a Lambda or custom layer, or the model's call)",
}


def explain(exc: BaseException, recipe: Any, *, model: Any = None, step: str | None = None,
            field: str | None = None, fallback: str | None = None) -> TrainspecError:
    """A :class:`UserCodeError` for ``exc`` when user code of the recipe raised it, else a
    :class:`RecipeError` naming ``fallback`` (``None`` when no field can be named) with the
    cleaned message.  ``field`` forces the field (a callback called directly).

    Example:
        >>> raise explain(exc, recipe, model=model, step="step 12")       # doctest: +SKIP
    """
    if isinstance(exc, TrainspecError):
        return exc
    frames = frames_of(exc) + _autograph_frames(exc, recipe)
    named = field or attribute(frames, sources(recipe, model))
    label = getattr(recipe, "label", None)
    message = clean_message(str(exc))
    when = f" at {step}" if step else ""
    if named is None:
        error = RecipeError(f"the run failed{when}: {type(exc).__name__}: {message}",
                            field=fallback, recipe=label)
        error.__cause__ = exc
        return error
    shown = frames[-6:]
    listing = "\n".join(f.render() for f in shown)
    text = (f"{_WHAT.get(named, named)} raised {type(exc).__name__}{when}: {message}"
            + (f"\n  your code (most recent call last):\n{listing}" if listing else ""))
    error = UserCodeError(text, field=named, recipe=label, step=step,
                          frames=[(f.file, f.line, f.name) for f in shown])
    error.__cause__ = exc
    return error
