//! `services`: the convenience services end to end.
//!
//! - `me_db_read`: `GET /api/v1/me` (token check + session read), the baseline of this run;
//! - `hpf_warm`: `GET /api/v1/me/hpf/account` as 张伟 with his consent, the answer already held
//!   by the exchange client (auth → consent check → cache → masked response);
//! - `hpf_cold`: the same on a server whose response cache is off, so every request goes
//!   auth → consent use recorded → signed + encrypted exchange call to govsim → verify →
//!   decrypt → masked response. Measured for a short window (at most 1.5 s) because each
//!   request spends one of the consent's fetches (1,000 a day is the most a consent allows);
//! - `pay_duplicates`: 50 concurrent payment requests for one fine, half with one idempotency
//!   key and half with another: how many payments exist afterwards (1 expected, so
//!   `double_payments` 0);
//! - `pay`: payments per second through `TrafficService::pay` (fetch from the 交管局 under
//!   consent, checks, locked account, signed receipt, one transaction), many residents with
//!   unpaid fines paying at once, on the same database engine as the application.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bianmin_consent::{ConsentLedger, ConsentRequest, Purpose};
use bianmin_core::{Money, SharedClock, SystemClock};
use bianmin_crypto::LocalKeyring;
use bianmin_exchange::{
    ClientConfig, ExchangeClient, Frequency, FrequencyUnit, MemberKeys, StoreMessageLog,
};
use bianmin_gateway::Gateway;
use bianmin_govsim::agencies::{GovSim, GovSimConfig};
use bianmin_people::{NewPerson, PersonVault};
use bianmin_services::traffic::PayFines;
use bianmin_services::{Accounts, Channel, ServiceUse, TrafficService};
use bianmin_store::{Store, StoreOptions};
use chrono::{NaiveDate, TimeDelta};
use hdrhistogram::Histogram;
use hyper::StatusCode;
use hyper::header::AUTHORIZATION;
use serde_json::{Value, json};

use super::Settings;
use super::http::record;
use crate::client::Connection;
use crate::figure::Figures;
use crate::load::{self, LoadPlan, Target};
use crate::servers::AppServer;

const PERSONA: &str = "citizen-zhang";
/// Residents paying at once in the `pay` measurement, and the most taken part.
const PAYERS: usize = 400;
const PAY_WORKERS: usize = 16;

/// Runs the suite.
pub async fn run(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    let plan = settings.load_plan();
    let app = AppServer::start_with(settings.database_url.as_deref(), |c| {
        c.exchange.govsim = true;
        c.exchange.consent_uses_per_day = 1_000;
    })
    .await?;
    let token = app.sign_in(PERSONA).await?;
    let bearer = format!("Bearer {token}");

    announce("GET /api/v1/me (baseline)", settings);
    let me = Target::get(app.address(), "/api/v1/me").with_header(AUTHORIZATION, &bearer)?;
    let baseline = load::run(&me, &plan).await?;
    record(figures, "me_db_read", &baseline, None);

    consent(&app, &bearer, "SERVICE_HPF_QUERY").await?;
    let hpf =
        Target::get(app.address(), "/api/v1/me/hpf/account").with_header(AUTHORIZATION, &bearer)?;
    expect_ok(&app, &bearer, "/api/v1/me/hpf/account").await?;
    announce("GET /api/v1/me/hpf/account, answer cached", settings);
    let warm = load::run(&hpf, &plan).await?;
    record(figures, "hpf_warm", &warm, Some(&baseline));

    announce("50 concurrent duplicate fine payments", settings);
    duplicates(&app, &bearer, figures).await?;
    app.stop().await?;

    let cold_app = AppServer::start_with(settings.database_url.as_deref(), |c| {
        c.exchange.govsim = true;
        c.exchange.response_cache = false;
        c.exchange.consent_uses_per_day = 1_000;
    })
    .await?;
    let token = cold_app.sign_in(PERSONA).await?;
    let bearer = format!("Bearer {token}");
    consent(&cold_app, &bearer, "SERVICE_HPF_QUERY").await?;
    let hpf = Target::get(cold_app.address(), "/api/v1/me/hpf/account")
        .with_header(AUTHORIZATION, &bearer)?;
    let cold_plan = LoadPlan {
        connections: plan.connections.min(16),
        warmup: Duration::from_millis(200),
        duration: plan.duration.min(Duration::from_millis(1_500)),
    };
    eprintln!("services: loading GET /api/v1/me/hpf/account, no cache (short window)");
    let cold = load::run(&hpf, &cold_plan).await?;
    record(figures, "hpf_cold", &cold, Some(&baseline));
    cold_app.stop().await?;

    eprintln!("services: fine payments per second through TrafficService::pay");
    payments_per_second(settings, figures).await
}

