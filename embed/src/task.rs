//! What a caller can ask for besides the texts: the Jina v3 task adapter and the output
//! dimension (Matryoshka truncation).

use crate::Error;
use std::fmt;
use std::str::FromStr;

/// The two roles a database needs: documents that get stored and queries that search them.
///
/// For Jina v3 they select the `retrieval.passage` / `retrieval.query` LoRA adapter and
/// instruction prefix; models without task adapters (MiniLM, Jina v2) ignore the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// A search query (`retrieval.query`).
    Query,
    /// A stored document (`retrieval.passage`).
    Passage,
}

/// The five task adapters of jina-embeddings-v3, in the order of its `lora_adaptations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JinaTask {
    /// `retrieval.query`: queries of asymmetric retrieval.
    RetrievalQuery,
    /// `retrieval.passage`: documents of asymmetric retrieval.
    RetrievalPassage,
    /// `separation`: clustering and re-ranking.
    Separation,
    /// `classification`.
    Classification,
    /// `text-matching`: symmetric similarity (STS).
    TextMatching,
}

impl JinaTask {
    /// All tasks, in jina-embeddings-v3's adapter order.
    pub const ALL: [JinaTask; 5] = [
        JinaTask::RetrievalQuery,
        JinaTask::RetrievalPassage,
        JinaTask::Separation,
        JinaTask::Classification,
        JinaTask::TextMatching,
    ];

    /// The name used in `config.json` (`lora_adaptations`, `task_instructions`).
    pub fn as_str(self) -> &'static str {
        match self {
            JinaTask::RetrievalQuery => "retrieval.query",
            JinaTask::RetrievalPassage => "retrieval.passage",
            JinaTask::Separation => "separation",
            JinaTask::Classification => "classification",
            JinaTask::TextMatching => "text-matching",
        }
    }
}

impl fmt::Display for JinaTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JinaTask {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let wanted = s.trim();
        // Accept the short role names as well (`query`, `passage`/`document`).
        match wanted {
            "query" => return Ok(JinaTask::RetrievalQuery),
            "passage" | "document" => return Ok(JinaTask::RetrievalPassage),
            _ => {}
        }
        JinaTask::ALL
            .into_iter()
            .find(|t| t.as_str() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = JinaTask::ALL.iter().map(|t| t.as_str()).collect();
                Error::InvalidRequest(format!(
                    "unknown task {s:?}; expected one of {} (or query/passage)",
                    names.join(", ")
                ))
            })
    }
}

impl From<Task> for JinaTask {
    fn from(t: Task) -> Self {
        match t {
            Task::Query => JinaTask::RetrievalQuery,
            Task::Passage => JinaTask::RetrievalPassage,
        }
    }
}

/// Options of [`crate::TextEmbedder::embed_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbedOptions {
    /// The task adapter (and instruction prefix). `None` runs the base weights without a
    /// prefix. Asking for a task on a model without adapters is an
    /// [`Error::InvalidRequest`].
    pub task: Option<JinaTask>,
    /// Output dimension. `None` = the model's full dimension. Other values must be listed in
    /// the model's `matryoshka_dimensions`; the vector is truncated, then re-normalised.
    pub dim: Option<usize>,
}
