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
        client.goto(&app.url("/")).await.unwrap();
        wait_for(&client, &format!("button[data-persona='{persona}']"))
            .await
            .click()
            .await
            .unwrap();
        wait_for(&client, "[data-testid='page-ready']").await;
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

        wait_for(&client, "[data-testid='logout']")
            .await
            .click()
            .await
            .unwrap();
        wait_for(&client, "button[data-persona]").await;
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
    client.goto(&app.url("/")).await.unwrap();
    wait_for(&client, "button[data-persona='citizen-li']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, "[data-testid='page-ready']").await;
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
