"""Verdicts and the JSON document."""

from __future__ import annotations

import json

import pytest

from trainspec import Verdict
from trainspec.plugin.report import render
from trainspec.plugin.results import ResultBook, SpecResult, verdict_of, write_json


def side(variant, outcome, spec="specs/t.py::test_x", pair="p"):
    return SpecResult(f"{spec}[{pair}-{variant}]", spec, "pair", pair, variant, outcome,
                      message=f"{variant} {outcome}", loss_curve=[2.0, 1.0, float("nan")],
                      summary={"loss_first": 2.0, "loss_last": 1.0})


@pytest.mark.parametrize(
    ("broken", "fixed", "verdict"),
    [
        ("failed", "passed", Verdict.CAUGHT),
        ("passed", "passed", Verdict.MISSED),
        ("failed", "failed", Verdict.FALSE_ALARM),
        ("passed", "failed", Verdict.FALSE_ALARM),
        ("error", "passed", Verdict.ERROR),
        ("failed", "error", Verdict.ERROR),
        ("skipped", "passed", Verdict.INCOMPLETE),
    ],
)
def test_verdict_table(broken, fixed, verdict):
    assert verdict_of(side("broken", broken), side("fixed", fixed)) is verdict


def test_a_lone_variant_is_incomplete_unless_it_errored():
    assert verdict_of(side("broken", "failed"), None) is Verdict.INCOMPLETE
    assert verdict_of(None, side("fixed", "error")) is Verdict.ERROR


def test_json_is_written_atomically_without_nan(tmp_path):
    book = ResultBook()
    broken = side("broken", "failed")
    broken.summary = {"loss_first": 2.0, "loss_last": float("nan")}
    book.add(broken)
    book.add(side("fixed", "passed"))
    path = tmp_path / "sub" / "out.json"
    write_json(book, path, 0)
    doc = json.loads(path.read_text())
    assert doc["results"][0]["verdict"] == "caught"
    assert doc["results"][0]["summary"] == {"loss_first": 2.0, "loss_last": None}
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]  # no temp file left


def test_report_renders_matrix_panels_and_summary():
    book = ResultBook()
    for spec, (b, f) in {"specs/t.py::test_a": ("failed", "passed"),
                         "specs/t.py::test_b": ("passed", "passed")}.items():
        book.add(side("broken", b, spec))
        book.add(side("fixed", f, spec))
    text = render(book, "full", width=120)
    assert "Broken/fixed pairs" in text and "✔ caught" in text and "test_b (missed)" in text
    assert "MISSED · p (broken) · test_b" in text and "caught · p (broken) · test_a" in text
    assert "1/1 pairs caught, 1/2 verdicts caught (1 missed)" in text
    assert "caught · p" not in render(book, "problems", width=120)
    assert render(book, "off") == ""
