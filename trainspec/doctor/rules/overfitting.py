"""``overfitting`` and ``generalisation_gap``: the model does worse on unseen data than on its
training set (worse than the best one seen; far worse than on the training examples)."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context, accuracy_of, chance_accuracy, val_accuracy
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding, past


class Overfitting(Rule):
    """
    ## What it does
    Reports a validation loss that ends ``overfit_rise`` above its best value while the training
    loss fell (at least three validation points).

    ## Why is this bad
    The model memorises the training set; the one you keep is worse than the best one seen.

    ## Evidence
    The best and final validation loss, the step of the best, the final training loss.

    ## Threshold
    ``overfit_rise`` = 0.1: Prechelt, "Early Stopping - But When?" (1998), generalisation loss
    GL = val/best_val - 1; his criteria stop at 0.01-0.05, 0.1 is still conservative.  It was
    0.2 until issue 12, which missed the curriculum's unregularised net (``regularisation``
    pairs: GL 0.148, its regularised fixes at most 0.074).

    ## Fix
    Early stopping with ``restore_best_weights=True``, regularisation, more data, a smaller model.
    """

    name = "overfitting"
    symptom = Symptom.OVERFITTING
    thresholds = ("overfit_rise",)

    def check(self, ctx: Context) -> list[Finding]:
        run, curve, t = ctx.run, ctx.curve, ctx.thresholds
        history = run.val_history.get("val_loss")
        if curve is None or history is None or len(history) < 3:
            return []
        values = np.asarray(history, dtype=np.float64)
        best = float(np.nanmin(values))
        final = float(run.val.get("val_loss", values[-1]))
        if not (best > 0 and final > best * (1 + t.overfit_rise) and curve.end < curve.start):
            return []
        at = int(np.asarray(history.steps)[int(np.nanargmin(values))])
        return [finding(
            Symptom.OVERFITTING,
            f"The validation loss was {best:.3g} at step {at} and ends at {final:.3g} "
            f"({final / best - 1:+.0%}) while the training loss kept falling to "
            f"{curve.end:.3g}: the model memorises the training set and the one you keep is "
            "worse than the best one seen.",
            ["stop early: keras.callbacks.EarlyStopping(patience=..., "
             "restore_best_weights=True)", "add regularisation (dropout, L2) or more data",
             "use a smaller model"],
            step=at, evidence={"val_loss_best": best, "val_loss_final": final,
                               "train_loss_end": curve.end, "threshold": t.overfit_rise},
        )]


class GeneralisationGap(Rule):
    """
    ## What it does
    Compares the training accuracy at the end of the run (median of the last window) with the
    final validation accuracy, both measured from chance: reports when at least
    ``generalisation_gap`` of what the model learned on the training set (training accuracy
    minus chance) does not carry over to the validation set.

    ## Why is this bad
    The model memorises its training examples instead of learning what generalises: the
    training accuracy says it is nearly perfect while unseen data get far fewer right.  A model
    trained from scratch on a few dozen examples does this from the first epochs, so its
    validation loss never rises far above its best (``overfitting`` sees nothing): the gap
    itself is the symptom.

    ## Evidence
    The training and validation accuracy, the chance level and the share of the learned
    accuracy lost on validation.

    ## Threshold
    ``generalisation_gap`` = 0.25: Goodfellow, Bengio and Courville, *Deep Learning* (2016),
    sections 5.2 and 7 ("overfitting occurs when the gap between the training error and test
    error is too large"); Keras/TensorFlow's "Overfit and underfit" tutorial judges a model by
    the same gap between its training and validation curves.  Neither gives a number; the gap is
    measured from chance so that two and ten classes compare, and a quarter of the learned
    accuracy lost is far from every healthy run of the curriculum (measured: at most 0.07 on
    the regularised, early-stopped and transferred models and the sweeps with validation data)
    while a 784-128-64 network trained on 50 images loses 0.58 (1.0 training, 0.71 validation
    accuracy on two classes).

    ## Fix
    More data or a network trained on a related task (transfer learning), data augmentation,
    regularisation (dropout, L2), a smaller model.
    """

    name = "generalisation_gap"
    symptom = Symptom.GENERALISATION_GAP
    thresholds = ("generalisation_gap",)

    def check(self, ctx: Context) -> list[Finding]:
        run, curve, t = ctx.run, ctx.curve, ctx.thresholds
        val = val_accuracy(run)
        acc = accuracy_of(run)
        chance = chance_accuracy(run, ctx.recipe)
        if val is None or acc is None or chance is None or curve is None:
            return []
        train = float(np.median(acc[1][-curve.window:]))
        learned = train - chance
        if learned <= 0:
            return []
        lost = (train - val) / learned
        if lost < t.generalisation_gap:
            return []
        return [finding(
            Symptom.GENERALISATION_GAP,
            f"The training accuracy ends at {train:.3g} but the validation accuracy at "
            f"{val:.3g} (chance {chance:.2g}): {lost:.0%} of what the model learned on its "
            "training examples does not carry over to unseen ones. It memorises the training "
            "set instead of learning what generalises.",
            ["more training data, or reuse a network trained on a related task (transfer "
             "learning)", "augment the data", "add regularisation (dropout, L2) or use a "
             "smaller model"],
            evidence={"train_accuracy": train, "val_accuracy": val, "chance": chance,
                      "lost_share": lost, "threshold": t.generalisation_gap},
            strength=past(lost, t.generalisation_gap),
        )]
