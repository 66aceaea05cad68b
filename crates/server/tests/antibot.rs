//! Anti-crawler protection as clients meet it: signed requests (each way a signature is
//! refused), behaviour scoring that blocks an enumerating crawler within 50 requests while a
//! realistic mix of people is never blocked, challenges answered and refused, and the bank
//! console's record of escalations.

mod common;

use bianmin_core::Clock;
use bianmin_crypto::Sm2SigningKey;
use bianmin_sdk::{DeviceSigner, HEADER_CHALLENGE, new_nonce};
use bianmin_server::config::{Config, SignatureMode};
use chrono::TimeDelta;
use common::{TestApp, assert_problem, spawn_app_with};
use serde_json::{Value, json};

const BROWSER: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                       (KHTML, like Gecko) Mobile/15E148 BianminApp/2.3";
const SCRIPT: &str = "python-requests/2.31.0";

fn signing(c: &mut Config) {
    c.guard.signatures = SignatureMode::Required;
}

fn protected(c: &mut Config) {
    c.exchange.govsim = true;
    c.guard.signatures = SignatureMode::Required;
    c.guard.behaviour.enabled = true;
    // A light challenge keeps the test quick; the work is the same code at any difficulty.
    c.guard.behaviour.challenge_difficulty = 8;
}

