"""Question analysis: typing, units and particle stripping, all without a morphological analyser."""
import pytest

from qa.question import analyze_question, states_years, strip_particles


@pytest.mark.parametrize(
    "question, answer_type",
    [
        ("딥시크를 설립한 사람은 누구인가?", "person"),
        ("누가 R1 모델을 발표했나?", "person"),
        ("딥시크-R1은 언제 공개되었나?", "date"),
        ("임종석이 지명수배된 날은?", "date"),
        ("그는 몇 년에 태어났나?", "date"),
        ("그는 몇 년 동안 재임했나?", "number"),
        ("엔비디아의 시가총액은 얼마나 줄었나?", "number"),
        ("딥시크는 몇 개의 GPU를 사용했는가?", "number"),
        ("임종석을 검거한 장소는 어디인가?", "place"),
        ("H800을 만든 회사는 어디인가?", "organization"),
        ("어느 기업이 H800을 공급했나?", "organization"),
        ("딥시크가 사용한 칩의 이름은 무엇인가?", "thing"),
        ("딥시크를 설립한 사람의 이름은?", "person"),
        ("그가 받은 징역형은?", "number"),  # a sentence, not an older brother ('형')
        ("새 화면의 해상도는?", "number"),  # a degree ('도'), not a province
        ("심판이 언제나 볼 수 있어야 하는 것은?", "thing"),  # '언제나': always, no 'when'
        ("그의 형은 누구인가?", "person"),
        ("왕은 친영을 거행할 때 어디로 돌아왔는가?", "place"),  # '어디' asks where, whatever the clause's head
        ("사고를 보도한 방송사는 어디인가?", "organization"),
        ("Who founded DeepSeek?", "person"),
        ("When was R1 released?", "date"),
        ("What year did Haig die?", "date"),
        ("How many GPUs did DeepSeek use?", "number"),
        ("What percentage did Nvidia shares fall?", "number"),
        ("Where is DeepSeek based?", "place"),
        ("Which company makes the H800 chip?", "organization"),
        ("Which chip did DeepSeek use?", "thing"),
        ("Which analyst wrote the report?", "person"),
        ("At what altitude does the satellite orbit?", "number"),  # a measure asked with 'what'
        ("What peak temperature did the city record?", "number"),
        ("Which Korean speed skater won?", "thing"),  # 'speed' describes the skater
        ("Which area was flooded?", "place"),
        ("Which brokerage raised its price target?", "organization"),
        ("Which Grand National Party lawmaker pulled out?", "person"),  # a compound names its last noun
        ("What were the agency's consolidated sales for the first quarter?", "number"),  # the phrase's last noun
        ("What was the top standard score in the Korean section?", "number"),
        ("What is the vaccination rate among people aged 65?", "number"),  # 'among' ends the phrase
        ("What is Oh Seung-jae's ERA so far this season?", "other"),  # an acronym, not 'era'; 'season' says when
        ("What is the total area of the lagoon?", "number"),
        ("What is DeepSeek?", "other"),
    ],
)
def test_answer_type(question, answer_type):
    assert analyze_question(question).answer_type == answer_type


@pytest.mark.parametrize(
    "question, unit",
    [
        ("점유율은 몇 퍼센트인가?", "%"),
        ("딥시크는 몇 개의 GPU를 사용했는가?", "개"),
        ("훈련에 든 비용은 몇 달러인가?", "달러"),
        ("몇 명이 참여했나?", "명"),
        ("훈련에 걸린 시간은 몇 시간인가?", "시간"),
        ("How many hours did training take?", "시간"),
        ("How many dollars did it cost?", "달러"),
        ("What share of the market does Nvidia hold?", "%"),
        ("Who founded DeepSeek?", None),
        ("How long does a ride on the new line take?", "duration"),
        ("For how long was the road shut?", "duration"),
        ("How long is the new line?", None),  # a length, or a duration: not said
        ("What is the ratio of deposits to prices?", "%"),
        ("공사는 얼마 동안 진행됐나?", "duration"),
        ("복구까지 얼마나 걸렸나?", "duration"),
        ("운항은 얼마 만에 재개됐나?", "duration"),
        ("시범 운영 기간은 얼마인가?", "duration"),
        ("훈련에 걸린 시간은?", "duration"),  # minutes or days may answer it
        ("직장인은 하루 평균 얼마나 자나?", "duration"),  # a verb that lasts, not one that counts
        ("파업은 얼마나 지속됐나?", "duration"),
        ("관광객은 평균 얼마나 머물렀나?", "duration"),
        ("이용자는 얼마나 늘었나?", None),  # a verb that counts: a number or a share
        ("다리를 짓는 데 얼마가 들었나?", "currency"),  # a verb of spending after '얼마가'
        ("보험사는 얼마를 지급했나?", "currency"),
        ("모래주머니는 얼마나 들었나?", None),  # '얼마나' with '들다': how many went in, or what it cost
        ("1위를 몇 주 동안 지켰나?", "주"),
        ("What was the price of the painting?", "currency"),  # a money head after 'what'
        ("How large was the company's operating loss?", "currency"),
        ("How large is the new stadium?", None),
        ("What was the sales growth rate?", None),  # a rate of sales, not money
        ("How big is the signing bonus in his new deal?", "currency"),
        ("How long do students keep using their phones?", "duration"),  # 'how long' counts no students
        ("How many students kept their phones?", "명"),
        ("What were the agency's consolidated sales for the quarter?", "currency"),
        ("What commission rate does the app charge?", "%"),
        ("What was the average won-yen exchange rate?", None),  # an exchange rate is a price, not a share
        ("한러 수교 몇 주년인가?", "주년"),
        ("투자 금액은 얼마인가?", "currency"),  # '얼마' alone still asks for an amount
        ("얼마나 많은 사람이 왔나?", None),
    ],
)
def test_unit_hint(question, unit):
    assert analyze_question(question).unit_hint == unit


