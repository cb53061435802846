"""A spec in specs/ imports the user's own module under plain ``pytest specs/`` (no
``python -m``, no conftest.py, no ``pythonpath`` ini)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def test_a_spec_imports_a_module_of_the_project_root(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (tmp_path / "my_model.py").write_text(textwrap.dedent(
        """
        def mlp():
            import keras
            return keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
        """
    ))
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "test_first.py").write_text(textwrap.dedent(
        """
        import trainspec
        from trainspec import datasets

        from my_model import mlp

        recipe = trainspec.Recipe(model=mlp, data=datasets.blobs(n=128, classes=3), steps=10,
                                  loss="sparse_categorical_crossentropy", optimizer="sgd",
                                  learning_rate=0.1, seed=0)

        @trainspec.applies_to(recipe)
        def test_runs(run):
            assert run.finite
        """
    ))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    # -P: like the `pytest` script, the current folder is not put on sys.path
    proc = subprocess.run([sys.executable, "-P", "-m", "pytest", "specs/", "-q", "-p",
                           "no:cacheprovider", "--trainspec-cache", "off"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout
