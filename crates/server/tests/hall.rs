//! The service hall: every service with the districts where it can be used, and whether it can
//! be used where the signed-in citizen is registered.

mod common;

use common::{assert_problem, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn the_hall_lists_services_with_their_districts_and_the_citizens_own() {
    let app = spawn_app().await;
    assert_problem(
        app.get("/api/v1/me/services").await,
        401,
        "auth.unauthenticated",
    )
    .await;
    let zhang = app.login("citizen-zhang").await;
    let hall: Value = app
        .get_as("/api/v1/me/services", &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hall["my_district"]["code"], "510104");
    assert_eq!(hall["my_district"]["name"], "锦江区");
    let services = hall["services"].as_array().unwrap();
    let find = |code: &str| services.iter().find(|s| s["code"] == code).unwrap().clone();
    let hpf = find("hpf");
    assert_eq!(hpf["status"], "live");
    assert_eq!(hpf["everywhere"], true);
    assert_eq!(hpf["districts"].as_array().unwrap().len(), 20);
    assert_eq!(hpf["available_to_me"], true);
    let loan = find("loan");
    assert_eq!(loan["status"], "live");
    assert_eq!(loan["everywhere"], false);
    assert_eq!(loan["districts"].as_array().unwrap().len(), 6);
    assert_eq!(loan["available_to_me"], true);
    assert_eq!(loan["href"], "/citizen/loan/");
    let operator = app.login("operator-liu").await;
    assert_problem(
        app.get_as("/api/v1/me/services", &operator).await,
        403,
        "auth.forbidden",
    )
    .await;
}
