"""The Rich report: quiet when green, a panel per problem, tables that fit the terminal."""

from __future__ import annotations

import numpy as np

from trainspec import Series
from trainspec.expect import curve_points
from trainspec.plugin.report import render
from trainspec.plugin.results import ResultBook, SpecResult

FALLING = np.linspace(2.3, 0.1, 200) + 0.05 * np.sin(np.arange(200))
FLAT = np.full(200, 2.3) + 0.01 * np.sin(np.arange(200))
FINDING = {"symptom": "dead_units", "where": "layer 'dense'",
           "explanation": "most ReLU units never fire.", "fixes": ["use He initialisation"]}


def _curves(values) -> dict:
    out = {}
    for name, series in (("loss", Series("loss", values)),
                         ("accuracy", Series("accuracy", np.linspace(0.1, 0.9, 200)))):
        out[name] = {"points": curve_points(series), "steps": [0, 199],
                     "change": series.change().to_json()}
    return out


def _side(spec: str, pair: str, variant: str, outcome: str, values=FALLING,
          findings=()) -> SpecResult:
    details = None
    if outcome == "failed":
        change = Series("loss", values).change()
        details = {"what": "loss did not fall by 50%", "measured": change.relative_decrease,
                   "required": "a decrease of at least 50%", "curve_name": "loss",
                   "curve": curve_points(Series("loss", values)), "change": change.to_json()}
    curves = _curves(values)
    return SpecResult(
        f"specs/test_general.py::{spec}[{pair}-{variant}]", f"specs/test_general.py::{spec}",
        "pair", pair, variant, outcome, message="loss did not fall" if details else None,
        details=details, seed=0, fingerprint=f"{pair}-{variant}", curves=curves,
        loss_curve=curves["loss"]["points"], findings=list(findings),
        summary={"loss_first": float(values[0]), "loss_last": float(values[-1]),
                 "metrics_last": {"accuracy": 0.9}, "val": {"val_accuracy": 0.91}},
        cause="learning rate 1.0 overshoots", fix="learning rate 0.05")


def _book(pairs: int, specs: int = 3, false_alarm: bool = False, missed: bool = False) -> ResultBook:
    book = ResultBook()
    for i in range(pairs):
        for j in range(specs):
            spec = f"test_spec_number_{j}"
            broken = "passed" if missed and (i, j) == (0, 0) else "failed"
            book.add(_side(spec, f"pair_{i}", "broken", broken, FLAT, [FINDING]))
            fixed = "failed" if false_alarm and (i, j) == (1, 0) else "passed"
            book.add(_side(spec, f"pair_{i}", "fixed", fixed,
                           FLAT if fixed == "failed" else FALLING))
    return book


def _sweep(book: ResultBook, lrs=("0.1", "0.01", "0.001", "0.0001"), failing=None) -> None:
    for lr in lrs:
        for spec in ("test_sweep_loss_falls", "test_sweep_accuracy"):
            curves = _curves(FALLING)
            outcome = "failed" if (lr, spec) == failing else "passed"
            book.add(SpecResult(
                f"specs/test_sweeps.py::{spec}[lr-learning_rate={lr}]",
                f"specs/test_sweeps.py::{spec}", "sweep", "lr", f"learning_rate={lr}", outcome,
                seed=0, curves=curves, loss_curve=curves["loss"]["points"],
                summary={"metrics_last": {"accuracy": 0.9},
                         "val": {"val_loss": 0.3, "val_accuracy": 0.91}}))


def test_a_green_session_prints_one_line_a_pair_and_no_panels():
    small, large = _book(3), _book(30)
    _sweep(small)
    _sweep(large)
    text = render(small, width=80)
    assert "╭" not in text  # no panel
    rows = [line for line in text.splitlines() if line.startswith("pair_")]
    assert len(rows) == 3 and all("✔ caught" in r and "3/3" in r for r in rows)
    assert "3/3 pairs caught, 9/9 verdicts caught, 8/8 other specs pass" in text
    # the size grows by one line a pair, whatever the number of specs
    assert len(render(large, width=80).splitlines()) == len(text.splitlines()) + 27


def test_full_mode_explains_every_caught_bug_and_problems_mode_only_problems():
    book = _book(2)
    full = render(book, "full", width=100)
    assert full.count("╭─ caught · pair_") == 6
    assert "catching specs" in full
    problems = render(_book(2, false_alarm=True), "problems", width=100)
    assert "pair_0" not in problems and "FALSE ALARM · pair_1 (fixed)" in problems
    assert render(book, "off") == ""


def test_a_panel_has_one_curve_between_the_values_that_define_its_change():
    text = render(_book(2, false_alarm=True), width=80)
    panel = text[text.index("FALSE ALARM"):]
    change = Series("loss", FLAT).change()
    start, end = change.endpoints()
    curve_lines = [line for line in panel.splitlines() if "▁" in line or "█" in line]
    assert len(curve_lines) == 1 and f"loss {start} " in curve_lines[0]
    assert f" {end}" in curve_lines[0]
    assert change.amount() in panel and "medians of the first and last 20 steps" in panel
    assert "likely cause" not in panel  # the broken model's cause says nothing of the fixed one


