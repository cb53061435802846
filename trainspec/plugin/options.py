"""The ``--trainspec-*`` command-line options, their ini twins, and how a setting is read
(the command line wins over the ini file; choices are checked for ini values too)."""

from __future__ import annotations

from typing import Any

import pytest

#: ``summary`` (default): tables, one summary line, panels only for what needs attention;
#: ``full``: a panel for every outcome; ``problems``: only problems; ``off``.
REPORT_MODES = ("summary", "full", "problems", "off")
PROGRESS_MODES = ("auto", "on", "off")
CACHE_MODES = ("on", "off", "read", "write")


def _add(group: Any, parser: pytest.Parser, name: str, help: str, ini_help: str,
         ini_default: Any = "", ini_type: Any = None, **kwargs: Any) -> None:
    """``--trainspec-<name>`` and its ini twin ``trainspec_<name>`` (read with :func:`option`:
    the command line wins)."""
    dest = f"trainspec_{name.replace('-', '_')}"
    group.addoption(f"--trainspec-{name}", dest=dest, default=None, help=f"{help} (ini: {dest}).",
                    **kwargs)
    parser.addini(dest, ini_help, type=ini_type, default=ini_default)


def add_options(parser: pytest.Parser) -> None:
    """Declare every ``--trainspec-*`` option and its ini twin."""
    group = parser.getgroup("trainspec", "trainspec: training specs")
    _add(group, parser, "json", "write every spec result as JSON to PATH",
         "write every spec result as JSON to this path", metavar="PATH")
    _add(group, parser, "html", "write the report as one self-contained HTML file to PATH (pair "
         "table, broken and fixed curves, specs, the doctor's finding, sweep charts)",
         "write the HTML report to this path", metavar="PATH")
    _add(group, parser, "report", "Rich report at the end: summary (default: the pair and "
         "sweep tables, one summary line, and a panel for each miss, false alarm, error or "
         "failure), full (a panel for every caught bug too), problems (only what needs "
         "attention) or off", "summary, full, problems or off", "summary", choices=REPORT_MODES)
    _add(group, parser, "mutate", "also run every spec applied to a pair on the mutants of the "
         "pair's fixed recipe and report which mutants each spec kills; never changes the exit "
         "status", "run specs on mutants of fixed recipes", False, "bool", action="store_true")
    _add(group, parser, "mutate-operators", "with --trainspec-mutate: the mutation operators to "
         "sample from, comma-separated, or all (default)",
         "mutation operators to sample from, or all", "all", metavar="NAMES")
    _add(group, parser, "mutate-max", "with --trainspec-mutate: operators per distinct fixed "
         "recipe, sampled with a seed from the recipe's name (default 2; 0 or all: every "
         "operator)", "mutation operators per fixed recipe (0: all)", "2", metavar="N")
    parser.addini("trainspec_doctor", "doctor thresholds, one 'name = value' per line",
                  type="linelist", default=[])
    _add(group, parser, "tensorboard", "write every run as TensorBoard event files under DIR, "
         "one directory per <pair>/<variant>", "write every run as TensorBoard event files here",
         metavar="DIR")
    _add(group, parser, "progress", "a self-erasing status line naming the run being trained and "
         "its steps: auto (default: on an interactive terminal unless -q), on or off",
         "auto, on or off", "auto", choices=PROGRESS_MODES)
    _add(group, parser, "cache", "the on-disk run cache: on (default: use and write entries), "
         "off, read (use entries, never write) or write (always train, refresh entries)",
         "run cache: on, off, read or write", "on", choices=CACHE_MODES)
    _add(group, parser, "cache-dir", "the run cache folder (default: $TRAINSPEC_CACHE_DIR, else "
         "the ini option, else .trainspec_cache in the rootdir)",
         "run cache folder, relative to the rootdir", metavar="DIR")
    _add(group, parser, "update-baselines", "record missing trajectory baselines and rewrite "
         "those a run no longer matches (the baseline fixture); the summary lists the files "
         "written", "record missing and rewrite changed baselines", False, "bool",
         action="store_true")
    _add(group, parser, "baseline-seeds", "seeds a seed-envelope baseline is recorded with "
         "(default 5)", "seeds a seed-envelope baseline is recorded with", "5", metavar="K")
    _add(group, parser, "student", "student mode: progress, then the first failing exercise "
         "with a hint (on automatically in an exercise workspace)", "student mode", False,
         "bool", action="store_true")
    _add(group, parser, "hint", "student mode: show hint N of the failing exercise's ladder "
         "(default: one more hint each time the exercise fails)", "hint level to show",
         metavar="N")
    _add(group, parser, "grade", "write a Gradescope results.json to PATH (points and hidden "
         "specs from @pytest.mark.trainspec(points=..., hidden=...))",
         "write a Gradescope results.json to this path", metavar="PATH")
    _add(group, parser, "timeout", "end a spec (with the run it trains) that has not finished "
         "after SECONDS as an error; the session goes on to its report (default: no limit)",
         "seconds before a spec is ended as an error (empty: no limit)", metavar="SECONDS")
    _add(group, parser, "mlflow", "log every run of the session to MLflow at URI: a file: store "
         "(file:./mlruns) or a tracking server (http://host:port); needs the mlflow extra",
         "log every run to this MLflow tracking URI", metavar="URI")
    group.addoption(
        "--trainspec-clear-cache",
        dest="trainspec_clear_cache",
        action="store_true",
        default=False,
        help="delete every run cache entry before the session starts.",
    )


def option(config: pytest.Config, name: str) -> Any:
    """A trainspec setting: the command-line value, else the ini value."""
    value = config.getoption(name, None)
    return value if value not in (None, "") else config.getini(name)


def choice(config: pytest.Config, name: str, modes: tuple[str, ...]) -> str:
    """The setting ``name``, which must be one of ``modes`` (an ini value is not checked by
    argparse)."""
    value = option(config, name)
    if value not in modes:
        raise pytest.UsageError(f"{name} must be one of {', '.join(modes)}, not {value!r}")
    return value
