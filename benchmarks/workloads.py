"""In-process measurements: probe overhead (figure 1) and the size of recorded series (figure 5b).

The "no probes" baseline is written here, not in trainspec: the same ``tf.function`` over a
``tf.while_loop`` of gathered batches that ``trainspec.engine`` compiles (same model, data, batch
indices, optimizer, loss and op determinism, from the same ``engine.prepare.prepare``), doing forward,
loss, gradient and ``apply_gradients`` and recording only the loss.  The probed loop is the
engine's own.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainspec import datasets

#: Training set shared by the workloads: the curriculum's generated MNIST stand-in.
DIGITS_N = 2048


@dataclass(frozen=True)
class Workload:
    """A recipe the benchmark trains: ``depth`` hidden Dense layers of ``units`` ReLU units on
    28x28 digits, SGD, batch 32, accuracy recorded (every probe on: layer norms, update ratios,
    activation stats, histograms, the metric)."""

    name: str
    depth: int
    units: int
    learning_rate: float = 0.05

    def recipe(self, steps: int, seed: int = 0) -> Any:
        import trainspec

        return trainspec.Recipe(
            model=mlp_builder(self.name, self.depth, self.units), data=digits(),
            loss="sparse_categorical_crossentropy", optimizer="sgd",
            learning_rate=self.learning_rate, steps=steps, batch_size=32, metrics=["accuracy"],
            seed=seed, name=self.name,
        )


#: The representative recipe (the curriculum's fixed models are 3 x 100-256 ReLU MLPs) and a
#: deep one: probe cost grows with the number of layers.
MLP = Workload("mlp_3x128", depth=3, units=128)
DEEP = Workload("mlp_10x100", depth=10, units=100)


def digits() -> tuple[np.ndarray, np.ndarray]:
    return datasets.digits(n=DIGITS_N, seed=0)


def mlp_builder(name: str, depth: int, units: int, inputs: tuple[int, ...] = (28, 28),
                classes: int = 10) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        layers: list[Any] = [keras.Input(inputs)]
        if len(inputs) > 1:
            layers.append(keras.layers.Flatten())
        layers += [keras.layers.Dense(units, activation="relu") for _ in range(depth)]
        layers.append(keras.layers.Dense(classes, activation="softmax"))
        return keras.Sequential(layers, name=name)

    build.__qualname__ = build.__name__ = name
    return build


# -- the baseline loop -------------------------------------------------------------------------


def baseline_loop(p: Any) -> Callable[..., dict[str, Any]]:
    """``engine.loop.build_loop`` without the probes: forward, loss, gradient, update; the loss
    is the only thing recorded.  ``p`` is an ``engine.prepared.Prepared``."""
    import tensorflow as tf

    model, optimizer = p.model, p.optimizer
    variables = list(model.trainable_variables)
    x, y = p.train

    def mean_loss(yb: Any, y_pred: Any) -> Any:
        loss = tf.reduce_mean(tf.cast(p.loss_fn(yb, y_pred), tf.float32))
        if model.losses:
            loss += tf.add_n([tf.cast(v, tf.float32) for v in model.losses])
        return loss

    def body(x: Any, y: Any, idx: Any, i: Any, loss_ta: Any) -> tuple:
        xb = tf.gather(x, idx[i])
        yb = tf.gather(y, idx[i])
        with tf.GradientTape() as tape:
            loss = mean_loss(yb, model(xb, training=True))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(
            [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        )
        return i + 1, loss_ta.write(i, loss)

    @tf.function(
        jit_compile=False,
        autograph=False,
        input_signature=[
            tf.TensorSpec([None, *x.shape[1:]], tf.float32),
            tf.TensorSpec([None, *y.shape[1:]], tf.as_dtype(y.dtype)),
            tf.TensorSpec([None, None], tf.int32),
        ],
    )
    def loop(x: Any, y: Any, idx: Any) -> dict[str, Any]:
        loss_ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[])
        n = tf.shape(idx)[0]
        _, loss_ta = tf.while_loop(
            lambda i, ta: i < n,
            lambda i, ta: body(x, y, idx, i, ta),
            (tf.constant(0), loss_ta),
        )
        return {"loss": loss_ta.stack()}

    return loop


def baseline_execute(p: Any) -> np.ndarray:
    """Train ``p`` end to end with the baseline loop, chunked as the engine chunks."""
    import tensorflow as tf

    from trainspec.constants import DEFAULT_CHUNK_STEPS
    from trainspec.engine.schedule import batch_indices

    recipe = p.recipe
    p.optimizer.build(p.model.trainable_variables)
    loop = baseline_loop(p)
    x, y = (tf.constant(a) for a in p.train)
    idx = batch_indices(len(p.train[0]), recipe.steps, recipe.batch_size, recipe.seed)
    chunk = min(recipe.steps, DEFAULT_CHUNK_STEPS)
    losses = []
    for start in range(0, recipe.steps, chunk):
        end = min(start + chunk, recipe.steps)
        out = loop(x, y, tf.constant(idx[start:end]))
        losses.append(out["loss"].numpy())
    return np.concatenate(losses)


# -- figure 1 ----------------------------------------------------------------------------------


@dataclass
class Overhead:
    """Probe overhead of one workload, seconds."""

    workload: str
    layers: int
    steps: int
    probed_step: float  # median seconds per step, after tracing
    baseline_step: float
    probed_e2e: float  # prepare excluded: optimizer build, trace, every step, results to numpy
    baseline_e2e: float
    probed_first_call: float  # trace + first chunk
    baseline_first_call: float
    probed_trace: float = 0.0  # tracing alone (get_concrete_function)
    baseline_trace: float = 0.0

    @property
    def steady_ratio(self) -> float:
        return self.probed_step / self.baseline_step

    @property
    def e2e_ratio(self) -> float:
        return self.probed_e2e / self.baseline_e2e

    @property
    def trace_ratio(self) -> float:
        return self.probed_trace / self.baseline_trace


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _fetch(out: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in out.items() if k != "grads"}


def probe_overhead(workload: Workload, steps: int, repeats: int, tries: int = 2,
                   traces: int = 5) -> Overhead:
    """Time the engine's probed loop against :func:`baseline_loop` on the same prepared recipe.

    Steady state: each loop is traced by a first call, then called ``repeats`` times on
    ``steps`` fresh batch indices (the two loops alternate, so load on the machine hits both);
    the median per-step time is kept.  End to end: ``engine.execute.execute`` against
    :func:`baseline_execute` on a freshly prepared recipe (optimizer build, tracing, every step,
    results fetched), the better of ``tries`` each.  Tracing: ``get_concrete_function`` of
    each loop on a freshly prepared recipe, ``traces`` times alternating, the median kept (one
    trace alone moved by a factor of two between runs on a shared machine).
    """
    import tensorflow as tf

    from trainspec.engine.execute import execute
    from trainspec.engine.loop import build_loop
    from trainspec.engine.prepare import prepare
    from trainspec.engine.schedule import batch_indices

    tf.get_logger().setLevel("ERROR")  # each prepared recipe traces its own loop: no retrace warnings
    recipe = workload.recipe(steps)
    loops: dict[str, Callable[..., Any]] = {}
    first_call: dict[str, float] = {}
    traced: dict[str, list[float]] = {"probed": [], "baseline": []}
    idx = batch_indices(DIGITS_N, steps * (repeats + 1), 32, 1)
    x = y = None
    n_layers = 0
    for kind in ("probed", "baseline"):
        p = prepare(recipe)
        n_layers = len(p.layers)
        p.optimizer.build(p.model.trainable_variables)
        loops[kind] = build_loop(p) if kind == "probed" else baseline_loop(p)
        x, y = (tf.constant(a) for a in p.train)
        first = tf.constant(idx[:steps])
        seconds, _ = _timed(lambda k=kind, x=x, y=y, c=first: loops[k].get_concrete_function(x, y, c))
        traced[kind].append(seconds)
        first_call[kind], _ = _timed(
            lambda k=kind, x=x, y=y, c=first: _fetch(loops[k](x, y, c))
        )
    per_step: dict[str, list[float]] = {"probed": [], "baseline": []}
    for r in range(repeats):
        chunk = tf.constant(idx[(r + 1) * steps : (r + 2) * steps])
        for kind in ("probed", "baseline"):
            seconds, out = _timed(lambda k=kind, c=chunk: _fetch(loops[k](x, y, c)))
            if len(out["loss"]) != steps:
                raise RuntimeError(f"{workload.name}: the {kind} loop stopped early (non-finite)")
            per_step[kind].append(seconds / steps)

    for _ in range(traces - 1):
        for kind in ("probed", "baseline"):
            p = prepare(recipe)
            p.optimizer.build(p.model.trainable_variables)
            fresh = build_loop(p) if kind == "probed" else baseline_loop(p)
            first = tf.constant(idx[:steps])
            seconds, _ = _timed(lambda f=fresh, c=first: f.get_concrete_function(x, y, c))
            traced[kind].append(seconds)
    trace = {kind: statistics.median(values) for kind, values in traced.items()}

    e2e: dict[str, float] = {"probed": float("inf"), "baseline": float("inf")}
    for _ in range(tries):
        for kind in ("probed", "baseline"):
            p = prepare(recipe)
            train = execute if kind == "probed" else baseline_execute
            seconds, _ = _timed(lambda p=p, f=train: f(p))
            e2e[kind] = min(e2e[kind], seconds)
    return Overhead(
        workload=workload.name,
        layers=n_layers,
        steps=steps,
        probed_step=statistics.median(per_step["probed"]),
        baseline_step=statistics.median(per_step["baseline"]),
        probed_e2e=e2e["probed"],
        baseline_e2e=e2e["baseline"],
        probed_first_call=first_call["probed"],
        baseline_first_call=first_call["baseline"],
        probed_trace=trace["probed"],
        baseline_trace=trace["baseline"],
    )


# -- figure 5b ---------------------------------------------------------------------------------


@dataclass
class SeriesSize:
    steps: int
    layers: int
    series_bytes: int  # arrays with one row per step (loss, metrics, per-layer and per-activation)
    other_bytes: int  # histograms (fixed number of snapshots) and metadata

    @property
    def bytes_per_step_layer(self) -> float:
        return self.series_bytes / (self.steps * self.layers)


def series_size(steps: int, depth: int) -> SeriesSize:
    """Train a small blobs MLP with ``depth`` hidden layers for ``steps`` steps and measure
    ``Run.to_arrays()``."""
    import trainspec
    from trainspec.engine.execute import execute
    from trainspec.engine.prepare import prepare

    recipe = trainspec.Recipe(
        model=mlp_builder(f"blobs_{depth}x16", depth, 16, inputs=(2,), classes=3),
        data=datasets.blobs(n=512, classes=3, seed=0), loss="sparse_categorical_crossentropy",
        optimizer="sgd", learning_rate=0.05, steps=steps, batch_size=32, metrics=["accuracy"],
        seed=0, name=f"series_{steps}x{depth}",
    )
    run = execute(prepare(recipe))  # not memoised, not cached
    series = other = 0
    for key, array in run.to_arrays().items():
        if array.ndim >= 1 and array.shape[0] == steps and key != "meta":
            series += array.nbytes
        else:
            other += array.nbytes
    return SeriesSize(steps=steps, layers=len(run.layers), series_bytes=series, other_bytes=other)


def series_scaling(steps: int, depth: int) -> list[SeriesSize]:
    """Sizes at (steps, depth), (2 steps, depth) and (steps, 2 depth)."""
    return [series_size(steps, depth), series_size(2 * steps, depth), series_size(steps, 2 * depth)]


# -- figure 6: trainspec.train against a bare compiled loop ------------------------------------


def bare_train(workload: Workload, steps: int, seed: int = 0) -> tuple[float, float, np.ndarray]:
    """The same training written plainly, the floor the engine is measured against: seed and op
    determinism, build the model and SGD, then every step in one call of one ``tf.function``
    looping with ``tf.while_loop`` and recording only the loss.  Returns (seconds in all, of
    which tracing, the losses)."""
    import keras
    import tensorflow as tf

    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = mlp_builder(workload.name, workload.depth, workload.units)()
    optimizer = keras.optimizers.SGD(learning_rate=workload.learning_rate)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.get("sparse_categorical_crossentropy")
    x_np, y_np = digits()
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x_np)) for _ in range(-(-steps * 32 // len(x_np)))])
    variables = model.trainable_variables

    def body(x: Any, y: Any, idx: Any, i: Any, losses: Any) -> tuple:
        xb, yb = tf.gather(x, idx[i]), tf.gather(y, idx[i])
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(loss_fn(yb, model(xb, training=True)))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return i + 1, losses.write(i, loss)

    @tf.function(autograph=False, jit_compile=False)
    def loop(x: Any, y: Any, idx: Any) -> Any:
        losses = tf.TensorArray(tf.float32, size=tf.shape(idx)[0])
        _, losses = tf.while_loop(lambda i, _: i < tf.shape(idx)[0],
                                  lambda i, t: body(x, y, idx, i, t), (tf.constant(0), losses))
        return losses.stack()

    x, y = tf.constant(x_np), tf.constant(y_np)
    idx = tf.constant(order[: steps * 32].reshape(steps, 32).astype(np.int32))
    traced = time.perf_counter()
    concrete = loop.get_concrete_function(x, y, idx)
    trace = time.perf_counter() - traced
    losses = concrete(x, y, idx).numpy()
    return time.perf_counter() - started, trace, losses


@dataclass
class VersusBare:
    """``trainspec.train`` (every probe) against :func:`bare_train`, seconds, best of tries."""

    workload: str
    layers: int
    steps: int
    train: float  # trainspec.train(recipe): prepare, trace, every step, assemble (no memo, cache)
    bare: float
    bare_trace: float
    train_trace: float = 0.0  # tracing the engine's loop of the same recipe (get_concrete_function)

    @property
    def ratio(self) -> float:
        return self.train / self.bare

    @property
    def trace_ratio(self) -> float:
        return self.train_trace / self.bare_trace

    @property
    def rest_ratio(self) -> float:
        """Everything but tracing: model build, the first call's graph set-up, every step."""
        return (self.train - self.train_trace) / (self.bare - self.bare_trace)


