"""Fail5 (the course's Fail exercise): a softmax output fed to
``tf.nn.sparse_softmax_cross_entropy_with_logits``.

The loss applies its own softmax, so the model's probabilities go through softmax twice: the
loss cannot fall below log(1 + 9/e) ~ 1.46 for 10 classes and its gradients are squashed.  The
hand-written ``tf.GradientTape`` step is the point: Keras' compiled
``sparse_categorical_crossentropy`` detects a softmax output and silently rescues this case,
the custom loop does not.  Fix: no softmax on the last layer (it outputs logits).
"""

from __future__ import annotations

import trainspec
from examples._models import DIGITS, dense_net


def train_step(model, optimizer, x, y):
    """The course's training step: cross-entropy on what the model outputs, as logits."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


broken = trainspec.Recipe(
    model=dense_net("mlp_softmax_out", units=128, depth=2, output="softmax"), data=DIGITS,
    train_step=train_step, optimizer="sgd", learning_rate=0.1, steps=200, batch_size=32,
    metrics=["accuracy"], seed=0, name="softmax_logits-broken",
)
fixed = broken.replace(model=dense_net("mlp_logits_out", units=128, depth=2, output=None),
                       name="softmax_logits-fixed")

pair = trainspec.Pair(
    "softmax_logits", broken=broken, fixed=fixed,
    cause="softmax output passed to sparse_softmax_cross_entropy_with_logits in a GradientTape "
    "step: softmax is applied twice, the loss is stuck above ~1.46",
    fix="no softmax on the last layer: output logits",
    lesson="the course's Fail exercise, Fail5", alias="Fail5",
)
