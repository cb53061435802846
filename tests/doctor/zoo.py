"""Broken/fixed pairs beyond the curriculum, for the doctor's benchmark and tests.

Each :class:`ZooPair` is a fault from a published taxonomy or a real bug, reproduced on a tiny
seeded task (hundreds of samples, a 2-layer MLP, 150 steps or fewer), with the cause family the
doctor's primary finding should name (``Symptom.family``).  Sources:

- DeepCrime: Humbatova, Jahangirova and Tonella, "DeepCrime: Mutation Testing of Deep Learning
  Systems Based on Real Faults", ISSTA 2021 (its operators are ``trainspec.mutants``);
- Taxonomy: Humbatova et al., "Taxonomy of Real Faults in Deep Learning Systems", ICSE 2020;
- TFBugs: Zhang et al., "An Empirical Study on TensorFlow Program Bugs", ISSTA 2018;
- AUTOTRAINER: Zhang et al., ICSE 2021 (its problem classes);
- Yang et al., "Breaking the Softmax Bottleneck", ICLR 2018;
- Daneshmand et al., "Batch Normalization Provably Avoids Rank Collapse for Randomly
  Initialised Deep Networks", NeurIPS 2020 (deep unnormalised ReLU stacks), with Klambauer et
  al., "Self-Normalizing Neural Networks", NeurIPS 2017, for the fix.

Example:
    >>> from tests.doctor.zoo import ZOO
    >>> sorted({p.family for p in ZOO})[:3]
    ['architecture', 'data', 'exploding_gradient']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import trainspec
from trainspec import datasets, mutants

BLOBS = datasets.blobs(n=512, classes=4, features=8, spread=1.5, seed=1)
BLOBS_VAL = datasets.blobs(n=256, classes=4, features=8, spread=1.5, seed=1)  # same centres


def mlp(name: str, activation: str = "relu", width: int = 32, depth: int = 2, out: int = 4,
        out_activation: str = "softmax", inputs: int = 8, initializer: str = "glorot_uniform",
        frozen: int | None = None, narrow: int | None = None,
        first_initializer: str | None = None) -> Callable[[], object]:
    """A builder of a small MLP; ``frozen`` freezes that hidden layer, ``narrow`` sets the last
    hidden layer's width, ``first_initializer`` the first layer's kernel initialiser."""

    def build():
        import keras

        layers = [keras.Input((inputs,))]
        for i in range(depth):
            units = narrow if (narrow and i == depth - 1) else width
            init = first_initializer if (first_initializer and i == 0) else initializer
            layer = keras.layers.Dense(units, activation=activation, kernel_initializer=init)
            layer.trainable = frozen != i
            layers.append(layer)
        layers.append(keras.layers.Dense(out, activation=out_activation))
        return keras.Sequential(layers)

    build.__qualname__ = f"zoo_{name}"
    return build


BASE = trainspec.Recipe(model=mlp("base"), data=BLOBS, loss="sparse_categorical_crossentropy",
                        optimizer="sgd", learning_rate=0.05, steps=120, batch_size=32,
                        metrics=["accuracy"], seed=0, name="zoo-base")


def handmade_ce(y_true, y_pred):
    """A hand-written categorical cross-entropy on softmax outputs, clipped as it should be."""
    import tensorflow as tf

    y = tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), tf.shape(y_pred)[-1])
    return -tf.reduce_sum(y * tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1.0)), axis=-1)


def handmade_ce_unclipped(y_true, y_pred):
    """The same without the clip: log(0) = -inf once a probability underflows (TFBugs, "NaN
    from log(0) in cross-entropy", the most common numerical bug in their study)."""
    import tensorflow as tf

    y = tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), tf.shape(y_pred)[-1])
    return -tf.reduce_sum(y * tf.math.log(y_pred), axis=-1)


