"""``doctor_spec``: a ready-made spec that fails with the diagnosis when the doctor finds
anything (it must catch a pair's broken side and pass its fixed side)."""

from __future__ import annotations

from typing import Any

from trainspec.doctor.registry import diagnose


def doctor_spec(*targets: Any, **overrides: Any) -> Any:
    """A spec applying every doctor check to recipes or pairs: it fails with the diagnosis when
    there is any finding (so it must catch a pair's broken side and pass its fixed side).

    Example:
        >>> test_doctor = trainspec.doctor_spec(pairs.high_learning_rate)   # doctest: +SKIP
    """
    from trainspec.pairs import applies_to

    def test_doctor(run: Any, request: Any) -> None:
        from trainspec.plugin.keys import TARGET_KEY

        target = request.node.stash.get(TARGET_KEY, None)
        recipe = target.recipe() if target is not None else None
        diagnosis = diagnose(run, recipe, **overrides)
        if diagnosis.findings:
            raise AssertionError(f"the doctor found problems in run {run.label!r}:\n{diagnosis}")

    return applies_to(*targets)(test_doctor)