@pytest.mark.parametrize(
    "eojeol, stem",
    [
        ("엔비디아의", "엔비디아"),
        ("회사에서는", "회사"),
        ("딥시크를", "딥시크"),
        ("H800을", "H800"),
        ("지명수배된", "지명수배"),
        ("주도했는가", "주도"),
        ("날은", "날"),
        ("나라는", "나라"),  # '라는' must not eat the stem
        ("혐의로", "혐의"),  # one pass only: not '혐'
        ("미국", "미국"),
    ],
)
def test_strip_particles(eojeol, stem):
    assert strip_particles(eojeol) == stem


def test_language_and_terms():
    korean = analyze_question("엔비디아의 H800 프로세서를 누가 최적화했나?")
    assert korean.lang == "ko"
    assert "엔비디아" in korean.terms and "H800" in korean.terms and "프로세서" in korean.terms
    assert korean.wh_word == "누가"
    assert all(korean.text[s:e] == t for t, (s, e) in zip(korean.terms, korean.term_spans))

    english = analyze_question("Which Chinese company released the R1 model?")
    assert english.lang == "en"
    assert english.wh_word.startswith("Which") and english.head_noun == "company"
    assert "R1" in english.terms and "chinese" in english.terms and "the" not in english.terms


def test_list_questions():
    assert analyze_question("수출 규제를 받는 네 곳은?").wants_list
    assert analyze_question("Which companies supply HBM chips?").wants_list
    assert not analyze_question("딥시크는 몇 개의 GPU를 사용했는가?").wants_list


def test_money_questions_accept_any_currency_and_counts_use_the_general_counter():
    from qa.question import CURRENCY

    assert analyze_question("How much money did the company lose last year?").unit_hint == CURRENCY
    assert analyze_question("How much did the new rules cost the firm?").unit_hint == CURRENCY
    assert analyze_question("스타트업이 유치한 투자 금액은 얼마인가?").unit_hint == CURRENCY
    assert analyze_question("How many chips were shipped?").unit_hint == "개"
    assert analyze_question("How many people attended?").unit_hint == "명"


@pytest.mark.parametrize("question, hint", [
    ("R&D 비용은 회사가 벌어들인 매출의 어느 정도 수준인가?", "relative"),
    ("총 유효 투표수의 얼마 이상을 얻어야 하는가?", "relative"),
    ("전두환은 추징금 중 어느정도를 낼 수 있었는가?", "relative"),
    ("그 회사의 매출은 얼마인가?", "currency"),  # the amount itself
    ("그는 대통령 중 얼마의 비자금을 보유했나?", None),  # "얼마의 비자금": an amount, no share
    ("보로디노 전투에서 양군의 병력은 어느 정도였는가?", None),
])
def test_a_question_asking_for_a_share_of_what_it_names_wants_a_relative_figure(question, hint):
    analysis = analyze_question(question)
    assert analysis.answer_type == "number"
    assert analysis.unit_hint == hint


@pytest.mark.parametrize("question, hint", [
    ("연구비는 전체 예산의 몇 분의 1인가?", "분의"),  # a fraction
    ("몇분의 1 수준인가?", "분의"),
    ("몇 분의 시간이 걸렸나?", "분"),  # minutes
    ("경기는 몇 분 만에 끝났나?", "분"),
])
def test_mycheot_bun_ui_asks_for_a_fraction_only_before_a_number(question, hint):
    assert analyze_question(question).unit_hint == hint


