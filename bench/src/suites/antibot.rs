//! `antibot`: the anti-crawler protection against the goals of its issue, in real time on the
//! system clock.
//!
//! - **Crawlers** against the demo's protection (`GuardConfig::default()`: rate limits on,
//!   signatures required, behaviour scoring on; the simulated agencies on), each on a fresh
//!   application and database, each signed in as 张伟 (`citizen-zhang`), who has a car with
//!   fines and a provident-fund account, so that a leak would have something to show:
//!   - `naive`: reverse-engineered the SDK (enrols its own device key, signs, answers
//!     challenges), says `python-requests`, no `Accept-Language`, and walks through plates
//!     `川A10000`, `川A10001`, … on `GET /api/v1/me/traffic/violations?plate=` as fast as it
//!     can;
//!   - `disguised`: the same with the bank app's user agent, `Accept-Language: zh-CN` and a
//!     seeded human-ish pause of 300–900 ms before each request;
//!   - `assistant_ids`: asks the 智能客服 (`POST /api/v1/assistant/ask`, not signed) for the
//!     公积金 balance of sequential valid resident ids, with a script's user agent;
//!   - `unsigned`: replays a stolen session token curl-style, without any signature.
//!
//!   Each stops at the first `403 guard.blocked` or `429 rate_limited`, or after 200
//!   requests. Goal: blocked within 50 requests, 0 records of other people (printed, never
//!   enforced).
//! - **Cost per request** of the protection on a cheap citizen read (`GET
//!   /api/v1/me/consents`) under closed-loop load from an app-like signed client whose
//!   requests are all signed before the measured window, against the same endpoint with the
//!   protection off, on the same database kind in the same run: signatures alone, with rate
//!   limits, with behaviour scoring, and (when `BIANMIN_TEST_REDIS_URL` names one) with Redis;
//!   and one SM2 verification in process, the crypto part of that cost.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bianmin_core::ResidentId;
use bianmin_core::mask::mask_resident_id;
use bianmin_crypto::{Sm2SigningKey, Sm2VerifyingKey};
use bianmin_sdk::{
    Client, DeviceSigner, HEADER_CHALLENGE, HEADER_CLIENT, SIGNER_ID, answer_challenge,
    canonical_request, is_signed_path, new_nonce,
};
use bianmin_server::config::{GuardConfig, LimitSetting, SignatureMode};
use hdrhistogram::Histogram;
use hyper::StatusCode;
use hyper::header::{
    ACCEPT_LANGUAGE, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, USER_AGENT,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::Settings;
use crate::client::Connection;
use crate::figure::Figures;
use crate::load::{LoadPlan, LoadReport, new_histogram};
use crate::scratch::ScratchDatabase;
use crate::servers::AppServer;

/// The citizen every crawler signs in as: a car with fines and an active provident-fund
/// account, so that the checks for other people's records are not checking nothing.
const PERSONA: &str = "citizen-zhang";
/// A bank operator, to read the console's record of escalations.
const OPERATOR: &str = "operator-liu";
/// The goal of the issue: blocked within this many requests (printed, never enforced).
const GOAL_REQUESTS: usize = 50;
/// A crawler gives up after this many requests.
const CRAWL_LIMIT: usize = 200;
/// What a Python script says it is.
const SCRIPT_AGENT: &str = "python-requests/2.31.0";
/// What curl says it is.
const CURL_AGENT: &str = "curl/8.5.0";
/// The bank app on a phone.
const APP_AGENT: &str = "Mozilla/5.0 (Linux; Android 14; V2309A) AppleWebKit/537.36 \
                         (KHTML, like Gecko) Mobile Safari/537.36 BianminApp/2.3";
/// The first plate number the plate crawlers try, after `川A`.
const FIRST_PLATE: u32 = 10_000;
/// The resident ids the assistant crawler asks about: this region and birth date, then
/// sequence numbers from 001, each with its GB 11643 check character.
const RESIDENT_ID_STEM: &str = "51010419900101";
/// The disguised crawler's pause before each request, in milliseconds, and its seed.
const PAUSE_MS: std::ops::RangeInclusive<u64> = 300..=900;
const PAUSE_SEED: u64 = 20_261_129;
/// The endpoint whose cost is measured: a citizen's own consents, one indexed read.
const COST_PATH: &str = "/api/v1/me/consents";
/// Rate limits far out of the way of the load generator (per minute and burst).
const FAR_LIMIT: u32 = 1_000_000;
/// Signatures made per request the unprotected server answered in the same plan: protection
/// only adds work, so the protected servers answer fewer; the rest is a margin.
const SIGNATURE_MARGIN: f64 = 1.25;
/// Environment variable naming a Redis for the `protected_redis` measurement (the same one
/// the server's tests use); without it, that measurement is skipped.
const REDIS_VARIABLE: &str = "BIANMIN_TEST_REDIS_URL";
/// Signed requests verified in process for `sm2_verify_us`.
const VERIFICATIONS: u32 = 2_000;
/// The kernel's clock ticks per second in `/proc` (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// Runs the suite.
pub async fn run(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    eprintln!(
        "antibot: crawlers against the demo's protection, each on a fresh application, up to \
         {CRAWL_LIMIT} requests; goal: blocked within {GOAL_REQUESTS} requests, 0 records of \
         other people (reported, not enforced)"
    );
    let url = settings.database_url.as_deref();
    let mut goals = Vec::new();
    goals.push(on_demo(url, async |app| naive(app, figures).await).await?);
    goals.push(on_demo(url, async |app| disguised(app, figures).await).await?);
    goals.push(on_demo(url, async |app| assistant_ids(app, figures).await).await?);
    goals.push(on_demo(url, async |app| unsigned(app, figures).await).await?);
    let met = goals.iter().filter(|met| **met).count();
    eprintln!("antibot: crawler goals met: {met} of {}", goals.len());

    protection_cost(settings, figures).await
}

/// The demo's protection: `bianmin demo` leaves `guard` at its defaults and starts the
/// simulated agencies (development sign-in and plain-HTTP cookies are `AppServer`'s already).
fn demo(config: &mut bianmin_server::Config) {
    config.guard = GuardConfig::default();
    config.exchange.govsim = true;
}

/// Runs `crawl` against the demo configuration on a fresh database, removed afterwards.
async fn on_demo(
    url: Option<&str>,
    crawl: impl AsyncFnOnce(&AppServer) -> anyhow::Result<bool>,
) -> anyhow::Result<bool> {
    let database = ScratchDatabase::create(url, "antibot").await?;
    let outcome = async {
        let app = database.start(demo).await?;
        let outcome = crawl(&app).await;
        app.stop().await?;
        outcome
    }
    .await;
    database.remove().await?;
    outcome
}

// ---------------------------------------------------------------------------------------------
// Crawlers
// ---------------------------------------------------------------------------------------------

/// One request a crawler makes.
struct Call {
    method: reqwest::Method,
    /// Origin form, percent-encoded as sent (and signed).
    path_and_query: String,
    body: Option<Value>,
}

impl Call {
    fn plate(number: u32) -> Call {
        Call {
            method: reqwest::Method::GET,
            path_and_query: format!(
                "/api/v1/me/traffic/violations?plate={}",
                percent_encode(&format!("川A{number}"))
            ),
            body: None,
        }
    }
}

/// Percent-encodes everything but ASCII letters and digits, as a browser encodes a query value.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A scripted client with a session token and, once enrolled, its own device key.
struct Crawler {
    http: reqwest::Client,
    base: String,
    token: String,
    signer: Option<DeviceSigner>,
    user_agent: &'static str,
    accept_language: bool,
}

/// A status, the problem's `code` when the answer was problem+json, and the JSON body.
struct Reply {
    status: u16,
    code: String,
    body: Value,
}

impl Crawler {
    fn new(
        app: &AppServer,
        token: String,
        user_agent: &'static str,
        accept_language: bool,
    ) -> Self {
        Crawler {
            http: reqwest::Client::new(),
            base: format!("http://{}", app.address()),
            token,
            signer: None,
            user_agent,
            accept_language,
        }
    }

    /// Sends `call`, signed when it has a key and the path is one that is signed, with the
    /// answer to a challenge when it has one.
    async fn send(&self, call: &Call, challenge: Option<&str>) -> anyhow::Result<Reply> {
        let body = call
            .body
            .as_ref()
            .map(serde_json::to_vec)
            .transpose()?
            .unwrap_or_default();
        let mut request = self
            .http
            .request(
                call.method.clone(),
                format!("{}{}", self.base, call.path_and_query),
            )
            .bearer_auth(&self.token)
            .header(USER_AGENT, self.user_agent);
        if self.accept_language {
            request = request.header(ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9");
        }
        let (path, query) = match call.path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (call.path_and_query.as_str(), None),
        };
        if let Some(signer) = self.signer.as_ref().filter(|_| is_signed_path(path)) {
            let signed = signer.sign(
                call.method.as_str(),
                path,
                query,
                &body,
                chrono::Utc::now().timestamp(),
                &new_nonce(),
            );
            for (name, value) in signed.pairs() {
                request = request.header(name, value);
            }
        }
        if let Some(answer) = challenge {
            request = request.header(HEADER_CHALLENGE, answer);
        }
        if call.body.is_some() {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let code = body["code"].as_str().unwrap_or_default().to_owned();
        Ok(Reply { status, code, body })
    }

    /// Generates a key and enrols it, as the app does, answering a challenge if one comes.
    async fn enrol(&mut self) -> anyhow::Result<()> {
        let key = Sm2SigningKey::generate();
        let call = Call {
            method: reqwest::Method::POST,
            path_and_query: "/api/v1/me/devices".to_owned(),
            body: Some(json!({ "public_key": key.verifying_key().to_hex(), "label": "Android" })),
        };
        let mut answer = None;
        for _ in 0..3 {
            let reply = self.send(&call, answer.as_deref()).await?;
            match reply.status {
                201 => {
                    let id = reply.body["id"]
                        .as_str()
                        .and_then(|id| id.parse().ok())
                        .ok_or_else(|| anyhow!("the enrolment answer has no device id"))?;
                    self.signer = Some(DeviceSigner::new(id, key));
                    return Ok(());
                }
                428 => answer = Some(solve(&reply).await?),
                status => bail!(
                    "enrolling the crawler's key answered {status}: {}",
                    reply.body
                ),
            }
        }
        bail!("enrolling the crawler's key was challenged three times")
    }
}

/// Answers the challenge of a `428`, off the runtime's threads (about 2^16 SM3 hashes).
async fn solve(reply: &Reply) -> anyhow::Result<String> {
    let token = reply.body["challenge"]["token"]
        .as_str()
        .ok_or_else(|| anyhow!("a 428 without a challenge: {}", reply.body))?
        .to_owned();
    Ok(tokio::task::spawn_blocking(move || answer_challenge(&token)).await??)
}

/// What one crawl came to.
#[derive(Default)]
struct Crawl {
    /// Requests sent, challenge answers included.
    requests: usize,
    /// Answered 200.
    served: usize,
    challenges: usize,
    /// Violations, replies or figures of somebody else in what was served.
    records_of_others: usize,
    /// The crawler's own records in what was served (shows the check had something to see).
    own_records: usize,
    /// The status and code that stopped it, if anything did.
    stop: Option<(u16, String)>,
    /// The first answer's status and code.
    first: Option<(u16, String)>,
    /// How many answers had each status.
    statuses: BTreeMap<u16, usize>,
    elapsed: Duration,
}

/// What a served answer held: records of others, and the crawler's own.
#[derive(Default)]
struct Findings {
    of_others: usize,
    own: usize,
}

/// Crawls `calls` (the next target by index, moving on after every answer but a challenge)
/// until stopped or [`CRAWL_LIMIT`], pausing before each request when `pauses` is given.
async fn crawl(
    crawler: &Crawler,
    mut calls: impl FnMut(u32) -> Call,
    mut inspect: impl FnMut(u32, &Value) -> Findings,
    mut pauses: Option<&mut ChaCha8Rng>,
) -> anyhow::Result<Crawl> {
    let mut crawl = Crawl::default();
    let mut index = 0;
    let mut answer: Option<String> = None;
    let started = Instant::now();
    while crawl.requests < CRAWL_LIMIT {
        if let Some(rng) = pauses.as_deref_mut() {
            tokio::time::sleep(Duration::from_millis(rng.random_range(PAUSE_MS))).await;
        }
        let call = calls(index);
        let reply = crawler.send(&call, answer.take().as_deref()).await?;
        crawl.requests += 1;
        *crawl.statuses.entry(reply.status).or_default() += 1;
        crawl
            .first
            .get_or_insert_with(|| (reply.status, reply.code.clone()));
        match reply.status {
            200 => {
                crawl.served += 1;
                let findings = inspect(index, &reply.body);
                crawl.records_of_others += findings.of_others;
                crawl.own_records += findings.own;
                index += 1;
            }
            428 => {
                answer = Some(solve(&reply).await?);
                crawl.challenges += 1;
            }
            403 if reply.code == "guard.blocked" => {
                crawl.stop = Some((reply.status, reply.code));
                break;
            }
            429 => {
                crawl.stop = Some((reply.status, reply.code));
                break;
            }
            _ => index += 1,
        }
    }
    crawl.elapsed = started.elapsed();
    Ok(crawl)
}

/// The citizen themself, in the bank app: signed in on a session of their own, with an
/// enrolled key, consenting to `purposes`.
async fn owner(app: &AppServer, purposes: &[&str]) -> anyhow::Result<Client> {
    let token = app.sign_in(PERSONA).await?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("zh-CN,zh;q=0.9"));
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    let mut client = Client::new(&format!("http://{}", app.address()), token)?
        .with_http_client(http)
        .with_user_agent(APP_AGENT)
        .with_client_tag(Some("app"));
    client.enrol("张伟的手机").await?;
    for purpose in purposes {
        let asked = json_of(
            client
                .post_json("/api/v1/me/consents", &json!({ "purpose": purpose }))
                .await?,
            201,
        )
        .await?;
        let id = asked["id"]
            .as_str()
            .ok_or_else(|| anyhow!("no consent id in {asked}"))?;
        json_of(
            client
                .post_json(&format!("/api/v1/me/consents/{id}/approve"), &json!({}))
                .await?,
            200,
        )
        .await?;
    }
    Ok(client)
}

async fn json_of(response: reqwest::Response, expected: u16) -> anyhow::Result<Value> {
    let status = response.status().as_u16();
    let url = response.url().path().to_owned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != expected {
        bail!("{url} answered {status}: {body}");
    }
    Ok(body)
}

/// The masked plates of the citizen's own vehicles, as violations show them.
async fn own_plates(owner: &Client) -> anyhow::Result<BTreeSet<String>> {
    let vehicles = json_of(owner.get("/api/v1/me/traffic/vehicles").await?, 200).await?;
    let plates: BTreeSet<String> = vehicles["vehicles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|vehicle| vehicle["plate"].as_str().map(str::to_owned))
        .collect();
    if plates.is_empty() {
        bail!("{PERSONA} has no vehicle in the simulated city: {vehicles}");
    }
    Ok(plates)
}

/// Violations in a served answer: those of a vehicle other than the citizen's own.
fn violations_of_others(own: &BTreeSet<String>, body: &Value) -> Findings {
    let mut findings = Findings::default();
    for violation in body["violations"].as_array().into_iter().flatten() {
        match violation["plate"].as_str() {
            Some(plate) if own.contains(plate) => findings.own += 1,
            _ => findings.of_others += 1,
        }
    }
    findings
}

async fn plate_crawler(
    app: &AppServer,
    user_agent: &'static str,
    accept_language: bool,
) -> anyhow::Result<(Crawler, BTreeSet<String>)> {
    let owner = owner(app, &["SERVICE_TRAFFIC"]).await?;
    let own = own_plates(&owner).await?;
    let mut crawler = Crawler::new(
        app,
        app.sign_in(PERSONA).await?,
        user_agent,
        accept_language,
    );
    crawler.enrol().await?;
    Ok((crawler, own))
}

async fn naive(app: &AppServer, figures: &mut Figures) -> anyhow::Result<bool> {
    eprintln!("antibot: naive plate crawler (python-requests, signed, no pauses)");
    let (crawler, own) = plate_crawler(app, SCRIPT_AGENT, false).await?;
    let crawl = crawl(
        &crawler,
        |n| Call::plate(FIRST_PLATE + n),
        |_, body| violations_of_others(&own, body),
        None,
    )
    .await?;
    report(app, figures, "naive", "naive plate crawler", &crawl).await
}

async fn disguised(app: &AppServer, figures: &mut Figures) -> anyhow::Result<bool> {
    eprintln!(
        "antibot: disguised plate crawler (the app's user agent, Accept-Language, signed, \
         {}-{} ms pauses)",
        PAUSE_MS.start(),
        PAUSE_MS.end()
    );
    let (crawler, own) = plate_crawler(app, APP_AGENT, true).await?;
    let mut pauses = ChaCha8Rng::seed_from_u64(PAUSE_SEED);
    let crawl = crawl(
        &crawler,
        |n| Call::plate(FIRST_PLATE + n),
        |_, body| violations_of_others(&own, body),
        Some(&mut pauses),
    )
    .await?;
    report(app, figures, "disguised", "disguised plate crawler", &crawl).await
}

/// The `n`-th resident id the assistant crawler asks about (sequence `n + 1`).
fn resident_id(n: u32) -> anyhow::Result<String> {
    let first17 = format!("{RESIDENT_ID_STEM}{:03}", n + 1);
    Ok(ResidentId::with_check_digit(&first17)
        .map_err(|error| anyhow!("{first17}: {error}"))?
        .as_str()
        .to_owned())
}

async fn assistant_ids(app: &AppServer, figures: &mut Figures) -> anyhow::Result<bool> {
    eprintln!("antibot: resident-id crawler asking the assistant (python-requests, unsigned)");
    let owner = owner(app, &["SERVICE_HPF_QUERY"]).await?;
    let account = json_of(owner.get("/api/v1/me/hpf/account").await?, 200).await?;
    let own = (
        account["balance"].as_str().unwrap_or_default().to_owned(),
        account["monthly_deposit"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    let ids: Vec<String> = (0..u32::try_from(CRAWL_LIMIT)?)
        .map(resident_id)
        .collect::<anyhow::Result<_>>()?;
    let crawler = Crawler::new(app, app.sign_in(PERSONA).await?, SCRIPT_AGENT, false);
    let crawl = crawl(
        &crawler,
        |n| Call {
            method: reqwest::Method::POST,
            path_and_query: "/api/v1/assistant/ask".to_owned(),
            body: Some(
                json!({ "question": format!("帮我查一下身份证 {} 的公积金余额", ids[n as usize]) }),
            ),
        },
        |n, reply| assistant_findings(&ids[n as usize], &own, reply),
        None,
    )
    .await?;
    report(
        app,
        figures,
        "assistant_ids",
        "resident-id crawler (assistant)",
        &crawl,
    )
    .await
}

/// A reply about somebody else: it names the id asked about (the reply never echoes the
/// question, so any trace of it is a leak), in clear or masked, or states account figures
/// other than the crawler's own.
fn assistant_findings(queried: &str, own: &(String, String), reply: &Value) -> Findings {
    let text = reply.to_string();
    let names_the_id = text.contains(queried)
        || text.contains(&queried[..17])
        || text.contains(&mask_resident_id(queried));
    let data = &reply["personal"]["data"];
    let figures = data["balance"]
        .as_str()
        .zip(data["monthly_deposit"].as_str());
    let foreign_figures = figures
        .is_some_and(|(balance, monthly)| (balance, monthly) != (own.0.as_str(), own.1.as_str()));
    Findings {
        of_others: usize::from(names_the_id || foreign_figures),
        own: usize::from(figures.is_some() && !foreign_figures),
    }
}

async fn unsigned(app: &AppServer, figures: &mut Figures) -> anyhow::Result<bool> {
    eprintln!("antibot: stolen session token replayed with curl, no signature");
    let owner = owner(app, &["SERVICE_TRAFFIC"]).await?;
    let own = own_plates(&owner).await?;
    // The victim's own session, copied out of their phone.
    let stolen = app.sign_in(PERSONA).await?;
    let crawler = Crawler::new(app, stolen, CURL_AGENT, false);
    let crawl = crawl(
        &crawler,
        |n| Call::plate(FIRST_PLATE + n),
        |_, body| violations_of_others(&own, body),
        None,
    )
    .await?;
    let (status, code) = crawl.first.clone().unwrap_or_default();
    figures.record("unsigned.first_status", f64::from(status), "status");
    eprintln!("antibot:   first answer: {status} {code}");
    report_with_goal(
        app,
        figures,
        "unsigned",
        "unsigned replay of a stolen token",
        &crawl,
        false,
    )
    .await?;
    // Refused from the first request is this crawler's goal, whether it is blocked later or
    // not: without a signature it never gets anything.
    let refused = status == 401 && code == "signature.required" && crawl.served == 0;
    let note = if refused && crawl.records_of_others == 0 {
        "goal met (refused from the first request with 401 signature.required, 0 records)"
    } else {
        "goal missed (an unsigned request was served)"
    };
    eprintln!("antibot:   unsigned: {note}");
    Ok(refused && crawl.records_of_others == 0)
}

/// Records a crawl's figures, prints how it ended and the evidence of the block, and says
/// whether the goal was met.
async fn report(
    app: &AppServer,
    figures: &mut Figures,
    label: &str,
    title: &str,
    crawl: &Crawl,
) -> anyhow::Result<bool> {
    report_with_goal(app, figures, label, title, crawl, true).await
}

/// As [`report`]; `print_goal` false leaves the goal's note to the caller.
async fn report_with_goal(
    app: &AppServer,
    figures: &mut Figures,
    label: &str,
    title: &str,
    crawl: &Crawl,
    print_goal: bool,
) -> anyhow::Result<bool> {
    let stop_status = crawl.stop.as_ref().map_or(0, |(status, _)| *status);
    figures.record(
        format!("{label}.requests"),
        crawl.requests as f64,
        "requests",
    );
    figures.record(
        format!("{label}.challenges"),
        crawl.challenges as f64,
        "challenges",
    );
    figures.record(format!("{label}.served"), crawl.served as f64, "requests");
    figures.record(
        format!("{label}.records_of_others"),
        crawl.records_of_others as f64,
        "records",
    );
    figures.record(
        format!("{label}.stop_status"),
        f64::from(stop_status),
        "status",
    );
    figures.record(format!("{label}.wall_s"), crawl.elapsed.as_secs_f64(), "s");

    let statuses: Vec<String> = crawl
        .statuses
        .iter()
        .map(|(status, count)| format!("{status}×{count}"))
        .collect();
    let stopped = match &crawl.stop {
        Some((status, code)) => format!(
            "stopped by {status} {code} after {} requests",
            crawl.requests
        ),
        None => format!("not stopped within {} requests", crawl.requests),
    };
    eprintln!(
        "antibot:   {title}: {stopped} in {:.1} s; answers {}; {} challenges answered; {} of \
         its own records and {} of others in what was served",
        crawl.elapsed.as_secs_f64(),
        statuses.join(", "),
        crawl.challenges,
        crawl.own_records,
        crawl.records_of_others,
    );
    if let Some(evidence) = block_evidence(app).await? {
        eprintln!("antibot:   console: {evidence}");
    }
    let blocked = crawl
        .stop
        .as_ref()
        .is_some_and(|(status, code)| *status == 403 && code == "guard.blocked");
    let met = blocked && crawl.requests <= GOAL_REQUESTS && crawl.records_of_others == 0;
    let note = if met {
        format!("goal met (blocked within {GOAL_REQUESTS} requests, 0 records of other people)")
    } else {
        format!(
            "goal missed ({}, {} records of other people)",
            match &crawl.stop {
                Some((403, _)) => format!("blocked only after {} requests", crawl.requests),
                Some((status, code)) => format!("stopped by {status} {code}, not blocked"),
                None => "never blocked".to_owned(),
            },
            crawl.records_of_others
        )
    };
    if print_goal {
        eprintln!("antibot:   {label}: {note}");
    }
    Ok(met)
}

/// The latest block in the bank console: its score and signals, as an operator sees them.
async fn block_evidence(app: &AppServer) -> anyhow::Result<Option<String>> {
    // Escalations are stored in the background, after the answer that raised them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let token = app.sign_in(OPERATOR).await?;
    let response = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/console/guard/escalations?level=block&limit=1",
            app.address()
        ))
        .bearer_auth(token)
        .header(USER_AGENT, APP_AGENT)
        .header(ACCEPT_LANGUAGE, "zh-CN")
        .send()
        .await?;
    let view = json_of(response, 200).await?;
    let Some(block) = view["items"].as_array().and_then(|items| items.first()) else {
        return Ok(None);
    };
    let evidence: Vec<String> = block["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{} +{}", e["signal"].as_str().unwrap_or("?"), e["points"]))
        .collect();
    Ok(Some(format!(
        "block of a {} at score {} on {} ({})",
        block["subject_kind"].as_str().unwrap_or("?"),
        block["score"],
        block["path"].as_str().unwrap_or("?"),
        evidence.join(", ")
    )))
}

// ---------------------------------------------------------------------------------------------
// Cost per request
// ---------------------------------------------------------------------------------------------

/// One configuration whose cost is measured.
struct Variant {
    label: &'static str,
    what: &'static str,
    configure: fn(&mut bianmin_server::Config),
    /// Whether the server checks signatures, so every request needs a fresh one.
    verifies: bool,
    /// Whether behaviour scoring is on, so the escalations it raised are counted.
    scored: bool,
}

fn unprotected(config: &mut bianmin_server::Config) {
    config.guard.enabled = false;
    config.guard.signatures = SignatureMode::Off;
    config.guard.behaviour.enabled = false;
}

fn signatures_only(config: &mut bianmin_server::Config) {
    config.guard.enabled = false;
    config.guard.signatures = SignatureMode::Required;
    config.guard.behaviour.enabled = false;
}

/// The demo's protection with every rate limit raised far out of the way (the same limits
/// checked, none reached).
fn protected(config: &mut bianmin_server::Config) {
    let defaults = GuardConfig::default();
    let far = |limit: Option<LimitSetting>| limit.map(|_| LimitSetting::new(FAR_LIMIT, FAR_LIMIT));
    let mut guard = defaults.clone();
    for class in [
        &mut guard.login,
        &mut guard.query,
        &mut guard.pay,
        &mut guard.public,
    ] {
        class.per_ip = far(class.per_ip);
        class.per_user = far(class.per_user);
    }
    guard.per_device = far(defaults.per_device);
    config.guard = guard;
}

fn protected_without_behaviour(config: &mut bianmin_server::Config) {
    protected(config);
    config.guard.behaviour.enabled = false;
}

async fn protection_cost(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    let plan = settings.load_plan();
    let url = settings.database_url.as_deref();
    eprintln!(
        "antibot: cost of protection on GET {COST_PATH}, {} connections, {:.1} s warm-up, \
         {:.1} s measured per server, every request signed before its window",
        plan.connections,
        plan.warmup.as_secs_f64(),
        plan.duration.as_secs_f64()
    );
    let baseline = measure(
        url,
        &Variant {
            label: "unprotected",
            what: "guard off, signatures off, behaviour off",
            configure: unprotected,
            verifies: false,
            scored: false,
        },
        &plan,
        0,
        None,
    )
    .await?;
    record(figures, "unprotected", &baseline, None);
    eprintln!("antibot: {VERIFICATIONS} signed requests verified in process, on one core");
    figures.record("sm2_verify_us", verify_cost().await?, "us");

    // Each variant below adds work to the one before it, so it answers at most as many
    // requests; Redis takes the nonces off the database, so it is bounded by the baseline.
    let mut signatures = signatures_for(&baseline, &plan);

    let variants = [
        Variant {
            label: "signatures_only",
            what: "signatures required; no limits, no behaviour scoring",
            configure: signatures_only,
            verifies: true,
            scored: false,
        },
        Variant {
            label: "protected_no_behaviour",
            what: "signatures required, rate limits checked (raised out of the way), no behaviour scoring",
            configure: protected_without_behaviour,
            verifies: true,
            scored: false,
        },
        Variant {
            label: "protected",
            what: "signatures required, rate limits checked (raised out of the way), behaviour scoring",
            configure: protected,
            verifies: true,
            scored: true,
        },
    ];
    for variant in &variants {
        let measured = measure(url, variant, &plan, signatures, None).await?;
        record_protected(figures, variant.label, &measured, &baseline);
        signatures = signatures_for(&measured, &plan);
    }
    match std::env::var(REDIS_VARIABLE) {
        Ok(redis) => {
            let variant = Variant {
                label: "protected_redis",
                what: "as protected, with rate limits, nonces and challenges in Redis",
                configure: protected,
                verifies: true,
                scored: true,
            };
            let signatures = signatures_for(&baseline, &plan);
            let measured = measure(url, &variant, &plan, signatures, Some(&redis)).await?;
            record_protected(figures, variant.label, &measured, &baseline);
        }
        Err(_) => eprintln!(
            "antibot: {REDIS_VARIABLE} is not set: protected_redis skipped (set it to e.g. \
             redis://127.0.0.1:6379 to measure rate limits and nonces in Redis)"
        ),
    }
    Ok(())
}

/// CPU microseconds of what the server does with a signature, in process on one core: parse
/// the device's public key (SEC1, as stored) and verify the SM2 signature over the canonical
/// request (`Z_A`, SM3, two scalar multiplications). No database, no nonce, no HTTP.
async fn verify_cost() -> anyhow::Result<f64> {
    tokio::task::spawn_blocking(|| {
        let key = Sm2SigningKey::generate();
        let public_key = key.verifying_key().to_sec1_bytes();
        let timestamp = chrono::Utc::now().timestamp();
        let signed: Vec<(String, [u8; 64])> = (0..VERIFICATIONS)
            .map(|_| {
                let message =
                    canonical_request("GET", COST_PATH, None, timestamp, &new_nonce(), b"");
                let signature = key.sign(SIGNER_ID, message.as_bytes());
                (message, signature)
            })
            .collect();
        let started = Instant::now();
        for (message, signature) in &signed {
            Sm2VerifyingKey::from_sec1_bytes(&public_key)?.verify(
                SIGNER_ID,
                message.as_bytes(),
                signature,
            )?;
        }
        anyhow::Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(VERIFICATIONS))
    })
    .await?
}

