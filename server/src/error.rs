//! `ApiError`: every failure a handler can answer with, and the ONE place
//! HTTP statuses and Chroma's `error` names are chosen (see
//! `chroma-api.md` §2). The body is always `{"error": NAME, "message": TEXT}`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chromite_engine::ErrorKind;
use serde::Serialize;

/// Chroma's error codes (its internal gRPC-like codes, plus the transport
/// rejections the real server also produces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 400 `InvalidArgumentError`.
    InvalidArgument,
    /// 401 `AuthError` (missing or wrong token).
    Unauthenticated,
    /// 403 `ChromaError` (e.g. reset disabled).
    PermissionDenied,
    /// 404 `NotFoundError`.
    NotFound,
    /// 409 `ChromaError` ("... already exists").
    AlreadyExists,
    /// 410 `Unimplemented` (the deprecated `/api/v1`).
    Gone,
    /// 413 `ChromaError` (body over the configured limit).
    PayloadTooLarge,
    /// 415 `ChromaError` (a Content-Type that is not JSON).
    UnsupportedMediaType,
    /// 422 `ChromaError` (JSON of the wrong shape).
    UnprocessableEntity,
    /// 500 `InternalError`.
    Internal,
    /// 501 `ChromaError` (cloud-only features).
    Unimplemented,
}

impl Code {
    /// The HTTP status of this code.
    pub fn status(self) -> StatusCode {
        match self {
            Code::InvalidArgument => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists => StatusCode::CONFLICT,
            Code::Gone => StatusCode::GONE,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::UnprocessableEntity => StatusCode::UNPROCESSABLE_ENTITY,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// The `error` string Chroma sends for this code (the Python client maps
    /// it onto an exception class).
    pub fn name(self) -> &'static str {
        match self {
            Code::InvalidArgument => "InvalidArgumentError",
            Code::Unauthenticated => "AuthError",
            Code::NotFound => "NotFoundError",
            Code::Gone => "Unimplemented",
            Code::Internal => "InternalError",
            Code::PermissionDenied
            | Code::AlreadyExists
            | Code::PayloadTooLarge
            | Code::UnsupportedMediaType
            | Code::UnprocessableEntity
            | Code::Unimplemented => "ChromaError",
        }
    }
}

/// A failed request: a code and Chroma's message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}: {message}", code.status().as_u16(), code.name())]
pub struct ApiError {
    /// What kind of failure.
    pub code: Code,
    /// The message sent to the client.
    pub message: String,
}

/// The error body: `{"error": ..., "message": ...}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// Chroma's error name.
    pub error: &'a str,
    /// Human-readable text.
    pub message: &'a str,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// 400 `InvalidArgumentError`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }

    /// 404 `NotFoundError`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    /// 422 for a body of the wrong shape, with axum's (and Chroma's) prefix.
    pub fn unprocessable(detail: impl std::fmt::Display) -> Self {
        Self::new(
            Code::UnprocessableEntity,
            format!("Failed to deserialize the JSON body into the target type: {detail}"),
        )
    }

    /// 500 `InternalError`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, message)
    }

    /// 501 for cloud-only features.
    pub fn unimplemented(message: impl Into<String>) -> Self {
        Self::new(Code::Unimplemented, message)
    }

    /// The HTTP status this error is sent with.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

impl From<chromite_engine::Error> for ApiError {
    fn from(e: chromite_engine::Error) -> Self {
        let code = match e.kind() {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::Internal => Code::Internal,
            #[allow(unreachable_patterns)]
            _ => Code::Internal,
        };
        if code == Code::Internal {
            tracing::error!(error = %e, "engine error");
        }
        ApiError::new(code, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            // Same text as axum's rejection, which is what Chroma sends.
            JsonRejection::JsonDataError(e) => {
                ApiError::new(Code::UnprocessableEntity, e.body_text())
            }
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::new(Code::InvalidArgument, e.body_text())
            }
            JsonRejection::MissingJsonContentType(e) => {
                ApiError::new(Code::UnsupportedMediaType, e.body_text())
            }
            JsonRejection::BytesRejection(e) => {
                let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Code::PayloadTooLarge
                } else {
                    Code::InvalidArgument
                };
                ApiError::new(code, e.body_text())
            }
            other => ApiError::new(Code::InvalidArgument, other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::invalid(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::invalid(r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.name(),
            message: &self.message,
        };
        (self.code.status(), Json(body)).into_response()
    }
}

/// Handler result type.
pub type ApiResult<T> = Result<T, ApiError>;
