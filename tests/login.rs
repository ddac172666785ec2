//! Password sign-in over HTTP: admins set passwords, users sign in for an access token and a
//! one-time refresh token, refresh rotates them (a reused refresh token revokes the session),
//! sign-out revokes the session, repeated failures lock the account, every wrong combination
//! gets the same 401, a new password ends the user's other sessions, and only someone who holds
//! every permission of a user may reset their password or change their account.

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
        let (status, _) = server.patch(&format!("/api/v1/users/{user_id}"), &admin.token, json!({"active": true})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(server.get("/api/v1/me", &token).await.0, StatusCode::UNAUTHORIZED, "reactivation revives no session");
        assert_eq!(refresh(&server, &session["refresh_token"]).await.0, StatusCode::UNAUTHORIZED);
        let (status, _) = server.patch(&format!("/api/v1/users/{user_id}"), &admin.token, json!({"active": false})).await;
        assert_eq!(status, StatusCode::OK);

        let (status, body) = server
            .call(Method::PUT, &format!("/api/v1/users/{user_id}/password"), Some(&token), Some(json!({"new_password": PASSWORD})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    })
    .await;
}

/// A user administrator (`users:update` without the rest) must not take over an account that
/// holds more than they do: resetting the tenant admin's password would hand them the admin's
/// permissions. A reset of someone within reach ends that user's sessions, and changing one's
/// own password ends every session but the one that changed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_reaches_only_users_within_the_callers_permissions_and_ends_their_sessions() {
    on_every_backend(|server| async move {
        let admin = server.tenant("resetco").await;
        for (name, permissions) in [
            ("user-admin", json!(["users:read", "users:create", "users:update", "tokens:manage"])),
            ("directory", json!(["users:read"])),
        ] {
            let body = json!({"name": name, "permissions": permissions});
            let (status, role) = server.post("/api/v1/roles", &admin.token, body).await;
            assert_eq!(status, StatusCode::CREATED, "{role}");
        }
        assert_eq!(set_password(&server, &admin, admin.admin_id, PASSWORD).await, StatusCode::NO_CONTENT);
        let (hr_id, hr_token) = server
            .user_with(&admin, "hr@resetco.test", json!({"role": "user-admin"}))
            .await;
        let (clerk_id, _) = server
            .user_with(&admin, "clerk@resetco.test", json!({"role": "directory"}))
            .await;
        let hr = Tenant { id: admin.id, admin_id: hr_id, token: hr_token.clone() };

        // The admin holds what the user administrator does not: no reset, no deactivation.
        let path = format!("/api/v1/users/{}/password", admin.admin_id);
        let (status, body) = server
            .call(Method::PUT, &path, Some(&hr_token), Some(json!({"new_password": "taken over!!"})))
            .await;
        let error = assert_error(status, &body, StatusCode::FORBIDDEN, "user_outranks_caller");
        assert!(error["message"].as_str().unwrap().contains("roles:manage"), "{body}");
        let (status, body) = server
            .patch(&format!("/api/v1/users/{}", admin.admin_id), &hr_token, json!({"active": false}))
            .await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "user_outranks_caller");
        let (status, body) = login(&server, "resetco", "admin@resetco.test", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "the admin keeps their password and account: {body}");
        assert_eq!(login(&server, "resetco", "admin@resetco.test", "taken over!!").await.0, StatusCode::UNAUTHORIZED);
        // Nor a token in the admin's name, nor a new user with the admin's role.
        let (status, body) = server
            .post("/api/v1/tokens", &hr_token, json!({"name": "mine now", "user_id": admin.admin_id}))
            .await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "user_outranks_caller");
        let second_admin = json!({"email": "ally@resetco.test", "display_name": "Ally", "role": "tenant-admin"});
        let (status, body) = server.post("/api/v1/users", &hr_token, second_admin).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "role_outranks_caller");
        let (_, users) = server.get("/api/v1/users", &admin.token).await;
        assert_eq!(users.as_array().unwrap().len(), 3, "no user was added: {users}");
        let clerk_two = json!({"email": "clerk2@resetco.test", "display_name": "Clerk", "role": "directory"});
        assert_eq!(server.post("/api/v1/users", &hr_token, clerk_two).await.0, StatusCode::CREATED);
        let (status, body) = server
            .post("/api/v1/tokens", &hr_token, json!({"name": "clerk's", "user_id": clerk_id}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "a token for a user within reach: {body}");

        // A clerk holds less, so the user administrator may reset them; their session ends.
        assert_eq!(set_password(&server, &admin, clerk_id, PASSWORD).await, StatusCode::NO_CONTENT);
        let (status, before) = login(&server, "resetco", "clerk@resetco.test", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{before}");
        assert_eq!(me(&server, &before["access_token"]).await, StatusCode::OK);
        assert_eq!(set_password(&server, &hr, clerk_id, "a fresh clerk passphrase").await, StatusCode::NO_CONTENT);
        assert_eq!(me(&server, &before["access_token"]).await, StatusCode::UNAUTHORIZED, "a reset ends the old session");
        assert_eq!(refresh(&server, &before["refresh_token"]).await.0, StatusCode::UNAUTHORIZED);

        // Changing one's own password keeps this session and ends the others.
        let sign_in = || login(&server, "resetco", "clerk@resetco.test", "a fresh clerk passphrase");
        let (here, elsewhere) = (sign_in().await.1, sign_in().await.1);
        let change = json!({"current_password": "a fresh clerk passphrase", "new_password": "the clerk's own passphrase"});
        let (status, body) = server
            .call(Method::PUT, "/api/v1/me/password", here["access_token"].as_str(), Some(change))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(me(&server, &here["access_token"]).await, StatusCode::OK, "the changing session goes on");
        assert_eq!(me(&server, &elsewhere["access_token"]).await, StatusCode::UNAUTHORIZED, "other sessions end");
        assert_eq!(refresh(&server, &elsewhere["refresh_token"]).await.0, StatusCode::UNAUTHORIZED);
        let (status, renewed) = refresh(&server, &here["refresh_token"]).await;
        assert_eq!(status, StatusCode::OK, "{renewed}");
    })
    .await;
}