/// Signatures enough for a server at most as fast as `measured` over a whole plan, with a
/// margin.
fn signatures_for(measured: &Measured, plan: &LoadPlan) -> usize {
    let window = (plan.warmup + plan.duration).as_secs_f64();
    // Not negative, and far below `usize::MAX`: a few hundred thousand on a small machine.
    let expected = (measured.requests_per_second() * window * SIGNATURE_MARGIN).ceil() as usize;
    expected + 4 * plan.connections
}

/// What one load measured: the load's report, and what only this suite looks at.
struct Measured {
    report: LoadReport,
    /// Process CPU time over the measured window.
    cpu: Duration,
    /// Escalations behaviour scoring raised against the load's client, when it was on.
    escalations: Option<u64>,
    /// Some connection ran out of signed requests before the window ended.
    exhausted: bool,
    /// The first answer other than 200, for stderr.
    first_error: Option<String>,
}

impl Measured {
    fn requests_per_second(&self) -> f64 {
        self.report.requests_per_second()
    }

    /// CPU microseconds of the whole process (server, load generator, SQLite) per answer.
    fn cpu_us_per_request(&self) -> Option<f64> {
        let ok = self.report.ok;
        (ok > 0).then(|| self.cpu.as_secs_f64() * 1e6 / ok as f64)
    }
}

