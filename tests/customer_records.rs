//! A customer's child records through the HTTP API: contacts, orders, interactions and
//! satisfaction records. Covers create/get/list/patch/delete of each, field validation (E.164
//! phone normalisation in the tenant's region, e-mail, WeChat id, exact decimal money, future
//! interactions, satisfaction scales), the single primary contact, the `no_contact` quality flag,
//! duplicate orders, cursor pagination of child lists and children of unknown customers.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rapport_tests::reqwest::StatusCode;
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{TestServer, assert_error, id, invalid, not_found, on_every_backend};

/// The `field` of every entry of a `validation_failed` error's details.
fn error_fields(error: &Value) -> BTreeSet<String> {
    error["details"]
        .as_array()
        .expect("validation details are a list")
        .iter()
        .map(|detail| detail["field"].as_str().unwrap().to_owned())
        .collect()
}

/// The `code` reported for `field` in a `validation_failed` error.
fn error_code<'a>(error: &'a Value, field: &str) -> &'a str {
    error["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|detail| detail["field"] == field)
        .unwrap_or_else(|| panic!("no error for {field} in {error}"))["code"]
        .as_str()
        .unwrap()
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a timestamp"))
        .parse()
        .unwrap()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The ids of a page's items, in order.
fn item_ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(id)
        .collect()
}

fn fields<const N: usize>(names: [&str; N]) -> BTreeSet<String> {
    names.into_iter().map(str::to_owned).collect()
}

