"""The doctor's benchmark: detection rate, right-cause rate, false alarms and try_fixes' repair
rate, before (the doctor at ``--before``, a git ref) and after (this checkout).

Cases: the curriculum's pairs (``examples.PAIRS``, each broken side with the cause family its
``cause`` names, below), its sweep points, and the pairs of ``tests/doctor/zoo.py`` (faults
from DeepCrime, the ICSE 2020 taxonomy, TFBugs, AUTOTRAINER).

- detection: broken recipes with at least one finding;
- right cause: broken recipes whose primary finding (before: the first finding) is in the
  expected family (``trainspec.Symptom.family``);
- false alarms: fixed recipes with any finding;
- wrong way: findings whose advice points against the measurements
  (``tests.doctor.zoo.wrong_way``), on every recipe diagnosed;
- repair rate: broken recipes for which ``trainspec.try_fixes`` finds a healthy trial.

Sweep points are judged by one rule (issue 12: zero false alarms on healthy runs).  A point
*trains well* when its final accuracy (validation if recorded) got at least half of the way
from chance to the best point of its sweep; such a point must get no finding (any finding is
a false alarm).  A point that does not *fails*: it may get findings, but only if the primary
one names the cause the sweep varies (``SWEEP_CAUSE``) and no advice points the wrong way
(for a learning-rate change: "raise" on a point above the sweep's best rate, "lower" below
it); a finding naming another cause is a false alarm too, and no finding is a miss.

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
    "early_stopping": "regularisation", "regularisation_l2": "regularisation",
    "regularisation_l1": "regularisation", "regularisation_dropout": "regularisation",
    "transfer_learning": "regularisation", "transfer_learning_fine_tuned": "regularisation",
    "momentum": "optimizer",
    "wrong_loss": "output_and_loss", "checkpointing": "regularisation",
}

#: The cause families a failing point of each sweep may be given: what the sweep varies (a
#: learning rate too high kills ReLUs: the dying_relu pair's cause, and the course's "0.1 at
#: chance with every unit dead").
SWEEP_CAUSE = {
    "learning_rate": {"learning_rate", "dead_units"},
    "optimizer": {"learning_rate", "dead_units", "optimizer"},
    "hidden_sizes": {"architecture"},
    "loss": {"output_and_loss"},
    "activation_initializer": {"activation", "vanishing_gradient", "dead_units", "initialisation"},
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
    source = source.replace("probes._layer_activation", "probes.layer_activation")
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
                            "sweep": sweep.name, "broken": None, "fixed": source})
    if only in (None, "zoo"):
        from tests.doctor.zoo import ZOO

        for pair in ZOO:
            out.append({"name": pair.name, "set": "zoo", "family": pair.family,
                        "broken": pair.broken, "fixed": pair.fixed})
    return out


def point_figures(run: Any, recipe: Any) -> dict[str, Any]:
    """A sweep point's final accuracy (validation if recorded, else the median of the last
    tenth of training), the chance level (the majority class's share) and its learning rate."""
    import numpy as np

    score = next((float(v) for k, v in run.val.items() if "acc" in k), None)
    if score is None:
        acc = next((np.asarray(v) for k, v in run.metrics.items() if "acc" in k), None)
        score = float(np.median(acc[-max(1, len(acc) // 10):])) if acc is not None else 0.0
    y = np.asarray(recipe.data[1])
    labels = y.argmax(-1) if y.ndim >= 2 and y.shape[-1] > 1 else y.reshape(len(y))
    _, counts = np.unique(labels, return_counts=True)
    return {"score": score, "chance": float(counts.max() / counts.sum()),
            "learning_rate": recipe.learning_rate, "optimizer": str(recipe.optimizer)}


def _verdict(row: dict[str, Any], best: dict[str, Any], when: str) -> str:
    symptoms = row["fixed"][when]
    family = row["fixed"][f"{when}_family"]
    fixes = row["fixed"]["fixes" if when == "after" else "before_fixes"]
    if not row["fails"]:
        return "false alarm" if symptoms else "right"
    if not symptoms:
        return "missed"
    wrong = when == "after" and bool(row["fixed"]["wrong_way"])
    lr, best_lr = row["learning_rate"], best["learning_rate"]
    if lr and best_lr and lr != best_lr and row["optimizer"] == best["optimizer"]:
        wrong_word = "raise the learning rate" if lr > best_lr else "lower the learning rate"
        wrong = wrong or any(wrong_word in fix for fix in fixes)
    if family not in SWEEP_CAUSE.get(row["sweep"], set()) or wrong:
        return "false alarm"
    return "right"


def judge_sweeps(rows: list[dict[str, Any]]) -> None:
    """Mark each sweep point ``fails`` or not and give it a verdict (module docstring)."""
    for name in {r["sweep"] for r in rows}:
        points = [r for r in rows if r["sweep"] == name]
        best = max(points, key=lambda r: r["score"])
        for r in points:
            r["best"] = best["score"]
            r["fails"] = r["score"] < r["chance"] + 0.5 * (best["score"] - r["chance"])
            r["verdict"] = _verdict(r, best, "after")
            r["verdict_before"] = _verdict(r, best, "before")


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
    from tests.doctor.zoo import wrong_way
    from trainspec.cache import RunCache
    from trainspec.doctor import Symptom

    RunCache(args.cache_dir, mode="on").install()
    old = old_doctor(args.before)
    console = Console(highlight=False, width=150)
    rows = []
    for case in cases(args.only):
        row: dict[str, Any] = {"name": case["name"], "set": case["set"], "family": case["family"],
                               "sweep": case.get("sweep")}
        for side in ("broken", "fixed"):
            if case[side] is None:
                continue
            try:
                recipe = case[side]() if callable(case[side]) else case[side]
                run = trainspec.train(recipe)
            except Exception as exc:  # a case that cannot train is reported, not fatal
                row[side] = {"error": f"{type(exc).__name__}: {exc}"[:300], "after": ["error"],
                             "wrong_way": [], "fixes": [], "before_fixes": [],
                             "before": ["error"], "after_family": None, "before_family": None}
                continue
            new = trainspec.diagnose(run, recipe)
            before = old.diagnose(run, recipe)
            if case["set"] == "sweep":
                row.update(point_figures(run, recipe))
            row[side] = {
                "wrong_way": wrong_way(new, run, recipe),
                "fixes": [fix for f in new.findings for fix in f.fixes],
                "before_fixes": [fix for f in before.findings for fix in f.fixes],
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

    judge_sweeps([r for r in rows if r["set"] == "sweep"])
    table = Table(title="doctor benchmark (before = " + args.before + ", after = this checkout)")
    for col in ("set", "cases", "detected before", "detected after", "right cause before",
                "right cause after", "false alarms before", "false alarms after",
                "wrong way after", "repaired"):
        table.add_column(col)
    summary = {}

    def rate(items, test):
        hits = sum(1 for r in items if test(r))
        return f"{hits}/{len(items)}" if items else "-"

    for name in ("curriculum", "zoo", "sweep"):
        group = [r for r in rows if r["set"] == name]
        if not group:
            continue
        if name == "sweep":
            failing = [r for r in group if r["fails"]]
            stats = {
                "detected before": rate(failing, lambda r: r["fixed"]["before"]),
                "detected after": rate(failing, lambda r: r["fixed"]["after"]),
                "right cause before": rate(failing, lambda r: r["verdict_before"] == "right"),
                "right cause after": rate(failing, lambda r: r["verdict"] == "right"),
                "false alarms before": rate(group, lambda r: r["verdict_before"] == "false alarm"),
                "false alarms after": rate(group, lambda r: r["verdict"] == "false alarm"),
                "wrong way after": rate(group, lambda r: r["fixed"]["wrong_way"]),
                "repaired": "-",
            }
        else:
            broken = [r for r in group if "broken" in r]
            fixed = [r for r in group if "fixed" in r]
            stats = {
                "detected before": rate(broken, lambda r: r["broken"]["before"]),
                "detected after": rate(broken, lambda r: r["broken"]["after"]),
                "right cause before": rate(broken, lambda r: r["family"] is not None and r[
                    "broken"]["before_family"] == r["family"]),
                "right cause after": rate(broken, lambda r: r["family"] is not None and r[
                    "broken"]["after_family"] == r["family"]),
                "false alarms before": rate(fixed, lambda r: r["fixed"]["before"]),
                "false alarms after": rate(fixed, lambda r: r["fixed"]["after"]),
                "wrong way after": rate(group, lambda r: any(
                    r.get(side, {}).get("wrong_way") for side in ("broken", "fixed"))),
                "repaired": "-" if args.no_fixes else rate(broken, lambda r: r.get(
                    "repair", {}).get("healthy")),
            }
        summary[name] = stats
        table.add_row(name, str(len(group)), *stats.values())
    console.print(table)
    for r in rows:
        if r["set"] == "sweep":
            console.print(f"sweep {r['name']}: {'fails' if r['fails'] else 'trains well'} "
                          f"(accuracy {r['score']:.3g}, chance {r['chance']:.3g}, sweep best "
                          f"{r['best']:.3g}); findings {','.join(r['fixed']['after']) or 'none'}"
                          f" -> {r['verdict']}")
    for r in rows:
        for side in ("broken", "fixed"):
            if r.get(side, {}).get("wrong_way"):
                console.print(f"wrong way: {r['name']} {side}: {r[side]['wrong_way']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1,
                                              default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
