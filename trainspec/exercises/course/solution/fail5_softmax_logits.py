"""Fail5, solved: the last layer outputs logits, with no softmax.

``sparse_softmax_cross_entropy_with_logits`` applies its own softmax; a softmax in the model
made it apply twice, which squashes the loss and its gradient.
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
    layers.append(keras.layers.Dense(10, activation=None))  # was activation="softmax"
    return keras.Sequential(layers, name="mlp_logits_out")


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
