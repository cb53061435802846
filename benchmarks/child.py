"""One measured training in a fresh process (figure 2): ``python -m benchmarks.child MODE STEPS``.

``MODE`` is ``fit`` (``model.compile`` + ``model.fit``, verbose=0), ``train``
(``trainspec.train(recipe)``) or ``import`` (imports only: the floor).  Both trainings use the
same model builder, data, steps, batch size, optimizer, seed and op determinism.  The last line
of stdout is JSON: ``import`` (seconds to import TensorFlow, Keras and the library) and ``work``
(seconds from there to a trained model: data, model build, tracing, every step).
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str]) -> dict[str, float | int | bool | None]:
    mode, steps = argv[0], int(argv[1])
    started = time.perf_counter()
    import keras
    import tensorflow as tf

    if mode == "train":
        import trainspec
        import trainspec.engine  # noqa: F401  (what trainspec.train imports on first use)
    from benchmarks import workloads

    imported = time.perf_counter()
    result: dict[str, float | int | bool | None] = {"import": imported - started}
    if mode == "import":
        result["work"] = 0.0
        return result
    workload = workloads.MLP
    if mode == "train":
        run = trainspec.train(workload.recipe(steps))
        result["loss_last"] = float(run.loss.last)
        result["steps"] = run.steps_recorded
        result["from_cache"] = run.from_cache
    elif mode == "fit":
        keras.utils.set_random_seed(0)
        tf.config.experimental.enable_op_determinism()  # as trainspec does
        x, y = workloads.digits()
        per_epoch = len(x) // 32
        if steps % per_epoch:
            raise SystemExit(f"steps must be a multiple of {per_epoch} (one epoch of batches of 32)")
        model = workloads.mlp_builder(workload.name, workload.depth, workload.units)()
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=workload.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=32, epochs=steps // per_epoch, shuffle=True, verbose=0)
        result["loss_last"] = float(history.history["loss"][-1])
        result["steps"] = steps
    else:
        raise SystemExit(f"unknown mode {mode!r}: fit, train or import")
    result["work"] = time.perf_counter() - imported
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
