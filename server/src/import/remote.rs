//! Importing from a running Chroma-compatible server (`chromite import
//! http(s)://host:port`): its HTTP API v2, as the official clients use it
//! (`../shared/chroma-api.md`). Chroma's API cannot list tenants, so the
//! import takes `default_tenant` and the tenants it is given; every
//! database of each, every collection of each database, its records paged
//! with `get` in Chroma's order.

use std::time::Duration;

use chromite_engine::{Metadata, RecordBatch};
use serde_json::{json, Value};

use super::{ImportError, ImportOptions, ImportReport, Key, BATCH};
use crate::wire::collection::CreateCollection;

/// A Chroma server.
struct Remote {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Remote {
    fn err(&self, what: String) -> ImportError {
        ImportError::Remote {
            url: self.base.clone(),
            what,
        }
    }

    fn call(&self, req: ureq::Request, body: Option<Value>) -> Result<Value, ImportError> {
        let req = match &self.token {
            Some(t) => req
                .set("x-chroma-token", t)
                .set("authorization", &format!("Bearer {t}")),
            None => req,
        };
        let url = req.url().to_string();
        let resp = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match resp {
            Ok(r) => r
                .into_json::<Value>()
                .map_err(|e| self.err(format!("{url}: the answer is not JSON: {e}"))),
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                Err(self.err(format!("{url}: HTTP {code}: {text}")))
            }
            Err(e) => Err(self.err(format!("{url}: {e}"))),
        }
    }

