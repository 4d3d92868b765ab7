"""The metric layer of `qa eval`. Every expected number is worked out by hand in the comment beside it."""

import json
import random
import subprocess
import sys

import pytest

from qa.errors import InputError
from qa.evaluate import (
    QuestionRecord,
    RecordScore,
    hit_rate,
    korquad_exact_match,
    korquad_f1,
    latency_summary,
    max_over_golds,
    mean_reciprocal_rank,
    no_answer_metrics,
    normalize_answer,
    reliability_table,
    score_record,
    squad_exact_match,
    squad_f1,
    squad_normalize,
    summarize_records,
)

# --- KorQuAD normalization ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("《한국의 역사》", "한국의 역사"),  # book brackets -> spaces, then trimmed
        ("〈서울〉(수도)", "서울 수도"),  # 〈 〉 ( ) -> spaces; the run of spaces collapses to one
        ("‘BTS’", "bts"),  # curly single quotes -> spaces, then lowercased
        ("1,000.5%", "10005"),  # the rest of ASCII punctuation is deleted, leaving no space
        ("a<b>c", "a b c"),  # < > are in the space list, so they split rather than delete
        ("a-b", "ab"),  # '-' is only in string.punctuation: deleted
        ("“서울”", "“서울”"),  # curly double quotes are in neither list: kept, as the official script does
        ("  삼성\t전자\n", "삼성 전자"),  # any whitespace collapses
    ],
)
def test_normalize_answer_follows_the_official_script(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_exact_match_collapses_spaces_but_f1_ignores_them():
    # '1억 달러' and '1억달러' normalize to different strings -> EM 0;
    # both have the characters {1, 억, 달, 러} once each once spaces are removed -> F1 1.
    assert korquad_exact_match("1억 달러", "1억달러") == 0.0
    assert korquad_f1("1억 달러", "1억달러") == 1.0


def test_exact_match_after_bracket_and_parenthesis_removal():
    assert korquad_exact_match("《토지》", "토지") == 1.0
    # '(주)삼성' -> ' 주 삼성' -> '주 삼성'
    assert korquad_exact_match("(주)삼성", "주 삼성") == 1.0
    assert korquad_exact_match("(주)삼성", "주삼성") == 0.0
    assert korquad_f1("(주)삼성", "주삼성") == 1.0


def test_f1_partial_overlap_both_directions():
    # prediction 서울특별시 (5 chars), gold 서울 (2): common 2 -> P = 2/5, R = 1,
    # F1 = 2 * (2/5) * 1 / (2/5 + 1) = (4/5) / (7/5) = 4/7. Swapping the sides swaps P and R: same F1.
    assert korquad_f1("서울특별시", "서울") == pytest.approx(4 / 7)
    assert korquad_f1("서울", "서울특별시") == pytest.approx(4 / 7)


def test_f1_counts_repeated_characters_as_a_multiset():
    # 하하하 vs 하: common min(3, 1) = 1 -> P = 1/3, R = 1 -> F1 = (2/3) / (4/3) = 1/2
    assert korquad_f1("하하하", "하") == pytest.approx(1 / 2)
    # 가가나 {가:2, 나:1} vs 가가가가나 {가:4, 나:1}: common 2 + 1 = 3 -> P = 3/3, R = 3/5,
    # F1 = 2 * (3/5) / (8/5) = 3/4
    assert korquad_f1("가가나", "가가가가나") == pytest.approx(3 / 4)


def test_f1_ignores_character_order_but_exact_match_does_not():
    assert korquad_f1("울서", "서울") == 1.0
    assert korquad_exact_match("울서", "서울") == 0.0


def test_f1_is_zero_without_common_characters_and_for_empty_strings():
    assert korquad_f1("부산", "서울") == 0.0
    assert korquad_f1("...", "서울") == 0.0  # normalizes to '' -> nothing in common
    # Official quirk: two strings that normalize to '' are an exact match yet have F1 0.
    assert korquad_exact_match("!!", "??") == 1.0
    assert korquad_f1("!!", "??") == 0.0


def test_declined_prediction_scores_zero():
    assert korquad_exact_match(None, "서울") == 0.0
    assert korquad_f1(None, "서울") == 0.0
    assert squad_exact_match(None, "Paris") == 0.0
    assert squad_f1(None, "Paris") == 0.0
    assert max_over_golds(korquad_f1, None, ["서울", "서울특별시"]) == 0.0


def test_max_over_golds_takes_the_best_gold():
    # vs 서울: 4/7 (above). vs 서울특별시 중구 (7 chars without the space): common 5 ->
    # P = 5/5, R = 5/7 -> F1 = 2 * (5/7) / (12/7) = 10/12 = 5/6. The max is 5/6.
    assert max_over_golds(korquad_f1, "서울특별시", ["서울", "서울특별시 중구"]) == pytest.approx(5 / 6)
    assert max_over_golds(korquad_exact_match, "서울특별시", ["서울", "서울특별시 중구"]) == 0.0
    assert max_over_golds(korquad_exact_match, "《서울》", ["부산", "서울"]) == 1.0
    # Two golds scoring the same: the value, not the gold, is returned, so the tie cannot matter.
    assert max_over_golds(korquad_f1, "서울특별시", ["서울", "서울"]) == pytest.approx(4 / 7)


def test_max_over_golds_needs_a_gold():
    with pytest.raises(ValueError):
        max_over_golds(korquad_f1, "서울", [])


def test_korquad_f1_on_english_is_character_level():
    # 'seoulcity' (9 chars) vs 'seoul' (5): common 5 -> P = 5/9, R = 1 -> F1 = (10/9) / (14/9) = 5/7
    assert korquad_f1("Seoul city", "Seoul") == pytest.approx(5 / 7)


# --- SQuAD v1.1 -----------------------------------------------------------------------------------------


def test_squad_normalize_drops_articles_punctuation_and_case():
    # lower -> 'the eiffel tower!' -> punctuation -> 'the eiffel tower' -> articles -> 'eiffel tower'
    assert squad_normalize("The Eiffel Tower!") == "eiffel tower"
    assert squad_normalize("An apple, a day") == "apple day"
    assert squad_normalize("The theatre banana") == "theatre banana"  # only whole words are articles


def test_squad_exact_match_and_token_f1():
    assert squad_exact_match("the Eiffel Tower", "Eiffel Tower.") == 1.0
    # tokens [tower, in, paris] vs [eiffel, tower]: common 1 -> P = 1/3, R = 1/2,
    # F1 = 2 * (1/6) / (5/6) = 2/5
    assert squad_f1("a tower in Paris", "the Eiffel Tower") == pytest.approx(2 / 5)
    # [seoul, city] vs [seoul]: P = 1/2, R = 1 -> F1 = 1 / (3/2) = 2/3 (char-level gave 5/7)
    assert squad_f1("Seoul city", "Seoul") == pytest.approx(2 / 3)


def test_squad_f1_counts_repeated_tokens_as_a_multiset():
    # {new:2, york:1} vs {new:1, york:1}: common 2 -> P = 2/3, R = 1 -> F1 = (4/3) / (5/3) = 4/5
    assert squad_f1("new new york", "New York") == pytest.approx(4 / 5)
    assert squad_f1("the", "a") == 0.0  # both normalize to no tokens


# --- Retrieval ------------------------------------------------------------------------------------------


def test_hit_rate_and_mrr_at_k():
    ranks = [1, 3, None, 6, 2]
    assert hit_rate(ranks, 1) == pytest.approx(1 / 5)  # only the rank-1 question
    assert hit_rate(ranks, 5) == pytest.approx(3 / 5)  # ranks 1, 3, 2; 6 is below the cut-off
    # MRR@5 = (1 + 1/3 + 0 + 0 + 1/2) / 5 = (11/6) / 5 = 11/30
    assert mean_reciprocal_rank(ranks, 5) == pytest.approx(11 / 30)
    # MRR@6 admits rank 6: (1 + 1/3 + 1/6 + 1/2) / 5 = 2/5
    assert mean_reciprocal_rank(ranks, 6) == pytest.approx(2 / 5)


def test_retrieval_metrics_of_no_questions_are_undefined():
    assert hit_rate([], 5) is None
    assert mean_reciprocal_rank([], 5) is None


# --- No-answer metrics ----------------------------------------------------------------------------------


def _outcome(answerable: bool, declined: bool, correct: bool) -> RecordScore:
    return RecordScore(answerable, declined, correct, None, None, None, None)


def test_no_answer_metrics():
    scores = [
        _outcome(answerable=True, declined=True, correct=False),  # A
        _outcome(answerable=True, declined=False, correct=True),  # B
        _outcome(answerable=True, declined=False, correct=False),  # C
        _outcome(answerable=False, declined=True, correct=False),  # D
        _outcome(answerable=False, declined=True, correct=False),  # E
        _outcome(answerable=False, declined=False, correct=False),  # F
        _outcome(answerable=False, declined=False, correct=False),  # G
    ]
    metrics = no_answer_metrics(scores)
    assert metrics.decline_precision == pytest.approx(2 / 3)  # declined A D E; unanswerable D E
    assert metrics.decline_recall == pytest.approx(2 / 4)  # unanswerable D E F G; declined D E
    assert metrics.confident_wrong_rate == pytest.approx(3 / 4)  # answered B C F G; wrong C F G


def test_no_answer_metrics_without_data_are_undefined():
    metrics = no_answer_metrics([_outcome(answerable=True, declined=False, correct=True)])
    assert metrics.decline_precision is None  # nothing declined
    assert metrics.decline_recall is None  # nothing unanswerable
    assert metrics.confident_wrong_rate == 0.0


# --- Reliability ----------------------------------------------------------------------------------------


def test_reliability_table_bins_and_ece():
    confidences = [0.05, 0.15, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9, 1.0]
    correct = [True, False, True, True, False, True, False, True, True]
    table = reliability_table(confidences, correct, n_bins=5)
    # Edges go to the upper bin ([lower, upper)); 1.0 goes to the last bin.
    # [0.0,0.2): 0.05 T, 0.15 F -> mean 0.10, accuracy 1/2
    # [0.2,0.4): 0.2 T, 0.3 T   -> mean 0.25, accuracy 1
    # [0.4,0.6): empty
    # [0.6,0.8): 0.6 F, 0.7 T   -> mean 0.65, accuracy 1/2
    # [0.8,1.0]: 0.8 F, 0.9 T, 1.0 T -> mean 0.90, accuracy 2/3
    assert [b.count for b in table.bins] == [2, 2, 0, 2, 3]
    assert [(b.lower, b.upper) for b in table.bins] == [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0)]
    assert [b.mean_confidence for b in table.bins] == pytest.approx([0.10, 0.25, None, 0.65, 0.90])
    assert [b.accuracy for b in table.bins] == pytest.approx([1 / 2, 1, None, 1 / 2, 2 / 3])
    # ECE = 2/9*|0.5-0.1| + 2/9*|1-0.25| + 2/9*|0.5-0.65| + 3/9*|2/3-0.9|
    #     = (0.8 + 1.5 + 0.3 + 0.7) / 9 = 3.3 / 9 = 11/30
    assert table.expected_calibration_error == pytest.approx(11 / 30)


