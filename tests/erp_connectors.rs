//! The production ERP connectors (`plugins/odoo-connector`, `plugins/erpnext-connector`)
//! through the real host, against loopback servers that answer as Odoo's external JSON-RPC API
//! and Frappe's REST API do (shapes from `external-apis.md`).
//!
//! The Odoo mock (`rapport_tests::odoo_mock`) evaluates the search domains it receives (prefix
//! `|`, `&`, `!` over `write_date`/`id` triples), sorts by the `order` asked for and honours
//! `limit`/`offset`; like a real Odoo before 18.4 it can store `write_date` with microseconds
//! while it serialises whole seconds (odoo/odoo#203626 describes that behaviour and 18.4's fix;
//! res.partner lost `mobile` in saas-18.2, odoo/odoo#189739). The Frappe mock decodes `fields`,
//! `filters` (AND of `[field, op, value]`), `order_by`, `limit_start` and `limit_page_length`
//! and sorts by `modified`, then `name`, as `frappe.client.get_list` does. Every test checks the
//! exact requests, the records, and the stable code and retryability of each failure; secrets
//! never reach the run log or an error message.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use rapport::domain::erp_records::{
    ExternalCustomer, ExternalOrder, ExternalRecord, Page, ReadRequest, RecordKind,
};
use rapport::domain::plugin::{PluginKind, PluginManifest};
use rapport::plugins::{
    ErpPlugin, Grants, Invocation, Limits, PluginEngine, PluginError, RunLog, embedded_manifest,
};
use rapport_tests::http_peer::{Received, Server};
use rapport_tests::odoo_mock::{
    ODOO_DB, ODOO_KEY, ODOO_LOGIN, ODOO_UID, OdooMock, OdooRow, bulk_orders, bulk_partners,
    compare, odoo_server, odoo_text, odoo_time, partner, rpc_result, sale_order,
};
use rapport_tests::plugin_component;
use serde_json::{Map, Value, json};

const FRAPPE_KEY: &str = "a1b2c3d4e5f6a7b";
const FRAPPE_SECRET: &str = "frappe-s3cr3t-0123456789abcdef";

fn grants(config: &[(&str, &str)], secrets: &[&str]) -> Arc<Grants> {
    Arc::new(Grants {
        config: config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        secret_keys: secrets.iter().map(|s| (*s).to_owned()).collect(),
        allowed_hosts: HashSet::from(["127.0.0.1".to_owned()]),
    })
}

/// An Odoo configuration against `base`, with `extra` settings replacing or adding keys.
fn odoo_grants(base: &str, extra: &[(&str, &str)]) -> Arc<Grants> {
    let mut config = vec![
        ("base_url", base),
        ("database", ODOO_DB),
        ("login", ODOO_LOGIN),
        ("api_key", ODOO_KEY),
    ];
    for &(key, value) in extra {
        config.retain(|&(k, _)| k != key);
        config.push((key, value));
    }
    grants(&config, &["api_key"])
}

fn frappe_grants(base: &str, extra: &[(&str, &str)]) -> Arc<Grants> {
    let mut config = vec![
        ("base_url", base),
        ("api_key", FRAPPE_KEY),
        ("api_secret", FRAPPE_SECRET),
    ];
    for &(key, value) in extra {
        config.retain(|&(k, _)| k != key);
        config.push((key, value));
    }
    grants(&config, &["api_secret"])
}

async fn connector(name: &str) -> ErpPlugin {
    let engine = PluginEngine::new(None).unwrap();
    let component = engine.load(&plugin_component(name)).unwrap();
    ErpPlugin::new(engine, &component).unwrap()
}

fn limits() -> Limits {
    Limits::erp_connector()
}

fn request(stream: &str, cursor: Option<String>, page_size: u32) -> ReadRequest {
    ReadRequest {
        stream: stream.into(),
        cursor,
        page_size,
    }
}

/// The plugin's own error, as `(code, retryable, message)`.
fn reported<T: std::fmt::Debug>(run: &Invocation<T>) -> (&str, bool, &str) {
    match &run.outcome {
        Err(PluginError::Reported {
            code,
            retryable,
            message,
        }) => (code.as_str(), *retryable, message.as_str()),
        other => panic!("expected an error the plugin reported, got {other:?}"),
    }
}

fn assert_reported<T: std::fmt::Debug>(run: &Invocation<T>, code: &str, retryable: bool) {
    let (got, got_retryable, message) = reported(run);
    assert_eq!(
        (got, got_retryable),
        (code, retryable),
        "message: {message}"
    );
}

/// The secret must be nowhere in what the plugin logged, whichever way the log is rendered.
fn assert_redacted(log: &RunLog, secret: &str) {
    let rendered = [format!("{log:?}"), serde_json::to_string(log).unwrap()];
    assert!(
        rendered.iter().all(|text| !text.contains(secret)),
        "secret in the run log: {log:?}"
    );
}

/// A loopback server that accepts connections and never answers.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (base, task)
}

/// A loopback address nothing listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    base
}

/// Reads `stream` from the start, passing each returned cursor to the next call, until a page
/// says there is no more (at most `max_pages`, so a connector that loops fails the test).
async fn read_all(
    plugin: &ErpPlugin,
    grants: &Arc<Grants>,
    stream: &str,
    page_size: u32,
    max_pages: usize,
) -> Vec<Page> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let run = plugin
            .read(
                &request(stream, cursor.clone(), page_size),
                grants.clone(),
                &limits(),
            )
            .await;
        let page = run
            .outcome
            .unwrap_or_else(|error| panic!("page {}: {error:?}", pages.len() + 1));
        let has_more = page.has_more;
        assert!(page.next_cursor.is_some(), "every page carries a cursor");
        cursor = page.next_cursor.clone();
        pages.push(page);
        if !has_more {
            return pages;
        }
        assert!(pages.len() < max_pages, "the stream does not end");
    }
}

fn customer_ids(pages: &[Page]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|page| &page.records)
        .map(|record| match record {
            ExternalRecord::Customer(customer) => customer.external_id.clone(),
            other => panic!("a customer stream yielded {other:?}"),
        })
        .collect()
}

fn manifest_of(name: &str) -> PluginManifest {
    let text = embedded_manifest(&plugin_component(name))
        .unwrap()
        .unwrap_or_else(|| panic!("{name} embeds no manifest"));
    PluginManifest::from_toml(&text).unwrap()
}

/// Each connector's embedded manifest installs as it is, names its secret as `writeOnly`, and
/// declares the very schema `spec` returns, with its two streams; the schema accepts a working
/// configuration and refuses incomplete or out-of-range ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connector_embeds_a_manifest_that_matches_its_spec() {
    let cases = [
        (
            "odoo-connector",
            "rapport.odoo-connector",
            vec!["api_key"],
            json!({"base_url": "https://acme.odoo.com", "database": ODOO_DB, "login": ODOO_LOGIN, "api_key": ODOO_KEY, "page_size": 200}),
            vec![
                json!({"base_url": "https://acme.odoo.com", "database": ODOO_DB, "login": ODOO_LOGIN}),
                json!({"base_url": "acme.odoo.com", "database": ODOO_DB, "login": ODOO_LOGIN, "api_key": ODOO_KEY}),
                json!({"base_url": "https://acme.odoo.com", "database": ODOO_DB, "login": ODOO_LOGIN, "api_key": ODOO_KEY, "page_size": 0}),
            ],
        ),
        (
            "erpnext-connector",
            "rapport.erpnext-connector",
            vec!["api_secret"],
            json!({"base_url": "https://acme.erpnext.com", "api_key": FRAPPE_KEY, "api_secret": FRAPPE_SECRET, "time_zone": "Asia/Shanghai"}),
            vec![
                json!({"base_url": "https://acme.erpnext.com", "api_key": FRAPPE_KEY}),
                json!({"base_url": "https://acme.erpnext.com", "api_key": FRAPPE_KEY, "api_secret": FRAPPE_SECRET, "page_size": 5001}),
            ],
        ),
    ];
    for (name, id, secrets, good, bad) in cases {
        let manifest = manifest_of(name);
        assert_eq!(manifest.id, id);
        assert_eq!(manifest.kind, PluginKind::ErpConnector);
        assert_eq!(manifest.api_version, "0.4.0");
        assert_eq!(
            manifest.secret_keys().into_iter().collect::<Vec<_>>(),
            secrets,
            "{name}"
        );
        assert_eq!(manifest.http_hosts, ["localhost", "127.0.0.1"], "{name}");

        let spec = connector(name)
            .await
            .spec(Arc::new(Grants::default()), &limits())
            .await
            .outcome
            .unwrap();
        assert_eq!(
            spec.config_schema, manifest.config_schema,
            "{name}: spec and manifest disagree"
        );
        let streams: Vec<_> = spec
            .streams
            .iter()
            .map(|s| (s.name.as_str(), s.kind))
            .collect();
        assert_eq!(
            streams,
            [
                ("customers", RecordKind::Customer),
                ("orders", RecordKind::Order)
            ]
        );
        assert!(
            manifest.validate_config(good.as_object().unwrap()).is_ok(),
            "{name}: {good}"
        );
        for config in bad {
            assert!(
                manifest
                    .validate_config(config.as_object().unwrap())
                    .is_err(),
                "{name} accepted {config}"
            );
        }
    }
}

