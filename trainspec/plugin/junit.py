"""Per-test trainspec properties in pytest's JUnit XML (``--junitxml``).

A spec's verdict is known only when both sides of its pair have run, after the test's own XML
element is finished, and pytest's ``record_property`` is per test and incompatible with the
``xunit2`` family. So the controller (the only process that writes the XML, with or without
pytest-xdist) keeps each spec's JUnit node as its report arrives and, at the end of the session
and before the file is written, adds:

- ``xunit1``/``legacy``: a ``<properties>`` block in each ``<testcase>`` with
  ``trainspec.verdict``, ``trainspec.pair``, ``trainspec.variant``, ``trainspec.kind``,
  ``trainspec.outcome`` and ``trainspec.fingerprint``;
- ``xunit2`` (pytest's default; its schema has no per-testcase properties): one
  ``<property name="trainspec:<node id>" value="{json}">`` per spec in the ``<testsuite>``'s
  properties, the same fields as a JSON object.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from trainspec.plugin.results import ResultBook, SpecResult

FIELDS = ("verdict", "pair", "variant", "kind", "outcome", "fingerprint")


def properties(result: SpecResult, verdicts: dict[tuple[str, str], str]) -> dict[str, str]:
    """The trainspec properties of one spec's test (empty values left out)."""
    values = {
        "verdict": verdicts.get((result.spec, result.group or "")) if result.kind == "pair" else None,
        "pair": result.group if result.kind == "pair" else None,
        "variant": result.variant,
        "kind": result.kind,
        "outcome": result.outcome,
        "fingerprint": result.fingerprint,
    }
    return {k: str(v) for k, v in values.items() if v is not None}


class JUnitProperties:
    """Registered when ``--junitxml`` is on (controller only)."""

    def __init__(self, config: pytest.Config, book: ResultBook):
        self.config = config
        self.book = book
        self.reporters: list[tuple[SpecResult, Any]] = []

    def _xml(self) -> Any:
        from _pytest.junitxml import xml_key

        return self.config.stash.get(xml_key, None)

    def on_result(self, result: SpecResult, report: pytest.TestReport) -> None:
        """Called before pytest's JUnit plugin sees the report: keep its node."""
        xml = self._xml()
        if xml is not None and result.uses_run:
            self.reporters.append((result, xml.node_reporter(report)))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        xml = self._xml()
        if xml is None:
            return
        verdicts = {(v.spec, v.pair): v.verdict.value for v in self.book.pair_verdicts()}
        for result, reporter in self.reporters:
            props = properties(result, verdicts)
            if xml.family == "xunit2":
                xml.add_global_property(f"trainspec:{result.nodeid}", json.dumps(props))
            else:
                _add_to_testcase(reporter, {f"trainspec.{k}": v for k, v in props.items()})


def _add_to_testcase(reporter: Any, props: dict[str, str]) -> None:
    """Add properties to a JUnit node, finished (an XML element already) or not."""
    if "properties" in vars(reporter):  # still open: pytest writes them itself
        for name, value in props.items():
            reporter.add_property(name, value)
        return
    element = reporter.to_xml()
    block = element.find("properties")
    if block is None:
        block = ET.Element("properties")
        element.insert(0, block)
    for name, value in props.items():
        block.append(ET.Element("property", name=name, value=value))
