//! Chromite's own admin routes, outside Chroma's `/api/v2` namespace:
//! online snapshots of the whole store (`engine/src/snapshot.rs`).
//!
//! - `POST /admin/v1/snapshots` `{"name"?: "…"}`: takes one now (the name
//!   defaults to the UTC time), answers its name, path and sizes;
//! - `GET /admin/v1/snapshots`: the snapshots, oldest first;
//! - `DELETE /admin/v1/snapshots/{name}`.
//!
//! Snapshots live in `<store>/snapshots/NAME`, on the store's file system
//! (their segments are hard links). The routes exist only when the server
//! has an `--auth-token`, and need it like every other route: without one
//! they answer 403.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::blocking;
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;

/// Where a store's snapshots live.
pub const SNAPSHOTS_DIR: &str = "snapshots";

/// `POST /admin/v1/snapshots` body.
#[derive(Debug, Default, Deserialize)]
pub struct CreateSnapshot {
    /// The snapshot's name (letters, digits, `-`, `_`, `.`).
    #[serde(default)]
    pub name: Option<String>,
}

fn guard(state: &AppState) -> ApiResult<()> {
    if state.settings.auth_token.is_none() {
        return Err(ApiError::new(
            Code::PermissionDenied,
            "admin routes need the server to run with --auth-token",
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && !name.ends_with(".tmp")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Invalid snapshot name {name:?}: use letters, digits, '-', '_' and '.'"
        )))
    }
}

/// `POST /admin/v1/snapshots`.
pub async fn create(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    guard(&state)?;
    // The body is optional.
    let body: CreateSnapshot = if body.iter().all(u8::is_ascii_whitespace) {
        CreateSnapshot::default()
    } else {
        serde_json::from_slice(&body).map_err(ApiError::unprocessable)?
    };
    let name = match body.name {
        Some(n) => n,
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            format!("snapshot-{}-{:09}", now.as_secs(), now.subsec_nanos())
        }
    };
    check_name(&name)?;
    let db = state.db.clone();
    blocking(move || {
        let dir = db.path().join(SNAPSHOTS_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| ApiError::internal(format!("{}: {e}", dir.display())))?;
        let path = dir.join(&name);
        let t0 = std::time::Instant::now();
        let s = db.snapshot(&path).map_err(ApiError::from)?;
        tracing::info!(snapshot = %path.display(), collections = s.collections, copied_bytes = s.copied_bytes, "snapshot taken");
        Ok(Json(json!({
            "name": name,
            "path": path,
            "collections": s.collections,
            "linked_files": s.linked_files,
            "linked_bytes": s.linked_bytes,
            "copied_bytes": s.copied_bytes,
            "seconds": t0.elapsed().as_secs_f64(),
        })))
    })
    .await
}

/// `GET /admin/v1/snapshots`.
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    guard(&state)?;
    let dir = state.db.path().join(SNAPSHOTS_DIR);
    let mut out: Vec<(std::time::SystemTime, String)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".tmp") || !e.path().join("CATALOG").exists() {
                continue;
            }
            let at = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            out.push((at, name));
        }
    }
    out.sort();
    let items: Vec<Value> = out
        .into_iter()
        .map(|(_, n)| json!({"name": n, "path": dir.join(&n)}))
        .collect();
    Ok(Json(Value::Array(items)))
}

/// `DELETE /admin/v1/snapshots/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    guard(&state)?;
    check_name(&name)?;
    let path = state.db.path().join(SNAPSHOTS_DIR).join(&name);
    if !path.join("CATALOG").exists() {
        return Err(ApiError::not_found(format!(
            "Snapshot [{name}] does not exist"
        )));
    }
    blocking(move || {
        std::fs::remove_dir_all(&path)
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
        Ok(Json(json!({})))
    })
    .await
}
