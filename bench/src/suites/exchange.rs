//! `exchange`: what the unified access standard (统一接入标准, `docs/exchange-protocol.md`)
//! costs a caller, through the real [`ExchangeClient`] against the simulated agencies of
//! `govsim`, every one on its own loopback port in this process.
//!
//! - `plain_http`: the baseline, the same JSON-in, JSON-out round trip without the protocol: a
//!   `POST` of `{"subject": …}` with reqwest to an axum handler that looks the person up in the
//!   same population and answers the same `hpf.account` record, in clear and unsigned;
//! - `signed_encrypted`: [`ExchangeClient::call`] of `hpf.account` under a valid consent, with
//!   the response cache off and no injected latency, loaded with the same concurrency, each
//!   message signed and encrypted with SM2 (sessions off);
//! - `session`: the same calls in the agency's session (§5a: HMAC-SM3 and SM4-GCM per message
//!   after one SM2-signed handshake);
//! - `fanout`: seven agencies with fixed latencies from 50 to 200 ms, one service of each
//!   called at once, against `slowest_provider`: the 200 ms agency called alone, in the same
//!   iterations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use bianmin_core::{ResidentId, SharedClock, SystemClock};
use bianmin_exchange::{
    ClientConfig, ConsentArtefact, ExchangeClient, ExchangeError, Frequency, FrequencyUnit,
    MemberKeys, MemoryMessageLog, ServiceId, SignedConsent,
};
use bianmin_govsim::agencies::{
    Agency, AgencyConfig, GovSim, GovSimConfig, LatencyConfig, RunningGovSim, service_id,
};
use bianmin_govsim::records::housing_fund::HpfAccount;
use bianmin_govsim::{Population, REFERENCE_DATE, SyntheticPerson};
use chrono::{NaiveDate, TimeDelta, Utc};
use futures_util::future::join_all;
use hdrhistogram::Histogram;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::Settings;
use crate::figure::Figures;

/// The platform's subsystem: the client that signs the consents and may call every service.
const PLATFORM_ID: &str = "CN-CD/COM/bank/bianmin";
/// The service the throughput figures call: personal data, so encrypted both ways.
const THROUGHPUT_SERVICE: &str = "hpf.account";
/// People the throughput workers ask about, each under their own consent; worker `i` asks
/// about person `i % SUBJECTS`.
const SUBJECTS: usize = 16;
/// The fan-out: one service at each of seven agencies, and the fixed latency (ms) each agency
/// adds to every answer. The last is the slowest.
const FANOUT: [(Agency, &str, u32); 7] = [
    (Agency::Identity, "identity.verify", 50),
    (Agency::Si, "si.status", 75),
    (Agency::Traffic, "traffic.vehicles", 100),
    (Agency::Court, "court.cases", 125),
    (Agency::Tax, "tax.income", 150),
    (Agency::Hpf, "hpf.account", 175),
    (Agency::Credit, "credit.report", 200),
];
/// Applications in progress at once during the fan-out measurement: enough for about a
/// hundred iterations in five seconds, few enough (about 150 calls a second, under a third of
/// two cores) that the figure is about waiting for the agencies, not queueing for the CPU.
const APPLICANTS: usize = 8;
/// Recorded latencies are clamped to this; the registry's service timeout is 3 s.
const LONGEST_RECORDED: Duration = Duration::from_secs(60);

