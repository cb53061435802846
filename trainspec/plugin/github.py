"""GitHub Actions: a Markdown summary for the job page and ``::error`` annotations.

When ``GITHUB_STEP_SUMMARY`` names a file, the session appends a Markdown summary to it (the
pair table and the specs that need attention, kept under GitHub's 1 MiB limit); when
``GITHUB_ACTIONS=true``, it prints at most 10 ``::error file=...,line=...::`` workflow
commands, one per failing spec, most important first, so they show on the pull request's diff.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

from trainspec.constants import Verdict
from trainspec.plugin.names import spec_names
from trainspec.plugin.report import VERDICT_STYLE, _panel_specs, by_pair, pair_verdict, summary_line
from trainspec.plugin.results import ResultBook, SpecResult

#: GitHub refuses step summaries over 1 MiB; stay well below with the other steps' output.
SUMMARY_LIMIT = 512 * 1024
#: GitHub shows at most 10 error annotations per step.
MAX_ANNOTATIONS = 10

#: Order of importance: a bug the specs miss first, then false alarms, errors, failing specs.
_RANK = {"MISSED": 0, "FALSE ALARM": 1, "ERROR": 2, "FAILED": 3}


def problems(book: ResultBook) -> list[tuple[str, SpecResult, str]]:
    """(title, result, message) of everything that needs attention, most important first."""
    items = [(p.title, p.result, (p.message or _message(p.result))) for p in
             _panel_specs(book, "problems")]
    return sorted(items, key=lambda item: _RANK.get(item[0].split(" · ", 1)[0], 9))


def _message(result: SpecResult) -> str:
    from trainspec.plugin.report import _measured

    details = result.details or {}
    if details.get("what"):
        return (f"{details['what']}: measured {_measured(details)}, required "
                f"{details.get('required')}")
    return (result.message or result.outcome).strip()


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_summary(book: ResultBook, limit: int = SUMMARY_LIMIT) -> str:
    """The session as GitHub-flavoured Markdown, at most ``limit`` bytes.

    Example:
        >>> from trainspec.plugin.results import ResultBook
        >>> markdown_summary(ResultBook()).startswith("## trainspec")
        True
    """
    text = "\n".join(["## trainspec", "", summary_line(book).plain, ""]) + "\n"
    verdicts = book.pair_verdicts()
    if verdicts:
        names = spec_names(list(OrderedDict.fromkeys(v.spec for v in verdicts)))
        text += "| pair | verdict | caught by | not caught by |\n|---|---|---:|---|\n"
        pairs = list(by_pair(verdicts).items())
        for i, (pair, items) in enumerate(pairs):
            caught = sum(v.verdict is Verdict.CAUGHT for v in items)
            others = ", ".join(f"{names[v.spec]} ({v.verdict.value.replace('_', ' ')})"
                               for v in items if v.verdict is not Verdict.CAUGHT)
            row = (f"| {_cell(pair)} | {VERDICT_STYLE[pair_verdict(items)][0]} | "
                   f"{caught}/{len(items)} | {_cell(_cap(others or '—'))} |\n")
            if len((text + row).encode()) > limit // 2:  # half for the problems below
                text += f"\n… and {len(pairs) - i} more pairs (see the job log)\n"
                break
            text += row
        text += "\n"
    found = problems(book)
    if found:
        text += "### Needs attention\n\n"
    for i, (title, result, message) in enumerate(found):
        entry = (f"- **{_cell(title)}**: {_cell(_cap(message))}  \n"
                 f"  `pytest \"{result.nodeid}\"` (seed {result.seed})\n")
        tail = f"\n… and {len(found) - i} more (see the job log)\n"
        if len((text + entry + tail).encode()) > limit:
            text += tail
            break
        text += entry
    return text


def _cap(text: str, length: int = 400) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(book: ResultBook, limit: int = MAX_ANNOTATIONS) -> list[str]:
    """``::error file=...,line=...,title=...::message`` lines for the failing specs, most
    important first, at most ``limit``."""
    out = []
    for title, result, message in problems(book)[:limit]:
        where = []
        if result.file:
            where.append(f"file={_escape_property(result.file)}")
            if result.line:
                where.append(f"line={result.line}")
        where.append(f"title={_escape_property('trainspec: ' + title)}")
        body = f"{message}\nreproduce: pytest \"{result.nodeid}\" (seed {result.seed})"
        out.append(f"::error {','.join(where)}::{_escape_data(body)}")
    return out


def report_to_github(book: ResultBook, write_line: Any) -> None:
    """Append the step summary and print the annotations when running on GitHub Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        try:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(markdown_summary(book) + "\n")
        except OSError as exc:
            write_line(f"trainspec: could not append the GitHub step summary to {path}: {exc}")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in annotations(book):
            write_line(line)
