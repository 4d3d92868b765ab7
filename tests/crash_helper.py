"""Test-only entry point: run `update_index` with the fake embedder and stop at a chosen moment, so a test
can `kill -9` a real build process there (tests/test_reliability.py). Not collected by pytest.

    python tests/crash_helper.py MODE MARKER INDEX_DIR PATH...

MODE says where the build stops, writes MARKER (holding its pid) and sleeps until killed:
  embed    inside the first embedding call
  save     after the new version folder's sentences.jsonl is written (the folder is half-written)
  pointer  after the temporary CURRENT file is written, before it is renamed over CURRENT
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import FakeEmbedder  # noqa: E402

import qa.index  # noqa: E402
from qa.session import update_index  # noqa: E402


def stop_here(marker: Path) -> None:
    temporary = marker.with_name(marker.name + ".tmp")
    temporary.write_text(str(os.getpid()))
    os.replace(temporary, marker)  # the test sees no marker or a complete one
    time.sleep(120)  # the test kills us long before this
    sys.exit("crash_helper: was not killed")


class StoppingEmbedder(FakeEmbedder):
    def __init__(self, marker: Path):
        super().__init__()
        self.marker = marker

    def embed_passages(self, texts):
        stop_here(self.marker)


def main() -> None:
    mode, marker, index_dir, *paths = sys.argv[1:]
    marker = Path(marker)
    embedder = FakeEmbedder()
    if mode == "embed":
        embedder = StoppingEmbedder(marker)
    else:
        real_write = qa.index._write_text
        stop_after = "sentences.jsonl" if mode == "save" else f".{qa.index.CURRENT_FILE}."

        def write_then_stop(path: Path, text: str) -> None:
            real_write(path, text)
            if path.name.startswith(stop_after):
                stop_here(marker)

        qa.index._write_text = write_then_stop
    update_index(paths, Path(index_dir), embedder)
    sys.exit("crash_helper: the build finished without stopping")


if __name__ == "__main__":
    main()
