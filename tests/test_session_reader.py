"""The reader inside Session.ask: loaded lazily, only for the languages it serves; its span cited with exact
offsets; declined below the reader's threshold; rules alone without a reader. A stub reader stands in for
the model (its spans are real spans of the retrieved passages), so these tests check the wiring."""
from __future__ import annotations

import pytest

from qa.reader import ReaderSpan
from qa.session import Session


class StubReader:
    """Answers with a span of the first passage (its first word holding a digit, else the first of 6+
    characters: most questions here ask how much), with given probabilities;
    ``supports``, if given, sets the support of each successive read instead (reads past its end: 0)."""

    name = "stub-reader"

    def __init__(self, support: float, no_answer: float, supports: list[float] | None = None):
        self.support, self.no_answer, self.supports = support, no_answer, supports
        self.calls: list[tuple[str, list, list]] = []

    def read(self, question, passages, top_k=5, priors=None):
        support = (self.supports + [0.0] * len(self.calls))[len(self.calls)] if self.supports else self.support
        self.calls.append((question, passages, priors))
        doc_id, text, start = passages[0]
        word = next((w for w in text.split() if any(ch.isdigit() for ch in w)), None) or next(
            w for w in text.split() if len(w) >= 6)
        at = text.index(word)
        return [ReaderSpan(doc_id, start + at, start + at + len(word), word, support / 2, 0.0,
                           self.no_answer, support)][:top_k]


def _cited(session: Session, result) -> None:
    article = session.index.articles[result.citation.doc_id]
    assert article.text[result.citation.start : result.citation.end] == result.answer
    passage = article.text[result.citation.passage_start : result.citation.passage_end]
    assert passage == result.citation.passage and result.answer in passage


def test_a_confident_reader_answers_with_its_span(index_copy, fake_embedder):
    reader = StubReader(support=0.95, no_answer=0.01)
    session = Session(index_copy, fake_embedder, reader=reader, reader_calibration=None)
    result = session.ask("엔비디아 주가는 얼마나 떨어졌나?")
    assert result.answer is not None and result.confidence == 0.95 and result.answered_by == "reader"
    _cited(session, result)
    assert len(reader.calls) == 1  # confident on the best chunk: the others are not read
    question, passages, priors = reader.calls[0]
    top = result.passages[0].chunk
    assert passages == [(top.doc_id, session.index.articles[top.doc_id].text[top.start : top.end], top.start)]
    assert len(priors) == 1 and priors[0] > 0
    assert result.answer in passages[0][1]


def test_the_reader_reads_chunks_one_at_a_time_until_one_read_is_confident(index_copy, fake_embedder):
    reader = StubReader(support=0.0, no_answer=0.01, supports=[0.2, 0.95, 0.99])  # 0.2: below the decline floor
    session = Session(index_copy, fake_embedder, reader=reader, reader_calibration=None)
    result = session.ask("엔비디아 주가는 얼마나 떨어졌나?")
    assert len(reader.calls) == 2 and result.confidence == 0.95
    second = result.passages[1].chunk
    assert [p[:1] + p[2:] for p in reader.calls[1][1]] == [(second.doc_id, second.start)]
    assert result.answer in reader.calls[1][1][0][1]
    _cited(session, result)
    unsure = StubReader(support=0.1, no_answer=0.5)
    Session(index_copy, fake_embedder, reader=unsure).ask("엔비디아 주가는 얼마나 떨어졌나?")
    assert len(unsure.calls) == 3  # READER_PASSAGES, then the rules


