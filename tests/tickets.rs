//! The service loop through the HTTP API: the ticket workflow with its history and comments,
//! routing to departments (round-robin, least-loaded, manual reassignment), SLA policies on the
//! business calendar with at-risk warnings and escalation by the background worker, the revisit
//! and follow-up tasks that close the loop, and the monthly service KPIs within record scope.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rapport::jobs::JobOptions;
use rapport_tests::reqwest::StatusCode;
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{
    TestServer, assert_error, backends, eventually, id, invalid, not_found, on_every_backend,
};

fn fast_jobs() -> JobOptions {
    JobOptions {
        tick: StdDuration::from_millis(100),
        ..JobOptions::default()
    }
}

async fn open_ticket(server: &TestServer, token: &str, body: Value) -> Value {
    let (status, ticket) = server.post("/api/v1/tickets", token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    ticket
}

async fn move_to(server: &TestServer, token: &str, ticket: i64, change: Value) -> Value {
    let path = format!("/api/v1/tickets/{ticket}/status");
    let (status, answer) = server.post(&path, token, change).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn history(server: &TestServer, token: &str, ticket: i64) -> Vec<Value> {
    let (status, changes) = server
        .get(&format!("/api/v1/tickets/{ticket}/history"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{changes}");
    changes.as_array().unwrap().clone()
}

async fn tasks_of_ticket(server: &TestServer, token: &str, ticket: i64) -> Vec<Value> {
    let (status, page) = server.get("/api/v1/tasks?limit=200", token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|task| task["ticket_id"] == ticket)
        .cloned()
        .collect()
}

fn at(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_moves_through_its_workflow_with_history_and_comments() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("desk").await;
        let token = tenant.token.as_str();
        let customer = id(&server.customer(token, "C1", json!({})).await);
        let other = id(&server.customer(token, "C2", json!({})).await);
        let (status, contact) = server
            .post(
                &format!("/api/v1/customers/{other}/contacts"),
                token,
                json!({"name": "Wang"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{contact}");

        // Bad input is refused with stable codes, and nothing is stored.
        let (status, error) = server
            .post(
                "/api/v1/tickets",
                token,
                json!({"customer_id": customer, "type": "inquiry", "subject": " "}),
            )
            .await;
        assert_eq!(invalid(status, &error)["details"][0]["code"], "required");
        let (status, error) = server
            .post(
                "/api/v1/tickets",
                token,
                json!({"customer_id": customer, "type": "rant", "subject": "x"}),
            )
            .await;
        assert!(
            status.is_client_error() && error["error"]["code"].is_string(),
            "{error}"
        );
        let (status, error) = server
            .post(
                "/api/v1/tickets",
                token,
                json!({"customer_id": 999_999, "type": "inquiry", "subject": "x"}),
            )
            .await;
        not_found(status, &error);
        let wrong_contact = json!({"customer_id": customer, "contact_id": id(&contact),
            "type": "inquiry", "subject": "x"});
        let (status, error) = server.post("/api/v1/tickets", token, wrong_contact).await;
        assert_eq!(
            invalid(status, &error)["details"][0]["code"],
            "unknown_contact"
        );
        let (_, listed) = server.get("/api/v1/tickets", token).await;
        assert_eq!(
            listed["items"],
            json!([]),
            "refused tickets left nothing behind"
        );

        // An inquiry matches no SLA policy: it works, without an SLA.
        let ticket = open_ticket(
            &server,
            token,
            json!({"customer_id": customer, "type": "inquiry",
            "priority": "high", "category": "Billing", "subject": "Invoice missing",
            "description": "We did not receive the October invoice."}),
        )
        .await;
        let ticket_id = id(&ticket);
        assert_eq!(ticket["status"], "new");
        assert_eq!(ticket["category"], "billing");
        assert_eq!(ticket["sla"]["state"], "no_sla");
        assert_eq!(ticket["sla"]["policy_id"], Value::Null);
        let progress_url = ticket["progress_url"].as_str().unwrap();
        assert!(
            progress_url.starts_with("/progress/") && progress_url.len() > 40,
            "{progress_url}"
        );

        let path = format!("/api/v1/tickets/{ticket_id}/status");
        let (status, error) = server.post(&path, token, json!({"status": "closed"})).await;
        assert_eq!(
            invalid(status, &error)["details"][0]["code"],
            "invalid_transition"
        );
        let (status, error) = server
            .post(&path, token, json!({"status": "assigned"}))
            .await;
        assert_error(status, &error, StatusCode::CONFLICT, "no_assignee");

        let working = move_to(&server, token, ticket_id, json!({"status": "in_progress"})).await;
        assert_eq!(
            working["assignee_id"], tenant.admin_id,
            "starting work takes the ticket"
        );
        move_to(
            &server,
            token,
            ticket_id,
            json!({"status": "waiting_on_customer", "note": "asked for the PO number"}),
        )
        .await;

        let comments = format!("/api/v1/tickets/{ticket_id}/comments");
        let (status, internal) = server
            .post(
                &comments,
                token,
                json!({"body": "Finance says the ERP export failed"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{internal}");
        assert_eq!(
            internal["public"], false,
            "comments are internal unless said otherwise"
        );
        let (status, public) = server
            .post(
                &comments,
                token,
                json!({"body": "We are re-sending it today.", "public": true}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{public}");
        let (status, error) = server.post(&comments, token, json!({"body": ""})).await;
        invalid(status, &error);
        let (_, all) = server.get(&comments, token).await;
        assert_eq!(all.as_array().unwrap().len(), 2);
        let (_, answered) = server
            .get(&format!("/api/v1/tickets/{ticket_id}"), token)
            .await;
        assert_eq!(
            answered["first_responded_at"], public["created_at"],
            "the first public comment is the first response"
        );

        let (status, error) = server
            .post(&path, token, json!({"status": "resolved"}))
            .await;
        assert_eq!(
            invalid(status, &error)["details"][0]["code"],
            "resolution_required"
        );
        let resolved = move_to(
            &server,
            token,
            ticket_id,
            json!({"status": "resolved",
            "resolution": {"result": "customer_satisfied", "note": "Invoice re-sent"}}),
        )
        .await;
        assert_eq!(resolved["resolution"]["result"], "customer_satisfied");
        assert!(resolved["resolved_at"].is_string());
        move_to(&server, token, ticket_id, json!({"status": "closed"})).await;
        let reopened = move_to(
            &server,
            token,
            ticket_id,
            json!({"status": "in_progress", "note": "invoice still missing"}),
        )
        .await;
        assert_eq!(reopened["resolution"], Value::Null);
        assert_eq!(reopened["resolved_at"], Value::Null);

        let changes = history(&server, token, ticket_id).await;
        let steps: Vec<(String, String)> = changes
            .iter()
            .map(|c| {
                (
                    c["field"].as_str().unwrap().to_owned(),
                    c["to"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let expected = [
            ("status", "new"),
            ("assignee", &tenant.admin_id.to_string()[..]),
            ("status", "in_progress"),
            ("status", "waiting_on_customer"),
            ("status", "resolved"),
            ("status", "closed"),
            ("reopened", "in_progress"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect();
        assert_eq!(steps, expected);
        let waiting = &changes[3];
        assert_eq!(
            (waiting["from"].as_str(), waiting["actor_id"].as_i64()),
            (Some("in_progress"), Some(tenant.admin_id))
        );
        assert_eq!(waiting["note"], "asked for the PO number");

        // Edits keep the workflow apart; another tenant sees nothing.
        let (status, edited) = server
            .patch(
                &format!("/api/v1/tickets/{ticket_id}"),
                token,
                json!({"priority": "urgent", "category": null}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        assert_eq!(
            (edited["priority"].as_str(), &edited["category"]),
            (Some("urgent"), &Value::Null)
        );
        let stranger = server.tenant("elsewhere").await;
        let (status, error) = server
            .get(&format!("/api/v1/tickets/{ticket_id}"), &stranger.token)
            .await;
        not_found(status, &error);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_sends_tickets_to_departments_and_spreads_them_with_the_scheduler_running() {
    for backend in backends() {
        let server = TestServer::start_with_jobs(backend, fast_jobs()).await;
        let tenant = server.tenant("routing").await;
        let token = tenant.token.as_str();
        let quality = server.department(&tenant, "quality").await;
        let service = server.department(&tenant, "service").await;
        let mut agents = Vec::new();
        for name in ["q1", "q2", "q3"] {
            let extra = json!({"role": "service-agent", "department_id": quality});
            agents.push(
                server
                    .user_with(&tenant, &format!("{name}@routing.test"), extra)
                    .await
                    .0,
            );
        }
        let (s1, _) = server
            .user_with(
                &tenant,
                "s1@routing.test",
                json!({"role": "service-agent", "department_id": service}),
            )
            .await;
        let (s2, _) = server
            .user_with(
                &tenant,
                "s2@routing.test",
                json!({"role": "service-agent", "department_id": service}),
            )
            .await;

        let rules = "/api/v1/service/routing-rules";
        let (status, error) = server
            .post(rules, token, json!({"department_id": 999_999}))
            .await;
        assert_eq!(
            invalid(status, &error)["details"][0]["code"],
            "unknown_department"
        );
        for body in [
            json!({"position": 10, "type": "complaint", "department_id": quality, "strategy": "round_robin"}),
            json!({"position": 20, "category": "billing", "department_id": service, "strategy": "least_loaded"}),
        ] {
            let (status, rule) = server.post(rules, token, body).await;
            assert_eq!(status, StatusCode::CREATED, "{rule}");
        }
        let customer = id(&server.customer(token, "R1", json!({})).await);

        let mut assigned = Vec::new();
        for n in 0..4 {
            let ticket = open_ticket(
                &server,
                token,
                json!({"customer_id": customer, "type": "complaint",
                "subject": format!("Broken part {n}")}),
            )
            .await;
            assert_eq!(ticket["department_id"], quality);
            assert_eq!(ticket["status"], "assigned");
            assigned.push(ticket["assignee_id"].as_i64().unwrap());
        }
        assert_eq!(
            assigned,
            [agents[0], agents[1], agents[2], agents[0]],
            "round-robin"
        );

        // s1 already holds one open billing ticket, so the least loaded is s2, then either.
        let first = open_ticket(
            &server,
            token,
            json!({"customer_id": customer, "type": "inquiry",
            "category": "billing", "subject": "Invoice 1"}),
        )
        .await;
        assert_eq!(first["assignee_id"], s1, "ties go to the lowest id");
        let second = open_ticket(
            &server,
            token,
            json!({"customer_id": customer, "type": "inquiry",
            "category": "billing", "subject": "Invoice 2"}),
        )
        .await;
        assert_eq!(second["assignee_id"], s2, "least loaded");
        move_to(
            &server,
            token,
            id(&first),
            json!({"status": "resolved", "resolution": {"result": "resolved"}}),
        )
        .await;
        let third = open_ticket(
            &server,
            token,
            json!({"customer_id": customer, "type": "inquiry",
            "category": "billing", "subject": "Invoice 3"}),
        )
        .await;
        assert_eq!(
            third["assignee_id"], s1,
            "a resolved ticket no longer counts as load"
        );

        let unrouted = open_ticket(
            &server,
            token,
            json!({"customer_id": customer, "type": "requirement",
            "subject": "API export"}),
        )
        .await;
        assert_eq!(
            (unrouted["status"].as_str(), &unrouted["department_id"]),
            (Some("new"), &Value::Null)
        );

        // Manual reassignment, kept in the history with its author.
        let path = format!("/api/v1/tickets/{}/assignment", id(&unrouted));
        let (status, error) = server
            .call(
                rapport_tests::reqwest::Method::PUT,
                &path,
                Some(token),
                Some(json!({"assignee_id": 999_999})),
            )
            .await;
        assert_eq!(
            invalid(status, &error)["details"][0]["code"],
            "unknown_user"
        );
        let (status, moved) = server
            .call(
                rapport_tests::reqwest::Method::PUT,
                &path,
                Some(token),
                Some(json!({"department_id": service, "assignee_id": s2})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(
            (moved["status"].as_str(), moved["assignee_id"].as_i64()),
            (Some("assigned"), Some(s2))
        );
        let changes = history(&server, token, id(&unrouted)).await;
        assert_eq!(
            (changes[0]["field"].as_str(), changes[0]["to"].as_str()),
            (Some("status"), Some("new"))
        );
        let manual: Vec<&Value> = changes
            .iter()
            .skip(1)
            .filter(|c| c["actor_id"] == tenant.admin_id)
            .collect();
        let fields: Vec<&str> = manual
            .iter()
            .map(|c| c["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["department", "assignee", "status"]);
        let routed = history(&server, token, id(&third)).await;
        assert!(
            routed.iter().any(|c| c["field"] == "assignee"
                && c["actor_id"].is_null()
                && c["note"].as_str().unwrap().starts_with("routing rule")),
            "{routed:?}"
        );

        // The queue views an agent works from.
        let (_, mine) = server
            .get(
                &format!("/api/v1/tickets?assignee_id={}&open=true", agents[0]),
                token,
            )
            .await;
        assert_eq!(mine["items"].as_array().unwrap().len(), 2);
        let (_, billing) = server
            .get(
                &format!("/api/v1/tickets?department_id={service}&type=inquiry"),
                token,
            )
            .await;
        assert_eq!(billing["items"].as_array().unwrap().len(), 3);

        // An automation rule opens tickets too, routed like any other.
        let rule = json!({"name": "Onboarding check", "trigger": {"type": "event", "event": "customer.created"},
            "conditions": [], "actions": [{"type": "create_ticket", "ticket_type": "complaint",
            "priority": "high", "subject": "Onboarding check for {customer}"}]});
        let (status, created) = server.post("/api/v1/automation/rules", token, rule).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let newcomer = id(&server
            .customer(token, "R2", json!({"name": "Newcomer Ltd"}))
            .await);
        let path = format!("/api/v1/tickets?customer_id={newcomer}");
        eventually("the rule's ticket", 15, || async {
            server.get(&path, token).await.1["items"]
                .as_array()
                .is_some_and(|t| t.len() == 1)
        })
        .await;
        let (_, opened) = server.get(&path, token).await;
        let ticket = &opened["items"][0];
        assert_eq!(ticket["subject"], "Onboarding check for Newcomer Ltd");
        assert_eq!(
            (
                ticket["priority"].as_str(),
                ticket["department_id"].as_i64()
            ),
            (Some("high"), Some(quality))
        );
        assert_eq!(ticket["created_by"], Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_warns_then_escalates_a_breach_while_waiting_pauses_the_clock() {
    for backend in backends() {
        let server = TestServer::start_with_jobs(backend, fast_jobs()).await;
        let tenant = server.tenant("sla").await;
        let token = tenant.token.as_str();
        let desk = server.department(&tenant, "desk").await;
        let (agent, _) = server
            .user_with(
                &tenant,
                "agent@sla.test",
                json!({"role": "service-agent", "department_id": desk}),
            )
            .await;
        let (manager, manager_token) = server
            .user_with(
                &tenant,
                "lead@sla.test",
                json!({"role": "manager", "department_id": desk}),
            )
            .await;
        let (status, _) = server
            .post(
                "/api/v1/service/routing-rules",
                token,
                json!({"type": "after_sales", "department_id": desk}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);

        let policies = "/api/v1/service/sla-policies";
        let (status, error) = server
            .post(
                policies,
                token,
                json!({"name": "x", "at_risk_percent": 100}),
            )
            .await;
        let details = invalid(status, &error)["details"].clone();
        let codes: Vec<&str> = details
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["no_target", "out_of_range"]);
        let (status, policy) = server
            .post(
                policies,
                token,
                json!({"name": "After-sales, one minute",
            "type": "after_sales", "clock": "around_the_clock", "resolution_minutes": 1,
            "at_risk_percent": 50}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{policy}");

        let customer = id(&server.customer(token, "S1", json!({})).await);
        let opened = Utc::now();
        let late = open_ticket(
            &server,
            token,
            json!({"customer_id": customer, "type": "after_sales",
            "priority": "low", "subject": "Machine stopped"}),
        )
        .await;
        let paused = open_ticket(
            &server,
            token,
            json!({"customer_id": customer, "type": "after_sales",
            "subject": "Spare part"}),
        )
        .await;
        assert_eq!(late["sla"]["policy_id"], id(&policy));
        assert_eq!(late["sla"]["state"], "on_track");
        assert_eq!(late["assignee_id"], agent);
        let due = at(&late["sla"]["resolution_due_at"]);
        assert!(
            (due - opened - Duration::minutes(1)).num_seconds().abs() <= 2,
            "due {due}"
        );
        let waiting = move_to(
            &server,
            token,
            id(&paused),
            json!({"status": "waiting_on_customer"}),
        )
        .await;
        assert_eq!(
            (
                waiting["sla"]["paused"].as_bool(),
                &waiting["sla"]["resolution_due_at"]
            ),
            (Some(true), &Value::Null)
        );

        let ticket_path = format!("/api/v1/tickets/{}", id(&late));
        eventually("the at-risk warning", 60, || async {
            server.get(&ticket_path, token).await.1["sla"]["state"] == "at_risk"
        })
        .await;
        let (_, warnings) = server
            .get("/api/v1/automation/events?kind=ticket.sla_at_risk", token)
            .await;
        assert_eq!(warnings.as_array().unwrap().len(), 1, "{warnings}");
        eventually("the breach", 60, || async {
            server.get(&ticket_path, token).await.1["sla"]["state"] == "breached"
        })
        .await;
        let (_, breached) = server.get(&ticket_path, token).await;
        assert_eq!(
            breached["priority"], "normal",
            "escalation raises the priority one step"
        );
        assert!(breached["sla"]["escalated_at"].is_string());
        let (_, breaches) = server
            .get("/api/v1/automation/events?kind=ticket.sla_breached", token)
            .await;
        assert_eq!(
            breaches.as_array().unwrap().len(),
            1,
            "escalated once: {breaches}"
        );
        assert_eq!(breaches[0]["payload"]["manager_ids"], json!([manager]));
        let for_manager = tasks_of_ticket(&server, &manager_token, id(&late)).await;
        assert_eq!(for_manager.len(), 1, "{for_manager:?}");
        assert_eq!(
            (
                for_manager[0]["assignee_id"].as_i64(),
                for_manager[0]["priority"].as_str()
            ),
            (Some(manager), Some("urgent"))
        );
        let changes = history(&server, token, id(&late)).await;
        let sla: Vec<&str> = changes
            .iter()
            .filter(|c| c["field"] == "sla_state")
            .map(|c| c["to"].as_str().unwrap())
            .collect();
        assert_eq!(sla, ["at_risk", "breached"]);

        // The waiting ticket consumed a moment before it paused; resuming gives it the rest.
        let (_, still) = server
            .get(&format!("/api/v1/tickets/{}", id(&paused)), token)
            .await;
        assert_eq!(still["sla"]["state"], "on_track", "{still}");
        let resumed_at = Utc::now();
        let resumed = move_to(
            &server,
            token,
            id(&paused),
            json!({"status": "in_progress"}),
        )
        .await;
        let due = at(&resumed["sla"]["resolution_due_at"]);
        assert!(
            due > resumed_at + Duration::seconds(50) && due <= resumed_at + Duration::seconds(62),
            "due {due}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_hours_and_holidays_set_the_deadlines() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("hours").await;
        let token = tenant.token.as_str();
        let (status, calendar) = server.get("/api/v1/service/calendar", token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(calendar["time_zone"], "UTC");
        let (status, error) = server.call(rapport_tests::reqwest::Method::PUT, "/api/v1/service/calendar", Some(token),
            Some(json!({"time_zone": "Mars/Olympus", "hours": {"mon": [{"opens": "18:00", "closes": "09:00"}]}, "holidays": []}))).await;
        let details = invalid(status, &error)["details"].clone();
        let codes: Vec<&str> = details.as_array().unwrap().iter()
            .map(|d| d["code"].as_str().unwrap()).collect();
        assert!(codes.contains(&"unknown_time_zone") && codes.contains(&"empty_window"), "{codes:?}");

        // Every day but today (in Shanghai) is a holiday for three weeks: a one-hour business
        // target lands today, or after the holidays when less than an hour of today is left.
        let shanghai = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        let today = Utc::now().with_timezone(&shanghai).date_naive();
        let holidays: Vec<String> = (1..=21).map(|d| (today + Duration::days(d)).to_string()).collect();
        let every_day: serde_json::Map<String, Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| (d.to_string(), json!([{"opens": "00:00", "closes": "24:00"}])))
            .collect();
        let spec = json!({"time_zone": "Asia/Shanghai", "hours": every_day, "holidays": holidays});
        let (status, saved) = server.call(rapport_tests::reqwest::Method::PUT, "/api/v1/service/calendar", Some(token), Some(spec)).await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        assert_eq!(saved["time_zone"], "Asia/Shanghai");
        assert_eq!(saved["holidays"].as_array().unwrap().len(), 21);
        let (status, _) = server.post("/api/v1/service/sla-policies", token, json!({"name": "Inquiries",
            "type": "inquiry", "first_response_minutes": 60})).await;
        assert_eq!(status, StatusCode::CREATED);
        let customer = id(&server.customer(token, "H1", json!({})).await);
        let ticket = open_ticket(&server, token, json!({"customer_id": customer, "type": "inquiry", "subject": "Hours?"})).await;
        let created = at(&ticket["created_at"]);
        let due = at(&ticket["sla"]["first_response_due_at"]);
        let created_day = created.with_timezone(&shanghai).date_naive();
        let due_day = due.with_timezone(&shanghai).date_naive();
        if due_day == created_day {
            assert!((due - created - Duration::minutes(60)).num_seconds().abs() <= 1, "{created} → {due}");
        } else {
            assert_eq!(due_day, created_day + Duration::days(22), "skips the holidays: {created} → {due}");
            let midnight = due_day.and_hms_opt(0, 0, 0).unwrap().and_local_timezone(shanghai).unwrap();
            let today_left = midnight - Duration::days(21) - created.with_timezone(&shanghai);
            assert!((due.with_timezone(&shanghai) - midnight + today_left - Duration::minutes(60)).num_seconds().abs() <= 1, "{created} → {due}");
        }

        // Deleting a policy in use is refused; the default complaint policy is there.
        let (_, policies) = server.get("/api/v1/service/sla-policies", token).await;
        let keys: Vec<&Value> = policies.as_array().unwrap().iter().map(|p| &p["key"]).collect();
        assert_eq!(keys[..2], [&json!("complaint-24h"), &json!("requirement-3-business-days")]);
        let inquiries = policies.as_array().unwrap().iter().find(|p| p["name"] == "Inquiries").unwrap();
        let (status, error) = server.delete(&format!("/api/v1/service/sla-policies/{}", id(inquiries)), token).await;
        assert_error(status, &error, StatusCode::CONFLICT, "policy_in_use");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_gives_the_owner_a_revisit_and_follow_up_keeps_the_ticket_open() {
    for backend in backends() {
        let server = TestServer::start_with_jobs(backend, fast_jobs()).await;
        let tenant = server.tenant("loop").await;
        let token = tenant.token.as_str();
        let (owner, owner_token) = server.member(&tenant, "am@loop.test").await;
        let customer = id(&server
            .customer(token, "L1", json!({"owner_id": owner}))
            .await);
        let complaint = open_ticket(
            &server,
            token,
            json!({"customer_id": customer, "type": "complaint",
            "subject": "Rude delivery driver"}),
        )
        .await;
        assert_eq!(
            complaint["sla"]["state"], "on_track",
            "complaints run on the default 24-hour policy"
        );
        let due = at(&complaint["sla"]["resolution_due_at"]) - at(&complaint["created_at"]);
        assert!(
            (due - Duration::hours(24)).num_seconds().abs() <= 1,
            "{due}"
        );
        let ticket_id = id(&complaint);

        let resolved_at = Utc::now();
        move_to(&server, token, ticket_id, json!({"status": "resolved",
            "resolution": {"result": "needs_follow_up", "note": "Driver retrained; check next delivery"}})).await;
        let tasks = tasks_of_ticket(&server, &owner_token, ticket_id).await;
        let revisit = tasks
            .iter()
            .find(|t| t["source"] == "ticket")
            .expect("a revisit task");
        assert_eq!(revisit["assignee_id"], owner, "the account owner revisits");
        let revisit_due = at(&revisit["due_at"]);
        assert!(
            revisit_due <= resolved_at + Duration::hours(24) + Duration::seconds(5),
            "{revisit_due}"
        );
        assert!(revisit_due > resolved_at, "{revisit_due}");
        let follow_up = tasks
            .iter()
            .find(|t| t["source"] == "ticket-follow-up")
            .expect("a follow-up task");

        let path = format!("/api/v1/tickets/{ticket_id}/status");
        let (status, error) = server.post(&path, token, json!({"status": "closed"})).await;
        assert_error(status, &error, StatusCode::CONFLICT, "follow_up_open");
        let (status, done) = server
            .patch(
                &format!("/api/v1/tasks/{}", id(follow_up)),
                token,
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        let closed = move_to(&server, token, ticket_id, json!({"status": "closed"})).await;
        assert!(closed["closed_at"].is_string());

        // A satisfied customer needs only the revisit.
        let happy = open_ticket(
            &server,
            token,
            json!({"customer_id": customer, "type": "inquiry", "subject": "Thanks"}),
        )
        .await;
        move_to(
            &server,
            token,
            id(&happy),
            json!({"status": "resolved", "resolution": {"result": "customer_satisfied"}}),
        )
        .await;
        let tasks = tasks_of_ticket(&server, &owner_token, id(&happy)).await;
        let sources: Vec<&str> = tasks
            .iter()
            .map(|t| t["source"].as_str().unwrap())
            .collect();
        assert_eq!(sources, ["ticket"]);
        move_to(&server, token, id(&happy), json!({"status": "closed"})).await;

        let (_, resolved_events) = server
            .get("/api/v1/automation/events?kind=ticket.resolved", token)
            .await;
        assert_eq!(
            resolved_events.as_array().unwrap().len(),
            2,
            "{resolved_events}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_kpis_compare_months_within_the_callers_scope() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("kpi").await;
        let token = tenant.token.as_str();
        let (am, am_token) = server.member(&tenant, "am@kpi.test").await;
        let mine = id(&server.customer(token, "K1", json!({"owner_id": am})).await);
        let theirs = id(&server.customer(token, "K2", json!({})).await);
        let mut opened = Vec::new();
        for (customer, kind) in [
            (mine, "complaint"),
            (mine, "requirement"),
            (theirs, "complaint"),
            (theirs, "requirement"),
        ] {
            opened.push(id(&open_ticket(
                &server,
                token,
                json!({"customer_id": customer, "type": kind, "subject": kind}),
            )
            .await));
        }
        let comments = format!("/api/v1/tickets/{}/comments", opened[0]);
        let (status, _) = server
            .post(&comments, token, json!({"body": "On it", "public": true}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        for ticket in [opened[0], opened[1]] {
            move_to(
                &server,
                token,
                ticket,
                json!({"status": "resolved", "resolution": {"result": "resolved"}}),
            )
            .await;
        }

        let (status, error) = server
            .get("/api/v1/service/kpis?month=2026-13", token)
            .await;
        assert_eq!(
            invalid(status, &error)["details"][0]["code"],
            "invalid_month"
        );
        let (status, all) = server.get("/api/v1/service/kpis", token).await;
        assert_eq!(status, StatusCode::OK, "{all}");
        assert_eq!(all["complaint_on_time_resolution_rate"]["value"], 1.0);
        assert_eq!(all["complaint_on_time_resolution_rate"]["basis"], 1);
        assert_eq!(all["requirement_resolution_rate"]["value"], 0.5);
        assert_eq!(all["requirement_resolution_rate"]["basis"], 2);
        assert_eq!(
            all["mean_first_response_hours"]["basis"], 2,
            "the comment and the resolution without one"
        );
        assert_eq!(all["mean_resolution_hours"]["basis"], 2);
        assert_eq!(
            all["requirement_resolution_rate"]["previous"],
            Value::Null,
            "no tickets last month"
        );
        let backlog: i64 = all["backlog_by_assignee"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["open"].as_i64().unwrap())
            .sum();
        assert_eq!(backlog, 2);
        assert_eq!(all["backlog_by_department"][0]["delta"], 2);

        // The account manager counts only the tickets of their own customers.
        let (status, own) = server.get("/api/v1/service/kpis", &am_token).await;
        assert_eq!(status, StatusCode::OK, "{own}");
        assert_eq!(own["requirement_resolution_rate"]["value"], 1.0);
        assert_eq!(own["requirement_resolution_rate"]["basis"], 1);
        assert_eq!(own["backlog_by_assignee"], json!([]));
        let (_, last_year) = server
            .get("/api/v1/service/kpis?month=2025-11", token)
            .await;
        assert_eq!(last_year["mean_resolution_hours"]["value"], Value::Null);
    })
    .await;
}
