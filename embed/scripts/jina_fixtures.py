"""Tiny random-weight Jina v3 and JinaBERT v2 checkpoints + reference outputs for
embed/tests/jina.rs.

Writes (each directory a complete model folder the Rust loader reads, plus expected.json):
  data/embed/jina-v3/     original jina-embeddings-v3 layout: `roberta.` prefix, fused Wqkv,
                          `parametrizations.weight.{original,0.lora_A,0.lora_B}` for 5 tasks
  data/embed/jina-v3-hf/  the same base weights in transformers' JinaEmbeddingsV3Model layout
  data/embed/jina-v2/     JinaBERT v2 (jina-bert-implementation names), 6 heads so the
                          non-power-of-two ALiBi slope path is used

References:
  v3: transformers' JinaEmbeddingsV3Model (transformers >= 5.24) with each task's LoRA merged
      in Python (W + s*B@A for linears, W + s*A@B for embeddings), cross-checked against a
      hand-written float64 forward of the original semantics;
  v2: a hand-written PyTorch JinaBERT forward (transformers has no class for it).
Inputs are tokenized with the committed tokenizer.json (Python `tokenizers`), task
instruction prefixes prepended as jina's `encode(task=...)` does, and run as ONE padded batch
(the attention mask matters). Embedding = mean pool -> [truncate] -> L2 normalise.

    pip install torch transformers tokenizers safetensors numpy
    python embed/scripts/jina_fixtures.py
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "data", "embed")
torch.manual_seed(1234)
torch.set_num_threads(1)

TASKS = ["retrieval.query", "retrieval.passage", "separation", "classification", "text-matching"]
INSTRUCTIONS = {
    "retrieval.query": "Represent the query for retrieving evidence documents: ",
    "retrieval.passage": "Represent the document for retrieval: ",
    "separation": "",
    "classification": "",
    "text-matching": "",
}
LONG = " ".join(f"Paragraph {i}: the vector store keeps documents, metadata and embeddings together." for i in range(60))
SENTENCES = [
    "",
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France?",
    "Paris is the capital of France.",
    "Vector databases store embeddings on disk.",
    "Ünïcödé and 東京 are mostly unknown here.",
    LONG,
]
TRAIN_TEXT = SENTENCES + list(INSTRUCTIONS.values()) + [
    "A man is eating food. A monkey is playing drums. The girl is carrying a baby.",
    "search query document passage retrieval evidence represent collection metadata",
    "one two three four five six seven eight nine ten hundred thousand",
] * 3


def rnd(*shape, std=0.2):
    return torch.randn(*shape) * std


def ln_params(h):
    return 1.0 + rnd(h, std=0.3), rnd(h, std=0.3)


def write(dirname, config, tensors, tokenizer, expected):
    d = os.path.join(OUT, dirname)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(d, "model.safetensors"))
    tokenizer.save(os.path.join(d, "tokenizer.json"))
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, ensure_ascii=False)


def rows(t):
    return [[float(f"{x:.9g}") for x in r] for r in t.tolist()]


def pool_norm(hidden, mask, dim=None):
    m = mask[..., None].to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if dim is not None:
        pooled = pooled[:, :dim]
    return F.normalize(pooled, p=2, dim=-1)


def pad_batch(ids_list, pad_id):
    L = max(len(i) for i in ids_list)
    ids = torch.full((len(ids_list), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids_list), L), dtype=torch.long)
    for r, i in enumerate(ids_list):
        ids[r, : len(i)] = torch.tensor(i)
        mask[r, : len(i)] = 1
    return ids, mask


# ---------------------------------------------------------------- Jina v3 ----
def xlmr_tokenizer():
    """XLM-R-style Unigram: <s>=0 <pad>=1 </s>=2 <unk>=3, Metaspace, `<s> $A </s>`."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace("  ", " ")])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>", shrinking_factor=0.75
    )
    tok.train_from_iterator(TRAIN_TEXT, trainer)
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    assert [tok.token_to_id(t) for t in ["<s>", "<pad>", "</s>", "<unk>"]] == [0, 1, 2, 3]
    return tok


