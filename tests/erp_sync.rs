//! The ERP sync engine through the public API, with the real `odoo-connector` plugin against a
//! loopback mock of Odoo's JSON-RPC API: a first sync imports customers and orders (many sharing
//! one `write_date`), a second one only what changed; customers are matched by tax id, then by
//! the tenant's rule, else created or queued for review, and linking a queued customer imports
//! the orders that waited for it; retryable failures are retried with backoff, bad credentials
//! fail at once, and the run history and stream cursors say what happened. Scheduled runs start
//! on their own; settings are validated and runs are exclusive.

use std::time::Duration as StdDuration;

use base64::Engine as _;
use rapport::jobs::JobOptions;
use rapport_tests::odoo_mock::{
    ODOO_DB, ODOO_KEY, ODOO_LOGIN, OdooMock, OdooRow, odoo_server, partner, sale_order,
};
use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{
    Backend, PLATFORM_TOKEN, Tenant, TestServer, assert_error, backends, eventually, id, invalid,
    plugin_component,
};
use sea_orm::{ConnectionTrait, Statement};

const ODOO: &str = "rapport.odoo-connector";

/// Installs the Odoo connector and enables it for the tenant against `base`.
async fn enable_odoo(server: &TestServer, tenant: &Tenant, base: &str, api_key: &str) {
    let component = plugin_component("odoo-connector");
    let body = json!({"component": base64::engine::general_purpose::STANDARD.encode(component)});
    let (status, installed) = server.post("/api/v1/plugins", PLATFORM_TOKEN, body).await;
    assert!(
        status == StatusCode::CREATED || status == StatusCode::OK,
        "{installed}"
    );
    let version = installed["plugin"]["version"].as_str().unwrap();
    let enable = json!({"version": version, "granted_hosts": ["127.0.0.1"], "config": {
        "base_url": base, "database": ODOO_DB, "login": ODOO_LOGIN, "api_key": api_key}});
    let path = format!("/api/v1/tenant/plugins/{ODOO}");
    let (status, body) = server
        .call(Method::PUT, &path, Some(&tenant.token), Some(enable))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn put_settings(
    server: &TestServer,
    tenant: &Tenant,
    settings: Value,
) -> (StatusCode, Value) {
    let path = format!("/api/v1/sync/connectors/{ODOO}");
    server
        .call(Method::PUT, &path, Some(&tenant.token), Some(settings))
        .await
}

/// Starts a run through the API and waits for it to end; returns the run.
async fn sync_now(server: &TestServer, tenant: &Tenant) -> Value {
    let path = format!("/api/v1/sync/connectors/{ODOO}/runs");
    let (status, run) = server.post(&path, &tenant.token, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["outcome"], "running");
    finished(server, tenant, id(&run)).await
}

async fn finished(server: &TestServer, tenant: &Tenant, run_id: i64) -> Value {
    let path = format!("/api/v1/sync/runs/{run_id}");
    for _ in 0..600 {
        let (status, run) = server.get(&path, &tenant.token).await;
        assert_eq!(status, StatusCode::OK, "{run}");
        if run["outcome"] != "running" {
            return run;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("the sync run did not end within a minute");
}

fn stream<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == name)
        .unwrap_or_else(|| panic!("no stream {name} in {run}"))
}

fn counts(stream: &Value) -> [i64; 5] {
    [
        "records_read",
        "inserted",
        "updated",
        "unchanged",
        "unmatched",
    ]
    .map(|key| {
        stream[key]
            .as_i64()
            .unwrap_or_else(|| panic!("{key} in {stream}"))
    })
}

async fn count(server: &TestServer, sql: &str) -> i64 {
    let backend = server.db.get_database_backend();
    let row = server
        .db
        .query_one_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// 30 partners (one with the VAT number of a CRM customer) and 250 orders: 120 of them share one
/// `write_date`, so the 100-record pages must walk a tie; plus an order of a partner Odoo has
/// but the sync never reads, and one in a state no ERP has.
fn odoo_data() -> (Vec<OdooRow>, Vec<OdooRow>) {
    let partners = (1..=30)
        .map(|n| {
            let vat = if n == 7 {
                json!("BE 0477.472.701")
            } else {
                json!(false)
            };
            partner(
                n,
                "2024-03-01 08:00:00",
                json!({"name": format!("Partner {n}"), "is_company": true, "vat": vat}),
            )
        })
        .collect();
    let mut orders: Vec<OdooRow> = (1..=250)
        .map(|n| {
            let written = if n <= 120 {
                "2024-03-02 10:00:00".to_owned()
            } else {
                format!("2024-03-02 11:{:02}:{:02}", n / 60, n % 60)
            };
            sale_order(
                n,
                n % 30 + 1,
                &written,
                "100.50",
                "EUR",
                "2024-03-01 12:00:00",
                "sale",
            )
        })
        .collect();
    orders.push(sale_order(
        251,
        999,
        "2024-03-02 12:00:00",
        "5",
        "EUR",
        "2024-03-01 12:00:00",
        "sale",
    ));
    // A state word from a customised Odoo that no mapping knows.
    let mut odd = sale_order(
        252,
        1,
        "2024-03-02 12:00:01",
        "5",
        "EUR",
        "2024-03-01 12:00:00",
        "sale",
    );
    odd.values.insert("state".into(), json!("teleported"));
    orders.push(odd);
    (partners, orders)
}

/// A first sync imports every customer and order once; a second reads only what changed since
/// the committed cursors; orders count in the 360° view and ask for re-tiering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_imports_everything_once_then_only_changes() {
    for backend in backends() {
        eprintln!("--- backend: {backend:?}");
        first_and_incremental_sync(backend).await;
    }
}

async fn first_and_incremental_sync(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("erp").await;
    let (partners, orders) = odoo_data();
    let mock = OdooMock::new(partners, orders, true);
    let odoo = odoo_server(mock.clone()).await;
    enable_odoo(&server, &tenant, &odoo.base, ODOO_KEY).await;
    let known = id(&server
        .customer(&tenant.token, "C-KNOWN", json!({"tax_id": "BE0477472701"}))
        .await);
    let (status, connector) = put_settings(
        &server,
        &tenant,
        json!({"source": "odoo", "page_size": 100, "unmatched": "create"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{connector}");
    assert_eq!(connector["settings"]["reads_per_minute"], 600);
    assert_eq!(connector["next_run_at"], Value::Null, "not scheduled");

    let run = sync_now(&server, &tenant).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(run["trigger"], "manual");
    assert_eq!(counts(stream(&run, "customers")), [30, 30, 0, 0, 0]);
    let orders = stream(&run, "orders");
    assert_eq!(counts(orders), [252, 250, 0, 0, 2], "{orders}");
    assert_eq!(orders["pages"], 3);
    assert!(orders["duration_ms"].as_i64().is_some());

    // Partner 7 is the CRM customer of that VAT number; the other 29 were created.
    let view = server
        .get(&format!("/api/v1/customers/{known}/360"), &tenant.token)
        .await
        .1;
    let expected = (1..=250).filter(|n| n % 30 + 1 == 7).count() as i64;
    assert_eq!(view["order_stats"]["order_count"], expected, "{view}");
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM customers").await,
        30,
        "29 created, 1 matched"
    );
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM orders WHERE source = 'odoo'").await,
        250
    );
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM tier_requests").await,
        30,
        "every customer with new orders is re-tiered"
    );
    let (_, reviews) = server.get("/api/v1/sync/reviews", &tenant.token).await;
    let mut reasons: Vec<(&str, &str)> = reviews
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["external_id"].as_str().unwrap(),
                r["reason"].as_str().unwrap(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [("251", "customer_unmatched"), ("252", "invalid")],
        "{reviews}"
    );

    let (_, connector) = server
        .get(&format!("/api/v1/sync/connectors/{ODOO}"), &tenant.token)
        .await;
    for state in connector["streams"].as_array().unwrap() {
        assert!(state["cursor"].is_string(), "{state}");
        assert!(state["last_success_at"].is_string(), "{state}");
        assert_eq!(state["last_run_id"], run["id"]);
    }

    // One order changed and one is new: the next sync reads just those two.
    mock.upsert_order(sale_order(
        5,
        6,
        "2024-03-05 09:00:00",
        "999.99",
        "EUR",
        "2024-03-01 12:00:00",
        "done",
    ));
    mock.upsert_order(sale_order(
        300,
        7,
        "2024-03-05 09:00:00",
        "1",
        "EUR",
        "2024-03-04 12:00:00",
        "sale",
    ));
    let again = sync_now(&server, &tenant).await;
    assert_eq!(again["outcome"], "succeeded", "{again}");
    assert_eq!(counts(stream(&again, "customers")), [0, 0, 0, 0, 0]);
    assert_eq!(counts(stream(&again, "orders")), [2, 1, 1, 0, 0]);
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM orders WHERE source = 'odoo'").await,
        251
    );
    let changed = count(
        &server,
        "SELECT amount_e4 FROM orders WHERE source = 'odoo' AND external_id = '5'",
    )
    .await;
    assert_eq!(changed, 9_999_900);

    let (_, runs) = server
        .get(
            &format!("/api/v1/sync/runs?plugin_id={ODOO}"),
            &tenant.token,
        )
        .await;
    let ids: Vec<i64> = runs.as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, [id(&again), id(&run)], "newest first");
}