/// Starts `variant` on a fresh database, signs a citizen's app in, signs `signatures` requests
/// (at least one, reused when the server does not verify them), loads the endpoint and stops.
async fn measure(
    url: Option<&str>,
    variant: &Variant,
    plan: &LoadPlan,
    signatures: usize,
    redis: Option<&str>,
) -> anyhow::Result<Measured> {
    let database = ScratchDatabase::create(url, "antibot").await?;
    let outcome = async {
        let redis_prefix = format!("bianmin:bench:{}:", uuid::Uuid::new_v4().simple());
        let app = database
            .start(|config| {
                (variant.configure)(config);
                if let Some(redis) = redis {
                    config.redis_url = Some(bianmin_server::config::Secret::new(redis));
                    config.guard.redis_prefix = redis_prefix.clone();
                }
            })
            .await?;
        let outcome = async {
            let token = app.sign_in(PERSONA).await?;
            let signer = Arc::new(enrol_for_load(app.address(), &token).await?);
            let count = if variant.verifies {
                signatures.max(1)
            } else {
                1
            };
            let started = Instant::now();
            let signed = sign_ahead(&signer, count).await?;
            if variant.verifies {
                eprintln!(
                    "antibot: {} signed requests ready in {:.1} s",
                    signed.len(),
                    started.elapsed().as_secs_f64()
                );
            }
            eprintln!("antibot: loading {} ({})", variant.label, variant.what);
            let target = Arc::new(SignedTarget {
                address: app.address(),
                common: app_headers(&token)?,
                signed,
                reuse: !variant.verifies,
                next: AtomicUsize::new(0),
                exhausted: AtomicBool::new(false),
            });
            let mut measured = load(&target, plan).await?;
            if variant.scored {
                measured.escalations = Some(escalations(&app).await?);
            }
            if let Some(error) = &measured.first_error {
                eprintln!("antibot:   first refusal: {error}");
            }
            if measured.exhausted {
                eprintln!(
                    "antibot:   ran out of signed requests before the end of the window: \
                     the figures cover a shorter window"
                );
            }
            anyhow::Ok(measured)
        }
        .await;
        app.stop().await?;
        outcome
    }
    .await;
    database.remove().await?;
    outcome
}

