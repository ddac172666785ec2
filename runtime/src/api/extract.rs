//! Extractors whose rejections speak the API's error shape instead of axum's plain text.

use axum::extract::{FromRequest, FromRequestParts};

use super::error::ApiError;

/// A JSON body; unknown fields, bad types, syntax errors and oversized bodies become 4xx.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);
