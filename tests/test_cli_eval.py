"""`qa eval` through click's CliRunner: exit codes, stdout and stderr apart. The run itself is the core's
(tests/test_evaluate_runner.py); here it is mostly replaced by a canned report."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import FakeEmbedder
from test_evaluate_runner import GOLD, archive, canned_report, write_gold  # noqa: F401 (archive: a fixture)

import qa.cli
import qa.evaluate
from qa.cli import main


@pytest.fixture
def gold_file(tmp_path):
    return write_gold(tmp_path / "gold.jsonl")


@pytest.fixture
def fake_run(monkeypatch):
    """No model and no index: `_embedder` gives the fake embedder and `run_eval` a canned report
    (F1 0.5, hit@5 1.0). Records what the command passed in."""
    calls = {}

    def run_eval(gold, embedder, **kwargs):
        calls.update(gold=gold, embedder=embedder, **kwargs)
        return calls.get("report") or canned_report()

    monkeypatch.setattr(qa.cli, "_embedder", lambda model, index_dir: calls.setdefault("embedder_args", (model, index_dir)) and FakeEmbedder())
    monkeypatch.setattr(qa.evaluate, "run_eval", run_eval)
    return calls


def invoke(*args):
    return CliRunner().invoke(main, ["eval", *map(str, args)])


def test_help_has_an_example_and_says_thresholds_are_fractions():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "Example" in result.output and "qa eval" in result.output
    assert "fraction" in result.output


def test_table_on_stdout_and_exit_0(fake_run, gold_file):
    result = invoke(gold_file)
    assert result.exit_code == 0, result.output
    assert "overall" in result.stdout and "MRR@5" in result.stdout and "ECE" in result.stdout
    assert result.stderr == ""
    assert [q.id for q in fake_run["gold"].questions] == [g["id"] for g in GOLD]
    assert fake_run["k"] == 5


@pytest.mark.parametrize(
    ("options", "exit_code"),
    [
        (["--min-f1", "0.5"], 0),
        (["--min-f1", "0.5", "--min-hit", "1"], 0),
        (["--min-f1", "0.51"], 1),
        (["--min-hit", "1", "--min-f1", "0.9"], 1),
    ],
)
def test_thresholds_gate_the_exit_code(fake_run, gold_file, options, exit_code):
    result = invoke(gold_file, *options)
    assert result.exit_code == exit_code
    assert "overall" in result.stdout  # the report is printed either way
    if exit_code:
        assert "F1 0.5000 is below the required" in result.stderr


def test_thresholds_are_fractions_not_percentages(fake_run, gold_file):
    result = invoke(gold_file, "--min-f1", "60")
    assert result.exit_code == 2
    assert "--min-f1" in result.stderr


def test_json_is_one_report_on_stdout(fake_run, gold_file, tmp_path):
    out = tmp_path / "report.json"
    result = invoke(gold_file, "--json", "--out", out)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["metrics"]["overall"]["f1"] == 0.5
    assert [r["id"] for r in data["records"]] == ["q1", "q2"]
    assert json.loads(out.read_text(encoding="utf-8")) == data


def test_options_reach_the_core(fake_run, tmp_path):
    from test_evaluate_runner import write_squad

    squad = write_squad(tmp_path / "dev.json")
    result = invoke(squad, "--format", "korquad", "--sample", "2", "--seed", "3", "--k", "10",
                    "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert len(fake_run["gold"].questions) == 2 and fake_run["gold"].format == "korquad"
    assert fake_run["k"] == 10 and fake_run["cache_dir"] == tmp_path / "cache"
    assert fake_run["embedder_args"] == (None, None)  # KorQuAD: the lock's default model, not index/'s


def test_ctrl_c_prints_the_partial_report_and_exits_130(fake_run, gold_file):
    fake_run["report"] = canned_report(interrupted=True)
    result = invoke(gold_file, "--min-f1", "0.99")
    assert result.exit_code == 130
    assert "INTERRUPTED" in result.stdout
    assert "interrupted after 2 of 2 questions" in result.stderr


def test_usage_errors_exit_2_before_loading_anything(fake_run, gold_file, tmp_path):
    result = invoke(gold_file, "--limit", "2", "--sample", "2")
    assert result.exit_code == 2 and "not both" in result.stderr
    result = invoke(tmp_path / "missing.jsonl")
    assert result.exit_code == 2
    assert "embedder_args" not in fake_run


def test_a_malformed_gold_file_exits_1_naming_the_line(fake_run, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    result = invoke(bad)
    assert result.exit_code == 1
    assert "bad.jsonl:1: not a gold question" in result.stderr
    assert "embedder_args" not in fake_run  # refused before the model was loaded


@pytest.mark.slow
def test_eval_end_to_end_with_the_real_session(archive, gold_file, monkeypatch):
    pytest.importorskip("qa.answer")
    monkeypatch.setattr(qa.cli, "_embedder", lambda model, index_dir: FakeEmbedder())
    result = invoke(gold_file, "--index-dir", archive / "index", "--k", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["evaluated"] == 4 and data["index"]["articles"] == 3
