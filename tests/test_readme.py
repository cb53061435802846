"""README's example outputs are real: each block marked

    <!-- readme-output cwd=DIR part=PART: COMMAND -->

is what COMMAND prints (run in DIR at 80 columns, with the run cache off); PART picks the
assertion lines of a failure (``assertion``), the trainspec report (``report``) or all of it.
``TRAINSPEC_UPDATE_README=1 python -m pytest tests/test_readme.py`` rewrites the blocks.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARK = re.compile(
    r"<!-- readme-output cwd=(?P<cwd>\S+) part=(?P<part>\w+): (?P<command>.+?) -->\n"
    r"```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


def blocks() -> list[re.Match[str]]:
    return list(MARK.finditer(README.read_text()))


def run(command: str, cwd: str) -> str:
    words = shlex.split(command)
    if words[0] == "pytest":
        argv = [sys.executable, "-m", "pytest", *words[1:], "-p", "no:cacheprovider",
                "--trainspec-cache", "off"]
    elif words[0] == "trainspec":
        argv = [sys.executable, "-c", "import sys; from trainspec.cli import main; "
                "sys.exit(main())", *words[1:]]
    else:
        raise ValueError(f"README: unknown command {command!r}")
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    env.pop("GITHUB_STEP_SUMMARY", None)
    done = subprocess.run(argv, cwd=ROOT / cwd, env=env, capture_output=True, text=True,
                          timeout=900)
    return done.stdout


def part_of(output: str, part: str) -> str:
    lines = output.splitlines()
    if part == "assertion":
        picked = [line[1:] for line in lines if line.startswith("E ")]
        indent = min(len(line) - len(line.lstrip()) for line in picked if line.strip())
        picked = [line[indent:] for line in picked]
    elif part == "report":
        start = next(i for i, line in enumerate(lines) if "trainspec report" in line)
        end = next(i for i in range(start, len(lines)) if lines[i].startswith("====="))
        picked = lines[start:end]
    elif part == "all":
        picked = lines
    else:
        raise ValueError(f"README: unknown part {part!r}")
    while picked and not picked[-1].strip():
        picked.pop()
    return "\n".join(line.rstrip() for line in picked) + "\n"


@pytest.mark.parametrize("index", range(len(blocks())),
                         ids=[m["command"] for m in blocks()])
def test_readme_output_matches_the_program(index):
    block = blocks()[index]
    actual = part_of(run(block["command"], block["cwd"]), block["part"])
    if os.environ.get("TRAINSPEC_UPDATE_README"):
        text = README.read_text()
        current = blocks()[index]
        README.write_text(text[:current.start("body")] + actual + text[current.end("body"):])
        return
    expected = "\n".join(line.rstrip() for line in block["body"].splitlines()) + "\n"
    assert actual == expected, (
        f"README's output of `{block['command']}` is stale; regenerate it with "
        "TRAINSPEC_UPDATE_README=1 python -m pytest tests/test_readme.py")


def test_readme_marks_its_generated_blocks():
    commands = [m["command"] for m in blocks()]
    assert any(c.startswith("pytest") for c in commands)
    assert any(c.startswith("trainspec doctor") for c in commands)
