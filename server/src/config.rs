//! Command-line flags (each also an environment variable `CHROMITE_*`) and
//! the settings the router needs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Chroma's default body limit: 40 MiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 40 * 1024 * 1024;

/// `chromite`: a Chroma-compatible vector database server.
#[derive(Debug, Parser)]
#[command(
    name = "chromite",
    version,
    about = "Chroma-compatible vector database server"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the Chroma HTTP API (like `chroma run`).
    Run(RunArgs),
    /// Embed stdin lines with a model and print one JSON vector per line.
    Embed(EmbedArgs),
    /// Import a Chroma persistent directory (chromadb 0.4 to 1.5), or a
    /// `chromite export` JSONL file, into a Chromite store; the source is
    /// only read.
    Import(ImportArgs),
    /// Write collections as JSON lines to stdout (`chromite import` reads them back).
    Export(ExportArgs),
    /// Take, list or delete online snapshots of a running server's store.
    Snapshot(SnapshotArgs),
    /// Restore a snapshot into a new data directory.
    Restore(RestoreArgs),
}

/// `chromite snapshot` flags.
#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// The running server (`http://host:port`).
    #[arg(long, env = "CHROMITE_URL", default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// The server's `--auth-token` (admin routes need one).
    #[arg(long, env = "CHROMITE_AUTH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The new snapshot's name (default: from the time).
    #[arg(long)]
    pub name: Option<String>,
    /// List the snapshots instead of taking one.
    #[arg(long, conflicts_with_all = ["name", "delete"])]
    pub list: bool,
    /// Delete this snapshot instead of taking one.
    #[arg(long)]
    pub delete: Option<String>,
}

/// `chromite restore` flags.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The snapshot directory (`<store>/snapshots/NAME`).
    pub snapshot: PathBuf,
    /// The new (or empty) data directory, on the same file system.
    #[arg(long)]
    pub path: PathBuf,
}

/// `chromite export` flags.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The Chromite data directory to export.
    #[arg(long, env = "CHROMITE_PATH", default_value = "./data/chroma")]
    pub path: PathBuf,
    /// Only these collections (by name; repeatable); all when absent.
    #[arg(long = "collection")]
    pub collections: Vec<String>,
}

/// `chromite import` flags.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The Chroma persistent directory (the one holding `chroma.sqlite3`),
    /// a file written by `chromite export`, or the URL of a running
    /// Chroma-compatible server (`http(s)://host:port`).
    pub src: PathBuf,
    /// The Chromite data directory to import into (created if missing).
    #[arg(long, env = "CHROMITE_PATH", default_value = "./data/chroma")]
    pub path: PathBuf,
    /// Replace collections the store already has under the same names.
    #[arg(long, default_value_t = false)]
    pub overwrite: bool,
    /// With a server URL as the source: its token (sent as
    /// `x-chroma-token` and `Authorization: Bearer`).
    #[arg(long, env = "CHROMA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// With a server URL as the source: tenants to import besides
    /// `default_tenant` (Chroma's API cannot list them); repeatable.
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
    /// Log level (trace, debug, info, warn, error).
    #[arg(long, env = "CHROMITE_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

/// `chromite embed` flags.
#[derive(Debug, Clone, Args)]
pub struct EmbedArgs {
    /// Model directory (or a name in the local Hugging Face cache).
    #[arg(long, env = "CHROMITE_MODEL")]
    pub model: String,
    /// `query`, `passage`, a Jina v3 task name (`retrieval.query`, `text-matching`, ...),
    /// or `none` (the base weights, no adapter: Jina's `encode(task=None)`).
    #[arg(long, default_value = "passage")]
    pub task: String,
    /// Output dimension (a Matryoshka dimension of the model); default the full one.
    #[arg(long)]
    pub dim: Option<usize>,
    /// Lines per model call.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
}

