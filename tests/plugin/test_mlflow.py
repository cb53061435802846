"""--trainspec-mlflow: every run of the session logged to MLflow (a ``file:`` store and a real
``mlflow server``), read back with ``MlflowClient``."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from tests.conftest import TINY_SPECS

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

SPECS = TINY_SPECS + textwrap.dedent(
    """
    SLOW = trainspec.Pair("tiny_lr", broken=recipe(learning_rate=1e-5), fixed=recipe(),
                          cause="learning rate 1e-5", fix="0.1")
    SWEEP = trainspec.Sweep("lr", base=recipe(steps=30), over="learning_rate", values=[0.1, 0.01])

    @trainspec.applies_to(SLOW)
    def test_loss_falls(run):
        assert run.loss.relative_decrease() >= 0.3

    @trainspec.applies_to(SLOW, SWEEP)
    def test_finite(run):
        trainspec.expect(run).to_be_finite()

    def test_plain_comparison():
        # a plain test training a recipe of its own (and one a pair already used)
        other = trainspec.train(recipe(optimizer={"name": "sgd", "momentum": 0.9}, steps=20))
        assert trainspec.train(recipe()).loss.last < other.loss.first
    """
)


@pytest.fixture(autouse=True)
def _file_store_allowed(monkeypatch):
    # MLflow 3 opens a file store only when asked (the plugin asks for its own writes)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


ARGS = ("-p", "no:cacheprovider", "--trainspec-progress=off", "--trainspec-report=off")


def runs_of(client: MlflowClient, name: str) -> dict[str, object]:
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None, name
    return {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}


def all_runs(client: MlflowClient) -> list:
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, max_results=1000)


def test_file_store_holds_every_run_with_params_metrics_tags_and_artifacts(pytester, tmp_path):
    pytester.makepyfile(test_specs=SPECS)
    store = tmp_path / "mlruns"
    # each session in its own process, as a user runs them: no memo or state from other tests
    result = pytester.runpytest_subprocess(*ARGS, "--trainspec-mlflow", f"file:{store}")
    result.assert_outcomes(passed=5, xfailed=1, failed=1)
    client = MlflowClient(tracking_uri=store.as_uri())

    pair = runs_of(client, "tiny_lr")
    assert sorted(pair) == ["broken", "fixed"]
    fixed = pair["fixed"]
    assert fixed.info.status == "FINISHED"
    params = fixed.data.params
    assert params["optimizer"] == "sgd" and float(params["learning_rate"]) == 0.1
    assert (params["batch_size"], params["steps"], params["seed"]) == ("32", "60", "0")
    assert params["loss"] == "sparse_categorical_crossentropy"
    assert "Dense(24)" in params["model_summary"] and "softmax output" in params["model_summary"]
    tags = fixed.data.tags
    assert tags["trainspec.pair"] == "tiny_lr" and tags["trainspec.variant"] == "fixed"
    assert tags["trainspec.kind"] == "pair" and tags["trainspec.from_cache"] == "false"
    assert len(tags["trainspec.fingerprint"]) == 32
    assert tags["trainspec.spec.test_loss_falls"] == "passed"
    assert tags["trainspec.verdict.test_loss_falls"] == "caught"
    assert tags["trainspec.verdict.test_finite"] == "missed"  # the broken run is finite too
    assert tags["trainspec.verdicts"] == "caught 1/2"
    assert pair["broken"].data.tags["trainspec.spec.test_loss_falls"] == "failed"

    loss = client.get_metric_history(fixed.info.run_id, "loss")
    assert [m.step for m in loss] == list(range(60))
    assert loss[-1].value < loss[0].value
    assert {"metrics/accuracy", "grad_norm/dense", "grad_norm/dense_1"} <= set(fixed.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(fixed.info.run_id)}
    assert {"tensorboard", "run.json", "trainspec-result.json"} <= artifacts
    assert client.list_artifacts(fixed.info.run_id, "tensorboard")
    document = mlflow.artifacts.load_dict(f"{fixed.info.artifact_uri}/trainspec-result.json")
    assert sorted(s["spec"].rsplit("::", 1)[-1] for s in document["specs"]) == [
        "test_finite", "test_loss_falls"]

    sweep = runs_of(client, "lr")
    assert sorted(sweep) == ["learning_rate=0.01", "learning_rate=0.1"]
    assert sweep["learning_rate=0.01"].data.tags["trainspec.sweep"] == "lr"
    # the plain test's two runs, in the module's experiment; one is the pair's fixed run
    plain = client.search_runs([client.get_experiment_by_name("test_specs").experiment_id])
    assert len(plain) == 2
    momentum = next(r for r in plain if r.data.params["steps"] == "20")
    assert momentum.data.params["optimizer_config"] == '{"momentum": 0.9}'
    assert momentum.data.tags["trainspec.kind"] == "plain"
    assert len(all_runs(client)) == 6  # one MLflow run per run and experiment

    # again, warm: the runs come from the run cache and are logged too, marked
    again = pytester.runpytest_subprocess(*ARGS, "--trainspec-mlflow", f"file:{store}")
    again.assert_outcomes(passed=5, xfailed=1, failed=1)
    runs = all_runs(client)
    assert len(runs) == 12
    sessions = {r.data.tags["trainspec.session"] for r in runs}
    assert len(sessions) == 2
    cached = [r for r in runs if r.data.tags["trainspec.from_cache"] == "true"]
    assert len(cached) == 6
    assert {r.data.tags["trainspec.fingerprint"] for r in cached} == {
        r.data.tags["trainspec.fingerprint"] for r in runs if r not in cached}


def test_ini_option_and_a_relative_file_uri(pytester):
    pytester.makepyfile(test_specs=TINY_SPECS + textwrap.dedent(
        """
        def test_one():
            assert trainspec.train(recipe(steps=10)).steps_recorded == 10
        """))
    pytester.makeini("[pytest]\ntrainspec_mlflow = file:./store\n")
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)
    client = MlflowClient(tracking_uri=(pytester.path / "store").as_uri())
    [run] = all_runs(client)
    assert run.data.params["steps"] == "10" and run.data.tags["trainspec.kind"] == "plain"


def test_without_mlflow_the_option_says_how_to_install_it(pytester, monkeypatch):
    pytester.makepyfile(test_specs="def test_one():\n    pass\n")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # find_spec then reports it missing
    result = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-mlflow", "file:./m")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert '--trainspec-mlflow needs MLflow, which is not installed: pip install -e ".[mlflow]"' in (
        result.stderr.str())


def test_collection_does_not_import_mlflow(pytester):
    pytester.makepyfile(test_specs=TINY_SPECS + "\ndef test_x():\n    pass\n")
    code = ("import sys, pytest; pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', "
            "'--trainspec-mlflow', 'file:./m']); sys.exit(1 if 'mlflow' in sys.modules else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=pytester.path, capture_output=True)
    assert done.returncode == 0, done.stdout.decode()[-2000:]


def test_two_workers_log_every_run_once(pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(test_specs=SPECS)
    store = pytester.path / "mlruns"
    result = pytester.runpytest_subprocess(*ARGS, "-n", "2", "--trainspec-cache=off",
                                           "--trainspec-mlflow", f"file:{store}")
    result.assert_outcomes(passed=5, xfailed=1, failed=1)
    client = MlflowClient(tracking_uri=store.as_uri())
    names = [e.name for e in client.search_experiments()]
    assert len(names) == len(set(names))  # both workers log to "tiny_lr": created once
    runs = all_runs(client)
    keys = [(r.info.experiment_id, r.data.tags["trainspec.fingerprint"]) for r in runs]
    assert len(keys) == len(set(keys)) == 6
    assert all(r.info.status == "FINISHED" for r in runs)
    assert all("trainspec.spec.test_finite" in r.data.tags for r in runs
               if r.data.tags["trainspec.kind"] != "plain")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real tracking server on 127.0.0.1 with a sqlite backend, stopped at the end."""
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # the server imports MLflow twice (it starts uvicorn in a child): measured 133 s on 2
        # cores shared with four TensorFlow jobs, so wait generously for it
        deadline = time.monotonic() + 360
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("mlflow server did not start:\n"
                            + (tmp_path / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


def test_a_tracking_server_receives_the_runs(pytester, mlflow_server):
    pytester.makepyfile(test_specs=TINY_SPECS + textwrap.dedent(
        """
        PAIR = trainspec.Pair("tiny_lr", broken=recipe(learning_rate=1e-5, steps=30),
                              fixed=recipe(steps=30))

        @trainspec.applies_to(PAIR)
        def test_loss_falls(run):
            assert run.loss.relative_decrease() >= 0.2
        """))
    result = pytester.runpytest(*ARGS, "--trainspec-mlflow", mlflow_server)
    result.assert_outcomes(passed=1, xfailed=1)
    client = MlflowClient(tracking_uri=mlflow_server)
    runs = runs_of(client, "tiny_lr")
    assert sorted(runs) == ["broken", "fixed"]
    fixed = runs["fixed"]
    assert fixed.data.tags["trainspec.verdict.test_loss_falls"] == "caught"
    assert [m.step for m in client.get_metric_history(fixed.info.run_id, "loss")] == list(range(30))
    assert {a.path for a in client.list_artifacts(fixed.info.run_id)} >= {
        "tensorboard", "trainspec-result.json"}
