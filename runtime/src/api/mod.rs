//! The HTTP API: one `router()` per resource, merged here, plus the cross-cutting layers
//! (request ids, logs, metrics, body limit, panic guard) and the OpenAPI document.

pub mod access;
pub mod audit;
pub mod automation;
pub mod children;
pub mod contacts;
pub mod customers;
pub mod departments;
pub mod error;
pub mod extract;
pub mod health;
pub mod interactions;
pub mod knowledge;
pub mod observability;
pub mod orders;
pub mod plugins;
pub mod progress;
pub mod roles;
pub mod satisfaction;
pub mod service;
pub mod sessions;
pub mod survey_dashboard;
pub mod survey_page;
pub mod surveys;
pub mod sync;
pub mod tasks;
pub mod tenants;
pub mod tickets;
pub mod tiering;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseConnection;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use self::error::ApiError;
use self::observability::Metrics;
use crate::authz::Authorizer;
use crate::registry::Registry;

/// Largest accepted request body. Bigger bodies get 413 before any parsing.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub metrics: Arc<Metrics>,
    pub registry: Arc<Registry>,
    pub authorizer: Arc<Authorizer>,
    /// How runs started through the API identify themselves and hold their connector.
    pub sync: crate::sync::SyncOptions,
}

impl AppState {
    pub fn new(db: DatabaseConnection, registry: Arc<Registry>) -> Self {
        AppState {
            authorizer: Arc::new(Authorizer::new(db.clone())),
            db,
            metrics: Metrics::new(&registry.metrics),
            registry,
            sync: crate::sync::SyncOptions::default(),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Rapport API", description = "Customer 360°, service loop and plugins of the Rapport CRM runtime."),
    modifiers(&BearerAuth),
    components(schemas(error::ErrorBody)),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every resource's routes under `/api/v1`, and the operational ones at the root.
fn routes() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(tenants::router())
        .merge(users::router())
        .merge(departments::router())
        .merge(roles::router())
        .merge(audit::router())
        .merge(sessions::router())
        .merge(tokens::router())
        .merge(customers::router())
        .merge(contacts::router())
        .merge(orders::router())
        .merge(interactions::router())
        .merge(satisfaction::router())
        .merge(plugins::router())
        .merge(tiering::router())
        .merge(tasks::router())
        .merge(automation::router())
        .merge(tickets::router())
        .merge(service::router())
        .merge(knowledge::router())
        .merge(progress::router())
        .merge(surveys::router())
        .merge(sync::router())
        .merge(survey_page::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(progress::page_router())
        .merge(survey_page::page_router())
        .merge(survey_dashboard::page_router())
        .routes(routes!(observability::metrics))
        .nest("/api/v1", v1)
}

/// The OpenAPI 3.1 document of every route; each operation names what it needs from the caller
/// in `x-permission`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut openapi = routes().split_for_parts().1;
    annotate_permissions(&mut openapi);
    openapi
}

fn annotate_permissions(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::extensions::ExtensionsBuilder;
    for (path, item) in openapi.paths.paths.iter_mut() {
        for (method, operation) in [
            (axum::http::Method::GET, &mut item.get),
            (axum::http::Method::POST, &mut item.post),
            (axum::http::Method::PUT, &mut item.put),
            (axum::http::Method::PATCH, &mut item.patch),
            (axum::http::Method::DELETE, &mut item.delete),
        ] {
            if let (Some(operation), Some(requirement)) =
                (operation.as_mut(), access::requirement(&method, path))
            {
                let extension = ExtensionsBuilder::new()
                    .add("x-permission", access::describe(requirement))
                    .build();
                operation
                    .extensions
                    .get_or_insert_with(Default::default)
                    .merge(extension);
            }
        }
    }
}

/// The complete application, ready to serve.
pub fn app(state: AppState) -> Router {
    let (router, mut openapi) = routes().split_for_parts();
    annotate_permissions(&mut openapi);
    router
        // Only the API's own routes: documentation pages and unknown paths need no credentials.
        .layer(axum::middleware::from_fn_with_state(state.clone(), access::authorize))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not accept that method")
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), observability::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| panic_response()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id)
        })
        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

fn panic_response() -> Response {
    ApiError::internal(&"a request handler panicked").into_response()
}