def test_reliability_table_of_nothing_answered():
    table = reliability_table([], [], n_bins=5)
    assert [b.count for b in table.bins] == [0, 0, 0, 0, 0]
    assert table.expected_calibration_error is None


def test_reliability_table_rejects_confidence_out_of_range():
    with pytest.raises(ValueError):
        reliability_table([1.5], [True])


# --- Latency --------------------------------------------------------------------------------------------


def test_latency_percentiles_interpolate_linearly():
    # sorted [1, 2, 3, 4, 10]; p50 at index 2 -> 3; p95 at index 0.95 * 4 = 3.8 -> 4 + 0.8 * (10 - 4) = 8.8
    summary = latency_summary([10.0, 2.0, 4.0, 1.0, 3.0])
    assert summary.p50 == pytest.approx(3.0)
    assert summary.p95 == pytest.approx(8.8)
    assert latency_summary([2.5]).p95 == 2.5
    assert latency_summary([]).p50 is None


# --- Records and the summary ----------------------------------------------------------------------------


def _record(
    id, lang, golds, prediction, confidence, answerable=True, hit_rank=None, citation_valid=None, seconds=1.0
):
    return QuestionRecord(
        id, lang, f"question {id}", golds, prediction, confidence, answerable, hit_rank, citation_valid, seconds
    )


