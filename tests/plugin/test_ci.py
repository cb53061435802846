"""Reports for CI: GitHub step summary and annotations, JUnit XML properties (xunit1, xunit2,
and xunit2 under pytest-xdist)."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import TINY_SPECS
from trainspec.plugin.github import annotations, markdown_summary
from trainspec.plugin.results import ResultBook, SpecResult

SPECS = TINY_SPECS + textwrap.dedent("""
    PAIR = trainspec.Pair("tiny_lr", broken=recipe(learning_rate=1e-5), fixed=recipe())

    @trainspec.applies_to(PAIR)
    def test_loss_halves(run):
        trainspec.expect(run).loss_to_fall_by(0.5)

    @trainspec.applies_to(PAIR)
    def test_impossible(run):
        trainspec.expect(run).loss_to_fall_by(0.999)

    def test_no_run():
        assert True
""")


def _result(nodeid: str, variant: str, outcome: str, pair: str = "p") -> SpecResult:
    spec = nodeid.split("[", 1)[0]
    return SpecResult(nodeid, spec, "pair", pair, variant, outcome, seed=0,
                      message=f"{variant} {outcome}", file="specs/t.py", line=7)


def _book(n_false_alarms: int) -> ResultBook:
    book = ResultBook()
    for i in range(n_false_alarms):
        book.add(_result(f"specs/t.py::test_{i}[p-broken]", "broken", "failed"))
        book.add(_result(f"specs/t.py::test_{i}[p-fixed]", "fixed", "failed"))
    book.add(_result("specs/t.py::test_m[p-broken]", "broken", "passed"))
    book.add(_result("specs/t.py::test_m[p-fixed]", "fixed", "passed"))
    return book


def test_annotations_are_capped_and_put_misses_first():
    lines = annotations(_book(12))
    assert len(lines) == 10
    assert lines[0].startswith("::error file=specs/t.py,line=7,title=trainspec%3A MISSED")
    assert all(line.startswith("::error ") for line in lines)
    assert "%0Areproduce: pytest" in lines[0] and "\n" not in "".join(lines)


def test_the_markdown_summary_has_the_pair_table_and_stays_under_the_limit():
    text = markdown_summary(_book(3))
    assert "| p | ⚠ false alarm | 0/4 |" in text and "### Needs attention" in text
    assert '`pytest "specs/t.py::test_m[p-broken]"`' in text
    small = markdown_summary(_book(500), limit=4000)
    assert len(small.encode()) <= 4000 and "more (see the job log)" in small


@pytest.fixture
def specs(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_specs=SPECS)
    return pytester


def _testcases(path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {case.get("name"): case for case in root.iter("testcase")}


def test_github_actions_gets_a_summary_annotations_and_xunit1_properties(specs, monkeypatch):
    summary = specs.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = specs.runpytest("-p", "no:cacheprovider", "--junitxml", "junit.xml",
                             "-o", "junit_family=xunit1")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["::error file=test_specs.py,line=*,title=trainspec%3A FALSE ALARM · tiny_lr (fixed) "
         "· test_impossible::loss did not fall by 99.9%*"])
    assert result.stdout.str().count("::error ") == 1
    text = summary.read_text()
    assert "## trainspec" in text and "| tiny_lr | ⚠ false alarm | 1/2 |" in text
    cases = _testcases(specs.path / "junit.xml")
    props = {p.get("name"): p.get("value")
             for p in cases["test_impossible[tiny_lr-fixed]"].iter("property")}
    assert props["trainspec.verdict"] == "false_alarm" and props["trainspec.pair"] == "tiny_lr"
    assert props["trainspec.variant"] == "fixed" and len(props["trainspec.fingerprint"]) > 8
    broken = {p.get("name"): p.get("value")
              for p in cases["test_loss_halves[tiny_lr-broken]"].iter("property")}
    assert broken["trainspec.verdict"] == "caught" and broken["trainspec.outcome"] == "failed"
    assert not list(cases["test_no_run"].iter("property"))  # not a spec
    assert "trainspec" not in {p.get("name") for p in ET.parse(specs.path / "junit.xml").iter(
        "property")}  # the result itself no longer rides in user_properties


def _xunit2_properties(path) -> dict[str, dict]:
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    for case in suite.iter("testcase"):
        assert case.find("properties") is None  # xunit2's schema has none per testcase
    return {p.get("name"): json.loads(p.get("value")) for p in suite.find("properties")}


def test_xunit2_gets_the_properties_at_suite_level(specs):
    result = specs.runpytest("-p", "no:cacheprovider", "--junitxml", "junit.xml",
                             "-W", "error::pytest.PytestWarning")
    assert result.ret == 1
    props = _xunit2_properties(specs.path / "junit.xml")
    fixed = props["trainspec:test_specs.py::test_impossible[tiny_lr-fixed]"]
    assert fixed["verdict"] == "false_alarm" and fixed["variant"] == "fixed"
    assert props["trainspec:test_specs.py::test_loss_halves[tiny_lr-broken]"]["verdict"] == "caught"


def test_xunit2_properties_under_xdist(specs):
    result = specs.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--junitxml",
                                        "junit.xml", "--trainspec-cache", "off", timeout=900)
    assert result.ret == 1
    props = _xunit2_properties(specs.path / "junit.xml")
    assert props["trainspec:test_specs.py::test_impossible[tiny_lr-fixed]"]["verdict"] == (
        "false_alarm")
    assert props["trainspec:test_specs.py::test_loss_halves[tiny_lr-fixed]"]["verdict"] == "caught"
