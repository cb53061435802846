"""Hash the Python code that decides a run, so an edited model never gets a stale cached run.

A recipe's configuration and initial weights do not show what its Python code computes: the
body of a subclassed model's ``call``, a custom layer without ``get_config``, a function passed
as ``activation=``, a ``Lambda``'s function, a custom loss, metric, ``train_step`` or callback.
:func:`code_digest` walks such objects and hashes

* functions by their bytecode, constants, names, default arguments and the values they close
  over, following the globals they use (helper functions, classes, module-level numbers and
  arrays, attributes of user modules they read) recursively;
* classes by every method and attribute defined in the user's own classes of their MRO;
* objects by their class and their attributes (Keras' own bookkeeping attributes and object
  names left out: Keras numbers names per session, ``sgd`` then ``sgd_1``);
* code from an installed package or the standard library by its qualified name and the
  package's version (Keras built-ins are described by their config and the Keras version).

Bytecode, not source text: a comment or a blank line does not invalidate a cache entry, and a
lambda typed in a REPL (no source file) is hashed all the same.  What cannot be read (a
function compiled to a C extension outside any installed package) is reported in
:attr:`CodeDigest.unreadable`; the engine then neither caches nor memoises the run.

Example:
    >>> from trainspec.engine.codehash import code_digest
    >>> code_digest(lambda t: t * 1.0).digest != code_digest(lambda t: t * 0.0).digest
    True
    >>> scale = 2.0
    >>> code_digest(lambda t: t * scale).unreadable
    []
"""

from __future__ import annotations

import functools
import hashlib
import os
import site
import sys
import sysconfig
import types
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

#: Attribute names that hold an object's auto-generated name or path (never hashed).
_NAME_KEYS = frozenset({"name", "_name", "path", "_path", "_parent_path", "_object_name"})
#: Class attributes that say nothing about behaviour.
_CLASS_SKIP = frozenset({
    "__dict__", "__weakref__", "__module__", "__qualname__", "__doc__", "__firstlineno__",
    "__static_attributes__", "__annotations__", "__annotate__", "__annotate_func__",
    "__annotations_cache__", "__orig_bases__", "__parameters__", "__abstractmethods__",
    "_abc_impl", "__slotnames__", "__classcell__",
})
_MAX_DEPTH = 40
_SIMPLE = (type(None), bool, int, float, complex, str, bytes)


@dataclass(frozen=True)
class CodeDigest:
    """The hash of some objects' code and state, and what could not be read (with why)."""

    digest: str
    unreadable: list[str] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return not self.unreadable


def code_digest(*objects: Any, layers: list[Any] | None = None) -> CodeDigest:
    """Hash the code and state of ``objects`` (functions, classes, layers, models, callbacks...).

    ``layers``: the model's layers in order; a layer met as an attribute value is then hashed as
    its position there (its own code and state are hashed once, as an item of ``layers``).

    Example:
        >>> from trainspec.engine.codehash import code_digest
        >>> def act(t, k=2.0):
        ...     return t * k
        >>> def act2(t, k=3.0):
        ...     return t * k
        >>> code_digest(act).digest == code_digest(act2).digest    # default arguments count
        False
    """
    walker = _Walker(layers or [])
    for obj in objects:
        walker.visit(obj, 0)
    return CodeDigest(walker.hexdigest(), sorted(set(walker.unreadable)))


class UncachedRunWarning(UserWarning):
    """A run was trained without the cache or the memo: part of its code cannot be hashed."""


_WARNED: set[str] = set()


def warn_uncached(label: str, reasons: list[str]) -> None:
    """Say once per process and reason why runs are neither cached nor memoised."""
    for reason in reasons:
        if reason in _WARNED:
            continue
        _WARNED.add(reason)
        warnings.warn(UncachedRunWarning(
            f"recipe {label!r} is trained on every use, never taken from the run cache or the "
            f"memo: {reason}, so a change to it could not be detected"), stacklevel=3)


# -- where code comes from ---------------------------------------------------------------------


@functools.cache
def _library_roots() -> tuple[str, ...]:
    paths = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            paths.add(os.path.realpath(path))
    try:
        paths.update(os.path.realpath(p) for p in site.getsitepackages())
    except AttributeError:  # some virtualenvs
        pass
    user = getattr(site, "getusersitepackages", lambda: None)()
    if user:
        paths.add(os.path.realpath(user))
    return tuple(sorted(p.rstrip(os.sep) + os.sep for p in paths))


