//! The employer's view of its own employees' social insurance: its staff only (the credit code
//! comes from its account), masked, and nobody else gets it.

mod common;

use common::{assert_problem, spawn_app_with};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employer_sees_its_own_staff_masked_and_nobody_else_does() {
    let app = spawn_app_with(|c| c.exchange.govsim = true).await;
    let employer = app.login("institution-employer").await;
    let response = app
        .get_as("/api/v1/institution/staff?per_page=200", &employer)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let staff: Value = response.json().await.unwrap();
    let employees = staff["employees"].as_array().unwrap();
    assert!(!employees.is_empty());
    let total = staff["total"].as_u64().unwrap() as usize;
    assert!(total >= employees.len());
    // 张伟 works there; he appears masked, like everyone.
    assert!(
        employees
            .iter()
            .any(|e| e["resident_id_masked"] == "510104********0039" && e["name_masked"] == "*伟"),
        "{staff}"
    );
    let text = staff.to_string();
    assert!(!text.contains("510104198803120039"));
    assert!(!text.contains("张伟"));

    for persona in ["institution-hospital", "citizen-zhang", "operator-liu"] {
        let token = app.login(persona).await;
        assert_problem(
            app.get_as("/api/v1/institution/staff", &token).await,
            403,
            "auth.forbidden",
        )
        .await;
    }
    assert_problem(
        app.get_as("/api/v1/institution/staff?per_page=500", &employer)
            .await,
        422,
        "institution.invalid_page",
    )
    .await;
}
