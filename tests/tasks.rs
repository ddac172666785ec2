//! Follow-up tasks: creation with defaults, the "my tasks" views (overdue, today, upcoming),
//! completion and reopening, reassignment within scope, and the refusals.

use chrono::{Duration, SecondsFormat, Utc};
use rapport_tests::reqwest::StatusCode;
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{assert_error, id, on_every_backend};

fn at(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_tasks_are_split_into_overdue_today_and_upcoming() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("tasks").await;
        let (rep, rep_token) = server.member(&tenant, "rep@tasks.test").await;
        let (other, other_token) = server.member(&tenant, "other@tasks.test").await;
        let customer = id(&server.customer(&rep_token, "T1", json!({})).await);
        let minutes_left_today = {
            let now = Utc::now();
            let midnight = (now.date_naive() + Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc();
            (midnight - now).num_minutes()
        };
        let mut created = Vec::new();
        for (title, offset) in [
            ("late", Duration::hours(-3)),
            (
                "later today",
                Duration::minutes(minutes_left_today.max(2) / 2),
            ),
            ("next week", Duration::days(7)),
        ] {
            let (status, task) = server
                .post(
                    "/api/v1/tasks",
                    &rep_token,
                    json!({"title": title, "customer_id": customer, "due_at": at(offset)}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{task}");
            assert_eq!(task["assignee_id"], rep);
            assert_eq!(
                (&task["status"], &task["priority"], &task["source"]),
                (&json!("open"), &json!("normal"), &json!("manual"))
            );
            created.push(id(&task));
        }
        let view = |name: &str| format!("/api/v1/tasks?mine=true&view={name}");
        assert_eq!(
            titles(&server.get(&view("overdue"), &rep_token).await.1),
            ["late"]
        );
        if minutes_left_today >= 2 {
            assert_eq!(
                titles(&server.get(&view("today"), &rep_token).await.1),
                ["later today"]
            );
        }
        assert_eq!(
            titles(&server.get(&view("upcoming"), &rep_token).await.1),
            ["next week"]
        );

        let (status, done) = server
            .patch(
                &format!("/api/v1/tasks/{}", created[0]),
                &rep_token,
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert!(done["completed_at"].is_string());
        assert!(titles(&server.get(&view("overdue"), &rep_token).await.1).is_empty());
        let (_, reopened) = server
            .patch(
                &format!("/api/v1/tasks/{}", created[0]),
                &rep_token,
                json!({"status": "open"}),
            )
            .await;
        assert!(reopened["completed_at"].is_null());

        // An account manager's scope is their own: the colleague's tasks and customers are out
        // of reach, and so is assigning them work.
        let (status, error) = server
            .patch(
                &format!("/api/v1/tasks/{}", created[1]),
                &rep_token,
                json!({"assignee_id": other}),
            )
            .await;
        assert_error(
            status,
            &error,
            StatusCode::FORBIDDEN,
            "assignee_out_of_scope",
        );
        let (status, _) = server
            .get(&format!("/api/v1/tasks/{}", created[1]), &other_token)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server
            .post(
                "/api/v1/tasks",
                &other_token,
                json!({"title": "x", "customer_id": customer, "due_at": at(Duration::days(1))}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(titles(&server.get("/api/v1/tasks", &other_token).await.1).is_empty());

        // The admin reassigns; the task follows its assignee, the customer stays the rep's.
        let (status, moved) = server
            .patch(
                &format!("/api/v1/tasks/{}", created[2]),
                &tenant.token,
                json!({"assignee_id": other, "priority": "urgent"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(
            titles(&server.get("/api/v1/tasks?mine=true", &other_token).await.1),
            ["next week"]
        );
        assert_eq!(
            server
                .get(&format!("/api/v1/tasks/{}", created[2]), &rep_token)
                .await
                .0,
            StatusCode::OK,
            "still reachable through the rep's customer"
        );

        for (body, field) in [
            (
                json!({"title": " ", "due_at": at(Duration::days(1))}),
                "title",
            ),
            (
                json!({"title": "x", "due_at": at(Duration::days(1)), "assignee_id": 999999}),
                "assignee_id",
            ),
        ] {
            let (status, error) = server.post("/api/v1/tasks", &tenant.token, body).await;
            let error = assert_error(
                status,
                &error,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            );
            assert_eq!(error["details"][0]["field"], field);
        }
        let (status, error) = server.get("/api/v1/tasks?view=someday", &rep_token).await;
        assert!(status.is_client_error(), "{error}");
        let (status, _) = server
            .delete(&format!("/api/v1/tasks/{}", created[0]), &rep_token)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, log) = server.get("/api/v1/audit?entity=task", &tenant.token).await;
        assert_eq!(log["items"][0]["action"], "delete");
    })
    .await;
}