/// Runs the suite.
pub async fn run(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    let platform = Platform::start(GovSimConfig::default(), settings.connections).await?;
    let subjects = Arc::new(platform.throughput_subjects()?);

    announce(
        "POST of a JSON body to a plain axum handler answering hpf.account in clear",
        settings,
    );
    let plain = PlainAgency::start(Arc::clone(platform.govsim.population())).await?;
    let baseline = {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let url = plain.url();
        let subjects = Arc::clone(&subjects);
        closed_loop(settings, move |worker| {
            let request = http
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(subjects[worker % subjects.len()].plain_body.clone());
            async move {
                let response = request.send().await?;
                if response.status() != StatusCode::OK {
                    bail!("the plain handler answered {}", response.status());
                }
                let body = response.bytes().await?;
                let answer: Value = serde_json::from_slice(&body)?;
                if !answer.is_object() {
                    bail!("the plain handler's answer is not a JSON object");
                }
                Ok(())
            }
        })
        .await?
    };
    drop(plain);
    record_throughput(figures, "plain_http", &baseline, None);

    let service = service_id(THROUGHPUT_SERVICE).context("govsim serves no hpf.account")?;
    for (name, client, how) in [
        (
            "signed_encrypted",
            &platform.signed_client,
            "signed, SM2+SM4-GCM per message",
        ),
        (
            "session",
            &platform.client,
            "in a session, HMAC-SM3+SM4-GCM",
        ),
    ] {
        announce(
            &format!(
                "ExchangeClient::call of {THROUGHPUT_SERVICE} ({how}, consent, cache off) \
                 against govsim without latency"
            ),
            settings,
        );
        let measured = {
            let client = Arc::clone(client);
            let subjects = Arc::clone(&subjects);
            let service = service.clone();
            closed_loop(settings, move |worker| {
                let (client, subjects, service) =
                    (Arc::clone(&client), Arc::clone(&subjects), service.clone());
                async move {
                    let subject = &subjects[worker % subjects.len()];
                    client
                        .call(
                            &service,
                            Some(&subject.consent),
                            Some(&subject.resident_id),
                            json!({}),
                        )
                        .await?;
                    Ok(())
                }
            })
            .await?
        };
        record_throughput(figures, name, &measured, Some(&baseline));
    }
    platform.stop().await;

    fan_out(settings, figures).await
}

/// Progress on stderr, so that stdout stays the table or the JSON lines.
fn announce(target: &str, settings: &Settings) {
    eprintln!(
        "exchange: loading {target} with {} concurrent calls ({:.1} s warm-up, {:.1} s measured)",
        settings.connections,
        settings.warmup.as_secs_f64(),
        settings.duration.as_secs_f64()
    );
}

/// The platform's side: its keys, the agencies serving it and its exchange clients (in
/// sessions, and signing every message).
struct Platform {
    keys: Arc<MemberKeys>,
    client: Arc<ExchangeClient>,
    signed_client: Arc<ExchangeClient>,
    govsim: RunningGovSim,
}

impl Platform {
    /// Starts govsim with `config` and a client that may have `concurrency` calls in flight
    /// to one agency.
    async fn start(config: GovSimConfig, concurrency: usize) -> anyhow::Result<Platform> {
        let keys = Arc::new(MemberKeys::generate(PLATFORM_ID.parse()?));
        let clock: SharedClock = Arc::new(SystemClock);
        let govsim = GovSim::new(
            config,
            keys.subsystem("便民服务平台", None),
            Arc::clone(&clock),
        )?
        .start()
        .await?;
        let config = ClientConfig {
            // One attempt per call, so a failure is counted rather than hidden in a retry,
            // and no breaker turning failures into fast ones.
            max_retries: 0,
            breaker_failures: u32::MAX,
            // Every call goes to the agency: a cached answer would time a map lookup.
            cache: false,
            // The limit must not be what is measured.
            max_concurrency_per_provider: concurrency.max(APPLICANTS),
            ..ClientConfig::default()
        };
        let client = |sessions: bool| {
            Arc::new(ExchangeClient::new(
                govsim.registry(),
                Arc::clone(&keys),
                Arc::new(MemoryMessageLog::new()),
                Arc::clone(&clock),
                ClientConfig {
                    sessions,
                    ..config.clone()
                },
            ))
        };
        let (client, signed_client) = (client(true), client(false));
        Ok(Platform {
            keys,
            client,
            signed_client,
            govsim,
        })
    }