// ---- Odoo mock helpers ----------------------------------------------------------------

/// The bodies the server received, parsed.
fn bodies(server: &Server) -> Vec<Value> {
    server
        .received()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect()
}

fn login_body(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "method": "call", "id": id, "params": {
        "service": "common", "method": "login", "args": [ODOO_DB, ODOO_LOGIN, ODOO_KEY]}})
}

fn search_body(
    id: u64,
    model: &str,
    domain: Value,
    fields: &[&str],
    order: &str,
    limit: u32,
) -> Value {
    json!({"jsonrpc": "2.0", "method": "call", "id": id, "params": {
        "service": "object", "method": "execute_kw",
        "args": [ODOO_DB, ODOO_UID, ODOO_KEY, model, "search_read", [domain],
                 {"fields": fields, "order": order, "limit": limit, "offset": 0}]}})
}

const PARTNER_FIELDS: [&str; 9] = [
    "id",
    "name",
    "is_company",
    "vat",
    "email",
    "phone",
    "mobile",
    "industry_id",
    "write_date",
];

/// `count` partners over three write dates (400, 600 and the rest), with ids that do not follow
/// the write order; with `micros`, each stored `write_date` also carries microseconds whose order
/// differs from the ids' within a second.
fn many_partners(count: i64, micros: bool) -> (Vec<OdooRow>, [&'static str; 3]) {
    let dates = [
        "2024-03-01 08:00:00",
        "2024-03-01 09:30:15",
        "2024-03-02 00:00:00",
    ];
    let rows = (0..count)
        .map(|n| {
            let second = dates[match n {
                0..400 => 0,
                400..1000 => 1,
                _ => 2,
            }];
            let micro = if micros { (n * 7_919) % 1_000_000 } else { 0 };
            OdooRow {
                // A permutation of 1..=count that interleaves the three dates.
                id: (n * 7_919) % count + 1,
                written: odoo_time(second) + TimeDelta::microseconds(micro),
                values: Map::from_iter([("name".to_owned(), json!(format!("Partner {n}")))]),
            }
        })
        .collect();
    (rows, dates)
}

// ---- Odoo --------------------------------------------------------------------------------

/// 1,250 partners sharing three write dates, read 500 at a time: every one exactly once, in
/// (`write_date`, `id`) order, each page resuming from the cursor the previous one returned,
/// with the exact JSON-RPC requests (the tie-break domain, then the walk of one second by id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odoo_reads_many_records_sharing_a_write_date_exactly_once() {
    let (partners, dates) = many_partners(1250, false);
    let mut expected: Vec<(NaiveDateTime, i64)> =
        partners.iter().map(|row| (row.written, row.id)).collect();
    expected.sort();
    let max_id_of_first_date = partners[..400].iter().map(|r| r.id).max().unwrap();
    let server = odoo_server(OdooMock::new(partners, Vec::new(), true)).await;
    let plugin = connector("odoo-connector").await;
    let grants = odoo_grants(&server.base, &[]);

    let pages = read_all(&plugin, &grants, "customers", 500, 10).await;
    let ids = customer_ids(&pages);
    let expected_ids: Vec<String> = expected.iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(ids, expected_ids, "each record once, in key order");
    let shape: Vec<_> = pages
        .iter()
        .map(|p| (p.records.len(), p.has_more))
        .collect();
    // A full page hands out only its complete seconds; a full page of one second walks it by id.
    assert_eq!(shape, [(400, true), (500, true), (350, false)]);
    let cursors: Vec<Value> = pages
        .iter()
        .map(|p| serde_json::from_str(p.next_cursor.as_deref().unwrap()).unwrap())
        .collect();
    let fifth_hundred_of_second_date = expected[899].1;
    let last = expected.last().unwrap();
    assert_eq!(
        cursors,
        [
            json!({"write_date": dates[0], "id": max_id_of_first_date}),
            json!({"write_date": dates[1], "id": fifth_hundred_of_second_date}),
            json!({"write_date": dates[2], "id": last.1}),
        ]
    );

    let fields = &PARTNER_FIELDS;
    let order = "write_date asc, id asc";
    let after = |second: &str, next: &str, id: i64| {
        json!([
            "|",
            ["write_date", ">=", next],
            "&",
            "&",
            ["write_date", ">=", second],
            ["write_date", "<", next],
            ["id", ">", id]
        ])
    };
    assert_eq!(
        bodies(&server),
        [
            // Page 1: from the start.
            login_body(1),
            search_body(2, "res.partner", json!([]), fields, order, 500),
            // Page 2: after the first date, whose records were all handed out; the page is all
            // the second date, so that second is read again by id.
            login_body(1),
            search_body(
                2,
                "res.partner",
                after(dates[0], "2024-03-01 08:00:01", max_id_of_first_date),
                fields,
                order,
                500
            ),
            search_body(
                3,
                "res.partner",
                json!([
                    ["write_date", ">=", dates[1]],
                    ["write_date", "<", "2024-03-01 09:30:16"],
                    ["id", ">", 0]
                ]),
                fields,
                "id asc",
                500
            ),
            // Page 3: the rest of the second date by the tie-break, then the third date.
            login_body(1),
            search_body(
                2,
                "res.partner",
                after(
                    dates[1],
                    "2024-03-01 09:30:16",
                    fifth_hundred_of_second_date
                ),
                fields,
                order,
                500
            ),
        ]
    );

    // Resuming from the last cursor later finds nothing new and keeps the cursor.
    let run = plugin
        .read(
            &request("customers", pages[2].next_cursor.clone(), 500),
            grants.clone(),
            &limits(),
        )
        .await;
    let page = run.outcome.unwrap();
    assert!(page.records.is_empty() && !page.has_more);
    assert_eq!(page.next_cursor, pages[2].next_cursor);
    assert_redacted(&run.log, ODOO_KEY);
}