@functools.cache
def _is_library(module_name: str) -> bool:
    """True for the standard library, trainspec and installed packages (site-packages)."""
    top = module_name.split(".")[0]
    if top in sys.builtin_module_names or top in getattr(sys, "stdlib_module_names", ()):
        return True
    if top in ("trainspec", "builtins"):
        return True
    module = sys.modules.get(module_name) or sys.modules.get(top)
    path = getattr(module, "__file__", None)
    if not path:
        return False  # __main__ of a REPL, a module made at run time: the user's
    real = os.path.realpath(path)
    return any(real.startswith(root) for root in _library_roots())


@functools.cache
def _distributions() -> dict[str, list[str]]:
    try:
        return dict(metadata.packages_distributions())
    except Exception:  # a broken installation's metadata
        return {}


@functools.cache
def _library_version(module_name: str) -> str:
    top = module_name.split(".")[0]
    if top in sys.builtin_module_names or top in getattr(sys, "stdlib_module_names", ()):
        return "python " + sys.version.split()[0]
    versions = []
    for dist in _distributions().get(top, []):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(sorted(versions)) or top


def _module_of(obj: Any) -> str:
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        module = getattr(type(obj), "__module__", None)
    return module if isinstance(module, str) else ""


# -- Keras' own attributes ---------------------------------------------------------------------


@functools.cache
def _keras_base_keys() -> frozenset[str]:
    """Attribute names Keras' base classes set on every layer, model, loss, metric, callback and
    optimizer: bookkeeping (trackers, call signatures, caches) decided by config and version."""
    keras = sys.modules.get("keras")
    keys: set[str] = set()
    if keras is None:
        return frozenset()
    makers = (lambda: keras.layers.Layer(), lambda: keras.Model(), lambda: keras.callbacks.Callback(),
              lambda: keras.losses.Loss(), lambda: keras.metrics.Metric())
    for make in makers:
        try:
            keys.update(vars(make()))
        except Exception:
            pass
    # compiled state and traced functions of a model (the loss is hashed through the recipe)
    keys.update({"train_function", "test_function", "predict_function", "_compile_loss",
                 "_compile_metrics", "_loss_tracker", "_distribute_strategy", "compiled",
                 "optimizer", "_jit_compile", "_run_eagerly", "_initial_epoch",
                 "_compute_loss_has_training_arg", "stop_training", "history",
                 "_already_warned", "_functional_layer_call_kwargs", "_inputs_struct",
                 "_outputs_struct", "_operations", "_nodes", "_nodes_by_depth",
                 "_operations_by_depth", "_output_layers", "_input_layers", "_layers",
                 "_tracked", "_tracker", "_model", "model"})
    return frozenset(keys)


def _is_keras_kind(obj: Any, *names: str) -> bool:
    keras = sys.modules.get("keras")
    if keras is None:
        return False
    kinds = {"Layer": keras.layers.Layer, "Variable": keras.Variable,
             "Optimizer": keras.optimizers.Optimizer}
    return isinstance(obj, tuple(kinds[n] for n in names))


def _is_tf_variable(obj: Any) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(obj, tf.Variable)


# -- the walk ----------------------------------------------------------------------------------


