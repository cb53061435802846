"""``Exercise``: a broken/fixed :class:`~trainspec.Pair` turned into something a student fixes.

The pair's broken recipe is the starting point and its fixed recipe the solution; the teacher
adds the task statement, a ladder of hints (gentle first, specific last), the specs that must
turn green, and their points.  Because Python objects cannot be turned back into code a student
edits, an exercise also carries the *source* of the student's module and of the solution (each
defines ``recipe``); :meth:`Exercise.drift` checks that they train exactly what the pair trains,
so an exercise cannot silently drift from the pair it was made from.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import keyword
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainspec.exceptions import TrainspecError
from trainspec.pairs import Pair
from trainspec.recipe import Recipe

#: What a spec file imports before the specs' own source (see ``checks.py``).
SPEC_IMPORTS = "import math\n\nimport numpy as np\nimport pytest\n\nimport trainspec\n"


class ExerciseError(TrainspecError):
    """An exercise's module cannot be loaded, or does not define a usable ``recipe``."""


def load_module(path: str | Path, module_name: str | None = None) -> Any:
    """Import the Python file at ``path`` as a fresh module (not added to ``sys.modules``)."""
    path = Path(path)
    name = module_name or f"_trainspec_exercise_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ExerciseError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and inspect.getsource look the module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ExerciseError(f"importing {path} raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.modules.pop(name, None)
    return module


def recipe_of(path: str | Path, module_name: str | None = None) -> Recipe:
    """The ``recipe`` a student's (or a solution's) module defines.

    Example:
        >>> recipe = recipe_of("fail2_sigmoid.py")   # doctest: +SKIP
    """
    module = load_module(path, module_name)
    recipe = getattr(module, "recipe", None)
    if not isinstance(recipe, Recipe):
        raise ExerciseError(
            f"{path} must define `recipe = trainspec.Recipe(...)`, found "
            f"{type(recipe).__name__ if recipe is not None else 'nothing'} named recipe"
        )
    return recipe


def _defines_recipe(source: str, what: str) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"{what} is not valid Python: line {exc.lineno}: {exc.msg}") from None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == "recipe" for t in targets):
            return source
    raise ValueError(f"{what} must assign `recipe = trainspec.Recipe(...)` at module level")


def _spec_source(fn: Any) -> str:
    if not inspect.isfunction(fn):
        raise ValueError(f"specs must be functions, got {type(fn).__name__}")
    if not fn.__name__.startswith("test_"):
        raise ValueError(f"spec {fn.__name__!r} must be named test_... so pytest collects it")
    if "run" not in inspect.signature(fn).parameters:
        raise ValueError(f"spec {fn.__name__!r} must take a `run` argument")
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise ValueError(f"spec {fn.__name__!r}: its source cannot be read ({exc})") from None


