//! The agencies as real servers on 127.0.0.1, called through the platform's exchange client
//! like the bank will call the real ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bianmin_core::{ResidentId, SharedClock, SystemClock};
use bianmin_exchange::{
    ClientConfig, ConsentArtefact, ExchangeClient, ExchangeError, Frequency, FrequencyUnit,
    MemberKeys, MemoryMessageLog, SignedConsent,
};
use bianmin_govsim::agencies::{
    Agency, AgencyConfig, FaultConfig, GovSim, GovSimConfig, LatencyConfig, RunningGovSim,
    service_id,
};
use bianmin_govsim::population::housing_fund::HousingFundStatus;
use bianmin_govsim::records::enterprise::EnterpriseOrders;
use bianmin_govsim::records::housing_fund::{HpfAccount, HpfDeposits};
use bianmin_govsim::records::identity::{IdentityVerification, VerifyResult};
use bianmin_govsim::records::traffic::{
    FineNotification, FineStatus, NotifyOutcome, TrafficViolations,
};
use bianmin_govsim::{Population, SyntheticPerson};
use chrono::{NaiveDate, TimeDelta, Utc};
use serde_json::json;
use uuid::Uuid;

struct Platform {
    keys: Arc<MemberKeys>,
    client: Arc<ExchangeClient>,
    govsim: RunningGovSim,
}

fn clock() -> SharedClock {
    Arc::new(SystemClock)
}

async fn start(config: GovSimConfig, client: ClientConfig) -> Platform {
    let keys = Arc::new(MemberKeys::generate(
        "CN-CD/COM/bank/bianmin".parse().unwrap(),
    ));
    let govsim = GovSim::new(config, keys.subsystem("便民服务平台", None), clock())
        .unwrap()
        .start()
        .await
        .unwrap();
    let client = Arc::new(ExchangeClient::new(
        govsim.registry(),
        Arc::clone(&keys),
        Arc::new(MemoryMessageLog::new()),
        clock(),
        client,
    ));
    Platform {
        keys,
        client,
        govsim,
    }
}

impl Platform {
    fn consent(&self, subject: &ResidentId, kinds: &[&str]) -> SignedConsent {
        let now = Utc::now();
        let consent_id = Uuid::new_v4();
        ConsentArtefact {
            consent_id,
            subject_digest: ConsentArtefact::subject_digest(&consent_id, subject),
            consumer: self.keys.id.clone(),
            purpose_code: "LOAN_UNDERWRITING".into(),
            purpose_text: "闪电贷授信审批".into(),
            data_kinds: kinds.iter().map(|kind| (*kind).to_owned()).collect(),
            data_from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            data_to: NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
            frequency: Frequency {
                unit: FrequencyUnit::Day,
                max: 1_000,
            },
            valid_from: now - TimeDelta::hours(1),
            valid_until: now + TimeDelta::days(1),
            data_life_days: 7,
            issued_at: now,
        }
        .sign(&self.keys)
    }

    fn population(&self) -> &Population {
        self.govsim.population()
    }

    /// The first person (from `start`) for whom `wanted` holds.
    fn someone(&self, start: u32, wanted: impl Fn(&SyntheticPerson) -> bool) -> SyntheticPerson {
        (start..self.population().size())
            .map(|index| self.population().person(index))
            .find(|person| wanted(person))
            .expect("such a person exists")
    }
}

fn quiet() -> ClientConfig {
    ClientConfig {
        max_retries: 0,
        breaker_failures: 10_000,
        cache: false,
        max_concurrency_per_provider: 512,
        ..ClientConfig::default()
    }
}

