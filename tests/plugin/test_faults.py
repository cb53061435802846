"""Session faults: no hang, no lost report.  Non-regular and corrupt cache entries, a spec that
never returns (``--trainspec-timeout``), unwritable outputs, SIGINT, two sessions sharing a
cache folder, and a spec that kills its pytest-xdist worker."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import TINY_SPECS
from trainspec.cache import RunCache
from trainspec.engine import clear_memo

SPECS = TINY_SPECS + textwrap.dedent(
    """
    GOOD = recipe(name="good")
    PAIR = trainspec.Pair("tiny_lr", broken=recipe(learning_rate=1e-5, name="broken_side"),
                          fixed=GOOD)

    @trainspec.applies_to(PAIR)
    def test_loss_falls(run):
        assert run.loss.relative_decrease() >= 0.3
    """
)


def session(pytester, *args):
    clear_memo()
    return pytester.runpytest("-p", "no:cacheprovider", *args)


# -- the cache folder --------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_a_link_in_the_cache_folder_is_discarded_never_opened(tmp_path):
    cache = RunCache(tmp_path / "cache").install()
    try:
        cache.prepare()
        os.mkfifo(cache.path("fp-fifo"))  # opening it for reading would block forever
        elsewhere = tmp_path / "elsewhere.npz"
        elsewhere.write_bytes(b"not yours")
        cache.path("fp-link").symlink_to(elsewhere)
        assert cache.get("fp-fifo") is None and cache.get("fp-link") is None
        assert not cache.path("fp-fifo").exists() and not cache.path("fp-link").is_symlink()
        assert elsewhere.read_bytes() == b"not yours"  # the link's target is left alone
        assert [d.split(": ", 1)[1] for d in cache.stats.discarded] == ["not a regular file"] * 2
    finally:
        cache.uninstall()


def test_cache_entries_keep_the_umask(tmp_path, healthy_run):
    previous = os.umask(0o077)
    try:
        cache = RunCache(tmp_path / "cache")
        cache.install()
        try:
            path = cache.write(healthy_run.fingerprint, healthy_run)
        finally:
            cache.uninstall()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cache" / ".gitignore").stat().st_mode) == 0o600


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_session_over_fifo_and_garbage_entries_retrains_and_reports(pytester):
    pytester.makepyfile(test_specs=SPECS)
    assert session(pytester).ret == 0
    entries = sorted((pytester.path / ".trainspec_cache").glob("*.npz"))
    assert len(entries) == 2
    entries[0].unlink()
    os.mkfifo(entries[0])
    entries[1].write_bytes(b"\x00garbage")
    result = session(pytester, "--trainspec-json", "out.json")
    assert result.ret == 0
    document = json.loads((pytester.path / "out.json").read_text())
    assert document["runs"]["trained"] == 2 and len(document["cache"]["discarded"]) == 2
    assert document["verdicts"][0]["verdict"] == "caught"


# -- a spec that never returns -----------------------------------------------------------------


def pretrain(code: str) -> None:
    """Train the spec module's recipes in this process (the in-process pytester session then
    finds them in the engine's memo), so a short timeout bounds the sleeps, not the training."""
    import trainspec

    namespace: dict = {}
    exec(code, namespace)
    for side in ("broken", "fixed"):
        trainspec.train(namespace["PAIR"].recipe(side))


def test_a_spec_that_never_returns_ends_as_an_error_and_the_report_is_kept(pytester):
    pretrain(SPECS)
    pytester.makepyfile(test_specs=SPECS + textwrap.dedent(
        """
        import time

        @trainspec.applies_to(GOOD)
        def test_sleeps(run):
            time.sleep(600)

        def test_plain_sleeps():
            time.sleep(600)
        """
    ))
    result = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-timeout", "8",
                                "--trainspec-json", "out.json")
    assert result.ret == 1
    result.assert_outcomes(passed=1, xfailed=1, failed=2)
    out = result.stdout.str()
    assert "test_sleeps[good] did not finish within 8 s (--trainspec-timeout)" in out
    assert "test_plain_sleeps did not finish within 8 s" in out and "trainspec report" in out
    document = json.loads((pytester.path / "out.json").read_text())
    sleeps = next(r for r in document["results"] if "test_sleeps" in r["nodeid"])
    assert sleeps["outcome"] == "error" and "did not finish within 8 s" in sleeps["message"]
    assert document["verdicts"][0]["verdict"] == "caught"