    fn get(&self, path: &str) -> Result<Value, ImportError> {
        self.call(self.agent.get(&format!("{}{path}", self.base)), None)
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, ImportError> {
        self.call(self.agent.post(&format!("{}{path}", self.base)), Some(body))
    }

    /// Every item of a paged list endpoint.
    fn list(&self, path: &str) -> Result<Vec<Value>, ImportError> {
        let mut out = Vec::new();
        loop {
            let page = self.get(&format!("{path}?limit=100&offset={}", out.len()))?;
            let Value::Array(items) = page else {
                return Err(self.err(format!("{path}: expected a list")));
            };
            let n = items.len();
            out.extend(items);
            if n < 100 {
                return Ok(out);
            }
        }
    }
}

/// One collection of the server.
struct RemoteCollection {
    key: Key,
    id: String,
    json: Value,
}

/// Imports every collection of the server at `url` (`default_tenant` and
/// `tenants`) into `db`.
pub fn import_remote(
    url: &str,
    token: Option<&str>,
    tenants: &[String],
    db: &chromite_engine::Db,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<ImportReport, ImportError> {
    let remote = Remote {
        base: url.trim_end_matches('/').to_string(),
        token: token.map(str::to_string),
        agent: ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(600))
            .build(),
    };
    remote.get("/api/v2/heartbeat")?;
    let mut all = vec![chromite_engine::DEFAULT_TENANT.to_string()];
    all.extend(
        tenants
            .iter()
            .filter(|t| !all.contains(t))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let mut scopes = Vec::new();
    let mut collections = Vec::new();
    for t in &all {
        for d in remote.list(&format!("/api/v2/tenants/{t}/databases"))? {
            let name = d["name"].as_str().unwrap_or_default().to_string();
            for c in remote.list(&format!("/api/v2/tenants/{t}/databases/{name}/collections"))? {
                collections.push(RemoteCollection {
                    key: (
                        t.clone(),
                        name.clone(),
                        c["name"].as_str().unwrap_or_default().to_string(),
                    ),
                    id: c["id"].as_str().unwrap_or_default().to_string(),
                    json: c,
                });
            }
            scopes.push((t.clone(), name));
        }
    }
    super::ensure_scopes(db, &all, &scopes)?;
    super::run_journaled(
        db,
        std::path::PathBuf::from(&remote.base),
        &collections,
        |c| c.key.clone(),
        &mut |c, label, begin| import_one(&remote, db, c, opts, label, begin, progress),
    )
}

/// The create request of a collection as the server describes it: its
/// schema when it has one (Chroma 1.3+; it already holds what legacy
/// `hnsw:*` metadata keys set), else its configuration and metadata as a
/// client's create request would give them.
fn spec_of(c: &Value) -> Result<chromite_engine::CollectionSpec, String> {
    if let Some(schema) = c.get("schema").filter(|s| !s.is_null()) {
        let schema: chromite_engine::Schema = serde_json::from_value(schema.clone())
            .map_err(|e| format!("its schema does not parse: {e}"))?;
        let metadata: Option<Metadata> = serde_json::from_value(c["metadata"].clone())
            .map_err(|e| format!("its metadata does not parse: {e}"))?;
        return Ok(chromite_engine::CollectionSpec {
            metadata: metadata.filter(|m| !m.is_empty()),
            config: Default::default(),
            schema: Some(schema),
        });
    }
    let mut req = json!({"name": c["name"], "metadata": c["metadata"]});
    if let Some(cfg) = c.get("configuration_json").filter(|v| v.is_object()) {
        req["configuration"] = cfg.clone();
    }
    let req: CreateCollection =
        serde_json::from_value(req).map_err(|e| format!("its settings do not parse: {e}"))?;
    crate::convert::collection_spec(&req).map_err(|e| e.message)
}

fn import_one(
    remote: &Remote,
    db: &chromite_engine::Db,
    c: &RemoteCollection,
    opts: &ImportOptions,
    label: &str,
    begin: &mut dyn FnMut() -> Result<(), ImportError>,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<usize, ImportError> {
    let fail = |what: String| ImportError::collection(label, what);
    let spec = spec_of(&c.json).map_err(fail)?;
    let (t, d, _) = &c.key;
    let path = format!("/api/v2/tenants/{t}/databases/{d}/collections/{}", c.id);
    let total = remote.get(&format!("{path}/count"))?.as_u64().unwrap_or(0) as usize;
    let mut offset = 0usize;
    let mut next = || -> Result<Option<RecordBatch>, ImportError> {
        if offset >= total {
            return Ok(None);
        }
        let page = remote.post(
            &format!("{path}/get"),
            json!({"limit": BATCH, "offset": offset, "include": ["embeddings", "documents", "metadatas", "uris"]}),
        )?;
        let batch =
            batch_of(&page).map_err(|e| fail(format!("records at offset {offset}: {e}")))?;
        if batch.ids.is_empty() {
            return Ok(None);
        }
        offset += batch.ids.len();
        Ok(Some(batch))
    };
    super::write_collection(
        db, &c.key, spec, opts, label, begin, total, &mut next, progress,
    )
}

/// A `get` answer as a batch to add.
fn batch_of(page: &Value) -> Result<RecordBatch, String> {
    let ids: Vec<String> =
        serde_json::from_value(page["ids"].clone()).map_err(|e| e.to_string())?;
    let n = ids.len();
    let col = |k: &str| page.get(k).filter(|v| !v.is_null()).cloned();
    let embeddings: Vec<Vec<f32>> = match col("embeddings") {
        Some(v) => serde_json::from_value(v).map_err(|e| format!("embeddings: {e}"))?,
        None => return Err("the server returned no embeddings".into()),
    };
    let documents: Vec<Option<String>> = match col("documents") {
        Some(v) => serde_json::from_value(v).map_err(|e| format!("documents: {e}"))?,
        None => vec![None; n],
    };
    let uris: Vec<Option<String>> = match col("uris") {
        Some(v) => serde_json::from_value(v).map_err(|e| format!("uris: {e}"))?,
        None => vec![None; n],
    };
    let metadatas: Vec<Option<Metadata>> = match col("metadatas") {
        Some(v) => serde_json::from_value(v).map_err(|e| format!("metadatas: {e}"))?,
        None => vec![None; n],
    };
    if embeddings.len() != n || documents.len() != n || uris.len() != n || metadatas.len() != n {
        return Err("the answer's lists differ in length".into());
    }
    Ok(RecordBatch {
        ids,
        embeddings: Some(embeddings),
        documents: Some(documents),
        metadatas: Some(
            metadatas
                .iter()
                .map(|m| {
                    m.as_ref()
                        .filter(|m| !m.is_empty())
                        .map(crate::convert::metadata_update)
                })
                .collect(),
        ),
        uris: Some(uris),
    })
}
