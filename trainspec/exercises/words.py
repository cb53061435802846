"""The doctor's findings in a student's words.

The doctor's own fixes are written for an engineer who may change anything ("raise the learning
rate"); in an exercise the student may change one thing, and the lesson is that thing.  So a
student sees what the doctor *observed*, phrased here, followed by what the exercise lets them
change (``Exercise.change``), never the doctor's generic fix.
"""

from __future__ import annotations

from typing import Any

#: symptom name -> what it means, for a student.
OBSERVED = {
    "probabilities_as_logits": "the loss expects raw scores (logits), but the model's last "
    "layer already outputs probabilities, so they are squashed a second time",
    "logits_as_probabilities": "the loss expects probabilities, but the model's last layer "
    "outputs raw scores",
    "linear_model": "the hidden layers have no non-linearity, so the network can only draw "
    "straight boundaries",
    "excessive_dropout": "so many units are dropped at each step that little signal gets through",
    "unscaled_inputs": "the inputs are on a very large scale, far from the range the layers "
    "expect",
    "non_finite": "the training blew up: the loss or the weights became Inf/NaN",
    "exploding_gradient": "the gradients grow very large, so the updates throw the weights "
    "around",
    "diverging_loss": "the loss goes up instead of down",
    "bad_initial_loss": "the loss at the first step is far from what a fresh model should have",
    "vanishing_gradient": "almost no gradient reaches the first layers, so they barely learn",
    "dead_units": "many units output 0 for every input: they are dead and pass no gradient back",
    "saturated_units": "many units sit in the flat ends of their activation function, where its "
    "slope is almost 0",
    "unchanged_weights": "some weights do not change during training",
    "update_ratio_out_of_range": "each update is far too large or far too small for the weights "
    "it changes",
    "oscillating_loss": "the loss jumps up and down instead of settling",
    "loss_not_decreasing": "the loss does not go down",
    "slow_convergence": "the loss goes down, but very slowly",
    "accuracy_at_chance": "the model does no better than guessing",
    "overfitting": "the model memorises the training data: the validation loss rises while "
    "the training loss falls",
    "off_centre_activations": "the hidden layers' outputs are all on one side of zero, so the "
    "next layer's weights can only move together and learning is slow",
    "generalisation_gap": "the model gets its training examples right but far fewer unseen "
    "ones: it memorises instead of learning what generalises",
    "ill_conditioned": "the inputs differ so much in scale that plain gradient descent zig-zags "
    "down the steep side and crawls along the flat one",
    "regression_loss_on_classes": "a regression loss (squared or absolute error) is used on "
    "class labels, where it learns far more slowly than cross-entropy",
}


def primary_finding(diagnosis: Any) -> Any:
    """The finding to show first (``Diagnosis.primary`` where the doctor ranks them)."""
    findings = list(getattr(diagnosis, "findings", None) or [])
    return getattr(diagnosis, "primary", None) or (findings[0] if findings else None)


def for_student(finding: Any, change: str = "") -> dict[str, Any]:
    """A finding as ``{"symptom", "text", "where"}``: what was observed, in a student's words,
    and what the exercise lets them change.

    Example:
        >>> from types import SimpleNamespace
        >>> f = SimpleNamespace(symptom="dead_units", layer="dense_1", step=None)
        >>> for_student(f, "the hidden layers' activation")["text"]  # doctest: +ELLIPSIS
        'Many units output 0 for every input... In this exercise you can change: the hidden...'
    """
    symptom = str(getattr(finding, "symptom", "") or "")
    observed = OBSERVED.get(symptom)
    if observed is None:  # a symptom added to the doctor later: its own words, without its fix
        observed = (getattr(finding, "message", None) or getattr(finding, "explanation", "")
                    or symptom.replace("_", " "))
    text = observed[0].upper() + observed[1:]
    text = text.rstrip(".") + "."
    if change:
        text += f" In this exercise you can change: {change}."
    where = []
    if getattr(finding, "layer", None):
        where.append(f"layer {finding.layer!r}")
    if getattr(finding, "step", None) is not None:
        where.append(f"step {finding.step}")
    return {"symptom": symptom, "text": text, "where": ", ".join(where) or None}