/// Enrols a fresh device key for the citizen signed in with `token`.
async fn enrol(app: &TestApp, token: &str) -> DeviceSigner {
    let key = Sm2SigningKey::generate();
    let response = app
        .client
        .post(app.url("/api/v1/me/devices"))
        .bearer_auth(token)
        .header("user-agent", BROWSER)
        .header("accept-language", "zh-CN,zh;q=0.9")
        .json(&json!({ "public_key": key.verifying_key().to_hex(), "label": "测试手机" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let device: Value = response.json().await.unwrap();
    DeviceSigner::new(device["id"].as_str().unwrap().parse().unwrap(), key)
}

/// A request as a client sends it: what it signs can differ from what it sends, to test the
/// refusals.
struct Call<'a> {
    method: &'a str,
    path_and_query: &'a str,
    body: Option<Value>,
    user_agent: &'a str,
    challenge: Option<String>,
}

impl<'a> Call<'a> {
    fn get(path_and_query: &'a str) -> Self {
        Call {
            method: "GET",
            path_and_query,
            body: None,
            user_agent: BROWSER,
            challenge: None,
        }
    }

    fn post(path_and_query: &'a str, body: Value) -> Self {
        Call {
            method: "POST",
            body: Some(body),
            ..Call::get(path_and_query)
        }
    }

    fn signed_headers(&self, app: &TestApp, signer: &DeviceSigner) -> [(&'static str, String); 4] {
        let (path, query) = match self.path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (self.path_and_query, None),
        };
        let body = self.body_bytes();
        signer
            .sign(
                self.method,
                path,
                query,
                &body,
                app.clock.now().timestamp(),
                &new_nonce(),
            )
            .pairs()
    }

    fn body_bytes(&self) -> Vec<u8> {
        self.body
            .as_ref()
            .map(|body| serde_json::to_vec(body).unwrap())
            .unwrap_or_default()
    }

    fn request(&self, app: &TestApp, token: &str) -> reqwest::RequestBuilder {
        let mut request = app
            .client
            .request(self.method.parse().unwrap(), app.url(self.path_and_query))
            .bearer_auth(token)
            .header("user-agent", self.user_agent);
        if self.user_agent == BROWSER {
            request = request.header("accept-language", "zh-CN,zh;q=0.9");
        }
        if let Some(answer) = &self.challenge {
            request = request.header(HEADER_CHALLENGE, answer);
        }
        if self.body.is_some() {
            request = request
                .header("content-type", "application/json")
                .body(self.body_bytes());
        }
        request
    }

    async fn send(&self, app: &TestApp, token: &str, signer: &DeviceSigner) -> reqwest::Response {
        let mut request = self.request(app, token);
        for (name, value) in self.signed_headers(app, signer) {
            request = request.header(name, value);
        }
        request.send().await.unwrap()
    }
}

fn with_header(
    headers: [(&'static str, String); 4],
    name: &str,
    value: Option<String>,
) -> Vec<(&'static str, String)> {
    headers
        .into_iter()
        .filter_map(|(n, v)| {
            if n == name {
                value.clone().map(|value| (n, value))
            } else {
                Some((n, v))
            }
        })
        .collect()
}

async fn send_with(
    app: &TestApp,
    token: &str,
    call: &Call<'_>,
    headers: Vec<(&'static str, String)>,
) -> reqwest::Response {
    let mut request = call.request(app, token);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

/// Sends `call` with `headers` and asserts a 401 `code`.
async fn refused(
    app: &TestApp,
    token: &str,
    call: &Call<'_>,
    headers: Vec<(&'static str, String)>,
    code: &str,
) {
    assert_problem(send_with(app, token, call, headers).await, 401, code).await;
}

/// Sends one signed request twice: served, then refused as a replay.
async fn served_once(app: &TestApp, token: &str, call: &Call<'_>, device: &DeviceSigner) {
    let headers = call.signed_headers(app, device);
    let first = send_with(app, token, call, headers.to_vec()).await;
    assert_eq!(first.status(), 200);
    refused(app, token, call, headers.to_vec(), "signature.replayed").await;
}

#[tokio::test]
async fn a_signed_request_is_served_and_each_kind_of_bad_signature_refused() {
    let app = spawn_app_with(signing).await;
    let zhang = app.login("citizen-zhang").await;
    let consents = Call::get("/api/v1/me/consents");

    // Unsigned: refused where signatures are required; enrolment itself needs none.
    assert_problem(
        app.get_as("/api/v1/me/consents", &zhang).await,
        401,
        "signature.required",
    )
    .await;
    let device = enrol(&app, &zhang).await;
    assert_eq!(consents.send(&app, &zhang, &device).await.status(), 200);
    // Outside `/api/v1/me/` nothing needs a signature.
    assert_eq!(app.get_as("/api/v1/me", &zhang).await.status(), 200);

    // Replayed: the same headers twice.
    served_once(&app, &zhang, &consents, &device).await;

    // Stale: signed more than five minutes before or after the server's clock.
    for offset in [-301, 301] {
        let at = app.clock.now().timestamp() + offset;
        let signed = device.sign("GET", "/api/v1/me/consents", None, b"", at, &new_nonce());
        refused(
            &app,
            &zhang,
            &consents,
            signed.pairs().to_vec(),
            "signature.stale",
        )
        .await;
    }
    // Within the window either side is fine.
    let at = app.clock.now().timestamp() - 290;
    let signed = device.sign("GET", "/api/v1/me/consents", None, b"", at, &new_nonce());
    assert_eq!(
        send_with(&app, &zhang, &consents, signed.pairs().to_vec())
            .await
            .status(),
        200
    );

    // Missing or malformed headers.
    let headers = consents.signed_headers(&app, &device);
    for (name, value) in [
        ("x-bm-nonce", None),
        ("x-bm-signature", None),
        ("x-bm-nonce", Some("not-hex".to_owned())),
        ("x-bm-timestamp", Some("yesterday".to_owned())),
        ("x-bm-device", Some("device-1".to_owned())),
        ("x-bm-signature", Some("ab".repeat(60))),
    ] {
        let headers = with_header(headers.clone(), name, value);
        refused(&app, &zhang, &consents, headers, "signature.malformed").await;
    }

    // Wrong: signed for another query, path or body than the one sent, or not by this key.
    let violations = Call::get("/api/v1/me/consents?status=active");
    let other_query = Call::get("/api/v1/me/consents?status=revoked");
    refused(
        &app,
        &zhang,
        &violations,
        other_query.signed_headers(&app, &device).to_vec(),
        "signature.invalid",
    )
    .await;
    let profile = Call::get("/api/v1/me/profile");
    refused(
        &app,
        &zhang,
        &profile,
        consents.signed_headers(&app, &device).to_vec(),
        "signature.invalid",
    )
    .await;
    let ask = Call::post(
        "/api/v1/me/consents",
        json!({ "purpose": "SERVICE_HPF_QUERY" }),
    );
    let tampered = Call::post(
        "/api/v1/me/consents",
        json!({ "purpose": "SERVICE_TRAFFIC" }),
    );
    refused(
        &app,
        &zhang,
        &tampered,
        ask.signed_headers(&app, &device).to_vec(),
        "signature.invalid",
    )
    .await;
    assert_eq!(ask.send(&app, &zhang, &device).await.status(), 201);
    let impostor = DeviceSigner::new(device.device_id(), Sm2SigningKey::generate());
    assert_problem(
        consents.send(&app, &zhang, &impostor).await,
        401,
        "signature.invalid",
    )
    .await;

    // A device that is not this citizen's: unknown, another person's, revoked.
    let stranger = DeviceSigner::new(uuid::Uuid::now_v7(), Sm2SigningKey::generate());
    assert_problem(
        consents.send(&app, &zhang, &stranger).await,
        401,
        "signature.unknown_device",
    )
    .await;
    let li = app.login("citizen-li").await;
    let lis_device = enrol(&app, &li).await;
    assert_problem(
        consents.send(&app, &zhang, &lis_device).await,
        401,
        "signature.unknown_device",
    )
    .await;
    let revoked = app
        .post_as(
            &format!("/api/v1/me/devices/{}/revoke", device.device_id()),
            &zhang,
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    assert_problem(
        consents.send(&app, &zhang, &device).await,
        401,
        "signature.unknown_device",
    )
    .await;
}

#[tokio::test]
async fn optional_signatures_let_unsigned_requests_through_but_still_check_signed_ones() {
    let app = spawn_app_with(|c| c.guard.signatures = SignatureMode::Optional).await;
    let zhang = app.login("citizen-zhang").await;
    assert_eq!(
        app.get_as("/api/v1/me/consents", &zhang).await.status(),
        200
    );
    let device = enrol(&app, &zhang).await;
    let stale = device.sign(
        "GET",
        "/api/v1/me/consents",
        None,
        b"",
        app.clock.now().timestamp() - 600,
        &new_nonce(),
    );
    assert_problem(
        send_with(
            &app,
            &zhang,
            &Call::get("/api/v1/me/consents"),
            stale.pairs().to_vec(),
        )
        .await,
        401,
        "signature.stale",
    )
    .await;
}

#[tokio::test]
async fn a_nonce_may_come_back_only_after_its_window() {
    let app = spawn_app_with(signing).await;
    let zhang = app.login("citizen-zhang").await;
    let device = enrol(&app, &zhang).await;
    let call = Call::get("/api/v1/me/consents");
    let nonce = new_nonce();
    let send_at = |offset_secs: i64| {
        let signed = device.sign(
            "GET",
            "/api/v1/me/consents",
            None,
            b"",
            app.clock.now().timestamp() + offset_secs,
            &nonce,
        );
        send_with(&app, &zhang, &call, signed.pairs().to_vec())
    };
    assert_eq!(send_at(0).await.status(), 200);
    // Re-signed with a fresh timestamp but the same nonce: still a replay.
    app.clock.advance(TimeDelta::seconds(200));
    assert_problem(send_at(0).await, 401, "signature.replayed").await;
    // Ten minutes after its first use the nonce is forgotten.
    app.clock.advance(TimeDelta::seconds(401));
    assert_eq!(send_at(0).await.status(), 200);
}

#[tokio::test]
async fn with_redis_the_nonces_are_kept_there_for_every_instance() {
    let Ok(redis_url) = std::env::var("BIANMIN_TEST_REDIS_URL") else {
        eprintln!("BIANMIN_TEST_REDIS_URL is not set: skipping the Redis nonce store test");
        return;
    };
    let prefix = format!("bianmin-test:{}:", uuid::Uuid::now_v7());
    let app = spawn_app_with(|c| {
        signing(c);
        c.redis_url = Some(bianmin_server::config::Secret::new(redis_url));
        c.guard.redis_prefix = prefix;
    })
    .await;
    let zhang = app.login("citizen-zhang").await;
    let device = enrol(&app, &zhang).await;
    let consents = Call::get("/api/v1/me/consents");
    served_once(&app, &zhang, &consents, &device).await;
    // Remembered in Redis, where another instance would find it, not in this one's database.
    let kept: i64 = bianmin_store::on_pool!(app.db.store, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM request_nonces")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(kept, 0);
}

#[tokio::test]
async fn the_assistant_answers_from_a_citizens_own_data_only_to_their_signed_device() {
    let app = spawn_app_with(|c| {
        signing(c);
        c.exchange.govsim = true;
    })
    .await;
    let zhang = app.login("citizen-zhang").await;
    let device = enrol(&app, &zhang).await;
    grant_signed(&app, &zhang, &device, "SERVICE_HPF_QUERY").await;
    let question = json!({ "question": "我的公积金余额是多少" });
    // A stolen session token without the device key: treated as nobody signed in.
    let unsigned: Value = app
        .post_as("/api/v1/assistant/ask", &zhang, &question)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unsigned["personal"]["status"], "need_login", "{unsigned}");
    let signed: Value = Call::post("/api/v1/assistant/ask", question)
        .send(&app, &zhang, &device)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(signed["personal"]["status"], "done", "{signed}");
}

#[tokio::test]
async fn the_app_sets_a_wrong_clock_by_the_servers_date_and_is_served() {
    let app = spawn_app_with(signing).await;
    let zhang = app.login("citizen-zhang").await;
    let ten_minutes_slow = bianmin_core::TestClock::at(app.clock.now() - TimeDelta::minutes(10));
    let mut phone = bianmin_sdk::Client::new(&app.base, zhang)
        .unwrap()
        .with_clock(std::sync::Arc::new(ten_minutes_slow));
    phone.enrol("慢十分钟的手机").await.unwrap();
    // Its first signature is stale; the refusal's `Date` sets its clock and the retry passes.
    let response = phone.get("/api/v1/me/consents").await.unwrap();
    assert_eq!(response.status(), 200);
}

/// Everything a crawler got: requests sent until blocked, and violations of vehicles that are
/// not the crawler's own.
struct Crawl {
    requests: usize,
    blocked_at: Option<usize>,
    challenges_answered: usize,
    records_of_others: usize,
}

/// A crawler that reverse-engineered the app: it signs with its own enrolled device and answers
/// challenges, while walking through plates `川A10000`, `川A10001`, … at machine speed.
async fn crawl_plates(app: &TestApp, token: &str, device: &DeviceSigner, limit: usize) -> Crawl {
    let mut crawl = Crawl {
        requests: 0,
        blocked_at: None,
        challenges_answered: 0,
        records_of_others: 0,
    };
    let mut answer = None;
    let mut plate_number = 10_000;
    while crawl.requests < limit {
        let plate = format!("川A{plate_number}");
        let path = format!(
            "/api/v1/me/traffic/violations?plate={}",
            urlencoding(&plate)
        );
        let mut call = Call::get(&path);
        call.user_agent = SCRIPT;
        call.challenge = answer.take();
        let response = call.send(app, token, device).await;
        crawl.requests += 1;
        // Requests a second apart, like clockwork.
        app.clock.advance(TimeDelta::seconds(1));
        match response.status().as_u16() {
            200 => {
                let body: Value = response.json().await.unwrap();
                crawl.records_of_others += body["violations"].as_array().unwrap().len();
                plate_number += 1;
            }
            428 => {
                let problem: Value = response.json().await.unwrap();
                let token = problem["challenge"]["token"].as_str().unwrap();
                answer = Some(bianmin_sdk::answer_challenge(token).unwrap());
                crawl.challenges_answered += 1;
            }
            403 => {
                let problem: Value = response.json().await.unwrap();
                assert_eq!(problem["code"], "guard.blocked", "{problem}");
                crawl.blocked_at = Some(crawl.requests);
                break;
            }
            status => panic!("unexpected {status}: {}", response.text().await.unwrap()),
        }
    }
    crawl
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_crawler_enumerating_plates_is_blocked_within_50_requests_with_nothing_of_others() {
    let app = spawn_app_with(protected).await;
    let (crawler, device) = crawler(&app).await;
    let crawl = crawl_plates(&app, &crawler, &device, 200).await;
    let blocked_at = crawl.blocked_at.expect("the crawler is blocked");
    assert!(blocked_at <= 50, "blocked only after {blocked_at} requests");
    assert_eq!(crawl.records_of_others, 0);
    assert!(
        crawl.challenges_answered >= 1,
        "challenged before the block"
    );
    // The block holds for the session and the device, whatever the crawler sends now.
    let mut polite = Call::get("/api/v1/me/consents");
    polite.user_agent = BROWSER;
    let refused = polite.send(&app, &crawler, &device).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((60..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_problem(refused, 403, "guard.blocked").await;

    // Everyone else is served as before.
    let zhang = app.login("citizen-zhang").await;
    let zhangs_device = enrol(&app, &zhang).await;
    assert_eq!(
        Call::get("/api/v1/me/consents")
            .send(&app, &zhang, &zhangs_device)
            .await
            .status(),
        200
    );

    // The bank console shows the steps with their evidence; citizens cannot see it.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let operator = app.login("operator-liu").await;
    let view: Value = app
        .get_as("/api/v1/console/guard/escalations", &operator)
        .await
        .json()
        .await
        .unwrap();
    let items = view["items"].as_array().unwrap();
    let block = items
        .iter()
        .find(|item| item["to"] == "block")
        .unwrap_or_else(|| panic!("a block in {view}"));
    assert_eq!(block["path"], "/api/v1/me/traffic/violations");
    assert!(block["until"].is_string());
    let signals: Vec<&str> = block["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["signal"].as_str().unwrap())
        .collect();
    assert!(signals.contains(&"enumeration"), "{signals:?}");
    assert!(view["counts"]["block"].as_u64().unwrap() >= 1);
    assert!(
        items.iter().any(|item| item["to"] == "challenge"),
        "the challenge step is recorded too: {view}"
    );
    // No identifier or session id leaks into the record.
    let text = view.to_string();
    assert!(!text.contains("川A100"), "{text}");
    assert!(!text.contains(&device.device_id().to_string()), "{text}");
    assert_problem(
        app.get_as("/api/v1/console/guard/escalations", &zhang)
            .await,
        403,
        "auth.forbidden",
    )
    .await;
}

#[tokio::test]
async fn a_crawler_that_never_answers_its_challenges_is_blocked_all_the_same() {
    let app = spawn_app_with(protected).await;
    let (crawler, device) = crawler(&app).await;
    let mut challenged = 0;
    let mut blocked_at = None;
    for n in 1..=50 {
        let path = format!(
            "/api/v1/me/traffic/violations?plate={}",
            urlencoding(&format!("川C{}", 30_000 + n))
        );
        let mut call = Call::get(&path);
        call.user_agent = SCRIPT;
        let response = call.send(&app, &crawler, &device).await;
        app.clock.advance(TimeDelta::milliseconds(500));
        match response.status().as_u16() {
            428 => challenged += 1,
            403 => {
                assert_problem(response, 403, "guard.blocked").await;
                blocked_at = Some(n);
                break;
            }
            _ => {}
        }
    }
    assert!(challenged >= 1);
    assert!(
        blocked_at.is_some(),
        "still only challenged after 50 requests"
    );
}

#[tokio::test]
async fn a_wrong_malformed_or_forged_challenge_answer_gets_a_fresh_challenge() {
    let app = spawn_app_with(protected).await;
    let (crawler, device) = crawler(&app).await;
    // Crawl until the first challenge, without answering it.
    let mut token = None;
    for n in 0..50 {
        let path = format!(
            "/api/v1/me/traffic/violations?plate={}",
            urlencoding(&format!("川B{}", 20_000 + n))
        );
        let mut call = Call::get(&path);
        call.user_agent = SCRIPT;
        let response = call.send(&app, &crawler, &device).await;
        app.clock.advance(TimeDelta::seconds(1));
        if response.status() == 428 {
            let problem = assert_problem(response, 428, "guard.challenge").await;
            token = Some(problem["challenge"]["token"].as_str().unwrap().to_owned());
            break;
        }
    }
    let token = token.expect("a challenge within 50 requests");
    let mut call = Call::get("/api/v1/me/consents");
    call.user_agent = SCRIPT;
    let answer = bianmin_sdk::answer_challenge(&token).unwrap();
    let (_, counter) = answer.rsplit_once(':').unwrap();
    let counter: u64 = counter.parse().unwrap();
    // Not the work asked for (the first counter that carries it is the answer, so no smaller
    // one does), malformed, or a forged token: refused, each time with a fresh challenge.
    let mut tokens = vec![token.clone()];
    for wrong in [
        format!("{token}:{}", counter.saturating_sub(1)),
        "not-an-answer".to_owned(),
        format!("{}:{counter}", "ab".repeat(74)),
    ] {
        if wrong.ends_with(":0") && counter == 0 {
            continue;
        }
        call.challenge = Some(wrong);
        let problem = assert_problem(
            call.send(&app, &crawler, &device).await,
            428,
            "guard.challenge_failed",
        )
        .await;
        let fresh = problem["challenge"]["token"].as_str().unwrap().to_owned();
        assert!(!tokens.contains(&fresh), "a fresh challenge each time");
        tokens.push(fresh);
    }
    // The work done: served.
    call.challenge = Some(answer);
    assert_eq!(call.send(&app, &crawler, &device).await.status(), 200);
}

#[tokio::test]
async fn a_realistic_mix_of_people_is_never_blocked_nor_challenged() {
    let app = spawn_app_with(protected).await;
    let zhang = app.login("citizen-zhang").await;
    let li = app.login("citizen-li").await;
    let mut people = Vec::new();
    for token in [zhang, li] {
        let device = enrol(&app, &token).await;
        for purpose in ["SERVICE_TRAFFIC", "SERVICE_HPF_QUERY", "SERVICE_SSCARD"] {
            // Reading a consent screen and tapping 同意 takes a person a few seconds.
            app.clock.advance(TimeDelta::seconds(6));
            grant_signed(&app, &token, &device, purpose).await;
        }
        people.push((token, device));
    }
    // Each page a person opens makes its API calls together; people read for a while between
    // pages. Two people interleave for an hour of simulated time.
    let pages: [&[&str]; 6] = [
        &[
            "/api/v1/me/services",
            "/api/v1/me/inbox",
            "/api/v1/me/consents",
        ],
        &[
            "/api/v1/me/hpf/account",
            "/api/v1/me/hpf/deposits",
            "/api/v1/me/hpf/loan/quota",
        ],
        &[
            "/api/v1/me/traffic/vehicles",
            "/api/v1/me/traffic/licence",
            "/api/v1/me/traffic/violations",
        ],
        &["/api/v1/me/sscard", "/api/v1/me/sscard/contributions"],
        &["/api/v1/me/loan"],
        &["/api/v1/me/devices", "/api/v1/me/consents"],
    ];
    let think_times = [
        7_i64, 23, 4, 41, 12, 9, 66, 15, 5, 31, 18, 8, 52, 11, 27, 6, 14, 38,
    ];
    let mut step = 0;
    let mut refused = Vec::new();
    for round in 0..18 {
        for (person, (token, device)) in people.iter().enumerate() {
            let page = pages[(round + person * 2) % pages.len()];
            for path in page {
                let response = Call::get(path).send(&app, token, device).await;
                if let Some(code) = friction(response).await {
                    refused.push(format!("{path}: {code}"));
                }
            }
            // Now and then a person asks the assistant.
            if round % 5 == person {
                let ask = app
                    .client
                    .post(app.url("/api/v1/assistant/ask"))
                    .bearer_auth(token)
                    .header("user-agent", BROWSER)
                    .header("accept-language", "zh-CN")
                    .json(&json!({ "question": "公积金怎么提取？" }))
                    .send()
                    .await
                    .unwrap();
                if let Some(code) = friction(ask).await {
                    refused.push(format!("assistant: {code}"));
                }
            }
            app.clock
                .advance(TimeDelta::seconds(think_times[step % think_times.len()]));
            step += 1;
        }
    }
    assert!(refused.is_empty(), "people were refused: {refused:?}");
    let operator = app.login("operator-liu").await;
    let view: Value = app
        .get_as("/api/v1/console/guard/escalations", &operator)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["items"], json!([]), "no escalation for people: {view}");
}

/// The anti-bot refusal `response` is, if it is one: a block, a challenge or a rate limit
/// (other refusals, such as a service not consented to, are the person's business).
async fn friction(response: reqwest::Response) -> Option<String> {
    if !matches!(response.status().as_u16(), 403 | 428 | 429) {
        return None;
    }
    let problem: Value = response.json().await.unwrap();
    let code = problem["code"].as_str().unwrap_or_default();
    (code.starts_with("guard.") || code == "rate_limited").then(|| code.to_owned())
}

/// Consents to `purpose` with signed requests (the consent endpoints are under `/api/v1/me/`
/// too).
async fn grant_signed(app: &TestApp, token: &str, device: &DeviceSigner, purpose: &str) {
    let asked = Call::post("/api/v1/me/consents", json!({ "purpose": purpose }))
        .send(app, token, device)
        .await;
    assert_eq!(asked.status(), 201);
    let id = asked.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/me/consents/{id}/approve");
    let approved = Call::post(&path, json!({})).send(app, token, device).await;
    assert_eq!(approved.status(), 200);
}

/// A crawler signed in as 李娜, who consented to the traffic service (from another device of
/// hers), with a device key of its own: its session token and signer.
async fn crawler(app: &TestApp) -> (String, DeviceSigner) {
    let token = app.login("citizen-li").await;
    let consenting = enrol(app, &token).await;
    grant_signed(app, &token, &consenting, "SERVICE_TRAFFIC").await;
    let device = enrol(app, &token).await;
    (token, device)
}
