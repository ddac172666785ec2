//! The customer 360° view, `GET /api/v1/customers/{id}/360`: profile with tags and quality
//! flags, contacts (primary first), recent interactions and days since the last contact, order
//! statistics per currency (exact decimal sums, cancelled and refunded orders excluded, the last
//! 90 days), and the satisfaction summary. Every expected figure is computed by hand here. A
//! part the caller may not read through its own routes is left empty and named in `withheld`.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rapport_tests::reqwest::StatusCode;
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{TestServer, assert_error, id, invalid, not_found, on_every_backend};

/// A whole-second timestamp `days` days before `now`, as RFC 3339.
fn days_ago(now: DateTime<Utc>, days: i64) -> String {
    (now - Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
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

async fn order(
    server: &TestServer,
    token: &str,
    customer_id: i64,
    at: &str,
    amount: &str,
    currency: &str,
    status: &str,
) -> Value {
    let body = json!({"amount": {"amount": amount, "currency": currency}, "ordered_at": at, "status": status});
    create(
        server,
        token,
        &format!("/api/v1/customers/{customer_id}/orders"),
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_360_view_assembles_everything_about_a_customer() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("view").await;
        let (member_id, member) = server.member(&tenant, "rep@view.test").await;
        let token = tenant.token.as_str();
        let customer = server
            .customer(token, "V360", json!({"industry": "manufacturing", "tags": ["vip", "north", "vip"], "stage": "customer", "owner_id": member_id}))
            .await;
        let customer_id = id(&customer);
        let base = format!("/api/v1/customers/{customer_id}");
        let now = Utc::now();

        // Contacts: the primary one is created second but listed first.
        let contacts = format!("{base}/contacts");
        let zhang = create(&server, token, &contacts, json!({"name": "Zhang", "phone": "13800138000"})).await;
        let li = create(&server, token, &contacts, json!({"name": "Li", "email": "li@example.com", "is_primary": true})).await;
        let wang = create(&server, token, &contacts, json!({"name": "Wang"})).await;

        // Orders: (days ago, amount, currency, status).
        let a = order(&server, token, customer_id, &days_ago(now, 10), "100.10", "CNY", "confirmed").await;
        let _b = order(&server, token, customer_id, &days_ago(now, 91), "200.25", "CNY", "fulfilled").await;
        let c = order(&server, token, customer_id, &days_ago(now, 5), "50.5", "USD", "pending").await;
        let d = order(&server, token, customer_id, &days_ago(now, 2), "999", "CNY", "cancelled").await;
        let _e = order(&server, token, customer_id, &days_ago(now, 1), "1000", "USD", "refunded").await;
        let _f = order(&server, token, customer_id, &days_ago(now, 200), "0.0001", "USD", "confirmed").await;
        let _g = order(&server, token, customer_id, &days_ago(now, 20), "0.1", "CNY", "confirmed").await;
        let _h = order(&server, token, customer_id, &days_ago(now, 89), "0.2", "CNY", "confirmed").await;
        let _i = order(&server, token, customer_id, &days_ago(now, 120), "10", "EUR", "fulfilled").await;

        // Interactions 41, 60 and 50 days ago.
        let interactions = format!("{base}/interactions");
        let i41 = create(&server, &member, &interactions, json!({"channel": "phone", "summary": "Follow-up call",
            "occurred_at": days_ago(now, 41)})).await;
        let i60 = create(&server, token, &interactions, json!({"channel": "visit", "summary": "Kick-off",
            "occurred_at": days_ago(now, 60)})).await;
        let i50 = create(&server, token, &interactions, json!({"channel": "email", "summary": "Quote sent",
            "feedback": "Too expensive", "occurred_at": days_ago(now, 50)})).await;

        // Satisfaction: two CSAT and two NPS records, no CES.
        let satisfaction = format!("{base}/satisfaction");
        let csat_old = create(&server, token, &satisfaction, json!({"kind": "csat", "value": 3, "recorded_at": days_ago(now, 10)})).await;
        let csat_new = create(&server, token, &satisfaction, json!({"kind": "csat", "value": 4.5, "recorded_at": days_ago(now, 2)})).await;
        let nps_new = create(&server, token, &satisfaction, json!({"kind": "nps", "value": 9, "source": "survey",
            "recorded_at": days_ago(now, 5)})).await;
        let nps_old = create(&server, token, &satisfaction, json!({"kind": "nps", "value": 4, "recorded_at": days_ago(now, 20)})).await;

        let view = read(&server, &member, &format!("{base}/360")).await;

        // Profile: the customer as GET returns it, with canonical tags and the current flags.
        let profile = read(&server, token, &base).await;
        assert_eq!(view["profile"], profile);
        assert_eq!(view["profile"]["tags"], json!(["north", "vip"]));
        assert_eq!(view["profile"]["quality_flags"], json!(["no_need_recorded"]));
        assert_eq!(view["profile"]["stage"], "customer");

        // Contacts: primary first, then creation order.
        let zhang = read(&server, token, &format!("/api/v1/contacts/{}", id(&zhang))).await;
        assert_eq!(view["contacts"], json!([li, zhang, wang]));
        assert_eq!(view["contacts"][1]["phone"], "+8613800138000");

        // Interactions: newest first; the newest one was 41 days ago.
        assert_eq!(view["recent_interactions"], json!([i41, i50, i60]));
        assert_eq!(view["recent_interactions"][0]["logged_by"], member_id);
        assert_eq!(view["last_contact_at"], i41["occurred_at"]);
        assert_eq!(view["days_since_last_contact"], 41);

        // Orders: D (cancelled) and E (refunded) are excluded.
        //   counted: A 100.10 CNY (10d), B 200.25 CNY (91d), C 50.5 USD (5d), F 0.0001 USD (200d),
        //            G 0.1 CNY (20d), H 0.2 CNY (89d), I 10 EUR (120d)           -> 7 orders
        //   total:   CNY 100.10 + 200.25 + 0.1 + 0.2 = 300.65, EUR 10, USD 50.5 + 0.0001 = 50.5001
        //   90 days: A, C, G, H -> 4 orders; CNY 100.10 + 0.1 + 0.2 = 100.4, USD 50.5, no EUR
        //   last:    C (5 days ago); D and E are newer but not counted
        let stats = &view["order_stats"];
        assert_eq!(stats["order_count"], 7);
        assert_eq!(
            stats["total_value"],
            json!([{"amount": "300.65", "currency": "CNY"}, {"amount": "10", "currency": "EUR"},
                {"amount": "50.5001", "currency": "USD"}])
        );
        assert_eq!(stats["orders_last_90_days"], 4);
        assert_eq!(
            stats["value_last_90_days"],
            json!([{"amount": "100.4", "currency": "CNY"}, {"amount": "50.5", "currency": "USD"}])
        );
        assert_eq!(stats["last_order"]["id"], id(&c));
        assert_eq!(stats["last_order"], c);

        // Satisfaction: the newest record of each kind that has one, and the whole history.
        assert_eq!(view["satisfaction"]["latest"], json!([csat_new, nps_new]));
        assert_eq!(view["satisfaction"]["history"], json!([csat_new, nps_new, csat_old, nps_old]));
        assert_eq!(view["satisfaction"]["latest"][0]["value"].as_f64(), Some(4.5));

        // Limiting the interactions.
        let two = read(&server, token, &format!("{base}/360?interactions=2")).await;
        assert_eq!(two["recent_interactions"], json!([i41, i50]));
        assert_eq!(two["days_since_last_contact"], 41);
        let one = read(&server, token, &format!("{base}/360?interactions=1")).await;
        assert_eq!(one["recent_interactions"], json!([i41]));
        let hundred = read(&server, token, &format!("{base}/360?interactions=100")).await;
        assert_eq!(hundred["recent_interactions"].as_array().unwrap().len(), 3);
        for bad in ["0", "101"] {
            let (status, error) = server.get(&format!("{base}/360?interactions={bad}"), token).await;
            let error = invalid(status, &error);
            assert_eq!(error["details"][0]["field"], "interactions", "interactions={bad}");
            assert_eq!(error["details"][0]["code"], "out_of_range", "interactions={bad}");
        }
        for bad in ["interactions=ten", "interactions=-1", "orders=5"] {
            let (status, error) = server.get(&format!("{base}/360?{bad}"), token).await;
            assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_query");
        }

        // Cancelling C moves the statistics: USD keeps only F, which is older than 90 days.
        let (status, cancelled) = server.patch(&format!("/api/v1/orders/{}", id(&c)), token, json!({"status": "cancelled"})).await;
        assert_eq!(status, StatusCode::OK, "{cancelled}");
        let stats = read(&server, token, &format!("{base}/360")).await["order_stats"].clone();
        assert_eq!(stats["order_count"], 6);
        assert_eq!(
            stats["total_value"],
            json!([{"amount": "300.65", "currency": "CNY"}, {"amount": "10", "currency": "EUR"},
                {"amount": "0.0001", "currency": "USD"}])
        );
        assert_eq!(stats["orders_last_90_days"], 3);
        assert_eq!(stats["value_last_90_days"], json!([{"amount": "100.4", "currency": "CNY"}]));
        assert_eq!(stats["last_order"]["id"], id(&a));

        // Confirming D (999 CNY, 2 days ago) brings it in: CNY 300.65 + 999 = 1299.65,
        // last 90 days 100.4 + 999 = 1099.4, and it becomes the last order.
        let (status, confirmed) = server.patch(&format!("/api/v1/orders/{}", id(&d)), token, json!({"status": "confirmed"})).await;
        assert_eq!(status, StatusCode::OK, "{confirmed}");
        let stats = read(&server, token, &format!("{base}/360")).await["order_stats"].clone();
        assert_eq!(stats["order_count"], 7);
        assert_eq!(
            stats["total_value"],
            json!([{"amount": "1299.65", "currency": "CNY"}, {"amount": "10", "currency": "EUR"},
                {"amount": "0.0001", "currency": "USD"}])
        );
        assert_eq!(stats["orders_last_90_days"], 4);
        assert_eq!(stats["value_last_90_days"], json!([{"amount": "1099.4", "currency": "CNY"}]));
        assert_eq!(stats["last_order"], confirmed);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_amounts_sum_exactly() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("exact").await;
        let token = tenant.token.as_str();
        let customer_id = id(&server.customer(token, "EXACT", json!({})).await);
        let now = Utc::now();
        // 0.1 + 0.2 is 0.30000000000000004 in floating point; ten times 0.1 is not 1 either.
        order(&server, token, customer_id, &days_ago(now, 1), "0.1", "CNY", "confirmed").await;
        order(&server, token, customer_id, &days_ago(now, 2), "0.2", "CNY", "confirmed").await;
        for day in 3..13 {
            order(&server, token, customer_id, &days_ago(now, day), "0.1", "JPY", "fulfilled").await;
        }
        order(&server, token, customer_id, &days_ago(now, 3), "99999999999.9999", "EUR", "confirmed").await;
        order(&server, token, customer_id, &days_ago(now, 4), "0.0001", "EUR", "confirmed").await;
        let view = read(&server, token, &format!("/api/v1/customers/{customer_id}/360")).await;
        let expected = json!([{"amount": "0.3", "currency": "CNY"}, {"amount": "100000000000", "currency": "EUR"},
            {"amount": "1", "currency": "JPY"}]);
        assert_eq!(view["order_stats"]["order_count"], 14);
        assert_eq!(view["order_stats"]["total_value"], expected);
        assert_eq!(view["order_stats"]["orders_last_90_days"], 14);
        assert_eq!(view["order_stats"]["value_last_90_days"], expected);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_interactions_default_to_the_ten_newest() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("recent").await;
        let token = tenant.token.as_str();
        let customer_id = id(&server.customer(token, "RECENT", json!({})).await);
        let interactions = format!("/api/v1/customers/{customer_id}/interactions");
        let now = Utc::now();
        let mut created = Vec::new();
        for days in [7, 3, 12, 1, 9, 5, 11, 2, 8, 4, 10, 6] {
            let body = json!({"channel": "other", "summary": format!("{days} days ago"), "occurred_at": days_ago(now, days)});
            created.push((days, create(&server, token, &interactions, body).await));
        }
        created.sort_by_key(|(days, _)| *days);
        let newest_ten: Vec<Value> = created.iter().take(10).map(|(_, i)| i.clone()).collect();

        let view = read(&server, token, &format!("/api/v1/customers/{customer_id}/360")).await;
        assert_eq!(view["recent_interactions"], Value::Array(newest_ten));
        assert_eq!(view["last_contact_at"], created[0].1["occurred_at"]);
        assert_eq!(view["days_since_last_contact"], 1);
        let all = read(&server, token, &format!("/api/v1/customers/{customer_id}/360?interactions=100")).await;
        assert_eq!(all["recent_interactions"].as_array().unwrap().len(), 12);

        // An interaction logged today makes it zero days, even one slightly in the future.
        let soon = (Utc::now() + Duration::minutes(30)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let latest = create(&server, token, &interactions, json!({"channel": "wechat", "summary": "Soon", "occurred_at": soon})).await;
        let view = read(&server, token, &format!("/api/v1/customers/{customer_id}/360")).await;
        assert_eq!(view["last_contact_at"], latest["occurred_at"]);
        assert_eq!(view["days_since_last_contact"], 0);
        assert_eq!(view["recent_interactions"][0], latest);
        assert_eq!(view["recent_interactions"].as_array().unwrap().len(), 10);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_without_records_has_an_empty_view() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("empty").await;
        let token = tenant.token.as_str();
        let customer = server.customer(token, "EMPTY", json!({})).await;
        let customer_id = id(&customer);
        let other = id(&server.customer(token, "OTHER", json!({})).await);
        // Another customer's records never leak into this view.
        order(
            &server,
            token,
            other,
            &days_ago(Utc::now(), 1),
            "5",
            "CNY",
            "confirmed",
        )
        .await;
        create(
            &server,
            token,
            &format!("/api/v1/customers/{other}/contacts"),
            json!({"name": "Other"}),
        )
        .await;
        create(
            &server,
            token,
            &format!("/api/v1/customers/{other}/interactions"),
            json!({"channel": "phone", "summary": "x"}),
        )
        .await;
        create(
            &server,
            token,
            &format!("/api/v1/customers/{other}/satisfaction"),
            json!({"kind": "ces", "value": 2}),
        )
        .await;

        let empty_stats = json!({"order_count": 0, "total_value": [], "last_order": null,
            "orders_last_90_days": 0, "value_last_90_days": []});
        let view = read(
            &server,
            token,
            &format!("/api/v1/customers/{customer_id}/360"),
        )
        .await;
        assert_eq!(view["profile"], customer);
        assert_eq!(
            view["profile"]["quality_flags"],
            json!(["no_contact", "no_need_recorded", "no_owner", "no_industry"])
        );
        assert_eq!(view["profile"]["tags"], json!([]));
        assert_eq!(view["contacts"], json!([]));
        assert_eq!(view["recent_interactions"], json!([]));
        assert_eq!(view["last_contact_at"], Value::Null);
        assert_eq!(view["days_since_last_contact"], Value::Null);
        assert_eq!(view["order_stats"], empty_stats);
        assert_eq!(view["satisfaction"], json!({"latest": [], "history": []}));

        // Orders that do not count leave the statistics empty.
        order(
            &server,
            token,
            customer_id,
            &days_ago(Utc::now(), 1),
            "10",
            "CNY",
            "cancelled",
        )
        .await;
        order(
            &server,
            token,
            customer_id,
            &days_ago(Utc::now(), 2),
            "20",
            "USD",
            "refunded",
        )
        .await;
        let view = read(
            &server,
            token,
            &format!("/api/v1/customers/{customer_id}/360"),
        )
        .await;
        assert_eq!(view["order_stats"], empty_stats);

        let (status, error) = server.get("/api/v1/customers/987654/360", token).await;
        not_found(status, &error);
        let (status, error) = server.get("/api/v1/customers/abc/360", token).await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_path");
        let (status, _) = server
            .delete(&format!("/api/v1/customers/{customer_id}"), token)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, error) = server
            .get(&format!("/api/v1/customers/{customer_id}/360"), token)
            .await;
        not_found(status, &error);
    })
    .await;
}

/// `customers:read` shows the profile; contacts, interactions, orders and satisfaction each need
/// their own read grant in a scope that reaches the customer, as their own routes do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_the_role_may_not_read_are_withheld() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("partial").await;
        let token = tenant.token.as_str();
        let permissions = [
            "customers:read:all",
            "contacts:read:own",
            "satisfaction:read:all",
        ];
        let role = json!({"name": "profile-reader", "permissions": permissions});
        assert_eq!(
            server.post("/api/v1/roles", token, role).await.0,
            StatusCode::CREATED
        );
        let (_, reader) = server
            .user_with(
                &tenant,
                "reader@partial.test",
                json!({"role": "profile-reader"}),
            )
            .await;
        let customer = id(&server.customer(token, "P1", json!({})).await);
        let path = |part: &str| format!("/api/v1/customers/{customer}/{part}");
        create(&server, token, &path("contacts"), json!({"name": "Wang"})).await;
        create(
            &server,
            token,
            &path("interactions"),
            json!({"channel": "phone", "summary": "x"}),
        )
        .await;
        create(
            &server,
            token,
            &path("satisfaction"),
            json!({"kind": "nps", "value": 9}),
        )
        .await;
        order(
            &server,
            token,
            customer,
            &days_ago(Utc::now(), 1),
            "5",
            "CNY",
            "confirmed",
        )
        .await;

        let view = read(&server, &reader, &path("360")).await;
        assert_eq!(view["profile"]["code"], "P1", "{view}");
        // Contacts only of their own customers (this one is the admin's), no interactions or
        // orders at all; satisfaction everywhere.
        assert_eq!(
            view["withheld"],
            json!(["contacts", "interactions", "orders"]),
            "{view}"
        );
        assert_eq!(view["contacts"], json!([]), "{view}");
        assert_eq!(view["recent_interactions"], json!([]), "{view}");
        assert!(
            view["last_contact_at"].is_null() && view["days_since_last_contact"].is_null(),
            "{view}"
        );
        assert_eq!(view["order_stats"]["order_count"], 0, "{view}");
        assert!(view["order_stats"]["last_order"].is_null(), "{view}");
        assert_eq!(view["satisfaction"]["latest"][0]["value"], 9.0, "{view}");
        let refused = [
            ("contacts", StatusCode::NOT_FOUND),
            ("interactions", StatusCode::FORBIDDEN),
            ("orders", StatusCode::FORBIDDEN),
        ];
        for (part, refusal) in refused {
            let (status, _) = server.get(&path(part), &reader).await;
            assert_eq!(
                status, refusal,
                "{part} is no more readable through its own route"
            );
        }

        let whole = read(&server, token, &path("360")).await;
        assert_eq!(whole["withheld"], json!([]), "{whole}");
        assert_eq!(whole["contacts"][0]["name"], "Wang", "{whole}");
        assert_eq!(whole["order_stats"]["order_count"], 1, "{whole}");
    })
    .await;
}