#[tokio::test]
async fn the_bank_fetches_a_housing_fund_account_under_a_consent() {
    let platform = start(GovSimConfig::default(), ClientConfig::default()).await;
    let person = platform.someone(0, |p| {
        p.housing_fund
            .as_ref()
            .is_some_and(|f| f.status == HousingFundStatus::Active)
    });
    let consent = platform.consent(&person.resident_id, &["hpf.account", "hpf.deposits"]);
    let account: HpfAccount = platform
        .client
        .call_as(
            &service_id("hpf.account").unwrap(),
            Some(&consent),
            Some(&person.resident_id),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(
        Some(account.clone()),
        HpfAccount::of(platform.population(), &person)
    );
    assert_eq!(account.status, HousingFundStatus::Active);
    assert!(account.balance.fen() > 0);

    let deposits: HpfDeposits = platform
        .client
        .call_as(
            &service_id("hpf.deposits").unwrap(),
            Some(&consent),
            Some(&person.resident_id),
            json!({"from": "2026-01"}),
        )
        .await
        .unwrap();
    assert!(
        deposits
            .entries
            .iter()
            .all(|entry| entry.month.year() == 2026)
    );
    assert_eq!(
        deposits.entries.last().map(|e| e.balance),
        Some(account.balance)
    );
}

#[tokio::test]
async fn refusals_follow_the_protocol() {
    let platform = start(GovSimConfig::default(), quiet()).await;
    let without_fund = platform.someone(0, |p| p.housing_fund.is_none());
    let consent = platform.consent(&without_fund.resident_id, &["hpf.account"]);
    let account = service_id("hpf.account").unwrap();
    let error = platform
        .client
        .call(
            &account,
            Some(&consent),
            Some(&without_fund.resident_id),
            json!({}),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ExchangeError::NotFound), "{error:?}");

    // A consent for hpf.account does not cover the credit report.
    let credit = service_id("credit.report").unwrap();
    let error = platform
        .client
        .call(
            &credit,
            Some(&consent),
            Some(&without_fund.resident_id),
            json!({}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ExchangeError::ConsentInvalid(_)),
        "{error:?}"
    );

    // Unknown request fields are refused by the agency.
    let with_fund = platform.someone(0, |p| p.housing_fund.is_some());
    let consent = platform.consent(&with_fund.resident_id, &["hpf.account"]);
    let error = platform
        .client
        .call(
            &account,
            Some(&consent),
            Some(&with_fund.resident_id),
            json!({"surprise": 1}),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ExchangeError::Malformed(_)), "{error:?}");
}

