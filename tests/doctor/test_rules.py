"""One test per doctor rule: a synthetic run that shows its symptom, and the healthy run that
does not.  The runs are built directly (tests/doctor/conftest.py), so nothing trains here."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace

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


def _shrinking() -> Run:
    acts = [activation(f"d{i}", i) for i in range(6)]
    acts = [a.__class__(**{**a.__dict__, "std": series("std", np.full(N, 0.5 ** i))})
            for i, a in enumerate(acts)]
    return make_run(np.full(N, 1.1), acc=0.6, activations=acts)


def _off_centre() -> Run:
    # logistic sigmoids at Glorot init: mean 0.5, spread 0.1, on a run that learns slowly
    acts = [activation("d0", 0, kind="sigmoid", dead=0.0), activation("d1", 1, kind="sigmoid",
                                                                       dead=0.0)]
    acts = [a.__class__(**{**a.__dict__, "std": series("std", np.full(N, 0.1))}) for a in acts]
    return make_run(np.full(N, 1.1), acc=0.4, activations=acts)


SGD_AT_1 = SimpleNamespace(optimizer="sgd", learning_rate=1.0)


def ravine_recipe(optimizer: object = "sgd", scales: tuple[float, float] = (1.0, 0.1)):
    """A recipe stub: two features of the given scales, trained with ``optimizer``."""
    x = np.random.default_rng(0).normal(size=(256, 2)) * np.array(scales)
    return SimpleNamespace(optimizer=optimizer, learning_rate=0.1,
                           split=lambda: ((x, x.sum(1, keepdims=True)), None))


def _ravine() -> Run:
    # a squared error that drops fast (the steep direction) then crawls (the flat one)
    t = np.arange(N, dtype=np.float64)
    loss = 6.0 * np.exp(-t / 3) + 3.0 * np.exp(-t / 150)
    return make_run(loss, acc=None, n_classes=None, loss_name="mse")


def _memorised() -> Run:
    at = [19, 39, 59, 79]
    return make_run(acc=1.0, val_history={"val_accuracy": series("val_accuracy",
                                                                  [0.6, 0.62, 0.6, 0.6], at)},
                    val={"val_accuracy": 0.6, "val_loss": 0.9})

def deep_recipe(activation: str = "relu", init: str = "he_normal", depth: int = 12,
                labels: str = "blobs") -> trainspec.Recipe:
    """A deep, narrow stack on three Gaussian blobs (or on labels drawn at random)."""
    import keras

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 240)
    x = (rng.normal(size=(240, 8)) + 2.0 * np.eye(3, 8)[y]).astype("float32")
    if labels == "random":
        y = rng.integers(0, 3, 240)

    def model():
        return keras.Sequential([keras.Input((8,))] + [
            keras.layers.Dense(16, activation, kernel_initializer=init) for _ in range(depth)] + [
            keras.layers.Dense(3, "softmax")])

    return trainspec.Recipe(model=model, data=(x, y), loss="sparse_categorical_crossentropy",
                            seed=0)


def _collapsed(acc: float = 0.34, depth: int = 12) -> Run:
    return make_run(acc=acc, activations=[activation(f"d{i}", i) for i in range(depth + 1)])


#: rule name -> a run that shows it (the healthy run, ``make_run()``, shows none of them).
SHOWING: dict[str, Callable[[], Run]] = {
    "non_finite": lambda: make_run(np.concatenate([np.linspace(1.1, 5.0, 40), [np.nan]]),
                                   nonfinite=NonFinite(40, "loss", float("nan"))),
    "diverging_loss": lambda: make_run(np.linspace(1.1, 4.0, N), acc=0.5),
    "exploding_growth": lambda: make_run(layers=[layer("dense", 0, np.geomspace(0.5, 100, N)),
                                                 layer("out", 1)]),
    "bad_initial_loss": lambda: make_run(np.concatenate([[40.0], np.linspace(3.0, 1.3, N - 1)])),
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
    "learning_rate_too_high": lambda: (make_run(np.full(N, 1.1), acc=0.6), SGD_AT_1),
    "shrinking_activations": _shrinking,
    "off_centre_activations": _off_centre,
    "negative_crossentropy": lambda: make_run(np.linspace(0.5, -2.0, N)),
    "no_learnable_signal": lambda: make_run(acc=0.34),
    "generalisation_gap": _memorised,
    "ill_conditioned": lambda: (_ravine(), ravine_recipe()),
    "collapsed_representations": lambda: (_collapsed(), deep_recipe()),
}


def _check(rule, run, recipe=None):
    return rule.check(Context.of(run, recipe, Thresholds()))


def _findings(run, recipe):
    """Every rule's findings, ranked, as ``diagnose`` would give them (recipe may be a stub)."""
    from trainspec.doctor.registry import rank, run_rules

    return rank(run_rules(run, recipe, Thresholds()))[0]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_on_a_showing_and_a_healthy_run(rule):
    showing, recipe = _split(SHOWING[rule.name]())
    found = [f for f in _findings(showing, recipe) if f.symptom is rule.symptom]
    assert found, rule.name
    for f in found:
        assert f.explanation and f.fixes and f.to_json()["symptom"] == str(rule.symptom)
        assert 0.0 <= f.strength <= 1.0 and f.family
    assert _check(rule, make_run(), recipe) == []
    assert trainspec.diagnose(make_run()).healthy


