//! [`TextEmbedder`]: files + tokenizer + model + pooling, and the [`Embedder`] trait the
//! server holds (`Arc<dyn Embedder>`).
//!
//! `embed` runs: prefix (Jina v3 task instruction) → parallel tokenization with the model's
//! truncation length → batches of similar length ([`crate::batch::plan`]) → forward passes,
//! several batches at once on the rayon pool → pooling → Matryoshka truncation → L2
//! normalisation → vectors in input order.

use crate::batch::{plan, Batch};
use crate::device::default_device;
use crate::error::{Error, ResultExt};
use crate::files::{read_json, resolve, ModelFiles};
use crate::model::config::{Architecture, EncoderConfig};
use crate::model::lora::LoraMode;
use crate::model::weights::Weights;
use crate::model::{bert::Bert, jina_bert::JinaBert, xlm_roberta::JinaV3, Model};
use crate::pool::{check_dim, truncate_normalize, Pooling};
use crate::task::{EmbedOptions, JinaTask, Task};
use crate::threads::batch_size_for;
use crate::tokenize::{TextTokenizer, Tokens};
use candle_core::Device;
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the server needs from an embedding model.
pub trait Embedder: Send + Sync {
    /// The name or path the model was loaded from (recorded in collection configurations).
    fn model_id(&self) -> &str;
    /// Length of the vectors [`Embedder::embed`] returns.
    fn dim(&self) -> usize;
    /// Unit-length embeddings of `texts`, in order. `task` selects the query or passage
    /// adapter and prefix where the model has them (Jina v3) and is ignored otherwise.
    fn embed(&self, texts: &[&str], task: Task) -> Result<Vec<Vec<f32>>, Error>;
}

/// Default most texts per forward pass. A call with more texts is split into batches that
/// run side by side on the rayon pool, candle's kernels single-threaded in each
/// (`threads.rs`); what usually limits a batch is [`DEFAULT_BATCH_TOKENS`].
pub const DEFAULT_BATCH_SIZE: usize = 64;
/// Default cap on padded tokens per forward pass on CPU (a longer text gets a batch of its own).
/// Small batches keep a layer's activations in cache: on the 2-core CI machine, ~384 padded
/// tokens (5 texts of 64 tokens, 1 of 256) beat 512 and more by 6–10% at 64 tokens and
/// batches of 32, 16 and 8 texts by up to 25% (`benches/benches/embed.rs`,
/// docs/benchmarks.md).
pub const DEFAULT_BATCH_TOKENS: usize = 384;
/// Cap on padded tokens per forward pass on a GPU, where large batches pay; it keeps
/// attention memory bounded for long inputs.
pub const GPU_BATCH_TOKENS: usize = 16_384;

/// A loaded embedding model.
pub struct TextEmbedder {
    model_id: String,
    dir: PathBuf,
    architecture: Architecture,
    tokenizer: TextTokenizer,
    model: Box<dyn Model>,
    pooling: Pooling,
    device: Device,
    dim: usize,
    matryoshka: Vec<usize>,
    adapters: Vec<String>,
    instructions: BTreeMap<String, String>,
    max_batch: usize,
    max_batch_tokens: usize,
    max_positions: usize,
    parallel_batches: bool,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct StModule {
    #[serde(default)]
    path: String,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize, Default)]
struct StPooling {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

/// The sentence-transformers pooling of `files`, if it declares one.
fn st_pooling(files: &ModelFiles) -> Result<Option<Pooling>, Error> {
    let Some(modules_path) = files.optional("modules.json") else {
        return files
            .optional("1_Pooling/config.json")
            .map(|p| parse_pooling(&p))
            .transpose();
    };
    let modules: Vec<StModule> = read_json(&modules_path)?;
    let Some(m) = modules.iter().find(|m| m.kind.ends_with("Pooling")) else {
        return Ok(None);
    };
    let path = files.dir.join(&m.path).join("config.json");
    if !path.is_file() {
        return Err(Error::load(
            &path,
            format!(
                "pooling config named by {} is missing",
                modules_path.display()
            ),
        ));
    }
    parse_pooling(&path).map(Some)
}

fn parse_pooling(path: &Path) -> Result<Pooling, Error> {
    let p: StPooling = read_json(path)?;
    let unsupported = p.pooling_mode_max_tokens
        || p.pooling_mode_mean_sqrt_len_tokens
        || p.pooling_mode_weightedmean_tokens
        || p.pooling_mode_lasttoken;
    match (
        p.pooling_mode_mean_tokens,
        p.pooling_mode_cls_token,
        unsupported,
    ) {
        (true, false, false) => Ok(Pooling::Mean),
        (false, true, false) => Ok(Pooling::Cls),
        _ => Err(Error::load(
            path,
            "unsupported pooling: only exactly one of mean or CLS pooling is implemented",
        )),
    }
}

impl TextEmbedder {
    /// Loads a model from a local directory, or from the Hugging Face hub cache when
    /// `model` is a name like `jinaai/jina-embeddings-v3` (see [`crate::files::resolve`]).
    pub fn load(model: &str) -> Result<TextEmbedder, Error> {
        let dir = resolve(model)?;
        Self::load_dir(model, &dir, &default_device())
    }