    /// A consent of `subject` for `kinds`, signed by the platform, valid now and for a day.
    fn consent(&self, subject: &ResidentId, kinds: &[&str]) -> anyhow::Result<SignedConsent> {
        let now = Utc::now();
        let consent_id = Uuid::new_v4();
        Ok(ConsentArtefact {
            consent_id,
            subject_digest: ConsentArtefact::subject_digest(&consent_id, subject),
            consumer: self.keys.id.clone(),
            purpose_code: "LOAN_UNDERWRITING".into(),
            purpose_text: "闪电贷授信审批".into(),
            data_kinds: kinds.iter().map(|kind| (*kind).to_owned()).collect(),
            data_from: NaiveDate::from_ymd_opt(2000, 1, 1).context("a valid date")?,
            data_to: REFERENCE_DATE,
            // Frequency is enforced by the consumer's consent ledger, which the benchmark
            // does not have; the provider does not check it.
            frequency: Frequency {
                unit: FrequencyUnit::Day,
                max: u32::MAX,
            },
            valid_from: now - TimeDelta::hours(1),
            valid_until: now + TimeDelta::days(1),
            data_life_days: 7,
            issued_at: now,
        }
        .sign(&self.keys))
    }

    /// The first `count` people with a housing-fund account (`hpf.account` answers
    /// `not_found` for the others).
    fn people_with_a_fund(&self, count: usize) -> anyhow::Result<Vec<SyntheticPerson>> {
        let population = self.govsim.population();
        let people: Vec<SyntheticPerson> = (0..population.size())
            .map(|index| population.person(index))
            .filter(|person| person.housing_fund.is_some())
            .take(count)
            .collect();
        if people.len() < count {
            bail!("the population has fewer than {count} people with a housing fund");
        }
        Ok(people)
    }

    /// The throughput workers' subjects, each with an `hpf.account` consent.
    fn throughput_subjects(&self) -> anyhow::Result<Vec<Subject>> {
        self.people_with_a_fund(SUBJECTS)?
            .into_iter()
            .map(|person| {
                Ok(Subject {
                    consent: self.consent(&person.resident_id, &[THROUGHPUT_SERVICE])?,
                    plain_body: serde_json::to_vec(
                        &json!({ "subject": person.resident_id.as_str() }),
                    )?,
                    resident_id: person.resident_id,
                })
            })
            .collect()
    }

    /// Closes the client's connections, then stops the agencies.
    async fn stop(self) {
        drop(self.client);
        self.govsim.shutdown().await;
    }
}

/// One person the throughput workers ask about.
struct Subject {
    resident_id: ResidentId,
    /// Their `hpf.account` consent.
    consent: SignedConsent,
    /// The baseline's request body: `{"subject": "<居民身份证号码>"}`.
    plain_body: Vec<u8>,
}

/// The baseline agency: axum and one handler doing what govsim's `hpf.account` does for a
/// request it has accepted, in clear: parse the body, find the person in the population,
/// answer their account. Dropping it stops it.
struct PlainAgency {
    address: std::net::SocketAddr,
    task: JoinHandle<()>,
}

/// The baseline's request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainRequest {
    subject: ResidentId,
}

impl PlainAgency {
    const PATH: &str = "/hpf.account";

    async fn start(population: Arc<Population>) -> anyhow::Result<PlainAgency> {
        let router = Router::new()
            .route(Self::PATH, post(plain_account))
            .with_state(population);
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("exchange: the plain agency stopped: {error}");
            }
        });
        Ok(PlainAgency { address, task })
    }

    fn url(&self) -> String {
        format!("http://{}{}", self.address, Self::PATH)
    }
}

