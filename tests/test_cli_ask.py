"""The CLI contract of `qa ask`, `qa chat`, `qa index`, `qa docs`: JSON shape, offsets, exit codes."""
import json

import pytest
from click.testing import CliRunner

from qa.cli import main

from conftest import SEEDS

pytestmark = pytest.mark.slow

JSON_KEYS = {"question", "language", "answer", "confidence", "gloss", "answered_by", "citation", "guess", "passages"}
CITATION_KEYS = {"doc_id", "title", "start", "end", "passage", "passage_start", "passage_end"}
PASSAGE_KEYS = {"doc_id", "title", "passage", "passage_start", "passage_end", "score"}


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def source_text(doc_id: str) -> str:
    return (SEEDS / f"{doc_id}.txt").read_text(encoding="utf-8")


def test_ask_json_contract_and_offsets(fake_models, index_copy):
    result = run("ask", "스타게이트 프로젝트의 투자 규모는 얼마인가?", "--json", "--index-dir", str(index_copy))
    assert result.exit_code == 0, result.output
    [line] = result.stdout.strip().splitlines()
    payload = json.loads(line)
    assert set(payload) == JSON_KEYS
    assert payload["language"] == "ko"
    assert 0.0 <= payload["confidence"] <= 1.0
    assert (payload["answer"] is None) == (payload["citation"] is None)
    assert (payload["answered_by"] is None) == (payload["answer"] is None)
    assert payload["answered_by"] in (None, "reader", "rules")
    assert payload["answer"] is None or payload["guess"] is None  # a guess only for a declined question
    assert payload["passages"] and all(set(p) == PASSAGE_KEYS for p in payload["passages"])
    for p in payload["passages"]:
        assert source_text(p["doc_id"])[p["passage_start"] : p["passage_end"]] == p["passage"]
    citation = payload["citation"]
    assert citation is not None, "the fake embedder still finds this lexically"
    assert set(citation) == CITATION_KEYS
    text = source_text(citation["doc_id"])
    assert text[citation["start"] : citation["end"]] == payload["answer"]
    assert text[citation["passage_start"] : citation["passage_end"]] == citation["passage"]
    assert citation["passage_start"] <= citation["start"] < citation["end"] <= citation["passage_end"]
    assert "5000억" in payload["answer"]


def test_ask_plain_output_highlights_the_answer(fake_models, index_copy):
    result = run("ask", "스타게이트 프로젝트의 투자 규모는 얼마인가?", "--index-dir", str(index_copy), "--sources")
    assert result.exit_code == 0
    assert result.stdout.startswith("Answer: ")
    assert "[[" in result.stdout and "004_51241d96c21cc8a8" in result.stdout
    assert "1. " in result.stdout  # --sources lists the passages


@pytest.mark.parametrize("question", ["", "   ", "?!…", "🙂🙂", "가" * 1001])
def test_bad_questions_are_usage_errors(fake_models, index_copy, question):
    result = run("ask", question, "--index-dir", str(index_copy))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) <= 3  # click's usage line, blank, the error


def test_bad_k_is_a_usage_error(fake_models, index_copy):
    assert run("ask", "질문", "--k", "0", "--index-dir", str(index_copy)).exit_code == 2


