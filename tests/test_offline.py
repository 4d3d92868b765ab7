"""Offline guarantee: `qa` opens no network connection; the Hugging Face switches are set in-process.

The subprocess tests run the real `qa` with the real default model, with every socket connection refused
(a sitecustomize that patches socket, and which records any attempt), and, where this machine allows it,
in a network namespace with no interfaces at all (`unshare -n`, needs root).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.models import offline_env

pytestmark = pytest.mark.slow  # the real model, Kiwi

BLOCKER = '''
import os, socket

_log = os.environ["QA_TEST_NET_LOG"]
open(_log + ".active", "w").close()  # proves this file ran in the child


def _refuse(self, address, *args, **kwargs):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        with open(_log, "a") as handle:
            handle.write(f"connect {address!r}\\n")
        raise OSError(101, "network blocked by the qa offline test")
    return _connect(self, address, *args, **kwargs)


def _refuse_getaddrinfo(host, *args, **kwargs):
    with open(_log, "a") as handle:
        handle.write(f"getaddrinfo {host!r}\\n")
    raise socket.gaierror(-3, "network blocked by the qa offline test")


_connect = socket.socket.connect
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.getaddrinfo = _refuse_getaddrinfo
'''

ARTICLES = {
    "rate.txt": "한국은행 기준금리 동결 결정\n한국은행은 24일 기준금리를 연 3.5%로 동결했다. 이창용 총재는 물가 안정이 우선이라고 말했다.\n",
    "port.md": "# Busan port sets a cargo record\n\nThe port of Busan handled 24 million containers last year, a record. "
               "Officials credited new automated terminals.\n",
}


@pytest.fixture
def blocked(tmp_path):
    """Environment for a child process whose sockets cannot connect."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    log = tmp_path / "net.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "QA_"))}
    env.update(PYTHONPATH=str(site), QA_TEST_NET_LOG=str(log), QA_CACHE_DIR=str(tmp_path / "cache"),
               QA_INDEX_DIR=str(tmp_path / "index"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return env, log, corpus


def qa(env, *args, prefix=()):
    command = [*prefix, str(Path(sys.executable).with_name("qa")), *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def check_answer(result, expected: str, corpus: Path) -> None:
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["answer"] and expected in payload["answer"], payload
    citation = payload["citation"]
    source = next(p for p in corpus.iterdir() if p.stem == citation["doc_id"]).read_text(encoding="utf-8")
    assert source[citation["start"] : citation["end"]] == payload["answer"]


def test_index_and_ask_with_sockets_blocked(blocked):
    env, log, corpus = blocked
    indexed = qa(env, "index", corpus)
    assert indexed.returncode == 0, indexed.stderr
    assert Path(str(log) + ".active").exists(), "the socket blocker did not load"
    check_answer(qa(env, "ask", "한국은행은 기준금리를 몇 퍼센트로 동결했나?", "--json"), "3.5%", corpus)
    check_answer(qa(env, "ask", "How many containers did the port of Busan handle?", "--json"), "24 million", corpus)
    assert not log.exists(), log.read_text()  # not one connection attempted, not one name looked up


@pytest.mark.skipif(not shutil.which("unshare"), reason="no unshare(1)")
def test_ask_in_a_network_namespace_without_interfaces(blocked):
    env, log, corpus = blocked
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -n needs root or user namespaces")
    unshare = ("unshare", "-n")
    assert qa(env, "index", corpus, prefix=unshare).returncode == 0
    check_answer(qa(env, "ask", "한국은행은 기준금리를 몇 퍼센트로 동결했나?", "--json", prefix=unshare), "3.5%", corpus)
    assert not log.exists()


def test_offline_env_sets_the_hugging_face_switches(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    offline_env()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_the_default_path_never_imports_a_networking_library(blocked):
    """`qa ask` with the default model imports neither huggingface_hub, transformers, requests nor urllib3."""
    env, _, corpus = blocked
    assert qa(env, "index", corpus).returncode == 0
    script = (
        "import sys; from qa.cli import main\n"
        "try:\n    main(['ask', '한국은행은 기준금리를 몇 퍼센트로 동결했나?'])\n"
        "except SystemExit:\n    pass\n"
        "bad = [m for m in ('huggingface_hub', 'transformers', 'requests', 'urllib3', 'httpx', 'torch') if m in sys.modules]\n"
        "print('IMPORTED', bad, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert "IMPORTED []" in result.stderr, result.stderr
