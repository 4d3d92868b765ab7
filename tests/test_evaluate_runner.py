"""The runner of `qa eval`: gold loading, sampling, the KorQuAD index cache, one Session over a gold set."""
from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import FakeEmbedder
from qa.errors import InputError, UsageError
from qa.evaluate import (
    EvalReport,
    EvalRun,
    GoldQuestion,
    IndexInfo,
    QuestionRecord,
    evaluate_session,
    format_report,
    gold_hit_rank,
    korquad_articles,
    korquad_cache_folder,
    load_gold,
    prepare_korquad_index,
    report_json,
    threshold_failures,
)

# --- a tiny archive and gold set ---------------------------------------------------------------------------

ARTICLES = {
    "a1": "삼성전자, 평택에 새 반도체 공장 착공\n"
          "삼성전자는 3월 5일 평택에 새 반도체 공장을 짓기 시작했다고 밝혔다. 투자 규모는 30조 원이다.\n"
          "공장은 2027년에 가동될 예정이다.\n",
    "a2": "Acme opens a battery plant in Ohio\n"
          "Acme Corporation said on Monday that it opened a battery plant in Columbus, Ohio. "
          "The plant cost 2 billion dollars and employs 1,200 workers.\n",
    "a3": "카카오, 새 인공지능 모델 카나나 공개\n"
          "카카오는 새 인공지능 모델 카나나를 공개했다. 이 모델은 한국어 문서를 요약한다.\n",
}
GOLD = [
    {"id": "q1", "lang": "ko", "question": "삼성전자의 평택 공장 투자 규모는 얼마인가?", "answers": ["30조 원"], "doc": "a1"},
    {"id": "q2", "lang": "en", "question": "How many workers does the Acme battery plant employ?", "answers": ["1,200"], "doc": "a2"},
    {"id": "q3", "lang": "en", "question": "What is the name of Kakao's new AI model?", "answers": ["카나나"], "doc": "a3"},
    {"id": "q4", "lang": "ko", "question": "화성 탐사선은 언제 발사되나?", "answers": [], "doc": None},
]
# What the stand-in reader says: (answer, doc, confidence), or None to decline.
CANNED = {
    "q1": ("30조 원", "a1", 0.9),  # right
    "q2": ("2 billion dollars", "a2", 0.8),  # wrong
    "q3": None,  # declined an answerable question
    "q4": ("2027년", "a1", 0.3),  # answered an unanswerable one
}


def write_gold(path: Path, rows=GOLD) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """The three articles on disk and indexed with the fake embedder (real Kiwi)."""
    from qa.session import update_index

    root = tmp_path_factory.mktemp("archive")
    for doc_id, text in ARTICLES.items():
        (root / "articles").mkdir(exist_ok=True)
        (root / "articles" / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    update_index([str(root / "articles")], root / "index", FakeEmbedder())
    return root


class StubSession:
    """Stands in for qa.session.Session: real retrieval over a real index, canned answers located in the
    article text, so the runner is tested without the reader."""

    def __init__(self, index_dir: Path, canned: dict, by_question: dict, shift: int = 0, interrupt_at: int | None = None):
        from qa.index import load_index

        self.embedder = FakeEmbedder()
        self.index = load_index(index_dir, self.embedder.info)
        self.canned = {by_question[qid]: answer for qid, answer in canned.items()}
        self.shift = shift
        self.calls = 0
        self.interrupt_at = interrupt_at

    def ask(self, question: str, k: int = 5):
        from qa.retrieve import retrieve

        self.calls += 1
        if self.interrupt_at is not None and self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        passages = retrieve(self.index, self.embedder, question, k=k).passages
        canned = self.canned.get(question)
        if canned is None:
            return SimpleNamespace(answer=None, confidence=0.2, citation=None, passages=passages)
        answer, doc_id, confidence = canned
        text = self.index.articles[doc_id].text
        start = text.index(answer) + self.shift
        citation = SimpleNamespace(doc_id=doc_id, start=start, end=start + len(answer), passage=text,
                                   passage_start=0, passage_end=len(text))
        return SimpleNamespace(answer=answer, confidence=confidence, citation=citation, passages=passages)


def stub(archive, **kwargs) -> StubSession:
    return StubSession(archive / "index", CANNED, {g["id"]: g["question"] for g in GOLD}, **kwargs)


# --- loading gold sets ---------------------------------------------------------------------------------


def test_load_seeds_gold(tmp_path):
    gold = load_gold(write_gold(tmp_path / "gold.jsonl"))
    assert gold.format == "seeds" and gold.total == 4 and gold.articles == []
    assert [q.id for q in gold.questions] == ["q1", "q2", "q3", "q4"]
    assert gold.questions[3].answers == [] and gold.questions[3].doc is None
    assert gold.questions[1].lang == "en" and gold.questions[1].doc == "a2"
    assert len(gold.sha256) == 64


def test_the_shared_seeds_gold_loads():
    path = Path(__file__).resolve().parents[2] / "shared/gold/seeds.jsonl"
    if not path.exists():
        pytest.skip("shared/ is not beside the clone")
    gold = load_gold(path)
    assert gold.total == len(gold.questions) > 0
    assert {q.lang for q in gold.questions} <= {"ko", "en"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "lang": "ko", "question": "무엇?"}', ":2: not a gold question (KeyError"),
        ('{"id": "x", "lang": "ja", "question": "何?", "answers": [], "doc": null}', ":2: lang must be one of ko, en"),
        ('{"id": "x", "lang": "ko", "question": " ", "answers": [], "doc": null}', "question is not a non-empty string"),
        ('{"id": "x", "lang": "ko", "question": "무엇?", "answers": "a", "doc": null}', "answers is not a list"),
        ("not json", ":2: not a gold question (JSONDecodeError"),
    ],
)
def test_a_malformed_seeds_line_names_its_line(tmp_path, line, message):
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(GOLD[0], ensure_ascii=False) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=None) as info:
        load_gold(path)
    assert message in str(info.value)


