"""The Rich report's layout: the pair matrix or list, sweep tables, failure panels."""

from __future__ import annotations

from trainspec.plugin.report import render
from trainspec.plugin.results import ResultBook, SpecResult


def _pair_results(pair: str, spec: str, broken: str, fixed: str) -> list[SpecResult]:
    return [
        SpecResult(f"{spec}[{pair}-{variant}]", spec, "pair", pair, variant, outcome,
                   seed=0, message="loss did not fall" if outcome == "failed" else None)
        for variant, outcome in (("broken", broken), ("fixed", fixed))
    ]


def _book(results: list[SpecResult]) -> ResultBook:
    book = ResultBook()
    for r in results:
        book.add(r)
    return book


def test_few_specs_show_a_matrix_of_verdicts():
    book = _book(_pair_results("lr", "specs/t.py::test_loss", "failed", "passed")
                 + _pair_results("lr", "specs/t.py::test_acc", "passed", "passed"))
    text = render(book, "problems", width=100)
    assert "Broken/fixed pairs x specs" in text
    assert "test_loss" in text and "test_acc" in text
    assert "✔ caught" in text and "✘ missed" in text
    assert "1/2" in text


def test_many_specs_list_the_specs_that_catch_each_pair_in_full():
    specs = [f"specs/t.py::test_a_rather_long_spec_name_number_{i}" for i in range(8)]
    results = []
    for i, spec in enumerate(specs):
        results += _pair_results("sigmoid", spec, "failed" if i else "passed", "passed")
    results += _pair_results("noise", specs[0], "failed", "failed")
    text = render(_book(results), "problems", width=160)
    assert "Broken/fixed pairs x specs" not in text  # eight such columns do not fit
    flat = " ".join(text.split())
    for spec in specs[1:]:
        assert spec.rsplit("::", 1)[1] in flat
    assert "7/8" in text
    assert "test_a_rather_long_spec_name_number_0 (missed)" in flat
    assert "(false alarm)" in flat and "⚠ 0/1" in text


def _sweep_result(lr: str, spec: str, outcome: str) -> SpecResult:
    return SpecResult(
        f"{spec}[lr-learning_rate={lr}]", spec, "sweep", "lr", f"learning_rate={lr}", outcome,
        seed=0, loss_curve=[2.0, 1.5, 1.0, 0.5],
        summary={"loss_first": 2.0, "loss_last": 0.5, "metrics_last": {"accuracy": 0.9}},
    )


def test_a_sweep_is_a_table_of_its_points_with_spec_outcomes():
    results = [_sweep_result(lr, spec, "failed" if (lr, spec) == ("1.0", "t::test_b") else "passed")
               for lr in ("0.1", "1.0") for spec in ("t::test_a", "t::test_b")]
    wide = render(_book(results), "problems", width=120)
    assert "Sweep lr (over learning_rate)" in wide
    rows = {line.split()[0]: line for line in wide.splitlines() if line.strip()[:3] in ("0.1", "1.0")}
    assert "✔ 2/2" in rows["0.1"]
    assert "test_b failed" in rows["1.0"] and "1/2 passed" in rows["1.0"]
    assert "2→0.5" in rows["0.1"] and "0.9" in rows["0.1"]
    assert "█" in rows["0.1"]  # the loss curve
    narrow = render(_book(results), "problems", width=80)
    assert "█" not in narrow.split("FAILED")[0]  # no room for the curve at 80 columns
