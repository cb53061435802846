"""``trainspec exercises list`` and ``trainspec exercises init``: output, refusals, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from trainspec.cli import main
from trainspec.exercises import MANIFEST, catalog


def test_list_shows_every_exercise(capsys):
    assert main(["exercises", "list"]) == 0
    out = capsys.readouterr().out
    for exercise in catalog():
        assert f"{exercise.name}.py" in out


def test_init_runs_from_any_directory_without_the_curriculum_package(tmp_path):
    # the repository's `examples` package is not installed: init must not need it
    code = ("import sys; from trainspec.cli import main; "
            "status = main(['exercises', 'init', 'class']); "
            "assert 'examples' not in sys.modules, 'imported examples'; sys.exit(status)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Next: cd class && pytest" in done.stdout
    manifest = json.loads((tmp_path / "class" / MANIFEST).read_text())
    assert [e["name"] for e in manifest["exercises"]] == [e.name for e in catalog()]
    assert not (tmp_path / "class" / "solutions").exists()


def test_init_never_overwrites(tmp_path, capsys):
    assert main(["exercises", "init", str(tmp_path / "c"), "--only", "fail2_sigmoid"]) == 0
    (tmp_path / "c" / "fail2_sigmoid.py").write_text("# my work\n")
    assert main(["exercises", "init", str(tmp_path / "c")]) == 2
    assert "already exist" in capsys.readouterr().out
    assert (tmp_path / "c" / "fail2_sigmoid.py").read_text() == "# my work\n"


def test_only_names_exercises(tmp_path, capsys):
    assert main(["exercises", "init", str(tmp_path / "c"), "--only", "dying_relu,batchnorm",
                 "--with-solutions"]) == 0
    assert sorted(p.name for p in (tmp_path / "c" / "specs").iterdir()) == [
        "test_01_dying_relu.py", "test_02_batchnorm.py"]
    assert (tmp_path / "c" / "solutions" / "batchnorm.py").is_file()
    assert main(["exercises", "init", str(tmp_path / "d"), "--only", "nope"]) == 2
    assert "unknown exercise(s) nope" in capsys.readouterr().out