def test_duplicate_ids_and_empty_or_missing_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="duplicate question ids: q1"):
        load_gold(write_gold(tmp_path / "dup.jsonl", [GOLD[0], GOLD[0]]))
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="no questions"):
        load_gold(tmp_path / "empty.jsonl")
    with pytest.raises(InputError, match="cannot read the gold file"):
        load_gold(tmp_path / "missing.jsonl")
    with pytest.raises(UsageError, match="unknown gold format"):
        load_gold(tmp_path / "dup.jsonl", "squad2")
    with pytest.raises(InputError, match="add --format korquad"):
        load_gold(write_squad(tmp_path / "dev.json"))


SQUAD = {
    "version": "KorQuAD_v1.0_dev",
    "data": [
        {"title": "임종석", "paragraphs": [
            {"context": "임종석은 1989년 2월 15일 지명수배되었다.", "qas": [
                {"id": "k-0-0", "question": "임종석이 지명수배된 날은?",
                 "answers": [{"text": "1989년 2월 15일", "answer_start": 5}, {"text": "1989년 2월 15일", "answer_start": 5}]},
                {"id": "k-0-1", "question": "누가 지명수배되었나?", "answers": [{"text": "임종석", "answer_start": 0}]},
            ]},
            {"context": "그는 1999년 국회의원이 되었다.", "qas": [
                {"id": "k-1-0", "question": "그가 국회의원이 된 해는?", "answers": [{"text": "1999년", "answer_start": 3}]},
            ]},
        ]},
        {"title": "한국의 역사", "paragraphs": [
            {"context": "고조선은 기원전 2333년에 세워졌다고 전한다.", "qas": [
                {"id": "h-0-0", "question": "고조선이 세워진 해는?", "answers": [{"text": "기원전 2333년", "answer_start": 5}]},
            ]},
        ]},
    ],
}


def write_squad(path: Path, data=SQUAD) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_korquad_paragraphs_become_articles_with_stable_ids(tmp_path):
    gold = load_gold(write_squad(tmp_path / "dev.json"), "korquad")
    assert gold.articles == [
        {"id": "kq000-00", "title": "임종석", "text": "임종석은 1989년 2월 15일 지명수배되었다."},
        {"id": "kq000-01", "title": "임종석", "text": "그는 1999년 국회의원이 되었다."},
        {"id": "kq001-00", "title": "한국의 역사", "text": "고조선은 기원전 2333년에 세워졌다고 전한다."},
    ]
    assert [(q.id, q.doc) for q in gold.questions] == [
        ("k-0-0", "kq000-00"), ("k-0-1", "kq000-00"), ("k-1-0", "kq000-01"), ("h-0-0", "kq001-00")]
    assert {q.lang for q in gold.questions} == {"ko"}
    assert gold.questions[0].answers == ["1989년 2월 15일"]  # the same gold twice counts once


