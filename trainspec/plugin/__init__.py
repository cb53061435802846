"""trainspec's pytest plugin: options, markers, the ``run`` fixture and the report hooks.

Registered through the ``pytest11`` entry point.  Wiring only: TensorFlow is imported when a
spec's run starts, never while pytest starts or collects.
"""

from __future__ import annotations

from typing import Any

import pytest

from trainspec.environment import environment
from trainspec.exceptions import SpecError, TrainspecError
from trainspec.pairs import MARKER, Target, targets_of
from trainspec.plugin.baselines import baseline  # noqa: F401  (the fixture)
from trainspec.plugin.baselines import register as register_baselines
from trainspec.plugin.keys import STUDENT_KEY, TARGET_KEY
from trainspec.plugin.options import CACHE_MODES, PROGRESS_MODES, REPORT_MODES, add_options, choice, option
from trainspec.plugin.session import SessionHooks, XdistHooks


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*targets): apply this spec to trainspec pairs, sweeps or recipes "
        "(use @trainspec.applies_to).",
    )
    config.addinivalue_line(
        "markers",
        "trainspec(allow_nonfinite=False, points=1, hidden=False): per-spec trainspec "
        "options; allow_nonfinite lets a spec pass on a run that hit NaN/Inf; points and hidden "
        "grade it (--trainspec-grade: points earned when it passes; a hidden spec counts in "
        "the grade and is not shown in student mode).",
    )
    choice(config, "trainspec_report", REPORT_MODES)
    doctor = config.getini("trainspec_doctor")
    if doctor:
        from trainspec.doctor import configure, parse_lines

        try:
            configure(**parse_lines(doctor))
        except ValueError as exc:
            raise pytest.UsageError(f"trainspec_doctor: {exc}") from None
    if option(config, "trainspec_mutate"):
        from trainspec.plugin.mutation import configure as configure_mutation

        configure_mutation(config, option(config, "trainspec_mutate_operators"),
                           option(config, "trainspec_mutate_max"))
    register_baselines(config)
    _configure_student(config)
    from trainspec.plugin import declarations
    from trainspec.plugin.paths import add_rootdir

    add_rootdir(config)  # specs can import the user's modules under plain `pytest specs/`
    config.pluginmanager.register(declarations, "trainspec-declarations")
    hooks = SessionHooks(config, _run_cache(config))
    config.pluginmanager.register(hooks, "trainspec-session")
    if getattr(config.option, "xmlpath", None) and not hasattr(config, "workerinput"):
        from trainspec.plugin.junit import JUnitProperties

        junit = JUnitProperties(config, hooks.book)
        hooks.listeners.append(junit.on_result)
        config.pluginmanager.register(junit, "trainspec-junit")
    if config.pluginmanager.hasplugin("xdist"):
        _default_to_loadgroup(config)
        config.pluginmanager.register(XdistHooks(hooks), "trainspec-xdist")
        from trainspec.plugin.crash import CrashHooks

        config.pluginmanager.register(CrashHooks(config), "trainspec-xdist-crash")
    from trainspec.plugin.timeout import install as install_timeout

    install_timeout(config, option(config, "trainspec_timeout"))
    logdir = option(config, "trainspec_tensorboard")
    if logdir:
        from trainspec.plugin.tensorboard import TensorBoardHook

        config.pluginmanager.register(
            TensorBoardHook(config.invocation_params.dir / logdir), "trainspec-tensorboard"
        )
    uri = option(config, "trainspec_mlflow")
    if uri:
        _register_mlflow(config, uri)


def _register_mlflow(config: pytest.Config, uri: str) -> None:
    """``--trainspec-mlflow``: MLflow is checked here, imported when the first run is logged."""
    from trainspec.plugin.mlflow import MlflowHook, require_mlflow, tracking_uri

    require_mlflow()
    config.pluginmanager.register(
        MlflowHook(config, tracking_uri(str(uri), config.invocation_params.dir)), "trainspec-mlflow"
    )


def _configure_student(config: pytest.Config) -> None:
    """Student mode and grading (trainspec.plugin.student), when on."""
    from trainspec.plugin.student import StudentHooks, student_mode

    student = student_mode(config)
    config.stash[STUDENT_KEY] = student
    if student or option(config, "trainspec_grade"):
        config.pluginmanager.register(StudentHooks(config, student), "trainspec-student")
    if student and config.option.tbstyle == "auto":
        config.option.tbstyle = "no"  # the student view explains the failure


def _run_cache(config: pytest.Config) -> Any:
    """The session's disk cache (installed even when off, so it shadows an outer session's)."""
    from trainspec.cache import RunCache, resolve_dir

    mode = choice(config, "trainspec_cache", CACHE_MODES)
    directory = resolve_dir(config.getoption("trainspec_cache_dir", None),
                            config.getini("trainspec_cache_dir"), config.rootpath,
                            config.invocation_params.dir)
    cache = RunCache(directory, mode)
    if config.getoption("trainspec_clear_cache", False) and not hasattr(config, "workerinput"):
        cache.clear()  # on the controller, before any worker starts
    return cache.install()


