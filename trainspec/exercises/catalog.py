"""The shipped exercises: the course's Fail1-Fail5 models and five more phenomena.

Each is an :class:`~trainspec.exercises.Exercise` built from two files of package data,
``course/start/<name>.py`` (the broken model, which the student edits) and
``course/solution/<name>.py`` (the fix).  They train exactly what the curriculum's pairs in
``examples/`` train: ``tests/exercises/test_exercise_catalog.py`` compares every start and solution
with its pair (``Exercise.drift``), so a change to one side fails the test suite until the
other follows.  (The exercises cannot import ``examples``: that package is not installed.)
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from trainspec.exercises import checks
from trainspec.exercises.exercise import Exercise

COURSE = Path(__file__).parent / "course"

#: Exercise name -> the name of the curriculum pair in ``examples/`` it must equal.
CURRICULUM_PAIRS = {
    "fail1_learning_rate": "high_learning_rate",
    "fail2_sigmoid": "sigmoid_vanishing",
    "fail3_weight_init": "bad_init",
    "fail4_input_noise": "input_noise",
    "fail5_softmax_logits": "softmax_logits",
    "vanishing_gradients": "vanishing",
    "exploding_gradients": "exploding",
    "dying_relu": "dying_relu",
    "he_initialisation": "initialisation",
    "batchnorm": "batchnorm",
}

_DEFINITIONS: list[dict] = [
    dict(
        name="fail1_learning_rate",
        symptoms=("loss_not_decreasing", "diverging_loss", "oscillating_loss"),
        title="Fail1: a learning rate far too high",
        lesson="the course's Fail exercise, Fail1",
        cause="learning rate 1.0 on a 10-layer, 100-unit network: every step overshoots",
        fix="learning rate 0.05, 3 hidden layers of 256 units",
        change="the optimizer's learning rate, and the number and width of the hidden layers",
        specs=[checks.test_loss_halves, checks.test_no_dead_units,
               checks.test_accuracy_above_chance],
        hints=[
            "The loss does not go down at all. How large is each step the optimizer takes?",
            "A learning rate of 1.0 is far too large for SGD here: every update overshoots. "
            "Try a learning rate 10 to 100 times smaller.",
            "Ten hidden layers of 100 units is deep and narrow for these digits: the course's "
            "fix also uses fewer hidden layers (three) with more units (256) each.",
        ],
    ),
    dict(
        name="fail2_sigmoid",
        symptoms=("vanishing_gradient", "saturated_units", "loss_not_decreasing"),
        title="Fail2: sigmoid in every hidden layer",
        lesson="the course's Fail exercise, Fail2",
        cause="sigmoid in all 5 hidden layers: the first layers receive almost no gradient",
        fix="ReLU activations",
        change="the activation function of the hidden layers",
        specs=[checks.test_gradients_reach_first_layer, checks.test_loss_halves,
               checks.test_accuracy_above_chance],
        hints=[
            "The loss hardly moves. Compare the gradient that reaches the first hidden layer "
            "with the one at the last: where does it get lost?",
            "Back-propagation multiplies the gradient by the slope of each hidden layer's "
            "activation function. The sigmoid's slope is at most 0.25, and almost 0 in its "
            "flat ends.",
            "Choose an activation function whose slope does not shrink the gradient: ReLU has "
            "slope 1 for every positive input.",
        ],
    ),
    dict(
        name="fail3_weight_init",
        symptoms=("dead_units", "unchanged_weights"),
        title="Fail3: weights that start every ReLU dead",
        lesson="the course's Fail exercise, Fail3",
        cause="weights uniform in [-0.01, 0.0] on non-negative pixels: every ReLU starts dead",
        fix="weights uniform in [-0.01, +0.01]",
        change="how the hidden layers' weights are initialised",
        specs=[checks.test_no_dead_units, checks.test_gradients_reach_first_layer,
               checks.test_loss_halves, checks.test_accuracy_above_chance],
        hints=[
            "The hidden layers receive no gradient at all. What does a ReLU output, and pass "
            "back, when its input is negative?",
            "The pixels are all >= 0 and every starting weight is <= 0, so every first-layer "
            "unit starts with a negative input: every ReLU starts dead.",
            "Draw the starting weights from a range symmetric around 0, as the course does: "
            "uniform in [-0.01, +0.01].",
        ],
    ),
    dict(
        name="fail4_input_noise",
        symptoms=("accuracy_at_chance", "loss_not_decreasing"),
        title="Fail4: noise that erases the images",
        lesson="the course's Fail exercise, Fail4",
        cause="noise of std 8 on [0, 1] pixels: the images no longer show digits",
        fix="train on the images without the added noise",
        change="the training data the recipe uses (the held-out digits stay clean)",
        specs=[checks.test_generalises_to_clean_images, checks.test_loss_halves],
        hints=[
            "Accuracy on the clean held-out digits stays at chance. Look at what the model "
            "trains on: could you read a digit in those images?",
            "Noise of standard deviation 8 on pixels between 0 and 1 turns every pixel into a "
            "coin flip: no digit is left to learn from.",
            "Train on digit images generated without the extra noise (leave out noise=8.0).",
        ],
    ),
    dict(
        name="fail5_softmax_logits",
        symptoms=("probabilities_as_logits",),
        title="Fail5: softmax applied twice",
        lesson="the course's Fail exercise, Fail5",
        cause="softmax output passed to sparse_softmax_cross_entropy_with_logits",
        fix="no softmax on the last layer: output logits",
        change="the model's last layer (the training step is right as it is)",
        specs=[checks.test_loss_goes_below_the_double_softmax_floor, checks.test_loss_halves],
        hints=[
            "The loss falls a little, then stalls above 1.46. Read the warning in the "
            "documentation of tf.nn.sparse_softmax_cross_entropy_with_logits.",
            "That function applies its own softmax to what the model outputs. What does the "
            "model's last layer already do?",
            "The last layer should output logits (raw scores): remove its softmax.",
        ],
    ),
    dict(
        name="vanishing_gradients",
        symptoms=("vanishing_gradient", "saturated_units"),
        title="Vanishing gradients in a deep sigmoid network",
        lesson="the course's training notes: vanishing gradients",
        cause="10 sigmoid layers: the first layers receive almost no gradient",
        fix="ReLU activations with He initialisation",
        change="the hidden layers' activation function and weight initialiser",
        specs=[checks.test_gradients_reach_first_layer, checks.test_loss_halves,
               checks.test_accuracy_above_chance],
        hints=[
            "The loss hardly moves, and the first layers' gradients are orders of magnitude "
            "smaller than the last layer's.",
            "Back-propagation multiplies the gradient by the activation's slope at every "
            "layer: with the sigmoid (slope <= 0.25) and ten layers, almost nothing is left.",
            "Use ReLU activations, with the He initialiser (he_normal) made for them.",
        ],
    ),
    dict(
        name="exploding_gradients",
        symptoms=("exploding_gradient", "non_finite", "diverging_loss"),
        title="Exploding gradients, and gradient clipping",
        lesson="the course's training notes: exploding gradients, gradient clipping",
        cause="targets in the hundreds and plain SGD: the gradients grow until they overflow",
        fix="gradient clipping: clipnorm=1.0",
        change="how the optimizer applies its updates (its options, not the learning rate)",
        specs=[checks.test_stays_finite, checks.test_updates_stay_smaller_than_weights,
               checks.test_loss_halves],
        hints=[
            "The loss overflows to Inf/NaN within a few steps. Compare the size of each "
            "update with the weights it changes.",
            "The targets are in the hundreds, so the first gradients are huge, and SGD moves "
            "the weights in proportion to the gradient.",
            "Cap the gradient before each update: Keras optimizers take a clipnorm (or "
            "clipvalue) option, e.g. {\"name\": \"sgd\", \"clipnorm\": ...}.",
        ],
    ),
    dict(
        name="dying_relu",
        symptoms=("dead_units",),
        title="Dying ReLUs, and leaky alternatives",
        lesson="the course's notebook on problems of neural networks: dying ReLUs",
        cause="Adam at 0.02 on ReLU layers: units pushed to negative inputs never come back",
        fix="LeakyReLU (or PReLU, ELU) in the hidden layers",
        change="the non-linearity of the hidden layers (keep the optimizer as it is)",
        points=2,
        specs=[checks.test_no_dead_units],
        hints=[
            "Most units of a hidden layer output 0 for every image: they are dead. Why can a "
            "dead ReLU unit never recover?",
            "A ReLU's gradient is exactly 0 for negative inputs, so once a unit's input is "
            "negative for every image, no gradient ever pulls it back.",
            "Use a ReLU variant with a small slope for negative inputs (LeakyReLU, PReLU or "
            "ELU) as a layer after each hidden Dense layer, whose activation you remove.",
        ],
    ),
    dict(
        name="he_initialisation",
        symptoms=("vanishing_gradient", "loss_not_decreasing"),
        title="He initialisation for a deep ReLU network",
        lesson="the course's training notes: Glorot/He/LeCun initialisation",
        cause="glorot_normal under ReLU in 12 layers: the signal shrinks through depth",
        fix="he_normal for the ReLU layers",
        change="the hidden layers' weight initialiser (keep the ReLU activations)",
        specs=[checks.test_signal_survives_depth, checks.test_accuracy_above_chance],
        hints=[
            "Before training, the last hidden layer's activations are a tiny fraction of the "
            "first's. What happens to the signal's scale at each layer?",
            "ReLU zeroes half of its inputs, and Glorot initialisation assumes activations "
            "symmetric around 0: each layer halves the signal's variance.",
            "Use the initialiser made for ReLU: He (he_normal), with variance 2 / fan_in.",
        ],
    ),
    dict(
        name="batchnorm",
        symptoms=("unscaled_inputs", "exploding_gradient", "diverging_loss"),
        title="Batch normalisation for raw pixel values",
        lesson="the course's notebook and MLflow notebook: batch normalisation",
        cause="raw [0, 255] pixels into ELU layers: the loss explodes",
        fix="BatchNormalization after Flatten and after every hidden layer",
        change="the network's layers (the data stays raw)",
        specs=[checks.test_loss_halves, checks.test_gradients_reach_first_layer,
               checks.test_accuracy_above_chance],
        hints=[
            "The loss blows up in the first steps. Look at the scale of the inputs the first "
            "layer receives.",
            "Pixel values up to 255 make the first layer's outputs hundreds of times larger "
            "than the network expects, and every layer passes that on.",
            "Add BatchNormalization layers: one right after Flatten and one after every hidden "
            "layer, so each layer's inputs are rescaled to mean 0 / std 1.",
        ],
    ),
]


@cache
def catalog() -> tuple[Exercise, ...]:
    """The shipped exercises, in course order.

    Example:
        >>> from trainspec.exercises import catalog
        >>> catalog()[1].name
        'fail2_sigmoid'
    """
    out = []
    for definition in _DEFINITIONS:
        fields = dict(definition)
        name = fields.pop("name")
        out.append(Exercise.from_files(COURSE / "start" / f"{name}.py",
                                       COURSE / "solution" / f"{name}.py", name=name, **fields))
    return tuple(out)


def get(name: str) -> Exercise:
    """The shipped exercise called ``name``."""
    for exercise in catalog():
        if exercise.name == name:
            return exercise
    names = ", ".join(e.name for e in catalog())
    raise KeyError(f"no exercise {name!r}; shipped exercises: {names}")