@pytest.mark.parametrize("question", ["엔비디아 주가는 얼마나 떨어졌나?", "딥시크는 언제 R1을 공개했나?", "화성 기지는 언제 완공됐나?"])
def test_an_unsure_reader_leaves_the_question_to_the_rules(index_copy, fake_embedder, question, monkeypatch):
    import qa.session

    rules = Session(index_copy, fake_embedder).ask(question)
    monkeypatch.setattr(qa.session, "RULES_FLOOR_AFTER_READER", 0.0)  # the rules' own floor only
    unsure = Session(index_copy, fake_embedder, reader=StubReader(support=0.02, no_answer=0.9))
    result = unsure.ask(question)
    assert (result.answer, result.citation) == (rules.answer, rules.citation)
    assert result.answered_by == ("rules" if result.answer is not None else None)
    if result.answer is None:
        assert result.confidence < max(unsure.reader_threshold, unsure.decline_threshold)
    # a span that does not beat the no-answer option never answers, whatever its support
    below = Session(index_copy, fake_embedder, reader=StubReader(support=0.9, no_answer=0.95)).ask(question)
    assert (below.answer, below.citation) == (rules.answer, rules.citation)


def test_after_the_reader_declines_the_rules_need_their_own_higher_floor(index_copy, fake_embedder, monkeypatch):
    import qa.session

    question = "엔비디아 주가는 얼마나 떨어졌나?"
    rules = Session(index_copy, fake_embedder).ask(question)
    assert rules.answer is not None and rules.answered_by == "rules"
    for floor, answered in ((round(rules.confidence - 0.01, 4), True), (round(rules.confidence + 0.01, 4), False)):
        monkeypatch.setattr(qa.session, "RULES_FLOOR_AFTER_READER", floor)
        result = Session(index_copy, fake_embedder, reader=StubReader(support=0.02, no_answer=0.9)).ask(question)
        assert (result.answer == rules.answer) is answered and (result.answer is None) is not answered
        assert result.answered_by == ("rules" if answered else None)


def test_the_reader_is_loaded_once_and_only_for_its_languages(index_copy, fake_embedder):
    loads = []

    def factory():
        loads.append(1)
        return StubReader(support=0.95, no_answer=0.01)

    session = Session(index_copy, fake_embedder, reader=factory, reader_languages=frozenset({"ko"}))
    session.ask("How much did Nvidia shares fall?")
    assert loads == []  # English: the rules answer, the reader is not even loaded
    session.ask("엔비디아 주가는 얼마나 떨어졌나?")
    session.ask("딥시크는 언제 R1을 공개했나?")
    assert loads == [1]


@pytest.mark.parametrize("question", ["엔비디아 주가는 얼마나 떨어졌나?", "딥시크는 언제 R1을 공개했나?"])
def test_without_a_reader_the_rules_answer_as_before(index_copy, fake_embedder, question):
    plain = Session(index_copy, fake_embedder)
    none_pinned = Session(index_copy, fake_embedder, reader=lambda: None)
    a, b = plain.ask(question), none_pinned.ask(question)
    assert (a.answer, a.confidence, a.citation) == (b.answer, b.confidence, b.citation)
    assert none_pinned.reader() is None


class UnitStubReader:
    """Offers, best first, a year of the passage, the year's digits alone, then a percentage of it, all very
    confident."""

    name = "unit-stub-reader"

    def read(self, question, passages, top_k=5, priors=None):
        import re

        doc_id, text, start = passages[0]
        spans = []
        for pattern in (r"\d{4}년", r"\d{4}(?=년)", r"\d+(?:\.\d+)?%"):
            found = re.search(pattern, text)
            if found:
                spans.append(ReaderSpan(doc_id, start + found.start(), start + found.end(), found.group(), 0.5,
                                        0.0, 0.01, 0.99))
        return spans[:top_k]


def test_a_reader_span_with_the_wrong_unit_gives_way_to_its_next_span(index_copy, fake_embedder):
    session = Session(index_copy, fake_embedder, reader=UnitStubReader())
    result = session.ask("엔비디아 주가는 2025년 1월 27일 하루에 몇 퍼센트 급락했나?")
    first = result.passages[0].chunk
    passage = session.index.articles[first.doc_id].text[first.start : first.end]
    assert "%" in passage and "년" in passage  # the stub offers a year first, then a percentage
    assert result.answer is not None and result.answer.endswith("%")
    _cited(session, result)


