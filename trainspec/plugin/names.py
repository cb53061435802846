"""Short, unambiguous names for specs in tables: the function name, with its module when two
modules define a spec of the same name."""

from __future__ import annotations


def short_spec(spec: str) -> str:
    """``specs/test_x.py::test_loss`` -> ``test_loss``."""
    return spec.rsplit("::", 1)[-1]


def spec_names(specs: list[str]) -> dict[str, str]:
    """Each node id to its display name.

    Example:
        >>> spec_names(["a.py::test_x", "b.py::test_x", "a.py::test_y"])["b.py::test_x"]
        'b::test_x'
    """
    names: dict[str, str] = {}
    shorts = [short_spec(s) for s in specs]
    for spec, short in zip(specs, shorts, strict=False):
        if shorts.count(short) > 1:
            module = spec.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
            short = f"{module}::{short}"
        names[spec] = short
    return names
