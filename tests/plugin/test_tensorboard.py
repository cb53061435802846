"""--trainspec-tensorboard: runs written as event files, read back with TensorBoard's reader."""

from __future__ import annotations

import shutil

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

SPEC = """
import numpy as np
import trainspec
from trainspec import datasets

DATA = datasets.blobs(n=256, classes=3, seed=0)

def mlp(activation):
    def build():
        import keras
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation=activation),
                                 keras.layers.Dense(3, activation="softmax")])
    build.__qualname__ = f"mlp_{activation}"
    return build

fixed = trainspec.Recipe(model=mlp("relu"), data=DATA, loss="sparse_categorical_crossentropy",
                         optimizer="sgd", learning_rate=0.1, steps=40, batch_size=32,
                         metrics=["accuracy"], seed=0)
broken = fixed.replace(learning_rate=1e-6)
pair = trainspec.Pair("tiny_lr", broken=broken, fixed=fixed)

@trainspec.applies_to(pair)
def test_loss_falls(run):
    assert run.loss.relative_decrease() >= 0.2

@trainspec.applies_to(pair)
def test_finite(run):
    trainspec.expect(run).to_be_finite()
    if run.loss.relative_decrease() < 0.2:
        raise AssertionError("slow")
"""


def _load(path):
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_every_run_is_written_once_with_scalars_and_histograms(pytester, tmp_path):
    pytester.makepyfile(test_tb=SPEC)
    logdir = tmp_path / "tb"
    result = pytester.runpytest("--trainspec-tensorboard", str(logdir), "--trainspec-report=off")
    result.assert_outcomes(passed=2, xfailed=2)
    assert sorted(p.relative_to(logdir).as_posix() for p in logdir.glob("*/*")) == [
        "tiny_lr/broken", "tiny_lr/fixed"]
    for variant in ("broken", "fixed"):
        files = list((logdir / "tiny_lr" / variant).glob("events.out.tfevents.*"))
        assert len(files) == 1  # two specs used the run: written once
    acc = _load(logdir / "tiny_lr" / "fixed")
    tags = acc.Tags()["scalars"]
    assert {"loss", "metrics/accuracy", "layers/dense/grad_norm", "layers/dense/weight_norm",
            "layers/dense/update_ratio", "activations/dense/dead",
            "activations/dense/saturated"} <= set(tags)
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == list(range(40))
    assert loss[-1].value < loss[0].value
    hist_tags = acc.Tags()["tensors"]
    assert {"weights/dense", "gradients/dense", "weights/dense_1"} <= set(hist_tags)
    events = acc.Tensors("weights/dense")
    assert [e.step for e in events] == [0, 10, 20, 29, 39]
    table = np.frombuffer(events[0].tensor_proto.tensor_content, dtype=np.float64).reshape(-1, 3)
    assert table.shape[1] == 3 and (table[:, 1] >= table[:, 0]).all()
    assert table[:, 2].sum() == 2 * 8 + 8  # every weight of the first layer counted once
    # the broken run's loss barely moves: TensorBoard shows the two side by side
    broken = _load(logdir / "tiny_lr" / "broken").Scalars("loss")
    assert abs(broken[-1].value - broken[0].value) < abs(loss[-1].value - loss[0].value)


def test_ini_option_and_no_directory_without_it(pytester):
    pytester.makepyfile(test_tb=SPEC)
    pytester.makeini("[pytest]\ntrainspec_tensorboard = tbini\n")
    result = pytester.runpytest("--trainspec-report=off", "-k", "test_finite")
    result.assert_outcomes(passed=1, xfailed=1)
    assert (pytester.path / "tbini" / "tiny_lr" / "fixed").is_dir()
    shutil.rmtree(pytester.path / "tbini")
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest("--trainspec-report=off", "-k", "test_finite")
    result.assert_outcomes(passed=1, xfailed=1)
    assert not (pytester.path / "tbini").exists()
