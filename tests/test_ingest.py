from pathlib import Path

import pytest

from qa.chunk import EnglishAnalyzer, split_sentences
from qa.errors import InputError
from qa.ingest import detect_language, find_segments, ingest, make_article, read_file
from qa.summarize import is_candidate

from conftest import SEEDS


def kept_text(article):
    return "\n".join(article.text[s.start : s.end] for s in article.segments)


def test_seed_boilerplate_is_dropped_and_sentences_kept():
    report = ingest([str(SEEDS)])
    assert report.skipped == []
    assert len(report.articles) == 5
    kept = {a.doc_id: kept_text(a) for a in report.articles}
    everything = "\n".join(kept.values())
    for junk in ["본문 바로가기", "무단 전재", "42718_1704952962.png", "ⓒ 로이터=뉴스1", "지금 봐야할 뉴스", "사업자등록번호",
                 "쇼핑 핫아이템", "yellowapollo@news1.kr", "매거진의 이전글", "#엔비디아 #딥시크", "[192호]", "기사가 속한 카테고리"]:
        assert junk not in everything, junk
    # Article sentences around the junk survive intact.
    assert "R1에 투입된 비용은 557만 6000달러로 오픈AI가 최신 챗GPT에 투자한 1억 달러의 20분의 1 수준이다." in kept["002_68cb2df34e3786ef"]
    assert "안녕하세요. 서진욱 기자입니다." in kept["004_51241d96c21cc8a8"]
    assert "엔비디아의 주가는 2025년 1월 27일 하루에만 약 17% 급락했다." in kept["001_d802b5947ca02bdd"]


def test_lead_and_trailing_bylines_are_cut_from_the_sentence():
    text = "제목이 여기에 있습니다 정말로\n(서울=뉴스1) 이창규 기자 = 중국의 AI 모델이 충격을 주었다.\n결론이 이렇게 났다고 바라봤다. 김용원 기자\n"
    article = make_article("x", text, "x.txt")
    kept = kept_text(article)
    assert "중국의 AI 모델이 충격을 주었다." in kept and "이창규 기자" not in kept
    assert kept.endswith("바라봤다.")


def test_a_photo_caption_keeps_its_statement_and_loses_its_credit():
    text = ("반도체 수출 규제의 새 국면이 열렸다\n"
            "본문 첫 문장은 여기에 있고 충분히 길게 쓴 기사 본문이다.\n"
            "(서울=뉴스1) = 홍길동 대표가 3일 서울 코엑스에서 새 칩 '한빛'을 공개하고 있다. (공동취재) 2026.1.4/뉴스1 "
            "Copyright (C) 뉴스1. All rights reserved. 무단 전재 및 재배포 금지. /사진=(서울=뉴스1)\n"
            "photo_2630199.jpg 회사의 로고. /사진=뉴스1\n"
            "▲ 시민들이 광장에서 행진하고 있다. 서울 광화문. ⓒ 연합뉴스\n"
            "Copyright ⓒ 머니투데이 & mt.co.kr. 무단 전재 및 재배포 금지.\n"
            "▶ 관련기사: 엔비디아가 새 칩을 공개했다.\n")
    article = make_article("x", text, "x.txt")
    captions = [article.text[s.start : s.end] for s in article.segments if s.kind == "caption"]
    assert captions == ["홍길동 대표가 3일 서울 코엑스에서 새 칩 '한빛'을 공개하고 있다.", "시민들이 광장에서 행진하고 있다."]
    kept = kept_text(article)
    for junk in ["뉴스1", "Copyright", "공동취재", "회사의 로고", "photo_2630199", "광화문", "무단 전재", "관련기사"]:
        assert junk not in kept, junk


def test_an_english_caption_keeps_its_statement():
    text = ("Chip rules tighten again\n"
            "The government announced new export rules on Monday, officials said.\n"
            "Nvidia chief Jensen Huang shows the Rubin GPU at CES 2026 in Las Vegas. Photo: Reuters\n"
            "The H100 chip. Getty Images\n")
    article = make_article("x", text, "x.txt")
    captions = [article.text[s.start : s.end] for s in article.segments if s.kind == "caption"]
    assert captions == ["Nvidia chief Jensen Huang shows the Rubin GPU at CES 2026 in Las Vegas."]
    assert "Reuters" not in kept_text(article) and "The H100 chip" not in kept_text(article)


def test_captions_are_answerable_but_never_quoted_in_summaries():
    text = "새 칩 공개 현장의 모습\n▲ 홍길동 대표가 서울에서 새 칩을 공개하고 있다. /사진=뉴스1\n본문 문장은 여기에 충분히 길게 쓰여 있다.\n"
    article = make_article("x", text, "x.txt")
    assert [s.kind for s in article.segments] == ["heading", "caption", "body"]
    sentences = split_sentences(article, EnglishAnalyzer())  # the analyser only splits here
    caption, body = sentences[1], sentences[2]
    assert caption.text == "홍길동 대표가 서울에서 새 칩을 공개하고 있다." and caption.kind == "caption"
    assert not is_candidate(caption, article.text) and is_candidate(body, article.text)


def test_titles_are_the_first_headline_line():
    titles = {a.doc_id: a.title for a in ingest([str(SEEDS)]).articles}
    assert titles["001_d802b5947ca02bdd"].startswith("엔비디아 H200칩 수출 꿍꿍이")
    assert titles["004_51241d96c21cc8a8"] == "딥시크 충격과 미중 갈등"
    assert titles["000_c68675d65c4e9324"].startswith("엔비디아 딥시크 R1 최적화 논란")


