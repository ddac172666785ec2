//! Bad input: every malformed request gets a 4xx in the one error shape, never a 5xx, and
//! nothing already stored changes.

use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{TestServer, assert_error, on_every_backend};

async fn raw(
    server: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    // A rejected oversized body makes the server close that connection; a pooled client would
    // race that close on its next request, so every raw request gets a fresh connection.
    let client = rapport_tests::reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut request = client
        .request(method, server.url(path))
        .bearer_auth(token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// `(method, path, content type, body, expected status, expected error code)`.
type Case = (
    Method,
    String,
    Option<&'static str>,
    Vec<u8>,
    StatusCode,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_rejected_and_stored_data_is_untouched() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("bad").await;
        let token = tenant.token.as_str();
        let customer = server
            .customer(token, "KEEP1", json!({"tags": ["a"], "needs": "n"}))
            .await;
        let id = customer["id"].as_i64().unwrap();
        let path = format!("/api/v1/customers/{id}");
        let json_type = Some("application/json");

        let cases: Vec<Case> = vec![
            (
                Method::PATCH,
                path.clone(),
                json_type,
                b"{\"name\": ".to_vec(),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                Method::PATCH,
                path.clone(),
                json_type,
                b"[1,2]".to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                Method::PATCH,
                path.clone(),
                json_type,
                br#"{"tenant_id": 99}"#.to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                Method::PATCH,
                path.clone(),
                json_type,
                br#"{"name": 42}"#.to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                Method::PATCH,
                path.clone(),
                json_type,
                br#"{"kind": "robot"}"#.to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                Method::PATCH,
                path.clone(),
                json_type,
                br#"{"name": "   "}"#.to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
            (
                Method::PATCH,
                path.clone(),
                json_type,
                br#"{"code": "has space"}"#.to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
            (
                Method::PATCH,
                path.clone(),
                json_type,
                br#"{"custom_fields": [1]}"#.to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
            (
                Method::PATCH,
                path.clone(),
                Some("text/plain"),
                br#"{"name": "x"}"#.to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                Method::PATCH,
                path.clone(),
                None,
                br#"{"name": "x"}"#.to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                Method::PATCH,
                path.clone(),
                json_type,
                vec![b' '; 2 * 1024 * 1024],
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                Method::PATCH,
                "/api/v1/customers/abc".into(),
                json_type,
                b"{}".to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_path",
            ),
            (
                Method::GET,
                "/api/v1/customers/99999999999999999999".into(),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "invalid_path",
            ),
            (
                Method::GET,
                "/api/v1/customers?limit=0".into(),
                None,
                vec![],
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
            (
                Method::GET,
                "/api/v1/customers?limit=201".into(),
                None,
                vec![],
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
            (
                Method::GET,
                "/api/v1/customers?limit=ten".into(),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
            (
                Method::GET,
                "/api/v1/customers?tenant_id=2".into(),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
            (
                Method::GET,
                "/api/v1/customers?stage=alive".into(),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
            (
                Method::GET,
                "/api/v1/customers?sort=salary".into(),
                None,
                vec![],
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
            (
                Method::GET,
                "/api/v1/customers?cursor=not-a-cursor".into(),
                None,
                vec![],
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
            (
                Method::GET,
                format!("{path}/360?interactions=-1"),
                None,
                vec![],
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
        ];
        for (method, path, content_type, body, status, code) in cases {
            let (actual, error) =
                raw(&server, method.clone(), &path, token, content_type, body).await;
            assert_eq!(actual, status, "{method} {path}: {error}");
            assert_error(actual, &error, status, code);
        }

        let (status, after) = server.get(&path, token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(after, customer, "no rejected request changed the customer");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_list_every_bad_field() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("fields").await;
        let body = json!({"code": "", "name": "x".repeat(201), "kind": "company", "tags": ["", "ok"], "industry": "i".repeat(101)});
        let (status, error) = server.post("/api/v1/customers", &tenant.token, body).await;
        let error = assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["code", "name", "industry", "tags"]);
        let (_, page) = server.get("/api/v1/customers", &tenant.token).await;
        assert_eq!(page["items"], json!([]), "nothing was stored");
    })
    .await;
}
