"""One test per doctor rule: a synthetic run that shows its symptom, and the healthy run that
does not.  The runs are built directly (tests/doctor/conftest.py), so nothing trains here."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

import trainspec
from tests.doctor.conftest import STEPS, activation, healthy_loss, layer, make_run, series
from trainspec.doctor import Symptom, Thresholds
from trainspec.doctor.evidence import Context
from trainspec.doctor.rules import RULES
from trainspec.doctor.rules.base import SECTIONS
from trainspec.run import NonFinite, Run

N = STEPS


def _overfit() -> Run:
    at = [19, 39, 59, 79]
    return make_run(val_history={"val_loss": series("val_loss", [0.9, 0.6, 0.8, 0.95], at)},
                    val={"val_loss": 0.95})


def _floor() -> Run:
    floor = math.log(1 + 2 / math.e)
    return make_run(np.concatenate([np.linspace(math.log(3), floor * 1.01, 40),
                                    np.full(40, floor * 1.01)]), acc=0.97)


#: rule name -> a run that shows it (the healthy run, ``make_run()``, shows none of them).
SHOWING: dict[str, Callable[[], Run]] = {
    "non_finite": lambda: make_run(np.concatenate([np.linspace(1.1, 5.0, 40), [np.nan]]),
                                   nonfinite=NonFinite(40, "loss", float("nan"))),
    "diverging_loss": lambda: make_run(np.linspace(1.1, 4.0, N), acc=0.5),
    "exploding_growth": lambda: make_run(layers=[layer("dense", 0, np.geomspace(0.5, 100, N)),
                                                 layer("out", 1)]),
    "bad_initial_loss": lambda: make_run(np.concatenate([[40.0], np.linspace(1.0, 0.1, N - 1)])),
    "oscillating_loss": lambda: make_run(1.0 + 0.5 * np.sign(np.sin(np.arange(N))), acc=0.6),
    "loss_not_decreasing": lambda: make_run(np.full(N, 1.1), acc=0.6),
    "slow_convergence": lambda: make_run(np.linspace(1.1, 0.9, N), acc=0.6),
    "accuracy_at_chance": lambda: make_run(acc=0.34),
    "logits_floor": _floor,
    "overfitting": _overfit,
    "vanishing_gradient": lambda: make_run(layers=[layer("dense", 0, 1e-6), layer("out", 1, 0.5)]),
    "exploding_ratio": lambda: make_run(layers=[layer("dense", 0, 100.0), layer("out", 1, 0.5)]),
    "unchanged_weights": lambda: make_run(layers=[layer("dense", 0, update=0.0), layer("out", 1)]),
    "dead_units": lambda: make_run(activations=[activation("dense", 0, dead=0.9)]),
    "saturated_units": lambda: make_run(activations=[
        activation("dense", 0, kind="sigmoid", dead=0.0, saturated=0.8),
        activation("out", 1, kind="softmax", dead=0.0)]),
    "update_ratio": lambda: make_run(layers=[layer("dense", 0, update=1e-7), layer("out", 1)]),
}


def _check(rule, run):
    return rule.check(Context.of(run, None, Thresholds()))


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_on_a_showing_and_a_healthy_run(rule):
    showing = SHOWING[rule.name]()
    found = _check(rule, showing)
    assert found and all(f.symptom is rule.symptom for f in found)
    assert rule.symptom in trainspec.diagnose(showing)
    for f in found:
        assert f.explanation and f.fixes and f.to_json()["symptom"] == str(rule.symptom)
    assert _check(rule, make_run()) == []


def test_the_healthy_synthetic_run_has_no_findings():
    assert trainspec.diagnose(make_run()).healthy


def test_every_rule_is_documented_in_the_rule_shape():
    names = [r.name for r in RULES]
    assert len(set(names)) == len(names) and set(names) == set(SHOWING)
    fields = set(Thresholds.model_fields)
    for rule in RULES:
        assert tuple(rule.doc()) == SECTIONS, rule.name
        assert set(rule.thresholds) <= fields, rule.name
        for name in rule.thresholds:  # the threshold section names what it compares against
            assert name in rule.doc()["threshold"], (rule.name, name)


def test_update_ratio_waits_for_harm_unless_far_out_of_range():
    modest = [layer("dense", 0, update=5e-5), layer("out", 1)]
    assert Symptom.UPDATE_RATIO_OUT_OF_RANGE not in trainspec.diagnose(make_run(layers=modest))
    flat = make_run(np.full(N, 1.1), acc=0.6, layers=modest)
    assert Symptom.UPDATE_RATIO_OUT_OF_RANGE in trainspec.diagnose(flat)
    big = make_run(layers=[layer("dense", 0, update=20.0), layer("out", 1)])
    finding = next(f for f in trainspec.diagnose(big).findings
                   if f.symptom is Symptom.UPDATE_RATIO_OUT_OF_RANGE)
    assert finding.fixes[0] == "lower the learning rate"


def test_exploding_growth_reports_a_non_finite_gradient():
    run = make_run(np.concatenate([np.full(10, 1.0), [np.nan]]),
                   layers=[layer("dense", 0, n=11), layer("out", 1, n=11)],
                   nonfinite=NonFinite(10, "gradient of 'dense'", float("inf")))
    diagnosis = trainspec.diagnose(run)
    assert {Symptom.NON_FINITE, Symptom.EXPLODING_GRADIENT} <= set(diagnosis.symptoms)


def test_slow_convergence_defers_to_loss_not_decreasing():
    symptoms = trainspec.diagnose(make_run(np.full(N, 1.1), acc=0.6)).symptoms
    assert Symptom.LOSS_NOT_DECREASING in symptoms and Symptom.SLOW_CONVERGENCE not in symptoms


def test_validation_accuracy_at_chance():
    run = make_run(val={"val_accuracy": 0.3})
    finding = next(f for f in trainspec.diagnose(run).findings)
    assert finding.symptom is Symptom.ACCURACY_AT_CHANCE and "val_accuracy" in finding.evidence


def test_loss_at_log_c_without_an_accuracy_metric():
    run = make_run(np.full(N, math.log(3)) + 0.001 * np.sin(np.arange(N)), acc=None)
    assert Symptom.ACCURACY_AT_CHANCE in trainspec.diagnose(run)
    assert trainspec.diagnose(make_run(healthy_loss(), acc=None)).healthy


def test_every_static_check_is_documented_in_the_rule_shape():
    from trainspec.doctor.static import STATIC_CHECKS

    fields = set(Thresholds.model_fields)
    for check in STATIC_CHECKS:
        assert tuple(check.doc()) == SECTIONS, check.name
        assert set(check.thresholds) <= fields