impl Drop for PlainAgency {
    /// Stops listening, also when the measurement failed half-way. Its measurement is over
    /// either way, so nothing waits for a graceful end.
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The baseline's only handler: the person's `hpf.account` record as JSON, or `404` like
/// govsim's `not_found`.
async fn plain_account(
    State(population): State<Arc<Population>>,
    Json(request): Json<PlainRequest>,
) -> Result<Json<HpfAccount>, StatusCode> {
    let person = population
        .find(&request.subject)
        .ok_or(StatusCode::NOT_FOUND)?;
    HpfAccount::of(&population, &person)
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

/// Latencies in nanoseconds, 3 significant digits.
fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    let highest = u64::try_from(LONGEST_RECORDED.as_nanos())?;
    Ok(Histogram::new_with_bounds(1, highest, 3)?)
}

fn record_latency(histogram: &mut Histogram<u64>, latency: Duration) {
    histogram.saturating_record(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
}

/// The latency (ms) below which `quantile` of the recorded calls completed, if any was.
fn latency_ms(histogram: &Histogram<u64>, quantile: f64) -> Option<f64> {
    (!histogram.is_empty()).then(|| histogram.value_at_quantile(quantile) as f64 / 1e6)
}

/// When the warm-up ends and when the measured window does.
#[derive(Debug, Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

impl Window {
    fn starting_now(settings: &Settings) -> Window {
        let measure_from = Instant::now() + settings.warmup;
        Window {
            measure_from,
            end: measure_from + settings.duration,
        }
    }
}

/// The outcome of a closed-loop measurement.
struct LoopReport {
    /// Calls that succeeded in the measured window.
    ok: u64,
    /// Calls in the measured window that failed.
    errors: u64,
    /// The first failure, to say why.
    first_error: Option<String>,
    /// From the start of the measured window until its last call completed.
    elapsed: Duration,
    /// Latency of every successful call in the measured window.
    latencies: Histogram<u64>,
}

impl LoopReport {
    fn calls_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.ok as f64 / seconds
        } else {
            0.0
        }
    }
}

/// `settings.connections` workers, each making its next call (`call(worker)`) as soon as the
/// previous one completed: unrecorded for the warm-up, then for the measured window.
async fn closed_loop<C, F>(settings: &Settings, call: C) -> anyhow::Result<LoopReport>
where
    C: Fn(usize) -> F + Send + Sync + 'static,
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let call = Arc::new(call);
    let window = Window::starting_now(settings);
    let workers: Vec<JoinHandle<anyhow::Result<LoopReport>>> = (0..settings.connections.max(1))
        .map(|worker| {
            let call = Arc::clone(&call);
            tokio::spawn(async move {
                let mut tally = LoopReport {
                    ok: 0,
                    errors: 0,
                    first_error: None,
                    elapsed: Duration::ZERO,
                    latencies: new_histogram()?,
                };
                let mut last = window.measure_from;
                loop {
                    let started = Instant::now();
                    if started >= window.end {
                        break;
                    }
                    let outcome = call(worker).await;
                    let completed = Instant::now();
                    if started < window.measure_from {
                        continue;
                    }
                    last = completed;
                    match outcome {
                        Ok(()) => {
                            tally.ok += 1;
                            record_latency(&mut tally.latencies, completed - started);
                        }
                        Err(error) => {
                            tally.errors += 1;
                            tally
                                .first_error
                                .get_or_insert_with(|| format!("{error:#}"));
                        }
                    }
                }
                tally.elapsed = last.saturating_duration_since(window.measure_from);
                Ok(tally)
            })
        })
        .collect();
    let mut report = LoopReport {
        ok: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latencies: new_histogram()?,
    };
    for worker in workers {
        let tally = worker.await.context("a worker panicked")??;
        report.ok += tally.ok;
        report.errors += tally.errors;
        report.first_error = report.first_error.or(tally.first_error);
        report.elapsed = report.elapsed.max(tally.elapsed);
        report.latencies.add(&tally.latencies)?;
    }
    Ok(report)
}

/// Records `{label}.rps`, `.p50_ms` and `.p99_ms`, against `baseline`'s where given, and
/// `{label}.errors` if any call failed.
fn record_throughput(
    figures: &mut Figures,
    label: &str,
    report: &LoopReport,
    baseline: Option<&LoopReport>,
) {
    let rps = report.calls_per_second();
    match baseline {
        Some(base) => {
            figures.record_against(
                format!("{label}.rps"),
                rps,
                "req/s",
                base.calls_per_second(),
            );
        }
        None => figures.record(format!("{label}.rps"), rps, "req/s"),
    }
    record_latencies(
        figures,
        label,
        &report.latencies,
        baseline.map(|base| &base.latencies),
    );
    record_errors(figures, label, report.errors, report.first_error.as_deref());
}

