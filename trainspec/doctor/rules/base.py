"""The shape every doctor rule has, after ruff's lint rules: a small class whose docstring says
*What it does*, *Why is this bad*, *Evidence*, *Threshold* (with the published source) and
*Fix*, and whose :meth:`Rule.check` returns the findings.

Example:
    >>> from trainspec.doctor.rules import RULES
    >>> sorted(RULES[0].doc())
    ['evidence', 'fix', 'threshold', 'what it does', 'why is this bad']
"""

from __future__ import annotations

import inspect
import re
from typing import ClassVar

from trainspec.doctor.evidence import Context
from trainspec.doctor.symptoms import Finding, Symptom

SECTIONS = ("what it does", "why is this bad", "evidence", "threshold", "fix")
_HEADING = re.compile(r"^## (.+)$", re.MULTILINE)


class Documented:
    """Anything documented in the rule shape: ``doc()`` parses the docstring's sections."""

    @classmethod
    def doc(cls) -> dict[str, str]:
        """The docstring's ``## Section`` paragraphs by lower-case heading."""
        text = inspect.getdoc(cls) or ""
        parts = _HEADING.split(text)
        return {parts[i].strip().lower(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


class Rule(Documented):
    """A check of a finished run for one symptom.

    Class attributes: ``name`` (unique, snake case), ``symptom`` (what it reports),
    ``thresholds`` (the :class:`~trainspec.doctor.Thresholds` fields it compares against),
    ``harm`` (its findings show the loss or accuracy hurt: mechanism rules that wait for harm,
    such as the update ratio, read it from the rules before them).
    """

    name: ClassVar[str]
    symptom: ClassVar[Symptom]
    thresholds: ClassVar[tuple[str, ...]] = ()
    harm: ClassVar[bool] = False

    def check(self, ctx: Context) -> list[Finding]:  # pragma: no cover - abstract
        """The findings of this rule on ``ctx`` (empty when the run does not show it)."""
        raise NotImplementedError