fn quality_flags(customer: &Value) -> Vec<&str> {
    customer["quality_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|flag| flag.as_str().unwrap())
        .collect()
}

async fn customer_flags(server: &TestServer, token: &str, customer_id: i64) -> Vec<String> {
    let (status, customer) = server
        .get(&format!("/api/v1/customers/{customer_id}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{customer}");
    quality_flags(&customer)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_normalised_validated_and_have_one_primary() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("contacts").await;
        let token = tenant.token.as_str();
        let customer = server.customer(token, "CT1", json!({"industry": "retail"})).await;
        let customer_id = id(&customer);
        let contacts = format!("/api/v1/customers/{customer_id}/contacts");
        assert_eq!(quality_flags(&customer), ["no_contact", "no_need_recorded", "no_owner"]);

        let (status, first) = server
            .post(
                &contacts,
                token,
                json!({"name": "  Li Lei ", "title": "Buyer", "phone": "138 0013 8000",
                    "email": "li.lei@example.com", "wechat_id": "li_lei-01", "is_primary": true}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(first["customer_id"], customer_id);
        assert_eq!(first["name"], "Li Lei");
        assert_eq!(first["title"], "Buyer");
        assert_eq!(first["phone"], "+8613800138000");
        assert_eq!(first["email"], "li.lei@example.com");
        assert_eq!(first["wechat_id"], "li_lei-01");
        assert_eq!(first["is_primary"], true);
        let first_id = id(&first);
        assert_eq!(
            customer_flags(&server, token, customer_id).await,
            ["no_need_recorded", "no_owner"],
            "a contact clears no_contact"
        );

        let (status, fetched) = server.get(&format!("/api/v1/contacts/{first_id}"), token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fetched, first);

        // Every invalid field is reported at once, and nothing is stored.
        let (status, error) = server
            .post(
                &contacts,
                token,
                json!({"name": " ", "phone": "12345", "email": "not-an-email", "wechat_id": "1abcdef"}),
            )
            .await;
        let error = invalid(status, &error);
        assert_eq!(error_fields(&error), fields(["name", "phone", "email", "wechat_id"]));
        assert_eq!(error_code(&error, "name"), "required");
        assert_eq!(error_code(&error, "phone"), "invalid_phone");
        assert_eq!(error_code(&error, "email"), "invalid_email");
        assert_eq!(error_code(&error, "wechat_id"), "invalid_wechat_id");
        for (field, value) in [("phone", "call me"), ("email", "li@"), ("wechat_id", "abc")] {
            let (status, error) = server.post(&contacts, token, json!({"name": "X", field: value})).await;
            let error = invalid(status, &error);
            assert_eq!(error_fields(&error), fields([field]), "{field} = {value:?}");
        }
        let (_, list) = server.get(&contacts, token).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "rejected contacts are not stored: {list}");

        // An international number keeps its own country code.
        let (status, second) = server
            .post(&contacts, token, json!({"name": "Han Meimei", "phone": "+1 650-253-0000", "is_primary": true}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{second}");
        assert_eq!(second["phone"], "+16502530000");
        assert_eq!(second["title"], Value::Null);
        assert_eq!(second["email"], Value::Null);
        assert_eq!(second["is_primary"], true);
        let second_id = id(&second);
        let (_, first_now) = server.get(&format!("/api/v1/contacts/{first_id}"), token).await;
        assert_eq!(first_now["is_primary"], false, "a new primary contact unmarks the old one");

        let (status, third) = server.post(&contacts, token, json!({"name": "Wang Wu"})).await;
        assert_eq!(status, StatusCode::CREATED, "{third}");
        assert_eq!(third["is_primary"], false, "is_primary defaults to false");
        let third_id = id(&third);

        let (status, list) = server.get(&contacts, token).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let items = list["items"].as_array().unwrap();
        let ids: Vec<i64> = items.iter().map(id).collect();
        assert_eq!(ids, [first_id, second_id, third_id], "contacts list in creation order");
        let primaries: Vec<i64> = items.iter().filter(|c| c["is_primary"] == true).map(id).collect();
        assert_eq!(primaries, [second_id]);
        assert_eq!(list["next_cursor"], Value::Null);

        // Pages of one contact each, in creation order.
        let (_, page) = server.get(&format!("{contacts}?limit=2"), token).await;
        assert_eq!(item_ids(&page), [first_id, second_id]);
        let cursor = page["next_cursor"].as_str().expect("a second page").to_owned();
        let (_, page) = server.get(&format!("{contacts}?limit=2&cursor={cursor}"), token).await;
        assert_eq!(item_ids(&page), [third_id]);
        assert_eq!(page["next_cursor"], Value::Null);

        // Patching: absent fields are kept, null clears, the phone is normalised again, and
        // marking a contact primary unmarks the current primary.
        let (status, patched) = server
            .patch(
                &format!("/api/v1/contacts/{first_id}"),
                token,
                json!({"title": null, "phone": "010 6552 9988", "is_primary": true}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["name"], "Li Lei");
        assert_eq!(patched["title"], Value::Null);
        assert_eq!(patched["phone"], "+861065529988");
        assert_eq!(patched["email"], "li.lei@example.com");
        assert_eq!(patched["is_primary"], true);
        assert_eq!(patched["created_at"], first["created_at"]);
        assert!(time(&patched["updated_at"]) >= time(&first["updated_at"]));
        let (_, second_now) = server.get(&format!("/api/v1/contacts/{second_id}"), token).await;
        assert_eq!(second_now["is_primary"], false);

        let (status, error) = server
            .patch(&format!("/api/v1/contacts/{first_id}"), token, json!({"email": "bad@", "wechat_id": "9lives"}))
            .await;
        let error = invalid(status, &error);
        assert_eq!(error_fields(&error), fields(["email", "wechat_id"]));
        let (_, unchanged) = server.get(&format!("/api/v1/contacts/{first_id}"), token).await;
        assert_eq!(unchanged, patched, "a rejected patch changes nothing");

        // Deleting contacts: the flag comes back only when the last one goes.
        for contact_id in [first_id, second_id] {
            let (status, _) = server.delete(&format!("/api/v1/contacts/{contact_id}"), token).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
            let (status, error) = server.get(&format!("/api/v1/contacts/{contact_id}"), token).await;
            not_found(status, &error);
        }
        assert_eq!(customer_flags(&server, token, customer_id).await, ["no_need_recorded", "no_owner"]);
        let (status, _) = server.delete(&format!("/api/v1/contacts/{third_id}"), token).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            customer_flags(&server, token, customer_id).await,
            ["no_contact", "no_need_recorded", "no_owner"],
            "deleting the last contact brings no_contact back"
        );
        let (status, error) = server.delete(&format!("/api/v1/contacts/{third_id}"), token).await;
        not_found(status, &error);
        let (status, error) = server.patch(&format!("/api/v1/contacts/{third_id}"), token, json!({"name": "Z"})).await;
        not_found(status, &error);
        let (_, list) = server.get(&contacts, token).await;
        assert_eq!(list["items"], json!([]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_phones_are_read_in_the_tenant_region() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("region").await;
        let (status, updated) = server
            .patch(
                "/api/v1/tenant",
                &tenant.token,
                json!({"default_region": "us"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        let customer = server.customer(&tenant.token, "R1", json!({})).await;
        let contacts = format!("/api/v1/customers/{}/contacts", id(&customer));
        let (status, contact) = server
            .post(
                &contacts,
                &tenant.token,
                json!({"name": "A", "phone": "(650) 253-0000"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{contact}");
        assert_eq!(contact["phone"], "+16502530000");
        let (status, error) = server
            .post(
                &contacts,
                &tenant.token,
                json!({"name": "B", "phone": "138 0013 8000"}),
            )
            .await;
        let error = assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(
            error_code(&error, "phone"),
            "invalid_phone",
            "a Chinese mobile is not a valid US number"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_keep_money_exact_and_reject_bad_amounts() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("orders").await;
        let token = tenant.token.as_str();
        let customer_id = id(&server.customer(token, "O1", json!({})).await);
        let other_customer_id = id(&server.customer(token, "O2", json!({})).await);
        let orders = format!("/api/v1/customers/{customer_id}/orders");

        let (status, order) = server
            .post(
                &orders,
                token,
                json!({"source": "odoo", "external_id": "SO-1001", "amount": {"amount": "1234.5678", "currency": "cny"},
                    "product": "Industrial pump", "category": "hardware", "ordered_at": "2025-03-01T08:30:00Z"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{order}");
        assert_eq!(order["customer_id"], customer_id);
        assert_eq!(order["source"], "odoo");
        assert_eq!(order["external_id"], "SO-1001");
        assert_eq!(order["amount"], json!({"amount": "1234.5678", "currency": "CNY"}));
        assert_eq!(order["product"], "Industrial pump");
        assert_eq!(order["category"], "hardware");
        assert_eq!(time(&order["ordered_at"]), "2025-03-01T08:30:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(order["status"], "confirmed", "status defaults to confirmed");
        let order_id = id(&order);
        let (status, fetched) = server.get(&format!("/api/v1/orders/{order_id}"), token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fetched, order);

        // Exact amounts at the edges of the storage scale.
        for (amount, expected) in [
            (json!("0.0001"), "0.0001"),
            (json!("99999999999.9999"), "99999999999.9999"),
            (json!("0"), "0"),
            (json!("1200000.00"), "1200000"),
            (json!(99.5), "99.5"),
        ] {
            let (status, created) = server
                .post(&orders, token, json!({"amount": {"amount": amount, "currency": "USD"}, "ordered_at": "2025-01-01T00:00:00Z"}))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{amount}: {created}");
            assert_eq!(created["amount"]["amount"], expected, "{amount}");
            assert_eq!(created["source"], "manual", "source defaults to manual");
            let external_id = created["external_id"].as_str().unwrap();
            assert_eq!(external_id.len(), 36, "a generated external id: {external_id}");
            let (_, fetched) = server.get(&format!("/api/v1/orders/{}", id(&created)), token).await;
            assert_eq!(fetched["amount"]["amount"], expected, "{amount} read back");
        }

        // Bad money is rejected with the failing part named.
        for (amount, currency, field, code) in [
            ("1.00001", "CNY", "amount.amount", "invalid_amount"),
            ("-0.01", "CNY", "amount.amount", "negative_amount"),
            ("1000000000000000", "CNY", "amount.amount", "invalid_amount"),
            ("10", "XXZ", "amount.currency", "invalid_currency"),
            ("10", "yuan", "amount.currency", "invalid_currency"),
        ] {
            let (status, error) = server
                .post(&orders, token, json!({"amount": {"amount": amount, "currency": currency}, "ordered_at": "2025-01-01T00:00:00Z"}))
                .await;
            let error = invalid(status, &error);
            assert_eq!(error_fields(&error), fields([field]), "{amount} {currency}");
            assert_eq!(error_code(&error, field), code, "{amount} {currency}");
        }
        let (status, error) = server
            .post(&orders, token, json!({"source": "erp system", "external_id": " ", "amount": {"amount": "-1", "currency": "CNY"},
                "ordered_at": "2025-01-01T00:00:00Z"}))
            .await;
        let error = invalid(status, &error);
        assert_eq!(
            error_fields(&error),
            fields(["source", "external_id", "amount.amount"])
        );
        let (status, error) = server
            .post(&orders, token, json!({"amount": {"amount": "1", "currency": "CNY"}, "ordered_at": "2025-01-01T00:00:00Z",
                "status": "shipped"}))
            .await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (_, list) = server.get(&orders, token).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 6, "rejected orders are not stored");

        // (source, external_id) is unique in the tenant, even across customers.
        let duplicate = json!({"source": "odoo", "external_id": "SO-1001", "amount": {"amount": "1", "currency": "CNY"},
            "ordered_at": "2025-03-02T00:00:00Z"});
        let (status, error) = server.post(&orders, token, duplicate.clone()).await;
        assert_error(status, &error, StatusCode::CONFLICT, "duplicate_order");
        let (status, error) = server
            .post(&format!("/api/v1/customers/{other_customer_id}/orders"), token, duplicate)
            .await;
        assert_error(status, &error, StatusCode::CONFLICT, "duplicate_order");
        let (status, same_id_other_source) = server
            .post(&orders, token, json!({"source": "sap", "external_id": "SO-1001", "amount": {"amount": "1", "currency": "CNY"},
                "ordered_at": "2025-03-02T00:00:00Z"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "another source may reuse the id: {same_id_other_source}");

        // Patch: status and money change, identity fields stay.
        let (status, patched) = server
            .patch(&format!("/api/v1/orders/{order_id}"), token, json!({"status": "fulfilled", "product": null}))
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["status"], "fulfilled");
        assert_eq!(patched["product"], Value::Null);
        assert_eq!(patched["category"], "hardware");
        assert_eq!(patched["amount"], json!({"amount": "1234.5678", "currency": "CNY"}));
        assert_eq!(patched["source"], "odoo");
        assert_eq!(patched["external_id"], "SO-1001");
        let (status, patched) = server
            .patch(&format!("/api/v1/orders/{order_id}"), token, json!({"amount": {"amount": "0.3", "currency": "EUR"},
                "ordered_at": "2025-04-01T00:00:00Z"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["amount"], json!({"amount": "0.3", "currency": "EUR"}));
        assert_eq!(patched["status"], "fulfilled");
        assert_eq!(time(&patched["ordered_at"]), "2025-04-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let (status, error) = server
            .patch(&format!("/api/v1/orders/{order_id}"), token, json!({"amount": {"amount": "0.12345", "currency": "EUR"}}))
            .await;
        let error = invalid(status, &error);
        assert_eq!(error_fields(&error), fields(["amount.amount"]));
        let (status, error) = server
            .patch(&format!("/api/v1/orders/{order_id}"), token, json!({"external_id": "SO-2"}))
            .await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let (_, fetched) = server.get(&format!("/api/v1/orders/{order_id}"), token).await;
        assert_eq!(fetched, patched, "rejected patches change nothing");

        let (status, _) = server.delete(&format!("/api/v1/orders/{order_id}"), token).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, error) = server.get(&format!("/api/v1/orders/{order_id}"), token).await;
        not_found(status, &error);
        let (status, error) = server.delete(&format!("/api/v1/orders/{order_id}"), token).await;
        not_found(status, &error);
        let (status, error) = server.patch(&format!("/api/v1/orders/{order_id}"), token, json!({"status": "cancelled"})).await;
        not_found(status, &error);
        // Once deleted, its (source, external_id) is free again.
        let (status, recreated) = server
            .post(&orders, token, json!({"source": "odoo", "external_id": "SO-1001", "amount": {"amount": "5", "currency": "CNY"},
                "ordered_at": "2025-03-02T00:00:00Z"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{recreated}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_record_their_author_and_refuse_the_future() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("interactions").await;
        let (member_id, member) = server.member(&tenant, "rep@interactions.test").await;
        let customer_id = id(&server.customer(&member, "I1", json!({})).await);
        let interactions = format!("/api/v1/customers/{customer_id}/interactions");

        let before = Utc::now();
        let (status, logged) = server
            .post(
                &interactions,
                &member,
                json!({"channel": "phone", "summary": "  Called about the renewal  ",
                "feedback": "Wants a discount"}),
            )
            .await;
        let after = Utc::now();
        assert_eq!(status, StatusCode::CREATED, "{logged}");
        assert_eq!(logged["customer_id"], customer_id);
        assert_eq!(logged["channel"], "phone");
        assert_eq!(logged["summary"], "Called about the renewal");
        assert_eq!(logged["feedback"], "Wants a discount");
        assert_eq!(logged["logged_by"], member_id, "the caller is the author");
        let occurred_at = time(&logged["occurred_at"]);
        assert!(
            occurred_at >= before - Duration::seconds(1)
                && occurred_at <= after + Duration::seconds(1),
            "occurred_at defaults to now: {occurred_at} not within {before}..{after}"
        );
        let logged_id = id(&logged);
        let (status, fetched) = server
            .get(&format!("/api/v1/interactions/{logged_id}"), &member)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fetched, logged);

        let visit_at = Utc::now() - Duration::days(3);
        let (status, visit) = server
            .post(
                &interactions,
                &tenant.token,
                json!({"channel": "visit", "summary": "On-site demo",
                "occurred_at": rfc3339(visit_at)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{visit}");
        assert_eq!(
            visit["logged_by"], tenant.admin_id,
            "the admin logged this one"
        );
        assert_eq!(visit["feedback"], Value::Null);
        assert_eq!(
            visit["occurred_at"]
                .as_str()
                .map(|t| t.parse::<DateTime<Utc>>().unwrap().timestamp()),
            Some(visit_at.timestamp())
        );
        let visit_id = id(&visit);

        // Within the one-hour clock-skew tolerance is fine; two days ahead is not.
        let (status, soon) = server
            .post(
                &interactions,
                &member,
                json!({"channel": "wechat", "summary": "Reminder",
                "occurred_at": rfc3339(Utc::now() + Duration::minutes(30))}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{soon}");
        let soon_id = id(&soon);
        let (status, error) = server
            .post(
                &interactions,
                &member,
                json!({"channel": "email", "summary": "From the future",
                "occurred_at": rfc3339(Utc::now() + Duration::days(2))}),
            )
            .await;
        let error = assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(error_fields(&error), fields(["occurred_at"]));
        assert_eq!(error_code(&error, "occurred_at"), "in_future");
        let (status, error) = server
            .post(
                &interactions,
                &member,
                json!({"channel": "email", "summary": "   "}),
            )
            .await;
        let error = assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(error_code(&error, "summary"), "required");
        let (status, error) = server
            .post(
                &interactions,
                &member,
                json!({"channel": "fax", "summary": "Sent a fax"}),
            )
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );

        // Newest first.
        let (status, list) = server.get(&interactions, &member).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let ids: Vec<i64> = list["items"].as_array().unwrap().iter().map(id).collect();
        assert_eq!(ids, [soon_id, logged_id, visit_id]);

        // Patch keeps the author and rechecks the date.
        let (status, patched) = server
            .patch(
                &format!("/api/v1/interactions/{visit_id}"),
                &member,
                json!({"channel": "meeting", "feedback": "Liked it",
                "summary": "Demo at HQ"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["channel"], "meeting");
        assert_eq!(patched["summary"], "Demo at HQ");
        assert_eq!(patched["feedback"], "Liked it");
        assert_eq!(patched["occurred_at"], visit["occurred_at"]);
        assert_eq!(
            patched["logged_by"], tenant.admin_id,
            "editing does not change the author"
        );
        let (status, patched) = server
            .patch(
                &format!("/api/v1/interactions/{visit_id}"),
                &member,
                json!({"feedback": null}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["feedback"], Value::Null);
        let (status, error) = server
            .patch(
                &format!("/api/v1/interactions/{visit_id}"),
                &member,
                json!({"occurred_at": rfc3339(Utc::now() + Duration::days(2))}),
            )
            .await;
        let error = assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(error_code(&error, "occurred_at"), "in_future");
        let (status, error) = server
            .patch(
                &format!("/api/v1/interactions/{visit_id}"),
                &member,
                json!({"logged_by": member_id}),
            )
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );
        let (_, fetched) = server
            .get(&format!("/api/v1/interactions/{visit_id}"), &member)
            .await;
        assert_eq!(fetched, patched);

        let (status, _) = server
            .delete(&format!("/api/v1/interactions/{visit_id}"), &member)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, error) = server
            .get(&format!("/api/v1/interactions/{visit_id}"), &member)
            .await;
        not_found(status, &error);
        let (status, error) = server
            .delete(&format!("/api/v1/interactions/{visit_id}"), &member)
            .await;
        not_found(status, &error);
        let (_, list) = server.get(&interactions, &member).await;
        let ids: Vec<i64> = list["items"].as_array().unwrap().iter().map(id).collect();
        assert_eq!(ids, [soon_id, logged_id]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn satisfaction_values_stay_on_their_scale() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("satisfaction").await;
        let token = tenant.token.as_str();
        let customer_id = id(&server.customer(token, "S1", json!({})).await);
        let records = format!("/api/v1/customers/{customer_id}/satisfaction");

        let before = Utc::now();
        let (status, csat) = server
            .post(
                &records,
                token,
                json!({"kind": "csat", "value": 4.5, "note": "Happy"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{csat}");
        assert_eq!(csat["customer_id"], customer_id);
        assert_eq!(csat["kind"], "csat");
        assert_eq!(csat["value"].as_f64(), Some(4.5));
        assert_eq!(csat["source"], "manual", "source defaults to manual");
        assert_eq!(csat["note"], "Happy");
        let recorded_at = time(&csat["recorded_at"]);
        assert!(
            recorded_at >= before - Duration::seconds(1)
                && recorded_at <= Utc::now() + Duration::seconds(1)
        );
        let csat_id = id(&csat);
        let (status, fetched) = server
            .get(&format!("/api/v1/satisfaction/{csat_id}"), token)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fetched, csat);

        // The edges of each scale are accepted…
        let mut accepted = vec![csat_id];
        for (days_ago, kind, value) in [
            (1, "nps", 0.0),
            (2, "nps", 10.0),
            (3, "ces", 7.0),
            (4, "ces", 1.0),
            (5, "csat", 1.0),
            (6, "csat", 5.0),
        ] {
            let at = rfc3339(Utc::now() - Duration::days(days_ago));
            let (status, record) = server
                .post(
                    &records,
                    token,
                    json!({"kind": kind, "value": value, "source": "survey", "recorded_at": at}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{kind} {value}: {record}");
            assert_eq!(record["value"].as_f64(), Some(value));
            assert_eq!(record["source"], "survey");
            assert_eq!(record["note"], Value::Null);
            accepted.push(id(&record));
        }
        // …and anything beyond them is not.
        for (kind, value) in [
            ("csat", 6.0),
            ("csat", 0.0),
            ("nps", -1.0),
            ("nps", 11.0),
            ("ces", 0.5),
            ("ces", 7.5),
        ] {
            let (status, error) = server
                .post(&records, token, json!({"kind": kind, "value": value}))
                .await;
            let error = assert_error(
                status,
                &error,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            );
            assert_eq!(error_fields(&error), fields(["value"]), "{kind} {value}");
            assert_eq!(
                error_code(&error, "value"),
                "out_of_range",
                "{kind} {value}"
            );
        }
        let (status, error) = server
            .post(
                &records,
                token,
                json!({"kind": "nps", "value": 5, "source": "web form"}),
            )
            .await;
        let error = assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(error_code(&error, "source"), "invalid_identifier");
        let (status, error) = server
            .post(&records, token, json!({"kind": "stars", "value": 5}))
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );

        // Newest first: the default-now record, then one per day back.
        let (status, list) = server.get(&records, token).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let ids: Vec<i64> = list["items"].as_array().unwrap().iter().map(id).collect();
        assert_eq!(ids, accepted);

        // Patch: value and note change within the kind's scale; the kind itself cannot change.
        let (status, patched) = server
            .patch(
                &format!("/api/v1/satisfaction/{csat_id}"),
                token,
                json!({"value": 3, "note": null}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["value"].as_f64(), Some(3.0));
        assert_eq!(patched["note"], Value::Null);
        assert_eq!(patched["kind"], "csat");
        assert_eq!(patched["recorded_at"], csat["recorded_at"]);
        let (status, error) = server
            .patch(
                &format!("/api/v1/satisfaction/{csat_id}"),
                token,
                json!({"value": 9}),
            )
            .await;
        let error = assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(
            error_code(&error, "value"),
            "out_of_range",
            "9 is no CSAT value"
        );
        let (status, error) = server
            .patch(
                &format!("/api/v1/satisfaction/{csat_id}"),
                token,
                json!({"kind": "nps"}),
            )
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );
        let (_, fetched) = server
            .get(&format!("/api/v1/satisfaction/{csat_id}"), token)
            .await;
        assert_eq!(fetched, patched);

        let (status, _) = server
            .delete(&format!("/api/v1/satisfaction/{csat_id}"), token)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, error) = server
            .get(&format!("/api/v1/satisfaction/{csat_id}"), token)
            .await;
        not_found(status, &error);
        let (status, error) = server
            .delete(&format!("/api/v1/satisfaction/{csat_id}"), token)
            .await;
        not_found(status, &error);
        let (_, list) = server.get(&records, token).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 6);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_lists_page_newest_first_with_cursors() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("paging").await;
        let token = tenant.token.as_str();
        let customer_id = id(&server.customer(token, "P1", json!({})).await);
        let orders = format!("/api/v1/customers/{customer_id}/orders");

        // Created out of date order; two share a date, so the id breaks the tie.
        let mut expected: Vec<(String, i64)> = Vec::new();
        for day in [3, 1, 5, 2, 4, 3] {
            let ordered_at = format!("2025-01-0{day}T12:00:00Z");
            let (status, order) = server
                .post(&orders, token, json!({"amount": {"amount": format!("{day}.25"), "currency": "CNY"}, "ordered_at": ordered_at}))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{order}");
            expected.push((ordered_at, id(&order)));
        }
        expected.sort_by(|a, b| b.cmp(a));
        let expected: Vec<i64> = expected.into_iter().map(|(_, id)| id).collect();

        let mut seen: Vec<i64> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("{orders}?limit=2&cursor={cursor}"),
                None => format!("{orders}?limit=2"),
            };
            let (status, page) = server.get(&path, token).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 2, "a page holds at most `limit` items: {page}");
            seen.extend(items.iter().map(id));
            pages += 1;
            assert!(pages <= 10, "pagination does not end");
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, expected, "every order exactly once, newest first");
        let (_, all) = server.get(&orders, token).await;
        assert_eq!(item_ids(&all), expected);
        assert_eq!(all["next_cursor"], Value::Null);

        // A row inserted ahead of the cursor does not shift the following pages.
        let (_, first_page) = server.get(&format!("{orders}?limit=2"), token).await;
        let cursor = first_page["next_cursor"].as_str().unwrap().to_owned();
        let (status, newest) = server
            .post(&orders, token, json!({"amount": {"amount": "9", "currency": "CNY"}, "ordered_at": "2025-02-01T00:00:00Z"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{newest}");
        let (_, second_page) = server.get(&format!("{orders}?limit=2&cursor={cursor}"), token).await;
        assert_eq!(item_ids(&second_page), expected[2..4]);

        // Bad page parameters.
        for query in ["limit=0", "limit=201", "cursor=not-a-cursor"] {
            let (status, error) = server.get(&format!("{orders}?{query}"), token).await;
            invalid(status, &error);
        }
        let (status, error) = server
            .get(&format!("/api/v1/customers/{customer_id}/interactions?cursor={cursor}"), token)
            .await;
        let error = invalid(status, &error);
        assert_eq!(error_code(&error, "cursor"), "invalid_cursor", "an order cursor is no interaction cursor");
        let (status, error) = server.get(&format!("{orders}?limit=two"), token).await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_query");
        let (status, error) = server.get(&format!("{orders}?page=2"), token).await;
        assert_error(status, &error, StatusCode::BAD_REQUEST, "invalid_query");
        let (_, full) = server.get(&format!("{orders}?limit=200"), token).await;
        assert_eq!(full["items"].as_array().unwrap().len(), 7);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_of_unknown_or_deleted_customers_are_not_found() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("orphans").await;
        let token = tenant.token.as_str();
        let bodies = [
            ("contacts", json!({"name": "Nobody"})),
            ("orders", json!({"amount": {"amount": "1", "currency": "CNY"}, "ordered_at": "2025-01-01T00:00:00Z"})),
            ("interactions", json!({"channel": "other", "summary": "Nothing"})),
            ("satisfaction", json!({"kind": "nps", "value": 8})),
        ];
        for (kind, body) in &bodies {
            let path = format!("/api/v1/customers/987654/{kind}");
            let (status, error) = server.get(&path, token).await;
            not_found(status, &error);
            let (status, error) = server.post(&path, token, body.clone()).await;
            let error = not_found(status, &error);
            assert_eq!(error["message"], "customer not found");
            for (status, error) in [
                server.get(&format!("/api/v1/{kind}/987654"), token).await,
                server.patch(&format!("/api/v1/{kind}/987654"), token, json!({})).await,
                server.delete(&format!("/api/v1/{kind}/987654"), token).await,
            ] {
                not_found(status, &error);
            }
        }

        // Deleting a customer takes its children with it.
        let customer_id = id(&server.customer(token, "GONE", json!({})).await);
        let mut children = Vec::new();
        for (kind, body) in &bodies {
            let (status, child) = server.post(&format!("/api/v1/customers/{customer_id}/{kind}"), token, body.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{kind}: {child}");
            children.push((kind, id(&child)));
        }
        let (status, _) = server.delete(&format!("/api/v1/customers/{customer_id}"), token).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        for (kind, child_id) in children {
            let (status, error) = server.get(&format!("/api/v1/{kind}/{child_id}"), token).await;
            not_found(status, &error);
        }
        for (kind, body) in &bodies {
            let path = format!("/api/v1/customers/{customer_id}/{kind}");
            let (status, error) = server.get(&path, token).await;
            not_found(status, &error);
            let (status, error) = server.post(&path, token, body.clone()).await;
            not_found(status, &error);
        }
    })
    .await;
}