    /// Loads the model in `dir` on `device`, reporting it as `model_id`.
    pub fn load_dir(model_id: &str, dir: &Path, device: &Device) -> Result<TextEmbedder, Error> {
        let files = ModelFiles::in_dir(dir)?;
        let cfg = EncoderConfig::load(&files.config)?;
        let architecture = cfg.architecture(&files.config)?;
        let act = cfg.activation(&files.config)?;
        let weights = Weights::load(&files.weights, device)?;
        let (model, adapters, max_positions): (Box<dyn Model>, usize, usize) = match architecture {
            Architecture::Bert => {
                let m = Bert::load(&weights, &cfg, act)?;
                let n = m.max_positions();
                (Box::new(m), 0, n)
            }
            Architecture::JinaBert => (
                Box::new(JinaBert::load(&weights, &cfg, act)?),
                0,
                cfg.max_position_embeddings.unwrap_or(8192),
            ),
            Architecture::JinaV3 => {
                let m = JinaV3::load(&weights, &cfg, act)?;
                let n = m.num_adapters();
                // 8194 in config.json is an XLM-R leftover; the model is trained to 8192.
                (
                    Box::new(m),
                    n,
                    cfg.max_position_embeddings.unwrap_or(8194).min(8192),
                )
            }
        };
        drop(weights);
        let st_max = match files.optional("sentence_bert_config.json") {
            Some(p) => read_json::<SentenceBertConfig>(&p)?.max_seq_length,
            None => None,
        };
        let max_len = st_max.unwrap_or(max_positions).min(max_positions);
        let tokenizer = TextTokenizer::load(&files.tokenizer, max_len, cfg.pad_token_id)?;
        let pooling = match st_pooling(&files)? {
            Some(p) => p,
            None => match cfg.emb_pooler.as_deref() {
                None => Pooling::Mean,
                Some(name) => Pooling::from_name(name).ok_or_else(|| {
                    Error::load(&files.config, format!("unsupported emb_pooler {name:?}"))
                })?,
            },
        };
        let adapters: Vec<String> = if adapters == 0 {
            Vec::new()
        } else {
            cfg.lora_adaptations.clone().unwrap_or_else(|| {
                JinaTask::ALL
                    .iter()
                    .take(adapters)
                    .map(|t| t.as_str().to_string())
                    .collect()
            })
        };
        let dim = cfg.hidden_size;
        let mut matryoshka: Vec<usize> = cfg
            .matryoshka_dimensions
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|&d| d > 0 && d <= dim)
            .collect();
        matryoshka.sort_unstable();
        matryoshka.dedup();
        Ok(TextEmbedder {
            model_id: model_id.to_string(),
            dir: dir.to_path_buf(),
            architecture,
            tokenizer,
            model,
            pooling,
            device: device.clone(),
            dim,
            matryoshka,
            adapters,
            instructions: cfg.task_instructions.clone().unwrap_or_default(),
            max_batch: DEFAULT_BATCH_SIZE,
            max_batch_tokens: if device.is_cpu() {
                DEFAULT_BATCH_TOKENS
            } else {
                GPU_BATCH_TOKENS
            },
            max_positions,
            parallel_batches: true,
        })
    }

    /// The name or path the model was loaded from.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Full output dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The encoder family.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// Truncation length in tokens (special tokens included).
    pub fn max_seq_len(&self) -> usize {
        self.tokenizer.max_len()
    }

    /// The pooling in use.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Output dimensions accepted besides [`TextEmbedder::dim`] (`matryoshka_dimensions`).
    pub fn matryoshka_dimensions(&self) -> &[usize] {
        &self.matryoshka
    }

    /// Names of the task adapters, in adapter order (empty for models without adapters).
    pub fn tasks(&self) -> &[String] {
        &self.adapters
    }

    /// The tokenizer (with the model's truncation).
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Sets the number of texts per forward pass (≥ 1) and the cap on padded tokens.
    pub fn set_batch_limits(&mut self, max_batch: usize, max_tokens: usize) {
        self.max_batch = max_batch.max(1);
        self.max_batch_tokens = max_tokens.max(1);
    }

    /// Sets the truncation length in tokens (special tokens included), capped at the longest
    /// input the model supports; longer texts are cut. Returns the length in effect.
    pub fn set_max_seq_len(&mut self, max_len: usize) -> Result<usize, Error> {
        self.tokenizer
            .set_max_len(max_len.min(self.max_positions))?;
        Ok(self.tokenizer.max_len())
    }

    /// Whether several batches run at once on the rayon pool (default on CPU). Off, batches
    /// run one after another and only candle's own matmul threading is used.
    pub fn set_parallel_batches(&mut self, on: bool) {
        self.parallel_batches = on;
    }

    /// Chooses how LoRA task adapters are applied (Jina v3; ignored otherwise).
    pub fn set_lora_mode(&mut self, mode: LoraMode) {
        self.model.set_lora_mode(mode);
    }