def test_reader_confidence_is_the_calibrated_support(index_copy, fake_embedder):
    question = "엔비디아 주가는 얼마나 떨어졌나?"

    def confidence(calibration, supports):
        reader = StubReader(support=0.0, no_answer=0.01, supports=supports)
        return Session(index_copy, fake_embedder, reader=reader, reader_calibration=calibration).ask(question).confidence

    assert confidence((1.0, 0.0, 0.0), [0.95]) == 0.95  # the identity map
    tempered = confidence((0.5, 0.0, 0.0), [0.95])
    assert 0.5 < tempered < 0.95  # a temperature of 2 pulls it towards 0.5
    # an answer from the second chunk, after a read that was not confident, is trusted less
    assert confidence((1.0, -1.0, 0.0), [0.3, 0.95]) < confidence((1.0, -1.0, 0.0), [0.95])


def test_a_reader_answer_below_the_decline_floor_is_not_given(index_copy, fake_embedder, monkeypatch):
    import qa.session

    monkeypatch.setattr(qa.session, "RULES_FLOOR_AFTER_READER", 0.0)  # the rules' own floor only
    question = "엔비디아 주가는 얼마나 떨어졌나?"
    # confident by support (0.95 >= the reader's threshold), but calibrated far below the decline floor
    reader = StubReader(support=0.0, no_answer=0.01, supports=[0.95, 0.95, 0.95])
    session = Session(index_copy, fake_embedder, reader=reader, reader_calibration=(1.0, 0.0, -5.0))
    result = session.ask(question)
    assert len(reader.calls) == 3 and result.answered_by != "reader"
    rules = Session(index_copy, fake_embedder).ask(question)
    assert (result.answer, result.citation) == (rules.answer, rules.citation)


def test_the_similarity_term_of_the_calibration_needs_its_embedder(index_copy, fake_embedder):
    import math

    from qa.session import ANY_EMBEDDER_READER_CALIBRATION

    question = "엔비디아 주가는 얼마나 떨어졌나?"
    default = Session(index_copy, fake_embedder, reader=StubReader(support=0.95, no_answer=0.01))
    assert default.reader_calibration == ANY_EMBEDDER_READER_CALIBRATION  # the fake embedder's scale is not e5's
    session = Session(index_copy, fake_embedder, reader=StubReader(support=0.95, no_answer=0.01),
                      reader_calibration=(1.0, 0.0, 2.0, 0.0))
    result = session.ask(question)
    similarity = result.passages[0].dense
    expected = 1 / (1 + math.exp(-(math.log(0.95 / 0.05) + 2.0 * similarity)))
    assert result.answered_by == "reader" and result.confidence == round(expected, 4)


def test_across_languages_the_cross_language_calibration_applies(index_copy, fake_embedder):
    import math

    from qa.session import ReaderCalibration

    english = "How much did Nvidia shares fall?"
    korean = "엔비디아 주가는 얼마나 떨어졌나?"
    calibration = ReaderCalibration(same_language=(1.0, 0.0, 0.0), cross_language=(1.0, 0.0, -1.0))

    def ask(question):
        return Session(index_copy, fake_embedder, reader=StubReader(support=0.95, no_answer=0.01),
                       reader_calibration=calibration).ask(question)

    result = ask(english)
    assert result.language == "en" and result.passages[0].lang == "ko"
    cross = 1 / (1 + math.exp(-(math.log(0.95 / 0.05) - 1.0)))
    assert result.answered_by == "reader" and result.confidence == round(cross, 4)
    assert ask(korean).confidence == 0.95  # the same-language weights: the identity map


def test_the_reader_floor_depends_on_the_question_language(index_copy, fake_embedder):
    english = "How much did Nvidia shares fall?"
    korean = "엔비디아 주가는 얼마나 떨어졌나?"

    def ask(question):
        reader = StubReader(support=0.5, no_answer=0.01)  # the identity calibration: confidence 0.5
        session = Session(index_copy, fake_embedder, reader=reader, reader_calibration=(1.0, 0.0, 0.0),
                          reader_floor={"ko": 0.3, "en": 0.6}, reader_threshold=0.0)  # the floor alone decides
        return session.ask(question), reader

    answered, _ = ask(korean)
    assert answered.answered_by == "reader" and answered.confidence == 0.5
    held_back, reader = ask(english)
    assert len(reader.calls) == 3 and held_back.answered_by != "reader"  # 0.5 < 0.6: every read falls short


