"""Log every run of the session to MLflow, as the course's MLflow notebook records its
experiments (``--trainspec-mlflow URI``).

One MLflow run per trainspec run and experiment: the experiment is the pair or sweep the run
belongs to (lone recipes and plain tests: the spec module), so a run shared by a pair and a
sweep appears in both, once in each.  Each MLflow run has

- params from the recipe: optimizer (and its settings), learning rate, loss, batch size, steps,
  seed, ``eval_every``, training samples, the model builder and a one-line model summary;
- metrics at every step: ``loss``, ``metrics/<name>``, ``grad_norm/<layer>``, and
  ``val/<name>`` at each evaluation (at the last step for runs evaluated once, at the end),
  and ``val_final/<name>``: the model kept at the end (after a checkpoint or early-stopping
  restore), at the last step;
- tags: ``trainspec.kind`` (pair, sweep, recipe, mutant, plain), ``trainspec.pair`` or
  ``trainspec.sweep``, ``trainspec.variant``, ``trainspec.fingerprint``, ``trainspec.seed``,
  ``trainspec.from_cache`` (``true`` for runs read from the run cache), and once the session
  ends ``trainspec.spec.<spec>`` (what each spec did on it) and, for pair sides,
  ``trainspec.verdict.<spec>`` and ``trainspec.verdicts`` (e.g. ``caught 3/3``);
- artifacts: ``tensorboard/`` (the run's event files, as ``--trainspec-tensorboard`` writes
  them), ``run.json`` (the run's summary) and ``trainspec-result.json`` (every spec result on
  it, with the pair verdicts).

The process that runs a spec logs the runs it used (so pytest-xdist workers log their own);
who logs a run is decided by creating a claim file in a folder the controller makes, so under
``-n 2`` no run is logged twice and none is missed.  The controller adds the spec outcomes,
verdicts and the JSON artifact at the end, from the results every worker reported.

MLflow is imported when the first run is logged, never while pytest collects.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import tempfile
import time
import uuid
import warnings
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from trainspec import events
from trainspec.environment import json_safe
from trainspec.plugin.keys import RUNS_KEY, TARGET_KEY
from trainspec.plugin.observe import plain_nodeid
from trainspec.plugin.results import ResultBook, SpecResult

INSTALL_HINT = 'pip install -e ".[mlflow]"  (or: pip install "mlflow>=2.10")'
#: How long a process waits for another one to finish logging a run it claimed.
_CLAIM_WAIT = 120.0
#: MLflow accepts at most 1000 metrics per ``log_batch`` call.
_BATCH = 1000


class MlflowWarning(UserWarning):
    """A run could not be logged to MLflow (the tracker is unreachable or refused it)."""


def require_mlflow(option_name: str = "--trainspec-mlflow") -> None:
    """Raise a usage error naming the install command when MLflow is missing (without
    importing it)."""
    if importlib.util.find_spec("mlflow") is None:
        raise pytest.UsageError(f"{option_name} needs MLflow, which is not installed: {INSTALL_HINT}")


def tracking_uri(value: str, base: Path) -> str:
    """The MLflow tracking URI for ``value``: a ``file:`` URI or a plain path becomes an absolute
    ``file://`` URI (relative to ``base``, the directory pytest was started in); anything else
    (``http://host:port``, ``sqlite:///...``, ``databricks``) is passed through.

    Example:
        >>> from pathlib import Path
        >>> tracking_uri("file:./mlruns", Path("/work")).removeprefix("file://")
        '/work/mlruns'
        >>> tracking_uri("http://127.0.0.1:5000", Path("/work"))
        'http://127.0.0.1:5000'
    """
    if value.startswith("file://"):
        return value
    if value.startswith("file:"):
        value = value.removeprefix("file:")
    elif "://" in value or value.split(":", 1)[0] == "databricks":
        return value
    path = Path(value)
    if not path.is_absolute():
        path = base / path
    return path.resolve().as_uri()


def experiment_name(kind: str | None, group: str | None, nodeid: str) -> str:
    """The experiment a run is logged in: its pair or sweep (mutants: their pair), else the
    spec module's name.

    Example:
        >>> experiment_name("pair", "high_learning_rate", "specs/test_general.py::t[x]")
        'high_learning_rate'
        >>> experiment_name("plain", None, "specs/test_sweeps.py::test_orderings")
        'test_sweeps'
    """
    if kind in ("pair", "sweep", "mutant") and group:
        return group
    return Path(nodeid.split("::", 1)[0]).stem or "trainspec"


def _recipe_params(recipe: Any, run: Any) -> dict[str, str]:
    params: dict[str, Any] = {}
    if recipe is not None:
        optimizer = recipe.optimizer
        if isinstance(optimizer, str):
            params["optimizer"] = optimizer
        elif isinstance(optimizer, dict):
            params["optimizer"] = optimizer.get("name", optimizer.get("class_name"))
            extra = {k: v for k, v in optimizer.items() if k not in ("name", "class_name")}
            if extra:
                params["optimizer_config"] = json.dumps(extra, sort_keys=True, default=repr)
        elif optimizer is not None:
            params["optimizer"] = type(optimizer).__name__
        params["learning_rate"] = recipe.learning_rate
        params["batch_size"] = recipe.batch_size
        params["steps"] = recipe.steps
        params["seed"] = recipe.seed
        params["eval_every"] = recipe.eval_every
        from trainspec.nested import n_samples

        params["train_samples"] = n_samples(recipe.split()[0][0])  # x: one array or several
        params["validation"] = recipe.has_validation
        params["callbacks"] = ", ".join(type(c).__name__ for c in recipe.callbacks) or None
        params["train_step"] = getattr(recipe.train_step, "__qualname__", None)
        model = recipe.model
        params["model"] = getattr(model, "__qualname__", None) or getattr(model, "name", None)
    else:
        params.update(batch_size=run.batch_size, steps=run.steps_requested, seed=run.seed)
    params["loss"] = run.loss_name
    params["model_summary"] = model_summary(run)
    return {k: str(v)[:500] for k, v in params.items() if v is not None}


def model_summary(run: Any) -> str:
    """One line naming the run's trainable layers, their parameter counts and the output.

    Example:
        >>> model_summary(run)                                               # doctest: +SKIP
        'Dense(100480) > Dense(16512) > Dense(1290), 118282 params, softmax output'
    """
    layers = run.layers.list()
    parts = [f"{t.class_name}({t.n_params})" for t in layers]
    total = sum(t.n_params for t in layers)
    text = " > ".join(parts) + f", {total} trainable params"
    if run.output_activation:
        text += f", {run.output_activation} output"
    return text


def step_metrics(run: Any) -> list[tuple[str, float, int]]:
    """``(key, value, step)`` for the loss, every metric, every layer's gradient norm and every
    validation value, finite values only.

    Example:
        >>> step_metrics(run)[0]                                             # doctest: +SKIP
        ('loss', 2.3026, 0)
    """
    out: list[tuple[str, float, int]] = []

    def put(key: str, series: Any) -> None:
        for step, value in zip(series.steps, series, strict=True):
            value = float(value)
            if math.isfinite(value):
                out.append((key, value, int(step)))

    put("loss", run.loss)
    for name, series in run.metrics.items():
        put(f"metrics/{name}", series)
    for layer in run.layers.list():
        put(f"grad_norm/{layer.name}", layer.grad_norm)
    for name, series in run.val_history.items():
        put(f"val/{name.removeprefix('val_')}", series)
    last = int(run.loss.steps[-1]) if len(run.loss) else 0
    for name, value in run.val.items():  # evaluated after training (and any restore)
        if not math.isfinite(value):
            continue
        short = name.removeprefix("val_")
        if name not in run.val_history:
            out.append((f"val/{short}", float(value), last))
        out.append((f"val_final/{short}", float(value), last))
    return out


class MlflowHook:
    """pytest plugin object registered by ``--trainspec-mlflow``: logs every run a spec (or
    plain test) used, once per experiment, and finishes them at the end of the session."""

    def __init__(self, config: pytest.Config, uri: str):
        self.config = config
        self.uri = uri
        if uri.startswith("file:"):
            # MLflow 3 refuses its file store unless asked: the user asked, with a file: URI
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.is_worker = hasattr(config, "workerinput")
        workerinput = getattr(config, "workerinput", {})
        self.session = workerinput.get("trainspec_mlflow_session") or uuid.uuid4().hex[:12]
        claims = workerinput.get("trainspec_mlflow_claims")
        self.owns_claims = claims is None
        self.claims = Path(claims) if claims else Path(tempfile.mkdtemp(prefix="trainspec-mlflow-"))
        #: recipes seen by the engine, by run fingerprint (for the params)
        self.recipes: dict[str, Any] = {}
        #: MLflow run ids this process knows, by claim key
        self.known: dict[str, str] = {}
        self._client: Any = None
        self._experiments: dict[str, str] = {}
        events.LISTENERS.append(self._on_run)

    # -- MLflow ---------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def _experiment_id(self, name: str) -> str:
        """The experiment's id, created by exactly one process (a store does not always refuse
        a second experiment of the same name when two workers create it at once)."""
        if name not in self._experiments:
            client = self.client
            found = client.get_experiment_by_name(name)
            if found is not None:
                experiment_id = found.experiment_id
            else:
                key = f"experiments/{sha256(name.encode()).hexdigest()[:24]}"
                (self.claims / "experiments").mkdir(exist_ok=True)
                if self._claim(key):
                    found = client.get_experiment_by_name(name)
                    experiment_id = (found.experiment_id if found is not None
                                     else client.create_experiment(name))
                    (self.claims / key).write_text(f"{experiment_id}\n")
                else:
                    claimed = self._claimed_run_id(key)
                    if claimed is None:
                        raise RuntimeError(f"another process did not create experiment {name!r}")
                    experiment_id = claimed
            self._experiments[name] = experiment_id
        return self._experiments[name]

    # -- claims: exactly one process logs each (experiment, run) ---------------------------------

    @staticmethod
    def claim_key(experiment: str, fingerprint: str) -> str:
        return sha256(f"{experiment}\0{fingerprint}".encode()).hexdigest()[:24]

    def _claim(self, key: str) -> bool:
        try:
            os.close(os.open(self.claims / key, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except FileExistsError:
            return False

    def _claimed_run_id(self, key: str, wait: float = _CLAIM_WAIT) -> str | None:
        path = self.claims / key
        deadline = time.monotonic() + wait
        while True:
            try:
                text = path.read_text().strip()
            except FileNotFoundError:
                return None
            if text:
                return text.split()[0]
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    # -- logging a run ------------------------------------------------------------------------

    def _on_run(self, recipe: Any, run: Any) -> None:
        self.recipes[run.fingerprint] = recipe

    def log(self, run: Any, experiment: str, tags: dict[str, str]) -> str | None:
        """Log ``run`` in ``experiment`` unless some process already did; its run id."""
        key = self.claim_key(experiment, run.fingerprint)
        if key in self.known:
            return self.known[key]
        if not self._claim(key):
            run_id = self._claimed_run_id(key)
            if run_id:
                self.known[key] = run_id
            return run_id
        run_id = self._create(run, experiment, tags)
        path = self.claims / key
        path.write_text(f"{run_id} {experiment} {run.fingerprint}\n")
        self.known[key] = run_id
        return run_id

    def _create(self, run: Any, experiment: str, tags: dict[str, str]) -> str:
        from mlflow.entities import Metric, Param, RunTag

        client = self.client
        all_tags = {
            "trainspec.session": self.session,
            "trainspec.fingerprint": run.fingerprint,
            "trainspec.label": run.label,
            "trainspec.seed": str(run.seed),
            "trainspec.from_cache": "true" if run.from_cache else "false",
            "trainspec.finite": "true" if run.finite else "false",
            **tags,
        }
        name = tags.get("trainspec.variant") or run.label
        created = client.create_run(self._experiment_id(experiment), run_name=name, tags=all_tags)
        run_id = created.info.run_id
        params = _recipe_params(self.recipes.get(run.fingerprint), run)
        stamp = int(time.time() * 1000)
        metrics = [Metric(key, value, stamp, step) for key, value, step in step_metrics(run)]
        client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
        for start in range(0, len(metrics), _BATCH):
            client.log_batch(run_id, metrics=metrics[start:start + _BATCH])
        summary = run.summary()
        finals = [RunTag("trainspec.steps_recorded", str(run.steps_recorded))]
        if run.stopped_early_at is not None:
            finals.append(RunTag("trainspec.stopped_early_at", str(run.stopped_early_at)))
        client.log_batch(run_id, tags=finals)
        folder = Path(tempfile.mkdtemp(prefix="trainspec-mlflow-run-"))
        try:
            from trainspec.plugin.tensorboard import write_run

            write_run(run, folder / "tensorboard")
            client.log_artifacts(run_id, str(folder / "tensorboard"), "tensorboard")
            (folder / "run.json").write_text(json.dumps(json_safe(summary), indent=2) + "\n")
            client.log_artifact(run_id, str(folder / "run.json"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return run_id

    def _tags_for(self, target: Any) -> dict[str, str]:
        if target is None:
            return {"trainspec.kind": "plain"}
        tags = {"trainspec.kind": target.kind, "trainspec.variant": target.variant}
        if target.kind in ("pair", "mutant"):
            tags["trainspec.pair"] = target.group
        elif target.kind == "sweep":
            tags["trainspec.sweep"] = target.group
        owner = target.owner
        alias = getattr(owner, "alias", None)
        if alias:
            tags["trainspec.alias"] = str(alias)
        return tags

    # -- hooks ----------------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Controller, pytest-xdist: workers share the session id and the claims folder."""
        node.workerinput["trainspec_mlflow_session"] = self.session
        node.workerinput["trainspec_mlflow_claims"] = str(self.claims)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if call.when == "call":
            self.log_item(item)
        return report

    def log_item(self, item: pytest.Item) -> None:
        """Log the runs ``item`` used (each once per experiment and session)."""
        runs = item.stash.get(RUNS_KEY, [])
        if not runs:
            return
        target = item.stash.get(TARGET_KEY, None)
        nodeid = plain_nodeid(item.nodeid)
        kind = target.kind if target is not None else "plain"
        experiment = experiment_name(kind, target.group if target else None, nodeid)
        for i, run in enumerate(runs):
            # a spec's first run is its target's; any others it trained itself are plain runs
            tags = self._tags_for(target if i == 0 else None)
            if i > 0 or target is None:
                tags["trainspec.test"] = nodeid.split("[", 1)[0]
            try:
                self.log(run, experiment, tags)
            except Exception as exc:  # the spec's own result must not depend on the tracker
                warnings.warn(MlflowWarning(
                    f"could not log run {run.label!r} to MLflow at {self.uri}: "
                    f"{type(exc).__name__}: {str(exc)[:300]}"), stacklevel=1)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            return
        book = ResultBook()
        hooks = self.config.pluginmanager.get_plugin("trainspec-session")
        if hooks is not None:
            book = hooks.book
        finish_runs(self.client if self._any_claims() else None, self.claims, book)
        if self.owns_claims:
            shutil.rmtree(self.claims, ignore_errors=True)

    def _any_claims(self) -> bool:
        return self.claims.exists() and any(p.is_file() for p in self.claims.iterdir())

    def pytest_unconfigure(self) -> None:
        if self._on_run in events.LISTENERS:
            events.LISTENERS.remove(self._on_run)


