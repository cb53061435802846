"""Traced loops shared across runs: which recipes may share one, and handing it over.

In: a ``Prepared`` about to train.  Out: ``graph_key(p)`` (what its traced loop depends on, or
None when it must trace its own), the kept graphs (``GRAPHS``, by key), ``adopt`` (copy the new
recipe's variables into a kept graph's model and optimizer) and ``shareable``/``keep`` (after a
fresh trace, keep the graph if it holds no state outside those variables).
"""

from __future__ import annotations

import inspect
import json
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.engine.fingerprint import ENGINE_VERSION, Hasher, identity
from trainspec.engine.identify import canonical_config
from trainspec.engine.prepared import Prepared
from trainspec.recipe import metric_items

# Tracing the loop costs far more than a short run of a small model, and the graph of a run does
# not depend on every value of its recipe: the data, batch indices and histogram steps are
# arguments of the traced function, and the weights, learning rate, optimizer slots, iteration
# count and dropout seeds are variables it reads.  Runs whose recipes differ only there (a
# learning-rate sweep, the input-noise pair, models differing only in initializers) share one
# traced loop: the new recipe's model and optimizer are still built, after the same seeding, and
# their every variable is copied into the model and optimizer the loop was traced on.  The graph
# and all its inputs are then those a fresh trace would have, so the run records the same bits.
#
# A recipe shares graphs only when its graph key (below) describes everything its graph bakes
# in; otherwise it traces its own (``graph_key`` returns None).  Optimizer clipping values
# (``clipnorm``, ``clipvalue``, ``global_clipnorm``) and momentum or beta values are Python
# floats Keras writes into the graph as constants, so they stay in the key: changing them traces.

#: Traced loops kept for reuse (least recently used dropped first); each keeps a model and an
#: optimizer alive.  TRAINSPEC_GRAPH_REUSE=0 turns reuse off.
GRAPH_CACHE_SIZE = 4
GRAPHS: OrderedDict[str, Graph] = OrderedDict()

#: Stateful ops a shared graph may contain: variable reads and writes and the loop itself.
#: Anything else (a stateful random op in a custom step, say) keeps state outside the variables
#: copied between runs, so such a graph is not shared.
_SHAREABLE_STATEFUL_OPS = frozenset({
    "ReadVariableOp", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
    "ResourceGather", "ResourceGatherNd", "While", "If", "StatefulPartitionedCall", "NoOp",
    "Assert",
})


@dataclass
class Graph:
    """A traced loop with the model and optimizer whose variables it reads, and its traced
    evaluations, by validation data signature (``val_key``): recipes that differ only in having
    validation data, or in its shape, share the loop."""

    model: Any
    optimizer: Any
    loop: Callable[..., Any]
    evaluations: dict[str, Callable[..., Any]] = field(default_factory=dict)


def val_key(p: Prepared) -> str:
    """What the traced evaluation of ``p`` depends on beyond the loop's graph key: the
    validation arrays' shapes (past the batch axis) and dtypes."""
    if p.val is None:
        return ""
    x, y = p.val
    return json.dumps([list(x.shape[1:]), x.dtype.str, list(y.shape[1:]), y.dtype.str])


def reuse_enabled() -> bool:
    """False when ``TRAINSPEC_GRAPH_REUSE`` is 0, false, off or no."""
    return os.environ.get("TRAINSPEC_GRAPH_REUSE", "1").strip().lower() not in ("0", "false", "off", "no")


def is_keras(obj: Any) -> bool:
    """True for Keras' own functions, classes and objects."""
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return module.split(".")[0] == "keras"


