//! Signing in with a code sent by SMS, as a citizen and as an attacker meet it: the happy path,
//! codes that die after five wrong entries, after five minutes or once used, the same answers
//! for registered and unregistered numbers, the resend interval and the hourly send limit, a
//! guessing attacker locked out of the account while its owner signs in, a credential stuffer
//! blocked while others are not, and an account attacked from many addresses asking for a
//! proof of work instead of locking its owner out.
//!
//! Clients are told apart by `X-Forwarded-For` from a trusted proxy (the test client itself).

mod common;

use bianmin_guard::{Challenge, solve};
use chrono::TimeDelta;
use common::{TestApp, assert_problem, spawn_app_with};
use serde_json::{Value, json};

/// 张伟 (`citizen-zhang`), a registered citizen.
const ZHANG: &str = "13800000001";
/// 李娜 (`citizen-li`).
const LI: &str = "13900000002";
/// A valid number that nobody signs in with.
const NOBODY: &str = "13600000009";

const OWNER_IP: &str = "198.51.100.10";
const ATTACKER_IP: &str = "203.0.113.66";

async fn spawn() -> TestApp {
    spawn_app_with(|c| {
        c.guard.trusted_proxies = vec!["127.0.0.1/32".into()];
        // Cheap challenges: the rule under test is when one is asked, not how hard it is.
        c.guard.behaviour.challenge_difficulty = 8;
    })
    .await
}

async fn send_from(app: &TestApp, phone: &str, ip: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/otp/send"))
        .header("x-forwarded-for", ip)
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .unwrap()
}

/// Asks for a code from `ip` and returns it (the development field `dev_code`).
async fn code_for(app: &TestApp, phone: &str, ip: &str) -> String {
    let response = send_from(app, phone, ip).await;
    assert_eq!(response.status(), 202, "sending to {phone}");
    let body: Value = response.json().await.unwrap();
    body["dev_code"].as_str().unwrap().to_owned()
}

