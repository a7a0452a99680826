//! Bad model folders and names give clear `Error::Load` messages naming the file or the
//! place looked in; nothing panics. Uses copies of the tiny JinaBERT v2 fixture.

use chromite_embed::{Error, TextEmbedder};
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/embed/jina-v2")
}

/// A temporary copy of the fixture model folder.
fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(fixture().join(f), dir.path().join(f)).unwrap();
    }
    dir
}

fn load_err(dir: &Path) -> String {
    match TextEmbedder::load(dir.to_str().unwrap()) {
        Err(e @ Error::Load(_)) => e.to_string(),
        Err(other) => panic!("expected a load error, got {other}"),
        Ok(_) => panic!("loading {} should fail", dir.display()),
    }
}

#[test]
fn copy_of_the_fixture_loads() {
    let dir = copy();
    let m = TextEmbedder::load(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(m.dim(), 48);
    assert_eq!(m.model_id(), dir.path().to_str().unwrap());
}

#[test]
fn missing_files_are_named() {
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        let dir = copy();
        std::fs::remove_file(dir.path().join(f)).unwrap();
        let e = load_err(dir.path());
        let want = if f == "model.safetensors" {
            "model.safetensors"
        } else {
            f
        };
        assert!(e.contains(want), "{f}: {e}");
    }
}

#[test]
fn corrupt_files_are_named() {
    let dir = copy();
    std::fs::write(
        dir.path().join("model.safetensors"),
        b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage",
    )
    .unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("model.safetensors"), "{e}");

    let dir = copy();
    std::fs::write(dir.path().join("config.json"), b"{ not json").unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("config.json") && e.contains("malformed JSON"),
        "{e}"
    );

    let dir = copy();
    std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("tokenizer.json"), "{e}");

    // A weight with the wrong shape: claim a bigger vocabulary than the checkpoint has.
    let dir = copy();
    let cfg = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    v["vocab_size"] = serde_json::json!(12345);
    std::fs::write(dir.path().join("config.json"), v.to_string()).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("embeddings.word_embeddings.weight") && e.contains("12345"),
        "{e}"
    );

    // An architecture this crate does not implement.
    let dir = copy();
    v["vocab_size"] = cfg.parse::<serde_json::Value>().unwrap()["vocab_size"].clone();
    v["model_type"] = serde_json::json!("gpt2");
    std::fs::write(dir.path().join("config.json"), v.to_string()).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("unsupported model") && e.contains("gpt2"), "{e}");
}

#[test]
fn a_file_or_a_missing_path_is_an_error() {
    let dir = copy();
    let e = load_err(&dir.path().join("config.json"));
    assert!(e.contains("found a file"), "{e}");
    let e = load_err(&dir.path().join("no-such-dir"));
    assert!(e.contains("no such directory"), "{e}");
}

#[test]
fn hub_names_resolve_through_the_cache_or_say_where_they_looked() {
    // This test binary owns its environment; no other test here reads HF_HUB_CACHE.
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var("HF_HUB_CACHE", cache.path());
    match TextEmbedder::load("jinaai/jina-embeddings-v3") {
        Err(Error::Load(m)) => {
            let looked = cache.path().join("models--jinaai--jina-embeddings-v3");
            assert!(m.contains(looked.to_str().unwrap()), "{m}");
            #[cfg(not(feature = "hub"))]
            assert!(m.contains("`hub` feature"), "{m}");
        }
        other => panic!("expected a load error, got {other:?}"),
    }
    // The same name found in the cache (refs/main → snapshot) loads offline.
    let repo = cache.path().join("models--org--tiny-jina-v2");
    let snap = repo.join("snapshots").join("0123abcd");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123abcd").unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(fixture().join(f), snap.join(f)).unwrap();
    }
    let m = TextEmbedder::load("org/tiny-jina-v2").unwrap();
    assert_eq!(m.model_id(), "org/tiny-jina-v2");
    assert_eq!(m.dir(), snap);
}
