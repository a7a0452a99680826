//! Jina v3 (both checkpoint layouts) and JinaBERT v2 against PyTorch references on tiny
//! random-weight checkpoints committed in `data/embed/` (made by
//! `embed/scripts/jina_fixtures.py`: transformers' `JinaEmbeddingsV3Model` with the task
//! LoRA merged in Python for v3, a hand-written JinaBERT forward for v2).
//!
//! Tolerance: 5e-6 max |diff| on the normalised embeddings. A tanh-approximated GELU, a
//! wrong RoPE base or layout, a missing padding mask, a wrong LoRA orientation or scale or a
//! wrong task all move these outputs by more than 1e-5.

use chromite_embed::model::lora::LoraMode;
use chromite_embed::{EmbedOptions, Error, JinaTask, Task, TextEmbedder};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

const TOL: f32 = 5e-6;

#[derive(Deserialize)]
struct Case {
    task: Option<String>,
    input_ids: Vec<Vec<u32>>,
    embeddings: Vec<Vec<f32>>,
    #[serde(default)]
    truncated: BTreeMap<String, Vec<Vec<f32>>>,
}

#[derive(Deserialize)]
struct Expected {
    sentences: Vec<String>,
    cases: Vec<Case>,
}

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/embed")
        .join(name)
}

fn fixture(name: &str) -> (TextEmbedder, Expected) {
    let d = dir(name);
    let model = TextEmbedder::load(d.to_str().unwrap()).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(d.join("expected.json")).unwrap();
    (model, serde_json::from_str(&text).unwrap())
}

fn max_abs(got: &[Vec<f32>], want: &[Vec<f32>]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .flat_map(|(g, w)| {
            assert_eq!(g.len(), w.len());
            g.iter().zip(w).map(|(a, b)| (a - b).abs())
        })
        .fold(0.0, f32::max)
}

fn task_of(case: &Case) -> Option<JinaTask> {
    case.task.as_deref().map(|t| t.parse().unwrap())
}

fn texts(exp: &Expected) -> Vec<&str> {
    exp.sentences.iter().map(String::as_str).collect()
}

#[test]
fn jina_v3_every_task_and_matryoshka_dim_matches_transformers() {
    let (mut model, exp) = fixture("jina-v3");
    assert_eq!(model.dim(), 32);
    assert_eq!(model.matryoshka_dimensions(), &[8, 16, 32]);
    assert_eq!(model.tasks().len(), 5);
    assert_eq!(exp.cases.len(), 6, "no-task + 5 tasks");
    for mode in [LoraMode::PerBatch, LoraMode::Merged] {
        model.set_lora_mode(mode);
        for case in &exp.cases {
            let task = task_of(case);
            let got = model
                .embed_with(&texts(&exp), &EmbedOptions { task, dim: None })
                .unwrap();
            let d = max_abs(&got, &case.embeddings);
            eprintln!("v3 {mode:?} {:?}: max |diff| {d:e}", case.task);
            assert!(d <= TOL, "{mode:?} task {:?}: max |diff| {d}", case.task);
            for (dim, want) in &case.truncated {
                let dim: usize = dim.parse().unwrap();
                let got = model
                    .embed_with(
                        &texts(&exp),
                        &EmbedOptions {
                            task,
                            dim: Some(dim),
                        },
                    )
                    .unwrap();
                assert!(got.iter().all(|v| v.len() == dim));
                let d = max_abs(&got, want);
                assert!(
                    d <= TOL,
                    "{mode:?} task {:?} dim {dim}: max |diff| {d}",
                    case.task
                );
            }
        }
    }
}

#[test]
fn jina_v3_tokenizes_with_the_task_prefix_like_python() {
    let (model, exp) = fixture("jina-v3");
    let prefixes: BTreeMap<&str, &str> = [
        (
            "retrieval.query",
            "Represent the query for retrieving evidence documents: ",
        ),
        (
            "retrieval.passage",
            "Represent the document for retrieval: ",
        ),
    ]
    .into();
    for case in &exp.cases {
        let prefix = case
            .task
            .as_deref()
            .and_then(|t| prefixes.get(t))
            .copied()
            .unwrap_or("");
        for (s, ids) in exp.sentences.iter().zip(&case.input_ids) {
            let got = model.tokenizer().encode(&format!("{prefix}{s}")).unwrap();
            assert_eq!(&got.ids, ids, "task {:?}, text {s:?}", case.task);
        }
    }
    // The long input is well past any small batch budget.
    assert!(exp.cases[0].input_ids.iter().any(|ids| ids.len() > 500));
}