def test_the_reproduce_line_is_never_wrapped():
    text = render(_book(2, false_alarm=True), width=80)
    line = next(line for line in text.splitlines() if "reproduce:" in line)
    assert '"specs/test_general.py::test_spec_number_0[pair_1-fixed]"  (seed 0)' in line
    assert len(line) > 80


def test_a_run_is_diagnosed_once_and_its_other_panels_refer_to_it():
    book = ResultBook()
    for j in range(3):
        book.add(_side(f"test_s{j}", "p", "broken", "passed", FLAT, [FINDING]))
        book.add(_side(f"test_s{j}", "p", "fixed", "passed"))
    text = render(book, width=100)
    assert text.count("╭─ MISSED · p (broken)") == 3
    assert text.count("diagnosis: dead_units") == 1
    assert text.count('diagnosis: as in the panel "MISSED · p (broken) · test_s0" above') == 2


def test_tables_fit_80_columns_without_cutting_a_value():
    book = _book(2, specs=4, missed=True)
    _sweep(book, lrs=("0.1", "0.0001", "1e-05"), failing=("1e-05", "test_sweep_accuracy"))
    for width in (80, 60):
        text = render(book, width=width)
        tables = text[:text.index("╭")]
        assert "…" not in tables
        assert all(len(line) <= width for line in tables.splitlines())
        flat = " ".join(tables.split())
        assert "test_spec_number_0 (missed)" in flat  # names are never broken mid-word
        assert "test_sweep_accuracy failed" in flat and "0.91" in flat and "1e-05" in flat
    at_80 = " ".join(render(book, width=80).split())
    assert "v.acc = val_accuracy" in at_80  # short headers, with a legend
    at_60 = render(book, width=60)  # no room for columns: one paragraph a point
    assert "1e-05: loss" in at_60 and "val_accuracy 0.91" in " ".join(at_60.split())


def test_a_sweep_shows_its_curve_when_there_is_room():
    book = ResultBook()
    _sweep(book)
    wide = render(book, width=120)
    rows = {line.split()[0]: line for line in wide.splitlines()
            if line.strip()[:3] in ("0.1", "0.0")}
    assert "✔ 2/2" in rows["0.1"] and "█" in rows["0.1"]
    change = Series("loss", FALLING).change()
    assert "{}→{}".format(*change.endpoints()) in rows["0.1"]
    assert "█" not in render(book, width=80)


def test_a_sweep_with_columns_shows_its_settings_in_place_of_the_label():
    book = ResultBook()
    grid = {"128x256-sgd": {"n_hidden_1": 128, "n_hidden_2": 256, "learning_rate": 0.01,
                            "optimizer": "sgd"},
            "128x64-rmsprop": {"n_hidden_1": 128, "n_hidden_2": 64, "learning_rate": 0.001,
                               "optimizer": "rmsprop"}}
    for label, columns in grid.items():
        book.add(SpecResult(
            f"specs/test_sweeps.py::test_finite[hidden-{label}]", "specs/test_sweeps.py::test_finite",
            "sweep", "hidden", label, "passed", seed=0, columns=columns,
            summary={"val": {"val_accuracy": 0.93}}))
    text = render(book, width=120)
    header = next(line for line in text.splitlines() if "n_hidden_1" in line)
    assert header.split()[:5] == ["n_hidden_1", "n_hidden_2", "learning_rate", "optimizer", "loss"]
    rows = [line.split() for line in text.splitlines() if "rmsprop" in line or " sgd " in line]
    assert [r[:4] for r in rows] == [["128", "256", "0.01", "sgd"], ["128", "64", "0.001", "rmsprop"]]
    assert "128x256-sgd" not in text


def test_a_session_carries_a_sweeps_columns_to_its_table(pytester):
    from tests.conftest import TINY_SPECS
    from trainspec.engine import clear_memo

    pytester.makepyfile(test_specs=TINY_SPECS + """
GRID = trainspec.Sweep("grid", recipes={"a": recipe(steps=8), "b": recipe(steps=8, learning_rate=0.05)},
                       columns={"a": {"width": 8, "opt": "sgd"}, "b": {"width": 8, "opt": "sgd-slow"}})

@trainspec.applies_to(GRID)
def test_finite(run):
    trainspec.expect(run).to_be_finite()
""")
    clear_memo()
    result = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-cache", "off")
    clear_memo()
    result.assert_outcomes(passed=2)
    header = next(line for line in result.outlines if "width" in line)
    assert header.split()[:2] == ["width", "opt"]
    assert any(line.split()[:2] == ["8", "sgd-slow"] for line in result.outlines)
