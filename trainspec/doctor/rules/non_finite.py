"""``non_finite``: a NaN or Inf in the loss, a gradient or a weight."""

from __future__ import annotations

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


class NonFinite(Rule):
    """
    ## What it does
    Reports the first step at which the loss, a gradient or a weight became NaN or Inf.

    ## Why is this bad
    Once a NaN or Inf appears every later update is NaN too: the run is over.

    ## Evidence
    The step and the tensor the engine saw first (``run.nonfinite``).

    ## Threshold
    None: any non-finite value (AUTOTRAINER's "NaN loss/gradient" check).

    ## Fix
    A smaller learning rate, gradient clipping, inputs scaled to about [-1, 1].
    """

    name = "non_finite"
    symptom = Symptom.NON_FINITE
    harm = True

    def check(self, ctx: Context) -> list[Finding]:
        nf = ctx.run.nonfinite
        if nf is None:
            return []
        return [finding(
            Symptom.NON_FINITE,
            f"{nf}. Once a NaN or Inf appears every later update is NaN too; it is almost always "
            "an update too large for the curvature (learning rate, no clipping), a loss that "
            "takes log(0), or inputs with huge values.",
            ["lower the learning rate 10x", "clip gradients: optimizer={'name': ..., "
             "'clipnorm': 1.0}", "scale the inputs to about [-1, 1]"],
            step=nf.step, evidence={"step": nf.step, "tensor": nf.tensor}, strength=0.9,
        )]