def test_score_record_korean_partial_answer_counts_as_correct():
    score = score_record(_record("k1", "ko", ["서울"], "서울특별시", 0.9))
    assert (score.em, score.f1) == (0.0, pytest.approx(4 / 7))
    assert score.correct  # 4/7 >= 0.5
    assert score.squad_em is None and score.squad_f1 is None  # no SQuAD metrics for Korean


def test_score_record_below_half_f1_is_wrong():
    # 서울특별시종로구 (8 chars) vs 서울 (2): P = 2/8, R = 1 -> F1 = (1/2) / (5/4) = 2/5 < 0.5
    score = score_record(_record("k2", "ko", ["서울"], "서울특별시 종로구", 0.9))
    assert score.f1 == pytest.approx(2 / 5)
    assert not score.correct


def test_score_record_exactly_half_f1_is_correct():
    # 가나 vs 가다: common 1 -> P = 1/2, R = 1/2 -> F1 = 1/2 exactly, which is the threshold
    score = score_record(_record("k5", "ko", ["가다"], "가나", 0.5))
    assert score.f1 == 0.5
    assert score.correct


def test_score_record_english_gets_both_metrics():
    # KorQuAD: 'the eiffel tower' != 'eiffel tower' -> EM 0; chars: 'theeiffeltower' (14) holds every
    # character of 'eiffeltower' (11) -> common 11, P = 11/14, R = 1 -> F1 = (22/14) / (25/14) = 22/25.
    # SQuAD drops the article -> EM 1, F1 1.
    score = score_record(_record("e1", "en", ["Eiffel Tower"], "the Eiffel Tower", 0.8))
    assert score.em == 0.0
    assert score.f1 == pytest.approx(22 / 25)
    assert (score.squad_em, score.squad_f1) == (1.0, 1.0)


