"""The on-disk run cache: a finished :class:`~trainspec.run.Run` per recipe fingerprint, so a
re-run with unchanged recipes trains nothing.

An entry is one ``.npz`` file (``numpy.savez``, read back with ``allow_pickle=False``: no code is
ever unpickled) named by a hash of the recipe's fingerprint and of the versions that decide what a
run records: TensorFlow, Keras, NumPy, trainspec, the source of trainspec's recording modules and
the machine architecture.  The entry's first array is a header repeating them; an entry whose
header does not match, or that cannot be read, is deleted and the run trained again.

Writes go to a temporary file in the cache folder and are renamed into place, so concurrent
pytest-xdist workers writing one key never leave half a file.  Runs of recipes with Keras
callbacks are not written: a cache hit would skip the callbacks' effects outside the run
(checkpoint files, logs).  Nothing here imports TensorFlow.

Example:
    >>> from trainspec.cache import RunCache
    >>> cache = RunCache("/tmp/trainspec-doc-cache", mode="on")       # doctest: +SKIP
    >>> cache.get(run.fingerprint) is None                             # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import stat
import tempfile
import warnings
from dataclasses import dataclass, field
from enum import Enum
from importlib import util
from pathlib import Path
from typing import Any

import numpy as np

from trainspec import events

#: Version of the entry layout; bump when ``Run.to_arrays`` or the header change incompatibly.
CACHE_FORMAT = 1
FORMAT_NAME = "trainspec-run-cache"
DEFAULT_DIR = ".trainspec_cache"
ENV_DIR = "TRAINSPEC_CACHE_DIR"
HEADER_KEY = "trainspec_cache_header"
#: Modules and packages whose source decides what a run records (an edited checkout misses the
#: cache): every module of the engine package, and the run's own types.
RECORDING_MODULES = ("engine", "run", "series", "recipe")

_ENTRY = re.compile(r"^[0-9a-f]{32}\.npz$")
_TEMP_PREFIX = ".tmp-"


def _file_mode() -> int:
    """The mode ``open()`` would give a new file: 0666 less the umask (mkstemp's 0600 would
    hide a shared cache folder's entries from other users; a restrictive umask is kept)."""
    umask = os.umask(0o022)  # the only way to read it; restored at once
    os.umask(umask)
    return 0o666 & ~umask


def _open_regular(path: Path) -> Any:
    """``path`` opened for reading if it is a regular file, never following a symlink and never
    blocking on a FIFO or device planted in the cache folder."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class CacheMode(str, Enum):
    """What the disk cache does: ``on`` reads and writes entries, ``read`` uses entries but
    never writes, ``write`` always trains and refreshes entries, ``off`` does neither."""

    ON = "on"
    OFF = "off"
    READ = "read"
    WRITE = "write"

    def __str__(self) -> str:
        return self.value

    @property
    def reads(self) -> bool:
        return self in (CacheMode.ON, CacheMode.READ)

    @property
    def writes(self) -> bool:
        return self in (CacheMode.ON, CacheMode.WRITE)


class CacheWarning(UserWarning):
    """The run cache could not be used (the session goes on without it)."""


def _source_files(name: str) -> list[Path] | None:
    """The source files of ``trainspec.<name>``: a module's file, or every module of a package
    (found without importing it, so TensorFlow stays unimported)."""
    spec = util.find_spec(f"trainspec.{name}")
    origin = getattr(spec, "origin", None)
    if not origin:
        return None
    if spec.submodule_search_locations:  # a package: all its modules, in a stable order
        return sorted(Path(origin).parent.rglob("*.py"))
    return [Path(origin)]


def _source_hash() -> str:
    h = hashlib.sha256()
    for name in RECORDING_MODULES:
        files = _source_files(name)
        if not files:
            h.update(name.encode())
            continue
        root = files[0].parent
        for path in files:
            try:
                h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
            except (OSError, ValueError):
                h.update(path.name.encode())
    return h.hexdigest()[:16]


def versions() -> dict[str, str | None]:
    """What, besides the recipe, decides what a run records: read without importing TensorFlow.

    Example:
        >>> from trainspec.cache import versions
        >>> sorted(versions())
        ['format', 'keras', 'machine', 'numpy', 'tensorflow', 'trainspec', 'trainspec_source']
    """
    from trainspec.environment import environment

    env = environment()
    return {
        "format": str(CACHE_FORMAT),
        "tensorflow": env["tensorflow"],
        "keras": env["keras"],
        "numpy": env["numpy"],
        "trainspec": env["trainspec"],
        "trainspec_source": _source_hash(),
        "machine": platform.machine(),
    }


@dataclass
class CacheStats:
    """What the cache did in one process; merged across pytest-xdist workers."""

    hits: int = 0
    written: int = 0
    not_cached: int = 0  # runs of recipes with callbacks
    discarded: list[str] = field(default_factory=list)  # "<entry>: <reason>"
    errors: list[str] = field(default_factory=list)  # write failures (first few)

    def to_json(self) -> dict[str, Any]:
        return {"hits": self.hits, "written": self.written, "not_cached": self.not_cached,
                "discarded": list(self.discarded), "errors": list(self.errors)}

    def merge(self, data: dict[str, Any]) -> None:
        self.hits += int(data.get("hits", 0))
        self.written += int(data.get("written", 0))
        self.not_cached += int(data.get("not_cached", 0))
        self.discarded += [d for d in data.get("discarded", []) if d not in self.discarded]
        self.errors += [e for e in data.get("errors", []) if e not in self.errors][:5]


class RunCache:
    """A folder of finished runs, consulted by the engine after its in-process memo
    (``trainspec.events.STORES``).

    ``get(fingerprint)`` returns the cached :class:`~trainspec.run.Run` (marked ``from_cache``)
    or ``None``; ``put(fingerprint, run)`` is called after a run trains, and the entry is
    written once the engine announces the run with its recipe (runs of recipes with callbacks
    are not written).  When several caches are installed (pytester sessions nested in one
    process), only the last installed one acts.
    """

    def __init__(self, directory: str | os.PathLike[str], mode: CacheMode | str = CacheMode.ON):
        self.directory = Path(directory)
        self.mode = CacheMode(mode)
        self.stats = CacheStats()
        self._versions: dict[str, str | None] | None = None
        self._pending: dict[str, Any] = {}
        self._unwritable: str | None = None

    # -- keys ------------------------------------------------------------------------------

    @property
    def versions(self) -> dict[str, str | None]:
        if self._versions is None:
            self._versions = versions()
        return self._versions

    def key(self, fingerprint: str) -> str:
        """The entry name for a fingerprint under the current versions."""
        text = json.dumps({"fingerprint": fingerprint, "versions": self.versions}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def path(self, fingerprint: str) -> Path:
        return self.directory / f"{self.key(fingerprint)}.npz"

    def _header(self, fingerprint: str) -> dict[str, Any]:
        return {"format": FORMAT_NAME, "fingerprint": fingerprint, "versions": self.versions}

    # -- installation ----------------------------------------------------------------------

    def install(self) -> RunCache:
        """Consult this cache from ``trainspec.train`` (until :meth:`uninstall`)."""
        events.STORES.append(self)
        events.LISTENERS.append(self._on_run)
        return self

    def uninstall(self) -> None:
        if self in events.STORES:
            events.STORES.remove(self)
        if self._on_run in events.LISTENERS:
            events.LISTENERS.remove(self._on_run)

    def _acting(self) -> bool:
        caches = [s for s in events.STORES if isinstance(s, RunCache)]
        return bool(caches) and caches[-1] is self and self.mode is not CacheMode.OFF

    # -- the store interface ---------------------------------------------------------------

    def get(self, fingerprint: str) -> Any:
        """The cached run for ``fingerprint``, or ``None`` (a bad entry is deleted)."""
        if not self._acting() or not self.mode.reads:
            return None
        path = self.path(fingerprint)
        try:
            before = path.lstat()
        except OSError:
            return None
        if not stat.S_ISREG(before.st_mode):  # a link, FIFO or folder is never an entry
            self._discard(path, before, "not a regular file")
            return None
        try:
            run = self._read(path, fingerprint)
        except Exception as exc:  # corrupt, truncated, foreign: discard and train again
            self._discard(path, before, f"{type(exc).__name__}: {exc}"[:200])
            return None
        self.stats.hits += 1
        return run

    def put(self, fingerprint: str, run: Any, recipe: Any = None) -> None:
        """Remember a freshly trained run; written when the engine announces its recipe, or now
        when ``recipe`` is given (a run no listener is told of, such as a pretrained base)."""
        if self._acting() and self.mode.writes:
            self._pending[fingerprint] = run
            if recipe is not None:
                self._on_run(recipe, run)

    def _on_run(self, recipe: Any, run: Any) -> None:
        pending = self._pending.pop(run.fingerprint, None)
        if pending is None or not self._acting():
            return
        if getattr(recipe, "callbacks", None):
            self.stats.not_cached += 1
            return
        self.write(run.fingerprint, pending)

    # -- files -----------------------------------------------------------------------------

    def _read(self, path: Path, fingerprint: str) -> Any:
        from trainspec.run import Run

        with _open_regular(path) as handle, np.load(handle, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        raw = arrays.pop(HEADER_KEY, None)
        if raw is None:
            raise ValueError("no trainspec header")
        header = json.loads(bytes(np.asarray(raw, dtype=np.uint8)).decode())
        if header.get("format") != FORMAT_NAME:
            raise ValueError(f"not a trainspec run cache entry ({header.get('format')!r})")
        if header.get("fingerprint") != fingerprint:
            raise ValueError("written for another recipe")
        theirs = header.get("versions") or {}
        changed = [f"{k} {theirs.get(k)} != {v}" for k, v in self.versions.items() if theirs.get(k) != v]
        if changed:
            raise ValueError("written by other versions: " + ", ".join(changed))
        run = Run.from_arrays(arrays, from_cache=True)
        if run.fingerprint != fingerprint:
            raise ValueError("the run inside belongs to another recipe")
        return run

    def _discard(self, path: Path, seen: os.stat_result, reason: str) -> None:
        self.stats.discarded.append(f"{path.name}: {reason}")
        try:  # do not delete an entry another worker has just replaced
            now = path.lstat()
            if (now.st_ino, now.st_mtime_ns, now.st_size) == (seen.st_ino, seen.st_mtime_ns,
                                                               seen.st_size):
                path.unlink()
        except OSError:
            pass

    def prepare(self) -> bool:
        """Create the folder (marked as a cache: ``.gitignore``, ``CACHEDIR.TAG``); ``False``
        with a :class:`CacheWarning` when it cannot be written."""
        if self._unwritable is not None:
            return False
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for name, text in (
                (".gitignore", "# created by trainspec's run cache\n*\n"),
                ("CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n"
                                 "# trainspec run cache: safe to delete\n"),
            ):
                marker = self.directory / name
                if not marker.is_file() or marker.is_symlink():
                    _write_bytes(marker, text.encode())
        except OSError as exc:
            self._fail(f"cannot create the run cache folder {self.directory}: {exc.strerror or exc}")
            return False
        return True

    def write(self, fingerprint: str, run: Any) -> Path | None:
        """Write ``run`` atomically; a failure is a warning, never an error."""
        if not self.prepare():
            return None
        arrays = dict(run.to_arrays())
        header = json.dumps(self._header(fingerprint)).encode()
        arrays[HEADER_KEY] = np.frombuffer(header, dtype=np.uint8)
        target = self.path(fingerprint)
        try:
            fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".npz", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as handle:
                    np.savez(handle, **arrays)
                os.chmod(tmp, _file_mode())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            self._fail(f"cannot write the run cache entry {target}: {exc.strerror or exc}")
            return None
        self.stats.written += 1
        return target

    def _fail(self, message: str) -> None:
        if message not in self.stats.errors and len(self.stats.errors) < 5:
            self.stats.errors.append(message)
        if self._unwritable is None:
            self._unwritable = message
            warnings.warn(CacheWarning(f"{message}; runs are trained but not cached (set "
                                       f"{ENV_DIR} or --trainspec-cache-dir, or "
                                       "--trainspec-cache=off)"), stacklevel=2)

    def clear(self) -> int:
        """Delete every entry (and leftover temporary file) in the folder; returns how many.

        Only files the cache writes are removed, whatever folder it points at."""
        removed = 0
        try:
            children = list(self.directory.iterdir())
        except OSError:
            return 0
        for child in children:
            if _ENTRY.match(child.name) or child.name.startswith(_TEMP_PREFIX):
                try:
                    child.unlink()
                    removed += 1
                except OSError:
                    pass
        return removed

    def entries(self) -> list[Path]:
        """The entry files now in the folder."""
        try:
            return sorted(p for p in self.directory.iterdir() if _ENTRY.match(p.name))
        except OSError:
            return []


def _write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def resolve_dir(option: str | None, ini: str | None, rootdir: Path, cwd: Path) -> Path:
    """The cache folder: ``--trainspec-cache-dir``, else ``$TRAINSPEC_CACHE_DIR``, else the ini
    option ``trainspec_cache_dir`` (relative to the rootdir), else ``<rootdir>/.trainspec_cache``.
    A relative command-line or environment path is relative to the current directory."""
    if option:
        return (cwd / option).resolve()
    env = os.environ.get(ENV_DIR)
    if env:
        return (cwd / env).resolve()
    if ini:
        return (rootdir / ini).resolve()
    return rootdir / DEFAULT_DIR
