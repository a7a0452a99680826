//! Bodies of the system routes.

use serde::{Deserialize, Serialize};

/// `GET /api/v2/heartbeat`.
#[derive(Debug, Clone, Serialize)]
pub struct Heartbeat {
    /// Wall-clock nanoseconds since the Unix epoch.
    #[serde(rename = "nanosecond heartbeat")]
    pub nanosecond_heartbeat: u128,
}

/// `GET /api/v2/pre-flight-checks`.
#[derive(Debug, Clone, Serialize)]
pub struct PreflightChecks {
    /// Largest batch a client should send.
    pub max_batch_size: usize,
    /// Writes may carry base64 little-endian f32 embeddings.
    pub supports_base64_encoding: bool,
}

/// `GET /api/v2/healthcheck`.
#[derive(Debug, Clone, Serialize)]
pub struct Healthcheck {
    /// The engine answers.
    pub is_executor_ready: bool,
    /// The WAL accepts writes.
    pub is_log_client_ready: bool,
}

/// `GET /api/v2/auth/identity`.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    /// Always empty on a single node.
    pub user_id: String,
    /// `default_tenant`.
    pub tenant: String,
    /// `["default_database"]`.
    pub databases: Vec<String>,
}

/// `GET .../count?read_level=` (a single node ignores the level).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CountParams {
    /// Chroma's read level.
    #[serde(default)]
    pub read_level: Option<ReadLevel>,
}

/// Chroma's read levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadLevel {
    /// Default.
    IndexAndWal,
    /// Index only.
    IndexOnly,
    /// Bounded WAL.
    IndexAndBoundedWal,
}

/// A response body `{}`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Empty {}
