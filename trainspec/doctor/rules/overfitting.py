"""``overfitting``: the model left at the end is worse on validation than the best one seen."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


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