def engine_trace(recipe: Any) -> float:
    """Seconds to trace the engine's loop of ``recipe`` (what ``trainspec.train`` traces)."""
    import tensorflow as tf

    from trainspec.engine.loop import build_loop
    from trainspec.engine.prepare import prepare
    from trainspec.engine.schedule import batch_indices

    p = prepare(recipe)
    p.optimizer.build(p.model.trainable_variables)
    x, y = (tf.constant(a) for a in p.train)
    idx = tf.constant(batch_indices(len(p.train[0]), 8, recipe.batch_size, recipe.seed))
    loop = build_loop(p)
    seconds, _ = _timed(lambda: loop.get_concrete_function(x, y, idx))
    return seconds


def versus_bare(workload: Workload, steps: int, tries: int) -> VersusBare:
    """Time ``trainspec.train`` on a fresh recipe (memo and kept graphs cleared, so it traces)
    against :func:`bare_train` on the same model, data and steps, alternating, best of
    ``tries`` each; and the engine's trace of that recipe alone, to split tracing from the
    rest."""
    import tensorflow as tf

    import trainspec
    from trainspec import engine

    tf.get_logger().setLevel("ERROR")
    best = {"train": float("inf"), "bare": float("inf"), "trace": float("inf"),
            "train_trace": float("inf")}
    layers = 0
    for _ in range(tries):
        engine.clear_memo()
        engine.clear_graphs()
        seconds, run = _timed(lambda: trainspec.train(workload.recipe(steps)))
        layers = len(run.layers)
        best["train"] = min(best["train"], seconds)
        total, trace, _ = bare_train(workload, steps)
        best["bare"] = min(best["bare"], total)
        best["trace"] = min(best["trace"], trace)
        best["train_trace"] = min(best["train_trace"], engine_trace(workload.recipe(steps)))
    return VersusBare(workload.name, layers, steps, best["train"], best["bare"], best["trace"],
                      best["train_trace"])