#[test]
fn jina_v3_query_and_passage_use_their_adapters() {
    let (model, exp) = fixture("jina-v3");
    let case = |name: &str| {
        exp.cases
            .iter()
            .find(|c| c.task.as_deref() == Some(name))
            .unwrap()
    };
    let q = model.embed(&texts(&exp), Task::Query).unwrap();
    let p = model.embed(&texts(&exp), Task::Passage).unwrap();
    assert!(max_abs(&q, &case("retrieval.query").embeddings) <= TOL);
    assert!(max_abs(&p, &case("retrieval.passage").embeddings) <= TOL);
    assert!(max_abs(&q, &p) > 1e-2, "query and passage must differ");
}

#[test]
fn jina_v3_batched_equals_one_by_one() {
    let (mut model, exp) = fixture("jina-v3");
    let all = texts(&exp);
    for mode in [LoraMode::PerBatch, LoraMode::Merged] {
        model.set_lora_mode(mode);
        let opts = EmbedOptions {
            task: Some(JinaTask::TextMatching),
            dim: None,
        };
        model.set_batch_limits(64, 1 << 20);
        let batched = model.embed_with(&all, &opts).unwrap();
        let single: Vec<Vec<f32>> = all
            .iter()
            .map(|t| model.embed_with(&[t], &opts).unwrap().remove(0))
            .collect();
        let d = max_abs(&batched, &single);
        assert!(d <= 1e-6, "{mode:?}: batched vs one-by-one {d}");
        model.set_batch_limits(3, 2000);
        let bucketed = model.embed_with(&all, &opts).unwrap();
        assert!(max_abs(&bucketed, &single) <= 1e-6);
    }
}

#[test]
fn jina_v3_rejects_bad_dims_and_truncates_long_inputs() {
    let (mut model, exp) = fixture("jina-v3");
    for bad in [0, 12, 33, 1024] {
        match model.embed_with(
            &["x"],
            &EmbedOptions {
                task: None,
                dim: Some(bad),
            },
        ) {
            Err(Error::InvalidRequest(m)) => assert!(m.contains("[8, 16, 32]"), "{m}"),
            other => panic!("dim {bad} must be rejected, got {other:?}"),
        }
    }
    assert_eq!(model.max_seq_len(), 8192);
    let long = exp.sentences.last().unwrap();
    assert_eq!(model.set_max_seq_len(64).unwrap(), 64);
    let t = model.tokenizer().encode(long).unwrap();
    assert_eq!(t.len(), 64);
    assert_eq!(
        *t.ids.last().unwrap(),
        2,
        "truncation keeps the closing </s>"
    );
    assert_eq!(t.ids[..63], exp.cases[0].input_ids.last().unwrap()[..63]);
    let v = model.embed(&[long.as_str(), ""], Task::Passage).unwrap();
    assert!(v
        .iter()
        .all(|v| (v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5));
    // Capped at what the model supports.
    assert_eq!(model.set_max_seq_len(1 << 20).unwrap(), 8192);
}

#[test]
fn jina_v3_transformers_native_layout_matches_base_weights() {
    let (model, exp) = fixture("jina-v3-hf");
    assert!(
        model.tasks().is_empty(),
        "the -hf layout carries no adapters"
    );
    let base = &exp.cases[0];
    assert!(base.task.is_none());
    let got = model
        .embed_with(&texts(&exp), &EmbedOptions::default())
        .unwrap();
    let d = max_abs(&got, &base.embeddings);
    eprintln!("v3-hf: max |diff| {d:e}");
    assert!(d <= TOL, "max |diff| {d}");
    // Without adapters or instructions, the query/passage role changes nothing.
    assert!(
        max_abs(
            &model.embed(&texts(&exp), Task::Query).unwrap(),
            &base.embeddings
        ) <= TOL
    );
    assert!(matches!(
        model.embed_with(
            &["x"],
            &EmbedOptions {
                task: Some(JinaTask::Separation),
                dim: None
            }
        ),
        Err(Error::InvalidRequest(_))
    ));
}

#[test]
fn jina_v2_matches_reference_batched_and_one_by_one() {
    let (mut model, exp) = fixture("jina-v2");
    let case = &exp.cases[0];
    assert_eq!(model.dim(), 48);
    for (s, ids) in exp.sentences.iter().zip(&case.input_ids) {
        assert_eq!(&model.tokenizer().encode(s).unwrap().ids, ids, "{s:?}");
    }
    let all = texts(&exp);
    for (batch, tokens) in [(64, 1 << 20), (3, 1 << 20), (1, 1 << 20)] {
        model.set_batch_limits(batch, tokens);
        let got = model.embed(&all, Task::Passage).unwrap();
        let d = max_abs(&got, &case.embeddings);
        eprintln!("v2 batch {batch}: max |diff| {d:e}");
        assert!(d <= TOL, "batch {batch}: max |diff| {d}");
    }
}