def test_split_keeps_the_held_out_articles_questions_and_samples_among_them(tmp_path):
    squad = write_squad(tmp_path / "dev.json")
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"held_out": {"articles": [0]}, "train": {"articles": [1]}}), encoding="utf-8")
    gold = load_gold(squad, "korquad", split=split)
    assert [q.id for q in gold.questions] == ["k-0-0", "k-0-1", "k-1-0"] and gold.total == 3
    assert len(gold.articles) == 3  # the archive still holds every paragraph
    sampled = load_gold(squad, "korquad", split=split, sample=2, seed=1)
    assert len(sampled.questions) == 2 and {q.doc[:5] for q in sampled.questions} == {"kq000"}
    with pytest.raises(UsageError, match="--format korquad"):
        load_gold(write_gold(tmp_path / "gold.jsonl"), "seeds", split=split)
    split.write_text('{"train": {}}', encoding="utf-8")
    with pytest.raises(InputError, match="not a split file"):
        load_gold(squad, "korquad", split=split)


def test_a_file_that_is_not_squad_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a SQuAD v1.1 file"):
        load_gold(write_squad(tmp_path / "x.json", {"data": [{"title": "t"}]}), "korquad")
    (tmp_path / "y.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(InputError, match="not JSON"):
        load_gold(tmp_path / "y.json", "korquad")
    with pytest.raises(InputError, match="not a SQuAD v1.1 file"):
        korquad_articles([], "list.json")


def test_limit_keeps_the_first_questions(tmp_path):
    gold = load_gold(write_squad(tmp_path / "dev.json"), "korquad", limit=2)
    assert [q.id for q in gold.questions] == ["k-0-0", "k-0-1"] and gold.total == 4


def test_sampling_is_deterministic_and_keeps_file_order(tmp_path):
    rows = [dict(GOLD[0], id=f"q{n:03d}") for n in range(50)]
    path = write_gold(tmp_path / "many.jsonl", list(reversed(rows)))
    first = [q.id for q in load_gold(path, sample=10, seed=7).questions]
    again = [q.id for q in load_gold(path, sample=10, seed=7).questions]
    other = [q.id for q in load_gold(path, sample=10, seed=8).questions]
    assert first == again and len(set(first)) == 10
    assert first != other
    assert first == sorted(first, reverse=True)  # file order (the file is in reverse id order)
    # The choice depends on the set of ids only, not on their order in the file.
    forward = write_gold(tmp_path / "forward.jsonl", rows)
    assert sorted(q.id for q in load_gold(forward, sample=10, seed=7).questions) == sorted(first)


def test_sample_and_limit_arguments_are_checked(tmp_path):
    path = write_gold(tmp_path / "gold.jsonl")
    with pytest.raises(UsageError, match="not both"):
        load_gold(path, limit=2, sample=2)
    with pytest.raises(UsageError, match="more than the 4 questions"):
        load_gold(path, sample=5)
    with pytest.raises(UsageError, match="at least 1"):
        load_gold(path, limit=0)


# --- hit rank ----------------------------------------------------------------------------------------------


def _passage(doc_id: str, text: str):
    return SimpleNamespace(chunk=SimpleNamespace(doc_id=doc_id, text=text))


def test_hit_rank_needs_the_gold_doc_and_a_gold_answer_in_the_passage():
    gold = GoldQuestion("q", "ko", "?", ["30조 원", "30조"], "a1")
    passages = [_passage("a2", "투자 규모는 30조 원이다."),  # answer, wrong doc
                _passage("a1", "공장은 2027년에 가동된다."),  # gold doc, no answer
                _passage("a1", "투자 규모는 30조 원이다.")]
    assert gold_hit_rank(passages, gold) == 3
    assert gold_hit_rank(passages[:2], gold) is None
    any_doc = GoldQuestion("q", "ko", "?", ["30조"], None)
    assert gold_hit_rank(passages, any_doc) == 1  # no gold doc: any article counts
    unanswerable = GoldQuestion("q", "ko", "?", [], None)
    assert gold_hit_rank(passages, unanswerable) is None


# --- the run loop --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_runner_scores_every_question(archive, tmp_path):
    gold = load_gold(write_gold(tmp_path / "gold.jsonl"))
    report = evaluate_session(gold, stub(archive), k=10)
    assert not report.interrupted and report.planned == 4
    records = {r.id: r for r in report.records}
    assert [r.id for r in report.records] == ["q1", "q2", "q3", "q4"]
    assert records["q1"].prediction == "30조 원" and records["q3"].prediction is None
    assert records["q4"].answerable is False and records["q4"].hit_rank is None
    for run in report.runs:  # every article is one chunk, and k=10 retrieves them all
        if run.record.answerable:
            assert run.record.hit_rank == run.retrieved.index(run.gold_doc) + 1
    assert [records[q].citation_valid for q in ("q1", "q2", "q3", "q4")] == [True, True, None, True]
    assert all(r.seconds >= 0 for r in report.records)

    overall = report.metrics["overall"]
    assert overall["questions"] == 4 and overall["answerable"] == 3
    assert overall["em"] == pytest.approx(1 / 3)  # q1 right; q2 wrong; q3 declined
    assert overall["hit_at_k"] == 1.0
    assert overall["decline_precision"] == 0.0  # the one decline (q3) was answerable
    assert overall["decline_recall"] == 0.0  # q4, the unanswerable one, was answered
    assert overall["confident_wrong_rate"] == pytest.approx(2 / 3)  # q2 and q4 of the 3 answers
    assert overall["citation_valid"] == 1.0
    assert report.metrics["by_lang"]["en"]["squad_em"] == 0.0  # q2 wrong, q3 declined


@pytest.mark.slow
def test_two_runs_give_the_same_numbers(archive, tmp_path):
    gold = load_gold(write_gold(tmp_path / "gold.jsonl"))

    def without_latency(report):
        data = report_json(report)
        for record in data["records"]:
            record.pop("seconds")
        for group in [data["metrics"]["overall"], *data["metrics"]["by_lang"].values()]:
            group.pop("p50"), group.pop("p95")
        return data

    assert without_latency(evaluate_session(gold, stub(archive), k=3)) == without_latency(
        evaluate_session(gold, stub(archive), k=3))


@pytest.mark.slow
def test_a_citation_whose_offsets_miss_the_answer_is_invalid(archive, tmp_path):
    gold = load_gold(write_gold(tmp_path / "gold.jsonl"))
    report = evaluate_session(gold, stub(archive, shift=1), k=3)
    assert [r.citation_valid for r in report.records] == [False, False, None, False]
    assert report.metrics["overall"]["citation_valid"] == 0.0


@pytest.mark.slow
def test_citations_are_checked_against_the_file_on_disk(archive, tmp_path):
    gold = load_gold(write_gold(tmp_path / "gold.jsonl"))
    session = stub(archive)
    source = archive / "articles" / "a1.txt"
    original = source.read_text(encoding="utf-8")
    try:
        source.write_text("(edited) " + original, encoding="utf-8")  # the index is now stale
        report = evaluate_session(gold, session, k=3)
    finally:
        source.write_text(original, encoding="utf-8")
    valid = {r.id: r.citation_valid for r in report.records}
    assert valid["q1"] is False and valid["q4"] is False  # cited from a1
    assert valid["q2"] is True


@pytest.mark.slow
def test_ctrl_c_returns_the_partial_report(archive, tmp_path):
    gold = load_gold(write_gold(tmp_path / "gold.jsonl"))
    # Call 1 is the untimed warm-up; calls 2 and 3 are q1 and q2; call 4 (q3) is interrupted.
    report = evaluate_session(gold, stub(archive, interrupt_at=4), k=3)
    assert report.interrupted
    assert [r.id for r in report.records] == ["q1", "q2"]
    assert report.planned == 4
    assert report_json(report)["evaluated"] == 2
    assert "INTERRUPTED" in format_report(report)


@pytest.mark.slow
def test_progress_is_reported_per_question(archive, tmp_path):
    gold = load_gold(write_gold(tmp_path / "gold.jsonl"))
    calls = []
    evaluate_session(gold, stub(archive), k=3, progress=lambda *args: calls.append(args))
    assert calls == [("questions", n, 4) for n in range(5)]


# --- the report ------------------------------------------------------------------------------------------


def canned_report(interrupted: bool = False) -> EvalReport:
    """Two answered questions, no index needed: q1 right (F1 1), q2 wrong (F1 0)."""
    runs = [
        EvalRun(QuestionRecord("q1", "ko", "삼성?", ["30조 원"], "30조 원", 0.9, True, 1, True, 0.1), "a1",
                {"doc_id": "a1", "start": 40, "end": 45}, ["a1", "a2"], "reader"),
        EvalRun(QuestionRecord("q2", "en", "Acme?", ["1,200"], "Ohio", 0.7, True, 2, True, 0.3), "a2",
                {"doc_id": "a2", "start": 10, "end": 14}, ["a1", "a2"], "rules"),
    ]
    return EvalReport("gold.jsonl", "seeds", 5, 2, runs, IndexInfo("index", True, 1.5, 3), interrupted)


def test_report_json_shape():
    data = report_json(canned_report())
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data  # JSON-ready
    assert set(data) == {"gold", "format", "k", "planned", "evaluated", "interrupted", "index", "answerer", "metrics", "records"}
    assert set(data["metrics"]) == {"k", "overall", "by_lang", "reliability"}
    assert data["index"] == {"path": "index", "reused": True, "build_seconds": 1.5, "articles": 3, "skipped": 0}
    first = data["records"][0]
    assert set(first) == {"id", "lang", "question", "gold", "gold_doc", "prediction", "confidence", "answered_by",
                          "guess", "cited", "citation_valid", "hit_rank", "retrieved", "scores", "seconds"}
    assert [r["answered_by"] for r in data["records"]] == ["reader", "rules"]
    assert first["scores"] == {"em": 1.0, "f1": 1.0, "squad_em": None, "squad_f1": None, "correct": True, "declined": False}
    assert data["records"][1]["scores"]["squad_f1"] == 0.0
    assert data["metrics"]["overall"]["f1"] == 0.5


def test_format_report_prints_every_metric_per_language():
    text = format_report(canned_report())
    assert text.splitlines()[2] == "answers: rules"
    header = text.splitlines()[4].split()
    assert header == ["overall", "ko", "en"]
    for label in ("EM", "F1", "SQuAD F1 (en gold)", "hit@1", "hit@5", "MRR@5", "decline precision",
                  "decline recall", "confident-wrong", "citation valid", "latency p50 (s)", "latency p95 (s)",
                  "reliability", "ECE"):
        assert label in text
    assert [line.split()[1:] for line in text.splitlines() if line.startswith("F1 ")] == [["50.0", "100.0", "0.0"]]
    assert [line.split()[1:] for line in text.splitlines() if line.startswith("MRR@5")] == [["0.750", "1.000", "0.500"]]
    assert text.splitlines()[-1] == ("answered by: reader 1 (100.0 % of its 1 answerable right), "
                                     "rules 1 (0.0 % of its 1 answerable right)")


def test_the_report_counts_declined_questions_whose_unsure_guess_is_right():
    report = canned_report()
    declined = [
        EvalRun(QuestionRecord(f"d{i}", "ko", "언제?", ["1월 20일"], None, 0.3, True, 1, None, 0.1), "a1", None,
                ["a1"], None, guess)
        for i, guess in enumerate(["지난해 1월 20일", "엔비디아", None])
    ]
    report.runs.extend(declined)
    assert format_report(report).splitlines()[-1] == (
        "unsure guesses: 2 of 3 declined answerable questions carry one, 1 of them right")
    records = report_json(report)["records"]
    assert [r["guess"] for r in records] == [None, None, "지난해 1월 20일", "엔비디아", None]
    assert all(r["prediction"] is None for r in records[2:])  # a guess is never scored as the answer
    assert "unsure guesses" not in format_report(canned_report())


def test_thresholds_are_fractions():
    report = canned_report()  # F1 0.5, hit@5 1.0
    assert threshold_failures(report) == []
    assert threshold_failures(report, min_f1=0.5, min_hit=1.0) == []
    assert threshold_failures(report, min_f1=0.51) == ["F1 0.5000 is below the required 0.51"]
    assert threshold_failures(report, min_hit=1.0, min_f1=0.9) == ["F1 0.5000 is below the required 0.9"]
    empty = EvalReport("g", "seeds", 5, 0, [], IndexInfo("index", True, None, 0))
    assert threshold_failures(empty, min_hit=0.1) == ["hit@5 is undefined (no answerable questions), required ≥ 0.1"]


# --- the KorQuAD index cache -------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_korquad_index_is_built_once_and_reused(tmp_path):
    from qa.index import load_index

    gold = load_gold(write_squad(tmp_path / "dev.json"), "korquad")
    embedder = FakeEmbedder()
    built = prepare_korquad_index(gold, embedder, tmp_path / "cache")
    assert not built.reused and built.articles == 3 and built.build_seconds is not None
    folder = korquad_cache_folder(gold, embedder.info, tmp_path / "cache")
    assert Path(built.path) == folder / "index"
    assert folder.parent.name == f"dev-{gold.sha256[:12]}"
    started = time.perf_counter()
    again = prepare_korquad_index(gold, embedder, tmp_path / "cache")
    assert again.reused and again.path == built.path and time.perf_counter() - started < 0.5
    assert again.build_seconds == built.build_seconds
    # an index cut by another cleaner is built again
    marker = folder / "built.json"
    marker.write_text(marker.read_text(encoding="utf-8").replace('"cleaner": ', '"cleaner": -'), encoding="utf-8")
    assert not prepare_korquad_index(gold, embedder, tmp_path / "cache").reused
    assert prepare_korquad_index(gold, embedder, tmp_path / "cache").reused

    index = load_index(Path(built.path), embedder.info)
    assert sorted(index.articles) == ["kq000-00", "kq000-01", "kq001-00"]
    assert index.articles["kq001-00"].title == "한국의 역사"
    assert index.articles["kq001-00"].text == SQUAD["data"][1]["paragraphs"][0]["context"]

    # Another model, or another file, gets another folder.
    assert korquad_cache_folder(gold, FakeEmbedder("other").info, tmp_path / "cache") != folder
    changed = json.loads(json.dumps(SQUAD))
    changed["data"][1]["title"] = "조선"
    other = load_gold(write_squad(tmp_path / "dev.json", changed), "korquad")
    assert korquad_cache_folder(other, embedder.info, tmp_path / "cache").parent != folder.parent


@pytest.mark.slow
def test_a_paragraph_the_ingest_refuses_is_skipped_not_fatal(tmp_path):
    data = json.loads(json.dumps(SQUAD))
    data["data"][1]["paragraphs"].append({"context": "좋아요", "qas": [
        {"id": "h-1-0", "question": "무엇을 눌렀나?", "answers": [{"text": "좋아요", "answer_start": 0}]}]})
    gold = load_gold(write_squad(tmp_path / "dev.json", data), "korquad")
    info = prepare_korquad_index(gold, FakeEmbedder(), tmp_path / "cache")
    assert info.articles == 3 and info.skipped == 1
    built = json.loads((Path(info.path).parent / "built.json").read_text(encoding="utf-8"))
    assert built["skipped_ids"] == ["kq001-01"]
    assert len(gold.questions) == 5  # its question is still asked (and misses)


@pytest.mark.slow
def test_korquad_questions_run_over_all_paragraphs(tmp_path):
    gold = load_gold(write_squad(tmp_path / "dev.json"), "korquad")
    info = prepare_korquad_index(gold, FakeEmbedder(), tmp_path / "cache")
    by_question = {q.id: q.question for q in gold.questions}
    canned = {"k-0-0": ("1989년 2월 15일", "kq000-00", 0.9), "h-0-0": ("2333년", "kq001-00", 0.6)}
    report = evaluate_session(gold, StubSession(Path(info.path), canned, by_question), k=3, index=info)
    records = {r.id: r for r in report.records}
    assert records["k-0-0"].hit_rank is not None and records["k-0-0"].citation_valid is True
    assert records["h-0-0"].citation_valid is True  # checked against the cached articles.jsonl
    assert records["h-0-0"].prediction == "2333년"
    assert report.metrics["overall"]["em"] == 0.25  # one exact of four
    assert report.metrics["by_lang"]["en"]["questions"] == 0


# --- with the real Session (needs the reader, qa/answer.py) -------------------------------------------------


@pytest.mark.slow
def test_run_eval_with_the_real_session(archive, tmp_path):
    pytest.importorskip("qa.answer")
    from qa.evaluate import run_eval

    gold = load_gold(write_gold(tmp_path / "gold.jsonl"))
    report = run_eval(gold, FakeEmbedder(), index_dir=archive / "index", k=3)
    assert len(report.records) == 4 and not report.interrupted
    assert report.index.articles == 3 and report.index.reused
    for record in report.records:
        assert record.citation_valid is (None if record.prediction is None else True)
    format_report(report)
    json.dumps(report_json(report), ensure_ascii=False)