def _multi_hot(y: np.ndarray, classes: int = 4) -> np.ndarray:
    """Multi-label targets: the class and the next one."""
    out = np.zeros((len(y), classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1
    out[np.arange(len(y)), (y + 1) % classes] = 1
    return out


def mutant(operator: str, recipe: trainspec.Recipe = BASE) -> trainspec.Recipe:
    made = mutants.apply(operator, recipe)
    assert made.recipe is not None, made.skipped
    return made.recipe


@dataclass(frozen=True)
class ZooPair:
    """A fault: its ``name``, the ``family`` the doctor should name, the ``source``, and builders
    of the ``broken`` and ``fixed`` recipes (built lazily: model surgery needs Keras)."""

    name: str
    family: str
    source: str
    broken: Callable[[], trainspec.Recipe]
    fixed: Callable[[], trainspec.Recipe]
    #: outcome symptoms the fixed side shows by design (a linear model cannot fit spirals)
    fixed_may_show: tuple[str, ...] = ()


_MULTI = (BLOBS[0], _multi_hot(BLOBS[1]))
_COLUMN = (BLOBS[0], BLOBS[1].reshape(-1, 1))  # class ids in a column, as a table gives them
XOR = BASE.replace(model=mlp("xor", inputs=2, out=2), data=datasets.xor(n=512, seed=0), steps=150,
                   learning_rate=0.2, name="zoo-xor")
_WIDE_OUT = dict(loss="sparse_categorical_crossentropy")
#: Ten classes in 16 dimensions: a task where one feature per input is not enough.
BLOBS_10 = datasets.blobs(n=1024, classes=10, features=16, spread=1.5, seed=2)
_DEEP = dict(depth=16, width=16, inputs=16, out=10)
_REGRESSION = (BLOBS[0], (BLOBS[0] @ np.linspace(-40, 40, 8) + 300).astype(np.float32))

ZOO: list[ZooPair] = [
    ZooPair("lr_x100", "learning_rate", "DeepCrime 'change learning rate' (x100)",
            lambda: BASE.replace(learning_rate=5.0, name="zoo-lr_x100"), lambda: BASE),
    ZooPair("lr_div_1e4", "learning_rate", "DeepCrime 'change learning rate' (/10^4)",
            lambda: BASE.replace(learning_rate=5e-6, name="zoo-lr_div"), lambda: BASE),
    ZooPair("deep_sigmoid", "vanishing_gradient", "AUTOTRAINER 'vanishing gradient'",
            lambda: BASE.replace(model=mlp("deep_sigmoid", "sigmoid", depth=8), name="zoo-deep_sigmoid"),
            lambda: BASE.replace(model=mlp("deep_relu", "relu", depth=8, initializer="he_normal"),
                                 name="zoo-deep_relu")),
    ZooPair("init_zeros", "initialisation", "DeepCrime 'change weights initialisation' (zeros)",
            lambda: mutant("init_zeros"), lambda: BASE),
    ZooPair("relu_negative_bias", "initialisation", "AUTOTRAINER 'dying ReLU' at initialisation",
            lambda: mutant("relu_negative_bias"), lambda: BASE),
    ZooPair("no_activation", "architecture", "Taxonomy 'missing activation function'",
            lambda: mutant("no_activation", XOR), lambda: XOR),
    ZooPair("softmax_logits_loss", "output_and_loss", "Taxonomy 'wrong loss function' / "
            "the course's Fail5 (softmax fed to a from-logits loss)",
            lambda: mutant("softmax_logits_loss"), lambda: BASE),
    ZooPair("multi_label_softmax", "output_and_loss", "Taxonomy 'wrong activation of the last "
            "layer' (softmax for multi-label)",
            lambda: BASE.replace(data=_MULTI, loss="binary_crossentropy", name="zoo-multi_softmax"),
            lambda: BASE.replace(data=_MULTI, loss="binary_crossentropy",
                                 model=mlp("multi_sigmoid", out_activation="sigmoid"),
                                 name="zoo-multi_sigmoid")),
    ZooPair("label_shuffle", "data", "Taxonomy 'wrong labels' (labels shuffled apart from inputs)",
            lambda: mutant("label_shuffle"), lambda: BASE),
    ZooPair("val_unscaled", "data", "Taxonomy 'wrong preprocessing' (validation not scaled "
            "like training)",
            lambda: BASE.replace(validation_data=(BLOBS_VAL[0] * 255.0, BLOBS_VAL[1]),
                                 name="zoo-val_unscaled"),
            lambda: BASE.replace(validation_data=BLOBS_VAL, name="zoo-val_scaled")),
    ZooPair("frozen_hidden", "frozen", "Taxonomy 'layer not trainable': a layer frozen before "
            "its weights were loaded (zeros), so it passes nothing on",
            lambda: BASE.replace(model=mlp("frozen", "tanh", frozen=0, first_initializer="zeros"),
                                 name="zoo-frozen"),
            lambda: BASE.replace(model=mlp("unfrozen", "tanh", first_initializer="zeros"),
                                 name="zoo-unfrozen")),
    ZooPair("bottleneck", "architecture", "Yang et al. 2018 (softmax bottleneck): a 1-unit "
            "hidden layer before 4 classes",
            lambda: BASE.replace(model=mlp("narrow", narrow=1), name="zoo-narrow"), lambda: BASE),
    ZooPair("exploding_regression", "exploding_gradient", "AUTOTRAINER 'exploding gradient' "
            "(Taxonomy 'missing target scaling': targets in the hundreds, plain SGD)",
            lambda: BASE.replace(data=_REGRESSION, loss="mse", metrics=[], learning_rate=0.01,
                                 model=mlp("reg", out=1, out_activation="linear"), name="zoo-reg"),
            lambda: BASE.replace(data=(_REGRESSION[0], (_REGRESSION[1] - 300) / 100),
                                 loss="mse", metrics=[], learning_rate=0.01,
                                 model=mlp("reg", out=1, out_activation="linear"),
                                 name="zoo-reg-scaled")),
    ZooPair("handmade_ce_nan", "learning_rate", "TFBugs 'log(0) in a hand-written "
            "cross-entropy' (NaN once a too-high rate drives a probability to 0); the fixed side "
            "is issue 12's false alarm, a healthy run with a hand-written (clipped) cross-entropy",
            lambda: BASE.replace(loss=handmade_ce_unclipped, learning_rate=3.0, name="zoo-ce_nan"),
            lambda: BASE.replace(loss=handmade_ce, name="zoo-ce_clipped")),
    ZooPair("linear_model_hard_task", "learning_rate", "issue 12's false alarm: a linear model "
            "on a hard task (fixed side) vs the same model at learning rate 20",
            lambda: BASE.replace(model=mlp("linear", depth=0, inputs=2, out=2),
                                 data=datasets.spirals(n=512, seed=0), learning_rate=20.0,
                                 name="zoo-linear-lr20"),
            lambda: BASE.replace(model=mlp("linear", depth=0, inputs=2, out=2),
                                 data=datasets.spirals(n=512, seed=0), name="zoo-linear"),
            fixed_may_show=("loss_not_decreasing",)),
    ZooPair("mse_on_class_ids", "output_and_loss", "Taxonomy 'wrong loss function' (mean "
            "squared error between a softmax and integer class ids, as in the course's MLflow "
            "notebook on loss functions)",
            lambda: BASE.replace(data=_COLUMN, loss="mse", name="zoo-mse_ids"),
            lambda: BASE.replace(data=_COLUMN, name="zoo-ce_ids")),
    ZooPair("heavy_dropout", "regularisation", "DeepCrime 'change dropout rate' (0.95)",
            lambda: mutant("dropout_095"), lambda: BASE),
    ZooPair("deep_relu_collapse", "initialisation", "Daneshmand et al. 2020 (rank collapse): 16 "
            "He-initialised ReLU layers map ten classes of blobs to nearly one direction; the "
            "fix is a self-normalising SELU stack of the same depth (Klambauer et al. 2017)",
            lambda: BASE.replace(model=mlp("deep_relu16", initializer="he_normal", **_DEEP),
                                 data=BLOBS_10, name="zoo-deep_relu16"),
            lambda: BASE.replace(model=mlp("deep_selu16", "selu", initializer="lecun_normal",
                                           **_DEEP), data=BLOBS_10, name="zoo-deep_selu16")),
]

ZOO_BY_NAME = {pair.name: pair for pair in ZOO}

__all__ = ["BASE", "ZOO", "ZOO_BY_NAME", "ZooPair", "mlp", "wrong_way"]


def wrong_way(diagnosis: trainspec.Diagnosis, run: trainspec.Run, recipe: trainspec.Recipe) -> list[str]:
    """The fixes in ``diagnosis`` that point against what was measured in ``run`` (issue 12):
    "raise the learning rate" when a layer's updates are above the range, the loss oscillates or
    diverges, ReLU units died during training or the rate is above its usual range; "lower the
    learning rate" when every layer's updates are below the range and nothing diverged."""
    from trainspec.doctor.evidence import Context, rate_above_usual, units_died

    ctx = Context.of(run, recipe, diagnosis.thresholds)
    t = diagnosis.thresholds
    ratios = [float(np.median(np.asarray(lt.update_ratio, dtype=np.float64)[1:]))
              for lt in ctx.layers if len(lt.update_ratio) > 1]
    big = any(r > t.update_ratio_high for r in ratios)
    small = bool(ratios) and all(r < t.update_ratio_low for r in ratios)
    unstable = {"oscillating_loss", "diverging_loss", "non_finite", "exploding_gradient"} & {
        str(s) for s in diagnosis.symptoms}
    no_raise = big or bool(unstable) or units_died(ctx) or rate_above_usual(
        recipe, t.lr_usual_factor) is not None
    no_lower = small and not unstable and not big
    bad = []
    for f in diagnosis.findings:
        for fix in f.fixes:
            if no_raise and "raise the learning rate" in fix:
                bad.append(f"{f.symptom}: {fix}")
            if no_lower and "lower the learning rate" in fix:
                bad.append(f"{f.symptom}: {fix}")
    return bad
