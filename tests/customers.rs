//! Customers: create, read, update, delete; list filters (tag, tier, owner, stage, industry),
//! search on name or code, sort orders and cursor pagination; data-quality flags; the
//! normalised tax id and the lookup by it.

use std::collections::HashSet;

use rapport_tests::reqwest::StatusCode;
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{TestServer, assert_error, invalid, on_every_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_created_read_updated_and_deleted() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("crud").await;
        // A manager without a department: `team` scope reaches their own customers, and managers
        // may delete.
        let (rep_id, rep) = server
            .user_with(&tenant, "rep@crud.test", json!({"role": "manager"}))
            .await;
        let body = json!({"code": "C2024001", "name": "  星云科技有限公司 ", "kind": "company", "industry": "互联网",
            "region": "华东", "owner_id": rep_id, "stage": "customer", "tags": ["售后响应", "功能定制", "售后响应"]});
        let (status, created) = server.post("/api/v1/customers", &rep, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["name"], "星云科技有限公司");
        assert_eq!(created["tags"], json!(["功能定制", "售后响应"]));
        assert_eq!(created["quality_flags"], json!(["no_contact", "no_need_recorded"]));
        assert!(created["tier"].is_null());
        let id = created["id"].as_i64().unwrap();

        let (status, fetched) = server.get(&format!("/api/v1/customers/{id}"), &rep).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fetched, created);

        let (status, error) = server
            .post("/api/v1/customers", &rep, json!({"code": "C2024001", "name": "Again", "kind": "person"}))
            .await;
        assert_error(status, &error, StatusCode::CONFLICT, "duplicate_code");

        let patch = json!({"needs": "报表定制", "industry": null, "tags": ["续约关注"], "stage": "churned"});
        let (status, updated) = server.patch(&format!("/api/v1/customers/{id}"), &rep, patch).await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["needs"], "报表定制");
        assert!(updated["industry"].is_null(), "null clears a field");
        assert_eq!(updated["region"], "华东", "absent fields are kept");
        assert_eq!(updated["tags"], json!(["续约关注"]));
        assert_eq!(updated["quality_flags"], json!(["no_contact", "no_industry"]));
        assert_ne!(updated["updated_at"], created["updated_at"]);

        let other = server.customer(&rep, "C2024002", json!({})).await;
        let (status, error) = server
            .patch(&format!("/api/v1/customers/{}", other["id"]), &rep, json!({"code": "C2024001"}))
            .await;
        assert_error(status, &error, StatusCode::CONFLICT, "duplicate_code");

        let (status, _) = server.delete(&format!("/api/v1/customers/{id}"), &rep).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, error) = server.get(&format!("/api/v1/customers/{id}"), &rep).await;
        assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
        let (status, error) = server.delete(&format!("/api/v1/customers/{id}"), &rep).await;
        assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_customer_removes_its_records() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("cascade").await;
        let customer = server.customer(&tenant.token, "K1", json!({})).await;
        let id = customer["id"].as_i64().unwrap();
        let (_, contact) = server.post(&format!("/api/v1/customers/{id}/contacts"), &tenant.token, json!({"name": "Li"})).await;
        let order = json!({"amount": {"amount": "10", "currency": "CNY"}, "ordered_at": "2026-01-01T00:00:00Z"});
        let (_, order) = server.post(&format!("/api/v1/customers/{id}/orders"), &tenant.token, order).await;
        server.delete(&format!("/api/v1/customers/{id}"), &tenant.token).await;
        for path in [format!("/api/v1/contacts/{}", contact["id"]), format!("/api/v1/orders/{}", order["id"])] {
            let (status, body) = server.get(&path, &tenant.token).await;
            assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        }
    })
    .await;
}