/// Enrols a key for the citizen signed in with `token` (enrolment itself is never signed).
async fn enrol_for_load(address: SocketAddr, token: &str) -> anyhow::Result<DeviceSigner> {
    let key = Sm2SigningKey::generate();
    let mut connection = Connection::open(address).await?;
    let mut request = connection.post_json(
        "/api/v1/me/devices",
        &json!({ "public_key": key.verifying_key().to_hex(), "label": "压测手机" }),
    )?;
    for (name, value) in app_headers(token)? {
        if let Some(name) = name {
            request.headers_mut().insert(name, value);
        }
    }
    let answer = connection.send(request).await?;
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if answer.status != StatusCode::CREATED {
        bail!(
            "enrolling the load's key answered {}: {body}",
            answer.status
        );
    }
    let id = body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| anyhow!("the enrolment answer has no device id"))?;
    Ok(DeviceSigner::new(id, key))
}

/// What the bank app sends with every request, signatures aside.
fn app_headers(token: &str) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    headers.insert(USER_AGENT, HeaderValue::from_static(APP_AGENT));
    headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("zh-CN,zh;q=0.9"));
    headers.insert(
        HeaderName::from_static(HEADER_CLIENT),
        HeaderValue::from_static("app"),
    );
    Ok(headers)
}

