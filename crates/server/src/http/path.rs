//! A path-parameter extractor whose rejections are problem+json errors.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::ApiError;

/// Like `axum::extract::Path`, but a malformed parameter (e.g. an id that is not a UUID) comes
/// back as a 400 problem with code `path.invalid`.
#[derive(Debug, Clone, Copy)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(ApiError::bad_request(
                "path.invalid",
                format!("地址中的参数有误：{}", e.body_text()),
            )),
            Err(other) => Err(ApiError::bad_request(
                "path.invalid",
                format!("地址中的参数有误：{}", other.body_text()),
            )),
        }
    }
}