async fn seed_list(server: &TestServer, token: &str, owner: i64) {
    let rows = [
        (
            "A001",
            "Alpha Retail",
            "零售",
            "customer",
            json!(["vip"]),
            Some(owner),
        ),
        (
            "A002",
            "Beta Manufacturing",
            "制造业",
            "prospect",
            json!(["vip", "renewal"]),
            None,
        ),
        (
            "A003",
            "Gamma Internet",
            "互联网",
            "customer",
            json!([]),
            Some(owner),
        ),
        (
            "B004",
            "alphabet soup",
            "零售",
            "lead",
            json!(["renewal"]),
            None,
        ),
        ("B005", "Delta 100%_Off", "零售", "churned", json!([]), None),
    ];
    for (code, name, industry, stage, tags, owner) in rows {
        let body = json!({"name": name, "industry": industry, "stage": stage, "tags": tags, "owner_id": owner});
        server.customer(token, code, body).await;
    }
}

async fn codes(server: &TestServer, token: &str, query: &str) -> Vec<String> {
    let (status, page) = server
        .get(&format!("/api/v1/customers?{query}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_search_and_sort() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("lists").await;
        let (owner, _) = server.member(&tenant, "owner@lists.test").await;
        seed_list(&server, &tenant.token, owner).await;
        let token = tenant.token.as_str();
        assert_eq!(
            codes(&server, token, "tag=vip&sort=code").await,
            ["A001", "A002"]
        );
        assert_eq!(
            codes(&server, token, &format!("owner_id={owner}&sort=code")).await,
            ["A001", "A003"]
        );
        assert_eq!(
            codes(&server, token, "stage=customer&sort=code").await,
            ["A001", "A003"]
        );
        assert_eq!(
            codes(&server, token, "industry=%E9%9B%B6%E5%94%AE&sort=-code").await,
            ["B005", "B004", "A001"]
        );
        assert_eq!(
            codes(&server, token, "industry=%E9%9B%B6%E5%94%AE&tag=renewal").await,
            ["B004"]
        );
        assert_eq!(
            codes(&server, token, "q=ALPHA&sort=code").await,
            ["A001", "B004"],
            "case-insensitive name search"
        );
        assert_eq!(
            codes(&server, token, "q=b00&sort=code").await,
            ["B004", "B005"],
            "code search"
        );
        assert_eq!(
            codes(&server, token, "q=100%25_&sort=code").await,
            ["B005"],
            "LIKE wildcards are literal"
        );
        assert_eq!(
            codes(&server, token, "q=%25").await,
            ["B005"],
            "a lone % matches only a literal %"
        );
        assert_eq!(
            codes(&server, token, "tier=high-value").await,
            Vec::<String>::new()
        );
        assert_eq!(
            codes(&server, token, "sort=name").await,
            ["A001", "A002", "B005", "A003", "B004"]
        );
        assert_eq!(
            codes(&server, token, "sort=created_at").await,
            ["A001", "A002", "A003", "B004", "B005"]
        );
        assert_eq!(
            codes(&server, token, "sort=-created_at").await,
            ["B005", "B004", "A003", "A002", "A001"]
        );
    })
    .await;
}