/// The four signature headers of one request.
type SignatureHeaders = [(HeaderName, HeaderValue); 4];

/// Signs `count` requests of [`COST_PATH`], each with a fresh nonce, on blocking threads.
async fn sign_ahead(
    signer: &Arc<DeviceSigner>,
    count: usize,
) -> anyhow::Result<Vec<SignatureHeaders>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut tasks = JoinSet::new();
    for part in 0..threads {
        let share = count / threads + usize::from(part < count % threads);
        let signer = Arc::clone(signer);
        tasks.spawn_blocking(move || {
            let timestamp = chrono::Utc::now().timestamp();
            (0..share)
                .map(|_| {
                    let signed = signer.sign("GET", COST_PATH, None, b"", timestamp, &new_nonce());
                    let [a, b, c, d] = signed.pairs().map(|(name, value)| {
                        HeaderValue::from_str(&value).map(|v| (HeaderName::from_static(name), v))
                    });
                    anyhow::Ok([a?, b?, c?, d?])
                })
                .collect::<anyhow::Result<Vec<_>>>()
        });
    }
    let mut signed = Vec::with_capacity(count);
    while let Some(part) = tasks.join_next().await {
        signed.extend(part.context("a signing thread panicked")??);
    }
    Ok(signed)
}

/// The load's target: one path, the app's headers, and the signatures handed out one per
/// request (or the same one again when the server ignores them).
struct SignedTarget {
    address: SocketAddr,
    common: HeaderMap,
    signed: Vec<SignatureHeaders>,
    reuse: bool,
    next: AtomicUsize,
    exhausted: AtomicBool,
}

