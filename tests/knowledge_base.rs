//! The knowledge base through the HTTP API: articles with tags and linked tickets, search by
//! words and tags, "save as article" from a resolved ticket, permissions and tenant isolation.

use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{assert_error, id, invalid, not_found, on_every_backend};

fn titles(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn articles_are_written_searched_and_saved_from_resolved_tickets() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("kb").await;
        let token = tenant.token.as_str();
        let articles = "/api/v1/knowledge/articles";

        let (status, error) = server
            .post(articles, token, json!({"title": "", "body": "x", "tags": ["ok", ""]}))
            .await;
        let details = invalid(status, &error)["details"].clone();
        let fields: Vec<&str> = details.as_array().unwrap().iter()
            .map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["title", "tags[1]"]);
        let (status, error) = server
            .post(articles, token, json!({"title": "t", "body": "b", "ticket_ids": [999_999]}))
            .await;
        assert_eq!(invalid(status, &error)["details"][0]["code"], "unknown_ticket");

        for (title, body, tags) in [
            ("Reset a password", "Open **Settings** and choose *Reset*.", json!(["Login", "account"])),
            ("Invoice missing", "Re-send it from the ERP export (100% of cases).", json!(["billing"])),
            ("Delivery delays", "Check the carrier's tracking page first.", json!(["logistics"])),
        ] {
            let (status, article) = server.post(articles, token, json!({"title": title, "body": body, "tags": tags})).await;
            assert_eq!(status, StatusCode::CREATED, "{article}");
        }
        let (_, found) = server.get(&format!("{articles}?q=RESET%20settings"), token).await;
        assert_eq!(titles(&found), ["Reset a password"], "every word, any case");
        let (_, found) = server.get(&format!("{articles}?q=erp"), token).await;
        assert_eq!(titles(&found), ["Invoice missing"]);
        let (_, found) = server.get(&format!("{articles}?q=100%25"), token).await;
        assert_eq!(titles(&found), ["Invoice missing"], "a % in the query is a character, not a wildcard");
        let (_, found) = server.get(&format!("{articles}?q=%25"), token).await;
        assert_eq!(titles(&found), ["Invoice missing"]);
        let (_, found) = server.get(&format!("{articles}?tag=LOGIN"), token).await;
        assert_eq!(titles(&found), ["Reset a password"], "tags are case-insensitive");
        let (_, found) = server.get(&format!("{articles}?tag=log"), token).await;
        assert_eq!(titles(&found), Vec::<&str>::new(), "a tag matches whole");
        let (_, all) = server.get(&format!("{articles}?limit=2"), token).await;
        assert_eq!(titles(&all), ["Delivery delays", "Invoice missing"]);
        let cursor = all["next_cursor"].as_str().unwrap();
        let (_, rest) = server.get(&format!("{articles}?limit=2&cursor={cursor}"), token).await;
        assert_eq!(titles(&rest), ["Reset a password"]);

        // Save as article: only from a resolved ticket; the draft carries what was learned.
        let customer = id(&server.customer(token, "KB1", json!({})).await);
        let (status, ticket) = server.post("/api/v1/tickets", token, json!({"customer_id": customer,
            "type": "inquiry", "category": "printers", "subject": "Printer offline",
            "description": "The office printer shows offline."})).await;
        assert_eq!(status, StatusCode::CREATED, "{ticket}");
        let ticket_id = id(&ticket);
        let save = format!("/api/v1/tickets/{ticket_id}/article");
        let (status, error) = server.post(&save, token, json!({})).await;
        assert_error(status, &error, StatusCode::CONFLICT, "ticket_not_resolved");
        let comments = format!("/api/v1/tickets/{ticket_id}/comments");
        server.post(&comments, token, json!({"body": "Power-cycle the printer.", "public": true})).await;
        server.post(&comments, token, json!({"body": "Customer was rude", "public": false})).await;
        let (status, resolved) = server.post(&format!("/api/v1/tickets/{ticket_id}/status"), token,
            json!({"status": "resolved", "resolution": {"result": "resolved", "note": "Driver reinstalled"}})).await;
        assert_eq!(status, StatusCode::OK, "{resolved}");
        let (status, article) = server.post(&save, token, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{article}");
        assert_eq!(article["title"], "Printer offline");
        assert_eq!(article["tags"], json!(["printers"]));
        assert_eq!(article["ticket_ids"], json!([ticket_id]));
        let body = article["body"].as_str().unwrap();
        assert!(body.contains("The office printer shows offline.") && body.contains("Driver reinstalled")
            && body.contains("Power-cycle the printer."), "{body}");
        assert!(!body.contains("rude"), "internal comments stay out of articles: {body}");
        let (_, linked) = server.get(&format!("{articles}?ticket_id={ticket_id}"), token).await;
        assert_eq!(titles(&linked), ["Printer offline"]);

        // Edit, then delete.
        let path = format!("{articles}/{}", id(&article));
        let (status, edited) = server.call(Method::PUT, &path, Some(token), Some(json!({"title": "Printer shows offline",
            "body": "Reinstall the driver.", "tags": ["printers", "hardware"], "ticket_ids": [ticket_id]}))).await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        assert_eq!(edited["tags"], json!(["hardware", "printers"]));
        assert_ne!(edited["updated_at"], article["updated_at"]);

        // Readers read, writers write, other tenants see nothing.
        let (_, viewer) = server.user_with(&tenant, "viewer@kb.test", json!({"role": "viewer"})).await;
        let (status, _) = server.get(&path, &viewer).await;
        assert_eq!(status, StatusCode::OK);
        let (status, error) = server.delete(&path, &viewer).await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
        let stranger = server.tenant("kb-other").await;
        let (status, error) = server.get(&path, &stranger.token).await;
        not_found(status, &error);
        let (_, theirs) = server.get(articles, &stranger.token).await;
        assert_eq!(theirs["items"], json!([]));
        let (status, _) = server.delete(&path, token).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, error) = server.get(&path, token).await;
        not_found(status, &error);
    })
    .await;
}
