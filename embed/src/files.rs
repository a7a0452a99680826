//! Finding a model's files: a local directory, or a Hugging Face hub name looked up in the
//! hub cache (`$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`), downloaded only
//! with the `hub` cargo feature.
//!
//! Files read from a model directory:
//! * `config.json` — architecture and hyper-parameters (required);
//! * `tokenizer.json` — the `tokenizers` pipeline (required; its own padding/truncation
//!   defaults are ignored, see [`crate::tokenize`]);
//! * `model.safetensors`, or the shards listed in `model.safetensors.index.json` (required);
//! * `sentence_bert_config.json` — `max_seq_length` (optional);
//! * `modules.json` + `<pooling dir>/config.json` — sentence-transformers pooling (optional).

use crate::error::{Error, ResultExt};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// The files of one model directory.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The directory.
    pub dir: PathBuf,
    /// `config.json`.
    pub config: PathBuf,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// The safetensors files holding the weights (one, or the shards of an index).
    pub weights: Vec<PathBuf>,
}

impl ModelFiles {
    /// Checks that `dir` holds a loadable model and lists its files.
    pub fn in_dir(dir: &Path) -> Result<Self, Error> {
        if !dir.is_dir() {
            return Err(Error::load(dir, "not a directory"));
        }
        let config = required(dir, "config.json")?;
        let tokenizer = required(dir, "tokenizer.json")?;
        let weights = weight_files(dir)?;
        Ok(ModelFiles {
            dir: dir.to_path_buf(),
            config,
            tokenizer,
            weights,
        })
    }

    /// A file relative to the model directory, if it exists.
    pub fn optional(&self, rel: &str) -> Option<PathBuf> {
        let p = self.dir.join(rel);
        p.is_file().then_some(p)
    }
}

fn required(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    let p = dir.join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(Error::load(&p, "required file is missing"))
    }
}

fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        #[derive(serde::Deserialize)]
        struct Index {
            weight_map: std::collections::BTreeMap<String, String>,
        }
        let idx: Index = read_json(&index)?;
        let mut files: Vec<PathBuf> = Vec::new();
        for f in idx.weight_map.values() {
            let p = dir.join(f);
            if !files.contains(&p) {
                if !p.is_file() {
                    return Err(Error::load(
                        &p,
                        format!("shard listed in {} is missing", index.display()),
                    ));
                }
                files.push(p);
            }
        }
        return Ok(files);
    }
    let hint = if dir.join("pytorch_model.bin").is_file() {
        " (only pytorch_model.bin is present; convert it to safetensors)"
    } else {
        ""
    };
    Err(Error::load(
        &single,
        format!("no weights: expected model.safetensors or model.safetensors.index.json{hint}"),
    ))
}

/// Reads and parses a JSON file; errors name the file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = std::fs::read_to_string(path).load_ctx(path, "cannot read")?;
    serde_json::from_str(&text).load_ctx(path, "malformed JSON")
}

/// Turns what the user passed (`--model`) into a model directory.
///
/// An existing path is used as is. Otherwise a name of the form `org/name` is looked up in
/// the Hugging Face hub cache; with the `hub` feature a missing model is downloaded there.
pub fn resolve(model: &str) -> Result<PathBuf, Error> {
    let as_path = Path::new(model);
    if as_path.exists() {
        return if as_path.is_dir() {
            Ok(as_path.to_path_buf())
        } else {
            Err(Error::load(
                as_path,
                "expected a model directory, found a file",
            ))
        };
    }
    if !looks_like_hub_name(model) {
        return Err(Error::Load(format!(
            "model {model:?}: no such directory, and not a hub name of the form org/name"
        )));
    }
    let cache = hub_cache_dir();
    if let Some(dir) = cached_snapshot(&cache, model) {
        return Ok(dir);
    }
    download(model, &cache)
}

fn looks_like_hub_name(s: &str) -> bool {
    let mut parts = s.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// The hub cache directory, following `huggingface_hub`'s rules.
pub fn hub_cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = env("HF_HUB_CACHE").or_else(|| env("HUGGINGFACE_HUB_CACHE")) {
        return p;
    }
    if let Some(p) = env("HF_HOME") {
        return p.join("hub");
    }
    let cache = env("XDG_CACHE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("huggingface").join("hub")
}

/// `<cache>/models--org--name/snapshots/<revision of refs/main>`, if it holds a config.json.
fn cached_snapshot(cache: &Path, name: &str) -> Option<PathBuf> {
    let repo = cache.join(format!("models--{}", name.replace('/', "--")));
    let snapshots = repo.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo.join("refs").join("main")) {
        let dir = snapshots.join(rev.trim());
        if dir.join("config.json").is_file() {
            return Some(dir);
        }
    }
    // No refs/main (e.g. a copied cache): take the only snapshot, if there is exactly one.
    let mut found = std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("config.json").is_file());
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