async fn verify_from(
    app: &TestApp,
    phone: &str,
    code: &str,
    ip: &str,
    challenge: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({ "phone": phone, "code": code });
    if let Some(answer) = challenge {
        body["challenge"] = json!(answer);
    }
    app.client
        .post(app.url("/api/v1/auth/otp/verify"))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// Asserts 422 `otp.wrong` with `attempts_left` in the body and the detail.
async fn assert_wrong(response: reqwest::Response, attempts_left: u64) {
    let body = assert_problem(response, 422, "otp.wrong").await;
    assert_eq!(body["attempts_left"], attempts_left, "{body}");
    let detail = body["detail"].as_str().unwrap();
    if attempts_left > 0 {
        assert!(
            detail.contains(&format!("还可再试 {attempts_left} 次")),
            "{detail}"
        );
    } else {
        assert!(detail.contains("已失效"), "{detail}");
    }
}

/// Asserts a 429 with `code` and a `Retry-After` within `range`; returns the wait.
async fn assert_retry_after(
    response: reqwest::Response,
    code: &str,
    range: std::ops::RangeInclusive<u64>,
) -> u64 {
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(range.contains(&retry_after), "Retry-After: {retry_after}");
    assert_problem(response, 429, code).await;
    retry_after
}

/// The sign-in texts the simulated carrier delivered to the persona `persona`, opened with
/// their data key, waiting briefly for delivery (it happens after the answer).
async fn texts_to(app: &TestApp, persona: &str, at_least: usize) -> Vec<String> {
    for _ in 0..100 {
        let texts = texts_to_now(app, persona).await;
        if texts.len() >= at_least {
            return texts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("fewer than {at_least} texts to {persona}");
}

async fn texts_to_now(app: &TestApp, persona: &str) -> Vec<String> {
    let rows: Vec<(uuid::Uuid, uuid::Uuid, Vec<u8>)> = bianmin_store::on_pool!(&app.db.store, pool => {
        sqlx::query_as(
            "SELECT o.id, o.person_id, o.body_enc FROM sms_outbox o \
             JOIN principals p ON p.person_id = o.person_id \
             WHERE p.persona = $1 AND o.followup_id IS NULL ORDER BY o.id",
        )
        .bind(persona)
        .fetch_all(pool)
        .await
        .unwrap()
    });
    let mut texts = Vec::new();
    for (id, person, sealed) in rows {
        let place = bianmin_people::FieldAad::new("sms_outbox", "body_enc", id.as_bytes());
        let json = app
            .state
            .vault()
            .open_for(person, &place, &sealed)
            .await
            .unwrap();
        texts.push(serde_json::from_slice(&json).unwrap());
    }
    texts
}

/// Every text in the development sink.
async fn all_texts(app: &TestApp) -> i64 {
    bianmin_store::on_pool!(&app.db.store, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM sms_outbox")
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

#[tokio::test]
async fn a_citizen_signs_in_with_a_code_sent_by_sms() {
    let app = spawn().await;
    let response = send_from(&app, "+86 138-0000-0001", OWNER_IP).await;
    assert_eq!(response.status(), 202);
    let sent: Value = response.json().await.unwrap();
    assert_eq!(sent["sent"], true);
    assert_eq!(sent["expires_in"], 300);
    assert_eq!(sent["resend_after"], 60);
    assert_eq!(sent["masked_phone"], "138****0001");
    let code = sent["dev_code"].as_str().unwrap().to_owned();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    let texts = texts_to(&app, "citizen-zhang", 1).await;
    assert_eq!(
        texts,
        [format!(
            "【便民】您的登录验证码为 {code}，5 分钟内有效。如非本人操作请忽略。"
        )]
    );

    let response = verify_from(&app, ZHANG, &code, OWNER_IP, None).await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("bianmin_session=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let login: Value = response.json().await.unwrap();
    assert_eq!(login["home"], "/citizen/");
    let token = login["token"].as_str().unwrap();
    let me: Value = app.get_as("/api/v1/me", token).await.json().await.unwrap();
    assert_eq!(me["persona"], "citizen-zhang");
    assert_eq!(me["role"], "citizen");
    assert_eq!(me["display_name"], "*伟");

    assert_problem(
        verify_from(&app, ZHANG, &code, OWNER_IP, None).await,
        422,
        "otp.expired",
    )
    .await;
}

#[tokio::test]
async fn an_erased_citizens_number_no_longer_signs_in() {
    let app = spawn().await;
    let zhang = app.login("citizen-zhang").await;
    let profile: Value = app
        .get_as("/api/v1/me/profile", &zhang)
        .await
        .json()
        .await
        .unwrap();
    let admin = app.login("admin-zhou").await;
    let erased = app
        .client
        .delete(app.url(&format!(
            "/api/v1/persons/{}",
            profile["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .json(&json!({ "reason": "本人申请注销（工单 T-42）" }))
        .send()
        .await
        .unwrap();
    assert!(erased.status().is_success(), "{}", erased.status());
    let code = code_for(&app, ZHANG, OWNER_IP).await;
    let refused = verify_from(&app, ZHANG, &code, OWNER_IP, None).await;
    assert_eq!(refused.status(), 422, "the number is nobody's any more");
}

#[tokio::test]
async fn five_wrong_entries_use_the_code_up() {
    let app = spawn().await;
    let code = code_for(&app, LI, OWNER_IP).await;
    let wrong = other_than(&code);
    // From two addresses, so that the fifth failure does not lock the first one out (which
    // would answer 429 before the code is looked at).
    for attempts_left in [4, 3, 2, 1] {
        assert_wrong(
            verify_from(&app, LI, &wrong, ATTACKER_IP, None).await,
            attempts_left,
        )
        .await;
    }
    assert_wrong(verify_from(&app, LI, &wrong, "203.0.113.67", None).await, 0).await;
    let body = assert_problem(
        verify_from(&app, LI, &code, OWNER_IP, None).await,
        422,
        "otp.expired",
    )
    .await;
    assert_eq!(body["detail"], "验证码已失效，请重新获取。");

    app.clock.advance(TimeDelta::seconds(61));
    let code = code_for(&app, LI, OWNER_IP).await;
    let response = verify_from(&app, LI, &code, OWNER_IP, None).await;
    assert_eq!(response.status(), 200, "a new code works");
}

#[tokio::test]
async fn a_code_expires_after_five_minutes() {
    let app = spawn().await;
    let code = code_for(&app, ZHANG, OWNER_IP).await;
    app.clock.advance(TimeDelta::seconds(301));
    assert_problem(
        verify_from(&app, ZHANG, &code, OWNER_IP, None).await,
        422,
        "otp.expired",
    )
    .await;
}

#[tokio::test]
async fn an_unregistered_number_gets_the_same_answers_as_a_registered_one() {
    let app = spawn().await;
    let mut answers = Vec::new();
    for phone in [ZHANG, NOBODY] {
        let response = send_from(&app, phone, OWNER_IP).await;
        assert_eq!(response.status(), 202, "{phone}");
        let mut body: Value = response.json().await.unwrap();
        let code = body["dev_code"].as_str().unwrap().to_owned();
        let members = body.as_object_mut().unwrap();
        members.remove("dev_code");
        members.remove("masked_phone");
        answers.push((body, code));
    }
    assert_eq!(answers[0].0, answers[1].0);

    for phone in [ZHANG, NOBODY] {
        assert_retry_after(
            send_from(&app, phone, OWNER_IP).await,
            "otp.resend_too_soon",
            1..=60,
        )
        .await;
    }
    // A wrong code, and for the unregistered number even the code it was given, are wrong
    // alike; so is any code for a number that was sent nothing.
    assert_wrong(
        verify_from(&app, ZHANG, &other_than(&answers[0].1), OWNER_IP, None).await,
        4,
    )
    .await;
    assert_wrong(
        verify_from(&app, NOBODY, &answers[1].1, OWNER_IP, None).await,
        4,
    )
    .await;
    for phone in [LI, "13600000008"] {
        assert_problem(
            verify_from(&app, phone, "123456", OWNER_IP, None).await,
            422,
            "otp.expired",
        )
        .await;
    }

    // Only the registered number was texted.
    texts_to(&app, "citizen-zhang", 1).await;
    assert_eq!(all_texts(&app).await, 1);
}

#[tokio::test]
async fn malformed_numbers_and_codes_are_refused() {
    let app = spawn().await;
    for phone in ["", "12345", "23800000001", "1380000000a", "12800000001"] {
        assert_problem(
            send_from(&app, phone, OWNER_IP).await,
            422,
            "otp.invalid_phone",
        )
        .await;
        assert_problem(
            verify_from(&app, phone, "123456", OWNER_IP, None).await,
            422,
            "otp.invalid_phone",
        )
        .await;
    }
    let code = code_for(&app, ZHANG, OWNER_IP).await;
    for bad in ["12345", "1234567", "abcdef"] {
        assert_problem(
            verify_from(&app, ZHANG, bad, OWNER_IP, None).await,
            422,
            "otp.invalid_code",
        )
        .await;
    }
    let response = verify_from(&app, ZHANG, &code, OWNER_IP, None).await;
    assert_eq!(
        response.status(),
        200,
        "malformed entries do not count against the code"
    );
}

#[tokio::test]
async fn codes_are_resent_after_a_minute_and_five_times_an_hour() {
    let app = spawn().await;
    let first = code_for(&app, ZHANG, OWNER_IP).await;
    assert_eq!(
        assert_retry_after(
            send_from(&app, ZHANG, OWNER_IP).await,
            "otp.resend_too_soon",
            1..=60
        )
        .await,
        60
    );
    app.clock.advance(TimeDelta::seconds(30));
    assert_eq!(
        assert_retry_after(
            send_from(&app, ZHANG, "198.51.100.11").await,
            "otp.resend_too_soon",
            1..=60
        )
        .await,
        30,
        "the interval is the number's, whoever asks"
    );
    app.clock.advance(TimeDelta::seconds(31));
    let second = code_for(&app, ZHANG, OWNER_IP).await;
    if second != first {
        assert_wrong(verify_from(&app, ZHANG, &first, OWNER_IP, None).await, 4).await;
    }

    // Five codes an hour per number from one source.
    for _ in 0..3 {
        app.clock.advance(TimeDelta::seconds(61));
        code_for(&app, ZHANG, OWNER_IP).await;
    }
    app.clock.advance(TimeDelta::seconds(61));
    let wait = assert_retry_after(
        send_from(&app, ZHANG, OWNER_IP).await,
        "otp.too_many_sends",
        3000..=3600,
    )
    .await;
    assert_eq!(wait, 3600 - 305, "until the first send leaves the hour");

    // Somebody else spending the number's codes from elsewhere locks nobody out: past ten
    // codes in the hour, whoever asks answers a challenge, the owner included.
    for n in 0..5 {
        code_for(&app, ZHANG, &format!("203.0.113.{}", 10 + n)).await;
        app.clock.advance(TimeDelta::seconds(61));
    }
    let problem = assert_problem(
        send_from(&app, ZHANG, "198.51.100.13").await,
        428,
        "guard.challenge",
    )
    .await;
    let token = problem["challenge"]["token"].as_str().unwrap();
    let counter = solve(&Challenge::parse(token).unwrap());
    let answered = app
        .client
        .post(app.url("/api/v1/auth/otp/send"))
        .header("x-forwarded-for", "198.51.100.13")
        .json(&json!({ "phone": ZHANG, "challenge": format!("{token}:{counter}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 202);
}

#[tokio::test]
async fn a_guessing_attacker_locks_only_themselves_out() {
    let app = spawn().await;
    let first = code_for(&app, ZHANG, OWNER_IP).await;
    for attempts_left in [4, 3, 2, 1] {
        assert_wrong(
            verify_from(&app, ZHANG, &other_than(&first), ATTACKER_IP, None).await,
            attempts_left,
        )
        .await;
    }
    app.clock.advance(TimeDelta::seconds(61));
    let code = code_for(&app, ZHANG, OWNER_IP).await;
    let guess = other_than(&code);
    // The attacker's fifth failure in a row locks the attacker out of the account for a minute.
    assert_wrong(verify_from(&app, ZHANG, &guess, ATTACKER_IP, None).await, 4).await;
    let wait = assert_retry_after(
        verify_from(&app, ZHANG, &code, ATTACKER_IP, None).await,
        "auth.locked",
        1..=60,
    )
    .await;
    assert_eq!(wait, 60, "even with the right code");

    // The owner, from their own address, is not held back.
    let response = verify_from(&app, ZHANG, &code, OWNER_IP, None).await;
    assert_eq!(response.status(), 200);

    // Once the lock is over, the attacker's next failure locks them out twice as long.
    app.clock.advance(TimeDelta::seconds(61));
    let code = code_for(&app, ZHANG, ATTACKER_IP).await;
    assert_wrong(
        verify_from(&app, ZHANG, &other_than(&code), ATTACKER_IP, None).await,
        4,
    )
    .await;
    assert_eq!(
        assert_retry_after(
            verify_from(&app, ZHANG, &code, ATTACKER_IP, None).await,
            "auth.locked",
            61..=120,
        )
        .await,
        120
    );
}

#[tokio::test]
async fn a_source_failing_on_many_accounts_is_blocked_and_others_are_not() {
    let app = spawn().await;
    let stuffer = "203.0.113.99";
    for n in 1..=5 {
        let phone = format!("1350000000{n}");
        let code = code_for(&app, &phone, stuffer).await;
        assert_wrong(
            verify_from(&app, &phone, &other_than(&code), stuffer, None).await,
            4,
        )
        .await;
    }
    // Blocked for an hour: it may neither ask for codes nor enter any.
    assert_retry_after(
        send_from(&app, ZHANG, stuffer).await,
        "otp.too_many_sends",
        3590..=3600,
    )
    .await;
    assert_retry_after(
        verify_from(&app, "13500000001", "123456", stuffer, None).await,
        "auth.locked",
        3590..=3600,
    )
    .await;

    let code = code_for(&app, ZHANG, OWNER_IP).await;
    assert_retry_after(
        verify_from(&app, ZHANG, &code, stuffer, None).await,
        "auth.locked",
        3590..=3600,
    )
    .await;
    let response = verify_from(&app, ZHANG, &code, OWNER_IP, None).await;
    assert_eq!(response.status(), 200, "another address is not affected");
}

#[tokio::test]
async fn an_account_attacked_from_many_sources_asks_for_a_challenge_not_a_lockout() {
    let app = spawn().await;
    let code = code_for(&app, ZHANG, OWNER_IP).await;
    let guess = other_than(&code);
    for (ip, attempts_left) in [("203.0.113.1", 4), ("203.0.113.2", 3), ("203.0.113.3", 2)] {
        assert_wrong(
            verify_from(&app, ZHANG, &guess, ip, None).await,
            attempts_left,
        )
        .await;
    }

    // Every attempt now needs a proof of work, the owner's included; asking costs no entry.
    let body = assert_problem(
        verify_from(&app, ZHANG, &code, OWNER_IP, None).await,
        428,
        "guard.challenge",
    )
    .await;
    let token = body["challenge"]["token"].as_str().unwrap().to_owned();
    assert_eq!(body["challenge"]["difficulty"], 8);
    assert_problem(
        verify_from(&app, ZHANG, &code, OWNER_IP, Some(&format!("{token}:x"))).await,
        428,
        "guard.challenge_failed",
    )
    .await;
    let counter = solve(&Challenge::parse(&token).unwrap());
    let answer = format!("{token}:{counter}");
    let response = verify_from(&app, ZHANG, &code, OWNER_IP, Some(&answer)).await;
    assert_eq!(response.status(), 200);

    // An answer is good once.
    app.clock.advance(TimeDelta::seconds(61));
    let code = code_for(&app, ZHANG, OWNER_IP).await;
    assert_problem(
        verify_from(&app, ZHANG, &code, OWNER_IP, Some(&answer)).await,
        428,
        "guard.challenge_failed",
    )
    .await;
}

#[tokio::test]
async fn failed_attempts_do_not_spend_the_owners_sign_ins() {
    let app = spawn_app_with(|c| {
        c.guard.trusted_proxies = vec!["127.0.0.1/32".into()];
        // Two sign-ins at once per account, then one every 10 s: the attacker's two wrong
        // codes would use them up if they counted.
        c.guard.login.per_user = Some(bianmin_server::config::LimitSetting::new(6, 2));
    })
    .await;
    let code = code_for(&app, ZHANG, OWNER_IP).await;
    let guess = other_than(&code);
    for attempts_left in [4, 3] {
        assert_wrong(
            verify_from(&app, ZHANG, &guess, ATTACKER_IP, None).await,
            attempts_left,
        )
        .await;
    }
    let response = verify_from(&app, ZHANG, &code, OWNER_IP, None).await;
    assert_eq!(response.status(), 200);

    // Right codes do count: a third sign-in at once is refused, before the code is spent.
    app.clock.advance(TimeDelta::seconds(61));
    let code = code_for(&app, ZHANG, OWNER_IP).await;
    assert_eq!(
        verify_from(&app, ZHANG, &code, OWNER_IP, None)
            .await
            .status(),
        200
    );
    app.clock.advance(TimeDelta::seconds(61));
    let code = code_for(&app, ZHANG, OWNER_IP).await;
    assert_problem(
        verify_from(&app, ZHANG, &code, OWNER_IP, None).await,
        429,
        "rate_limited",
    )
    .await;
}
