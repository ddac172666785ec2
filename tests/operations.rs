//! Operations: health and readiness probes, request ids, Prometheus metrics, the OpenAPI
//! document (covering every route) and the Swagger UI page, JSON answers for unknown routes.

use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::{PLATFORM_TOKEN, assert_error, on_every_backend};

/// Every route the API serves, as `(method, OpenAPI path)`.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/v1/tenants"),
    ("post", "/api/v1/tenants"),
    ("get", "/api/v1/tenants/{id}"),
    ("get", "/api/v1/tenant"),
    ("patch", "/api/v1/tenant"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{id}"),
    ("patch", "/api/v1/users/{id}"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/customers"),
    ("post", "/api/v1/customers"),
    ("get", "/api/v1/customers/{id}"),
    ("patch", "/api/v1/customers/{id}"),
    ("delete", "/api/v1/customers/{id}"),
    ("get", "/api/v1/customers/{id}/360"),
    ("get", "/api/v1/customers/{customer_id}/contacts"),
    ("post", "/api/v1/customers/{customer_id}/contacts"),
    ("get", "/api/v1/contacts/{id}"),
    ("patch", "/api/v1/contacts/{id}"),
    ("delete", "/api/v1/contacts/{id}"),
    ("get", "/api/v1/customers/{customer_id}/orders"),
    ("post", "/api/v1/customers/{customer_id}/orders"),
    ("get", "/api/v1/orders/{id}"),
    ("patch", "/api/v1/orders/{id}"),
    ("delete", "/api/v1/orders/{id}"),
    ("get", "/api/v1/customers/{customer_id}/interactions"),
    ("post", "/api/v1/customers/{customer_id}/interactions"),
    ("get", "/api/v1/interactions/{id}"),
    ("patch", "/api/v1/interactions/{id}"),
    ("delete", "/api/v1/interactions/{id}"),
    ("get", "/api/v1/customers/{customer_id}/satisfaction"),
    ("post", "/api/v1/customers/{customer_id}/satisfaction"),
    ("get", "/api/v1/satisfaction/{id}"),
    ("patch", "/api/v1/satisfaction/{id}"),
    ("delete", "/api/v1/satisfaction/{id}"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("put", "/api/v1/me/password"),
    ("put", "/api/v1/users/{id}/password"),
    ("get", "/api/v1/plugins"),
    ("post", "/api/v1/plugins"),
    ("get", "/api/v1/plugins/{plugin_id}/versions/{version}"),
    ("get", "/api/v1/tenant/plugins"),
    ("get", "/api/v1/tenant/plugins/{plugin_id}"),
    ("put", "/api/v1/tenant/plugins/{plugin_id}"),
    ("post", "/api/v1/tenant/plugins/{plugin_id}/upgrade"),
    ("post", "/api/v1/tenant/plugins/{plugin_id}/rollback"),
    ("post", "/api/v1/tenant/plugins/{plugin_id}/disable"),
    ("post", "/api/v1/tenant/plugins/{plugin_id}/invoke"),
    ("get", "/api/v1/tenant/plugins/{plugin_id}/runs"),
    ("get", "/api/v1/roles"),
    ("post", "/api/v1/roles"),
    ("get", "/api/v1/roles/{name}"),
    ("delete", "/api/v1/roles/{name}"),
    ("put", "/api/v1/roles/{name}/permissions/{permission}"),
    ("delete", "/api/v1/roles/{name}/permissions/{permission}"),
    ("put", "/api/v1/users/{id}/roles/{role}"),
    ("delete", "/api/v1/users/{id}/roles/{role}"),
    ("get", "/api/v1/users/{id}/permissions"),
    ("get", "/api/v1/departments"),
    ("post", "/api/v1/departments"),
    ("delete", "/api/v1/departments/{id}"),
    ("get", "/api/v1/audit"),
    ("post", "/api/v1/handovers"),
    ("get", "/api/v1/customers/{id}/tier-history"),
    ("post", "/api/v1/tenant/tiering/runs"),
    ("get", "/api/v1/tenant/tier-policies"),
    ("put", "/api/v1/tenant/tier-policies/{tier}"),
    ("get", "/api/v1/tasks"),
    ("post", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/{id}"),
    ("patch", "/api/v1/tasks/{id}"),
    ("delete", "/api/v1/tasks/{id}"),
    ("get", "/api/v1/automation/rules"),
    ("post", "/api/v1/automation/rules"),
    ("get", "/api/v1/automation/rules/{id}"),
    ("put", "/api/v1/automation/rules/{id}"),
    ("delete", "/api/v1/automation/rules/{id}"),
    ("post", "/api/v1/automation/rules/{id}/runs"),
    ("get", "/api/v1/automation/schedules"),
    ("patch", "/api/v1/automation/schedules/{job}"),
    ("get", "/api/v1/automation/events"),
    ("get", "/progress/{token}"),
    ("get", "/api/v1/progress/{token}"),
    ("get", "/api/v1/tickets"),
    ("post", "/api/v1/tickets"),
    ("get", "/api/v1/tickets/{id}"),
    ("patch", "/api/v1/tickets/{id}"),
    ("post", "/api/v1/tickets/{id}/status"),
    ("put", "/api/v1/tickets/{id}/assignment"),
    ("get", "/api/v1/tickets/{id}/comments"),
    ("post", "/api/v1/tickets/{id}/comments"),
    ("get", "/api/v1/tickets/{id}/history"),
    ("post", "/api/v1/tickets/{id}/progress-link"),
    ("post", "/api/v1/tickets/{id}/article"),
    ("get", "/api/v1/service/calendar"),
    ("put", "/api/v1/service/calendar"),
    ("get", "/api/v1/service/sla-policies"),
    ("post", "/api/v1/service/sla-policies"),
    ("get", "/api/v1/service/sla-policies/{id}"),
    ("put", "/api/v1/service/sla-policies/{id}"),
    ("delete", "/api/v1/service/sla-policies/{id}"),
    ("get", "/api/v1/service/routing-rules"),
    ("post", "/api/v1/service/routing-rules"),
    ("get", "/api/v1/service/routing-rules/{id}"),
    ("put", "/api/v1/service/routing-rules/{id}"),
    ("delete", "/api/v1/service/routing-rules/{id}"),
    ("get", "/api/v1/service/kpis"),
    ("get", "/api/v1/knowledge/articles"),
    ("post", "/api/v1/knowledge/articles"),
    ("get", "/api/v1/knowledge/articles/{id}"),
    ("put", "/api/v1/knowledge/articles/{id}"),
    ("delete", "/api/v1/knowledge/articles/{id}"),
    ("get", "/s/{token}"),
    ("post", "/s/{token}"),
    ("post", "/s/{token}/opt-out"),
    ("get", "/surveys/dashboard"),
    ("get", "/api/v1/surveys/public/{token}"),
    ("post", "/api/v1/surveys/public/{token}"),
    ("post", "/api/v1/surveys/inbound/{tenant_id}/{channel}"),
    ("get", "/api/v1/surveys/templates"),
    ("get", "/api/v1/surveys/templates/{key}"),
    ("put", "/api/v1/surveys/templates/{key}"),
    ("get", "/api/v1/surveys/settings"),
    ("put", "/api/v1/surveys/settings"),
    ("get", "/api/v1/surveys/campaigns"),
    ("post", "/api/v1/surveys/campaigns"),
    ("get", "/api/v1/surveys/campaigns/{id}"),
    ("delete", "/api/v1/surveys/campaigns/{id}"),
    ("post", "/api/v1/surveys/campaigns/{id}/run"),
    ("post", "/api/v1/surveys/send"),
    ("get", "/api/v1/surveys/deliveries"),
    ("get", "/api/v1/surveys/responses"),
    ("put", "/api/v1/surveys/opt-outs/{contact_id}"),
    ("delete", "/api/v1/surveys/opt-outs/{contact_id}"),
    ("get", "/api/v1/surveys/kpis"),
    ("get", "/api/v1/sync/connectors"),
    ("get", "/api/v1/sync/connectors/{plugin_id}"),
    ("put", "/api/v1/sync/connectors/{plugin_id}"),
    ("post", "/api/v1/sync/connectors/{plugin_id}/runs"),
    ("post", "/api/v1/sync/connectors/{plugin_id}/check"),
    ("get", "/api/v1/sync/runs"),
    ("get", "/api/v1/sync/runs/{id}"),
    ("get", "/api/v1/sync/reviews"),
    ("get", "/api/v1/sync/reviews/{id}"),
    ("post", "/api/v1/sync/reviews/{id}/resolution"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_and_every_response_has_a_request_id() {
    on_every_backend(|server| async move {
        assert_eq!(server.get("/healthz", "").await.1["status"], "ok");
        assert_eq!(server.get("/readyz", "").await.1["status"], "ready");
        for path in ["/healthz", "/api/v1/customers", "/no/such/route"] {
            let response = server.client.get(server.url(path)).send().await.unwrap();
            let id = response
                .headers()
                .get("x-request-id")
                .expect("x-request-id header");
            assert_eq!(id.len(), 36, "a UUID request id on {path}");
        }
        let response = server
            .client
            .get(server.url("/healthz"))
            .header("x-request-id", "trace-me-123")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["x-request-id"],
            "trace-me-123",
            "a caller's request id is kept"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    on_every_backend(|server| async move {
        let (status, body) = server.get("/api/v1/nothing-here", PLATFORM_TOKEN).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = server
            .call(Method::PUT, "/api/v1/customers", Some(PLATFORM_TOKEN), None)
            .await;
        assert_error(
            status,
            &body,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_per_route_pattern() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("metrics").await;
        let customer = server
            .customer(&tenant.token, "M1", serde_json::json!({}))
            .await;
        let id = customer["id"].as_i64().unwrap();
        for _ in 0..3 {
            assert_eq!(
                server
                    .get(&format!("/api/v1/customers/{id}"), &tenant.token)
                    .await
                    .0,
                StatusCode::OK
            );
        }
        let text = server
            .client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = text
            .lines()
            .find(|line| {
                line.starts_with("rapport_http_requests_total{")
                    && line.contains("route=\"/api/v1/customers/{id}\"")
                    && line.contains("method=\"GET\"")
                    && line.contains("status=\"200\"")
            })
            .unwrap_or_else(|| panic!("no counter for the customer route in:\n{text}"));
        assert!(line.ends_with(" 3"), "three requests counted: {line}");
        assert!(
            text.contains("rapport_http_request_duration_seconds_bucket{"),
            "latency histogram exported"
        );
        assert!(
            !text.contains(&format!("/api/v1/customers/{id}\"")),
            "ids never become labels"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_covers_every_route_and_swagger_ui_is_served() {
    on_every_backend(|server| async move {
        let (status, doc) = server.get("/openapi.json", "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "OpenAPI 3.1: {}",
            doc["openapi"]
        );
        let paths = doc["paths"].as_object().unwrap();
        for (method, path) in ROUTES {
            assert!(
                paths.get(*path).and_then(|p| p.get(*method)).is_some(),
                "{method} {path} missing from OpenAPI"
            );
        }
        let documented: usize = paths
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(
            documented,
            ROUTES.len(),
            "the document lists exactly the served routes"
        );
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        for (method, path) in ROUTES {
            let concrete = path
                .replace("{id}", "999999")
                .replace("{customer_id}", "999999")
                .replace("{plugin_id}", "acme.missing")
                .replace("{version}", "1.0.0")
                .replace("{name}", "no-such-role")
                .replace("{permission}", "customers:read:all")
                .replace("{role}", "no-such-role")
                .replace("{tier}", "high-value");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) = server
                .call(method.clone(), &concrete, Some(PLATFORM_TOKEN), None)
                .await;
            assert_ne!(
                body["error"]["code"], "method_not_allowed",
                "{method} {path} is served"
            );
            assert_ne!(
                body["error"]["message"], "no such route",
                "{method} {path} is routed"
            );
            assert!(
                status.as_u16() < 500,
                "{method} {path} never answers 5xx: {status} {body}"
            );
        }
        let page = server
            .client
            .get(server.url("/docs/"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(
            page.text().await.unwrap().contains("swagger"),
            "Swagger UI page"
        );
    })
    .await;
}