def test_missing_index_without_seeds_is_a_runtime_error(fake_models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("ask", "무슨 일이 있었나?", "--index-dir", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert "no index at" in result.stderr and "qa index" in result.stderr
    assert "Traceback" not in result.output


def test_ask_builds_the_index_from_seeds_on_first_use(fake_models, tmp_path, monkeypatch):
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a.txt").write_text("테스트 기사 제목입니다\n삼성전자는 올해 반도체에 10조 원을 투자했다.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = run("ask", "삼성전자는 반도체에 얼마를 투자했나?", "--json", "--index-dir", "idx")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "idx" / "CURRENT").exists()
    assert json.loads(result.stdout)["passages"][0]["doc_id"] == "a"


def test_index_built_with_another_model_is_refused(fake_models, index_copy):
    result = run("ask", "질문입니다", "--index-dir", str(index_copy), "--model", "another-model")
    assert result.exit_code == 1
    assert "built with model 'fake-bigram'" in result.stderr and "--rebuild" in result.stderr


def test_corrupt_manifest_is_a_runtime_error(fake_models, index_copy):
    version = index_copy / (index_copy / "CURRENT").read_text().strip()
    (version / "manifest.json").write_text("{not json", encoding="utf-8")
    result = run("ask", "질문입니다", "--index-dir", str(index_copy))
    assert result.exit_code == 1
    assert "manifest" in result.stderr and "Traceback" not in result.output


def test_truncated_faiss_file_is_a_runtime_error(fake_models, index_copy):
    version = index_copy / (index_copy / "CURRENT").read_text().strip()
    data = (version / "chunks.faiss").read_bytes()
    (version / "chunks.faiss").write_bytes(data[: len(data) // 3])
    result = run("ask", "질문입니다", "--index-dir", str(index_copy))
    assert result.exit_code == 1
    assert "FAISS" in result.stderr or "damaged" in result.stderr


def test_chat_reads_questions_until_end_of_input(fake_models, index_copy):
    questions = "스타게이트 프로젝트의 투자 규모는?\n:sources\n\n엔비디아는 얼마의 피해를 볼 수 있다고 발표했나?\n:q\n이건 읽히지 않는다\n"
    result = run("chat", "--json", "--index-dir", str(index_copy), input=questions)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3  # answer, sources, answer; nothing after :q
    first, sources, second = (json.loads(line) for line in lines)
    assert set(first) == JSON_KEYS and set(second) == JSON_KEYS
    assert isinstance(sources, list) and set(sources[0]) == PASSAGE_KEYS
    assert second["question"].startswith("엔비디아는")


def test_chat_reports_a_bad_question_and_goes_on(fake_models, index_copy):
    result = run("chat", "--json", "--index-dir", str(index_copy), input="?!\n스타게이트 투자 규모는?\n")
    assert result.exit_code == 0
    assert "no words" in result.stderr
    assert len(result.stdout.strip().splitlines()) == 1


def test_chat_answers_help_and_unknown_commands_without_asking_them(fake_models, index_copy):
    result = run("chat", "--json", "--index-dir", str(index_copy), input=":help\n:source 1\n스타게이트 투자 규모는?\n")
    assert result.exit_code == 0
    assert ":sources" in result.stderr and ":q" in result.stderr
    assert "unknown command :source" in result.stderr
    answers = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [a["question"] for a in answers] == ["스타게이트 투자 규모는?"]


def test_index_then_docs_then_incremental_update(fake_models, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "one.txt").write_text("첫 번째 기사의 제목입니다\n한국은행은 기준금리를 3.5%로 동결했다.\n", encoding="utf-8")
    index_dir = str(tmp_path / "idx")
    first = run("index", str(corpus), "--index-dir", index_dir)
    assert first.exit_code == 0 and "1 added" in first.stdout
    (corpus / "two.md").write_text("# Second article headline\n\nThe central bank kept rates at 3.5% on Thursday.\n", encoding="utf-8")
    second = run("index", str(corpus), "--index-dir", index_dir)
    assert "1 added" in second.stdout and "1 unchanged" in second.stdout
    docs = run("docs", "--index-dir", index_dir, "--json")
    rows = [json.loads(line) for line in docs.stdout.splitlines()]
    assert {(r["doc_id"], r["lang"]) for r in rows} == {("one", "ko"), ("two", "en")}
    assert run("remove", "two", "--index-dir", index_dir).exit_code == 0
    assert [json.loads(l)["doc_id"] for l in run("docs", "--index-dir", index_dir, "--json").stdout.splitlines()] == ["one"]
    assert run("remove", "nope", "--index-dir", index_dir).exit_code == 2


def test_index_of_nothing_usable_is_a_runtime_error(fake_models, tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    result = run("index", str(tmp_path), "--index-dir", str(tmp_path / "idx"))
    assert result.exit_code == 1
    assert "empty file" in result.stderr
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_every_command_has_help_with_an_example():
    for args in (["ask"], ["chat"], ["index"], ["docs"], ["remove"], ["models"], ["models", "list"], ["models", "verify"]):
        result = run(*args, "--help")
        assert result.exit_code == 0
        assert "Example" in result.stdout or "example" in result.stdout, args


def test_a_declined_answer_prints_its_unsure_guess_with_the_source(capsys):
    from qa.cli import _print_result, _result_json
    from qa.session import AskResult, Citation, Guess

    passage = "미 해군을 시작으로 국방부가 금지했다."
    citation = Citation("004_x", "딥시크 충격", 100, 104, passage, 100, 100 + len(passage))
    result = AskResult("어느 나라가 먼저 금지했나?", "ko", None, 0.32, None, [], guess=Guess("미 해군", 0.32, citation))
    _print_result(result)
    out = capsys.readouterr().out.splitlines()
    # 0.32 clears the Korean floor (0.28): the line must not claim it is below a threshold
    assert out[0] == "No answer in the archive: nothing found was sure enough (best confidence 0.32)."
    assert out[1] == "Unsure guess, not an answer: 미 해군   confidence 0.32"
    assert out[2].startswith("Source: 004_x — 딥시크 충격  [chars 100–104]") and "[[미 해군]]을 시작으로" in out[3]
    payload = _result_json(result)
    assert payload["answer"] is None and payload["guess"]["text"] == "미 해군"
    assert set(payload["guess"]["citation"]) == CITATION_KEYS


def test_an_unsure_guess_prints_its_english_gloss(capsys):
    from qa.cli import _print_result, _result_json
    from qa.session import AskResult, Citation, Guess

    passage = "안녕하세요. 서진욱 기자입니다."
    citation = Citation("004_x", "딥시크 충격", 7, 10, passage, 0, len(passage))
    result = AskResult("Who wrote the letter?", "en", None, 0.4, None, [],
                       guess=Guess("서진욱", 0.4, citation, gloss="Seo Jin-uk"))
    _print_result(result)
    assert capsys.readouterr().out.splitlines()[1] == "Unsure guess, not an answer: 서진욱  (≈ Seo Jin-uk)   confidence 0.40"
    assert _result_json(result)["guess"]["gloss"] == "Seo Jin-uk"
