//! `ApiJson<T>`: axum's `Json` extractor with Chroma's rejections — 422
//! `Failed to deserialize the JSON body into the target type: ...` for a
//! body of the wrong shape, 400 `Failed to parse the request body as JSON: ...`
//! for one that is not JSON, 413 over the body limit.

use axum::extract::{FromRequest, Request};
use axum::Json;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body, rejected with Chroma's error JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::from(rejection)),
        }
    }
}
