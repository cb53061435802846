"""The ``unchanged_weights`` rule on what the probes now see: frozen layers (a random one frozen
by mistake against a pretrained one frozen on purpose) and variables without a gradient.
Synthetic runs (tests/doctor/conftest.py): nothing trains here."""

from __future__ import annotations

import numpy as np

import trainspec
from tests.doctor.conftest import STEPS, layer, make_run, series
from trainspec.doctor import Symptom
from trainspec.run import LayerTrace

FLAT = np.full(STEPS, 1.1)


def frozen(name: str, index: int, at_initializer: bool | None, moved: float = 0.0) -> LayerTrace:
    return LayerTrace(name, index, "Dense", 100, series("grad_norm", []),
                      series("weight_norm", [2.0, 2.0], [0, STEPS - 1]),
                      series("update_ratio", [moved], [STEPS - 1]), trainable=False,
                      at_initializer=at_initializer)


def unchanged(diagnosis) -> list:
    return [f for f in diagnosis.findings if f.symptom is Symptom.UNCHANGED_WEIGHTS]


def test_a_layer_frozen_at_its_random_initial_weights_is_named_when_the_loss_stays_flat():
    run = make_run(FLAT, acc=0.34, layers=[frozen("base", 0, True), layer("out", 1)])
    found = unchanged(trainspec.diagnose(run))
    assert len(found) == 1 and found[0].evidence["frozen_layers"] == ["base"]
    assert "frozen with the random weights" in found[0].explanation
    assert found[0].family == "frozen" and found[0].layer == "base"
    assert trainspec.diagnose(run).primary.family == "frozen"  # the cause, not the flat loss


def test_a_frozen_pretrained_layer_is_never_a_finding():
    # transfer learning freezes a pretrained base on purpose: its weights are not a fresh draw
    run = make_run(FLAT, acc=0.34, layers=[frozen("base", 0, False), layer("out", 1)])
    assert unchanged(trainspec.diagnose(run)) == []


def test_a_frozen_layer_in_a_run_that_learns_is_not_a_finding():
    run = make_run(layers=[frozen("base", 0, True), layer("dense", 1), layer("out", 2)])
    assert trainspec.diagnose(run).healthy


def test_a_frozen_layer_whose_state_moved_or_that_cannot_be_told_is_not_blamed():
    for trace in (frozen("stats", 0, True, moved=0.3), frozen("custom", 0, None)):
        run = make_run(FLAT, acc=0.34, layers=[trace, layer("out", 1)])
        assert not any("frozen_layers" in f.evidence for f in unchanged(trainspec.diagnose(run)))


def test_variables_without_a_gradient_are_named_and_ranked_as_the_cause_of_a_flat_loss():
    cut = LayerTrace(**{**layer("body", 0, grad=0.0, update=0.0).__dict__,
                        "no_gradient": ("model/body/kernel", "model/body/bias")})
    flat = trainspec.diagnose(make_run(FLAT, acc=0.34, layers=[cut, layer("out", 1)]))
    found = unchanged(flat)
    assert len(found) == 1  # reported once, as cut off, not again as merely unchanged
    assert found[0].evidence["variables"] == ["model/body/kernel", "model/body/bias"]
    assert "received no gradient" in found[0].explanation and found[0].strength == 1.0
    assert flat.primary is found[0]
    # cut-off variables are a fault even when the rest learns, with less weight as a cause
    learning = unchanged(trainspec.diagnose(make_run(layers=[cut, layer("out", 1)])))
    assert learning and learning[0].strength == 0.5
