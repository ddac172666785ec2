//! The one error shape of the HTTP API, `{"error":{"code","message","details"}}`, and the
//! mapping of every lower-layer error onto it. This is the only `IntoResponse` for errors.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::ValidationErrors;
use crate::registry::RegistryError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable, e.g. `validation_failed`, `not_found`.
    pub code: String,
    pub message: String,
    /// For `validation_failed`: the list of `{field, code, message}`.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing, invalid, expired or revoked credentials",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// Logs the cause and answers 500 without revealing it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it has been logged",
        )
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError {
            details: Some(serde_json::to_value(&errors).unwrap_or(Value::Null)),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                errors.to_string(),
            )
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::Conflict { code, message } => {
                Self::new(StatusCode::CONFLICT, code, message)
            }
            StoreError::Invalid(errors) => errors.into(),
            other => Self::internal(&other),
        }
    }
}

impl From<crate::domain::access::FieldForbidden> for ApiError {
    fn from(error: crate::domain::access::FieldForbidden) -> Self {
        Self::new(StatusCode::FORBIDDEN, "field_forbidden", error.to_string())
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Store(error) => error.into(),
            RegistryError::Invalid(errors) => errors.into(),
            RegistryError::Component(error) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                error.code(),
                error.to_string(),
            ),
            RegistryError::Conflict { code, message } => {
                Self::new(StatusCode::CONFLICT, code, message)
            }
            other => Self::internal(&other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let (code, message) = match &rejection {
            JsonRejection::JsonDataError(e) => ("invalid_body", e.body_text()),
            JsonRejection::JsonSyntaxError(_) => {
                ("malformed_json", "the body is not valid JSON".to_owned())
            }
            JsonRejection::MissingJsonContentType(_) => (
                "unsupported_media_type",
                "send the body as Content-Type: application/json".to_owned(),
            ),
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => (
                "payload_too_large",
                "the body exceeds the size limit".to_owned(),
            ),
            _ => ("invalid_body", "the body could not be read".to_owned()),
        };
        Self::new(rejection.status(), code, message)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            rejection.body_text(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
