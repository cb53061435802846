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
                                "--trainspec-json=out.json", "-W", "ignore::UserWarning")
    assert result.ret == 0  # survivors are measured, never a session failure
    doc = json.loads((pytester.path / "out.json").read_text())
    mutants = [r for r in doc["results"] if r["kind"] == "mutant"]
    assert len(mutants) == 3 * 16
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
    assert "Mutants x specs (spec strength)" in text
    assert "Mutation score per spec file" in text
    assert "test_specs.py" in text


def test_without_the_option_no_mutant_items(pytester):
    pytester.makepyfile(test_specs=SPECS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    assert "mutant_" not in result.stdout.str()
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q",
                                "--trainspec-mutate")
    assert "test_finite[huge_lr-mutant_label_shuffle]" in result.stdout.str()