impl SignedTarget {
    fn next_signature(&self) -> Option<&SignatureHeaders> {
        if self.reuse {
            return self.signed.first();
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let signature = self.signed.get(index);
        if signature.is_none() {
            self.exhausted.store(true, Ordering::Relaxed);
        }
        signature
    }
}

/// Closed-loop load as `crate::load` runs it (one task per keep-alive connection, a warm-up
/// not recorded, then the measured window), each request with the next signature.
async fn load(target: &Arc<SignedTarget>, plan: &LoadPlan) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let measure_from = started + plan.warmup;
    let end = measure_from + plan.duration;
    let workers: Vec<_> = (0..plan.connections.max(1))
        .map(|_| tokio::spawn(one_connection(Arc::clone(target), measure_from, end)))
        .collect();
    tokio::time::sleep_until(tokio::time::Instant::from_std(measure_from)).await;
    let cpu_from = process_cpu()?;
    let mut measured = Measured {
        report: LoadReport::empty()?,
        cpu: Duration::ZERO,
        escalations: None,
        exhausted: false,
        first_error: None,
    };
    let mut last_answer = measure_from;
    for worker in workers {
        let tally = worker.await.context("a load task panicked")??;
        measured.report.ok += tally.ok;
        measured.report.errors += tally.errors;
        measured.report.add_latencies(&tally.latencies)?;
        measured.first_error = measured.first_error.or(tally.first_error);
        last_answer = last_answer.max(tally.last_answer);
    }
    measured.cpu = process_cpu()?.saturating_sub(cpu_from);
    measured.report.elapsed = last_answer.saturating_duration_since(measure_from);
    measured.exhausted = target.exhausted.load(Ordering::Relaxed);
    Ok(measured)
}

