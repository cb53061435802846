"""``--trainspec-mutate`` end to end (pytester, in process): mutant items, exit status, the
spec-strength table and the JSON."""

from __future__ import annotations

import json
import textwrap

SPECS = textwrap.dedent(
    """
    import pytest
    import trainspec
    from trainspec import datasets

    DATA = datasets.blobs(n=512, classes=3, seed=0)

    def mlp():
        import keras
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])

    fixed = trainspec.Recipe(model=mlp, data=DATA, loss="sparse_categorical_crossentropy",
                             optimizer="sgd", learning_rate=0.1, steps=60, batch_size=32,
                             metrics=["accuracy"], seed=0)
    PAIR = trainspec.Pair("huge_lr", broken=fixed.replace(learning_rate=200.0), fixed=fixed)

    @trainspec.applies_to(PAIR)
    def test_loss_falls(run):
        assert run.loss.relative_decrease() >= 0.3

    @trainspec.applies_to(PAIR)
    @pytest.mark.trainspec(allow_nonfinite=True)
    def test_finite(run):
        assert run.finite

    test_doctor = trainspec.doctor_spec(PAIR)
    """
)


def test_mutate_runs_specs_on_mutants_and_reports_their_strength(pytester):
    pytester.makepyfile(test_specs=SPECS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-mutate",
                                "--trainspec-mutate-max=0", "--trainspec-json=out.json",
                                "-W", "ignore::UserWarning")
    assert result.ret == 0  # survivors are measured, never a session failure
    doc = json.loads((pytester.path / "out.json").read_text())
    mutants = [r for r in doc["results"] if r["kind"] == "mutant"]
    assert len(mutants) == 3 * 16  # max 0: every operator
    assert mutants[0]["mutant"]["selection"]["max"] == 0
    by = {(r["spec"].rsplit("::", 1)[1], r["mutant"]["operator"]): r["mutant"]["status"]
          for r in mutants}
    # lr x100 diverges: every spec kills it; tiny clipvalue keeps the run finite
    assert by[("test_finite", "lr_x100")] == "killed"
    assert by[("test_finite", "tiny_clipvalue")] == "survived"
    assert by[("test_loss_falls", "tiny_clipvalue")] == "killed"
    assert by[("test_doctor", "softmax_logits_loss")] == "killed"
    # the pair's own verdicts are unaffected by the mutants
    assert {v["verdict"] for v in doc["verdicts"] if v["spec"].endswith("test_loss_falls")} == {
        "caught"}
    text = result.stdout.str()
    assert "(spec strength)" in text  # the matrix, or the list on a narrow terminal
    assert "Mutation score per spec file" in text
    assert "Operators (mutants across pairs)" in text
    assert "Every selected operator (16)" in text
    assert "test_specs.py" in text


def test_without_the_option_no_mutant_items(pytester):
    pytester.makepyfile(test_specs=SPECS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    assert "mutant_" not in result.stdout.str()
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q",
                                "--trainspec-mutate", "--trainspec-mutate-max=all")
    assert "test_finite[huge_lr-mutant_label_shuffle]" in result.stdout.str()


def _mutant_ids(result):
    return sorted(line.split("[", 1)[1] for line in result.stdout.lines if "-mutant_" in line)


def test_default_samples_two_operators_per_fixed_recipe_reproducibly(pytester):
    pytester.makepyfile(test_specs=SPECS)
    args = ("-p", "no:cacheprovider", "--collect-only", "-q", "--trainspec-mutate")
    first = _mutant_ids(pytester.runpytest(*args))
    assert len(first) == 3 * 2  # three specs, each on the same two mutants
    assert len({i.split("-mutant_")[1] for i in first}) == 2
    assert _mutant_ids(pytester.runpytest(*args)) == first  # seeded by the recipe's name


def test_operator_selection_and_bad_values(pytester):
    pytester.makepyfile(test_specs=SPECS)
    base = ("-p", "no:cacheprovider", "--collect-only", "-q", "--trainspec-mutate")
    ids = _mutant_ids(pytester.runpytest(*base, "--trainspec-mutate-operators=lr_x100,huge_l2",
                                         "--trainspec-mutate-max=0"))
    assert {i.split("-mutant_")[1].rstrip("]") for i in ids} == {"lr_x100", "huge_l2"}
    ids = _mutant_ids(pytester.runpytest(*base, "--trainspec-mutate-operators=lr_x100",
                                         "--trainspec-mutate-max=5"))
    assert {i.split("-mutant_")[1].rstrip("]") for i in ids} == {"lr_x100"}
    bad = pytester.runpytest(*base, "--trainspec-mutate-operators=lr_x1000")
    assert bad.ret == 4 and "unknown mutation operator(s) lr_x1000" in bad.stderr.str()
    bad = pytester.runpytest(*base, "--trainspec-mutate-max=-1")
    assert bad.ret == 4 and "trainspec_mutate_max must be >= 0" in bad.stderr.str()