    /// Embeds `texts` for `task`: Jina v3 uses the query/passage adapter and instruction;
    /// models without tasks ignore it. Unit length, full dimension, input order.
    pub fn embed(&self, texts: &[&str], task: Task) -> Result<Vec<Vec<f32>>, Error> {
        let jt = JinaTask::from(task);
        let has = self.adapters.iter().any(|a| a == jt.as_str())
            || self.instructions.contains_key(jt.as_str());
        self.embed_with(
            texts,
            &EmbedOptions {
                task: has.then_some(jt),
                dim: None,
            },
        )
    }

    /// Embeds `texts` with an explicit task (any of the five Jina v3 tasks) and output
    /// dimension (a Matryoshka dimension of the model).
    pub fn embed_with(&self, texts: &[&str], opts: &EmbedOptions) -> Result<Vec<Vec<f32>>, Error> {
        let dim = check_dim(opts.dim, self.dim, &self.matryoshka)?;
        let (adapter, prefix) = self.task_setup(opts.task)?;
        let tokens = match prefix {
            Some(p) if !p.is_empty() => {
                let prefixed: Vec<String> = texts.iter().map(|t| format!("{p}{t}")).collect();
                self.tokenizer.encode_all(&prefixed)?
            }
            _ => self.tokenizer.encode_all(texts)?,
        };
        self.embed_tokens(&tokens, adapter, dim)
    }

    /// The adapter index and instruction prefix of `task`.
    fn task_setup(&self, task: Option<JinaTask>) -> Result<(Option<usize>, Option<&str>), Error> {
        let Some(task) = task else {
            return Ok((None, None));
        };
        let name = task.as_str();
        let adapter = self.adapters.iter().position(|a| a == name);
        let prefix = self.instructions.get(name).map(String::as_str);
        if adapter.is_none() && prefix.is_none() {
            return Err(Error::InvalidRequest(
                if self.adapters.is_empty() && self.instructions.is_empty() {
                    format!(
                        "model {} has no task adapters; leave the task out (got {name})",
                        self.model_id
                    )
                } else {
                    format!(
                        "model {} has no task {name}; it has {:?}",
                        self.model_id, self.adapters
                    )
                },
            ));
        }
        Ok((adapter, prefix))
    }

    /// Embeds already tokenized texts (for tests and callers that tokenize themselves).
    pub fn embed_tokens(
        &self,
        tokens: &[Tokens],
        adapter: Option<usize>,
        dim: usize,
    ) -> Result<Vec<Vec<f32>>, Error> {
        let lengths: Vec<usize> = tokens.iter().map(Tokens::len).collect();
        let parallel = self.parallel_batches && self.device.is_cpu();
        let max_batch = if parallel {
            // Batches for every worker, in even numbers (see `threads.rs`).
            batch_size_for(
                tokens.len(),
                lengths.iter().copied().max().unwrap_or(1),
                rayon::current_num_threads(),
                self.max_batch,
                self.max_batch_tokens,
            )
        } else {
            self.max_batch
        };
        let groups = plan(&lengths, max_batch, self.max_batch_tokens);
        let run = |group: &Vec<usize>| -> Result<Vec<(usize, Vec<f32>)>, Error> {
            let seqs: Vec<&Tokens> = group.iter().map(|&i| &tokens[i]).collect();
            let batch = Batch::new(&seqs, self.tokenizer.pad_id(), &self.device)
                .infer("building a batch")?;
            let hidden = self.model.forward(&batch, adapter).infer("forward pass")?;
            let pooled = self.pooling.apply(&hidden, &batch.mask).infer("pooling")?;
            let rows = pooled.to_vec2::<f32>().infer("reading the output")?;
            Ok(group
                .iter()
                .copied()
                .zip(rows.into_iter().map(|r| truncate_normalize(r, dim)))
                .collect())
        };
        let done: Vec<Vec<(usize, Vec<f32>)>> = if parallel && groups.len() > 1 {
            groups.par_iter().map(run).collect::<Result<_, _>>()?
        } else {
            groups.iter().map(run).collect::<Result<_, _>>()?
        };
        let mut out = vec![Vec::new(); tokens.len()];
        for (i, v) in done.into_iter().flatten() {
            out[i] = v;
        }
        Ok(out)
    }
}

impl Embedder for TextEmbedder {
    fn model_id(&self) -> &str {
        TextEmbedder::model_id(self)
    }
    fn dim(&self) -> usize {
        TextEmbedder::dim(self)
    }
    fn embed(&self, texts: &[&str], task: Task) -> Result<Vec<Vec<f32>>, Error> {
        TextEmbedder::embed(self, texts, task)
    }
}

impl std::fmt::Debug for TextEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEmbedder")
            .field("model_id", &self.model_id)
            .field("architecture", &self.architecture)
            .field("dim", &self.dim)
            .field("max_seq_len", &self.tokenizer.max_len())
            .field("pooling", &self.pooling)
            .field("tasks", &self.adapters)
            .finish()
    }
}