def _split(value):
    return value if isinstance(value, tuple) else (value, None)


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
    diagnosis = trainspec.diagnose(run)
    finding = next(f for f in diagnosis.findings if f.symptom is Symptom.ACCURACY_AT_CHANCE)
    assert "val_accuracy" in finding.evidence
    # 0.95 on the training batches: the model memorised them, the cause of the outcome
    assert diagnosis.primary.symptom is Symptom.GENERALISATION_GAP


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


def test_the_primary_is_the_cause_and_explains_the_outcomes():
    # a flat loss at chance with tiny first-layer updates and SGD at 1.0: the rate is the cause
    run = make_run(np.full(N, 1.1), acc=0.34, layers=[layer("dense", 0, update=1e-5), layer("out", 1)])
    ranked = _findings(run, SGD_AT_1)
    assert ranked[0].symptom is Symptom.LEARNING_RATE_TOO_HIGH and ranked[0].family == "learning_rate"
    outcome = {Symptom.LOSS_NOT_DECREASING, Symptom.ACCURACY_AT_CHANCE}
    assert outcome <= {f.symptom for f in ranked[1:]}
    # and no advice points the wrong way: nothing says raise the rate
    assert not any("raise the learning rate" in fix for f in ranked for fix in f.fixes)


def test_update_ratio_says_which_way():
    small = make_run(layers=[layer("dense", 0, update=1e-7), layer("out", 1)])
    finding = next(f for f in trainspec.diagnose(small).findings)
    assert finding.evidence["direction"] == "too small" and "below" in finding.explanation
    big = make_run(layers=[layer("dense", 0, update=20.0), layer("out", 1)])
    finding = next(f for f in trainspec.diagnose(big).findings)
    assert finding.evidence["direction"] == "too large" and "above" in finding.explanation


def test_diagnosis_primary_and_json():
    d = trainspec.diagnose(make_run(np.full(N, 1.1), acc=0.6))
    assert d.primary is d.findings[0]
    data = d.to_json()
    assert data["primary"] == str(d.primary.symptom) and data["summary"]
    assert trainspec.diagnose(make_run()).primary is None


