"""The doctor's benchmark: detection rate, right-cause rate, false alarms and try_fixes' repair
rate, before (the doctor at ``--before``, a git ref) and after (this checkout).

Cases: the curriculum's pairs (``examples.PAIRS``, each broken side with the cause family its
``cause`` names, below), its sweep points (healthy or not, listed apart), and the pairs of
``tests/doctor/zoo.py`` (faults from DeepCrime, the ICSE 2020 taxonomy, TFBugs, AUTOTRAINER).

- detection: broken recipes with at least one finding;
- right cause: broken recipes whose primary finding (before: the first finding) is in the
  expected family (``trainspec.Symptom.family``);
- false alarms: fixed recipes with any finding;
- repair rate: broken recipes for which ``trainspec.try_fixes`` finds a healthy trial.

Runs go through the disk cache (``--cache-dir``), so a second invocation trains only repairs.
Usage: ``python benchmarks/doctor.py [--before cb4f661] [--no-fixes] [--only zoo|curriculum]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The family each curriculum pair's ``cause`` names.
CURRICULUM_FAMILY = {
    "high_learning_rate": "learning_rate", "sigmoid_vanishing": "vanishing_gradient",
    "bad_init": "initialisation", "input_noise": "data", "softmax_logits": "output_and_loss",
    "vanishing": "vanishing_gradient", "exploding": "exploding_gradient",
    "exploding_clipvalue": "exploding_gradient", "dying_relu": "dead_units",
    "dying_relu_prelu": "dead_units", "dying_relu_elu": "dead_units",
    "initialisation": "initialisation", "selu": "initialisation", "batchnorm": "data",
    "early_stopping": "regularisation",
}


def old_doctor(ref: str) -> Any:
    """The doctor module at git ``ref`` (trainspec/diagnose.py), loaded beside this one."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:trainspec/diagnose.py"],
                            check=True, capture_output=True, text=True).stdout
    # the engine became a package after that doctor was written: point its imports there
    source = source.replace("from trainspec import probes", "from trainspec.engine import probes")
    source = source.replace(
        "from trainspec.engine import _build_model, _seed",
        "from trainspec.engine.prepare import build_model as _build_model, seed_everything as _seed")
    path = Path(tempfile.mkdtemp()) / "old_diagnose.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("trainspec_old_diagnose", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def cases(only: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if only in (None, "curriculum"):
        import examples
        from examples import sweeps

        for pair in examples.PAIRS:
            out.append({"name": pair.name, "set": "curriculum", "family": CURRICULUM_FAMILY.get(
                pair.name), "broken": lambda p=pair: p.recipe("broken"),
                "fixed": lambda p=pair: p.recipe("fixed")})
        for sweep in sweeps.SWEEPS:
            for label, source in sweep.points():
                out.append({"name": f"{sweep.name}:{label}", "set": "sweep", "family": None,
                            "broken": None, "fixed": source})
    if only in (None, "zoo"):
        from tests.doctor.zoo import ZOO

        for pair in ZOO:
            out.append({"name": pair.name, "set": "zoo", "family": pair.family,
                        "broken": pair.broken, "fixed": pair.fixed})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="cb4f661", help="git ref of the doctor to compare")
    parser.add_argument("--cache-dir", default=str(ROOT / ".trainspec_cache"))
    parser.add_argument("--no-fixes", action="store_true", help="skip try_fixes")
    parser.add_argument("--only", choices=["zoo", "curriculum"])
    parser.add_argument("--json", help="write the per-case results here")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    import trainspec
    from trainspec.cache import RunCache
    from trainspec.doctor import Symptom

    RunCache(args.cache_dir, mode="on").install()
    old = old_doctor(args.before)
    console = Console(highlight=False, width=150)
    rows = []
    for case in cases(args.only):
        row: dict[str, Any] = {"name": case["name"], "set": case["set"], "family": case["family"]}
        for side in ("broken", "fixed"):
            if case[side] is None:
                continue
            try:
                recipe = case[side]() if callable(case[side]) else case[side]
                run = trainspec.train(recipe)
            except Exception as exc:  # a case that cannot train is reported, not fatal
                row[side] = {"error": f"{type(exc).__name__}: {exc}"[:300], "after": ["error"],
                             "before": ["error"], "after_family": None, "before_family": None}
                continue
            new = trainspec.diagnose(run, recipe)
            before = old.diagnose(run, recipe)
            row[side] = {
                "after": [str(s) for s in new.symptoms],
                "after_family": new.primary.family if new.primary else None,
                "before": [str(f.symptom) for f in before.findings],
                "before_family": Symptom(str(before.findings[0].symptom)).family
                if before.findings else None,
            }
            if side == "broken" and not args.no_fixes:
                trials = trainspec.try_fixes(recipe, new)
                good = next((t for t in trials if t.healthy), None)
                row["repair"] = {"tried": [t.fix.name for t in trials],
                                 "healthy": str(good.fix) if good else None,
                                 "before": good.before if good else None,
                                 "after": good.after if good else None}
        rows.append(row)
        console.print(f"{row['name']}: {json.dumps({k: v for k, v in row.items() if k != 'name'})}")

    table = Table(title="doctor benchmark (before = " + args.before + ", after = this checkout)")
    for col in ("set", "cases", "detected before", "detected after", "right cause before",
                "right cause after", "false alarms before", "false alarms after", "repaired"):
        table.add_column(col)
    summary = {}
    for name in ("curriculum", "zoo", "sweep"):
        group = [r for r in rows if r["set"] == name]
        if not group:
            continue
        broken = [r for r in group if "broken" in r]
        fixed = [r for r in group if "fixed" in r]

        def rate(items, test):
            hits = sum(1 for r in items if test(r))
            return f"{hits}/{len(items)}" if items else "-"

        stats = {
            "detected before": rate(broken, lambda r: r["broken"]["before"]),
            "detected after": rate(broken, lambda r: r["broken"]["after"]),
            "right cause before": rate(broken, lambda r: r["broken"]["before_family"] == r["family"]),
            "right cause after": rate(broken, lambda r: r["broken"]["after_family"] == r["family"]),
            "false alarms before": rate(fixed, lambda r: r["fixed"]["before"]),
            "false alarms after": rate(fixed, lambda r: r["fixed"]["after"]),
            "repaired": "-" if args.no_fixes else rate(broken, lambda r: r.get("repair", {}).get(
                "healthy")),
        }
        summary[name] = stats
        table.add_row(name, str(len(group)), *stats.values())
    console.print(table)
    flagged = [r["name"] + " " + ",".join(r["fixed"]["after"]) for r in rows
               if r["set"] == "sweep" and r["fixed"]["after"]]
    if flagged:
        console.print("sweep points with findings (after): " + "; ".join(flagged))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1,
                                              default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