/// With the `review` policy and the `email` rule: a customer matched by a contact's e-mail is
/// linked, one matching none waits in the queue with its orders, two matching is ambiguous.
/// Linking the queued customer imports its waiting orders; the next sync changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_customers_wait_for_review_with_their_orders() {
    for backend in backends() {
        eprintln!("--- backend: {backend:?}");
        review_queue(backend).await;
    }
}

async fn contact(server: &TestServer, tenant: &Tenant, customer: i64, email: &str) {
    let (status, body) = server
        .post(
            &format!("/api/v1/customers/{customer}/contacts"),
            &tenant.token,
            json!({"name": "Buyer", "email": email}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn review_queue(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("review").await;
    let by_mail = id(&server.customer(&tenant.token, "C-MAIL", json!({})).await);
    contact(&server, &tenant, by_mail, "buyer@alpha.example").await;
    let twin_a = id(&server.customer(&tenant.token, "C-TWIN-A", json!({})).await);
    let twin_b = id(&server.customer(&tenant.token, "C-TWIN-B", json!({})).await);
    contact(&server, &tenant, twin_a, "shared@beta.example").await;
    contact(&server, &tenant, twin_b, "shared@beta.example").await;
    let target = id(&server.customer(&tenant.token, "C-TARGET", json!({})).await);

    let at = "2024-05-01 08:00:00";
    let partners = vec![
        partner(
            1,
            at,
            json!({"name": "Alpha", "email": "Buyer@Alpha.example"}),
        ),
        partner(
            2,
            at,
            json!({"name": "Beta", "email": "shared@beta.example"}),
        ),
        partner(3, at, json!({"name": "Gamma"})),
    ];
    let orders = vec![
        sale_order(10, 1, at, "10", "EUR", at, "sale"),
        sale_order(11, 3, at, "20", "EUR", at, "sale"),
        sale_order(12, 3, at, "30", "EUR", at, "done"),
    ];
    let mock = OdooMock::new(partners, orders, true);
    let odoo = odoo_server(mock.clone()).await;
    enable_odoo(&server, &tenant, &odoo.base, ODOO_KEY).await;
    let settings = json!({"source": "odoo", "match_rule": {"by": "email"}});
    let (status, body) = put_settings(&server, &tenant, settings).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let run = sync_now(&server, &tenant).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(counts(stream(&run, "customers")), [3, 1, 0, 0, 2]);
    assert_eq!(counts(stream(&run, "orders")), [3, 1, 0, 0, 2]);

    let (_, queue) = server.get("/api/v1/sync/reviews", &tenant.token).await;
    let queue = queue.as_array().unwrap().clone();
    let entry = |kind: &str, external: &str| {
        queue
            .iter()
            .find(|r| r["kind"] == kind && r["external_id"] == external)
            .unwrap_or_else(|| panic!("no {kind} {external} in {queue:?}"))
            .clone()
    };
    assert_eq!(entry("customer", "2")["reason"], "ambiguous");
    let gamma = entry("customer", "3");
    assert_eq!(gamma["reason"], "no_match");
    assert_eq!(gamma["record"]["name"], "Gamma");
    let waiting = entry("order", "11");
    assert_eq!(waiting["reason"], "customer_unmatched");
    assert_eq!(waiting["customer_external_id"], "3");

    // An order is imported through its customer, and bad resolutions are refused.
    let resolve = |review: i64, body: Value| {
        let server = &server;
        let token = tenant.token.clone();
        async move {
            server
                .post(
                    &format!("/api/v1/sync/reviews/{review}/resolution"),
                    &token,
                    body,
                )
                .await
        }
    };
    let (status, body) = resolve(
        id(&waiting),
        json!({"action": "link", "customer_id": target}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "review_order_waits_for_customer",
    );
    let (status, body) = resolve(id(&gamma), json!({"action": "merge"})).await;
    assert!(status.is_client_error(), "{status} {body}");
    let (status, body) = resolve(
        id(&gamma),
        json!({"action": "link", "customer_id": 999_999}),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // A team manager resolves only within the team's customers: the admin's target reads as
    // missing, and a new customer cannot go to an owner outside the team.
    let sales = server.department(&tenant, "SALES").await;
    let (_, manager) = server
        .user_with(
            &tenant,
            "mgr@sync.test",
            json!({"role": "manager", "department_id": sales}),
        )
        .await;
    let as_manager = async |body: Value| {
        let path = format!("/api/v1/sync/reviews/{}/resolution", id(&gamma));
        server.post(&path, &manager, body).await
    };
    let (status, body) = as_manager(json!({"action": "link", "customer_id": target})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = as_manager(json!({"action": "create", "owner_id": tenant.admin_id})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "owner_out_of_scope");
    let (_, still) = server
        .get(
            &format!("/api/v1/sync/reviews/{}", id(&gamma)),
            &tenant.token,
        )
        .await;
    assert_eq!(still["status"], "pending", "{still}");

    let (status, linked) =
        resolve(id(&gamma), json!({"action": "link", "customer_id": target})).await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    assert_eq!(linked["status"], "linked");
    assert_eq!(linked["customer_id"], target);
    assert_eq!(linked["resolved_by"], tenant.admin_id);
    let (status, body) = resolve(id(&gamma), json!({"action": "dismiss"})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "review_resolved");

    let (_, target_orders) = server
        .get(&format!("/api/v1/customers/{target}/orders"), &tenant.token)
        .await;
    let imported: Vec<&str> = target_orders["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{target_orders}"))
        .iter()
        .map(|o| o["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(imported.len(), 2, "{target_orders}");
    assert!(imported.contains(&"11") && imported.contains(&"12"));
    let (_, entry) = server
        .get(
            &format!("/api/v1/sync/reviews/{}", id(&waiting)),
            &tenant.token,
        )
        .await;
    assert_eq!(entry["status"], "imported");

    let (_, pending) = server.get("/api/v1/sync/reviews", &tenant.token).await;
    assert_eq!(
        pending.as_array().unwrap().len(),
        1,
        "only the ambiguous one: {pending}"
    );

    // Read again from scratch, nothing changes and nothing is queued twice.
    server
        .db
        .execute_unprepared("UPDATE sync_streams SET cursor = NULL")
        .await
        .unwrap();
    let again = sync_now(&server, &tenant).await;
    assert_eq!(counts(stream(&again, "customers")), [3, 0, 0, 2, 1]);
    assert_eq!(counts(stream(&again, "orders")), [3, 0, 0, 3, 0]);
    let (_, pending) = server.get("/api/v1/sync/reviews", &tenant.token).await;
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");

    // Dismissed, the entry stays dismissed when the ERP only touches the record, and comes
    // back when the record really changes.
    let ambiguous = id(&pending[0]);
    let (status, body) = resolve(ambiguous, json!({"action": "dismiss"})).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("dismissed")),
        "{body}"
    );
    let beta =
        |written: &str, email: &str| partner(2, written, json!({"name": "Beta", "email": email}));
    mock.upsert_partner(beta("2024-06-01 08:00:00", "shared@beta.example"));
    sync_now(&server, &tenant).await;
    let (_, pending) = server.get("/api/v1/sync/reviews", &tenant.token).await;
    assert_eq!(pending, json!([]), "a touch does not undo a dismissal");
    mock.upsert_partner(beta("2024-06-02 08:00:00", "new@beta.example"));
    sync_now(&server, &tenant).await;
    let (_, pending) = server.get("/api/v1/sync/reviews", &tenant.token).await;
    assert_eq!(pending[0]["id"], ambiguous, "{pending}");
    assert_eq!(pending[0]["reason"], "no_match");
}

/// 503s are retried with backoff and the run succeeds; bad credentials fail at once with the
/// connector's code and no retry; retries used up fail the run, and the next run resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_errors_back_off_and_bad_credentials_do_not() {
    let backend = Backend::Sqlite;
    let server = TestServer::start(backend).await;
    let tenant = server.tenant("faults").await;
    let at = "2024-05-01 08:00:00";
    let partners = (1..=5)
        .map(|n| partner(n, at, json!({"name": format!("P{n}")})))
        .collect();
    let orders = (1..=5)
        .map(|n| sale_order(n, n, at, "1", "EUR", at, "sale"))
        .collect();
    let mock = OdooMock::new(partners, orders, true);
    let odoo = odoo_server(mock.clone()).await;
    let unavailable = (503, "<html>Service Unavailable</html>".to_owned());

    enable_odoo(&server, &tenant, &odoo.base, "not-the-key").await;
    let check_path = format!("/api/v1/sync/connectors/{ODOO}/check");
    let (status, check) = server.post(&check_path, &tenant.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_ne!(check["outcome"], "ok", "{check}");
    assert!(check.to_string().contains("bad-credentials"), "{check}");
    let settings = json!({"source": "odoo", "unmatched": "create", "retry_base_ms": 20,
        "max_attempts": 3});
    assert_eq!(
        put_settings(&server, &tenant, settings).await.0,
        StatusCode::OK
    );
    let denied = sync_now(&server, &tenant).await;
    assert_eq!(denied["outcome"], "failed", "{denied}");
    assert_eq!(denied["error"]["code"], "bad-credentials");
    assert_eq!(denied["retries"], 0);
    assert!(!denied.to_string().contains("not-the-key"), "{denied}");
    let (_, plugin_runs) = server
        .get(
            &format!("/api/v1/tenant/plugins/{ODOO}/runs"),
            &tenant.token,
        )
        .await;
    assert!(
        plugin_runs.to_string().contains("bad-credentials"),
        "the failed call is in the plugin run log: {plugin_runs}"
    );

    enable_odoo(&server, &tenant, &odoo.base, ODOO_KEY).await;
    let (_, check) = server.post(&check_path, &tenant.token, json!({})).await;
    assert_eq!(check["outcome"], "ok", "{check}");
    mock.fail_next(vec![unavailable.clone(), unavailable.clone()]);
    let recovered = sync_now(&server, &tenant).await;
    assert_eq!(recovered["outcome"], "succeeded", "{recovered}");
    assert_eq!(recovered["retries"], 2);
    assert_eq!(counts(stream(&recovered, "orders")), [5, 5, 0, 0, 0]);

    mock.upsert_order(sale_order(
        6,
        1,
        "2024-06-01 08:00:00",
        "2",
        "EUR",
        at,
        "sale",
    ));
    mock.fail_next(vec![unavailable.clone(); 3]);
    let exhausted = sync_now(&server, &tenant).await;
    assert_eq!(exhausted["outcome"], "failed", "{exhausted}");
    assert_eq!(exhausted["error"]["code"], "upstream-error");
    assert_eq!(exhausted["retries"], 2, "three attempts");
    let resumed = sync_now(&server, &tenant).await;
    assert_eq!(resumed["outcome"], "succeeded", "{resumed}");
    assert_eq!(counts(stream(&resumed, "orders")), [1, 1, 0, 0, 0]);
}

/// Bad settings are refused field by field; a run is exclusive, a paused connector does not
/// run, the source is fixed once used, and only those granted `sync` may touch it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_checked_and_runs_are_exclusive() {
    let server = TestServer::start(Backend::Sqlite).await;
    let tenant = server.tenant("rules").await;
    let at = "2024-05-01 08:00:00";
    let mock = OdooMock::new(vec![partner(1, at, json!({"name": "P"}))], Vec::new(), true);
    let odoo = odoo_server(mock.clone()).await;

    let (status, body) = put_settings(&server, &tenant, json!({"source": "odoo"})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    enable_odoo(&server, &tenant, &odoo.base, ODOO_KEY).await;
    let bad = json!({"source": "manual", "page_size": 0, "interval_minutes": 0,
        "match_rule": {"by": "custom_field", "key": "a'b"}});
    let (status, body) = put_settings(&server, &tenant, bad).await;
    let error = invalid(status, &body);
    let fields: Vec<&str> = error["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["source", "page_size", "interval_minutes", "match_rule.key"]
    );
    let (status, body) =
        put_settings(&server, &tenant, json!({"source": "odoo", "colour": 1})).await;
    assert!(status.is_client_error(), "{body}");
    let (status, body) = server
        .post(
            &format!("/api/v1/sync/connectors/{ODOO}/runs"),
            &tenant.token,
            json!({}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let settings = json!({"source": "odoo", "unmatched": "create"});
    assert_eq!(
        put_settings(&server, &tenant, settings).await.0,
        StatusCode::OK
    );
    mock.set_delay(StdDuration::from_millis(1500));
    let path = format!("/api/v1/sync/connectors/{ODOO}/runs");
    let (status, first) = server.post(&path, &tenant.token, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, body) = server.post(&path, &tenant.token, json!({})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "sync_running");
    let (_, connector) = server
        .get(&format!("/api/v1/sync/connectors/{ODOO}"), &tenant.token)
        .await;
    assert!(connector["running_until"].is_string(), "{connector}");
    mock.set_delay(StdDuration::ZERO);
    assert_eq!(
        finished(&server, &tenant, id(&first)).await["outcome"],
        "succeeded"
    );

    let (status, body) = put_settings(
        &server,
        &tenant,
        json!({"source": "odoo-eu", "unmatched": "create"}),
    )
    .await;
    assert_error(status, &body, StatusCode::CONFLICT, "source_in_use");
    let paused = json!({"source": "odoo", "enabled": false});
    assert_eq!(
        put_settings(&server, &tenant, paused).await.0,
        StatusCode::OK
    );
    let (status, body) = server.post(&path, &tenant.token, json!({})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "connector_paused");

    let (_, member) = server.member(&tenant, "am@rules.test").await;
    let (status, body) = server.get("/api/v1/sync/runs", &member).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = server.get("/api/v1/sync/runs?limit=0", &tenant.token).await;
    invalid(status, &body);
    let (status, body) = server.get("/api/v1/sync/runs/424242", &tenant.token).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let other = server.tenant("other").await;
    let (_, runs) = server.get("/api/v1/sync/runs", &other.token).await;
    assert_eq!(runs, json!([]), "runs are the tenant's own");
    let (status, body) = server
        .get(&format!("/api/v1/sync/runs/{}", id(&first)), &other.token)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

/// A connector with an interval runs on its own, and is scheduled again after the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_syncs_start_on_their_own() {
    let jobs = JobOptions {
        tick: StdDuration::from_millis(100),
        ..JobOptions::default()
    };
    let server = TestServer::start_with_jobs(Backend::Sqlite, jobs).await;
    let tenant = server.tenant("sched").await;
    let at = "2024-05-01 08:00:00";
    let mock = OdooMock::new(vec![partner(1, at, json!({"name": "P"}))], Vec::new(), true);
    let odoo = odoo_server(mock).await;
    enable_odoo(&server, &tenant, &odoo.base, ODOO_KEY).await;
    let settings = json!({"source": "odoo", "unmatched": "create", "interval_minutes": 60});
    let (status, connector) = put_settings(&server, &tenant, settings).await;
    assert_eq!(status, StatusCode::OK, "{connector}");
    assert!(connector["next_run_at"].is_string());
    eventually("a scheduled run to succeed", 30, || async {
        let runs = server.get("/api/v1/sync/runs", &tenant.token).await.1;
        runs[0]["outcome"] == "succeeded"
    })
    .await;
    let runs = server.get("/api/v1/sync/runs", &tenant.token).await.1;
    assert_eq!(runs[0]["trigger"], "schedule");
    let (_, connector) = server
        .get(&format!("/api/v1/sync/connectors/{ODOO}"), &tenant.token)
        .await;
    let next = connector["next_run_at"].as_str().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    let wait = next.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        wait > chrono::Duration::minutes(58),
        "the next run is an interval away: {connector}"
    );
}

/// The connector's reads wait for its rate limit: at 120 reads a minute (two a second, in
/// bursts of two) each read after the first two waits half a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_keep_to_the_rate_limit() {
    let server = TestServer::start(Backend::Sqlite).await;
    let tenant = server.tenant("paced").await;
    let at = "2024-05-01 08:00:00";
    let partners = vec![partner(1, at, json!({"name": "P"}))];
    let orders = (1..=30)
        .map(|n| {
            sale_order(
                n,
                1,
                &format!("2024-05-01 09:00:{n:02}"),
                "1",
                "EUR",
                at,
                "sale",
            )
        })
        .collect();
    let mock = OdooMock::new(partners, orders, true);
    let odoo = odoo_server(mock.clone()).await;
    enable_odoo(&server, &tenant, &odoo.base, ODOO_KEY).await;
    let settings = json!({"source": "odoo", "unmatched": "create", "page_size": 5,
        "reads_per_minute": 120});
    assert_eq!(
        put_settings(&server, &tenant, settings).await.0,
        StatusCode::OK
    );
    let run = sync_now(&server, &tenant).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let reads = mock.search_reads() as i64;
    assert!(
        reads >= 8,
        "a customer page and at least seven order pages: {reads}"
    );
    let took = run["duration_ms"].as_i64().unwrap();
    let floor = (reads - 2) * 500 - 100;
    assert!(
        took >= floor,
        "{reads} reads at 2/s after a burst of 2 took only {took} ms"
    );
}
