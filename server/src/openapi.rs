//! The OpenAPI 3.1 document served at `/openapi.json`, built from the same
//! route list as [`crate::api::routes`] (paths, methods, what each does and
//! its success status), and the `/docs` page rendered from it.

use serde_json::{json, Map, Value};

/// (method, path, summary, success status).
pub const ROUTES: &[(&str, &str, &str, u16)] = &[
    ("get", "/api/v2", "Heartbeat", 200),
    (
        "get",
        "/api/v2/heartbeat",
        "Heartbeat: wall-clock nanoseconds",
        200,
    ),
    ("get", "/api/v2/version", "Server version", 200),
    (
        "get",
        "/api/v2/pre-flight-checks",
        "Batch limit and base64 support",
        200,
    ),
    ("get", "/api/v2/healthcheck", "Readiness", 200),
    ("get", "/api/v2/auth/identity", "Caller identity", 200),
    (
        "post",
        "/api/v2/reset",
        "Wipe everything (needs --allow-reset)",
        200,
    ),
    ("post", "/api/v2/tenants", "Create a tenant", 200),
    ("get", "/api/v2/tenants/{tenant}", "Get a tenant", 200),
    (
        "patch",
        "/api/v2/tenants/{tenant}",
        "Update a tenant (cloud; ignored)",
        200,
    ),
    (
        "post",
        "/api/v2/tenants/{tenant}/databases",
        "Create a database",
        200,
    ),
    (
        "get",
        "/api/v2/tenants/{tenant}/databases",
        "List databases by name",
        200,
    ),
    (
        "get",
        "/api/v2/tenants/{tenant}/databases/{database}",
        "Get a database",
        200,
    ),
    (
        "delete",
        "/api/v2/tenants/{tenant}/databases/{database}",
        "Delete a database and its collections",
        200,
    ),
    (
        "post",
        "/api/v2/tenants/{tenant}/databases/{database}/collections",
        "Create (or get) a collection",
        200,
    ),
    (
        "get",
        "/api/v2/tenants/{tenant}/databases/{database}/collections",
        "List collections by UUID",
        200,
    ),
    (
        "get",
        "/api/v2/tenants/{tenant}/databases/{database}/collections_count",
        "Count collections",
        200,
    ),
    (
        "get",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}",
        "Get a collection by NAME",
        200,
    ),
    (
        "put",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}",
        "Modify a collection (by UUID)",
        200,
    ),
    (
        "delete",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}",
        "Delete a collection by NAME",
        200,
    ),
    (
        "get",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/by-id/{collection_id}",
        "Get a collection by UUID",
        200,
    ),
    (
        "post",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/add",
        "Add records",
        201,
    ),
    (
        "post",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/upsert",
        "Upsert records",
        200,
    ),
    (
        "post",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/update",
        "Update records",
        200,
    ),
    (
        "post",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/delete",
        "Delete records",
        200,
    ),
    (
        "post",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/get",
        "Get records",
        200,
    ),
    (
        "get",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/count",
        "Count records",
        200,
    ),
    (
        "post",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/query",
        "Nearest-neighbour query",
        200,
    ),
    (
        "post",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/fork",
        "Fork (cloud only: 501)",
        501,
    ),
    (
        "get",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/fork_count",
        "Fork count (cloud only: 501)",
        501,
    ),
    (
        "post",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/search",
        "Search (cloud only: 501)",
        501,
    ),
    (
        "get",
        "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/indexing_status",
        "Indexing status (distributed only: 500)",
        500,
    ),
    (
        "get",
        "/api/v2/collections/{crn}",
        "Get a collection by tenant:database:name",
        200,
    ),
    ("get", "/metrics", "Prometheus metrics", 200),
];

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// The OpenAPI document as JSON text.
pub fn document() -> String {
    let mut paths = Map::new();
    for (method, path, summary, status) in ROUTES {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        let ok = if *status < 300 {
            json!({"description": "Success", "content": {"application/json": {"schema": {}}}})
        } else {
            json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}})
        };
        let mut op = json!({
            "summary": summary,
            "operationId": format!("{method}{}", path.replace(['/', '{', '}', '-'], "_")),
            "parameters": path_params(path),
            "responses": {
                status.to_string(): ok,
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
            }
        });
        if matches!(*method, "post" | "put" | "patch") && !path.ends_with("/reset") {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        entry[*method] = op;
    }
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Chromite (Chroma-compatible API)", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Chroma's /api/v2 HTTP API as served by chromite."},
        "paths": paths,
        "components": {
            "schemas": {"ErrorResponse": {"type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}},
            "securitySchemes": {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "x-chroma-token"}}
        }
    });
    doc.to_string()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `/docs/` page.
pub fn html() -> String {
    let mut rows = String::new();
    for (method, path, summary, status) in ROUTES {
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{status}</td></tr>\n",
            method.to_uppercase(),
            escape(path),
            escape(summary)
        ));
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Chromite API</title>\
         <style>body{{font-family:sans-serif;margin:2em}}td{{padding:2px 10px}}</style></head><body>\
         <h1>Chromite: Chroma-compatible API</h1><p>Machine-readable schema: <a href=\"/openapi.json\">/openapi.json</a>. \
         Errors are <code>{{\"error\": NAME, \"message\": TEXT}}</code>.</p>\
         <table><tr><th>Method</th><th>Path</th><th>What</th><th>Status</th></tr>\n{rows}</table></body></html>"
    )
}