def test_the_timeout_ini_option_and_bad_values(pytester):
    pytester.makeini("[pytest]\ntrainspec_timeout = soon\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = session(pytester)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*trainspec_timeout must be a number of seconds, not 'soon'*"])


# -- unwritable outputs and SIGINT -------------------------------------------------------------


def test_unwritable_tensorboard_and_json_paths_warn_and_keep_the_rest(pytester):
    pytester.makepyfile(test_specs=SPECS)
    (pytester.path / "tb").write_text("a file where the folder should be")
    (pytester.path / "out").write_text("a file where the folder should be")
    result = session(pytester, "--trainspec-tensorboard", "tb", "--trainspec-json", "out/r.json")
    assert result.ret == 0  # the tests' status
    result.assert_outcomes(passed=1, xfailed=1)
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "trainspec report" in out and "caught" in out
    assert "cannot write TensorBoard event files under" in out
    assert "cannot write the JSON results to" in out


def test_sigint_keeps_the_report_and_the_json_of_what_ran(pytester):
    pytester.makepyfile(test_specs=SPECS + textwrap.dedent(
        """
        import os, signal

        @trainspec.applies_to(GOOD)
        def test_zz_interrupted(run):
            # a shell without job control starts background jobs with SIGINT ignored, and
            # Python keeps it so: restore what an interactive Ctrl-C meets
            signal.signal(signal.SIGINT, signal.default_int_handler)
            os.kill(os.getpid(), signal.SIGINT)
        """
    ))
    # a subprocess: in process, pytester hands the KeyboardInterrupt on to this session
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--trainspec-json", "out.json")
    assert result.ret == 2  # interrupted
    assert "trainspec report" in result.stdout.str()
    document = json.loads((pytester.path / "out.json").read_text())
    assert document["exitstatus"] == 2
    assert document["verdicts"][0]["verdict"] == "caught"


# -- two sessions at once ----------------------------------------------------------------------


def test_two_sessions_sharing_a_cache_folder_agree(tmp_path):
    (tmp_path / "test_specs.py").write_text(SPECS)
    env = dict(os.environ, TRAINSPEC_CACHE_DIR=str(tmp_path / "shared_cache"))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    procs = [
        subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--trainspec-json", f"out{i}.json"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    docs = [json.loads((tmp_path / f"out{i}.json").read_text()) for i in range(2)]
    assert docs[0]["verdicts"] == docs[1]["verdicts"]
    fingerprints = [sorted(r["fingerprint"] for r in d["results"]) for d in docs]
    assert fingerprints[0] == fingerprints[1]
    losses = [sorted(map(str, (r.get("loss_curve") for r in d["results"]))) for d in docs]
    assert losses[0] == losses[1]
    assert len(list((tmp_path / "shared_cache").glob("*.npz"))) == 2
    assert not list((tmp_path / "shared_cache").glob(".tmp-*"))


# -- a spec that kills its worker --------------------------------------------------------------

CRASHING = SPECS + textwrap.dedent(
    """
    import os

    @trainspec.applies_to(PAIR)
    def test_crashes_on_broken(run):
        if run.label == "broken_side":
            os._exit(1)
        assert run.loss.relative_decrease() >= 0.3
    """
)


@pytest.mark.parametrize("dist", ["loadgroup", "load"])
def test_a_spec_that_kills_its_worker_is_an_error_and_the_session_ends(pytester, dist):
    pytest.importorskip("xdist")
    pytester.makepyfile(test_specs=CRASHING)
    result = session(pytester, "-n", "2", "--dist", dist, "--trainspec-json", "out.json")
    assert result.ret == 1
    out = result.stdout.str()
    assert "crashed (the process ended without a report" in out
    assert "INTERNALERROR" not in out
    document = json.loads((pytester.path / "out.json").read_text())
    crashed = [r for r in document["results"] if "test_crashes_on_broken[tiny_lr-broken]" in r["nodeid"]]
    assert len(crashed) == 1 and crashed[0]["outcome"] == "error"
    assert "worker" in crashed[0]["message"] and "crashed" in crashed[0]["message"]
    verdicts = {v["spec"].split("::")[1]: v["verdict"] for v in document["verdicts"]}
    assert verdicts == {"test_loss_falls": "caught", "test_crashes_on_broken": "error"}
    fixed = [r for r in document["results"] if "test_crashes_on_broken[tiny_lr-fixed]" in r["nodeid"]]
    assert len(fixed) == 1 and fixed[0]["outcome"] == "passed"
