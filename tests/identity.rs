//! Tenants, users and API tokens: who may call, on whose data. Covers the platform admin's
//! tenant management, tenant settings (custom-field schema), users, and the token lifecycle
//! (shown once, stored hashed, revocation, expiry, deactivated users).

use chrono::{Duration, Utc};
use rapport_tests::reqwest::StatusCode;
use rapport_tests::serde_json::json;
use rapport_tests::{PLATFORM_TOKEN, assert_error, on_every_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admin_creates_tenants_with_a_first_admin() {
    on_every_backend(|server| async move {
        let body = json!({"slug": "Acme", "name": "Acme Ltd", "default_region": "de", "default_currency": "eur",
            "admin": {"email": "Boss@Acme.test", "display_name": "Boss"}});
        let (status, created) = server.post("/api/v1/tenants", PLATFORM_TOKEN, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["tenant"]["slug"], "acme");
        assert_eq!(created["tenant"]["default_region"], "DE");
        assert_eq!(created["tenant"]["default_currency"], "EUR");
        assert_eq!(created["admin"]["roles"], json!(["tenant-admin"]));
        assert_eq!(created["admin"]["email"], "boss@acme.test");
        let token = created["admin_token"]["secret"].as_str().unwrap();
        assert!(token.starts_with("rpt_") && token.len() > 40);
        let (status, me) = server.get("/api/v1/me", token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["id"], created["admin"]["id"]);

        let (status, error) = server.post("/api/v1/tenants", PLATFORM_TOKEN, body).await;
        assert_error(status, &error, StatusCode::CONFLICT, "slug_taken");

        let bad = json!({"slug": "bad slug!", "name": "", "default_region": "XX1", "default_currency": "ABC",
            "admin": {"email": "nope", "display_name": "x"}});
        let (status, error) = server.post("/api/v1/tenants", PLATFORM_TOKEN, bad).await;
        let error = assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        for field in ["slug", "name", "default_region", "default_currency", "admin.email"] {
            assert!(fields.contains(&field), "{field} reported in {fields:?}");
        }

        let (status, tenants) = server.get("/api/v1/tenants", PLATFORM_TOKEN).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(tenants.as_array().unwrap().len(), 1, "the platform tenant is not listed");
        let id = created["tenant"]["id"].as_i64().unwrap();
        assert_eq!(server.get(&format!("/api/v1/tenants/{id}"), PLATFORM_TOKEN).await.1["name"], "Acme Ltd");
        let (status, error) = server.get("/api/v1/tenants/424242", PLATFORM_TOKEN).await;
        assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
        let (status, error) = server.get("/api/v1/tenants", token).await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_admins_manage_settings_and_the_custom_field_schema() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("settings").await;
        let (_, member) = server.member(&tenant, "rep@settings.test").await;
        let schema = json!({"type": "object", "properties": {"seats": {"type": "integer", "minimum": 1}},
            "additionalProperties": false});
        let (status, error) = server.patch("/api/v1/tenant", &member, json!({"name": "x"})).await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
        let (status, error) = server.patch("/api/v1/tenant", &tenant.token, json!({"custom_field_schema": {"type": 12}})).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let (status, updated) = server
            .patch("/api/v1/tenant", &tenant.token, json!({"name": "Renamed", "custom_field_schema": schema}))
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["custom_field_schema"], schema);
        assert_eq!(server.get("/api/v1/tenant", &member).await.1["name"], "Renamed");
        // A blank name and an unknown currency are refused field by field; nothing changes.
        let (status, error) = server
            .patch("/api/v1/tenant", &tenant.token, json!({"name": "  ", "default_currency": "ZZZ"}))
            .await;
        let error = assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let fields: Vec<&str> = error["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["name", "default_currency"], "{error}");
        let unchanged = server.get("/api/v1/tenant", &member).await.1;
        assert_eq!((&unchanged["name"], &unchanged["default_currency"]), (&json!("Renamed"), &json!("CNY")), "{unchanged}");

        let (status, error) = server
            .post("/api/v1/customers", &member, json!({"code": "S1", "name": "n", "kind": "company", "custom_fields": {"seats": 0, "x": 1}}))
            .await;
        let error = assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["details"].as_array().unwrap().iter().all(|d| d["code"] == "schema_violation"));
        let customer = server.customer(&member, "S1", json!({"custom_fields": {"seats": 3}})).await;
        assert_eq!(customer["custom_fields"]["seats"], 3);

        let (status, cleared) = server.patch("/api/v1/tenant", &tenant.token, json!({"custom_field_schema": null})).await;
        assert_eq!(status, StatusCode::OK);
        assert!(cleared["custom_field_schema"].is_null());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_managed_by_tenant_admins_and_deactivation_locks_out() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("people").await;
        let (member_id, member) = server.member(&tenant, "Rep@People.test").await;
        let (status, error) = server
            .post(
                "/api/v1/users",
                &member,
                json!({"email": "x@people.test", "display_name": "X"}),
            )
            .await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
        let (status, error) = server
            .post(
                "/api/v1/users",
                &tenant.token,
                json!({"email": "rep@people.test", "display_name": "Dup"}),
            )
            .await;
        assert_error(status, &error, StatusCode::CONFLICT, "email_taken");
        let (status, error) = server
            .post(
                "/api/v1/users",
                &tenant.token,
                json!({"email": "p@people.test", "display_name": "P", "role": "platform-admin"}),
            )
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        let (status, users) = server.get("/api/v1/users", &member).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(users.as_array().unwrap().len(), 2);
        let (status, error) = server
            .patch(
                &format!("/api/v1/users/{}", tenant.admin_id),
                &tenant.token,
                json!({"active": false}),
            )
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );

        let customer = server.customer(&member, "P1", json!({})).await;
        let id = customer["id"].as_i64().unwrap();
        let (_, interaction) = server
            .post(
                &format!("/api/v1/customers/{id}/interactions"),
                &member,
                json!({"channel": "phone", "summary": "call"}),
            )
            .await;
        let (status, user) = server
            .patch(
                &format!("/api/v1/users/{member_id}"),
                &tenant.token,
                json!({"active": false, "display_name": "Gone"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(user["active"], false);
        let (status, error) = server.get("/api/v1/me", &member).await;
        assert_error(status, &error, StatusCode::UNAUTHORIZED, "unauthorized");
        let interaction_id = interaction["id"].as_i64().unwrap();
        let (_, kept) = server
            .get(
                &format!("/api/v1/interactions/{interaction_id}"),
                &tenant.token,
            )
            .await;
        assert_eq!(
            kept["logged_by"], member_id,
            "authorship survives deactivation"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shown_once_stored_hashed_and_revocable() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("tokens").await;
        let (member_id, member) = server.member(&tenant, "rep@tokens.test").await;
        let (status, issued) = server
            .post(
                "/api/v1/tokens",
                &member,
                json!({"name": "laptop", "expires_in_days": 30}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let secret = issued["secret"].as_str().unwrap().to_owned();
        assert_eq!(issued["token"]["user_id"], member_id);
        assert!(issued["token"]["expires_at"].is_string());

        let (_, listed) = server.get("/api/v1/tokens", &member).await;
        let listed_text = listed.to_string();
        assert!(
            !listed_text.contains(&secret),
            "a listed token never shows its secret"
        );
        assert_eq!(
            listed.as_array().unwrap().len(),
            2,
            "a member sees only its own tokens"
        );
        assert_eq!(
            server
                .get("/api/v1/tokens", &tenant.token)
                .await
                .1
                .as_array()
                .unwrap()
                .len(),
            3
        );

        let stored: Vec<String> =
            sea_orm_strings(&server.db, "SELECT token_hash FROM api_tokens").await;
        assert!(
            stored
                .iter()
                .all(|hash| hash.len() == 64 && !hash.contains("rpt_")),
            "only hashes are stored"
        );

        let (status, error) = server
            .post(
                "/api/v1/tokens",
                &member,
                json!({"name": "for admin", "user_id": tenant.admin_id}),
            )
            .await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");

        let token_id = issued["token"]["id"].as_i64().unwrap();
        assert_eq!(server.get("/api/v1/me", &secret).await.0, StatusCode::OK);
        let (status, revoked) = server
            .delete(&format!("/api/v1/tokens/{token_id}"), &member)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(revoked["revoked_at"].is_string());
        let (status, error) = server.get("/api/v1/me", &secret).await;
        assert_error(status, &error, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(
            server.get("/api/v1/me", &member).await.0,
            StatusCode::OK,
            "other tokens still work"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_get_the_same_401_that_reveals_nothing() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("creds").await;
        let expired = rapport::store::tokens::issue(
            &server.db,
            tenant.id,
            tenant.admin_id,
            "old",
            Some(Utc::now() - Duration::minutes(1)),
            None,
        )
        .await
        .unwrap()
        .secret;
        let long = "x".repeat(5000);
        let mut bodies = Vec::new();
        for header in [
            None,
            Some("Bearer "),
            Some("Basic abc"),
            Some("Bearer rpt_forged"),
            Some(long.as_str()),
            Some(&format!("Bearer {expired}")),
        ] {
            let mut request = server.client.get(server.url("/api/v1/customers"));
            if let Some(value) = header {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
            bodies.push(response.text().await.unwrap());
        }
        assert!(
            bodies.windows(2).all(|pair| pair[0] == pair[1]),
            "every failure looks the same: {bodies:?}"
        );
        assert!(bodies[0].contains("\"code\":\"unauthorized\""));
    })
    .await;
}

async fn sea_orm_strings(db: &sea_orm::DatabaseConnection, sql: &str) -> Vec<String> {
    use sea_orm::ConnectionTrait;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect()
}