/// `chromite run` flags.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Data directory (created if missing).
    #[arg(long, env = "CHROMITE_PATH", default_value = "./data/chroma")]
    pub path: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "CHROMITE_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "CHROMITE_PORT", default_value_t = 8000)]
    pub port: u16,
    /// Allow `POST /api/v2/reset` (wipes everything).
    #[arg(long, env = "CHROMITE_ALLOW_RESET", default_value_t = false)]
    pub allow_reset: bool,
    /// Require this token (`Authorization: Bearer TOKEN` or `X-Chroma-Token: TOKEN`).
    #[arg(long, env = "CHROMITE_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Allowed CORS origins, comma-separated; `*` (the default) allows any.
    #[arg(
        long,
        env = "CHROMITE_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "*"
    )]
    pub cors_origins: Vec<String>,
    /// Largest request body in bytes (413 above it).
    #[arg(long, env = "CHROMITE_MAX_BODY_SIZE", default_value_t = DEFAULT_MAX_BODY_SIZE)]
    pub max_body_size: usize,
    /// Index each memtable with a graph grown as writes arrive, kept by its
    /// segment at flush: queries never scan recent writes, but every write
    /// waits for its rows to be indexed (slower bulk ingest).
    #[arg(long, env = "CHROMITE_MEMTABLE_GRAPH", default_value_t = false)]
    pub memtable_graph: bool,
    /// Log filter (`error`, `warn`, `info`, `debug`, `trace`, or a tracing directive).
    #[arg(long, env = "CHROMITE_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Do not import a Chroma persistent directory found at `--path`
    /// (by default its data is imported once, beside it, before serving).
    #[arg(long, env = "CHROMITE_NO_CHROMA_IMPORT", default_value_t = false)]
    pub no_chroma_import: bool,
    /// Embedding model (directory, or a name in the local Hugging Face cache) used to
    /// embed documents sent without embeddings and `query_texts`; also env `MODEL_NAME`.
    #[arg(long, env = "CHROMITE_MODEL")]
    pub model: Option<String>,
}

impl RunArgs {
    /// The model to load: `--model`/`CHROMITE_MODEL`, else `MODEL_NAME`.
    pub fn model(&self) -> Option<String> {
        self.model
            .clone()
            .or_else(|| std::env::var("MODEL_NAME").ok())
            .filter(|m| !m.trim().is_empty())
    }
}

/// What the router needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `POST /api/v2/reset` is allowed.
    pub allow_reset: bool,
    /// Required token, if any.
    pub auth_token: Option<String>,
    /// Allowed CORS origins (`*` = any).
    pub cors_origins: Vec<String>,
    /// Body limit in bytes.
    pub max_body_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allow_reset: false,
            auth_token: None,
            cors_origins: vec!["*".to_string()],
            max_body_size: DEFAULT_MAX_BODY_SIZE,
        }
    }
}

impl From<&RunArgs> for Settings {
    fn from(a: &RunArgs) -> Self {
        Settings {
            allow_reset: a.allow_reset,
            auth_token: a.auth_token.clone().filter(|t| !t.is_empty()),
            cors_origins: a
                .cors_origins
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            max_body_size: a.max_body_size,
        }
    }
}

/// Libraries whose INFO output is chatter (hnsw_rs logs every graph
/// build's internals), kept at WARN unless the filter names them itself.
const QUIET_LIBRARIES: [&str; 1] = ["hnsw_rs"];

/// The tracing filter for `--log-level`: the user's directives, plus WARN
/// for each chatty library they do not mention.
pub fn log_filter(level: &str) -> String {
    let mut out = level.trim().to_string();
    for lib in QUIET_LIBRARIES {
        if !out.contains(lib) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(lib);
            out.push_str("=warn");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn library_chatter_stays_below_info() {
        assert_eq!(super::log_filter("info"), "info,hnsw_rs=warn");
        assert_eq!(
            super::log_filter("debug,hnsw_rs=info"),
            "debug,hnsw_rs=info"
        );
    }
}