def finish_runs(client: Any, claims: Path, book: ResultBook) -> int:
    """Controller, end of session: add every spec's outcome, the pair verdicts and the JSON
    result to the runs logged this session, and mark them finished; how many runs."""
    if client is None:
        return 0
    entries = []
    for path in sorted(claims.iterdir()):
        if not path.is_file():
            continue  # experiments/: who created each experiment
        parts = path.read_text().split()
        if len(parts) == 3:
            entries.append(tuple(parts))
    verdicts = {(v.spec, v.pair): v.verdict.value for v in book.pair_verdicts()}
    by_run: dict[tuple[str, str], list[SpecResult]] = {}
    for result in book.results:
        experiment = experiment_name(result.kind, result.group, result.nodeid)
        for entry in result.runs:
            by_run.setdefault((experiment, entry["fingerprint"]), []).append(result)
    from mlflow.entities import RunTag

    for run_id, experiment, fingerprint in entries:
        results = by_run.get((experiment, fingerprint), [])
        tags = {}
        specs = []
        for r in results:
            name = r.spec.rsplit("::", 1)[-1]
            tags[f"trainspec.spec.{name}"] = r.outcome
            verdict = verdicts.get((r.spec, r.group)) if r.kind == "pair" else None
            if verdict is not None:
                tags[f"trainspec.verdict.{name}"] = verdict
            specs.append({**r.to_json(), "verdict": verdict})
        pair_verdicts = [s["verdict"] for s in specs if s["verdict"] is not None]
        if pair_verdicts:
            caught = pair_verdicts.count("caught")
            tags["trainspec.verdicts"] = f"caught {caught}/{len(pair_verdicts)}"
        if tags:
            client.log_batch(run_id, tags=[RunTag(k, v[:5000]) for k, v in tags.items()])
        folder = Path(tempfile.mkdtemp(prefix="trainspec-mlflow-json-"))
        try:
            document = {"schema": "trainspec-mlflow-run", "version": 1, "experiment": experiment,
                        "fingerprint": fingerprint, "specs": specs}
            (folder / "trainspec-result.json").write_text(
                json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n")
            client.log_artifact(run_id, str(folder / "trainspec-result.json"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        client.set_terminated(run_id, "FINISHED")
    return len(entries)



__all__ = ["MlflowHook", "MlflowWarning", "experiment_name", "finish_runs", "model_summary", "require_mlflow",
           "step_metrics", "tracking_uri"]
