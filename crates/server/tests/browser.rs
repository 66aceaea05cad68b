//! End-to-end in headless Chromium (Debian `chromium` + `chromium-driver`): each role signs in on
//! the login page and lands on its own front-end; screenshots go to `artifacts/screenshots/`.
//!
//! Without chromedriver the test says so and passes, unless `BIANMIN_REQUIRE_BROWSER=1` (as in
//! CI), when it fails.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_chromedriver() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BIANMIN_CHROMEDRIVER") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|p| p.is_file())
    })
}

async fn start_driver() -> Option<Driver> {
    let Some(binary) = find_chromedriver() else {
        let required = std::env::var("BIANMIN_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "BIANMIN_REQUIRE_BROWSER=1 but chromedriver is not installed"
        );
        eprintln!(
            "browser tests skipped: chromedriver not found (apt-get install chromium chromium-driver)"
        );
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    let chromium = std::env::var("BIANMIN_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--lang=zh-CN",
            ]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("connect to chromedriver")
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../artifacts/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

#[tokio::test]
async fn every_role_signs_in_and_lands_on_its_front_end() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = common::spawn_app().await;
    let client = browser(&driver).await;
    let shots = screenshot_dir();

    for (persona, page, masked, (width, height)) in [
        ("citizen-zhang", "citizen-home", "*伟", (390, 844)),
        ("enterprise-chen", "citizen-home", "*刚", (390, 844)),
        ("officer-hpf", "cockpit", "*芳", (1920, 1080)),
        ("operator-liu", "console", "*洋", (1440, 900)),
        ("auditor-sun", "console", "*丽", (1440, 900)),
        ("admin-zhou", "console", "*涛", (1440, 900)),
    ] {
        client.set_window_size(width, height).await.unwrap();
        sign_in(&client, &app, persona).await;
        let body = client.find(Locator::Css("body")).await.unwrap();
        assert_eq!(
            body.attr("data-page").await.unwrap().as_deref(),
            Some(page),
            "{persona}"
        );
        let whoami = wait_for(&client, "[data-testid='whoami']")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            whoami.contains(masked),
            "{persona}: whoami shows {whoami:?}"
        );
        let png = client.screenshot().await.unwrap();
        std::fs::write(shots.join(format!("{persona}.png")), png).unwrap();

        sign_out(&client).await;
    }
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_citizen_cannot_open_the_bank_console() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = common::spawn_app().await;
    let client = browser(&driver).await;
    client.set_window_size(390, 844).await.unwrap();
    sign_in(&client, &app, "citizen-li").await;
    client.goto(&app.url("/console/")).await.unwrap();
    let denied = wait_for(&client, "[data-testid='access-denied']").await;
    assert!(denied.text().await.unwrap().contains("无权访问"));
    assert!(
        client
            .find(Locator::Css("[data-testid='page-ready']"))
            .await
            .is_err()
    );
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join("citizen-denied-console.png"), png).unwrap();
    client.close().await.unwrap();
}

/// Signs in on the login page as `persona` and waits for its front-end to be ready. The login
/// page marks itself ready too, so the wait names a page other than it: otherwise a slow sign-in
/// (PostgreSQL, a busy machine) would be mistaken for a finished one.
async fn sign_in(client: &Client, app: &common::TestApp, persona: &str) {
    client.goto(&app.url("/")).await.unwrap();
    wait_for(client, &format!("button[data-persona='{persona}']"))
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        client,
        "body:not([data-page='login']) [data-testid='page-ready']",
    )
    .await;
}