/// Odoo before 18.4 stores `write_date` with microseconds and sends whole seconds: a bare
/// `write_date > T` would hand out the second `T` again (shown on the mock below), and the order
/// within a second follows the hidden microseconds. The connector still reads every record
/// once, its seconds in order, and the config's smaller page size applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odoo_hidden_microseconds_neither_repeat_nor_skip_records() {
    let (partners, dates) = many_partners(1250, true);
    let all_ids: BTreeSet<i64> = partners.iter().map(|row| row.id).collect();
    let mock = OdooMock::new(partners, Vec::new(), true);

    // The hazard: on such a server the plain tie-break domain returns records of T again.
    let naive = json!([
        "|",
        ["write_date", ">", dates[0]],
        "&",
        ["write_date", "=", dates[0]],
        ["id", ">", 1_000_000]
    ]);
    let again = mock
        .search_read("res.partner", naive.as_array().unwrap(), &json!({"fields": ["id", "write_date"], "order": "write_date asc, id asc", "limit": 10, "offset": 0}))
        .unwrap();
    assert_eq!(
        again[0]["write_date"], dates[0],
        "the mock reproduces the hazard"
    );

    let server = odoo_server(mock).await;
    let plugin = connector("odoo-connector").await;
    let grants = odoo_grants(&server.base, &[("page_size", "300")]);
    let pages = read_all(&plugin, &grants, "customers", 500, 20).await;
    let ids: Vec<i64> = customer_ids(&pages)
        .iter()
        .map(|id| id.parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 1250, "no record twice");
    assert_eq!(
        ids.iter().copied().collect::<BTreeSet<_>>(),
        all_ids,
        "no record skipped"
    );
    let seconds: Vec<String> = pages
        .iter()
        .flat_map(|page| &page.records)
        .map(|record| match record {
            ExternalRecord::Customer(c) => c.modified_at.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert!(seconds.windows(2).all(|w| w[0] <= w[1]), "seconds in order");
    for page in &pages {
        assert!(page.records.len() <= 300, "the config's page size applies");
    }
    for body in bodies(&server)
        .iter()
        .filter(|b| b["params"]["method"] == "execute_kw")
    {
        assert_eq!(body["params"]["args"][6]["limit"], 300);
    }
}

/// Odoo's value forms become the host's records: `false` for empty chars, many2one pairs,
/// UTC datetimes, `mobile` when there is no `phone`, float amounts as exact decimal strings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odoo_fields_map_onto_customers_and_orders() {
    let partners = vec![
        partner(
            5,
            "2024-01-02 03:04:05",
            json!({"name": "Acme Trading Co.", "is_company": true, "vat": "CN91310000MA1FL0000X", "email": "buyer@acme.example", "phone": "+86 21 5555 0100", "mobile": "+86 138 0013 8000", "industry_id": [3, "Wholesale"]}),
        ),
        partner(
            6,
            "2024-01-02 03:04:05",
            json!({"name": "Li Wei", "is_company": false, "vat": false, "email": false, "phone": false, "mobile": "+86 139 0000 0000", "industry_id": false}),
        ),
    ];
    let order = |id: i64, amount: Value, state: &str| {
        OdooRow {
        id,
        written: odoo_time("2024-02-29 23:59:59"),
        values: json!({"name": format!("S{id:05}"), "partner_id": [5, "Acme Trading Co."], "amount_total": amount, "currency_id": [7, "CNY"], "date_order": "2024-02-28 16:00:00", "state": state}).as_object().unwrap().clone(),
    }
    };
    let orders = vec![
        order(41, json!(1234.5), "sale"),
        order(42, json!(0.1 + 0.2), "draft"),
        order(43, json!(1500), "cancel"),
        order(44, json!(19_999_999.99), "done"),
        order(45, json!(-12.3), "sale"),
    ];
    let server = odoo_server(OdooMock::new(partners, orders, true)).await;
    let plugin = connector("odoo-connector").await;
    let grants = odoo_grants(&server.base, &[]);

    let customers = plugin
        .read(&request("customers", None, 100), grants.clone(), &limits())
        .await
        .outcome
        .unwrap();
    assert_eq!(
        customers.records,
        [
            ExternalRecord::Customer(ExternalCustomer {
                external_id: "5".into(),
                name: "Acme Trading Co.".into(),
                is_company: true,
                tax_id: Some("CN91310000MA1FL0000X".into()),
                email: Some("buyer@acme.example".into()),
                phone: Some("+86 21 5555 0100".into()),
                industry: Some("Wholesale".into()),
                modified_at: "2024-01-02T03:04:05Z".into(),
            }),
            ExternalRecord::Customer(ExternalCustomer {
                external_id: "6".into(),
                name: "Li Wei".into(),
                is_company: false,
                tax_id: None,
                email: None,
                phone: Some("+86 139 0000 0000".into()),
                industry: None,
                modified_at: "2024-01-02T03:04:05Z".into(),
            }),
        ]
    );
    assert!(!customers.has_more);
    assert_eq!(
        serde_json::from_str::<Value>(customers.next_cursor.as_deref().unwrap()).unwrap(),
        json!({"write_date": "2024-01-02 03:04:05", "id": 6})
    );

    let orders = plugin
        .read(&request("orders", None, 100), grants.clone(), &limits())
        .await
        .outcome
        .unwrap();
    let amounts: Vec<(&str, &str, &str)> = orders
        .records
        .iter()
        .map(|record| match record {
            ExternalRecord::Order(o) => {
                (o.external_id.as_str(), o.amount.as_str(), o.status.as_str())
            }
            other => panic!("an order stream yielded {other:?}"),
        })
        .collect();
    assert_eq!(
        amounts,
        [
            ("41", "1234.5", "sale"),
            ("42", "0.3", "draft"),
            ("43", "1500", "cancel"),
            ("44", "19999999.99", "done"),
            ("45", "-12.3", "sale"),
        ]
    );
    assert_eq!(
        orders.records[0],
        ExternalRecord::Order(ExternalOrder {
            external_id: "41".into(),
            customer_external_id: "5".into(),
            amount: "1234.5".into(),
            currency: "CNY".into(),
            ordered_at: "2024-02-28T16:00:00Z".into(),
            status: "sale".into(),
            modified_at: "2024-02-29T23:59:59Z".into(),
        })
    );
    let requests = bodies(&server);
    assert_eq!(
        requests[3],
        search_body(
            2,
            "sale.order",
            json!([]),
            &[
                "id",
                "name",
                "partner_id",
                "amount_total",
                "currency_id",
                "date_order",
                "state",
                "write_date"
            ],
            "write_date asc, id asc",
            100
        )
    );
}