def test_score_record_declined_and_unanswerable():
    declined = score_record(_record("k3", "ko", ["서울"], None, 0.1))
    assert (declined.declined, declined.em, declined.f1, declined.correct) == (True, 0.0, 0.0, False)
    unanswerable = score_record(_record("k4", "ko", [], "부산", 0.7, answerable=False))
    assert (unanswerable.em, unanswerable.f1, unanswerable.correct) == (None, None, False)


@pytest.mark.parametrize(
    "fields",
    [
        {"lang": "ja"},
        {"golds": []},  # answerable without a gold answer
        {"confidence": 1.2},
        {"hit_rank": 0},  # ranks are 1-based
    ],
)
def test_question_record_rejects_malformed_fields(fields):
    values = {"id": "q", "lang": "ko", "golds": ["서울"], "prediction": "서울", "confidence": 0.5, "hit_rank": 1}
    values.update(fields)
    with pytest.raises(InputError, match="question q"):
        _record(**values)


def _sample_records():
    return [
        # ko, EM 1, F1 1, correct
        _record("r1", "ko", ["서울"], "서울", 0.9, hit_rank=1, citation_valid=True, seconds=1.0),
        # ko, EM 0, F1 2/5, wrong
        _record("r2", "ko", ["서울"], "서울특별시 종로구", 0.7, hit_rank=3, citation_valid=False, seconds=2.0),
        # ko, unanswerable, declined
        _record("r3", "ko", [], None, 0.1, answerable=False, seconds=3.0),
        # en, EM 0, F1 22/25, SQuAD EM 1 / F1 1, correct
        _record("r4", "en", ["Eiffel Tower"], "the Eiffel Tower", 0.8, hit_rank=2, citation_valid=True, seconds=4.0),
        # en, answerable, declined: all answer metrics 0
        _record("r5", "en", ["Paris"], None, 0.3, seconds=10.0),
        # en, unanswerable, answered anyway: wrong
        _record("r6", "en", [], "London", 0.6, answerable=False, citation_valid=True, seconds=5.0),
    ]