fn announce(target: &str, settings: &Settings) {
    eprintln!(
        "services: loading {target} ({:.1} s warm-up, {:.1} s measured)",
        settings.warmup.as_secs_f64(),
        settings.duration.as_secs_f64()
    );
}

async fn request(
    app: &AppServer,
    bearer: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut connection = Connection::open(app.address()).await?;
    let mut request = match &body {
        Some(body) => connection.post_json(path, body)?,
        None => connection.get(path)?,
    };
    if method == "POST" && body.is_none() {
        request = connection.post_json(path, &json!({}))?;
    }
    request
        .headers_mut()
        .insert(AUTHORIZATION, bearer.parse().context("bearer header")?);
    if let Some(key) = key {
        request
            .headers_mut()
            .insert("idempotency-key", key.parse().context("key header")?);
    }
    let answer = connection.send(request).await?;
    let value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    Ok((answer.status, value))
}

async fn expect_ok(app: &AppServer, bearer: &str, path: &str) -> anyhow::Result<Value> {
    let (status, body) = request(app, bearer, "GET", path, None, None).await?;
    if status != StatusCode::OK {
        bail!("GET {path} answered {status}: {body}");
    }
    Ok(body)
}

/// Asks for and approves a service consent.
async fn consent(app: &AppServer, bearer: &str, purpose: &str) -> anyhow::Result<()> {
    let (status, pending) = request(
        app,
        bearer,
        "POST",
        "/api/v1/me/consents",
        Some(json!({ "purpose": purpose })),
        None,
    )
    .await?;
    if status != StatusCode::CREATED {
        bail!("asking for a consent answered {status}: {pending}");
    }
    let id = pending["id"]
        .as_str()
        .ok_or_else(|| anyhow!("no consent id"))?;
    let (status, body) = request(
        app,
        bearer,
        "POST",
        &format!("/api/v1/me/consents/{id}/approve"),
        None,
        None,
    )
    .await?;
    if status != StatusCode::OK {
        bail!("approving the consent answered {status}: {body}");
    }
    Ok(())
}

async fn duplicates(app: &AppServer, bearer: &str, figures: &mut Figures) -> anyhow::Result<()> {
    consent(app, bearer, "SERVICE_TRAFFIC").await?;
    let violations = expect_ok(app, bearer, "/api/v1/me/traffic/violations").await?;
    let fine = violations["violations"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["status"] == "unpaid"))
        .ok_or_else(|| anyhow!("{PERSONA} has no unpaid fine"))?;
    let body = json!({ "violation_ids": [fine["id"]], "expected_total": fine["amount_due"] });
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let key = if i % 2 == 0 {
                "bench-tab-a"
            } else {
                "bench-tab-b"
            };
            let body = body.clone();
            let bearer = bearer.to_owned();
            let address = app.address();
            tokio::spawn(async move {
                let mut connection = Connection::open(address).await?;
                let mut request = connection.post_json("/api/v1/me/traffic/payments", &body)?;
                request.headers_mut().insert(AUTHORIZATION, bearer.parse()?);
                request
                    .headers_mut()
                    .insert("idempotency-key", key.parse()?);
                anyhow::Ok(connection.send(request).await?.status)
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        if task.await?? == StatusCode::CREATED {
            created += 1;
        }
    }
    let payments = expect_ok(app, bearer, "/api/v1/me/traffic/payments").await?;
    let stored = payments["items"].as_array().map_or(0, Vec::len);
    figures.record("pay_duplicates.requests", 50.0, "requests");
    figures.record("pay_duplicates.created", f64::from(created), "payments");
    figures.record("pay_duplicates.stored", stored as f64, "payments");
    figures.record(
        "pay_duplicates.double_payments",
        stored.saturating_sub(1) as f64,
        "payments",
    );
    Ok(())
}