class Exercise(BaseModel):
    """A broken/fixed pair as an exercise: statement, hint ladder, specs and points.

    ``source`` and ``solution`` are the text of the student's module and of the fixed module
    (each assigns ``recipe``); :meth:`from_files` reads them and builds the pair from them.
    ``specs`` are plain pytest functions taking ``run`` (their source goes into the spec file;
    mark one ``@pytest.mark.trainspec(points=2, hidden=True)`` to change its points or hide it);
    ``points`` is the default per spec.  ``change`` says what the student may change; it is
    shown next to the doctor's finding, which is the first of ``symptoms`` the doctor finds
    (else its primary finding).

    Example:
        >>> import trainspec
        >>> from trainspec.exercises import checks
        >>> exercise = trainspec.Exercise(
        ...     pair, source=open("start.py").read(), solution=open("fixed.py").read(),
        ...     hints=["Watch the loss curve.", "The learning rate is 100x too high."],
        ...     specs=[checks.test_loss_halves], points=2,
        ...     change="the optimizer's learning rate")              # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True, extra="forbid")

    pair: Pair
    name: str = Field(default="", description="Module name in the workspace (default: the pair's).")
    title: str = ""
    statement: str = Field(default="", description="The task; default: the source's docstring.")
    hints: tuple[str, ...]
    specs: tuple[Callable[..., Any], ...]
    points: float = Field(default=1.0, gt=0, description="Points per spec unless its marker says.")
    change: str = Field(default="", description="What the exercise lets the student change.")
    symptoms: tuple[str, ...] = Field(
        default=(), description="Doctor symptoms this exercise is about, shown to the student "
        "before any other finding (e.g. 'vanishing_gradient').")
    lesson: str = ""
    source: str = Field(description="The student's module (assigns `recipe`).")
    solution: str = Field(description="The fixed module (assigns `recipe`).")

    def __init__(self, pair: Pair | None = None, /, **data: Any):
        if pair is not None:
            data["pair"] = pair
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("pair"), Pair):
            pair = data["pair"]
            data.setdefault("name", pair.name)
            if not data.get("name"):
                data["name"] = pair.name
            if not data.get("lesson"):
                data["lesson"] = pair.lesson
            for key in ("source", "solution"):
                if data.get(key) is None:
                    raise ValueError(
                        f"exercise {data['name']!r}: give {key}= (the text of the "
                        f"{'student' if key == 'source' else 'fixed'} module, which assigns "
                        "`recipe`), or build it with Exercise.from_files(...)"
                    )
        return data

    @field_validator("name")
    @classmethod
    def _module_name(cls, value: str) -> str:
        if not value.isidentifier() or keyword.iskeyword(value) or value.startswith("test_"):
            raise ValueError(f"{value!r} cannot be a module name (letters, digits and _, "
                             "not starting with a digit or test_)")
        return value

    @field_validator("hints")
    @classmethod
    def _hints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or not all(isinstance(h, str) and h.strip() for h in value):
            raise ValueError("give at least one hint, each a non-empty string (gentle first)")
        return value

    @field_validator("specs")
    @classmethod
    def _specs(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        if not value:
            raise ValueError("give at least one spec (a test_... function taking `run`)")
        names = [getattr(fn, "__name__", "") for fn in value]
        if len(set(names)) != len(names):
            raise ValueError(f"spec names must be distinct, got {names}")
        for fn in value:
            _spec_source(fn)
        return value

    @model_validator(mode="after")
    def _sources(self) -> Exercise:
        _defines_recipe(self.source, f"exercise {self.name!r} source")
        _defines_recipe(self.solution, f"exercise {self.name!r} solution")
        return self

    @classmethod
    def from_files(cls, source: str | Path, solution: str | Path, *, name: str | None = None,
                   cause: str = "", fix: str = "", lesson: str = "", **fields: Any) -> Exercise:
        """An exercise whose pair is built from two files: the student's module (broken) and
        the solution (fixed), each assigning ``recipe``.

        Example:
            >>> exercise = Exercise.from_files("start/fail2_sigmoid.py",
            ...     "solution/fail2_sigmoid.py", hints=["..."], specs=[...])  # doctest: +SKIP
        """
        source, solution = Path(source), Path(solution)
        name = name or source.stem
        pair = Pair(
            name,
            broken=lambda: recipe_of(source, f"_trainspec_start_{name}"),
            fixed=lambda: recipe_of(solution, f"_trainspec_solution_{name}"),
            cause=cause, fix=fix, lesson=lesson,
        )
        return cls(pair, name=name, source=source.read_text(encoding="utf-8"),
                   solution=solution.read_text(encoding="utf-8"), **fields)

    # -- what goes into a workspace ----------------------------------------------------------

    @property
    def task(self) -> str:
        """The statement: as given, else the student module's docstring."""
        if self.statement:
            return self.statement
        return inspect.cleandoc(ast.get_docstring(ast.parse(self.source)) or "")

    def module_text(self) -> str:
        """The student's module; the statement is put on top when the source has no
        docstring."""
        if ast.get_docstring(ast.parse(self.source)) or not self.statement:
            return self.source
        return f'"""{self.statement}\n"""\n\n{self.source}'

    def spec_names(self) -> list[str]:
        return [fn.__name__ for fn in self.specs]

    def spec_text(self, index: int = 0) -> str:
        """The exercise's spec file: imports, the default points, the ``recipe`` fixture
        importing the student's module (inside the fixture, so a broken module fails this
        exercise's specs instead of the collection), then each spec's source."""
        title = self.title or self.name
        lines = [
            f'"""Specs of exercise {index}: {title}.\n\nThey fail until `{self.name}.py` trains '
            'as required.  Do not edit this file:\nedit the exercise module.\n"""\n',
            SPEC_IMPORTS,
            "\n",
        ]
        if self.points != 1:
            points = int(self.points) if float(self.points).is_integer() else self.points
            lines.append(f"pytestmark = pytest.mark.trainspec(points={points})\n\n")
        lines.append(
            "\n@pytest.fixture\ndef recipe():\n"
            f'    """The recipe in {self.name}.py, which you edit."""\n'
            f"    import {self.name}\n\n"
            f"    return {self.name}.recipe\n"
        )
        for fn in self.specs:
            lines.append("\n\n" + _spec_source(fn))
        return "".join(lines)

    def manifest_entry(self, index: int, spec_file: str) -> dict[str, Any]:
        """What student mode needs to know about this exercise (written to the workspace)."""
        return {
            "index": index,
            "name": self.name,
            "title": self.title or self.name,
            "lesson": self.lesson,
            "module": f"{self.name}.py",
            "spec_file": spec_file,
            "specs": self.spec_names(),
            "hints": list(self.hints),
            "change": self.change,
            "symptoms": list(self.symptoms),
            "statement": self.task,
        }

    # -- checks --------------------------------------------------------------------------------

    def drift(self, pair: Pair | None = None) -> list[str]:
        """How the exercise's modules differ from ``pair`` (default: its own pair): an empty
        list when the student's module trains exactly the broken recipe and the solution the
        fixed one.  Builds the models (imports TensorFlow).

        Example:
            >>> assert not exercise.drift(examples.sigmoid_vanishing.pair)   # doctest: +SKIP
        """
        pair = pair or self.pair
        out = []
        # the modules' files must exist while comparing: a custom step is compared by its code
        with tempfile.TemporaryDirectory(prefix="trainspec-exercise-") as tmp:
            for kind, text, variant in (("student module", self.source, "broken"),
                                        ("solution", self.solution, "fixed")):
                path = Path(tmp) / variant / f"{self.name}.py"
                path.parent.mkdir()
                path.write_text(text, encoding="utf-8")
                mine = recipe_of(path, f"_trainspec_{variant}_{self.name}")
                out += [f"{kind} vs {pair.name} {variant}: {d}"
                        for d in training_differences(mine, pair.recipe(variant))]
        return out