@pytest.mark.parametrize("question", [
    "기존의 솔리드바디의 특성을 어느정도 가지고 있는 할로우바디 모델은 무엇인가?",
    "할로우바디의 한 종류로 어느 정도 기존 솔리드바디 일렉기타의 특성을 가지고 있는 것은?",
])
def test_an_adverbial_eoneu_jeongdo_is_not_the_question_word(question):
    analysis = analyze_question(question)
    assert analysis.answer_type == "thing" and analysis.unit_hint is None


@pytest.mark.parametrize("question", [
    "소음은 어느 정도 거리 이내에서 감지되는가?",
    "지지율은 어느 정도 까지 떨어졌는가?",
    "피해 규모는 어느 정도인가?",
])
def test_eoneu_jeongdo_asked_of_a_measure_asks_for_a_number(question):
    assert analyze_question(question).answer_type == "number"


def test_myeot_meaning_several_gives_way_to_the_question_word_after_it():
    analysis = analyze_question("미국의 몇개주에서 일요일에 알코올 판매를 금지하는 법을 뭐라고 하나요?")
    assert analysis.answer_type == "thing" and analysis.unit_hint is None
    assert analyze_question("몇 개 나라에서 참가했나?").answer_type == "number"  # no other question word
    assert analyze_question("몇 천명의 학생들이 시위를 벌인 곳은?").answer_type == "place"
    assert not analyze_question("몇몇 미국의 주에서 시행되는 법인 이 단어는?").asks_how_much
    assert analyze_question("몇 명의 자녀를 두었는가?").asks_how_much


@pytest.mark.parametrize("question, size", [
    ("중국 상하이에서 4소룡으로 불리는 반도체 기업 네 곳은?", 4),
    ("그 영화의 주연 두명은 누구인가?", 2),
    ("조사결과에 반대한 두 나라는?", 2),
    ("세 명은 누구누구인가?", 3),
    ("두 가지 전통을 지니고 있는 것은?", None),  # the count qualifies, the answer is one thing
    ("몇 개의 회사가 참여했나?", None),
    ("Which four Chinese GPU makers are preparing to list?", 4),
    ("What are the two models DeepSeek released?", 2),
    ("Name the three customers Nvidia did not notify.", 3),
    ("What does Nvidia sell in China?", None),
])
def test_a_question_naming_how_many_items_it_wants(question, size):
    analysis = analyze_question(question)
    assert analysis.list_size == size
    assert analysis.asks_for_list == (size is not None)


def test_a_plural_on_the_noun_asked_for_asks_for_a_list_a_korean_plural_elsewhere_does_not():
    assert analyze_question("Which Chinese customers did Nvidia not notify?").asks_for_list
    for korean in ("딥시크에 놀란 기업들은 어디인가?", "어떤 투자사들이 참여했나?", "어떤 국내 기업들이 참여했나?"):
        assert analyze_question(korean).asks_for_list
    for korean in ("수험생들은 언제 성적표를 받나?", "선수들은 누구를 감독으로 뽑았나?", "기업들이 모두 참여했나?"):
        analysis = analyze_question(korean)
        assert analysis.wants_list and not analysis.asks_for_list


@pytest.mark.parametrize("question, years", [
    ("2023년 집중호우 때 재산 피해액은 얼마였나?", ("2023",)),
    ("정도윤의 2024시즌 타율은?", ("2024",)),
    ("2027학년도 수능 응시자는 몇 명인가?", ("2027",)),
    ("딥시크는 H800 2048개로 무엇을 했나?", ()),  # a count, not a year
    ("What did it cost in 2023?", ("2023",)),
    ("In 2024, how many of the 2,048 chips were used?", ("2024",)),
    ("How many of the 2048 chips were used?", ()),
    ("Which broadcaster used motion graphics in the 1960s?", ()),  # a decade: the article may say '60년대'
])
def test_the_years_a_question_names(question, years):
    assert analyze_question(question).years == years


def test_an_article_states_a_year_as_a_number_of_its_own_or_relative_to_its_own():
    assert states_years("지난 2023년과 2024년 사이", ("2023", "2024"))
    assert not states_years("지난 2023년", ("2023", "2024"))
    assert not states_years("12023명이 참가했다", ("2023",))
    assert states_years("any text", ())
    # '지난해' in an article of 2026 means 2025; without a relative year, 2025 is not meant
    assert states_years("2026.03.14 … 지난해 매출은 3조 원이었다", ("2025",))
    assert states_years("Published 2026. Sales rose last year.", ("2025",))
    assert not states_years("2026.03.14 … 올해 매출은 3조 원", ("2024",))
    assert not states_years("2026.03.14 … 매출은 3조 원이었다", ("2025",))