#[tokio::test]
async fn identity_enterprise_and_fine_payment_services_answer() {
    let platform = start(GovSimConfig::default(), quiet()).await;
    let person = platform.someone(0, |_| true);
    let consent = platform.consent(&person.resident_id, &["identity.verify"]);
    let verification: IdentityVerification = platform
        .client
        .call_as(
            &service_id("identity.verify").unwrap(),
            Some(&consent),
            Some(&person.resident_id),
            json!({"name": person.name, "phone": person.phone.as_str()}),
        )
        .await
        .unwrap();
    assert_eq!(verification.result, VerifyResult::Match);
    assert_eq!(verification.phone_match, Some(true));

    // Company figures need no consent.
    let distributor = &platform.population().group().distributors()[3];
    let orders: EnterpriseOrders = platform
        .client
        .call_as(
            &service_id("enterprise.orders").unwrap(),
            None,
            None,
            json!({"uscc": distributor.uscc.as_str()}),
        )
        .await
        .unwrap();
    assert_eq!(orders.months.len(), distributor.trade().len());

    // Paying a fine through the bank, notified twice with the same payment id.
    let driver = platform.someone(0, |p| {
        p.traffic.violations.iter().any(|v| v.paid_on.is_none())
    });
    let violation = driver
        .traffic
        .violations
        .iter()
        .find(|v| v.paid_on.is_none())
        .unwrap();
    let today = bianmin_govsim::REFERENCE_DATE;
    let amount =
        bianmin_core::Money::from_fen(violation.fine.fen() + violation.late_fee_on(today).fen());
    let consent = platform.consent(
        &driver.resident_id,
        &["traffic.fine.notify", "traffic.violations"],
    );
    let notify = service_id("traffic.fine.notify").unwrap();
    let body = json!({
        "violation_id": violation.id,
        "payment_id": "PAY-20261129-0001",
        "amount": amount,
        "paid_at": "2026-11-29T10:30:00+08:00",
    });
    let first: FineNotification = platform
        .client
        .call_as(
            &notify,
            Some(&consent),
            Some(&driver.resident_id),
            body.clone(),
        )
        .await
        .unwrap();
    let again: FineNotification = platform
        .client
        .call_as(&notify, Some(&consent), Some(&driver.resident_id), body)
        .await
        .unwrap();
    assert_eq!(first.outcome, NotifyOutcome::Recorded);
    assert_eq!(again.outcome, NotifyOutcome::Duplicate);
    assert_eq!(platform.govsim.fines().len(), 1);
    let violations: TrafficViolations = platform
        .client
        .call_as(
            &service_id("traffic.violations").unwrap(),
            Some(&consent),
            Some(&driver.resident_id),
            json!({}),
        )
        .await
        .unwrap();
    let record = violations
        .violations
        .iter()
        .find(|v| v.id == violation.id)
        .unwrap();
    assert_eq!(record.status, FineStatus::Paid);
    assert_eq!(record.paid_on, Some(today));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_faults_produce_their_error_mix() {
    let faults = FaultConfig {
        timeout: 0.1,
        http_5xx: 0.1,
        malformed_payload: 0.1,
        bad_signature: 0.1,
        slow: 0.1,
        slow_ms: 300,
        hang_ms: Some(1_100),
    };
    let config = GovSimConfig {
        service_timeout_ms: 800,
        agencies: [(
            Agency::Hpf,
            AgencyConfig {
                faults: Some(faults),
                latency: None,
            },
        )]
        .into_iter()
        .collect(),
        ..GovSimConfig::default()
    };
    let platform = Arc::new(start(config, quiet()).await);
    let person = platform.someone(0, |p| p.housing_fund.is_some());
    let consent = Arc::new(platform.consent(&person.resident_id, &["hpf.account", "si.status"]));
    let subject = Arc::new(person.resident_id.clone());

    // Twenty calls at a time: enough to overlap the hangs, few enough that queueing for the
    // two cores never looks like a slow answer.
    let mut mix = std::collections::BTreeMap::<&str, u32>::new();
    for _ in 0..10 {
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (platform, consent, subject) = (
                Arc::clone(&platform),
                Arc::clone(&consent),
                Arc::clone(&subject),
            );
            calls.spawn(async move {
                let started = Instant::now();
                let result = platform
                    .client
                    .call_as::<HpfAccount>(
                        &service_id("hpf.account").unwrap(),
                        Some(&consent),
                        Some(&subject),
                        json!({}),
                    )
                    .await;
                (result.map(|_| ()), started.elapsed())
            });
        }
        while let Some(outcome) = calls.join_next().await {
            let (result, elapsed) = outcome.unwrap();
            let kind = match result {
                Ok(()) if elapsed >= Duration::from_millis(300) => "slow",
                Ok(()) => "ok",
                Err(ExchangeError::Timeout) => "timeout",
                Err(ExchangeError::Unavailable) => "http_5xx",
                Err(ExchangeError::BadResponse(why)) if why.contains("signature") => {
                    "bad_signature"
                }
                Err(ExchangeError::BadResponse(_)) => "malformed_payload",
                Err(other) => panic!("unexpected {other:?}"),
            };
            *mix.entry(kind).or_default() += 1;
        }
    }
    println!("error mix over 200 calls: {mix:?}");
    assert_eq!(mix.values().sum::<u32>(), 200);
    for kind in [
        "timeout",
        "http_5xx",
        "malformed_payload",
        "bad_signature",
        "slow",
    ] {
        let count = mix.get(kind).copied().unwrap_or(0);
        assert!(
            (8..=34).contains(&count),
            "{kind}: {count} of 200 (expected about 20)"
        );
    }
    let ok = mix.get("ok").copied().unwrap_or(0);
    assert!((80..=120).contains(&ok), "ok: {ok}");

    // Another agency, without faults configured, answers every time.
    for _ in 0..20 {
        platform
            .client
            .call(
                &service_id("si.status").unwrap(),
                Some(&consent),
                Some(&subject),
                json!({}),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn latency_is_per_agency() {
    let config = GovSimConfig {
        agencies: [(
            Agency::Tax,
            AgencyConfig {
                latency: Some(LatencyConfig {
                    mean_ms: 120.0,
                    p99_ms: 200.0,
                }),
                faults: None,
            },
        )]
        .into_iter()
        .collect(),
        ..GovSimConfig::default()
    };
    let platform = start(config, quiet()).await;
    let person = platform.someone(0, |_| true);
    let consent = platform.consent(&person.resident_id, &["tax.income", "court.cases"]);
    let time = |code: &'static str| {
        let (client, consent, subject) = (&platform.client, &consent, &person.resident_id);
        async move {
            let started = Instant::now();
            for _ in 0..5 {
                client
                    .call(
                        &service_id(code).unwrap(),
                        Some(consent),
                        Some(subject),
                        json!({}),
                    )
                    .await
                    .unwrap();
            }
            started.elapsed() / 5
        }
    };
    let tax = time("tax.income").await;
    let court = time("court.cases").await;
    assert!(tax >= Duration::from_millis(60), "tax {tax:?}");
    assert!(court < tax, "court {court:?} vs tax {tax:?}");
}

#[test]
fn the_configuration_reads_from_toml_with_defaults() {
    let config: GovSimConfig = toml::from_str(
        r#"
        size = 500
        [latency]
        mean_ms = 20
        p99_ms = 120
        [agencies.hpf.faults]
        http_5xx = 0.05
        [agencies.a-group.latency]
        mean_ms = 5
        p99_ms = 10
        "#,
    )
    .unwrap();
    assert_eq!(config.seed, 20_261_129);
    assert_eq!(config.size, 500);
    assert_eq!(config.faults_of(Agency::Hpf).http_5xx, 0.05);
    assert_eq!(config.faults_of(Agency::Tax), FaultConfig::default());
    assert_eq!(config.latency_of(Agency::Tax).mean_ms, 20.0);
    assert_eq!(config.latency_of(Agency::AGroup).p99_ms, 10.0);
    config.validate().unwrap();

    let defaults: GovSimConfig = toml::from_str("").unwrap();
    assert_eq!(defaults, GovSimConfig::default());
    assert_eq!(defaults.size, 10_000);
    assert!(
        toml::from_str::<GovSimConfig>("sise = 3").is_err(),
        "unknown keys are refused"
    );
    let too_faulty = GovSimConfig {
        faults: FaultConfig {
            timeout: 0.6,
            slow: 0.6,
            ..FaultConfig::default()
        },
        ..GovSimConfig::default()
    };
    assert!(too_faulty.validate().is_err());
}

#[test]
fn the_registry_lists_every_service_for_the_platform() {
    let keys = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
    let govsim = GovSim::new(
        GovSimConfig::default(),
        keys.subsystem("便民服务平台", None),
        clock(),
    )
    .unwrap();
    let registry = govsim.registry();
    registry.validate().unwrap();
    assert_eq!(registry.subsystems().count(), 9);
    let services: Vec<_> = registry.services().collect();
    assert_eq!(services.len(), 14);
    for service in services {
        assert!(registry.is_allowed(&keys.id, &service.id));
        assert_eq!(service.idempotent, service.id.code != "traffic.fine.notify");
        assert_eq!(
            service.personal_data,
            !matches!(
                service.id.code.as_str(),
                "enterprise.orders" | "enterprise.payments"
            )
        );
        assert_eq!(service.data_kinds, vec![service.id.code.clone()]);
    }
    assert_eq!(
        service_id("hpf.account").unwrap().to_string(),
        "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
    );
    assert_eq!(
        service_id("credit.report").unwrap().to_string(),
        "CN-CD/FIN/pbccrc/credit/credit.report/v1"
    );
}
