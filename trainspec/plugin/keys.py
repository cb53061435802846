"""Where the plugin keeps per-item state: pytest stash keys shared by the hooks, the ``run``
fixture and :func:`trainspec.doctor_spec` (which reads the item's recipe)."""

from __future__ import annotations

import pytest

from trainspec.pairs import Target

#: the recipe, pair side or mutant a spec item runs on
TARGET_KEY = pytest.StashKey[Target]()
#: every run an item trained or loaded, in order
RUNS_KEY = pytest.StashKey[list]()
#: whether student mode is on (no strict xfail on broken models: a fixed model is simply green)
STUDENT_KEY = pytest.StashKey[bool]()