def test_summarize_records_overall():
    overall = summarize_records(_sample_records(), k=5)["overall"]
    assert overall == {
        "questions": 6,
        "answerable": 4,  # r1 r2 r4 r5
        "declined": 2,  # r3 r5
        "em": pytest.approx(1 / 4),  # (1 + 0 + 0 + 0) / 4
        "f1": pytest.approx(0.57),  # (25/25 + 10/25 + 22/25 + 0) / 4 = 57/100
        "squad_em": pytest.approx(1 / 2),  # English answerable r4 r5: (1 + 0) / 2
        "squad_f1": pytest.approx(1 / 2),
        "hit_at_1": pytest.approx(1 / 4),  # answerable ranks [1, 3, 2, None]
        "hit_at_k": pytest.approx(3 / 4),
        "mrr_at_k": pytest.approx(11 / 24),  # (1 + 1/3 + 1/2 + 0) / 4
        "decline_precision": pytest.approx(1 / 2),  # declined r3 r5; unanswerable r3
        "decline_recall": pytest.approx(1 / 2),  # unanswerable r3 r6; declined r3
        "confident_wrong_rate": pytest.approx(1 / 2),  # answered r1 r2 r4 r6; wrong r2 r6
        "citation_valid": pytest.approx(3 / 4),  # r1 T, r2 F, r4 T, r6 T
        "p50": pytest.approx(3.5),  # sorted [1,2,3,4,5,10]: index 2.5 -> 3 + 0.5 * 1
        "p95": pytest.approx(8.75),  # index 0.95 * 5 = 4.75 -> 5 + 0.75 * 5
    }


def test_summarize_records_by_language():
    by_lang = summarize_records(_sample_records(), k=5)["by_lang"]
    assert by_lang["ko"] == {
        "questions": 3,
        "answerable": 2,
        "declined": 1,
        "em": pytest.approx(1 / 2),
        "f1": pytest.approx(0.7),  # (1 + 2/5) / 2
        "squad_em": None,
        "squad_f1": None,
        "hit_at_1": pytest.approx(1 / 2),  # ranks [1, 3]
        "hit_at_k": pytest.approx(1.0),
        "mrr_at_k": pytest.approx(2 / 3),  # (1 + 1/3) / 2
        "decline_precision": pytest.approx(1.0),
        "decline_recall": pytest.approx(1.0),
        "confident_wrong_rate": pytest.approx(1 / 2),
        "citation_valid": pytest.approx(1 / 2),
        "p50": pytest.approx(2.0),
        "p95": pytest.approx(2.9),  # [1, 2, 3]: index 1.9 -> 2 + 0.9
    }
    assert by_lang["en"] == {
        "questions": 3,
        "answerable": 2,
        "declined": 1,
        "em": pytest.approx(0.0),
        "f1": pytest.approx(0.44),  # (22/25 + 0) / 2
        "squad_em": pytest.approx(1 / 2),
        "squad_f1": pytest.approx(1 / 2),
        "hit_at_1": pytest.approx(0.0),  # ranks [2, None]
        "hit_at_k": pytest.approx(1 / 2),
        "mrr_at_k": pytest.approx(1 / 4),  # (1/2 + 0) / 2
        "decline_precision": pytest.approx(0.0),  # the one declined question (r5) was answerable
        "decline_recall": pytest.approx(0.0),  # the one unanswerable question (r6) was answered
        "confident_wrong_rate": pytest.approx(1 / 2),  # answered r4 (right) r6 (wrong)
        "citation_valid": pytest.approx(1.0),
        "p50": pytest.approx(5.0),  # [4, 5, 10]
        "p95": pytest.approx(9.5),  # index 1.9 -> 5 + 0.9 * 5
    }


def test_summarize_records_reliability():
    reliability = summarize_records(_sample_records(), k=5)["reliability"]
    # answered: r1 0.9 T, r2 0.7 F, r4 0.8 T, r6 0.6 F
    # [0.6,0.8): 0.7 F, 0.6 F -> mean 0.65, accuracy 0; [0.8,1.0]: 0.9 T, 0.8 T -> mean 0.85, accuracy 1
    assert [b["count"] for b in reliability["bins"]] == [0, 0, 0, 2, 2]
    # ECE = 2/4 * 0.65 + 2/4 * 0.15 = 0.4
    assert reliability["expected_calibration_error"] == pytest.approx(0.4)


def test_summarize_records_is_independent_of_record_order_and_json_ready():
    records = _sample_records()
    expected = summarize_records(records)
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    assert summarize_records(shuffled) == expected  # exact equality, not approx
    assert json.loads(json.dumps(expected)) == expected


def test_summarize_no_records():
    summary = summarize_records([])
    assert summary["overall"]["questions"] == 0
    assert summary["overall"]["f1"] is None
    assert summary["by_lang"]["ko"]["hit_at_1"] is None
    assert summary["reliability"]["expected_calibration_error"] is None


def test_importing_the_module_pulls_in_neither_numpy_nor_click():
    code = "import sys, qa.evaluate; print(sorted({'numpy', 'click'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
