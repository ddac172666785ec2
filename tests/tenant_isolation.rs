//! The tenant boundary: another tenant's customers, their contacts, orders, interactions and
//! satisfaction records, its users and its tokens are invisible and untouchable. Every route on
//! them answers 404 exactly as for a row that does not exist, lists and searches never include
//! them, they cannot be referenced (owner ids), and nothing about them changes. Members cannot
//! create tenants.

use std::collections::BTreeSet;

use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{
    PLATFORM_TOKEN, TestServer, assert_error, id, invalid, not_found, on_every_backend,
};

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("{list} is not a list"))
        .iter()
        .map(id)
        .collect()
}

async fn create(server: &TestServer, token: &str, path: &str, body: Value) -> Value {
    let (status, created) = server.post(path, token, body).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {created}");
    created
}

async fn read(server: &TestServer, token: &str, path: &str) -> Value {
    let (status, body) = server.get(path, token).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// Tenant B's rows.
struct Victim {
    customer_id: i64,
    code: String,
    admin_id: i64,
    member_id: i64,
    /// `(kind, id, valid create body, valid patch body)` for each child resource.
    children: Vec<(&'static str, i64, Value, Value)>,
}

/// Everything tenant B can see about its data, to compare before and after the attempts.
async fn snapshot(server: &TestServer, token: &str, victim: &Victim) -> Value {
    let customer = format!("/api/v1/customers/{}", victim.customer_id);
    let mut state = json!({
        "customer": read(server, token, &customer).await,
        "360": read(server, token, &format!("{customer}/360")).await,
        "customers": read(server, token, "/api/v1/customers").await,
        "users": read(server, token, "/api/v1/users").await,
    });
    // Token usage times move on their own; what matters is that none was revoked.
    let tokens = read(server, token, "/api/v1/tokens").await;
    let revoked: Vec<Value> = tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|t| json!({"id": t["id"], "user_id": t["user_id"], "revoked_at": t["revoked_at"]}))
        .collect();
    state["tokens"] = json!(revoked);
    for (kind, child_id, _, _) in &victim.children {
        state[format!("{kind}_list")] = read(server, token, &format!("{customer}/{kind}")).await;
        state[kind.to_string()] = read(server, token, &format!("/api/v1/{kind}/{child_id}")).await;
    }
    state
}

async fn assert_not_found(
    server: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) {
    let (status, error) = server.call(method.clone(), path, Some(token), body).await;
    let error = not_found(status, &error);
    assert!(
        !error["message"].as_str().unwrap().contains("tenant"),
        "{method} {path}: the answer must not hint at another tenant: {error}"
    );
}

/// Tries every customer-data route on B's rows with `token`; each must answer 404.
async fn attack_customer_data(server: &TestServer, token: &str, victim: &Victim) {
    let customer = format!("/api/v1/customers/{}", victim.customer_id);
    assert_not_found(server, Method::GET, &customer, token, None).await;
    assert_not_found(
        server,
        Method::PATCH,
        &customer,
        token,
        Some(json!({"name": "Hijacked"})),
    )
    .await;
    assert_not_found(
        server,
        Method::PATCH,
        &customer,
        token,
        Some(json!({"tags": []})),
    )
    .await;
    assert_not_found(server, Method::DELETE, &customer, token, None).await;
    assert_not_found(server, Method::GET, &format!("{customer}/360"), token, None).await;
    assert_not_found(
        server,
        Method::GET,
        &format!("{customer}/360?interactions=100"),
        token,
        None,
    )
    .await;
    for (kind, child_id, create_body, patch_body) in &victim.children {
        let list = format!("{customer}/{kind}");
        assert_not_found(server, Method::GET, &list, token, None).await;
        assert_not_found(server, Method::GET, &format!("{list}?limit=1"), token, None).await;
        assert_not_found(
            server,
            Method::POST,
            &list,
            token,
            Some(create_body.clone()),
        )
        .await;
        let child = format!("/api/v1/{kind}/{child_id}");
        assert_not_found(server, Method::GET, &child, token, None).await;
        assert_not_found(
            server,
            Method::PATCH,
            &child,
            token,
            Some(patch_body.clone()),
        )
        .await;
        assert_not_found(server, Method::DELETE, &child, token, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_data_is_invisible_and_untouchable() {
    on_every_backend(|server| async move {
        let a = server.tenant("tenant-a").await;
        let b = server.tenant("tenant-b").await;
        // A manager may do everything to records in reach, so every refusal below is the
        // tenant boundary, not a missing permission.
        let (a_member_id, a_member) = server
            .user_with(&a, "rep@tenant-a.test", json!({"role": "manager"}))
            .await;
        let (b_member_id, b_member) = server.member(&b, "rep@tenant-b.test").await;

        // Tenant B's data.
        let b_customer = server
            .customer(&b.token, "B-SECRET-001", json!({"tags": ["shared", "b-only"], "owner_id": b_member_id,
                "industry": "finance", "needs": "Audit trail"}))
            .await;
        let customer_id = id(&b_customer);
        let base = format!("/api/v1/customers/{customer_id}");
        let contact = create(&server, &b.token, &format!("{base}/contacts"),
            json!({"name": "Secret Contact", "phone": "13800138000", "is_primary": true})).await;
        let order = create(&server, &b.token, &format!("{base}/orders"),
            json!({"source": "erp", "external_id": "B-ORDER-1", "amount": {"amount": "4321.1234", "currency": "CNY"},
                "ordered_at": "2025-05-01T00:00:00Z", "status": "confirmed"})).await;
        let interaction = create(&server, &b_member, &format!("{base}/interactions"),
            json!({"channel": "meeting", "summary": "Board meeting", "occurred_at": "2025-05-02T09:00:00Z"})).await;
        let record = create(&server, &b.token, &format!("{base}/satisfaction"),
            json!({"kind": "nps", "value": 10, "recorded_at": "2025-05-03T00:00:00Z"})).await;
        let victim = Victim {
            customer_id,
            code: "B-SECRET-001".to_owned(),
            admin_id: b.admin_id,
            member_id: b_member_id,
            children: vec![
                ("contacts", id(&contact), json!({"name": "Planted"}), json!({"name": "Hijacked", "is_primary": false})),
                ("orders", id(&order),
                    json!({"amount": {"amount": "1", "currency": "CNY"}, "ordered_at": "2025-05-01T00:00:00Z"}),
                    json!({"status": "cancelled", "amount": {"amount": "0", "currency": "CNY"}})),
                ("interactions", id(&interaction), json!({"channel": "other", "summary": "Planted"}),
                    json!({"summary": "Hijacked", "feedback": null})),
                ("satisfaction", id(&record), json!({"kind": "csat", "value": 1}), json!({"value": 0, "note": "Hijacked"})),
            ],
        };
        let b_tokens = read(&server, &b.token, "/api/v1/tokens").await;
        let b_token_ids = ids(&b_tokens);
        assert_eq!(b_token_ids.len(), 2, "B's admin and member tokens: {b_tokens}");
        let before = snapshot(&server, &b.token, &victim).await;

        // Tenant A's own data, sharing a tag with B's customer.
        let a_customer = server.customer(&a.token, "A-001", json!({"tags": ["shared"], "owner_id": a_member_id})).await;
        let a_customer_id = id(&a_customer);

        // Every route on B's rows answers 404 to A's admin, A's member and the platform admin.
        for token in [a.token.as_str(), a_member.as_str(), PLATFORM_TOKEN] {
            attack_customer_data(&server, token, &victim).await;
        }

        // A's lists, searches and filters never contain B's customer.
        let a_ids = BTreeSet::from([a_customer_id]);
        for query in ["", "?limit=200", "?tag=shared", "?q=A-0", "?sort=-name", "?sort=code&limit=1"] {
            let list = read(&server, &a_member, &format!("/api/v1/customers{query}")).await;
            assert_eq!(ids(&list["items"]).into_iter().collect::<BTreeSet<_>>(), a_ids, "?{query}: {list}");
        }
        for query in [
            format!("?q={}", victim.code),
            "?q=secret".to_owned(),
            "?q=B-".to_owned(),
            "?tag=b-only".to_owned(),
            "?industry=finance".to_owned(),
            format!("?owner_id={}", victim.member_id),
        ] {
            let list = read(&server, &a.token, &format!("/api/v1/customers{query}")).await;
            assert_eq!(list["items"], json!([]), "{query}: {list}");
            assert_eq!(list["next_cursor"], Value::Null);
        }

        // B's users and tokens are out of reach too.
        for user_id in [victim.admin_id, victim.member_id] {
            assert_not_found(&server, Method::GET, &format!("/api/v1/users/{user_id}"), &a.token, None).await;
            assert_not_found(&server, Method::GET, &format!("/api/v1/users/{user_id}"), &a_member, None).await;
            assert_not_found(&server, Method::PATCH, &format!("/api/v1/users/{user_id}"), &a.token,
                Some(json!({"active": false}))).await;
            assert_not_found(&server, Method::PATCH, &format!("/api/v1/users/{user_id}"), &a.token,
                Some(json!({"active": false, "display_name": "Hijacked"}))).await;
            assert_not_found(&server, Method::POST, "/api/v1/tokens", &a.token,
                Some(json!({"name": "stolen", "user_id": user_id}))).await;
        }
        for token_id in &b_token_ids {
            for token in [a.token.as_str(), a_member.as_str(), PLATFORM_TOKEN] {
                assert_not_found(&server, Method::DELETE, &format!("/api/v1/tokens/{token_id}"), token, None).await;
            }
        }
        let a_users = read(&server, &a.token, "/api/v1/users").await;
        assert_eq!(ids(&a_users).into_iter().collect::<BTreeSet<_>>(), BTreeSet::from([a.admin_id, a_member_id]));
        let a_tokens = read(&server, &a.token, "/api/v1/tokens").await;
        for token_id in &b_token_ids {
            assert!(!ids(&a_tokens).contains(token_id), "A lists B's token {token_id}: {a_tokens}");
        }
        assert!(a_tokens.as_array().unwrap().iter().all(|t| t["user_id"] == a.admin_id || t["user_id"] == a_member_id));

        // B's users cannot be made owners of A's customers.
        let (status, error) = server
            .post("/api/v1/customers", &a.token, json!({"code": "A-002", "name": "n", "kind": "person", "owner_id": victim.member_id}))
            .await;
        let error = invalid(status, &error);
        assert_eq!(error["details"], json!([{"field": "owner_id", "code": "unknown_user",
            "message": "owner_id is not a user of this tenant"}]));
        let (status, error) = server
            .patch(&format!("/api/v1/customers/{a_customer_id}"), &a.token, json!({"owner_id": victim.admin_id}))
            .await;
        let error = invalid(status, &error);
        assert_eq!(error["details"][0]["field"], "owner_id");
        let (status, owned) = server
            .patch(&format!("/api/v1/customers/{a_customer_id}"), &a.token, json!({"owner_id": a_member_id}))
            .await;
        assert_eq!(status, StatusCode::OK, "A's own member can own it: {owned}");
        assert_eq!(owned["owner_id"], a_member_id);

        // Uniqueness is per tenant: A may reuse B's customer code and order identity.
        let twin = server.customer(&a.token, &victim.code, json!({})).await;
        assert_ne!(id(&twin), victim.customer_id);
        let twin_order = create(&server, &a.token, &format!("/api/v1/customers/{}/orders", id(&twin)),
            json!({"source": "erp", "external_id": "B-ORDER-1", "amount": {"amount": "1", "currency": "CNY"},
                "ordered_at": "2025-05-01T00:00:00Z"})).await;
        assert_ne!(id(&twin_order), id(&order));
        let found = read(&server, &a.token, &format!("/api/v1/customers?q={}", victim.code)).await;
        assert_eq!(ids(&found["items"]), [id(&twin)], "A finds only its own twin");

        // B's data is exactly as it was, and B's tokens still work.
        let after = snapshot(&server, &b.token, &victim).await;
        assert_eq!(after, before, "B's data changed");
        assert_eq!(read(&server, &b_member, "/api/v1/me").await["id"], victim.member_id);
        let b_list = read(&server, &b.token, "/api/v1/customers").await;
        assert_eq!(ids(&b_list["items"]), [victim.customer_id], "B does not see A's twin");
        let b_found = read(&server, &b.token, &format!("/api/v1/customers?q={}", victim.code)).await;
        assert_eq!(ids(&b_found["items"]), [victim.customer_id]);
        let b_orders = read(&server, &b.token, &format!("{base}/orders")).await;
        assert_eq!(ids(&b_orders["items"]), [id(&order)]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_platform_admin_manages_tenants() {
    on_every_backend(|server| async move {
        let a = server.tenant("tenant-a").await;
        let b = server.tenant("tenant-b").await;
        let (_, member) = server.member(&a, "rep@tenant-a.test").await;
        let body = json!({"slug": "rogue", "name": "Rogue", "admin": {"email": "x@rogue.test", "display_name": "X"}});
        for token in [member.as_str(), a.token.as_str()] {
            let (status, error) = server.post("/api/v1/tenants", token, body.clone()).await;
            assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
            let (status, error) = server.get("/api/v1/tenants", token).await;
            assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
            let (status, error) = server.get(&format!("/api/v1/tenants/{}", b.id), token).await;
            assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
        }
        let tenants = read(&server, PLATFORM_TOKEN, "/api/v1/tenants").await;
        let slugs: Vec<&str> = tenants.as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs, ["tenant-a", "tenant-b"], "no rogue tenant was created");

        // A tenant's settings are its own: A's admin changes A, never B.
        let (status, updated) = server.patch("/api/v1/tenant", &a.token, json!({"name": "A renamed"})).await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["id"], a.id);
        assert_eq!(read(&server, &b.token, "/api/v1/tenant").await["name"], "Tenant tenant-b");
        let (status, error) = server.patch("/api/v1/tenant", &member, json!({"name": "Member rename"})).await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    })
    .await;
}