/// Payments of distinct fines by many residents at once, at the service layer.
async fn payments_per_second(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    let data_dir = tempfile::tempdir()?;
    let url = match &settings.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", data_dir.path().join("pay.db").display()),
    };
    let store = Store::connect(&url, &StoreOptions::default()).await?;
    store.migrate().await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let keyring = LocalKeyring::generate_new(clock.now());
    let audit_key = keyring.audit_key().clone();
    let blind_index = keyring.blind_index().clone();
    let vault = PersonVault::new(
        store.clone(),
        Arc::new(keyring),
        blind_index,
        audit_key.clone(),
    );
    let keys = Arc::new(MemberKeys::generate("CN-CD/COM/bank/bianmin".parse()?));
    let govsim = GovSim::new(
        GovSimConfig::default(),
        keys.subsystem("便民服务平台", None),
        clock.clone(),
    )?
    .start()
    .await?;
    let registry = govsim.registry();
    let log = Arc::new(StoreMessageLog::new(
        store.clone(),
        keys.clone(),
        clock.clone(),
    ));
    let client = Arc::new(ExchangeClient::new(
        registry.clone(),
        keys.clone(),
        log,
        clock.clone(),
        ClientConfig::default(),
    ));
    let ledger = ConsentLedger::new(store.clone(), vault.clone(), keys.clone(), audit_key);
    let gateway = Gateway::new(
        ledger.clone(),
        vault.clone(),
        client,
        registry,
        clock.clone(),
    );
    let accounts = Accounts::new(store.clone(), vault.clone());
    let traffic = TrafficService::new(
        store.clone(),
        gateway,
        accounts.clone(),
        keys.clone(),
        clock.clone(),
    );

    // Residents with unpaid fines, each with an account and a consent, and what they owe
    // (fetched once; the payment's own fetch is then answered from the client's cache).
    let population = govsim.population().clone();
    let now = clock.now();
    let mut payers = Vec::new();
    for index in 0..population.size() {
        if payers.len() == PAYERS {
            break;
        }
        let person = population.person(index);
        if !person
            .traffic
            .violations
            .iter()
            .any(|v| v.paid_on.is_none())
        {
            continue;
        }
        let id = vault
            .register(
                &NewPerson {
                    resident_id: person.resident_id.clone(),
                    name: person.name.clone(),
                    phone: Some(person.phone.clone()),
                },
                now,
            )
            .await?;
        accounts
            .open(id, "0001", Money::from_fen(100_000_000), now)
            .await?;
        let pending = ledger
            .request(
                &ConsentRequest {
                    person_id: id,
                    consumer: keys.id.clone(),
                    purpose: Purpose::ServiceTraffic,
                    data_kinds: Purpose::ServiceTraffic
                        .data_kinds()
                        .iter()
                        .map(|k| (*k).to_owned())
                        .collect(),
                    data_from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default(),
                    data_to: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap_or_default(),
                    frequency: Frequency {
                        unit: FrequencyUnit::Day,
                        max: 1_000,
                    },
                    valid_for: TimeDelta::days(30),
                    data_life_days: 1,
                },
                "bench",
                now,
            )
            .await?;
        ledger
            .approve(pending.id, id, &person.resident_id, "bench", now)
            .await?;
        let owed = traffic.violations(id).await?;
        let unpaid: Vec<_> = owed
            .violations
            .iter()
            .filter(|v| v.amount_due.is_positive())
            .take(20)
            .collect();
        if unpaid.is_empty() {
            continue;
        }
        payers.push((
            id,
            PayFines {
                idempotency_key: format!("bench-{index}"),
                violation_ids: unpaid.iter().map(|v| v.id.clone()).collect(),
                expected_total: Money::try_sum(unpaid.iter().map(|v| v.amount_due))?,
            },
        ));
    }
    if payers.is_empty() {
        bail!("no resident with unpaid fines");
    }
    let fines: usize = payers.iter().map(|(_, p)| p.violation_ids.len()).sum();
    let queue = Arc::new(std::sync::Mutex::new(payers));
    let started = Instant::now();
    let workers: Vec<_> = (0..PAY_WORKERS)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let traffic = traffic.clone();
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
                let mut paid = 0u64;
                loop {
                    let next = queue.lock().map_err(|_| anyhow!("queue poisoned"))?.pop();
                    let Some((person, request)) = next else { break };
                    let usage = ServiceUse {
                        service: "traffic.pay",
                        department: "traffic",
                        person_id: person,
                        demographics: None,
                        channel: Channel::Api,
                        outcome: String::new(),
                        latency_ms: 0,
                    };
                    let one = Instant::now();
                    traffic.pay(person, &request, usage).await?;
                    latencies.record(one.elapsed().as_nanos().try_into().unwrap_or(u64::MAX))?;
                    paid += 1;
                }
                anyhow::Ok((paid, latencies))
            })
        })
        .collect();
    let mut paid = 0;
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    for worker in workers {
        let (n, h) = worker.await??;
        paid += n;
        latencies.add(&h)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    figures.record("pay.payments_per_s", paid as f64 / elapsed, "payments/s");
    figures.record("pay.fines_per_s", fines as f64 / elapsed, "fines/s");
    figures.record(
        "pay.p50_ms",
        latencies.value_at_quantile(0.5) as f64 / 1e6,
        "ms",
    );
    figures.record(
        "pay.p99_ms",
        latencies.value_at_quantile(0.99) as f64 / 1e6,
        "ms",
    );
    figures.record("pay.payments", paid as f64, "payments");
    drop(govsim);
    store.close().await;
    Ok(())
}
