"""Fail5: a hand-written training step whose loss is stuck.

The model is trained with the course's own ``tf.GradientTape`` step, which computes the
cross-entropy with ``tf.nn.sparse_softmax_cross_entropy_with_logits``.  The loss falls a little
and then stays above 1.46, however long it trains.  Change the model so the loss can reach zero
(the training step is right as it is).
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(2):
        layers.append(keras.layers.Dense(128, activation="relu"))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="mlp_softmax_out")


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


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, train_step=train_step, optimizer="sgd", learning_rate=0.1,
    steps=200, batch_size=32, metrics=["accuracy"], seed=0, name="fail5_softmax_logits",
)
