"""The project's root folder on ``sys.path``, so a spec in ``specs/`` can import the user's own
module (``from my_model import build``) under plain ``pytest specs/``, as under
``python -m pytest`` (which adds the current folder).

pytest's default import mode only puts the spec file's own folder on ``sys.path``; the rootdir
(the folder of ``pytest.ini``/``pyproject.toml``, else the common ancestor of the arguments) is
appended, after everything else, so it never shadows an installed package, and removed when the
session ends.
"""

from __future__ import annotations

import sys

import pytest

_ADDED = pytest.StashKey[str]()


def add_rootdir(config: pytest.Config) -> None:
    """Append the rootdir to ``sys.path`` unless it is already there."""
    root = str(config.rootpath)
    if root not in sys.path:
        sys.path.append(root)
        config.stash[_ADDED] = root


def remove_rootdir(config: pytest.Config) -> None:
    root = config.stash.get(_ADDED, None)
    if root is not None and root in sys.path:
        sys.path.remove(root)
