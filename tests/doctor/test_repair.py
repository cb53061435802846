"""``trainspec.try_fixes``: the repairs the findings suggest, retrained and judged."""

from __future__ import annotations

import numpy as np
import pytest

import trainspec
from tests.doctor.conftest import layer, make_run
from tests.doctor.zoo import ZOO_BY_NAME
from trainspec.doctor import Thresholds
from trainspec.doctor.registry import rank, run_rules
from trainspec.doctor.repair import repairs_for


def test_a_learning_rate_far_too_high_is_repaired_by_the_default_rate():
    broken = ZOO_BY_NAME["lr_x100"].broken()
    trials = trainspec.try_fixes(broken)
    good = next(t for t in trials if t.healthy)
    assert good.fix.name == "lr_default"
    assert good.fix.diff["learning_rate"] == (5.0, 0.01)
    assert "learning rate" in str(good.fix)
    assert isinstance(good.run, trainspec.Run) and good.diagnosis.healthy
    assert good.after["loss_end"] < good.after["loss_start"]
    assert good.before["loss_end"] is None or good.before["loss_end"] > good.after["loss_end"]
    assert good.to_json()["healthy"] is True


def test_a_healthy_recipe_gets_no_trials():
    assert trainspec.try_fixes(ZOO_BY_NAME["lr_x100"].fixed()) == []


def test_repairs_follow_the_direction_of_the_update_ratio():
    small = rank(run_rules(make_run(np.full(80, 1.1), acc=0.6,
                                    layers=[layer("d", 0, update=1e-6), layer("o", 1, update=1e-6)]),
                           None, Thresholds()))[0]
    ratio = next(f for f in small if str(f.symptom) == "update_ratio_out_of_range")
    assert repairs_for(ratio)[0] == "lr_default"
    big = rank(run_rules(make_run(layers=[layer("d", 0, update=20.0), layer("o", 1)]),
                         None, Thresholds()))[0]
    ratio = next(f for f in big if str(f.symptom) == "update_ratio_out_of_range")
    assert repairs_for(ratio) == ("lr_div_10",)


@pytest.mark.parametrize(("pair", "repair"), [("bottleneck", "widen"),
                                              ("mse_on_class_ids", "crossentropy")])
def test_the_repair_of_the_primary_cause_makes_the_run_healthy(pair, repair):
    # a 1-unit layer before 4 classes is widened; MSE on class ids becomes a cross-entropy
    trials = trainspec.try_fixes(ZOO_BY_NAME[pair].broken())
    assert trials[0].fix.name == repair and trials[0].healthy, [t.to_json() for t in trials]
    assert trials[0].after["loss_end"] < trials[0].after["loss_start"]