/// Clicks 退出 and waits for the login page.
async fn sign_out(client: &Client) {
    wait_for(client, "[data-testid='logout']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(client, "button[data-persona]").await;
}

async fn text_of(client: &Client, css: &str) -> String {
    wait_for(client, css).await.text().await.unwrap()
}

#[tokio::test]
async fn a_citizen_sees_their_profile_masked_and_reveals_it_on_request() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = common::spawn_app().await;
    let client = browser(&driver).await;
    client.set_window_size(390, 844).await.unwrap();
    sign_in(&client, &app, "citizen-zhang").await;

    wait_for(&client, "[data-tab='me']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "[data-testid='profile'][data-state='ready'][data-revealed='false']",
    )
    .await;
    assert_eq!(
        text_of(&client, "[data-testid='profile-name']").await,
        "*伟"
    );
    assert_eq!(
        text_of(&client, "[data-testid='profile-resident-id']").await,
        "510104********0039"
    );
    assert_eq!(
        text_of(&client, "[data-testid='profile-phone']").await,
        "138****0001"
    );
    assert!(
        text_of(&client, "[data-testid='me-panel']")
            .await
            .contains("为保护您的隐私，信息默认脱敏显示")
    );
    // The home panel is out of the way while 我的 is open.
    assert!(
        !wait_for(&client, "[data-testid='service-grid']")
            .await
            .is_displayed()
            .await
            .unwrap()
    );

    wait_for(&client, "[data-testid='reveal-profile']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, "[data-testid='profile'][data-revealed='true']").await;
    assert_eq!(
        text_of(&client, "[data-testid='profile-name']").await,
        "张伟"
    );
    assert_eq!(
        text_of(&client, "[data-testid='profile-resident-id']").await,
        "510104198803120039"
    );
    assert_eq!(
        text_of(&client, "[data-testid='profile-phone']").await,
        "13800000001"
    );
    assert!(
        text_of(&client, "[data-testid='reveal-notice']")
            .await
            .contains("本次查看已记录")
    );
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join("citizen-profile.png"), png).unwrap();

    // The reveal was audited server-side.
    let auditor = app.login("auditor-sun").await;
    let entries: serde_json::Value = app
        .get_as("/api/v1/audit/entries", &auditor)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "person.reveal" && e["purpose"] == "self_service"),
        "{entries}"
    );

    // 隐藏 masks again at once.
    wait_for(&client, "[data-testid='hide-profile']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, "[data-testid='profile'][data-revealed='false']").await;
    assert_eq!(
        text_of(&client, "[data-testid='profile-name']").await,
        "*伟"
    );
    assert!(
        !text_of(&client, "[data-testid='profile']")
            .await
            .contains("510104198803120039")
    );

    // A citizen whose data is erased while signed in gets a clear message instead of a
    // profile (signing in again would register the person afresh, so erase after sign-in).
    sign_out(&client).await;
    let li = app.login("citizen-li").await;
    sign_in(&client, &app, "citizen-li").await;
    let li_profile: serde_json::Value = app
        .get_as("/api/v1/me/profile", &li)
        .await
        .json()
        .await
        .unwrap();
    let admin = app.login("admin-zhou").await;
    let erased = app
        .client
        .delete(app.url(&format!(
            "/api/v1/persons/{}",
            li_profile["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .json(&json!({ "reason": "T-2024-001" }))
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 204);
    wait_for(&client, "[data-tab='me']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, "[data-testid='profile'][data-state='erased']").await;
    let message = text_of(&client, "[data-testid='profile-erased']").await;
    assert!(message.contains("已删除"), "{message}");
    assert!(
        client
            .find(Locator::Css("[data-testid='reveal-profile']"))
            .await
            .is_err()
    );
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join("citizen-profile-erased.png"), png).unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn an_auditor_pages_the_audit_log_and_verifies_the_chain() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = common::spawn_app().await;
    // A fresh database has no audit entries: a citizen's reveal makes one.
    let citizen = app.login("citizen-zhang").await;
    let revealed = app
        .post_as("/api/v1/me/profile/reveal", &citizen, &json!({}))
        .await;
    assert_eq!(revealed.status(), 200);

    let client = browser(&driver).await;
    client.set_window_size(1440, 900).await.unwrap();
    sign_in(&client, &app, "auditor-sun").await;

    // The overview card shows the deployment numbers.
    wait_for(&client, "[data-testid='ops-overview'][data-status='ok']").await;
    assert!(
        text_of(&client, "[data-testid='overview-database']")
            .await
            .contains("SQLite")
            || std::env::var_os("BIANMIN_TEST_DATABASE_URL").is_some()
    );
    let roles = text_of(&client, "[data-testid='overview-roles']").await;
    assert!(roles.contains("审计人员"), "{roles}");

    wait_for(&client, "a[data-nav='audit']")
        .await
        .click()
        .await
        .unwrap();
    let row = text_of(
        &client,
        "[data-testid='audit-row'][data-action='person.reveal']",
    )
    .await;
    assert!(row.contains("查看个人明文信息"), "{row}");
    assert!(row.contains("本人自助查看"), "{row}");
    wait_for(&client, "[data-testid='audit-verify']")
        .await
        .click()
        .await
        .unwrap();
    let result = text_of(
        &client,
        "[data-testid='audit-verify-result'][data-intact='true']",
    )
    .await;
    assert!(result.contains("审计链完整：已校验"), "{result}");
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join("console-audit.png"), png).unwrap();

    // A bank operator is refused by the server, and the page says so.
    sign_out(&client).await;
    sign_in(&client, &app, "operator-liu").await;
    client.goto(&app.url("/console/#audit")).await.unwrap();
    let denied = text_of(&client, "[data-testid='audit-denied']").await;
    assert!(denied.contains("无权查看"), "{denied}");
    assert!(
        client
            .find(Locator::Css("[data-testid='audit-verify']"))
            .await
            .is_err()
    );
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join("console-audit-denied.png"), png).unwrap();
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_authorises_a_provident_fund_query_sees_the_account_and_revokes() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = common::spawn_app_with(|c| c.exchange.govsim = true).await;
    let client = browser(&driver).await;
    client.set_window_size(390, 844).await.unwrap();
    sign_in(&client, &app, "citizen-zhang").await;
    let shots = screenshot_dir();

    // From the home grid to the service; no consent yet, so the page asks for one.
    wait_for(&client, "[data-service='hpf'][data-status='live']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "[data-testid='consent-prompt'][data-state='intro']",
    )
    .await;
    wait_for(&client, "[data-testid='consent-start']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "[data-testid='consent-prompt'][data-state='terms']",
    )
    .await;
    let kinds = text_of(&client, "[data-testid='consent-kinds']").await;
    assert!(kinds.contains("住房公积金账户"), "{kinds}");
    assert!(kinds.contains("住房公积金缴存明细"), "{kinds}");
    std::fs::write(
        shots.join("citizen-hpf-consent.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    wait_for(&client, "[data-testid='consent-approve']")
        .await
        .click()
        .await
        .unwrap();

    // Approved: the account, masked, fetched from the 公积金中心 through the exchange.
    wait_for(&client, "[data-testid='hpf-body'][data-state='ready']").await;
    let number = text_of(&client, "[data-testid='hpf-account-number']").await;
    assert!(number.starts_with("********"), "{number}");
    let balance = text_of(&client, "[data-testid='hpf-balance']").await;
    assert!(balance.contains('.'), "{balance}");
    std::fs::write(
        shots.join("citizen-hpf-account.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // 我的授权: the consent is there, used once; revoke it.
    client
        .goto(&format!("{}/citizen/consents/", app.base))
        .await
        .unwrap();
    wait_for(&client, "[data-testid='consent-item'][data-state='ACTIVE']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "[data-testid='consent-detail'][data-state='ACTIVE']",
    )
    .await;
    assert_eq!(
        client
            .find_all(Locator::Css("[data-testid='consent-use']"))
            .await
            .unwrap()
            .len(),
        1
    );
    std::fs::write(
        shots.join("citizen-consent-detail.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    wait_for(&client, "[data-testid='consent-revoke']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, "[data-testid='consent-revoke-confirm']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        "[data-testid='consent-detail'][data-state='REVOKED']",
    )
    .await;

    // The service asks again: the revocation took effect on the next call.
    client
        .goto(&format!("{}/citizen/hpf/", app.base))
        .await
        .unwrap();
    wait_for(
        &client,
        "[data-testid='consent-prompt'][data-state='intro']",
    )
    .await;

    sign_out(&client).await;
    client.close().await.unwrap();
}