def v3_reference_f64(sd, cfg, ids, mask, task):
    """Hand-written forward of the original jina-embeddings-v3 semantics, float64."""
    H, nh, eps, s = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"], 0.25
    d = H // nh
    g = lambda k: sd[k].double()

    def W(name, emb=False):
        p = name + ".parametrizations.weight."
        w = g(p + "original")
        if task is None:
            return w
        A, B = g(p + "0.lora_A")[task], g(p + "0.lora_B")[task]
        return w + s * (A @ B if emb else B @ A)

    pre = "roberta."
    x = F.embedding(ids, W(pre + "embeddings.word_embeddings", True)) + W(pre + "embeddings.token_type_embeddings", True)[0]
    x = F.layer_norm(x, (H,), g(pre + "emb_ln.weight"), g(pre + "emb_ln.bias"), eps)
    B_, L = ids.shape
    inv = 1.0 / (cfg["rotary_emb_base"] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = torch.outer(torch.arange(L, dtype=torch.float64), inv)
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    rope = lambda t: t * cos + torch.cat([-t[..., d // 2 :], t[..., : d // 2]], -1) * sin
    bias = (1.0 - mask[:, None, None, :].double()) * torch.finfo(torch.float64).min
    for i in range(cfg["num_hidden_layers"]):
        p = f"{pre}encoder.layers.{i}."
        qkv = F.linear(x, W(p + "mixer.Wqkv"), g(p + "mixer.Wqkv.bias"))
        q, k, v = qkv.view(B_, L, 3, nh, d).permute(2, 0, 3, 1, 4)
        a = torch.softmax(rope(q) @ rope(k).transpose(-1, -2) / math.sqrt(d) + bias, -1) @ v
        a = F.linear(a.transpose(1, 2).reshape(B_, L, H), W(p + "mixer.out_proj"), g(p + "mixer.out_proj.bias"))
        x = F.layer_norm(x + a, (H,), g(p + "norm1.weight"), g(p + "norm1.bias"), eps)
        f = F.linear(F.gelu(F.linear(x, W(p + "mlp.fc1"), g(p + "mlp.fc1.bias"))), W(p + "mlp.fc2"), g(p + "mlp.fc2.bias"))
        x = F.layer_norm(x + f, (H,), g(p + "norm2.weight"), g(p + "norm2.bias"), eps)
    return x


def v3_native_state(sd, cfg, task):
    """Original layout (+ task LoRA merged) -> JinaEmbeddingsV3Model state dict."""
    H, s = cfg["hidden_size"], 0.25

    def W(name, emb=False):
        p = name + ".parametrizations.weight."
        w = sd[p + "original"]
        if task is None:
            return w
        A, B = sd[p + "0.lora_A"][task], sd[p + "0.lora_B"][task]
        return w + s * (A @ B if emb else B @ A)

    pre = "roberta."
    out = {
        "embeddings.word_embeddings.weight": W(pre + "embeddings.word_embeddings", True),
        "embeddings.token_type_embeddings.weight": W(pre + "embeddings.token_type_embeddings", True),
        "embeddings.LayerNorm.weight": sd[pre + "emb_ln.weight"],
        "embeddings.LayerNorm.bias": sd[pre + "emb_ln.bias"],
        "pooler.dense.weight": W(pre + "pooler.dense"),
        "pooler.dense.bias": sd[pre + "pooler.dense.bias"],
    }
    for i in range(cfg["num_hidden_layers"]):
        p, n = f"{pre}encoder.layers.{i}.", f"layers.{i}."
        wq, wk, wv = W(p + "mixer.Wqkv").chunk(3, 0)
        bq, bk, bv = sd[p + "mixer.Wqkv.bias"].chunk(3, 0)
        out.update({
            n + "self_attn.q_proj.weight": wq, n + "self_attn.q_proj.bias": bq,
            n + "self_attn.k_proj.weight": wk, n + "self_attn.k_proj.bias": bk,
            n + "self_attn.v_proj.weight": wv, n + "self_attn.v_proj.bias": bv,
            n + "self_attn.o_proj.weight": W(p + "mixer.out_proj"), n + "self_attn.o_proj.bias": sd[p + "mixer.out_proj.bias"],
            n + "post_attention_layernorm.weight": sd[p + "norm1.weight"], n + "post_attention_layernorm.bias": sd[p + "norm1.bias"],
            n + "mlp.fc1.weight": W(p + "mlp.fc1"), n + "mlp.fc1.bias": sd[p + "mlp.fc1.bias"],
            n + "mlp.fc2.weight": W(p + "mlp.fc2"), n + "mlp.fc2.bias": sd[p + "mlp.fc2.bias"],
            n + "post_mlp_layernorm.weight": sd[p + "norm2.weight"], n + "post_mlp_layernorm.bias": sd[p + "norm2.bias"],
        })
    return {k: v.contiguous() for k, v in out.items()}


def jina_v3():
    from transformers import JinaEmbeddingsV3Config, JinaEmbeddingsV3Model

    tok = xlmr_tokenizer()
    V, H, I, NL, NH, T, R = tok.get_vocab_size(), 32, 64, 2, 4, len(TASKS), 4
    cfg = {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "vocab_size": V, "hidden_size": H,
        "num_hidden_layers": NL, "num_attention_heads": NH, "intermediate_size": I, "hidden_act": "gelu",
        "max_position_embeddings": 8194, "type_vocab_size": 1, "layer_norm_eps": 1e-5, "pad_token_id": 1,
        "bos_token_id": 0, "eos_token_id": 2, "position_embedding_type": "rotary", "rotary_emb_base": 20000.0,
        "emb_pooler": None, "lora_adaptations": TASKS, "lora_rank": R, "lora_alpha": 1, "lora_dropout_p": 0.0,
        "task_instructions": INSTRUCTIONS, "matryoshka_dimensions": [8, 16, 32], "truncate_dim": None,
    }
    sd = {}

    def param(name, shape, emb=False):
        p = name + ".parametrizations.weight."
        sd[p + "original"] = rnd(*shape, std=0.5 if emb else 0.2)
        out_, in_ = shape
        if emb:  # embedding [num, dim]: A [T, num, r], B [T, r, dim]
            sd[p + "0.lora_A"], sd[p + "0.lora_B"] = rnd(T, out_, R, std=0.5), rnd(T, R, in_, std=0.5)
        else:  # linear [out, in]: A [T, r, in], B [T, out, r]
            sd[p + "0.lora_A"], sd[p + "0.lora_B"] = rnd(T, R, in_, std=0.5), rnd(T, out_, R, std=0.5)

    pre = "roberta."
    param(pre + "embeddings.word_embeddings", (V, H), emb=True)
    param(pre + "embeddings.token_type_embeddings", (1, H), emb=True)
    sd[pre + "emb_ln.weight"], sd[pre + "emb_ln.bias"] = ln_params(H)
    for i in range(NL):
        p = f"{pre}encoder.layers.{i}."
        for name, shape in [("mixer.Wqkv", (3 * H, H)), ("mixer.out_proj", (H, H)), ("mlp.fc1", (I, H)), ("mlp.fc2", (H, I))]:
            param(p + name, shape)
            sd[p + name + ".bias"] = rnd(shape[0], std=0.1)
        sd[p + "norm1.weight"], sd[p + "norm1.bias"] = ln_params(H)
        sd[p + "norm2.weight"], sd[p + "norm2.bias"] = ln_params(H)
    param(pre + "pooler.dense", (H, H))
    sd[pre + "pooler.dense.bias"] = rnd(H, std=0.1)

    hf_cfg = JinaEmbeddingsV3Config(
        vocab_size=V, hidden_size=H, num_hidden_layers=NL, num_attention_heads=NH, intermediate_size=I,
        hidden_act="gelu", max_position_embeddings=8194, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
        bos_token_id=0, eos_token_id=2, rope_parameters={"rope_type": "default", "rope_theta": 20000.0},
        attn_implementation="eager",
    )
    model = JinaEmbeddingsV3Model(hf_cfg).eval()

    expected = {"generator": "embed/scripts/jina_fixtures.py", "sentences": SENTENCES, "dims": [8, 16], "cases": []}
    worst = 0.0
    for task in [None] + list(range(T)):
        name = None if task is None else TASKS[task]
        prefix = "" if name is None else INSTRUCTIONS[name]
        ids_list = [tok.encode(prefix + s).ids for s in SENTENCES]
        ids, mask = pad_batch(ids_list, 1)
        missing, unexpected = model.load_state_dict(v3_native_state(sd, cfg, task), strict=True)
        with torch.no_grad():
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        ref = v3_reference_f64(sd, cfg, ids, mask, task)
        for dim in [None, 16, 8]:
            a, b = pool_norm(hidden, mask, dim), pool_norm(ref, mask, dim)
            worst = max(worst, float((a.double() - b).abs().max()))
        expected["cases"].append({
            "task": name, "input_ids": ids_list,
            "embeddings": rows(pool_norm(hidden, mask)),
            "truncated": {str(d): rows(pool_norm(hidden, mask, d)) for d in [16, 8]},
        })
    print(f"v3: transformers JinaEmbeddingsV3Model vs hand-written float64 forward, max |diff| {worst:.2e}")
    assert worst < 2e-6, worst
    write("jina-v3", cfg, sd, tok, expected)

    # transformers-native layout, base weights (no adapters): must equal the no-task case.
    hf_json = json.loads(hf_cfg.to_json_string())
    hf_json["architectures"] = ["JinaEmbeddingsV3Model"]
    hf_json.pop("attn_implementation", None)
    hf_json.pop("_attn_implementation", None)
    native = v3_native_state(sd, cfg, None)
    base = expected["cases"][0]
    write("jina-v3-hf", hf_json, native, tok, {"generator": expected["generator"], "sentences": SENTENCES, "cases": [base]})


# ---------------------------------------------------------------- Jina v2 ----
def bert_tokenizer():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(TRAIN_TEXT, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return tok


def alibi_slopes(n):
    def p2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n).is_integer():
        return p2(n)
    c = 2 ** math.floor(math.log2(n))
    return p2(c) + alibi_slopes(2 * c)[0::2][: n - c]


def v2_reference(sd, cfg, ids, mask, dtype):
    """Hand-written JinaBERT v2 forward (jina-bert-implementation semantics)."""
    H, nh, I, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"]
    d = H // nh
    g = lambda k: sd[k].to(dtype)
    B_, L = ids.shape
    x = F.embedding(ids, g("embeddings.word_embeddings.weight")) + F.embedding(torch.zeros_like(ids), g("embeddings.token_type_embeddings.weight"))
    x = F.layer_norm(x, (H,), g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"), eps)
    pos = torch.arange(L)
    rel = (pos[None, :] - pos[:, None]).abs().to(dtype)
    alibi = -torch.tensor(alibi_slopes(nh), dtype=dtype)[:, None, None] * rel[None]
    bias = alibi[None] + (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda t, n: F.linear(t, g(p + n + ".weight"), g(p + n + ".bias") if p + n + ".bias" in sd else None)
        q, k, v = (lin(x, "attention.self." + n).view(B_, L, nh, d).transpose(1, 2) for n in ["query", "key", "value"])
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, -1) @ v
        a = lin(a.transpose(1, 2).reshape(B_, L, H), "attention.output.dense")
        x = F.layer_norm(x + a, (H,), g(p + "attention.output.LayerNorm.weight"), g(p + "attention.output.LayerNorm.bias"), eps)
        h = lin(x, "mlp.gated_layers")
        f = lin(F.gelu(h[..., :I]) * h[..., I:], "mlp.wo")
        x = F.layer_norm(x + f, (H,), g(p + "mlp.layernorm.weight"), g(p + "mlp.layernorm.bias"), eps)
    return x


def jina_v2():
    tok = bert_tokenizer()
    V, H, I, NL, NH = tok.get_vocab_size(), 48, 64, 2, 6
    cfg = {
        "architectures": ["JinaBertForMaskedLM"], "model_type": "bert", "vocab_size": V, "hidden_size": H,
        "num_hidden_layers": NL, "num_attention_heads": NH, "intermediate_size": I, "hidden_act": "gelu",
        "max_position_embeddings": 8192, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "alibi", "feed_forward_type": "geglu", "emb_pooler": "mean",
    }
    sd = {
        "embeddings.word_embeddings.weight": rnd(V, H, std=0.5),
        "embeddings.token_type_embeddings.weight": rnd(2, H, std=0.5),
    }
    sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"] = ln_params(H)
    for i in range(NL):
        p = f"encoder.layer.{i}."
        for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
            sd[p + n + ".weight"], sd[p + n + ".bias"] = rnd(H, H), rnd(H, std=0.1)
        sd[p + "attention.output.LayerNorm.weight"], sd[p + "attention.output.LayerNorm.bias"] = ln_params(H)
        sd[p + "mlp.gated_layers.weight"] = rnd(2 * I, H)
        sd[p + "mlp.wo.weight"], sd[p + "mlp.wo.bias"] = rnd(H, I), rnd(H, std=0.1)
        sd[p + "mlp.layernorm.weight"], sd[p + "mlp.layernorm.bias"] = ln_params(H)
    ids_list = [tok.encode(s).ids for s in SENTENCES]
    ids, mask = pad_batch(ids_list, 0)
    with torch.no_grad():
        out32 = v2_reference(sd, cfg, ids, mask, torch.float32)
        out64 = v2_reference(sd, cfg, ids, mask, torch.float64)
        # One-by-one (no padding) must agree with the padded batch.
        single = torch.cat([pool_norm(v2_reference(sd, cfg, torch.tensor([i]), torch.ones(1, len(i), dtype=torch.long), torch.float64), torch.ones(1, len(i))) for i in ids_list])
    e32, e64 = pool_norm(out32, mask), pool_norm(out64, mask)
    print(f"v2: float32 vs float64 reference max |diff| {float((e32.double() - e64).abs().max()):.2e}, "
          f"batched vs single {float((single - e64).abs().max()):.2e}")
    expected = {"generator": "embed/scripts/jina_fixtures.py", "sentences": SENTENCES,
                "cases": [{"task": None, "input_ids": ids_list, "embeddings": rows(e64.float())}]}
    write("jina-v2", cfg, sd, tok, expected)


if __name__ == "__main__":
    jina_v3()
    jina_v2()
    for d in ["jina-v3", "jina-v3-hf", "jina-v2"]:
        size = sum(os.path.getsize(os.path.join(OUT, d, f)) for f in os.listdir(os.path.join(OUT, d)))
        print(f"data/embed/{d}: {size / 1024:.0f} KiB")