# -- comparing recipes ---------------------------------------------------------------------------

_FIELDS = ("loss", "optimizer", "learning_rate", "steps", "batch_size", "seed", "metrics",
           "validation_split", "eval_every", "callbacks")


def training_differences(a: Recipe, b: Recipe) -> list[str]:
    """What differs between two recipes in what they train: fields, data, the model's layers
    and initial weights, the custom step's code.  Names and docstrings do not count."""
    from trainspec.engine.fingerprint import identity

    out = []
    for name in _FIELDS:
        va, vb = getattr(a, name), getattr(b, name)
        if _comparable(va) != _comparable(vb) and identity(va) != identity(vb):
            out.append(f"{name}: {va!r} != {vb!r}")
    for name in ("data", "validation_data"):
        xa, xb = getattr(a, name), getattr(b, name)
        if (xa is None) != (xb is None):
            out.append(f"{name}: one recipe has none")
        elif xa is not None and not all(
            np.array_equal(np.asarray(p), np.asarray(q)) for p, q in zip(xa, xb, strict=True)
        ):
            out.append(f"{name}: the arrays differ")
    if _step_code(a.train_step) != _step_code(b.train_step):
        out.append("train_step: the code differs")
    out += _model_differences(a, b)
    return out


def _comparable(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _step_code(fn: Any) -> str | None:
    """The custom step's code without its docstring (its module and name do not count)."""
    if fn is None:
        return None
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(node):
            node.body = node.body[1:]
    body = tree.body[0].body if tree.body else []  # type: ignore[attr-defined]
    return "\n".join(ast.dump(node) for node in body)


def _model_differences(a: Recipe, b: Recipe) -> list[str]:
    import keras

    def build(recipe: Recipe) -> Any:
        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(recipe.seed)
        source = recipe.model
        return source if isinstance(source, keras.Model) else source()

    ma, mb = build(a), build(b)
    la, lb = _layers(ma), _layers(mb)
    if la != lb:
        for i, (x, y) in enumerate(zip(la, lb, strict=False)):
            if x != y:
                return [f"model layer {i}: {x} != {y}"]
        return [f"model: {len(la)} layers != {len(lb)}"]
    wa, wb = ma.get_weights(), mb.get_weights()
    if len(wa) != len(wb) or not all(np.array_equal(p, q) for p, q in zip(wa, wb, strict=True)):
        return ["model: the initial weights differ"]
    return []


def _layers(model: Any) -> list[tuple[str, str]]:
    out = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        out.append((type(layer).__name__, repr(sorted(config.items(), key=lambda kv: kv[0]))))
    return out