def _described(value: Any, depth: int = 0) -> bool:
    """True when ``identity(value)`` determines what ``value`` computes: plain values, arrays,
    Keras' own functions and configurable objects, and functions whose defaults and closed-over
    values are themselves described.  A bound method (its object is not hashed), an object known
    only by its type name, or a stateful Keras metric or layer is not."""
    if isinstance(value, (int, float, str, bool, type(None), np.ndarray, np.generic)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_described(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_described(v, depth + 1) for v in value.values())
    if inspect.isfunction(value):
        if is_keras(value):
            return True
        if depth > 1:  # identity() names deeper functions without hashing them
            return False
        cells = [_cell_value(c) for c in value.__closure__ or ()]
        return _described(list(value.__defaults__ or ()) + cells, depth + 1)
    if isinstance(value, (keras.layers.Layer, keras.metrics.Metric, keras.Variable, tf.Variable)):
        return False
    if is_keras(value) and callable(getattr(value, "get_config", None)):
        return _described(getattr(value, "fn", None), depth + 1)  # a loss wrapping a function
    return False


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _model_described(model: Any) -> bool:
    """True when the model's config determines its graph: Keras' own layers and activations
    only (a custom layer's ``get_config`` may leave out what its ``call`` uses; a ``Lambda``
    wraps a function its config names but does not hash)."""
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if not is_keras(layer) or isinstance(layer, keras.layers.Lambda):
            return False
        activation = getattr(layer, "activation", None)
        if callable(activation) and not is_keras(activation):
            return False
    return True


def _without_initializers(config: Any) -> Any:
    """A model config without its initializers: they only make the initial weights, which a
    shared graph receives as variable values."""
    if isinstance(config, dict):
        return {k: _without_initializers(v) for k, v in config.items() if not k.endswith("_initializer")}
    if isinstance(config, list):
        return [_without_initializers(v) for v in config]
    return config


def graph_key(p: Prepared) -> str | None:
    """What the traced loop of ``p`` depends on, or None when ``p`` must trace its own.

    The fingerprint without what enters the graph as an argument (data values, batch order,
    steps, batch size, seed) or a variable (initial weights, learning rate)."""
    recipe, model, optimizer = p.recipe, p.model, p.optimizer
    if not all(isinstance(a, np.ndarray) for a in p.train):  # several inputs or outputs
        return None
    if recipe.callbacks:  # callbacks are handed the model object and may save or change it
        return None
    if not isinstance(optimizer.learning_rate, keras.Variable):  # a schedule is traced in
        return None
    if not is_keras(optimizer) or not is_keras(model) or not _model_described(model):
        return None
    loss = recipe.loss if recipe.loss is not None else getattr(model, "loss", None)
    if not _described(loss) or not _described(metric_items(recipe.metrics)):
        return None
    if recipe.train_step is not None and not _described(recipe.train_step):
        return None
    try:
        config = _without_initializers(json.loads(canonical_config(model)))
    except ValueError:  # not JSON: the model could not be serialised
        return None
    h = Hasher()
    h.add("engine", ENGINE_VERSION)
    h.add("model", config)
    h.add("variables", [(tuple(v.shape), str(v.dtype)) for v in model.variables])
    h.add("optimizer_class", f"{type(optimizer).__module__}.{type(optimizer).__qualname__}")
    opt_config = identity({k: v for k, v in optimizer.get_config().items()
                           if k not in ("learning_rate", "name")})
    h.add("optimizer", opt_config)
    h.add("optimizer_variables", [(tuple(v.shape), str(v.dtype)) for v in optimizer.variables])
    h.add("loss", identity(loss))
    h.add("loss_name", p.loss_name)
    h.add("metrics", [(name, identity(fn)) for name, fn in p.metric_fns])
    h.add("train_step", identity(recipe.train_step) if recipe.train_step is not None else None)
    x, y = p.train  # the validation data's shapes key the evaluation only (``val_key``)
    h.add("train", [x.shape[1:], x.dtype.str, y.shape[1:], y.dtype.str])
    h.add("probes", [p.probe_model is None, [(a.index, a.kind.value) for a in p.acts],
                     [lp.var_idx for lp in p.layers]])
    return h.hexdigest()[:32]


def _known_handles(model: Any, optimizer: Any) -> set[int]:
    return {id(v.value.handle) for v in list(model.variables) + list(optimizer.variables)}


def shareable(fns: list[Any], model: Any, optimizer: Any) -> bool:
    """True when the traced functions keep all their state in the model's and optimizer's
    variables: they capture nothing else and contain no other stateful op."""
    from tensorflow.python.framework import op_def_registry

    known = _known_handles(model, optimizer)
    for fn in fns:
        concrete = fn.get_concrete_function()
        if any(id(t) not in known for t in concrete.captured_inputs):
            return False
        graph = concrete.graph.as_graph_def()
        ops = {node.op for node in graph.node}
        for function in graph.library.function:
            ops.update(node.op for node in function.node_def)
        ops -= {function.signature.name for function in graph.library.function}
        for op in ops - _SHAREABLE_STATEFUL_OPS:
            op_def = op_def_registry.get(op)
            if op_def is None or op_def.is_stateful:
                return False
    return True


def adopt(graph: Graph, p: Prepared) -> bool:
    """Give the shared graph's model and optimizer the state of ``p``'s freshly built ones:
    weights, non-trainable state (BatchNormalization statistics, dropout seed states), the
    optimizer's iteration count, learning rate and slots.  False when they do not line up."""
    dest = list(graph.model.variables) + list(graph.optimizer.variables)
    source = list(p.model.variables) + list(p.optimizer.variables)
    if len(dest) != len(source):
        return False
    pairs = list(zip(dest, source, strict=True))
    if any(d.shape != s.shape or d.dtype != s.dtype for d, s in pairs):
        return False
    for dest, source in pairs:
        dest.assign(source.value)
    graph.model.stop_training = False
    return True


def keep(key: str, graph: Graph) -> None:
    """Keep ``graph`` under ``key``, dropping the least recently used beyond the cache size."""
    GRAPHS[key] = graph
    GRAPHS.move_to_end(key)
    while len(GRAPHS) > GRAPH_CACHE_SIZE:
        GRAPHS.popitem(last=False)



def take(key: str | None, p: Prepared) -> Graph | None:
    """The kept graph for ``key`` with ``p``'s variables adopted, or None (then ``p`` traces
    its own loop).

    Example:
        >>> shared = take(graph_key(p), p)              # doctest: +SKIP
        >>> shared is None or shared.model is not p.model
        True
    """
    shared = GRAPHS.get(key) if key is not None else None
    if shared is None or not adopt(shared, p):
        return None
    GRAPHS.move_to_end(key)
    return shared


def clear_graphs() -> None:
    """Forget the traced graphs kept for reuse (the next run of every recipe traces again)."""
    GRAPHS.clear()
