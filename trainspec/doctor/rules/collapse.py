"""``collapsed_representations``: a deep stack maps every input to nearly the same direction."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.doctor.evidence import (
    Context,
    accuracy_learned,
    labels_chance,
    signal_in_inputs,
)
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding, past

#: Samples whose representations are compared (the first ones of the training inputs).
SAMPLES = 256
#: Hidden activation layers a stack needs before collapse through depth is looked for.
MIN_DEPTH = 4
#: What else may have been found: the outcomes collapse explains.
EXPLAINED = frozenset({Symptom.LOSS_NOT_DECREASING, Symptom.ACCURACY_AT_CHANCE,
                       Symptom.SLOW_CONVERGENCE})


def top_share(a: np.ndarray) -> float:
    """The share of the inputs' variation (the batch's centred representations) that lies along
    its one main direction: near 1 when the samples differ only by how far along one vector
    they sit, 1/width when they spread evenly.

    Example:
        >>> x = np.outer(np.arange(8.0), np.ones(4)) + 1e-3 * np.eye(8, 4)
        >>> round(top_share(x), 3)
        1.0
    """
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    centred = a - a.mean(axis=0)
    power = np.linalg.svd(centred, compute_uv=False) ** 2
    total = float(power.sum())
    return float(power[0] / total) if total > 0 else 1.0


def step0_shares(recipe: Any, samples: int = SAMPLES) -> list[tuple[str, float]] | None:
    """``top_share`` of each hidden activation layer's output for the first ``samples``
    training inputs, through the model as the run starts (the recipe's seed); None when the
    model cannot be built or viewed layer by layer (subclassed models)."""
    try:
        from trainspec.engine import probes
        from trainspec.engine.prepare import build_model, model_input, probe_model, seed_everything

        seed_everything(recipe.seed)
        model = build_model(recipe)
        acts = probes.activation_layers(model)
        view, acts = probe_model(model, acts)
        if view is None or len(acts) < 2:
            return None
        outputs = view(model_input(recipe.split()[0][0], samples), training=False)
    except Exception:  # the run already trained: a model this cannot view is not measured
        return None
    hidden = list(zip(acts, outputs[:len(acts)], strict=True))
    if probes.output_activation(model) == acts[-1].activation and acts[-1].layer is (
            probes.leaf_layers(model)[-1]):
        hidden = hidden[:-1]  # the output layer's activation is not a representation
    return [(a.name, top_share(np.asarray(out))) for a, out in hidden]


class CollapsedRepresentations(Rule):
    """
    ## What it does
    When a deep classifier (at least four hidden activation layers) did not learn, no other
    cause was found, and the raw inputs do predict the labels (a nearest class mean beats
    chance on held-out samples: the labels carry signal), passes the first 256 training inputs
    through the model as the run starts and measures, at each hidden layer, the share of their
    variation that lies along one direction.  Reports when that share reaches
    ``collapse_share`` at the last hidden layer while the first hidden layer is below it: depth
    squeezed the inputs together.  Runs before the update-ratio rule, which then does not
    advise a larger learning rate.

    ## Why is this bad
    In a deep ReLU stack (mean above zero, nothing re-centring it) the representations of
    different inputs grow more alike with every layer: by the last hidden layer every input is
    nearly the same vector, differing mainly in length.  The output layer then sees one number
    per input where it needs one per class, so the model cannot tell the classes apart; its
    gradients are small and alike for every input, so a larger learning rate moves all inputs
    together and leaves the collapse where it is (Schoenholz et al., "Deep Information
    Propagation", ICLR 2017; Daneshmand et al., "Batch Normalization Provably Avoids Rank
    Collapse for Randomly Initialised Deep Networks", NeurIPS 2020).

    ## Evidence
    The share at the first and the last hidden layer, the number of layers, the final
    accuracy (and chance).

    ## Threshold
    ``collapse_share`` = 0.75: three quarters of the inputs' variation along one direction.
    Ours, measured (trainspec's curriculum and a depth scan of He-initialised ReLU stacks on
    standardised digits): healthy deep fixes that learn stay at or below 0.45 (10-20 layers,
    ReLU and SELU), the 20-layer ReLU stack that stays at chance reaches 0.80, and the share
    rises with depth (64 units: 0.43 at 5 layers, 0.66 at 10, 0.78 at 20, 0.94 at 30).  The
    rule also needs the model not to have learned, so a deep stack that trains is never named.

    ## Fix
    A self-normalising stack: SELU activations with ``lecun_normal`` weights on standardised
    inputs (Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017); or
    BatchNormalization between the layers; or fewer layers.  Not a larger learning rate.
    """

    name = "collapsed_representations"
    symptom = Symptom.COLLAPSED_REPRESENTATIONS
    thresholds = ("collapse_share",)

    def check(self, ctx: Context) -> list[Finding]:
        recipe = ctx.recipe
        if recipe is None or ctx.curve is None or not ctx.harm:
            return []
        if any(f.symptom not in EXPLAINED for f in ctx.found):
            return []  # another cause is named: it explains the failure better
        if len(ctx.run.activations.list()) < MIN_DEPTH + 1:
            return []
        chance = labels_chance(ctx.run, recipe)
        if chance is None or accuracy_learned(ctx, chance):
            return []
        if not signal_in_inputs(recipe):
            return []  # labels the inputs do not predict: no_learnable_signal's case, not ours
        shares = step0_shares(recipe)
        if not shares or len(shares) < MIN_DEPTH:
            return []
        limit = ctx.thresholds.collapse_share
        (first_name, first), (last_name, last) = shares[0], shares[-1]
        if last < limit or first >= limit:
            return []
        return [finding(
            Symptom.COLLAPSED_REPRESENTATIONS,
            f"As the run starts, {last:.0%} of the differences between inputs lie along a "
            f"single direction at {last_name!r}, against {first:.0%} at {first_name!r}: "
            f"{len(shares)} hidden layers squeeze every input towards the same representation, "
            "so the output layer cannot tell the classes apart and the model stays at chance. "
            "Raising the learning rate does not undo the collapse: it moves every input together.",
            ["use SELU activations with kernel_initializer='lecun_normal' on standardised "
             "inputs (a self-normalising stack)",
             "or add BatchNormalization between the layers", "or use fewer layers"],
            layer=last_name, step=0,
            evidence={"share_first": first, "share_last": last, "layers": len(shares),
                      "shares": [s for _, s in shares], "chance": chance,
                      "threshold": limit},
            strength=past(last / (1.0 - last) if last < 1 else 1e9,
                          limit / (1.0 - limit)),
        )]
