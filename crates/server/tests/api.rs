//! The HTTP edge: probes, metrics, OpenAPI, static pages and problem+json for every kind of
//! bad input.

mod common;

use common::{assert_problem, spawn_app};
use serde_json::{Value, json};

#[tokio::test]
async fn health_and_readiness_report_the_database() {
    let app = spawn_app().await;
    let health: Value = app.get("/healthz").await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let ready: Value = response.json().await.unwrap();
    assert_eq!(ready["checks"]["database"], "ok");
    assert_eq!(ready["database"], app.db.store.backend().name());
}

#[tokio::test]
async fn readiness_fails_with_a_problem_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db.store.close().await;
    let body = assert_problem(app.get("/readyz").await, 503, "not_ready.database").await;
    assert!(body["detail"].as_str().unwrap().contains("数据库"));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    let headers = response.headers();
    assert!(headers.contains_key("x-request-id"));
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn metrics_are_exposed_in_prometheus_format() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/healthz\""), "{text}");
}

#[tokio::test]
async fn the_openapi_document_lists_the_api() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    for path in ["/api/v1/me", "/api/v1/auth/dev-login", "/readyz"] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    let page = app.get("/api/docs").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger"));
    let bundle = app.get("/vendor/swagger-ui/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200);
}

#[tokio::test]
async fn the_three_front_ends_are_served_from_the_binary() {
    let app = spawn_app().await;
    for (path, marker) in [
        ("/", "data-persona"),
        ("/citizen/", "citizen-home"),
        ("/cockpit/", "cockpit"),
        ("/console/", "console"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        assert!(html.contains(marker) || html.contains("login"), "{path}");
    }
    let css = app.get("/assets/app.css").await;
    assert_eq!(css.status(), 200);
    let etag = css.headers()["etag"].clone();
    let again = app
        .client
        .get(app.url("/assets/app.css"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn unknown_routes_get_problem_json() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/v1/no-such-thing").await, 404, "not_found").await;
    assert_problem(app.get("/no/such/page.html").await, 404, "not_found").await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_problem(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/dev-login"))
        .header("content-type", "application/json")
        .body("{\"persona\": ")
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "body.malformed_json").await;
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_a_422_problem_naming_it() {
    let app = spawn_app().await;
    let response = app
        .post_json("/api/v1/auth/dev-login", &json!({ "persona": 42 }))
        .await;
    let body = assert_problem(response, 422, "body.invalid_field").await;
    assert!(
        body["detail"].as_str().unwrap().contains("persona"),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_without_json_content_type_is_a_415_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/dev-login"))
        .header("content-type", "text/plain")
        .body("persona=citizen-zhang")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "body.unsupported_media_type").await;
}

#[tokio::test]
async fn an_oversized_body_is_a_413_problem_and_nothing_is_written() {
    let app = spawn_app_with_small_limit().await;
    let huge = format!("{{\"persona\": \"{}\"}}", "x".repeat(64 * 1024));
    let response = app
        .client
        .post(app.url("/api/v1/auth/dev-login"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "body.too_large").await;
    assert!(app.db.store.events_after(0, 10).await.unwrap().is_empty());
}

async fn spawn_app_with_small_limit() -> common::TestApp {
    common::spawn_app_with(|c| c.http.body_limit_bytes = 16 * 1024).await
}
