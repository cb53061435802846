"""Pairs, sweeps and the targets a spec is applied to."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

import trainspec
from tests.conftest import small_mlp
from trainspec.pairs import targets_of

RECIPE = trainspec.Recipe(model=small_mlp(), data=(np.zeros((8, 2)), np.zeros(8)), loss="mse",
                          optimizer="sgd", batch_size=4, name="base")


def test_pair_takes_its_name_positionally_and_resolves_factories():
    pair = trainspec.Pair("lr", broken=lambda: RECIPE.replace(learning_rate=10.0), fixed=RECIPE)
    assert pair.name == "lr"
    assert pair.recipe("broken").learning_rate == 10.0 and pair.recipe("fixed") is RECIPE


@pytest.mark.parametrize("name", ["has space", "a[b]", ""])
def test_pair_names_must_fit_in_node_ids(name):
    with pytest.raises(pydantic.ValidationError, match="not a usable name"):
        trainspec.Pair(name, broken=RECIPE, fixed=RECIPE)


def test_pair_sides_must_be_recipes():
    with pytest.raises(pydantic.ValidationError, match="must be a trainspec.Recipe"):
        trainspec.Pair("p", broken=3, fixed=RECIPE)


def test_a_failing_factory_is_a_build_error_naming_the_side():
    pair = trainspec.Pair("p", broken=lambda: 1 / 0, fixed=lambda: "not a recipe")
    expected = r"pair 'p' \(broken\): the recipe factory raised ZeroDivisionError"
    with pytest.raises(trainspec.BuildError, match=expected):
        pair.recipe("broken")
    with pytest.raises(trainspec.BuildError, match="returned str, not a Recipe"):
        pair.recipe("fixed")


def test_sweep_over_a_field():
    sweep = trainspec.Sweep("lr", base=RECIPE, over="learning_rate", values=[0.1, 0.01])
    points = sweep.points()
    assert [label for label, _ in points] == ["learning_rate=0.1", "learning_rate=0.01"]
    assert points[1][1]().learning_rate == 0.01


def test_sweep_validation():
    with pytest.raises(pydantic.ValidationError, match="not a Recipe field"):
        trainspec.Sweep("s", base=RECIPE, over="learning_rat", values=[1])
    with pytest.raises(pydantic.ValidationError, match="needs recipes"):
        trainspec.Sweep("s")


def test_sweep_columns_give_every_point_its_settings():
    columns = {"learning_rate=0.1": {"lr": 0.1}, "learning_rate=0.01": {"lr": 0.01}}
    sweep = trainspec.Sweep("lr", base=RECIPE, over="learning_rate", values=[0.1, 0.01],
                            columns=columns)
    assert sweep.columns["learning_rate=0.01"] == {"lr": 0.01}
    with pytest.raises(pydantic.ValidationError, match="'learning_rate=0.01' has none"):
        trainspec.Sweep("lr", base=RECIPE, over="learning_rate", values=[0.1, 0.01],
                        columns={"learning_rate=0.1": {"lr": 0.1}})
    with pytest.raises(pydantic.ValidationError, match="no point is labelled 'adam'"):
        trainspec.Sweep("opt", recipes={"sgd": RECIPE}, columns={"sgd": {}, "adam": {}})


def test_targets_expand_pairs_sweeps_and_recipes():
    pair = trainspec.Pair("p", broken=RECIPE.replace(learning_rate=10.0), fixed=RECIPE)
    sweep = trainspec.Sweep("opt", recipes={"sgd": RECIPE, "adam": RECIPE})
    ids = [t.id for t in targets_of([pair, sweep, RECIPE])]
    assert ids == ["p-broken", "p-fixed", "opt-sgd", "opt-adam", "base"]


def test_applies_to_rejects_other_things_at_import_time():
    with pytest.raises(TypeError, match="takes Pair, Sweep or Recipe objects"):
        trainspec.applies_to(["not a pair"])