/// Odoo 18.2+ has no `res.partner.mobile`: the connector asks once more without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odoo_without_a_mobile_field_is_read_without_it() {
    let partners = vec![partner(
        9,
        "2024-05-01 10:00:00",
        json!({"name": "Zhang San", "phone": "+86 10 1234 5678"}),
    )];
    let server = odoo_server(OdooMock::new(partners, Vec::new(), false)).await;
    let plugin = connector("odoo-connector").await;
    let page = plugin
        .read(
            &request("customers", None, 50),
            odoo_grants(&server.base, &[]),
            &limits(),
        )
        .await
        .outcome
        .unwrap();
    assert_eq!(customer_ids(&[page]), ["9"]);
    let without_mobile: Vec<&str> = PARTNER_FIELDS
        .iter()
        .copied()
        .filter(|f| *f != "mobile")
        .collect();
    assert_eq!(
        bodies(&server),
        [
            login_body(1),
            search_body(
                2,
                "res.partner",
                json!([]),
                &PARTNER_FIELDS,
                "write_date asc, id asc",
                50
            ),
            search_body(
                3,
                "res.partner",
                json!([]),
                &without_mobile,
                "write_date asc, id asc",
                50
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odoo_check_logs_in_and_tells_bad_credentials_apart() {
    let server = odoo_server(OdooMock::new(Vec::new(), Vec::new(), true)).await;
    let plugin = connector("odoo-connector").await;
    let good = plugin
        .check(odoo_grants(&server.base, &[]), &limits())
        .await;
    assert_eq!(good.outcome, Ok(()));
    assert_eq!(bodies(&server), [login_body(1)]);

    let wrong = "wrong-0d00-k3y-999999";
    for run in [
        plugin
            .check(odoo_grants(&server.base, &[("api_key", wrong)]), &limits())
            .await,
        plugin
            .read(
                &request("orders", None, 10),
                odoo_grants(&server.base, &[("api_key", wrong)]),
                &limits(),
            )
            .await
            .and_then(|_| Ok(())),
    ] {
        assert_reported(&run, "bad-credentials", false);
        assert!(!reported(&run).2.contains(wrong));
        assert_redacted(&run.log, wrong);
    }
    // A refused login stops the read before any search.
    assert_eq!(bodies(&server).len(), 3);
}

/// A server whose login works and whose every other call gets `answer`.
async fn odoo_answering(answer: (u16, &'static str)) -> Server {
    Server::start(move |request| {
        let body: Value = serde_json::from_str(&request.body).unwrap();
        if body["params"]["method"] == "login" {
            return rpc_result(&body["id"], json!(ODOO_UID));
        }
        (answer.0, answer.1.to_owned())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odoo_failures_map_to_stable_codes() {
    let plugin = connector("odoo-connector").await;
    let access_error = r#"{"jsonrpc":"2.0","id":2,"error":{"code":200,"message":"Odoo Server Error","data":{"name":"odoo.exceptions.AccessError","message":"You are not allowed to access 'Sales Order' (sale.order) records.","arguments":[],"debug":"Traceback…"}}}"#;
    let access_denied = r#"{"jsonrpc":"2.0","id":2,"error":{"code":200,"message":"Odoo Server Error","data":{"name":"odoo.exceptions.AccessDenied","message":"Access Denied","arguments":[],"debug":"Traceback…"}}}"#;
    let expired = r#"{"jsonrpc":"2.0","id":2,"error":{"code":100,"message":"Odoo Session Expired","data":{"name":"odoo.http.SessionExpiredException","message":"Session expired","arguments":[],"debug":"Traceback…"}}}"#;
    let validation = r#"{"jsonrpc":"2.0","id":2,"error":{"code":200,"message":"Odoo Server Error","data":{"name":"odoo.exceptions.ValidationError","message":"Invalid domain","arguments":[],"debug":"Traceback…"}}}"#;
    let cases: [((u16, &'static str), &str, bool); 12] = [
        ((200, access_error), "bad-credentials", false),
        ((200, access_denied), "bad-credentials", false),
        ((200, expired), "session-expired", true),
        ((200, validation), "upstream-error", false),
        (
            (503, "<html>Service Unavailable</html>"),
            "upstream-error",
            true,
        ),
        ((500, "{}"), "upstream-error", true),
        ((429, ""), "rate-limited", true),
        ((404, "<html>Not Found</html>"), "upstream-error", false),
        (
            (200, "<html>Odoo is starting</html>"),
            "malformed-response",
            false,
        ),
        (
            (200, r#"{"jsonrpc":"2.0","id":2}"#),
            "malformed-response",
            false,
        ),
        (
            (200, r#"{"jsonrpc":"2.0","id":2,"result":{"records":[]}}"#),
            "malformed-response",
            false,
        ),
        (
            (
                200,
                r#"{"jsonrpc":"2.0","id":2,"result":[{"id":1,"name":"No date","write_date":"01/02/2024"}]}"#,
            ),
            "malformed-response",
            false,
        ),
    ];
    for (answer, code, retryable) in cases {
        let server = odoo_answering(answer).await;
        let run = plugin
            .read(
                &request("orders", None, 10),
                odoo_grants(&server.base, &[]),
                &limits(),
            )
            .await;
        assert_reported(&run, code, retryable);
        assert!(!reported(&run).2.contains(ODOO_KEY), "{}", reported(&run).2);
        assert_redacted(&run.log, ODOO_KEY);
        assert_eq!(
            server.received().len(),
            2,
            "{answer:?}: login and one search, no retry"
        );
    }
    // An Odoo whose fault names the model it failed on quotes that, not the traceback.
    let server = odoo_answering((200, validation)).await;
    let run = plugin
        .read(
            &request("orders", None, 10),
            odoo_grants(&server.base, &[]),
            &limits(),
        )
        .await;
    let (_, _, message) = reported(&run);
    assert!(
        message.contains("ValidationError") && message.contains("Invalid domain"),
        "{message}"
    );
    assert!(!message.contains("Traceback"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odoo_bad_configurations_and_cursors_are_refused_before_any_traffic() {
    let server = odoo_server(OdooMock::new(Vec::new(), Vec::new(), true)).await;
    let plugin = connector("odoo-connector").await;
    let cases = [
        (
            vec![("base_url", "http://odoo.example.com")],
            "invalid-config",
        ),
        (vec![("base_url", "ftp://127.0.0.1/")], "invalid-config"),
        (
            vec![("base_url", "https://user:pw@odoo.example.com")],
            "invalid-config",
        ),
        (vec![("database", "")], "invalid-config"),
        (vec![("page_size", "0")], "invalid-config"),
        (vec![("page_size", "lots")], "invalid-config"),
    ];
    for (extra, code) in cases {
        let run = plugin
            .read(
                &request("customers", None, 10),
                odoo_grants(&server.base, &extra),
                &limits(),
            )
            .await;
        assert_reported(&run, code, false);
    }
    for cursor in [
        "not json",
        r#"{"write_date":"2024-02-30 00:00:00","id":1}"#,
        r#"{"write_date":"2024-01-01 00:00:00"}"#,
    ] {
        let run = plugin
            .read(
                &request("customers", Some(cursor.into()), 10),
                odoo_grants(&server.base, &[]),
                &limits(),
            )
            .await;
        assert_reported(&run, "invalid-cursor", false);
    }
    let run = plugin
        .read(
            &request("invoices", None, 10),
            odoo_grants(&server.base, &[]),
            &limits(),
        )
        .await;
    assert_reported(&run, "unknown-stream", false);
    assert!(server.received().is_empty());
}

/// The whole-second tie-break domain the connector sends after the cursor `(second, id)`.
fn tie_break(second: NaiveDateTime, id: i64) -> Value {
    let next = odoo_text(second + TimeDelta::seconds(1));
    json!([
        "|",
        ["write_date", ">=", next],
        "&",
        "&",
        ["write_date", ">=", odoo_text(second)],
        ["write_date", "<", next],
        ["id", ">", id]
    ])
}

/// The walk of one second by id the connector sends after a full page of that second.
fn one_second(second: NaiveDateTime, id: i64) -> Value {
    json!([
        ["write_date", ">=", odoo_text(second)],
        ["write_date", "<", odoo_text(second + TimeDelta::seconds(1))],
        ["id", ">", id]
    ])
}

/// The mock answers the connector's keyset domains from a binary search over its sorted rows;
/// on bulk data with many ties, rows moved by upserts and random cursors, that answers exactly
/// as testing every row does, and rows stored with microseconds switch it off.
#[test]
fn odoo_mock_answers_keyset_domains_from_sorted_rows_as_by_testing_every_row() {
    const ORDER_FIELDS: [&str; 8] = [
        "id",
        "name",
        "partner_id",
        "amount_total",
        "currency_id",
        "date_order",
        "state",
        "write_date",
    ];
    let first = odoo_time("2024-03-01 00:00:00");
    let mock = OdooMock::new(
        bulk_partners(950, "2024-03-01 00:00:00"),
        bulk_orders(3_000, 37, "2024-03-01 00:00:00", 100),
        true,
    );
    // Deterministic pseudo-random numbers (a 64-bit LCG).
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move |below: i64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) % below as u64) as i64
    };
    // Move some orders to other seconds and add new ids written early, so that ids no longer
    // follow the write order.
    for _ in 0..200 {
        let written = odoo_text(first + TimeDelta::seconds(random(30)));
        let id = 1 + random(3_100);
        let amount = format!("{}.{:02}", random(5_000), random(100));
        mock.upsert_order(sale_order(
            id,
            1 + random(37),
            &written,
            &amount,
            "EUR",
            "2024-02-29 12:00:00",
            "sale",
        ));
    }
    mock.upsert_partner(partner(
        3,
        "2024-03-01 00:00:05",
        json!({"name": "Moved", "email": false}),
    ));

    let check = |model: &str, fields: &[&str], domain: Value, order: &str, limit: u32| {
        for offset in [0, 3] {
            let kwargs =
                json!({"fields": fields, "order": order, "limit": limit, "offset": offset});
            let domain = domain.as_array().unwrap();
            assert!(mock.indexed(model, domain, order), "{domain:?} {order}");
            let fast = mock.search_read(model, domain, &kwargs).unwrap();
            let generic = mock.search_read_generic(model, domain, &kwargs).unwrap();
            assert_eq!(fast, generic, "{model} {domain:?} {order} {kwargs}");
        }
    };
    for round in 0..40 {
        let second = first + TimeDelta::seconds(random(34) - 2);
        let id = random(3_200);
        let limit = [1, 7, 250, 600, 5_000][round % 5];
        check(
            "sale.order",
            &ORDER_FIELDS,
            tie_break(second, id),
            "write_date asc, id asc",
            limit,
        );
        check(
            "sale.order",
            &ORDER_FIELDS,
            one_second(second, id),
            "id asc",
            limit,
        );
        check(
            "sale.order",
            &ORDER_FIELDS,
            one_second(second, id),
            "write_date asc, id asc",
            limit,
        );
        // The documented form, which the hidden microseconds of a real Odoo break.
        let naive = json!([
            "|",
            ["write_date", ">", odoo_text(second)],
            "&",
            ["write_date", "=", odoo_text(second)],
            ["id", ">", id]
        ]);
        check(
            "sale.order",
            &ORDER_FIELDS,
            naive,
            "write_date asc, id asc",
            limit,
        );
        let partner_second = first + TimeDelta::seconds(random(12) - 1);
        check(
            "res.partner",
            &PARTNER_FIELDS,
            tie_break(partner_second, random(1_000)),
            "write_date asc, id asc",
            limit,
        );
    }
    check(
        "sale.order",
        &ORDER_FIELDS,
        json!([]),
        "write_date asc, id asc",
        5_000,
    );
    check(
        "res.partner",
        &PARTNER_FIELDS,
        json!([]),
        "write_date asc, id asc",
        100,
    );

    // The first page from the start is the (write_date, id) order's first rows, as Odoo serialises
    // them.
    let kwargs =
        json!({"fields": ORDER_FIELDS, "order": "write_date asc, id asc", "limit": 3, "offset": 0});
    let page = mock.search_read("sale.order", &[], &kwargs).unwrap();
    let rows = page.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let fields: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields.len(), ORDER_FIELDS.len());
        assert!(
            ORDER_FIELDS.iter().all(|field| fields.contains(field)),
            "{row}"
        );
        assert_eq!(row["currency_id"], json!([1, "EUR"]));
        assert!(row["amount_total"].is_f64(), "{row}");
        assert_eq!(
            row["partner_id"][1],
            format!("Partner {}", row["partner_id"][0])
        );
    }

    // Domains that are no single range, or not in the order asked for, are tested row by row.
    for (domain, order) in [
        (json!([["id", ">", 10]]), "write_date asc, id asc"),
        (json!(["!", ["id", "=", 5]]), "write_date asc, id asc"),
        (json!([]), "id asc"),
        (tie_break(first, 5), "id asc"),
        (
            json!(["|", ["id", "=", 5], ["id", "=", 9]]),
            "write_date asc, id asc",
        ),
    ] {
        assert!(
            !mock.indexed("sale.order", domain.as_array().unwrap(), order),
            "{domain}"
        );
    }
    // One order stored with microseconds: whole-second bounds no longer delimit a range.
    mock.upsert_order(OdooRow {
        written: first + TimeDelta::microseconds(250_000),
        ..sale_order(
            17,
            1,
            "2024-03-01 00:00:00",
            "1.00",
            "EUR",
            "2024-03-01 00:00:00",
            "sale",
        )
    });
    let domain = tie_break(first, 5);
    assert!(!mock.indexed(
        "sale.order",
        domain.as_array().unwrap(),
        "write_date asc, id asc"
    ));
    let kwargs =
        json!({"fields": ["id"], "order": "write_date asc, id asc", "limit": 10, "offset": 0});
    assert_eq!(
        mock.search_read("sale.order", domain.as_array().unwrap(), &kwargs),
        mock.search_read_generic("sale.order", domain.as_array().unwrap(), &kwargs)
    );
}

/// Through the connector: injected answers replace the next requests' (a 503 on login is a
/// retryable upstream error), a record changed between two reads is read again at its new
/// write date, and a delay slows every answer down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odoo_mock_injects_failures_and_delays_and_follows_changes() {
    let mock = OdooMock::new(
        Vec::new(),
        bulk_orders(1_200, 5, "2024-04-01 00:00:00", 100),
        true,
    );
    let server = odoo_server(mock.clone()).await;
    let plugin = connector("odoo-connector").await;
    let grants = odoo_grants(&server.base, &[]);
    let order_ids = |page: &Page| -> Vec<i64> {
        page.records
            .iter()
            .map(|record| match record {
                ExternalRecord::Order(order) => order.external_id.parse().unwrap(),
                other => panic!("an order stream yielded {other:?}"),
            })
            .collect()
    };

    let first = plugin
        .read(&request("orders", None, 500), grants.clone(), &limits())
        .await
        .outcome
        .unwrap();
    // A full page hands out its complete seconds: 4 of 100 orders.
    assert_eq!(order_ids(&first), (1..=400).collect::<Vec<_>>());
    assert_eq!(mock.search_reads(), 1);

    mock.fail_next(vec![(503, "<html>Service Unavailable</html>".into())]);
    let run = plugin
        .read(
            &request("orders", first.next_cursor.clone(), 500),
            grants.clone(),
            &limits(),
        )
        .await;
    assert_reported(&run, "upstream-error", true);
    assert_eq!(
        mock.search_reads(),
        1,
        "the login failed, nothing was searched"
    );

    // Order 3, already read, changes; order 1,500 is new and written before the others.
    mock.upsert_order(sale_order(
        3,
        2,
        "2024-04-01 00:00:30",
        "99.99",
        "EUR",
        "2024-04-01 00:00:00",
        "done",
    ));
    mock.upsert_order(sale_order(
        1_500,
        1,
        "2024-04-01 00:00:04",
        "5.00",
        "EUR",
        "2024-04-01 00:00:00",
        "draft",
    ));
    let mut cursor = first.next_cursor.clone();
    let mut ids = Vec::new();
    loop {
        let page = plugin
            .read(
                &request("orders", cursor.clone(), 500),
                grants.clone(),
                &limits(),
            )
            .await
            .outcome
            .unwrap();
        ids.extend(order_ids(&page));
        cursor = page.next_cursor.clone();
        if !page.has_more {
            break;
        }
        assert!(ids.len() <= 2_000, "the stream does not end");
    }
    let mut expected: Vec<i64> = (401..=500).chain([1_500]).chain(501..=1_200).collect();
    expected.push(3);
    assert_eq!(ids, expected);
    let reads = mock.search_reads();

    mock.set_delay(Duration::from_millis(150));
    let started = std::time::Instant::now();
    let page = plugin
        .read(
            &request("orders", cursor.clone(), 500),
            grants.clone(),
            &limits(),
        )
        .await
        .outcome
        .unwrap();
    assert!(page.records.is_empty() && !page.has_more);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "login and search both waited"
    );
    assert_eq!(mock.search_reads(), reads + 1);
    assert_redacted(&run.log, ODOO_KEY);
}

// ---- Frappe mock -------------------------------------------------------------------------

struct FrappeMock {
    customers: Vec<Value>,
    orders: Vec<Value>,
}

fn frappe_time(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

fn frappe_error(status: u16, exc_type: &str, message: &str) -> (u16, String) {
    (
        status,
        json!({"exc_type": exc_type, "exception": format!("frappe.exceptions.{exc_type}: {message}"),
               "_server_messages": json!([json!({"message": message}).to_string()]).to_string()})
        .to_string(),
    )
}

/// The decoded query of a request.
fn query(request: &Received) -> HashMap<String, String> {
    let url = reqwest::Url::parse(&format!("http://mock{}", request.target)).unwrap();
    url.query_pairs().into_owned().collect()
}

impl FrappeMock {
    fn answer(&self, request: &Received) -> (u16, String) {
        assert_eq!(request.method, "GET");
        if request.headers.get("authorization")
            != Some(&format!("token {FRAPPE_KEY}:{FRAPPE_SECRET}"))
        {
            return frappe_error(401, "AuthenticationError", "Invalid API key or secret");
        }
        let path = request.target.split('?').next().unwrap();
        let rows = match path {
            "/api/resource/Customer" => &self.customers,
            "/api/resource/Sales%20Order" => &self.orders,
            _ => return frappe_error(404, "DoesNotExistError", "DocType not found"),
        };
        let params = query(request);
        let fields: Vec<String> = serde_json::from_str(&params["fields"]).unwrap();
        let filters: Vec<(String, String, String)> = params
            .get("filters")
            .map(|f| serde_json::from_str(f).unwrap())
            .unwrap_or_default();
        assert_eq!(params["order_by"], "modified asc, name asc");
        let start: usize = params["limit_start"].parse().unwrap();
        let length: usize = params["limit_page_length"].parse().unwrap();
        let holds = |row: &Value, (field, op, value): &(String, String, String)| {
            let ordering = match field.as_str() {
                "modified" => {
                    frappe_time(row["modified"].as_str().unwrap()).cmp(&frappe_time(value))
                }
                "name" => row["name"].as_str().unwrap().cmp(value.as_str()),
                other => panic!("the mock cannot filter on {other}"),
            };
            compare(ordering, op)
        };
        let mut found: Vec<&Value> = rows
            .iter()
            .filter(|row| filters.iter().all(|filter| holds(row, filter)))
            .collect();
        found.sort_by_key(|row| {
            (
                frappe_time(row["modified"].as_str().unwrap()),
                row["name"].as_str().unwrap().to_owned(),
            )
        });
        let data: Vec<Value> = found
            .into_iter()
            .skip(start)
            .take(length)
            .map(|row| {
                Value::Object(
                    fields
                        .iter()
                        .map(|f| (f.clone(), row.get(f).cloned().unwrap_or(Value::Null)))
                        .collect(),
                )
            })
            .collect();
        (200, json!({"data": data}).to_string())
    }
}

async fn frappe_server(mock: FrappeMock) -> Server {
    let mock = Arc::new(mock);
    Server::start(move |request| mock.answer(request)).await
}

const CUSTOMER_FIELDS: &str = r#"["name","customer_name","customer_type","customer_group","industry","tax_id","email_id","mobile_no","modified"]"#;

// ---- ERPNext -----------------------------------------------------------------------------

/// 1,250 customers sharing three `modified` values, read 500 at a time: every one exactly once
/// in (`modified`, `name`) order, resuming from each cursor, with the exact filters (the rest
/// of the cursor's timestamp by name, then the later ones) and the token header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erpnext_reads_many_records_sharing_a_timestamp_exactly_once() {
    let stamps = [
        "2024-03-01 08:00:00.000000",
        "2024-03-01 09:30:15.250000",
        "2024-03-02 00:00:00.000001",
    ];
    let customers: Vec<Value> = (0..1250_i64)
        .map(|n| {
            let stamp = stamps[match n {
                0..400 => 0,
                400..1000 => 1,
                _ => 2,
            }];
            // Names that do not follow the insertion order.
            let name = format!("CUST-{:05}", (n * 7_919) % 1250);
            json!({"name": name, "customer_name": format!("Customer {n}"), "customer_type": "Company", "modified": stamp})
        })
        .collect();
    let mut expected: Vec<(NaiveDateTime, String)> = customers
        .iter()
        .map(|c| {
            (
                frappe_time(c["modified"].as_str().unwrap()),
                c["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    expected.sort();
    let server = frappe_server(FrappeMock {
        customers,
        orders: Vec::new(),
    })
    .await;
    let plugin = connector("erpnext-connector").await;
    let grants = frappe_grants(&server.base, &[]);

    let pages = read_all(&plugin, &grants, "customers", 500, 10).await;
    let expected_names: Vec<String> = expected.iter().map(|(_, name)| name.clone()).collect();
    assert_eq!(
        customer_ids(&pages),
        expected_names,
        "each record once, in key order"
    );
    let shape: Vec<_> = pages
        .iter()
        .map(|p| (p.records.len(), p.has_more))
        .collect();
    assert_eq!(shape, [(500, true), (500, true), (250, false)]);
    let cursor =
        |i: usize| json!({"modified": stamps[if i < 1000 { 1 } else { 2 }], "name": expected[i].1});
    let cursors: Vec<Value> = pages
        .iter()
        .map(|p| serde_json::from_str(p.next_cursor.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(cursors, [cursor(499), cursor(999), cursor(1249)]);

    let received = server.received();
    for request in &received {
        assert_eq!(
            request.headers.get("authorization"),
            Some(&format!("token {FRAPPE_KEY}:{FRAPPE_SECRET}"))
        );
    }
    let queries: Vec<(Option<Value>, String)> = received
        .iter()
        .map(|r| {
            let q = query(r);
            assert_eq!(
                serde_json::from_str::<Value>(&q["fields"]).unwrap(),
                serde_json::from_str::<Value>(CUSTOMER_FIELDS).unwrap()
            );
            assert_eq!(
                (q["order_by"].as_str(), q["limit_start"].as_str()),
                ("modified asc, name asc", "0")
            );
            (
                q.get("filters").map(|f| serde_json::from_str(f).unwrap()),
                q["limit_page_length"].clone(),
            )
        })
        .collect();
    assert_eq!(
        queries,
        [
            // Page 1: from the start.
            (None, "500".into()),
            // Page 2: the rest of the tie at the cursor fills the page.
            (
                Some(json!([
                    ["modified", "=", stamps[1]],
                    ["name", ">", expected[499].1]
                ])),
                "500".into()
            ),
            // Page 3: the tie is exhausted, so the later timestamps follow.
            (
                Some(json!([
                    ["modified", "=", stamps[1]],
                    ["name", ">", expected[999].1]
                ])),
                "500".into()
            ),
            (Some(json!([["modified", ">", stamps[1]]])), "500".into()),
        ]
    );
    // The exact encoding of one request: JSON percent-encoded, the doctype in the path.
    assert_eq!(
        received[0].target,
        "/api/resource/Customer?fields=%5B%22name%22%2C%22customer_name%22%2C%22customer_type%22%2C%22customer_group%22%2C%22industry%22%2C%22tax_id%22%2C%22email_id%22%2C%22mobile_no%22%2C%22modified%22%5D&order_by=modified%20asc%2C%20name%20asc&limit_start=0&limit_page_length=500"
    );

    // Resuming from the last cursor later finds nothing new and keeps the cursor.
    let run = plugin
        .read(
            &request("customers", pages[2].next_cursor.clone(), 500),
            grants.clone(),
            &limits(),
        )
        .await;
    let page = run.outcome.unwrap();
    assert!(page.records.is_empty() && !page.has_more);
    assert_eq!(page.next_cursor, pages[2].next_cursor);
    assert_redacted(&run.log, FRAPPE_SECRET);
}

/// A tie larger than several pages, walked with small pages (config `page_size` 3 below the
/// host's 500), and records that leave the tie between two pages: none is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erpnext_records_leaving_a_tie_between_pages_are_not_skipped() {
    let stamp = "2024-06-01 12:00:00.000000";
    let orders: Vec<Value> = (1..=8)
        .map(|n| json!({"name": format!("SAL-ORD-2024-{n:05}"), "customer": "CUST-00001", "grand_total": 10, "currency": "USD", "transaction_date": "2024-06-01", "status": "To Deliver and Bill", "docstatus": 1, "modified": stamp}))
        .collect();
    let mock = Arc::new(std::sync::Mutex::new(FrappeMock {
        customers: Vec::new(),
        orders,
    }));
    let served = mock.clone();
    let server = Server::start(move |request| served.lock().unwrap().answer(request)).await;
    let plugin = connector("erpnext-connector").await;
    let grants = frappe_grants(&server.base, &[("page_size", "3")]);

    let first = plugin
        .read(&request("orders", None, 500), grants.clone(), &limits())
        .await
        .outcome
        .unwrap();
    let names = |page: &Page| -> Vec<String> {
        page.records
            .iter()
            .map(|r| match r {
                ExternalRecord::Order(o) => o.external_id.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(
        names(&first),
        [
            "SAL-ORD-2024-00001",
            "SAL-ORD-2024-00002",
            "SAL-ORD-2024-00003"
        ]
    );
    // Orders 1 and 2, already read, are modified again: an offset within the tie would now
    // skip order 4.
    {
        let mut mock = mock.lock().unwrap();
        for order in &mut mock.orders[..2] {
            order["modified"] = json!("2024-06-01 12:05:00.000000");
        }
    }
    let mut seen = names(&first);
    let mut cursor = first.next_cursor.clone();
    loop {
        let page = plugin
            .read(
                &request("orders", cursor.clone(), 500),
                grants.clone(),
                &limits(),
            )
            .await
            .outcome
            .unwrap();
        seen.extend(names(&page));
        cursor = page.next_cursor.clone();
        if !page.has_more {
            break;
        }
        assert!(seen.len() < 30, "the stream does not end");
    }
    assert_eq!(
        seen,
        [1, 2, 3, 4, 5, 6, 7, 8, 1, 2].map(|n| format!("SAL-ORD-2024-{n:05}")),
        "every order once, then the two modified again"
    );
    for request in server.received() {
        assert!(query(&request)["limit_page_length"].parse::<u32>().unwrap() <= 3);
    }
}

/// Frappe's value forms become the host's records; `modified` is converted from the site's
/// time zone (fixed offsets and IANA names with their daylight saving time) to UTC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erpnext_fields_map_onto_customers_and_orders_in_utc() {
    let customers = vec![
        json!({"name": "CUST-00001", "customer_name": "Acme Trading Co.", "customer_type": "Company", "customer_group": "Commercial", "industry": "Wholesale", "tax_id": "CN91310000MA1FL0000X", "email_id": "buyer@acme.example", "mobile_no": "+86 138 0013 8000", "territory": "China", "modified": "2024-01-15 08:00:00.123456"}),
        json!({"name": "CUST-00002", "customer_name": "Li Wei", "customer_type": "Individual", "customer_group": "Individual", "industry": null, "tax_id": null, "email_id": "", "mobile_no": null, "modified": "2024-07-15 08:00:00"}),
    ];
    let order = |name: &str, total: Value, status: &str, docstatus: i64| json!({"name": name, "customer": "CUST-00001", "grand_total": total, "currency": "CNY", "transaction_date": "2024-02-29", "status": status, "docstatus": docstatus, "modified": "2024-03-01 00:30:00.000000"});
    let orders = vec![
        order(
            "SAL-ORD-2024-00001",
            json!(1234.5),
            "To Deliver and Bill",
            1,
        ),
        order("SAL-ORD-2024-00002", json!(0.1 + 0.2), "Draft", 0),
        order("SAL-ORD-2024-00003", json!(1500), "To Deliver and Bill", 2),
        order("SAL-ORD-2024-00004", json!(99_999_999.99), "Completed", 1),
    ];
    let server = frappe_server(FrappeMock { customers, orders }).await;
    let plugin = connector("erpnext-connector").await;

    let read = |zone: &'static str, stream: &'static str| {
        let grants = frappe_grants(&server.base, &[("time_zone", zone)]);
        let plugin = &plugin;
        async move {
            plugin
                .read(&request(stream, None, 100), grants, &limits())
                .await
                .outcome
                .unwrap()
        }
    };
    let page = read("Asia/Shanghai", "customers").await;
    assert_eq!(
        page.records,
        [
            ExternalRecord::Customer(ExternalCustomer {
                external_id: "CUST-00001".into(),
                name: "Acme Trading Co.".into(),
                is_company: true,
                tax_id: Some("CN91310000MA1FL0000X".into()),
                email: Some("buyer@acme.example".into()),
                phone: Some("+86 138 0013 8000".into()),
                industry: Some("Wholesale".into()),
                modified_at: "2024-01-15T00:00:00.123456Z".into(),
            }),
            ExternalRecord::Customer(ExternalCustomer {
                external_id: "CUST-00002".into(),
                name: "Li Wei".into(),
                is_company: false,
                tax_id: None,
                email: None,
                phone: None,
                industry: Some("Individual".into()),
                modified_at: "2024-07-15T00:00:00Z".into(),
            }),
        ]
    );
    // The cursor keeps the site's own time, with all six fraction digits.
    assert_eq!(
        serde_json::from_str::<Value>(page.next_cursor.as_deref().unwrap()).unwrap(),
        json!({"modified": "2024-07-15 08:00:00.000000", "name": "CUST-00002"})
    );
    let modified = |page: Page| -> Vec<String> {
        page.records
            .into_iter()
            .map(|r| match r {
                ExternalRecord::Customer(c) => c.modified_at,
                ExternalRecord::Order(o) => o.modified_at,
            })
            .collect()
    };
    for (zone, winter, summer) in [
        ("UTC", "2024-01-15T08:00:00.123456Z", "2024-07-15T08:00:00Z"),
        (
            "+08:00",
            "2024-01-15T00:00:00.123456Z",
            "2024-07-15T00:00:00Z",
        ),
        (
            "-05:30",
            "2024-01-15T13:30:00.123456Z",
            "2024-07-15T13:30:00Z",
        ),
        // New York: EST (-5) in January, EDT (-4) in July.
        (
            "America/New_York",
            "2024-01-15T13:00:00.123456Z",
            "2024-07-15T12:00:00Z",
        ),
    ] {
        assert_eq!(
            modified(read(zone, "customers").await),
            [winter, summer],
            "{zone}"
        );
    }

    let page = read("UTC", "orders").await;
    assert_eq!(
        page.records[0],
        ExternalRecord::Order(ExternalOrder {
            external_id: "SAL-ORD-2024-00001".into(),
            customer_external_id: "CUST-00001".into(),
            amount: "1234.5".into(),
            currency: "CNY".into(),
            ordered_at: "2024-02-29T00:00:00Z".into(),
            status: "To Deliver and Bill".into(),
            modified_at: "2024-03-01T00:30:00Z".into(),
        })
    );
    let summary: Vec<(String, String)> = page
        .records
        .iter()
        .map(|r| match r {
            ExternalRecord::Order(o) => (o.amount.clone(), o.status.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("1234.5".to_owned(), "To Deliver and Bill".to_owned()),
            ("0.3".into(), "Draft".into()),
            ("1500".into(), "Cancelled".into()),
            ("99999999.99".into(), "Completed".into()),
        ]
    );
    let orders_request = server.received().pop().unwrap();
    assert_eq!(
        orders_request.target,
        "/api/resource/Sales%20Order?fields=%5B%22name%22%2C%22customer%22%2C%22grand_total%22%2C%22currency%22%2C%22transaction_date%22%2C%22status%22%2C%22docstatus%22%2C%22modified%22%5D&order_by=modified%20asc%2C%20name%20asc&limit_start=0&limit_page_length=100"
    );
    let tie = plugin
        .read(
            &request(
                "orders",
                Some(
                    r#"{"modified":"2024-03-01 00:30:00.000000","name":"SAL-ORD-2024-00001"}"#
                        .into(),
                ),
                100,
            ),
            frappe_grants(&server.base, &[]),
            &limits(),
        )
        .await;
    assert_eq!(tie.outcome.unwrap().records.len(), 3);
    let tie_request = &server.received()[server.received().len() - 2];
    assert_eq!(
        tie_request.target,
        "/api/resource/Sales%20Order?fields=%5B%22name%22%2C%22customer%22%2C%22grand_total%22%2C%22currency%22%2C%22transaction_date%22%2C%22status%22%2C%22docstatus%22%2C%22modified%22%5D&filters=%5B%5B%22modified%22%2C%22%3D%22%2C%222024-03-01%2000%3A30%3A00.000000%22%5D%2C%5B%22name%22%2C%22%3E%22%2C%22SAL-ORD-2024-00001%22%5D%5D&order_by=modified%20asc%2C%20name%20asc&limit_start=0&limit_page_length=100"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erpnext_check_lists_both_doctypes_and_tells_bad_credentials_apart() {
    let server = frappe_server(FrappeMock {
        customers: Vec::new(),
        orders: Vec::new(),
    })
    .await;
    let plugin = connector("erpnext-connector").await;
    let good = plugin
        .check(frappe_grants(&server.base, &[]), &limits())
        .await;
    assert_eq!(good.outcome, Ok(()));
    let targets: Vec<String> = server.received().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/api/resource/Customer?fields=%5B%22name%22%5D&order_by=modified%20asc%2C%20name%20asc&limit_start=0&limit_page_length=1",
            "/api/resource/Sales%20Order?fields=%5B%22name%22%5D&order_by=modified%20asc%2C%20name%20asc&limit_start=0&limit_page_length=1",
        ]
    );

    let wrong = "wrong-frappe-s3cr3t-000000";
    let bad = plugin
        .check(
            frappe_grants(&server.base, &[("api_secret", wrong)]),
            &limits(),
        )
        .await;
    assert_reported(&bad, "bad-credentials", false);
    assert!(!reported(&bad).2.contains(wrong));
    assert_redacted(&bad.log, wrong);

    // A user who may read customers but not sales orders.
    let server = Server::start(|request: &Received| {
        if request.target.starts_with("/api/resource/Sales%20Order") {
            frappe_error(403, "PermissionError", "Not permitted")
        } else {
            (200, r#"{"data":[]}"#.into())
        }
    })
    .await;
    let run = plugin
        .check(frappe_grants(&server.base, &[]), &limits())
        .await;
    assert_reported(&run, "bad-credentials", false);
    assert!(reported(&run).2.contains("Sales Order"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erpnext_failures_map_to_stable_codes() {
    let plugin = connector("erpnext-connector").await;
    let cases: [(u16, &'static str, &str, bool); 11] = [
        (
            401,
            r#"{"exc_type":"AuthenticationError","exception":"frappe.exceptions.AuthenticationError"}"#,
            "bad-credentials",
            false,
        ),
        (
            403,
            r#"{"exc_type":"PermissionError"}"#,
            "bad-credentials",
            false,
        ),
        (
            429,
            r#"{"exc_type":"RateLimitExceededError"}"#,
            "rate-limited",
            true,
        ),
        (
            500,
            r#"{"exc_type":"OperationalError"}"#,
            "upstream-error",
            true,
        ),
        (502, "<html>Bad Gateway</html>", "upstream-error", true),
        (
            417,
            r#"{"exc_type":"ValidationError","_server_messages":"[\"...\"]"}"#,
            "upstream-error",
            false,
        ),
        (
            404,
            r#"{"exc_type":"DoesNotExistError"}"#,
            "upstream-error",
            false,
        ),
        (
            409,
            r#"{"exc_type":"DuplicateEntryError"}"#,
            "upstream-error",
            false,
        ),
        (200, "<html>Login</html>", "malformed-response", false),
        (200, r#"{"message":"ok"}"#, "malformed-response", false),
        (
            200,
            r#"{"data":[{"name":"CUST-1","modified":"yesterday"}]}"#,
            "malformed-response",
            false,
        ),
    ];
    for (status, body, code, retryable) in cases {
        let server = Server::start(move |_: &Received| (status, body.to_owned())).await;
        let run = plugin
            .read(
                &request("customers", None, 10),
                frappe_grants(&server.base, &[]),
                &limits(),
            )
            .await;
        assert_reported(&run, code, retryable);
        assert!(!reported(&run).2.contains(FRAPPE_SECRET));
        assert_redacted(&run.log, FRAPPE_SECRET);
        assert_eq!(
            server.received().len(),
            1,
            "HTTP {status}: one request, no retry"
        );
    }
    let server =
        Server::start(|_: &Received| (417, r#"{"exc_type":"ValidationError"}"#.into())).await;
    let run = plugin
        .read(
            &request("orders", None, 10),
            frappe_grants(&server.base, &[]),
            &limits(),
        )
        .await;
    let (_, _, message) = reported(&run);
    assert!(
        message.contains("HTTP 417") && message.contains("ValidationError"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erpnext_bad_configurations_and_cursors_are_refused_before_any_traffic() {
    let server = frappe_server(FrappeMock {
        customers: Vec::new(),
        orders: Vec::new(),
    })
    .await;
    let plugin = connector("erpnext-connector").await;
    for extra in [
        vec![("base_url", "http://erp.example.com")],
        vec![("base_url", "https://erp.example.com?x=1")],
        vec![("api_secret", "")],
        vec![("time_zone", "Mars/Olympus_Mons")],
        vec![("time_zone", "+25:00")],
        vec![("page_size", "5001")],
    ] {
        let run = plugin
            .read(
                &request("orders", None, 10),
                frappe_grants(&server.base, &extra),
                &limits(),
            )
            .await;
        assert_reported(&run, "invalid-config", false);
        let run = plugin
            .check(frappe_grants(&server.base, &extra), &limits())
            .await;
        assert_reported(&run, "invalid-config", false);
    }
    for cursor in [
        "[]",
        r#"{"modified":"2024-13-01 00:00:00","name":"X"}"#,
        r#"{"modified":"2024-01-01 00:00:00"}"#,
    ] {
        let run = plugin
            .read(
                &request("orders", Some(cursor.into()), 10),
                frappe_grants(&server.base, &[]),
                &limits(),
            )
            .await;
        assert_reported(&run, "invalid-cursor", false);
    }
    assert!(server.received().is_empty());
}

// ---- both --------------------------------------------------------------------------------

/// A server that never answers is a retryable `timeout` within the host's (shortened) limit;
/// nothing listening is a retryable `transport` failure; neither quotes a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_unreachable_erps_are_retryable_and_quote_no_secret() {
    let (silent, listener) = silent_server().await;
    let closed = closed_port();
    let quick = Limits {
        http_timeout: Duration::from_millis(300),
        ..Limits::erp_connector()
    };
    for name in ["odoo-connector", "erpnext-connector"] {
        let plugin = connector(name).await;
        let pointed = |base: &str| match name {
            "odoo-connector" => odoo_grants(base, &[]),
            _ => frappe_grants(base, &[]),
        };
        let started = std::time::Instant::now();
        let run = plugin
            .read(&request("customers", None, 10), pointed(&silent), &quick)
            .await;
        assert_reported(&run, "timeout", true);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: the host's timeout applies"
        );
        let run = plugin.check(pointed(&silent), &quick).await;
        assert_reported(&run, "timeout", true);

        let run = plugin
            .read(&request("orders", None, 10), pointed(&closed), &quick)
            .await;
        assert_reported(&run, "transport", true);
        for secret in [ODOO_KEY, FRAPPE_SECRET] {
            assert!(!reported(&run).2.contains(secret), "{name}");
            assert_redacted(&run.log, secret);
        }
    }
    listener.abort();
}