/// Records `{label}.p50_ms` and `.p99_ms`, against `baseline`'s where given.
fn record_latencies(
    figures: &mut Figures,
    label: &str,
    latencies: &Histogram<u64>,
    baseline: Option<&Histogram<u64>>,
) {
    for (name, quantile) in [("p50_ms", 0.50), ("p99_ms", 0.99)] {
        // No successful call means no latency to report; the errors figure says why.
        let Some(latency) = latency_ms(latencies, quantile) else {
            continue;
        };
        let name = format!("{label}.{name}");
        match baseline.and_then(|base| latency_ms(base, quantile)) {
            Some(base) => figures.record_against(name, latency, "ms", base),
            None => figures.record(name, latency, "ms"),
        }
    }
}

/// Records `{label}.errors` and says on stderr what the first was, if any failed.
fn record_errors(figures: &mut Figures, label: &str, errors: u64, first: Option<&str>) {
    if errors > 0 {
        eprintln!(
            "exchange: {errors} {label} calls failed; the first: {}",
            first.unwrap_or("?")
        );
        figures.record(format!("{label}.errors"), errors as f64, "calls");
    }
}

/// One call of the fan-out, ready to send again and again.
struct FanOutCall {
    service: ServiceId,
    consent: Arc<SignedConsent>,
    body: Value,
}

/// One application: a person and the seven calls made about them.
struct Application {
    subject: ResidentId,
    calls: Vec<FanOutCall>,
}

/// What the applicants measured.
struct FanOutReport {
    iterations: u64,
    alone: Histogram<u64>,
    alone_errors: u64,
    fanout: Histogram<u64>,
    fanout_errors: u64,
    /// The first failure of a call alone and of a fan-out, to say why.
    first_errors: (Option<String>, Option<String>),
}

/// The fan-out measurement: govsim with a fixed latency per agency, [`APPLICANTS`]
/// applications in a loop, each iteration the slowest agency's call alone, then all seven at
/// once.
async fn fan_out(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    let agencies = FANOUT
        .iter()
        .map(|&(agency, _, latency_ms)| {
            let latency = LatencyConfig {
                // A log-normal whose 99th percentile equals its mean has σ = 0: every answer
                // waits exactly this long.
                mean_ms: f64::from(latency_ms),
                p99_ms: f64::from(latency_ms),
            };
            let config = AgencyConfig {
                latency: Some(latency),
                faults: None,
            };
            (agency, config)
        })
        .collect();
    let config = GovSimConfig {
        agencies,
        ..GovSimConfig::default()
    };
    let platform = Platform::start(config, APPLICANTS).await?;
    let applications = platform
        .people_with_a_fund(APPLICANTS)?
        .iter()
        .map(|person| application(&platform, person))
        .collect::<anyhow::Result<Vec<Application>>>()?;
    let slowest = FANOUT
        .iter()
        .enumerate()
        .max_by_key(|(_, (_, _, latency))| *latency)
        .map(|(index, _)| index)
        .context("the fan-out has calls")?;

    eprintln!(
        "exchange: {APPLICANTS} applications at a time, each iteration {} alone, then {} \
         services at once ({}), fixed latencies {} ms ({:.1} s warm-up, {:.1} s measured)",
        FANOUT[slowest].1,
        FANOUT.len(),
        FANOUT.map(|(_, code, _)| code).join(", "),
        FANOUT.map(|(_, _, latency)| latency.to_string()).join("/"),
        settings.warmup.as_secs_f64(),
        settings.duration.as_secs_f64(),
    );
    let window = Window::starting_now(settings);
    let applicants: Vec<JoinHandle<anyhow::Result<FanOutReport>>> = applications
        .into_iter()
        .map(|application| {
            let client = Arc::clone(&platform.client);
            tokio::spawn(async move { apply(&client, &application, slowest, window).await })
        })
        .collect();
    let mut report = FanOutReport {
        iterations: 0,
        alone: new_histogram()?,
        alone_errors: 0,
        fanout: new_histogram()?,
        fanout_errors: 0,
        first_errors: (None, None),
    };
    for applicant in applicants {
        let tally = applicant.await.context("an applicant panicked")??;
        report.iterations += tally.iterations;
        report.alone.add(&tally.alone)?;
        report.alone_errors += tally.alone_errors;
        report.fanout.add(&tally.fanout)?;
        report.fanout_errors += tally.fanout_errors;
        report.first_errors.0 = report.first_errors.0.or(tally.first_errors.0);
        report.first_errors.1 = report.first_errors.1.or(tally.first_errors.1);
    }
    platform.stop().await;

    eprintln!(
        "exchange: {} measured fan-out iterations",
        report.iterations
    );
    record_latencies(figures, "slowest_provider", &report.alone, None);
    record_errors(
        figures,
        "slowest_provider",
        report.alone_errors,
        report.first_errors.0.as_deref(),
    );
    record_latencies(figures, "fanout", &report.fanout, Some(&report.alone));
    record_errors(
        figures,
        "fanout",
        report.fanout_errors,
        report.first_errors.1.as_deref(),
    );
    Ok(())
}

