//! Password sign-in over HTTP: admins set passwords, users sign in for an access token and a
//! one-time refresh token, refresh rotates them (a reused refresh token revokes the session),
//! sign-out revokes the session, repeated failures lock the account, and every wrong
//! combination gets the same 401.

use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{Tenant, TestServer, assert_error, on_every_backend};

const PASSWORD: &str = "correct horse battery staple";

async fn login(
    server: &TestServer,
    tenant: &str,
    email: &str,
    password: &str,
) -> (StatusCode, Value) {
    let body = json!({"tenant": tenant, "email": email, "password": password});
    server
        .call(Method::POST, "/api/v1/auth/login", None, Some(body))
        .await
}

async fn refresh(server: &TestServer, token: &Value) -> (StatusCode, Value) {
    let body = json!({"refresh_token": token});
    server
        .call(Method::POST, "/api/v1/auth/refresh", None, Some(body))
        .await
}

async fn set_password(
    server: &TestServer,
    admin: &Tenant,
    user_id: i64,
    password: &str,
) -> StatusCode {
    let body = json!({"new_password": password});
    server
        .call(
            Method::PUT,
            &format!("/api/v1/users/{user_id}/password"),
            Some(&admin.token),
            Some(body),
        )
        .await
        .0
}

async fn me(server: &TestServer, token: &Value) -> StatusCode {
    server.get("/api/v1/me", token.as_str().unwrap()).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refresh_and_sign_out() {
    on_every_backend(|server| async move {
        let admin = server.tenant("acme").await;
        let (status, body) = login(&server, "acme", "admin@acme.test", PASSWORD).await;
        assert_error(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
        let unknown = body.clone();

        assert_eq!(
            set_password(&server, &admin, admin.admin_id, "short").await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            set_password(&server, &admin, 999_999, PASSWORD).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            set_password(&server, &admin, admin.admin_id, PASSWORD).await,
            StatusCode::NO_CONTENT
        );

        for (tenant, email, password) in [
            ("acme", "admin@acme.test", "wrong password here"),
            ("acme", "nobody@acme.test", PASSWORD),
            ("globex", "admin@acme.test", PASSWORD),
        ] {
            let (status, body) = login(&server, tenant, email, password).await;
            assert_eq!(
                (status, &body),
                (StatusCode::UNAUTHORIZED, &unknown),
                "{tenant} {email}: the same answer"
            );
        }

        let (status, session) = login(&server, "ACME", " Admin@Acme.test ", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        assert_eq!(session["user"]["email"], "admin@acme.test");
        let access = session["access_token"].clone();
        assert_eq!(me(&server, &access).await, StatusCode::OK);
        assert_eq!(
            me(&server, &session["refresh_token"]).await,
            StatusCode::UNAUTHORIZED,
            "a refresh token is no bearer token"
        );
        let (_, tokens) = server.get("/api/v1/tokens", &admin.token).await;
        assert_eq!(
            tokens.as_array().unwrap().len(),
            1,
            "session tokens are not API tokens: {tokens}"
        );

        let (status, renewed) = refresh(&server, &session["refresh_token"]).await;
        assert_eq!(status, StatusCode::OK, "{renewed}");
        assert_ne!(renewed["access_token"], access);
        assert_eq!(me(&server, &renewed["access_token"]).await, StatusCode::OK);
        let (status, body) = refresh(&server, &session["refresh_token"]).await;
        assert_error(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
        assert_eq!(
            me(&server, &renewed["access_token"]).await,
            StatusCode::UNAUTHORIZED,
            "reuse revoked the session"
        );
        let (status, _) = refresh(&server, &renewed["refresh_token"]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let (_, session) = login(&server, "acme", "admin@acme.test", PASSWORD).await;
        let access = session["access_token"].as_str().unwrap().to_owned();
        let (status, _) = server
            .call(Method::POST, "/api/v1/auth/logout", Some(&access), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            me(&server, &session["access_token"]).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            refresh(&server, &session["refresh_token"]).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (status, body) = server
            .call(
                Method::POST,
                "/api/v1/auth/logout",
                Some(&admin.token),
                None,
            )
            .await;
        assert_error(status, &body, StatusCode::CONFLICT, "not_a_session");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_and_an_admin_reset_unlocks() {
    on_every_backend(|server| async move {
        let admin = server.tenant("lockco").await;
        let (status, user) = server
            .post("/api/v1/users", &admin.token, json!({"email": "rep@lockco.test", "display_name": "Rep"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let user_id = user["id"].as_i64().unwrap();
        assert_eq!(set_password(&server, &admin, user_id, PASSWORD).await, StatusCode::NO_CONTENT);

        for _ in 0..5 {
            let (status, _) = login(&server, "lockco", "rep@lockco.test", "not the password").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body) = login(&server, "lockco", "rep@lockco.test", PASSWORD).await;
        assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "login_locked");

        assert_eq!(set_password(&server, &admin, user_id, "a brand new passphrase").await, StatusCode::NO_CONTENT);
        let (status, session) = login(&server, "lockco", "rep@lockco.test", "a brand new passphrase").await;
        assert_eq!(status, StatusCode::OK, "{session}");
        let token = session["access_token"].as_str().unwrap().to_owned();

        let change = |current: &str| json!({"current_password": current, "new_password": "my own passphrase!"});
        let (status, body) = server.call(Method::PUT, "/api/v1/me/password", Some(&token), Some(change("wrong"))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let (status, _) = server
            .call(Method::PUT, "/api/v1/me/password", Some(&token), Some(change("a brand new passphrase")))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(login(&server, "lockco", "rep@lockco.test", "my own passphrase!").await.0, StatusCode::OK);

        let (status, _) = server.patch(&format!("/api/v1/users/{user_id}"), &admin.token, json!({"active": false})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = login(&server, "lockco", "rep@lockco.test", "my own passphrase!").await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(server.get("/api/v1/me", &token).await.0, StatusCode::UNAUTHORIZED, "a deactivated user's session dies");

        let (status, body) = server
            .call(Method::PUT, &format!("/api/v1/users/{user_id}/password"), Some(&token), Some(json!({"new_password": PASSWORD})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    })
    .await;
}