def test_a_less_than_sure_read_gives_way_to_a_more_confident_later_one(index_copy, fake_embedder):
    question = "엔비디아 주가는 얼마나 떨어졌나?"
    from qa.session import READER_SURE

    best = round(READER_SURE - 0.05, 2)
    reader = StubReader(support=0.0, no_answer=0.01, supports=[best - 0.2, best, best - 0.1])  # none sure
    session = Session(index_copy, fake_embedder, reader=reader, reader_calibration=None, reader_threshold=0.0)
    result = session.ask(question)
    assert len(reader.calls) == 3 and result.confidence == best
    assert result.answer in reader.calls[1][1][0][1]  # from the second chunk read
    _cited(session, result)
    sure = StubReader(support=0.0, no_answer=0.01, supports=[best - 0.2, 0.97, 0.99])
    assert Session(index_copy, fake_embedder, reader=sure, reader_calibration=None,
                   reader_threshold=0.0).ask(question).confidence == 0.97
    assert len(sure.calls) == 2  # a sure read ends the reading


def test_first_sure_or_most_confident_stops_reading_at_a_sure_read():
    from qa.session import first_sure_or_most_confident

    consumed = []

    def reads(values):
        for value in values:
            consumed.append(value)
            yield value, f"read {value}"

    assert first_sure_or_most_confident(reads([0.5, 0.96, 0.99]), sure=0.95) == (0.96, "read 0.96")
    assert consumed == [0.5, 0.96]
    assert first_sure_or_most_confident(reads([0.5, 0.8, 0.6]), sure=0.95) == (0.8, "read 0.8")
    assert first_sure_or_most_confident(reads([]), sure=0.95) is None


def _span(text, passage, support):
    start = passage.index(text)
    return ReaderSpan("d", start, start + len(text), text, support, 0.0, 0.01, support)


def test_a_list_question_takes_the_readers_best_list_span():
    from qa.chunk import Token
    from qa.question import analyze_question
    from qa.session import _first_fitting

    passage = "상하이 네마리의 용으로 통하는 티앤수즈신, 무시, 비런테크놀로지 등"
    words = [("상하이", "NNP"), ("네", "NR"), ("마리", "NNB"), ("의", "JKG"), ("용", "NNG"), ("으로", "JKB"),
             ("통하", "VV"), ("는", "ETM"), ("티앤수즈신", "NNG"), (",", "SP"), ("무시", "NNG"), (",", "SP"),
             ("비런테크놀로지", "NNP"), ("등", "NNB")]
    tokens, at = [], 0
    for form, tag in words:
        at = passage.index(form, at)
        tokens.append(Token(form, tag, at, at + len(form)))
        at += len(form)
    spans = [_span("상하이 네마리의 용", passage, 0.9), _span("티앤수즈신", passage, 0.3),
             _span("티앤수즈신, 무시", passage, 0.25), _span("티앤수즈신, 무시, 비런테크놀로지", passage, 0.2)]
    three = _first_fitting(spans, analyze_question("상하이의 GPU 기업 세 곳은?"), tokens)
    assert three.text == "티앤수즈신, 무시, 비런테크놀로지"
    assert _first_fitting(spans, analyze_question("상하이의 GPU 기업 두 곳은?"), tokens).text == "티앤수즈신, 무시"
    assert _first_fitting(spans, analyze_question("상하이 GPU 기업의 별명은?"), tokens).text == "상하이 네마리의 용"
    # no count given: a list only with at least half the best span's support
    assert _first_fitting(spans, analyze_question("Which GPU companies are in Shanghai?"), tokens).text == "상하이 네마리의 용"
    spans[2] = _span("티앤수즈신, 무시", passage, 0.5)
    assert _first_fitting(spans, analyze_question("Which GPU companies are in Shanghai?"), tokens).text == "티앤수즈신, 무시"


