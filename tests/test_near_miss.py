"""Near-miss training questions (bench/near_miss.py): each variant asks about something its paragraph lacks."""
from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from near_miss import article_specific_names, names, near_miss, swap_model_number, swap_name, swap_year  # noqa: E402

PARAGRAPH = "딥시크는 2025년 1월 R1 모델을 공개했다. 훈련에는 H800 칩 2048개가 쓰였다."


def test_year_is_moved_to_one_the_paragraph_lacks():
    for seed in range(20):
        changed = swap_year("What did DeepSeek release in 2025?", PARAGRAPH, random.Random(seed))
        year = changed.removeprefix("What did DeepSeek release in ").removesuffix("?")
        assert year != "2025" and year.isdigit() and abs(int(year) - 2025) <= 3 and year not in PARAGRAPH


def test_model_number_changes_but_not_years_or_plain_numbers():
    for seed in range(20):
        changed = swap_model_number("When did DeepSeek release R1?", PARAGRAPH, random.Random(seed))
        assert changed.startswith("When did DeepSeek release R") and "R1?" not in changed
        assert changed.removeprefix("When did DeepSeek release ").removesuffix("?").lower() not in PARAGRAPH.lower()
    assert swap_model_number("How many chips were used in 2025?", PARAGRAPH, random.Random(0)) is None


def test_names_skip_question_words_months_and_possessives():
    assert names("Which agency did Kim Tae-hee join in January 2010?") == ["Kim Tae-hee"]
    assert names("What was the name of Kim Tae-hee's character in IRIS?") == ["Kim Tae-hee", "IRIS"]
    assert names("How many people were hired?") == []


def test_name_swap_replaces_the_longest_name_with_an_absent_donor_of_as_many_words():
    paragraph = "Halvorsen Microdevices was founded by Ingrid Solberg in Trondheim."
    donors = ["Ingrid Solberg", "Pat Ryan", "Seoul"]
    for seed in range(10):
        changed = swap_name("Where is Halvorsen Microdevices based?", paragraph, donors, random.Random(seed))
        assert changed == "Where is Pat Ryan based?"  # Solberg is in the paragraph, Seoul is one word
    assert swap_name("Where is Halvorsen Microdevices based?", paragraph, ["Seoul"], random.Random(0)) is None


def test_korean_questions_get_no_name_swap():
    assert near_miss("딥시크의 창업자는 누구인가?", PARAGRAPH, None, random.Random(0)) is None
    variants = [near_miss("딥시크가 2025년에 공개한 모델은?", PARAGRAPH, None, random.Random(seed)) for seed in range(20)]
    years = [v for v in variants if v is not None]
    assert years and all("2025" not in v and v.endswith("년에 공개한 모델은?") for v in years)


def test_donor_names_are_those_asked_about_in_one_other_article_only():
    groups = {"a": ["Who founded DeepSeek with Liang Wenfeng?", "Where is Seoul Station?"],
              "b": ["What did Jensen Huang show?", "How far is Seoul Station from here?"],
              "c": ["Which company did Sam Altman lead?"]}
    donors = article_specific_names(groups)
    assert donors["a"] == ["Jensen Huang", "Sam Altman"]  # Seoul Station is asked about in two articles
    assert donors["b"] == ["DeepSeek", "Liang Wenfeng", "Sam Altman"]
    assert "Sam Altman" not in donors["c"] and "Seoul Station" not in donors["c"]
