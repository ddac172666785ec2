//! The customer-facing progress page in a real headless Chromium: a valid token renders the
//! status timeline and public comments on a phone-sized screen, never an internal comment or
//! another customer's ticket; a forged or replaced token gets the 404 page. The JSON twin is
//! checked over plain HTTP.

use rapport_tests::browser::Browser;
use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::{Value, json};
use rapport_tests::{TestServer, id, on_every_backend};

const INTERNAL: &str = "Internal: customer threatened to cancel";
const PUBLIC: &str = "We found the fault and a technician is on the way.";

/// A ticket with public and internal comments, taken through a few statuses.
async fn served_ticket(server: &TestServer, token: &str, code: &str, subject: &str) -> Value {
    let customer = id(&server.customer(token, code, json!({})).await);
    let (status, ticket) = server
        .post(
            "/api/v1/tickets",
            token,
            json!({"customer_id": customer, "type": "after_sales",
            "subject": subject, "description": "The compressor stopped."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    let ticket_id = id(&ticket);
    let comments = format!("/api/v1/tickets/{ticket_id}/comments");
    for (body, public) in [(INTERNAL, false), (PUBLIC, true)] {
        let (status, comment) = server
            .post(&comments, token, json!({"body": body, "public": public}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{comment}");
    }
    for change in [
        json!({"status": "in_progress"}),
        json!({"status": "waiting_on_customer"}),
    ] {
        let path = format!("/api/v1/tickets/{ticket_id}/status");
        let (status, answer) = server.post(&path, token, change).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    ticket
}

fn forged(url: &str) -> String {
    let (prefix, token) = url.rsplit_once('/').unwrap();
    let flipped: String = token
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect();
    format!("{prefix}/{flipped}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_view_shows_public_progress_only() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("progress-json").await;
        let ticket = served_ticket(&server, &tenant.token, "P1", "Compressor down").await;
        let page_path = ticket["progress_url"].as_str().unwrap();
        let json_path = format!("/api/v1{page_path}");
        let (status, view) = server.call(Method::GET, &json_path, None, None).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(view["reference"], format!("#{}", id(&ticket)));
        assert_eq!(view["status"], "waiting_on_customer");
        let timeline: Vec<&str> = view["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect();
        assert_eq!(timeline, ["new", "in_progress", "waiting_on_customer"]);
        assert_eq!(view["comments"].as_array().unwrap().len(), 1);
        assert_eq!(view["comments"][0]["body"], PUBLIC);
        let text = view.to_string();
        for secret in [INTERNAL, "customer_id", "assignee_id", "description"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let response = server
            .client
            .get(server.url(&json_path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");

        let (status, error) = server
            .call(Method::GET, &forged(&json_path), None, None)
            .await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        let (status, _) = server
            .call(Method::GET, "/api/v1/progress/short", None, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A replaced link stops working.
        let (status, rotated) = server
            .post(
                &format!("/api/v1/tickets/{}/progress-link", id(&ticket)),
                &tenant.token,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        assert_ne!(rotated["progress_url"], ticket["progress_url"]);
        let (status, _) = server.call(Method::GET, &json_path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_progress_page_renders_in_chromium_without_internal_comments() {
    let Some(browser) = Browser::start_with_window(390, 844).await else {
        return;
    };
    let server = TestServer::start(rapport_tests::Backend::Sqlite).await;
    let tenant = server.tenant("progress-page").await;
    let ticket = served_ticket(&server, &tenant.token, "P2", "Compressor <b>down</b>").await;
    let other = served_ticket(&server, &tenant.token, "P3", "Another customer's fridge").await;

    browser
        .goto(&server.url(ticket["progress_url"].as_str().unwrap()))
        .await;
    assert_eq!(
        browser.text("#subject").await.as_deref(),
        Some("Compressor <b>down</b>"),
        "markup in a subject is shown as text, not rendered"
    );
    assert_eq!(
        browser.text("#status").await.as_deref(),
        Some("Waiting for your reply")
    );
    let steps = browser.texts("#timeline li strong").await;
    assert_eq!(steps, ["Received", "In progress", "Waiting for your reply"]);
    let comments = browser.texts("#comments li p").await;
    assert_eq!(comments, [PUBLIC]);
    let html = browser.html().await;
    assert!(
        !html.contains(INTERNAL),
        "an internal comment reached the page"
    );
    assert!(
        !html.contains("Another customer"),
        "another ticket reached the page"
    );
    assert!(browser.title().await.contains(&format!("#{}", id(&ticket))));
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(
        fits,
        json!(true),
        "the page fits a phone screen without sideways scrolling"
    );

    browser
        .goto(&server.url(&forged(ticket["progress_url"].as_str().unwrap())))
        .await;
    assert!(
        browser.text("#not-found").await.is_some(),
        "a forged token gets the 404 page"
    );
    assert!(browser.text("#subject").await.is_none());
    let html = browser.html().await;
    assert!(
        !html.contains("Compressor") && !html.contains("fridge"),
        "{html}"
    );
    let status = server
        .client
        .get(server.url(&forged(other["progress_url"].as_str().unwrap())))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND);
    browser.close().await;
}
