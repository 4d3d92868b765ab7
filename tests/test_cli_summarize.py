import json

import pytest

from test_cli_ask import run, source_text

pytestmark = pytest.mark.slow


def test_summarize_json_cites_exact_sentences(fake_models, index_copy):
    result = run("summarize", "002_68cb2df34e3786ef", "--json", "--index-dir", str(index_copy))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"summary", "doc_ids", "method"}
    assert payload["doc_ids"] == ["002_68cb2df34e3786ef"]
    assert len(payload["summary"]) == 3
    text = source_text("002_68cb2df34e3786ef")
    starts = [s["start"] for s in payload["summary"]]
    assert starts == sorted(starts)
    for s in payload["summary"]:
        assert text[s["start"] : s["end"]] == s["text"]


@pytest.mark.parametrize("args", [["nope_id"], ["002_68cb2df34e3786ef", "--sentences", "0"], []])
def test_summarize_usage_errors(fake_models, index_copy, args):
    result = run("summarize", *args, "--index-dir", str(index_copy))
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_summarize_in_another_language_without_a_translator(fake_models, index_copy):
    result = run("summarize", "002_68cb2df34e3786ef", "--lang", "en", "--index-dir", str(index_copy))
    assert result.exit_code == 1
    assert "translator" in result.stderr and "models.lock" in result.stderr