def test_segments_point_into_the_original_text():
    for article in ingest([str(SEEDS)]).articles:
        original = (SEEDS / f"{article.doc_id}.txt").read_text(encoding="utf-8")
        assert article.text == original
        for s in article.segments:
            assert original[s.start : s.end].strip() == original[s.start : s.end]


def test_language_detection():
    assert detect_language("엔비디아의 H800 GPU는 AI 학습에 쓰였다") == "ko"
    assert detect_language("Nvidia's H800 GPU was used to train the model.") == "en"


def test_jsonl_html_and_markdown(tmp_path: Path):
    (tmp_path / "a.jsonl").write_text('{"id": "j1", "title": "First", "text": "Seoul is the capital of Korea. It is large."}\n', encoding="utf-8")
    (tmp_path / "b.html").write_text(
        "<html><head><title>Page</title></head><body><nav>Skip to content</nav><h1>Chip rules tighten</h1>"
        "<p>The government announced new export rules on Monday.</p><script>var x=1;</script></body></html>", encoding="utf-8")
    (tmp_path / "c.md").write_text("# Markdown headline here\n\nA body sentence that is long enough.\n", encoding="utf-8")
    report = ingest([str(tmp_path)])
    by_id = {a.doc_id: a for a in report.articles}
    assert set(by_id) == {"j1", "b", "c"}
    assert by_id["j1"].title == "First"
    assert by_id["b"].title == "Chip rules tighten"
    assert "var x" not in by_id["b"].text and "Skip to content" not in kept_text(by_id["b"])
    assert by_id["c"].title == "Markdown headline here"
    assert all(a.lang == "en" for a in report.articles)


def test_bad_files_are_skipped_with_a_reason_and_the_rest_indexed(tmp_path: Path):
    (tmp_path / "good.txt").write_text("정상적인 기사 제목입니다\n이 문장은 기사 본문으로 남아야 한다.\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "blank.txt").write_text("   \n\t\n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (tmp_path / "bad.jsonl").write_text('{"id": "ok", "text": "fine text here."}\n{not json\n', encoding="utf-8")
    report = ingest([str(tmp_path)])
    assert sorted(a.doc_id for a in report.articles) == ["good", "ok"]  # a bad JSONL line costs only that line
    reasons = " | ".join(reason for _, reason in report.skipped)
    assert "empty file" in reasons and "binary" in reasons and "malformed JSONL" in reasons


def test_cp949_text_is_decoded(tmp_path: Path):
    path = tmp_path / "euckr.txt"
    path.write_bytes("한국어 기사 제목입니다\n본문 문장이 여기에 있다.\n".encode("cp949"))
    [article] = read_file(path)
    assert "본문 문장이 여기에 있다." in article.text


def test_missing_path_and_unsupported_type(tmp_path: Path):
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    report = ingest([str(tmp_path / "nope"), str(tmp_path / "image.png")])
    assert report.articles == []
    assert len(report.skipped) == 2


def test_boilerplate_only_file_is_an_input_error():
    with pytest.raises(InputError):
        make_article("x", "본문 바로가기\n뉴스\n댓글0\n", "x.txt")
    assert find_segments("Copyright ⓒ 뉴스1. All rights reserved.\n") == []


PORTAL_PAGE = """본문 바로가기
한누리뉴스
경제 > 산업·재계
세림전자, 해솔에 배터리 공장…2조 원 투자
댓글0
입력 2026.03.14. 오전 10:02  수정 2026.03.14. 오후 4:18
가 가 가 글자크기  공유하기
요약봇  글자크기  인쇄

(서울=한누리뉴스) 김하늘 기자 = 세림전자가 해솔 국가산업단지에 2조 원을 들여 배터리 공장을 짓는다.
공장은 2028년 가동되며 직원 1200명을 새로 뽑는다.

구독 좋아요 0 화나요 0 슬퍼요 0
많이 본 뉴스 | 실시간 랭킹
1 주말 나들이객 몰린 해안도로 정체 2 봄철 황사 대비 요령
"""


def test_portal_page_furniture_is_dropped_and_the_headline_is_the_title():
    article = make_article("page", PORTAL_PAGE, "page.txt")
    kept = kept_text(article)
    for junk in ["한누리뉴스", "산업·재계", "입력 2026.03.14", "글자크기", "요약봇", "좋아요 0", "많이 본 뉴스", "해안도로 정체"]:
        assert junk not in kept, junk
    assert "세림전자가 해솔 국가산업단지에 2조 원을 들여 배터리 공장을 짓는다." in kept
    assert "공장은 2028년 가동되며 직원 1200명을 새로 뽑는다." in kept
    assert article.title == "세림전자, 해솔에 배터리 공장…2조 원 투자"
    # the same words inside sentences stay
    for sentence in ["서울 > 부산 노선 예매가 2026.03.14 오전 10시에 열렸다.", "좋아요 버튼을 누른 사람은 1만 명이다.",
                     "1위 엔비디아 2위 AMD가 시장을 나눴다.", "한국경제는 성장했다."]:
        assert sentence in kept_text(make_article("s", sentence + "\n", "s.txt")), sentence
