//! The audit log: creates, updates and deletes with the changed fields (sensitive values
//! masked), sign-ins and failed sign-ins, role changes; filtered queries for tenant admins only;
//! sensitive custom fields left out for readers who may not see them.

use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::json;
use rapport_tests::{assert_error, id, on_every_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_sign_ins_and_grants_are_logged_with_sensitive_values_masked() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("audited").await;
        let (rep, rep_token) = server.member(&tenant, "rep@audited.test").await;
        let customer = id(&server.customer(&rep_token, "A1", json!({})).await);
        let (_, contact) = server
            .post(&format!("/api/v1/customers/{customer}/contacts"), &rep_token,
                json!({"name": "Wang", "phone": "13812341234"}))
            .await;
        let contact = id(&contact);
        let (status, _) = server
            .patch(&format!("/api/v1/contacts/{contact}"), &rep_token, json!({"phone": "13912345678", "title": "CFO"}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = server.delete(&format!("/api/v1/contacts/{contact}"), &rep_token).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        let (status, log) = server
            .get(&format!("/api/v1/audit?entity=contact&entity_id={contact}"), &tenant.token)
            .await;
        assert_eq!(status, StatusCode::OK, "{log}");
        let items = log["items"].as_array().unwrap();
        let actions: Vec<&str> = items.iter().map(|i| i["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["delete", "update", "create"]);
        assert!(items.iter().all(|i| i["actor_id"] == rep));
        let update = &items[1]["changes"];
        assert_eq!(update["phone"], json!({"before": "+86138****1234", "after": "+86139****5678"}));
        assert_eq!(update["title"], json!({"before": null, "after": "CFO"}));
        assert!(update.get("name").is_none(), "unchanged fields are not listed: {update}");
        assert!(!log.to_string().contains("13812341234"), "no clear phone number in the log");

        let (status, _) = server
            .call(Method::PUT, "/api/v1/roles/viewer/permissions/contact.email:read", Some(&tenant.token), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, grants) = server.get("/api/v1/audit?action=grant", &tenant.token).await;
        assert_eq!(grants["items"][0]["entity_id"], "viewer");
        assert_eq!(grants["items"][0]["changes"]["permission"], "contact.email:read");

        let (status, _) = server
            .call(Method::PUT, &format!("/api/v1/users/{rep}/password"), Some(&tenant.token),
                Some(json!({"new_password": "a long enough secret"})))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        for password in ["wrong password!", "a long enough secret"] {
            server
                .call(Method::POST, "/api/v1/auth/login", None,
                    Some(json!({"tenant": "audited", "email": "rep@audited.test", "password": password})))
                .await;
        }
        let (_, sign_ins) = server
            .get(&format!("/api/v1/audit?entity=session&actor_id={rep}"), &tenant.token)
            .await;
        let actions: Vec<&str> = sign_ins["items"].as_array().unwrap().iter().map(|i| i["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["login", "login_failed"]);

        let (status, _) = server.patch("/api/v1/tenant", &tenant.token, json!({"name": "Audited Ltd"})).await;
        assert_eq!(status, StatusCode::OK);
        let (_, settings) = server.get("/api/v1/audit?entity=tenant", &tenant.token).await;
        assert_eq!(settings["items"][0]["changes"]["name"], json!({"before": "Tenant audited", "after": "Audited Ltd"}));
        let (_, issued) = server.post("/api/v1/tokens", &rep_token, json!({"name": "integration"})).await;
        let token_id = id(&issued["token"]);
        let (status, _) = server.delete(&format!("/api/v1/tokens/{token_id}"), &rep_token).await;
        assert_eq!(status, StatusCode::OK);
        let (_, tokens) = server.get(&format!("/api/v1/audit?entity=token&entity_id={token_id}"), &tenant.token).await;
        let actions: Vec<&str> = tokens["items"].as_array().unwrap().iter().map(|i| i["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["revoke", "create"]);

        let (_, page) = server.get("/api/v1/audit?limit=2", &tenant.token).await;
        let cursor = page["next_cursor"].as_str().unwrap();
        let (_, next) = server.get(&format!("/api/v1/audit?limit=2&cursor={cursor}"), &tenant.token).await;
        assert!(next["items"][0]["id"].as_i64() < page["items"][1]["id"].as_i64());
        let (status, error) = server.get("/api/v1/audit?since=yesterday", &tenant.token).await;
        assert!(status.is_client_error(), "{error}");
        let (status, error) = server.get("/api/v1/audit", &rep_token).await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
        let other = server.tenant("unaudited").await;
        let (_, theirs) = server.get("/api/v1/audit", &other.token).await;
        assert!(theirs["items"].as_array().unwrap().iter().all(|i| i["entity"] != "contact"));
    })
    .await;
}

/// An auditor without `customer.sensitive_fields:read` reads the log without the values of the
/// custom fields the tenant marks sensitive, as the customer API leaves them out; the admin
/// still reads them, so nothing is lost from the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_custom_fields_stay_out_of_the_log_for_readers_who_may_not_see_them() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("fieldaudit").await;
        let schema = json!({"custom_field_schema": {"type": "object", "properties": {
            "credit_limit": {"type": "number", "x-sensitive": true}, "seats": {"type": "integer"}}}});
        assert_eq!(server.patch("/api/v1/tenant", &tenant.token, schema).await.0, StatusCode::OK);
        let role = json!({"name": "auditor", "permissions": ["audit:read"]});
        assert_eq!(server.post("/api/v1/roles", &tenant.token, role).await.0, StatusCode::CREATED);
        let (_, auditor) = server.user_with(&tenant, "auditor@fieldaudit.test", json!({"role": "auditor"})).await;
        let fields = json!({"custom_fields": {"credit_limit": 50000, "seats": 12}});
        let customer = id(&server.customer(&tenant.token, "S1", fields).await);
        let raised = json!({"custom_fields": {"credit_limit": 90000, "seats": 15}});
        let (status, body) = server.patch(&format!("/api/v1/customers/{customer}"), &tenant.token, raised).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let path = format!("/api/v1/audit?entity=customer&entity_id={customer}");
        let (status, hidden) = server.get(&path, &auditor).await;
        assert_eq!(status, StatusCode::OK, "{hidden}");
        let items = hidden["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{hidden}");
        let update = &items[0]["changes"]["custom_fields"];
        assert_eq!(update, &json!({"before": {"seats": 12}, "after": {"seats": 15}}), "{hidden}");
        assert_eq!(items[1]["changes"]["custom_fields"]["after"], json!({"seats": 12}), "{hidden}");
        assert!(!hidden.to_string().contains("50000"), "{hidden}");
        assert!(!hidden.to_string().contains("90000"), "{hidden}");

        // A change of the hidden field alone does not show that it changed.
        let hidden_only = json!({"custom_fields": {"credit_limit": 1000, "seats": 15}});
        let (status, body) = server.patch(&format!("/api/v1/customers/{customer}"), &tenant.token, hidden_only).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, latest) = server.get(&path, &auditor).await;
        assert_eq!(latest["items"].as_array().unwrap().len(), 3, "{latest}");
        assert!(latest["items"][0]["changes"].get("custom_fields").is_none(), "{latest}");
        let (_, whole) = server.get(&format!("{path}&limit=2"), &tenant.token).await;
        assert_eq!(whole["items"][0]["changes"]["custom_fields"]["after"]["credit_limit"], 1000, "{whole}");
        let whole = &whole["items"][1];
        let update = &whole["changes"]["custom_fields"];
        assert_eq!(update["before"]["credit_limit"], 50000, "{whole}");
        assert_eq!(update["after"]["credit_limit"], 90000, "{whole}");
    })
    .await;
}