def test_a_falling_loss_shows_a_negative_change():
    run = make_run(np.concatenate([np.linspace(1.1, 1.05, N // 2), np.full(N - N // 2, 1.05)]),
                   acc=0.6)
    finding = next(f for f in trainspec.diagnose(run).findings
                   if f.symptom is Symptom.LOSS_NOT_DECREASING)
    assert "decrease" in finding.explanation and "increase" not in finding.explanation


def test_loss_rules_defer_to_an_accuracy_that_shows_learning():
    # a categorical hinge loss falls 5% while the accuracy goes from chance to 0.66 (the
    # curriculum's loss sweep): a run that trains well, so no finding
    hinge = np.linspace(1.02, 0.97, N) + 0.005 * np.sin(np.arange(N))
    assert trainspec.diagnose(make_run(hinge, acc=np.linspace(0.3, 0.8, N))).healthy
    # the same loss with the accuracy still near chance is a finding
    assert not trainspec.diagnose(make_run(hinge, acc=0.45)).healthy


def test_a_loss_still_falling_steadily_is_slow_not_stalled():
    # a too-small learning rate: the loss falls 9% in the run, as much in the second half as in
    # the first (the curriculum's learning-rate sweep at 0.0001)
    d = trainspec.diagnose(make_run(np.linspace(1.1, 1.0, N), acc=0.45))
    assert d.primary.symptom is Symptom.SLOW_CONVERGENCE and d.primary.family == "learning_rate"
    assert Symptom.LOSS_NOT_DECREASING not in d
    assert any("raise the learning rate" in fix for fix in d.primary.fixes)


def test_units_killed_during_training_forbid_raising_the_rate():
    # alive at the first step, dead at the end, updates 0: the steps were too large
    dying = activation("dense", 0)
    dying = dying.__class__(**{**dying.__dict__, "dead": series("dead", np.r_[0.02, np.full(N - 1, 1.0)])})
    run = make_run(np.full(N, 1.1), acc=0.34, activations=[dying],
                   layers=[layer("dense", 0, update=0.0), layer("out", 1)])
    d = trainspec.diagnose(run)
    assert d.primary.symptom is Symptom.DEAD_UNITS and d.primary.family == "dead_units"
    assert not any("raise the learning rate" in fix for f in d.findings for fix in f.fixes), str(d)
    assert any("lower the learning rate" in fix for fix in d.primary.fixes)


def test_a_high_initial_loss_the_run_recovers_from_is_not_reported():
    # a pretrained body under a fresh head starts 10x above log C and ends far below it
    recovered = np.concatenate([[12.0], np.linspace(1.0, 0.05, N - 1)])
    assert trainspec.diagnose(make_run(recovered)).healthy
    stuck = np.concatenate([[12.0], np.full(N - 1, 1.3)])
    assert Symptom.BAD_INITIAL_LOSS in trainspec.diagnose(make_run(stuck, acc=0.4))


def test_off_centre_activations_need_harm():
    # the same sigmoid statistics on a run that trains well: nothing to report
    run = _off_centre()
    healthy = run.__class__(**{**run.__dict__, "loss": series("loss", healthy_loss()),
                               "metrics": {"accuracy": series("accuracy", np.full(N, 0.95))}})
    assert trainspec.diagnose(healthy).healthy
    d = trainspec.diagnose(run)
    assert d.primary.symptom is Symptom.OFF_CENTRE_ACTIVATIONS and d.primary.family == "activation"


def test_ill_conditioned_needs_plain_sgd_features_apart_and_a_loss_still_falling():
    rule = next(r for r in RULES if r.name == "ill_conditioned")
    assert _check(rule, _ravine(), ravine_recipe())
    for recipe in (ravine_recipe({"name": "sgd", "momentum": 0.9}), ravine_recipe("adam"),
                   ravine_recipe(scales=(1.0, 0.5))):  # momentum, Adam, scales 2x apart
        assert _check(rule, _ravine(), recipe) == []
    settled = make_run(np.concatenate([np.linspace(9, 1, N // 2), np.full(N - N // 2, 1.0)]),
                       acc=None, n_classes=None, loss_name="mse")
    assert _check(rule, settled, ravine_recipe()) == []  # converged: nothing left to crawl
    finding = _findings(_ravine(), ravine_recipe())[0]
    assert finding.symptom is Symptom.ILL_CONDITIONED and finding.family == "optimizer"
    assert "momentum" in finding.fixes[0]
    assert not any("lower the learning rate" in fix for fix in finding.fixes)


def test_generalisation_gap_is_measured_from_chance():
    rule = next(r for r in RULES if r.name == "generalisation_gap")
    found = _check(rule, _memorised())
    assert found and found[0].family == "regularisation"
    assert found[0].evidence["lost_share"] > 0.5
    # 0.95 on training, 0.9 on validation: 7.5% of what was learned above chance is lost
    close = make_run(acc=0.95, val={"val_accuracy": 0.9, "val_loss": 0.3})
    assert _check(rule, close) == []
    assert _check(rule, make_run(acc=1.0)) == []  # no validation data: nothing to compare


def test_the_momentum_repair_gives_plain_sgd_momentum_and_skips_other_optimizers():
    from trainspec import mutants

    repaired = mutants.get("momentum")(trainspec.Recipe(
        model=lambda: None, data=(np.zeros((32, 2)), np.zeros(32)), optimizer={"name": "sgd",
        "clipnorm": 1.0}, learning_rate=0.1))
    assert repaired.optimizer == {"name": "sgd", "clipnorm": 1.0, "momentum": 0.9}
    assert repaired.learning_rate == 0.1
    with pytest.raises(mutants.NotApplicable):
        mutants.get("momentum")(trainspec.Recipe(model=lambda: None, optimizer="adam",
                                                 data=(np.zeros((32, 2)), np.zeros(32))))


def test_top_share_is_one_for_inputs_along_one_direction():
    from trainspec.doctor.rules.collapse import top_share

    rng = np.random.default_rng(0)
    along = np.outer(rng.normal(size=64), rng.normal(size=16)) + 3.0
    assert top_share(along) == pytest.approx(1.0)
    assert top_share(rng.normal(size=(256, 16))) < 0.2  # spread evenly: about 1/16
    assert top_share(np.ones((8, 4))) == 1.0  # every input the same


def test_collapse_is_the_cause_of_a_deep_stack_at_chance_and_not_the_learning_rate():
    from trainspec.doctor.rules.collapse import step0_shares

    shares = step0_shares(deep_recipe())
    assert shares[0][1] < 0.75 <= shares[-1][1], shares  # measured on the built model
    tiny_updates = [layer(f"d{i}", i, update=1e-5) for i in range(13)]
    run = make_run(acc=0.34, layers=tiny_updates,
                   activations=[activation(f"d{i}", i) for i in range(13)])
    found = _findings(run, deep_recipe())
    assert found[0].symptom is Symptom.COLLAPSED_REPRESENTATIONS, found
    assert found[0].family == "initialisation" and "SELU" in found[0].fixes[0]
    assert found[0].evidence["share_last"] >= 0.75 > found[0].evidence["share_first"]
    ratio = next(f for f in found if f.symptom is Symptom.UPDATE_RATIO_OUT_OF_RANGE)
    assert not any("raise the learning rate" in fix for f in found for fix in f.fixes), ratio


@pytest.mark.parametrize("case", ["learned", "random labels", "self-normalising", "shallow",
                                  "no recipe"])
def test_collapse_needs_depth_a_model_that_did_not_learn_and_labels_with_signal(case):
    rule = next(r for r in RULES if r.name == "collapsed_representations")
    run, recipe = {
        "learned": (_collapsed(acc=0.95), deep_recipe()),
        "random labels": (_collapsed(), deep_recipe(labels="random")),
        "self-normalising": (_collapsed(), deep_recipe("selu", "lecun_normal")),
        "shallow": (_collapsed(depth=3), deep_recipe(depth=3)),
        "no recipe": (_collapsed(), None),
    }[case]
    ctx = Context.of(run, recipe, Thresholds())
    ctx.harm = True  # as the outcome rules before it would set
    assert rule.check(ctx) == []
    if case == "random labels":  # the inputs do not predict the labels: the data's problem
        assert "no_learnable_signal" in {str(f.symptom) for f in _findings(run, recipe)}


def test_the_selu_repair_gives_selu_layers_with_lecun_weights():
    from trainspec import mutants
    from trainspec.engine.prepare import build_model

    repaired = build_model(mutants.get("selu_lecun")(deep_recipe(depth=4)))
    hidden = repaired.layers[:-1]
    assert {layer.get_config()["activation"] for layer in hidden} == {"selu"}
    assert {type(layer.kernel_initializer).__name__ for layer in repaired.layers} == {
        "LecunNormal"}
    with pytest.raises(mutants.NotApplicable):
        mutants.get("selu_lecun")(deep_recipe("selu", "lecun_normal", depth=4))


def test_no_learnable_signal_is_not_claimed_when_the_inputs_predict_the_labels():
    rule = next(r for r in RULES if r.name == "no_learnable_signal")
    run = make_run(acc=0.34)
    assert [str(f.symptom) for f in _findings(run, deep_recipe(depth=2, labels="random"))] == [
        "no_learnable_signal", "accuracy_at_chance"]
    # blobs: a nearest class mean on the raw inputs beats chance, so the labels carry signal
    assert _check(rule, run, deep_recipe(depth=2)) == []


def test_logits_floor_is_not_reported_when_a_step_went_below_it():
    # a healthy run passing the floor's value: its smoothed low sits just above the floor, but
    # single batches go below it, which a twice-applied softmax cannot do
    rule = next(r for r in RULES if r.name == "logits_floor")
    floor = math.log(1 + 2 / math.e)
    wobble = 0.03 * np.sign(np.sin(np.arange(40)))
    passing = make_run(np.concatenate([np.linspace(math.log(3), floor * 1.03, 40),
                                       floor * 1.03 + wobble]), acc=0.97)
    from trainspec.doctor.evidence import Curve

    assert floor <= Curve.of(passing).low <= floor * 1.05  # near the floor, once smoothed
    assert float(np.min(np.asarray(passing.loss))) < floor
    assert _check(rule, passing) == []
    assert _check(rule, _floor())  # held on the floor: reported


@pytest.mark.parametrize("n", [1, 2, 3, 50])
def test_the_rolling_median_reads_each_step_and_the_two_before(n):
    from trainspec.doctor.rules.exploding import rolling_median3

    values = np.random.default_rng(n).lognormal(size=n)
    expected = [np.median(values[max(0, i - 2): i + 1]) for i in range(n)]
    assert rolling_median3(values).tolist() == expected