fn snapshot_path(cache: &Path, name: &str) -> PathBuf {
    cache
        .join(format!("models--{}", name.replace('/', "--")))
        .join("snapshots")
}

#[cfg(not(feature = "hub"))]
fn download(name: &str, cache: &Path) -> Result<PathBuf, Error> {
    Err(Error::Load(format!(
        "model {name:?} is not a local directory and is not in the Hugging Face cache (looked in {}); \
         this build has no `hub` feature, so it cannot download: fetch the model on a machine with \
         network access (e.g. `huggingface-cli download {name}`) and pass its directory",
        snapshot_path(cache, name).display()
    )))
}

#[cfg(feature = "hub")]
fn download(name: &str, cache: &Path) -> Result<PathBuf, Error> {
    use hf_hub::api::sync::ApiBuilder;
    let api = ApiBuilder::new()
        .with_cache_dir(cache.to_path_buf())
        .with_progress(false)
        .build()
        .map_err(|e| Error::Load(format!("model {name:?}: cannot set up the hub client: {e}")))?;
    let repo = api.model(name.to_string());
    let mut config = None;
    for file in ["config.json", "tokenizer.json"] {
        let p = repo.get(file).map_err(|e| {
            Error::Load(format!(
                "model {name:?}: not in the cache at {} and downloading {file} failed: {e}",
                snapshot_path(cache, name).display()
            ))
        })?;
        config.get_or_insert(p);
    }
    if repo.get("model.safetensors").is_err() {
        let index = repo.get("model.safetensors.index.json").map_err(|e| {
            Error::Load(format!(
                "model {name:?}: downloading model.safetensors failed: {e}"
            ))
        })?;
        let files = weight_files_from_index(&index)?;
        for f in files {
            repo.get(&f)
                .map_err(|e| Error::Load(format!("model {name:?}: downloading {f} failed: {e}")))?;
        }
    }
    // Optional sentence-transformers files; absent ones are fine.
    for file in [
        "sentence_bert_config.json",
        "modules.json",
        "1_Pooling/config.json",
    ] {
        let _ = repo.get(file);
    }
    let config = config.ok_or_else(|| Error::Load(format!("model {name:?}: no config.json")))?;
    config
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::load(&config, "downloaded file has no parent directory"))
}

#[cfg(feature = "hub")]
fn weight_files_from_index(index: &Path) -> Result<Vec<String>, Error> {
    #[derive(serde::Deserialize)]
    struct Index {
        weight_map: std::collections::BTreeMap<String, String>,
    }
    let idx: Index = read_json(index)?;
    let mut files: Vec<String> = idx.weight_map.into_values().collect();
    files.sort();
    files.dedup();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_names() {
        assert!(looks_like_hub_name("jinaai/jina-embeddings-v3"));
        assert!(looks_like_hub_name(
            "sentence-transformers/all-MiniLM-L6-v2"
        ));
        assert!(!looks_like_hub_name("/abs/path"));
        assert!(!looks_like_hub_name("a/b/c"));
        assert!(!looks_like_hub_name("../x"));
        assert!(!looks_like_hub_name("plain"));
    }

    #[test]
    fn missing_hub_model_names_the_cache_dir() {
        let dir = std::env::temp_dir().join("chromite-embed-empty-cache-test");
        let _ = std::fs::create_dir_all(&dir);
        assert!(cached_snapshot(&dir, "nobody/nothing").is_none());
    }

    #[test]
    fn cached_snapshot_follows_refs_main() {
        let root =
            std::env::temp_dir().join(format!("chromite-embed-cache-{}", std::process::id()));
        let repo = root.join("models--org--m");
        let snap = repo.join("snapshots").join("abc123");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs").join("main"), "abc123\n").unwrap();
        std::fs::write(snap.join("config.json"), "{}").unwrap();
        assert_eq!(cached_snapshot(&root, "org/m"), Some(snap));
        let _ = std::fs::remove_dir_all(&root);
    }
}