def _dist_given(config: pytest.Config) -> bool:
    """Whether the user chose an xdist distribution mode (command line, PYTEST_ADDOPTS, ini)."""
    import os
    import shlex

    words = list(config.invocation_params.args)
    words += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    try:
        words += list(config.getini("addopts"))
    except (ValueError, KeyError):
        pass
    return any(str(w) in ("-d", "--distload") or str(w).startswith("--dist") for w in words)


def _default_to_loadgroup(config: pytest.Config) -> None:
    """``-n N`` without ``--dist``: xdist would balance test by test; trainspec asks for
    ``loadgroup`` so the specs of one run (one ``xdist_group``) share a worker and the run trains
    once."""
    if getattr(config, "workerinput", {}).get("trainspec_loadgroup"):
        # workers re-parse the command line (dist "no"): the @group node ids need this flag
        config.option.loadgroup = True
    elif getattr(config.option, "dist", "no") == "load" and not _dist_given(config):
        config.option.dist = "loadgroup"


def pytest_sessionstart(session: pytest.Session) -> None:
    mode = choice(session.config, "trainspec_progress", PROGRESS_MODES)
    from trainspec.plugin.progress import install

    install(session.config, mode)


def pytest_report_header(config: pytest.Config) -> list[str]:
    env = environment()
    lines = [
        f"trainspec {env['trainspec']}: tensorflow {env['tensorflow']}, keras {env['keras']} "
        "(imported when the first run starts); each recipe sets its own seed"
    ]
    hooks = config.pluginmanager.get_plugin("trainspec-session")
    cache = getattr(hooks, "cache", None)
    if cache is not None:
        lines.append(f"trainspec run cache: {cache.mode} ({cache.directory})")
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    if "run" not in metafunc.fixturenames:
        # errors this spec only (trainspec.plugin.declarations), the others still run
        raise SpecError(
            f"{metafunc.definition.name} is applied to pairs or recipes but does not take a "
            f"`run` argument: write def {metafunc.definition.name}(run): ..."
        )
    xdist = metafunc.config.pluginmanager.hasplugin("xdist")
    targets = targets_of(marker.args)
    if not targets:
        raise SpecError(f"{metafunc.definition.name} is applied to nothing: it would test nothing")
    from trainspec.plugin.declarations import check_names

    check_names(metafunc.config, metafunc.definition.nodeid, marker.args)
    if option(metafunc.config, "trainspec_mutate"):
        from trainspec.plugin.mutation import SELECTION_KEY, mutant_targets

        targets += mutant_targets(marker.args, metafunc.config.stash.get(SELECTION_KEY, None))
    params = [
        pytest.param(target, id=target.id,
                     marks=_marks(target, xdist, metafunc.config.stash.get(STUDENT_KEY, False)))
        for target in targets
    ]
    metafunc.parametrize("run", params, indirect=True)


def _marks(target: Target, xdist: bool, student: bool = False) -> list[Any]:
    marks: list[Any] = []
    if target.kind == "mutant":
        from trainspec.plugin.mutation import marks as mutant_marks

        return mutant_marks(target, xdist)
    if target.kind == "pair" and target.variant == "broken" and not student:
        # The spec must fail on the broken model: a pass is a miss (strict XPASS fails the
        # session), an error other than an assertion stays an error.
        marks.append(
            pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason=f"MISSED: the spec passed on the broken model of pair {target.group!r}; "
                "it should fail there",
            )
        )
    if xdist:  # specs sharing a run land on one worker under --dist loadgroup
        marks.append(pytest.mark.xdist_group(f"trainspec:{target.id}"))
    return marks


@pytest.fixture
def run(request: pytest.FixtureRequest) -> Any:
    """The finished :class:`trainspec.Run` of the recipe this spec is applied to.

    Apply the spec with ``@trainspec.applies_to(pair_or_recipe)``, or define a ``recipe``
    fixture returning a :class:`trainspec.Recipe`.
    """
    target: Target | None = getattr(request, "param", None)
    if target is None:
        try:
            recipe = request.getfixturevalue("recipe")
        except pytest.FixtureLookupError:
            raise TrainspecError(
                "the `run` fixture needs a recipe: decorate the spec with "
                "@trainspec.applies_to(pair_or_recipe) or define a `recipe` fixture"
            ) from None
        from trainspec.recipe import Recipe

        if not isinstance(recipe, Recipe):
            raise TrainspecError(
                f"the `recipe` fixture returned {type(recipe).__name__}, not a trainspec.Recipe"
            )
        target = Target("recipe", recipe.label, "recipe", recipe)
    request.node.stash[TARGET_KEY] = target
    from trainspec import train
    from trainspec.environment import import_tensorflow_quietly

    import_tensorflow_quietly()

    return train(target.recipe())


def pytest_unconfigure(config: pytest.Config) -> None:
    from trainspec.plugin.paths import remove_rootdir

    remove_rootdir(config)