def test_an_answer_from_an_article_that_never_names_the_questions_year_is_not_given(index_copy, fake_embedder):
    question = "엔비디아 주가는 얼마나 떨어졌나?"
    reader = StubReader(support=0.95, no_answer=0.01)
    session = Session(index_copy, fake_embedder, reader=reader, reader_calibration=None)
    answered = session.ask(question)
    article = session.index.articles[answered.citation.doc_id].text
    stated = next(y for y in ("2025", "2024", "2023") if y in article)
    assert session.ask(f"{stated}년 {question}").answer == answered.answer  # a year the article names: answered
    unstated = next(str(y) for y in range(1990, 2020)
                    if not any(str(y) in a.text for a in session.index.articles.values()))
    reader.calls.clear()
    result = Session(index_copy, fake_embedder, reader=reader, reader_calibration=None).ask(f"{unstated}년 {question}")
    assert reader.calls and result.answer is None  # read, but no article names that year: neither reader nor rules answer


def test_a_declined_question_offers_its_most_confident_span_as_an_unsure_guess(index_copy, fake_embedder, monkeypatch):
    import qa.session

    monkeypatch.setattr(qa.session, "RULES_FLOOR_AFTER_READER", 1.01)  # the rules never answer here
    question = "엔비디아 주가는 얼마나 떨어졌나?"
    # beats no-answer, but calibrated (identity) below the floor: 0.9 here
    reader = StubReader(support=0.0, no_answer=0.01, supports=[0.7, 0.8, 0.0])
    session = Session(index_copy, fake_embedder, reader=reader, reader_calibration=None, reader_floor=0.9)
    result = session.ask(question)
    assert result.answer is None and result.citation is None and result.answered_by is None
    guess = result.guess
    assert guess is not None and guess.confidence == 0.8  # the more confident of the reads
    article = session.index.articles[guess.citation.doc_id].text
    assert article[guess.citation.start : guess.citation.end] == guess.text
    assert guess.text in guess.citation.passage
    assert guess.text in reader.calls[1][1][0][1]  # from the second read
    # a read that does not beat the no-answer option is no guess, nor one under the rules' floor: what is
    # left is the rules' span, where the rules alone would answer
    rules = Session(index_copy, fake_embedder).ask(question)
    for unsure in (StubReader(support=0.9, no_answer=0.95), StubReader(support=0.2, no_answer=0.01)):
        result = Session(index_copy, fake_embedder, reader=unsure, reader_calibration=None).ask(question)
        assert result.answer is None
        assert (result.guess.text, result.guess.citation) == (rules.answer, rules.citation) if rules.answer \
            else result.guess is None


class NamingReader:
    """Answers every read with the first of ``words`` found in the passage, surely."""

    name = "naming-reader"

    def __init__(self, *words: str):
        self.words = words

    def read(self, question, passages, top_k=5, priors=None):
        doc_id, text, start = passages[0]
        word = next((w for w in self.words if w in text), None)
        if word is None:
            return []
        at = start + text.index(word)
        return [ReaderSpan(doc_id, at, at + len(word), word, 0.97, 0.0, 0.01, 0.97)]