struct Tally {
    ok: u64,
    errors: u64,
    latencies: Histogram<u64>,
    last_answer: Instant,
    first_error: Option<String>,
}

async fn one_connection(
    target: Arc<SignedTarget>,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<Tally> {
    let mut tally = Tally {
        ok: 0,
        errors: 0,
        latencies: new_histogram()?,
        last_answer: measure_from,
        first_error: None,
    };
    let mut connection: Option<Connection> = None;
    loop {
        let sent_at = Instant::now();
        if sent_at >= end {
            break;
        }
        let Some(signature) = target.next_signature() else {
            break;
        };
        let measured = sent_at >= measure_from;
        let open = match connection.as_mut() {
            Some(open) => open,
            None => match Connection::open(target.address).await {
                Ok(opened) => connection.insert(opened),
                Err(_) => {
                    if measured {
                        tally.errors += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let mut request = open.get(COST_PATH)?;
        let headers = request.headers_mut();
        for (name, value) in &target.common {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in signature {
            headers.insert(name.clone(), value.clone());
        }
        let answer = match open.send(request).await {
            Ok(answer) => Some(answer),
            Err(_) => {
                connection = None;
                None
            }
        };
        let answered_at = Instant::now();
        if measured {
            tally.last_answer = answered_at;
            match answer {
                Some(answer) if answer.status == StatusCode::OK => {
                    tally.ok += 1;
                    let nanos =
                        u64::try_from((answered_at - sent_at).as_nanos()).unwrap_or(u64::MAX);
                    tally.latencies.saturating_record(nanos);
                }
                other => {
                    tally.errors += 1;
                    if tally.first_error.is_none() {
                        tally.first_error = Some(match other {
                            Some(answer) => format!(
                                "{} {}",
                                answer.status,
                                String::from_utf8_lossy(&answer.body)
                            ),
                            None => "no answer".to_owned(),
                        });
                    }
                }
            }
        }
    }
    Ok(tally)
}

/// User plus system CPU time of this process so far, from `/proc/self/stat`.
fn process_cpu() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("cannot read /proc/self/stat")?;
    // The fields after the command name (which may hold spaces) in parentheses: state is
    // field 3, utime 14 and stime 15.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unexpected /proc/self/stat"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index)
            .ok_or_else(|| anyhow!("unexpected /proc/self/stat"))?
            .parse::<f64>()?)
    };
    Ok(Duration::from_secs_f64((ticks(11)? + ticks(12)?) / USER_HZ))
}

/// Escalations raised in the application so far, as the console counts them.
async fn escalations(app: &AppServer) -> anyhow::Result<u64> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let token = app.sign_in(OPERATOR).await?;
    let mut connection = Connection::open(app.address()).await?;
    let mut request = connection.get("/api/v1/console/guard/escalations")?;
    request.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    let answer = connection.send(request).await?;
    let view: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if answer.status != StatusCode::OK {
        bail!(
            "the console's escalations answered {}: {view}",
            answer.status
        );
    }
    let counts = &view["counts"];
    Ok(["slow", "challenge", "block"]
        .iter()
        .map(|level| counts[level].as_u64().unwrap_or(0))
        .sum())
}

/// Records `{label}.rps`, `.p50_ms`, `.p99_ms` and `.errors` as the `http` suite does, and
/// `{label}.cpu_us`, each against `baseline`'s where given.
fn record(figures: &mut Figures, label: &str, measured: &Measured, baseline: Option<&Measured>) {
    super::http::record(
        figures,
        label,
        &measured.report,
        baseline.map(|base| &base.report),
    );
    if let Some(cpu) = measured.cpu_us_per_request() {
        match baseline.and_then(Measured::cpu_us_per_request) {
            Some(base) => figures.record_against(format!("{label}.cpu_us"), cpu, "us", base),
            None => figures.record(format!("{label}.cpu_us"), cpu, "us"),
        }
    }
}

/// Records a protected variant against the baseline, with the slowdown and the extra time
/// per request derived from both.
fn record_protected(figures: &mut Figures, label: &str, measured: &Measured, baseline: &Measured) {
    record(figures, label, measured, Some(baseline));
    let (rps, base_rps) = (
        measured.requests_per_second(),
        baseline.requests_per_second(),
    );
    if rps > 0.0 && base_rps > 0.0 {
        figures.record(format!("{label}.slowdown"), base_rps / rps, "x");
        figures.record(
            format!("{label}.extra_us"),
            1e6 / rps - 1e6 / base_rps,
            "us",
        );
    }
    if let (Some(cpu), Some(base)) = (measured.cpu_us_per_request(), baseline.cpu_us_per_request())
    {
        figures.record(format!("{label}.extra_cpu_us"), cpu - base, "us");
    }
    if let Some(escalations) = measured.escalations {
        figures.record(
            format!("{label}.escalations"),
            escalations as f64,
            "escalations",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_ids_are_sequential_and_carry_their_check_character() {
        assert_eq!(resident_id(0).unwrap(), "510104199001010019");
        assert_eq!(resident_id(1).unwrap(), "510104199001010027");
        assert_eq!(resident_id(2).unwrap(), "510104199001010035");
    }

    #[test]
    fn plates_are_sent_percent_encoded() {
        assert_eq!(
            Call::plate(10_000).path_and_query,
            "/api/v1/me/traffic/violations?plate=%E5%B7%9DA10000"
        );
    }

    #[test]
    fn only_violations_of_ones_own_vehicles_are_not_counted_as_others() {
        let own = BTreeSet::from(["川A·***45".to_owned()]);
        let body = json!({ "violations": [
            { "plate": "川A·***45" }, { "plate": "川A·***00" }, { "plate": null }
        ] });
        let findings = violations_of_others(&own, &body);
        assert_eq!((findings.own, findings.of_others), (1, 2));
    }

    #[test]
    fn an_assistant_reply_about_somebody_else_is_counted_however_it_shows() {
        let queried = "510104199001010019";
        let own = ("12345.67".to_owned(), "800.00".to_owned());
        let reply = |answer: &str, data: Value| json!({ "answer": answer, "personal": { "intent": "hpf_balance", "data": data } });
        let count = |reply: Value| {
            let findings = assistant_findings(queried, &own, &reply);
            (findings.own, findings.of_others)
        };
        let mine = json!({ "balance": "12345.67", "monthly_deposit": "800.00" });
        assert_eq!(
            count(reply("您的公积金账户余额为 12345.67 元", mine.clone())),
            (1, 0)
        );
        assert_eq!(count(reply("需要先登录", Value::Null)), (0, 0));
        let theirs = json!({ "balance": "999.00", "monthly_deposit": "800.00" });
        assert_eq!(count(reply("余额为 999.00 元", theirs)), (0, 1));
        for leak in [
            "身份证 510104199001010019 的余额",
            "51010419900101001 的余额",
            "510104********0019 的余额",
        ] {
            assert_eq!(count(reply(leak, Value::Null)), (0, 1), "{leak}");
        }
    }
}
