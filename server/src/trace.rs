//! `chroma-trace-id`: every response carries the id of its request's trace
//! (the official clients put it in `ChromaError.trace_id`). The id comes
//! from an incoming W3C `traceparent` header (`00-<trace id>-<span>-<flags>`)
//! when it has a valid one, else it is new; the request is logged in a
//! span that carries it, so a user's report can be matched to the log.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The response header.
pub const TRACE_HEADER: &str = "chroma-trace-id";

/// The trace id of a W3C `traceparent` value: 32 lowercase hex digits,
/// not all zero; `None` for anything else.
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (version, id) = (parts.next()?, parts.next()?);
    let valid = version.len() == 2
        && version != "ff"
        && id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && id.bytes().any(|b| b != b'0');
    valid.then_some(id)
}

/// Middleware: tags the request with its trace id and the response with
/// `chroma-trace-id`.
pub async fn trace(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(trace_id_of)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!("request", trace_id = %id, method = %req.method(), path = %req.uri().path());
    let mut resp = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| tracing::debug!(status = resp.status().as_u16(), "answered"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(TRACE_HEADER, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::trace_id_of;

    #[test]
    fn reads_w3c_traceparent() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            trace_id_of(&format!("00-{id}-00f067aa0ba902b7-01")),
            Some(id)
        );
        assert_eq!(
            trace_id_of("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            trace_id_of("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            trace_id_of("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id_of("garbage"), None);
    }
}