class _Walker:
    def __init__(self, layers: list[Any]):
        self._h = hashlib.sha256()
        self._seen: dict[int, int] = {}
        self._alive: list[Any] = []  # keep visited objects alive: ids stay unique
        self._layers = {id(layer): i for i, layer in enumerate(layers)}
        self._layer_objs = list(layers)
        self.unreadable: list[str] = []

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def _w(self, tag: str, text: Any = "") -> None:
        data = text if isinstance(text, bytes) else str(text).encode("utf-8", "backslashreplace")
        self._h.update(tag.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)

    def _once(self, obj: Any) -> bool:
        """False (and a back-reference written) when ``obj`` was already hashed in this walk."""
        key = id(obj)
        if key in self._seen:
            self._w("ref", self._seen[key])
            return False
        self._seen[key] = len(self._seen)
        self._alive.append(obj)
        return True

    def _lib(self, kind: str, module: str, qualname: str) -> None:
        self._w(kind, f"{module}.{qualname} [{_library_version(module)}]")

    def visit(self, obj: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            self._w("deep", type(obj).__qualname__)
            return
        if isinstance(obj, _SIMPLE):
            self._w(type(obj).__name__, repr(obj))
            return
        if isinstance(obj, np.ndarray):
            array = np.ascontiguousarray(obj)
            self._w("ndarray", f"{array.dtype.str}{array.shape}")
            self._w("data", hashlib.sha256(array.tobytes()).hexdigest())
            return
        if isinstance(obj, np.generic):
            self._w("npscalar", f"{obj.dtype.str}:{obj.item()!r}")
            return
        if isinstance(obj, types.CodeType):
            self._code(obj, {}, depth)
            return
        if id(obj) in self._layers and depth > 0:
            self._w("layer", self._layers[id(obj)])
            return
        if not self._once(obj):
            return
        if isinstance(obj, (list, tuple)):
            self._w(type(obj).__name__ if type(obj) in (list, tuple) else "seq", len(obj))
            for item in obj:
                self.visit(item, depth + 1)
        elif isinstance(obj, dict):
            self._w("dict", len(obj))
            for key in sorted(obj, key=repr):
                self.visit(key, depth + 1)
                self.visit(obj[key], depth + 1)
        elif isinstance(obj, (set, frozenset)):
            self._w("set", ",".join(sorted(code_digest(v).digest for v in obj)))
        elif isinstance(obj, functools.partial):
            self._w("partial")
            self.visit(obj.func, depth + 1)
            self.visit(list(obj.args), depth + 1)
            self.visit(dict(obj.keywords), depth + 1)
        elif isinstance(obj, types.FunctionType):
            self._function(obj, depth)
        elif isinstance(obj, types.MethodType):
            self._w("method")
            self.visit(obj.__func__, depth + 1)
            self.visit(obj.__self__, depth + 1)
        elif isinstance(obj, (staticmethod, classmethod)):
            self._w(type(obj).__name__)
            self.visit(obj.__func__, depth + 1)
        elif isinstance(obj, property):
            self._w("property")
            for part in (obj.fget, obj.fset, obj.fdel):
                self.visit(part, depth + 1)
        elif isinstance(obj, types.ModuleType):
            self._w("module", obj.__name__)
        elif isinstance(obj, type):
            self._class(obj, depth)
        elif isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType,
                              types.WrapperDescriptorType, types.MethodWrapperType,
                              types.MethodDescriptorType, types.ClassMethodDescriptorType,
                              np.ufunc)):
            self._builtin(obj, depth)
        else:
            self._object(obj, depth)

    def _builtin(self, fn: Any, depth: int) -> None:
        """Compiled callables: a library's by name and version; anything else is unreadable."""
        owner = getattr(fn, "__self__", None)
        if owner is not None and not isinstance(owner, types.ModuleType):
            self._w("bound-builtin", getattr(fn, "__name__", ""))  # e.g. ``[].append``
            self.visit(type(owner), depth + 1)
            self._state_of(owner, depth + 1)
            return
        module = getattr(fn, "__module__", None)
        if not isinstance(module, str):
            module = getattr(getattr(fn, "__objclass__", None), "__module__", None)
        if not isinstance(module, str) and isinstance(fn, np.ufunc):
            module = "numpy"
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
        if isinstance(module, str) and _is_library(module) and _resolves(module, name, fn):
            self._lib("builtin", module, name)
            return
        self._w("builtin", f"{module}.{name}")
        self.unreadable.append(
            f"{module}.{name} is compiled code outside any installed package: its code cannot "
            "be read")

    # -- functions and code --------------------------------------------------------------------

    def _function(self, fn: types.FunctionType, depth: int) -> None:
        module = _module_of(fn)
        if module and _is_library(module):
            self._lib("function", module, fn.__qualname__)
            return
        self._w("function")
        self._code(fn.__code__, fn.__globals__, depth)
        self.visit(fn.__defaults__, depth + 1)
        self.visit(fn.__kwdefaults__, depth + 1)
        for cell in fn.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                self._w("empty-cell")
                continue
            self.visit(value, depth + 1)

    def _code(self, code: types.CodeType, globals_: dict[str, Any], depth: int) -> None:
        """Bytecode and what it refers to: constants (nested functions' code too), the names it
        loads, and the values of the globals among them."""
        self._w("code", f"{code.co_argcount}/{code.co_posonlyargcount}/{code.co_kwonlyargcount}"
                        f"/{code.co_flags}")
        self._w("bytecode", code.co_code)
        self._w("varnames", ",".join(code.co_varnames))
        self._w("names", ",".join(code.co_names))
        self._w("free", ",".join(code.co_freevars + code.co_cellvars))
        for const in code.co_consts:
            if isinstance(const, types.CodeType):  # a nested function or comprehension
                self._code(const, {}, depth + 1)
            elif isinstance(const, frozenset):
                self._w("frozenset", ",".join(sorted(repr(c) for c in const)))
            else:
                self.visit(const, depth + 1)
        if not globals_:
            return
        names = _all_names(code)
        for name in sorted(names):
            if name not in globals_:
                continue
            value = globals_[name]
            self._w("global", name)
            self.visit(value, depth + 1)
            if isinstance(value, types.ModuleType) and not _is_library(value.__name__):
                # attributes of the user's own modules it reads (``utils.helper``)
                for attr in sorted(names):
                    if attr != name and hasattr(value, attr):
                        self._w("attr", f"{name}.{attr}")
                        self.visit(getattr(value, attr), depth + 1)

    # -- classes and objects -------------------------------------------------------------------

    def _class(self, cls: type, depth: int) -> None:
        module = cls.__module__ or ""
        if _is_library(module):
            self._lib("class", module, cls.__qualname__)
            return
        self._w("class")
        for base in cls.__mro__:
            base_module = base.__module__ or ""
            if _is_library(base_module):
                self._lib("base", base_module, base.__qualname__)
                continue
            if base is not cls:
                self._w("userbase")
                if not self._once(base):
                    continue
            for name in sorted(vars(base)):
                if name in _CLASS_SKIP:
                    continue
                self._w("member", name)
                self.visit(vars(base)[name], depth + 1)

    def _object(self, obj: Any, depth: int) -> None:
        cls = type(obj)
        self.visit(cls, depth + 1)
        self._state_of(obj, depth)

    def _state_of(self, obj: Any, depth: int) -> None:
        """An object's state: a library object by its config (or plain attributes), a user
        object by every attribute but Keras' own bookkeeping and names."""
        if isinstance(obj, type) or isinstance(obj, types.ModuleType):
            self.visit(obj, depth + 1)
            return
        if _is_keras_kind(obj, "Variable") or _is_tf_variable(obj):
            self._w("variable", f"{tuple(obj.shape)}:{obj.dtype}:{getattr(obj, 'trainable', '')}")
            return
        if _is_keras_kind(obj, "Layer") and id(obj) not in self._layers and depth > 0:
            self._w("foreign-layer", type(obj).__qualname__)  # a model a callback still holds
            return
        if _is_keras_kind(obj, "Optimizer"):
            self._config(obj, depth)
            self.visit(type(obj), depth + 1)
            return
        user = not _is_library(type(obj).__module__ or "")
        if isinstance(obj, (np.random.Generator, np.random.RandomState)):
            state = obj.bit_generator.state if isinstance(obj, np.random.Generator) else obj.get_state()
            self._w("rng")
            self.visit(state, depth + 1)
            return
        is_model = type(obj).__module__.startswith("keras") and hasattr(obj, "layers") and \
            _is_keras_kind(obj, "Layer")  # a model's config names layers (the engine hashes it)
        config = self._config(obj, depth) if not user and not is_model else False
        attrs = getattr(obj, "__dict__", None)
        if attrs is None:
            if not config and not user:
                text = repr(obj)
                self._w("repr", text if " at 0x" not in text else type(obj).__qualname__)
            return
        skip = _keras_base_keys() | _NAME_KEYS
        for key in sorted(attrs):
            if key in skip or key.startswith("__"):
                continue
            value = attrs[key]
            if not user and not _plainish(value):
                continue  # a library object's own machinery: its config speaks for it
            self._w("attr", key)
            self.visit(value, depth + 1)

    def _config(self, obj: Any, depth: int) -> bool:
        get_config = getattr(obj, "get_config", None)
        if not callable(get_config):
            return False
        try:
            config = get_config()
        except Exception:
            return False
        self._w("config")
        self.visit(_without_names(config), depth + 1)
        return True


def _resolves(module: str, qualname: str, fn: Any) -> bool:
    """True when ``module.qualname`` names ``fn`` (so name and version identify its code)."""
    target: Any = sys.modules.get(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target is fn or target == fn


def _plainish(value: Any) -> bool:
    """Values worth hashing on a library object: data and user code, not its internals."""
    if isinstance(value, (*_SIMPLE, np.ndarray, np.generic)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plainish(v) for v in value)
    if isinstance(value, dict):
        return all(_plainish(v) for v in value.values())
    if isinstance(value, (types.FunctionType, types.MethodType, functools.partial)):
        return True
    module = _module_of(value)
    return bool(module) and not _is_library(module) and not isinstance(value, types.ModuleType)


def _without_names(config: Any) -> Any:
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k not in _NAME_KEYS}
    if isinstance(config, (list, tuple)):
        return [_without_names(v) for v in config]
    return config


def _all_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _all_names(const)
    return names


__all__ = ["CodeDigest", "UncachedRunWarning", "code_digest", "warn_uncached"]