async fn walk_pages(server: &TestServer, token: &str, query: &str) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/customers?{query}&cursor={cursor}"),
            None => format!("/api/v1/customers?{query}"),
        };
        let (status, page) = server.get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["code"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (seen, pages),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_pagination_visits_every_row_once_in_every_order() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("pages").await;
        for n in 0..23 {
            // Duplicate names make the id tie-breaker matter.
            let body = json!({"name": format!("Same name {}", n % 4)});
            server
                .customer(&tenant.token, &format!("P{n:03}"), body)
                .await;
        }
        for sort in [
            "code",
            "-code",
            "name",
            "-name",
            "created_at",
            "-created_at",
            "updated_at",
            "-updated_at",
        ] {
            let (seen, pages) =
                walk_pages(&server, &tenant.token, &format!("limit=5&sort={sort}")).await;
            assert_eq!(pages, 5, "23 rows in pages of 5 ({sort})");
            let unique: HashSet<&String> = seen.iter().collect();
            assert_eq!(
                (seen.len(), unique.len()),
                (23, 23),
                "every row exactly once ({sort})"
            );
        }
        let (descending, _) = walk_pages(&server, &tenant.token, "limit=4&sort=-code").await;
        let mut expected: Vec<String> = (0..23).map(|n| format!("P{n:03}")).collect();
        expected.reverse();
        assert_eq!(descending, expected);

        let (_, first) = server
            .get("/api/v1/customers?limit=5&sort=name", &tenant.token)
            .await;
        let cursor = first["next_cursor"].as_str().unwrap();
        let (status, error) = server
            .get(
                &format!("/api/v1/customers?limit=5&sort=code&cursor={cursor}"),
                &tenant.token,
            )
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_must_be_users_of_the_tenant() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("owners").await;
        let (status, error) = server
            .post(
                "/api/v1/customers",
                &tenant.token,
                json!({"code": "O1", "name": "n", "kind": "person", "owner_id": 987654}),
            )
            .await;
        let error = assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(error["details"][0]["field"], "owner_id");
        let customer: Value = server
            .customer(&tenant.token, "O1", json!({"owner_id": tenant.admin_id}))
            .await;
        assert_eq!(customer["owner_id"], tenant.admin_id);
        assert!(
            !customer["quality_flags"]
                .as_array()
                .unwrap()
                .contains(&json!("no_owner"))
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tax_ids_are_stored_normalised_and_bad_ones_change_nothing() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("taxes").await;
        let token = tenant.token.as_str();
        let customer = server
            .customer(token, "T1", json!({"tax_id": " be 0477.472.701 "}))
            .await;
        assert_eq!(customer["tax_id"], "BE0477472701");
        let id = customer["id"].as_i64().unwrap();
        let path = format!("/api/v1/customers/{id}");
        let (status, fetched) = server.get(&path, token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fetched["tax_id"], "BE0477472701");
        let other = server.customer(token, "T2", json!({})).await;
        assert!(other["tax_id"].is_null());

        let find = |tenant_id: i64, tax_id: &'static str| {
            rapport::store::customers::find_by_tax_id(&server.db, tenant_id, tax_id)
        };
        assert_eq!(find(tenant.id, "BE0477472701").await.unwrap(), [id]);
        assert!(find(tenant.id, "BE0477472702").await.unwrap().is_empty());
        let twin = server
            .customer(token, "T3", json!({"tax_id": "BE-0477/472/701"}))
            .await;
        let twin_id = twin["id"].as_i64().unwrap();
        let third = server
            .customer(token, "T4", json!({"tax_id": "be0477472701"}))
            .await;
        assert_eq!(
            find(tenant.id, "BE0477472701").await.unwrap(),
            [id, twin_id],
            "ambiguous: at most two ids"
        );
        let elsewhere = server.tenant("taxes-elsewhere").await;
        assert!(
            find(elsewhere.id, "BE0477472701").await.unwrap().is_empty(),
            "another tenant's customers are not found"
        );

        for bad in [json!("!!"), json!("x".repeat(40))] {
            let patch = json!({"tax_id": bad, "name": "Renamed"});
            let (status, error) = server.patch(&path, token, patch).await;
            let error = invalid(status, &error);
            assert_eq!(error["details"][0]["field"], "tax_id", "{error}");
            let (_, unchanged) = server.get(&path, token).await;
            assert_eq!(unchanged, fetched, "a refused patch stores nothing");
        }

        let (status, updated) = server
            .patch(&path, token, json!({"tax_id": "fr 40 303 265 045"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["tax_id"], "FR40303265045");
        let (status, cleared) = server.patch(&path, token, json!({"tax_id": null})).await;
        assert_eq!(status, StatusCode::OK, "{cleared}");
        assert!(cleared["tax_id"].is_null(), "null clears the tax id");
        let (_, fetched) = server.get(&path, token).await;
        assert!(fetched["tax_id"].is_null());
        assert_eq!(
            find(tenant.id, "BE0477472701").await.unwrap(),
            [twin_id, third["id"].as_i64().unwrap()]
        );
    })
    .await;
}