@pytest.fixture(scope="module")
def listing_index(tmp_path_factory):
    from conftest import FakeEmbedder
    from qa.session import update_index

    folder = tmp_path_factory.mktemp("listing")
    (folder / "bids.txt").write_text(
        "항만 재개발 공모 마감\n\n부산 항만 재개발 사업 공모가 마감됐다. 이번 공모에는 가람건설, 누리토건, 다온산업 등 "
        "중견 건설사 3곳이 참여했다. 결과는 다음 달 발표된다.\n", encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("listing-index")
    update_index([str(folder)], index_dir, FakeEmbedder())
    return index_dir


@pytest.mark.parametrize("question, said, answer", [
    ("항만 재개발 공모에 참여한 건설사는 어디인가?", "건설사 3곳", "가람건설, 누리토건, 다온산업"),
    ("항만 재개발 공모에 참여한 건설사들은 어디인가?", "누리토건", "가람건설, 누리토건, 다온산업"),
    ("항만 재개발 공모에 참여한 건설사는 몇 곳인가?", "3곳", "3곳"),  # asks how many: the count is the answer
    ("항만 재개발 공모에서 어느 건설사가 가장 컸나?", "누리토건", "누리토건"),  # asks for one
])
def test_a_reader_span_standing_for_a_list_answers_with_the_list(listing_index, fake_embedder, question, said, answer):
    session = Session(listing_index, fake_embedder, sources=(), reader=NamingReader(said), reader_calibration=None)
    result = session.ask(question)
    assert result.answer == answer and result.answered_by == "reader"
    _cited(session, result)


@pytest.mark.parametrize("share, reads", [(0.0, 3), (0.9, 2), (0.97, 1), (1.01, 1)])
def test_chunks_retrieved_far_below_the_best_are_not_read(index_copy, fake_embedder, monkeypatch, share, reads):
    import qa.session

    monkeypatch.setattr(qa.session, "READER_SKIP_BELOW", share)
    unsure = StubReader(support=0.1, no_answer=0.5)  # never sure: reads every chunk it may
    result = Session(index_copy, fake_embedder, reader=unsure).ask("엔비디아 주가는 얼마나 떨어졌나?")
    scores = [p.score / result.passages[0].score for p in result.passages[:3]]
    assert scores[1] >= 0.9 > scores[2] and scores[1] < 0.97  # what the shares above test
    assert len(unsure.calls) == reads
    read = [(p[0][0], p[0][2]) for _, p, _ in unsure.calls]
    assert read == [(p.chunk.doc_id, p.chunk.start) for p in result.passages[:reads]]  # best first


@pytest.fixture(scope="module")
def earnings_index(tmp_path_factory):
    from conftest import FakeEmbedder
    from qa.session import update_index

    folder = tmp_path_factory.mktemp("earnings")
    (folder / "earnings.txt").write_text(
        "한빛전자 2분기 실적 발표\n\n한빛전자는 2분기 영업이익이 1조2000억원으로 지난해보다 35% 늘었다고 밝혔다. "
        "김민수 한빛전자 부사장은 \"하반기에도 수요가 이어질 것\"이라고 말했다. 새 공장은 서울시 성동구에 들어선다. "
        "공장 건설은 엔지니어 박서연(41)이 이끈다. 실적은 고대역폭메모리(HBM) 판매가 이끌었다.\n",
        encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("earnings-index")
    update_index([str(folder)], index_dir, FakeEmbedder())
    return index_dir


@pytest.mark.parametrize("question, said, english", [
    ("Who is Hanbit's vice president?", "김민수", "Kim Min-su"),  # a person the article names with a title
    ("Who leads the plant's construction?", "박서연", "Park Seo-yeon"),  # a name with the age after it
    ("Where will the new plant be built?", "서울시", None),  # opens like a surname ('서'), names a city
    ("Which product drove the results?", "고대역폭메모리", "HBM"),  # the article's own Latin spelling
    ("What was Hanbit's operating profit?", "1조2000억원", "₩1.2 trillion"),
    ("한빛전자 부사장은 누구인가?", "김민수", None),  # a Korean question needs no gloss
])
def test_an_english_question_gets_the_korean_answer_glossed(earnings_index, fake_embedder, monkeypatch, question,
                                                           said, english):
    import qa.session

    session = Session(earnings_index, fake_embedder, sources=(), reader=NamingReader(said), reader_calibration=None)
    result = session.ask(question)
    assert result.answer == said and result.gloss == english
    _cited(session, result)
    monkeypatch.setattr(qa.session, "RULES_FLOOR_AFTER_READER", 1.01)  # the rules never answer in its place
    declined = Session(earnings_index, fake_embedder, sources=(), reader=NamingReader(said), reader_calibration=None,
                       reader_floor=0.99).ask(question)  # support 0.97: under the floor, kept as the unsure guess
    assert declined.answer is None and declined.guess.text == said and declined.guess.gloss == english
