//! Handover: a leaving account manager's customers move to a colleague in one step, with a
//! checklist and an audit entry; the leaver keeps authorship but loses access.

use rapport_tests::reqwest::StatusCode;
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{assert_error, id, on_every_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_moves_customers_lists_them_and_locks_the_leaver_out() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("handover").await;
        let (leaver, leaver_token) = server.member(&tenant, "leaver@handover.test").await;
        let (heir, heir_token) = server.member(&tenant, "heir@handover.test").await;
        let first = id(&server.customer(&leaver_token, "H1", json!({})).await);
        let second = id(&server.customer(&leaver_token, "H2", json!({})).await);
        let kept = id(&server.customer(&leaver_token, "H3", json!({})).await);
        let (status, logged) = server
            .post(&format!("/api/v1/customers/{first}/interactions"), &leaver_token,
                json!({"channel": "visit", "summary": "Renewal discussed", "occurred_at": "2026-11-01T09:00:00Z"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let interaction = id(&logged);
        let task = |title: &str, customer: Option<i64>| {
            json!({"title": title, "customer_id": customer, "due_at": "2026-12-15T09:00:00Z"})
        };
        let on_first = id(&server.post("/api/v1/tasks", &leaver_token, task("Renewal call", Some(first))).await.1);
        let on_kept = id(&server.post("/api/v1/tasks", &leaver_token, task("Visit", Some(kept))).await.1);
        let unlinked = id(&server.post("/api/v1/tasks", &leaver_token, task("Expenses", None)).await.1);

        let (status, error) = server
            .post("/api/v1/handovers", &heir_token, json!({"from_user_id": leaver, "to_user_id": heir}))
            .await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
        let (status, error) = server
            .post("/api/v1/handovers", &tenant.token,
                json!({"from_user_id": leaver, "to_user_id": heir, "customer_ids": [first, 999999]}))
            .await;
        assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(server.get(&format!("/api/v1/customers/{first}"), &heir_token).await.0, StatusCode::NOT_FOUND,
            "a refused handover moves nothing");

        let (status, checklist) = server
            .post("/api/v1/handovers", &tenant.token,
                json!({"from_user_id": leaver, "to_user_id": heir, "customer_ids": [first, second]}))
            .await;
        assert_eq!(status, StatusCode::OK, "{checklist}");
        assert_eq!(checklist["customers"].as_array().unwrap().len(), 2);
        assert_eq!(checklist["customers"][0]["code"], "H1");
        assert_eq!(checklist["customers"][0]["last_interaction_summary"], "Renewal discussed");
        assert!(checklist["customers"][1]["last_interaction_at"].is_null());
        assert_eq!(checklist["open_tasks"].as_array().unwrap().len(), 1, "{checklist}");
        assert_eq!(checklist["open_tasks"][0]["task_id"], on_first);
        let (_, moved_task) = server.get(&format!("/api/v1/tasks/{on_first}"), &heir_token).await;
        assert_eq!(moved_task["assignee_id"], heir);
        for customer in [first, second] {
            let (status, moved) = server.get(&format!("/api/v1/customers/{customer}"), &heir_token).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(moved["owner_id"], heir);
        }
        assert_eq!(server.get(&format!("/api/v1/customers/{kept}"), &heir_token).await.0, StatusCode::NOT_FOUND);

        let (status, checklist) = server
            .post("/api/v1/handovers", &tenant.token,
                json!({"from_user_id": leaver, "to_user_id": heir, "deactivate_from_user": true}))
            .await;
        assert_eq!(status, StatusCode::OK, "{checklist}");
        assert_eq!(checklist["customers"][0]["customer_id"], kept);
        assert_eq!(checklist["from_user_deactivated"], true);
        let moved: Vec<&Value> = checklist["open_tasks"].as_array().unwrap().iter().map(|t| &t["task_id"]).collect();
        assert_eq!(moved, [&json!(on_kept), &json!(unlinked)], "a leaver's remaining open tasks all move");
        let (status, error) = server.get("/api/v1/me", &leaver_token).await;
        assert_error(status, &error, StatusCode::UNAUTHORIZED, "unauthorized");
        let (_, interaction) = server.get(&format!("/api/v1/interactions/{interaction}"), &heir_token).await;
        assert_eq!(interaction["logged_by"], leaver, "authorship stays with the leaver");

        let (status, log) = server
            .get(&format!("/api/v1/audit?action=handover&entity_id={leaver}"), &tenant.token)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(log["items"].as_array().unwrap().len(), 2);
        assert_eq!(log["items"][1]["changes"]["customer_ids"], json!([first, second]));

        let (status, error) = server
            .post("/api/v1/handovers", &tenant.token, json!({"from_user_id": heir, "to_user_id": heir}))
            .await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let (status, error) = server
            .post("/api/v1/handovers", &tenant.token, json!({"from_user_id": heir, "to_user_id": leaver}))
            .await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    })
    .await;
}

/// A team manager hands over only within the team, and cannot lock a user out: the former
/// owner's account and open tasks go with a deactivating handover, so that needs `users:update`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_manager_hands_over_within_reach_and_locks_nobody_out() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("teamhand").await;
        let sales = server.department(&tenant, "SALES").await;
        let (manager, manager_token) = server
            .user_with(
                &tenant,
                "mgr@teamhand.test",
                json!({"role": "manager", "department_id": sales}),
            )
            .await;
        let (rep, rep_token) = server
            .user_with(
                &tenant,
                "rep@teamhand.test",
                json!({"department_id": sales}),
            )
            .await;
        let (outsider, outsider_token) = server
            .user_with(&tenant, "far@teamhand.test", json!({}))
            .await;
        let customer = id(&server.customer(&rep_token, "T1", json!({})).await);
        server.customer(&outsider_token, "T2", json!({})).await;
        let hand_over =
            async |body: Value| server.post("/api/v1/handovers", &manager_token, body).await;

        for (from, to) in [
            (outsider, manager),
            (tenant.admin_id, manager),
            (rep, outsider),
        ] {
            let (status, error) = hand_over(json!({"from_user_id": from, "to_user_id": to})).await;
            assert_error(status, &error, StatusCode::FORBIDDEN, "owner_out_of_scope");
        }
        let (status, error) = hand_over(
            json!({"from_user_id": rep, "to_user_id": manager, "deactivate_from_user": true}),
        )
        .await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
        for token in [&rep_token, &outsider_token, &tenant.token] {
            assert_eq!(
                server.get("/api/v1/me", token).await.0,
                StatusCode::OK,
                "nobody was locked out"
            );
        }
        assert_eq!(
            server
                .get(&format!("/api/v1/customers/{customer}"), &rep_token)
                .await
                .0,
            StatusCode::OK,
            "a refused handover moves nothing"
        );

        let (status, checklist) =
            hand_over(json!({"from_user_id": rep, "to_user_id": manager})).await;
        assert_eq!(status, StatusCode::OK, "{checklist}");
        assert_eq!(checklist["customers"][0]["customer_id"], customer);
        assert_eq!(checklist["from_user_deactivated"], false);
        assert_eq!(server.get("/api/v1/me", &rep_token).await.0, StatusCode::OK);

        // Nobody hands themselves over into a locked account, not even an admin.
        let body = json!({"from_user_id": tenant.admin_id, "to_user_id": manager, "deactivate_from_user": true});
        let (status, error) = server.post("/api/v1/handovers", &tenant.token, body).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(error["error"]["details"][0]["code"], "self_lockout", "{error}");
        assert_eq!(server.get("/api/v1/me", &tenant.token).await.0, StatusCode::OK);
    })
    .await;
}