/// The seven calls about `person`: the credit report under a consent of its own, as §6
/// requires, the six others under one consent.
fn application(platform: &Platform, person: &SyntheticPerson) -> anyhow::Result<Application> {
    let (credit, others): (Vec<&str>, Vec<&str>) = FANOUT
        .iter()
        .map(|&(_, code, _)| code)
        .partition(|code| code.starts_with("credit."));
    let credit = Arc::new(platform.consent(&person.resident_id, &credit)?);
    let others = Arc::new(platform.consent(&person.resident_id, &others)?);
    let calls = FANOUT
        .iter()
        .map(|&(_, code, _)| {
            Ok(FanOutCall {
                service: service_id(code).ok_or_else(|| anyhow!("govsim serves no {code}"))?,
                consent: Arc::clone(if code.starts_with("credit.") {
                    &credit
                } else {
                    &others
                }),
                body: match code {
                    "identity.verify" => {
                        json!({ "name": person.name, "phone": person.phone.as_str() })
                    }
                    _ => json!({}),
                },
            })
        })
        .collect::<anyhow::Result<Vec<FanOutCall>>>()?;
    Ok(Application {
        subject: person.resident_id.clone(),
        calls,
    })
}

/// One call of the fan-out about `subject`; only whether it succeeded counts.
async fn send(
    client: &ExchangeClient,
    subject: &ResidentId,
    call: &FanOutCall,
) -> Result<(), ExchangeError> {
    client
        .call(
            &call.service,
            Some(&call.consent),
            Some(subject),
            call.body.clone(),
        )
        .await
        .map(drop)
}

/// One applicant's loop until the window ends: call `slowest` alone, then every call at once,
/// timing each.
async fn apply(
    client: &ExchangeClient,
    application: &Application,
    slowest: usize,
    window: Window,
) -> anyhow::Result<FanOutReport> {
    let mut report = FanOutReport {
        iterations: 0,
        alone: new_histogram()?,
        alone_errors: 0,
        fanout: new_histogram()?,
        fanout_errors: 0,
        first_errors: (None, None),
    };
    loop {
        let started = Instant::now();
        if started >= window.end {
            break;
        }
        let measured = started >= window.measure_from;
        let alone = send(client, &application.subject, &application.calls[slowest]).await;
        let alone_time = started.elapsed();
        let fanout_start = Instant::now();
        let calls = application.calls.iter();
        let fanout = join_all(calls.map(|call| send(client, &application.subject, call))).await;
        let fanout_time = fanout_start.elapsed();
        if !measured {
            continue;
        }
        report.iterations += 1;
        match alone {
            Ok(_) => record_latency(&mut report.alone, alone_time),
            Err(error) => {
                report.alone_errors += 1;
                report
                    .first_errors
                    .0
                    .get_or_insert_with(|| error.to_string());
            }
        }
        match fanout.into_iter().find_map(Result::err) {
            None => record_latency(&mut report.fanout, fanout_time),
            Some(error) => {
                report.fanout_errors += 1;
                report
                    .first_errors
                    .1
                    .get_or_insert_with(|| error.to_string());
            }
        }
    }
    Ok(report)
}
