//! The agencies as real servers on 127.0.0.1, called through the platform's exchange client
//! like the bank will call the real ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bianmin_core::{PhoneNumber, ResidentId, SharedClock, SystemClock};
use bianmin_exchange::{
    ClientConfig, ConsentArtefact, ExchangeClient, ExchangeError, Frequency, FrequencyUnit,
    MemberKeys, MemoryMessageLog, SignedConsent,
};
use bianmin_govsim::agencies::{
    Agency, AgencyConfig, FaultConfig, GovSim, GovSimConfig, GovSimError, LatencyConfig,
    RunningGovSim, data_kind, service_id,
};
use bianmin_govsim::population::NamedResident;
use bianmin_govsim::population::employers::EmployerSize;
use bianmin_govsim::population::housing_fund::HousingFundStatus;
use bianmin_govsim::population::social_insurance::CardStatus;
use bianmin_govsim::records::court::CourtCases;
use bianmin_govsim::records::credit::CreditReportRecord;
use bianmin_govsim::records::enterprise::EnterpriseOrders;
use bianmin_govsim::records::housing_fund::{HpfAccount, HpfDeposits};
use bianmin_govsim::records::identity::{IdentityVerification, VerifyResult};
use bianmin_govsim::records::social_insurance::{
    ActivationOutcome, CARD_NOT_ACTIVE, SiCard, SiCardActivation, SiCardStatus, SiEmployerStaff,
    SiStatus, StaffMember,
};
use bianmin_govsim::records::tax::{TaxIncome, TaxIncomeRequest};
use bianmin_govsim::records::traffic::{
    DrivingLicenceStatus, FineNotification, FineStatus, NotifyOutcome, TrafficLicence,
    TrafficViolations,
};
use bianmin_govsim::records::{DATA_KINDS, DateRange, SERVICE_CODES};
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
    let closed = platform.govsim.closed_month();
    assert_eq!(orders.months.len(), distributor.trade_through(closed).len());

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
    let consent = platform.consent(&driver.resident_id, &["traffic.violations"]);
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
        // Well above what an answer takes on two loaded cores, so a slow answer is told apart
        // by its time alone; the timeout leaves it room, and a hang outlasts the timeout.
        slow_ms: 500,
        hang_ms: Some(1_400),
    };
    let config = GovSimConfig {
        service_timeout_ms: 1_100,
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
                Ok(()) if elapsed >= Duration::from_millis(500) => "slow",
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
    assert_eq!(defaults.distributors, 850);
    assert!(defaults.residents.is_empty());
    let network: GovSimConfig = toml::from_str("distributors = 10000").unwrap();
    assert_eq!(network.distributors, 10_000);
    network.validate().unwrap();
    for distributors in [0, 20_001] {
        let error = GovSimConfig {
            distributors,
            ..GovSimConfig::default()
        }
        .validate()
        .unwrap_err();
        assert!(error.contains("distributors"), "{error}");
    }
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
    assert_eq!(services.len(), 22);
    let mut codes: Vec<&str> = services.iter().map(|s| s.id.code.as_str()).collect();
    codes.sort_unstable();
    let mut expected = SERVICE_CODES.to_vec();
    expected.sort_unstable();
    assert_eq!(codes, expected);
    for service in services {
        let code = service.id.code.as_str();
        assert!(registry.is_allowed(&keys.id, &service.id));
        assert_eq!(
            service.idempotent,
            !matches!(
                code,
                "traffic.fine.notify" | "si.card.activate" | "enterprise.order.pay"
            )
        );
        assert_eq!(
            service.personal_data,
            !matches!(
                code,
                "enterprise.orders"
                    | "enterprise.payments"
                    | "enterprise.network"
                    | "enterprise.trade"
                    | "enterprise.orders.open"
                    | "enterprise.order.pay"
                    | "si.employer.staff"
            )
        );
        // Activating the electronic card is covered by a consent to the card's data, and
        // reporting a fine's payment by one to the violation records.
        let kind = match code {
            "si.card.activate" => "si.card",
            "traffic.fine.notify" => "traffic.violations",
            _ => code,
        };
        assert_eq!(service.data_kinds, vec![kind.to_owned()]);
        assert_eq!(data_kind(code), Some(kind));
        assert!(DATA_KINDS.contains(&kind));
    }
    for kind in DATA_KINDS {
        assert_eq!(data_kind(kind), Some(kind), "{kind} is a service's code");
    }
    assert_eq!(
        service_id("si.card.activate").unwrap().to_string(),
        "CN-CD/GOV/hrss/social-insurance/si.card.activate/v1"
    );
    assert_eq!(
        service_id("traffic.licence").unwrap().to_string(),
        "CN-CD/GOV/traffic/vehicles/traffic.licence/v1"
    );
    assert_eq!(
        Agency::Si.service_codes().collect::<Vec<_>>(),
        [
            "si.status",
            "si.contributions",
            "si.card",
            "si.card.activate",
            "si.employer.staff"
        ]
    );
    assert_eq!(
        service_id("si.employer.staff").unwrap().to_string(),
        "CN-CD/GOV/hrss/social-insurance/si.employer.staff/v1"
    );
    assert_eq!(
        service_id("hpf.account").unwrap().to_string(),
        "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
    );
    assert_eq!(
        service_id("credit.report").unwrap().to_string(),
        "CN-CD/FIN/pbccrc/credit/credit.report/v1"
    );
}

/// 张伟 of the demo personas: 锦江区, born 1988-03-12, a man.
const ZHANG_WEI: &str = "510104198803120039";

fn zhang_wei(template: u32) -> NamedResident {
    NamedResident {
        resident_id: ResidentId::parse(ZHANG_WEI).unwrap(),
        name: "张伟".into(),
        phone: PhoneNumber::parse("13800000001").unwrap(),
        template,
    }
}

#[test]
fn named_residents_read_from_toml_and_are_checked() {
    let config: GovSimConfig = toml::from_str(
        r#"
        size = 1000
        [[residents]]
        resident_id = "510104198803120039"
        name = "张伟"
        phone = "13800000001"
        template = 42
        [[residents]]
        resident_id = "51010719920708002X"
        name = "李娜"
        phone = "139 0000 0002"
        template = 7
        "#,
    )
    .unwrap();
    assert_eq!(config.residents.len(), 2);
    assert_eq!(config.residents[0], zhang_wei(42));
    assert_eq!(config.residents[1].phone.as_str(), "13900000002");
    config.validate().unwrap();
    // Written back and read again, the configuration is the same.
    let again: GovSimConfig = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
    assert_eq!(again, config);

    for bad in [
        // A wrong check digit, a landline, an unknown field.
        "[[residents]]\nresident_id = \"510104198803120038\"\nname = \"张伟\"\nphone = \"13800000001\"\ntemplate = 1",
        "[[residents]]\nresident_id = \"510104198803120039\"\nname = \"张伟\"\nphone = \"02887654321\"\ntemplate = 1",
        "[[residents]]\nresident_id = \"510104198803120039\"\nname = \"张伟\"\nphone = \"13800000001\"\ntemplate = 1\nage = 38",
    ] {
        assert!(toml::from_str::<GovSimConfig>(bad).is_err(), "{bad}");
    }
    let out_of_range = GovSimConfig {
        size: 1_000,
        residents: vec![zhang_wei(1_000)],
        ..GovSimConfig::default()
    };
    assert!(out_of_range.validate().is_err());
    let twice = GovSimConfig {
        residents: vec![zhang_wei(1), zhang_wei(2)],
        ..GovSimConfig::default()
    };
    assert!(twice.validate().is_err());

    // An id a generated person has is refused when the agencies are built.
    let generated = Population::new(20_261_129, 10_000).person(3).resident_id;
    let config = GovSimConfig {
        residents: vec![NamedResident {
            resident_id: generated,
            ..zhang_wei(1)
        }],
        ..GovSimConfig::default()
    };
    config.validate().unwrap();
    let keys = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
    let error = GovSim::new(config, keys.subsystem("便民服务平台", None), clock()).unwrap_err();
    assert!(matches!(error, GovSimError::Config(_)), "{error:?}");
}

#[tokio::test]
async fn a_named_resident_is_served_by_every_agency_with_the_templates_records() {
    // A template with something to show everywhere.
    let template = {
        let population = Population::new(20_261_129, 10_000);
        (0..10_000)
            .map(|index| population.person(index))
            .find(|p| {
                p.housing_fund.is_some()
                    && p.traffic.licence.is_some()
                    && !p.traffic.violations.is_empty()
                    && p.credit.has_record()
            })
            .expect("such a template exists")
    };
    let config = GovSimConfig {
        residents: vec![zhang_wei(template.index)],
        ..GovSimConfig::default()
    };
    let platform = start(config, quiet()).await;
    let zhang = ResidentId::parse(ZHANG_WEI).unwrap();
    let kinds = [
        "identity.verify",
        "hpf.account",
        "si.status",
        "si.card",
        "traffic.violations",
        "traffic.licence",
        "tax.income",
        "court.cases",
    ];
    let consent = platform.consent(&zhang, &kinds);
    // The credit report needs a consent of its own.
    let credit_consent = platform.consent(&zhang, &["credit.report"]);
    let client = &platform.client;
    let call = |code: &'static str, body: serde_json::Value| {
        let consent = if code == "credit.report" {
            &credit_consent
        } else {
            &consent
        };
        let zhang = &zhang;
        async move {
            client
                .call(&service_id(code).unwrap(), Some(consent), Some(zhang), body)
                .await
                .unwrap_or_else(|error| panic!("{code}: {error:?}"))
        }
    };
    let population = platform.population();
    let range = DateRange {
        from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
    };

    let verification: IdentityVerification = serde_json::from_value(
        call(
            "identity.verify",
            json!({"name": "张伟", "phone": "13800000001"}),
        )
        .await,
    )
    .unwrap();
    assert_eq!(verification.result, VerifyResult::Match);
    assert_eq!(verification.phone_match, Some(true));
    assert_eq!(
        verification.birth_date,
        NaiveDate::from_ymd_opt(1988, 3, 12)
    );
    assert_eq!(verification.gender, Some(bianmin_core::Gender::Male));
    assert_eq!(verification.district_code.as_deref(), Some("510104"));
    let wrong: IdentityVerification =
        serde_json::from_value(call("identity.verify", json!({"name": template.name})).await)
            .unwrap();
    assert_eq!(wrong.result, VerifyResult::Mismatch);
    assert_eq!(wrong.birth_date, None);

    assert_eq!(
        call("hpf.account", json!({})).await,
        as_json(&HpfAccount::of(population, &template).unwrap())
    );
    assert_eq!(
        call("si.status", json!({})).await,
        as_json(&SiStatus::of(population, &template))
    );
    assert_eq!(
        call("traffic.violations", json!({})).await,
        as_json(&TrafficViolations::of(&template, range, |_| None))
    );
    assert_eq!(
        call("tax.income", json!({})).await,
        as_json(&TaxIncome::of(
            population,
            &template,
            &TaxIncomeRequest::default(),
            range
        ))
    );
    assert_eq!(
        call("credit.report", json!({})).await,
        as_json(&CreditReportRecord::of(&template))
    );
    assert_eq!(
        call("court.cases", json!({})).await,
        as_json(&CourtCases::of(&template, range))
    );
    let licence: TrafficLicence =
        serde_json::from_value(call("traffic.licence", json!({})).await).unwrap();
    let theirs = TrafficLicence::of(&template).unwrap();
    assert_eq!(
        licence.licence_number, ZHANG_WEI,
        "the licence number is the id"
    );
    assert_eq!(
        TrafficLicence {
            licence_number: theirs.licence_number.clone(),
            ..licence
        },
        theirs
    );
    let card: SiCard = serde_json::from_value(call("si.card", json!({})).await).unwrap();
    assert_eq!(
        card.status,
        SiCardStatus::from(template.social_insurance.card)
    );

    // The template is still found under its own id, with its own name.
    let consent = platform.consent(&template.resident_id, &["identity.verify"]);
    let verification: IdentityVerification = platform
        .client
        .call_as(
            &service_id("identity.verify").unwrap(),
            Some(&consent),
            Some(&template.resident_id),
            json!({"name": template.name}),
        )
        .await
        .unwrap();
    assert_eq!(verification.result, VerifyResult::Match);
    assert_eq!(verification.birth_date, Some(template.birth_date));
}

/// A record as JSON, to compare with what came over the wire.
fn as_json(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap()
}

#[tokio::test]
async fn the_electronic_social_security_card_is_activated_once() {
    let platform = start(GovSimConfig::default(), quiet()).await;
    let population = platform.population();
    let person = platform.someone(0, |p| {
        let card = population.si_card(p);
        card.status == CardStatus::Active && card.electronic_activated_at.is_none()
    });
    // A consent to the card's data covers its activation.
    let consent = platform.consent(&person.resident_id, &["si.card"]);
    let subject = Some(&person.resident_id);
    let card_service = service_id("si.card").unwrap();
    let activate = service_id("si.card.activate").unwrap();

    let before: SiCard = platform
        .client
        .call_as(&card_service, Some(&consent), subject, json!({}))
        .await
        .unwrap();
    assert_eq!(before.status, SiCardStatus::Active);
    assert!(!before.electronic && before.electronic_activated_at.is_none());
    assert_eq!(before.card_number.as_ref().map(String::len), Some(9));

    let first: SiCardActivation = platform
        .client
        .call_as(&activate, Some(&consent), subject, json!({}))
        .await
        .unwrap();
    assert_eq!(first.outcome, ActivationOutcome::Activated);
    assert_eq!(Some(&first.card_number), before.card_number.as_ref());
    assert_eq!(
        first.electronic_activated_at.offset().local_minus_utc(),
        8 * 3600
    );
    let again: SiCardActivation = platform
        .client
        .call_as(&activate, Some(&consent), subject, json!({}))
        .await
        .unwrap();
    assert_eq!(again.outcome, ActivationOutcome::AlreadyActivated);
    assert_eq!(again.electronic_activated_at, first.electronic_activated_at);
    assert_eq!(platform.govsim.card_activations().len(), 1);
    assert_eq!(
        platform
            .govsim
            .card_activations()
            .activated_at(&person.resident_id),
        Some(first.electronic_activated_at)
    );

    let after: SiCard = platform
        .client
        .call_as(&card_service, Some(&consent), subject, json!({}))
        .await
        .unwrap();
    assert!(after.electronic);
    assert_eq!(
        after.electronic_activated_at,
        Some(first.electronic_activated_at)
    );
    assert_eq!(
        SiCard {
            electronic: false,
            electronic_activated_at: None,
            ..after
        },
        before
    );

    // An electronic card activated before the simulator started answers with that date.
    let earlier = platform.someone(0, |p| {
        population.si_card(p).electronic_activated_at.is_some()
    });
    let consent = platform.consent(&earlier.resident_id, &["si.card"]);
    let answer: SiCardActivation = platform
        .client
        .call_as(
            &activate,
            Some(&consent),
            Some(&earlier.resident_id),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(answer.outcome, ActivationOutcome::AlreadyActivated);
    assert_eq!(
        answer.electronic_activated_at.naive_local(),
        population
            .si_card(&earlier)
            .electronic_activated_at
            .unwrap()
    );
    assert_eq!(platform.govsim.card_activations().len(), 1);

    // A card that is not in use cannot be activated.
    for status in [
        CardStatus::ReportedLost,
        CardStatus::Suspended,
        CardStatus::NotIssued,
    ] {
        let holder = platform.someone(0, |p| p.social_insurance.card == status);
        let consent = platform.consent(&holder.resident_id, &["si.card"]);
        let error = platform
            .client
            .call(
                &activate,
                Some(&consent),
                Some(&holder.resident_id),
                json!({}),
            )
            .await
            .unwrap_err();
        match error {
            ExchangeError::Malformed(detail) => {
                assert!(detail.starts_with(CARD_NOT_ACTIVE), "{detail}");
                assert!(detail.contains("电子社保卡"), "{detail}");
            }
            other => panic!("{status:?}: {other:?}"),
        }
        let card: SiCard = platform
            .client
            .call_as(
                &card_service,
                Some(&consent),
                Some(&holder.resident_id),
                json!({}),
            )
            .await
            .unwrap();
        assert!(!card.electronic);
        assert_ne!(card.status, SiCardStatus::Active);
        assert_eq!(card.card_number.is_none(), status == CardStatus::NotIssued);
    }
    assert_eq!(platform.govsim.card_activations().len(), 1);

    // A consent naming the activation's code rather than the card's data does not cover it.
    let consent = platform.consent(&person.resident_id, &["si.card.activate"]);
    let error = platform
        .client
        .call(&activate, Some(&consent), subject, json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ExchangeError::ConsentInvalid(_)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_named_residents_card_activation_is_their_own() {
    let population = Population::new(20_261_129, 10_000);
    let template = (0..10_000)
        .map(|index| population.person(index))
        .find(|p| {
            let card = population.si_card(p);
            card.status == CardStatus::Active && card.electronic_activated_at.is_none()
        })
        .unwrap();
    let config = GovSimConfig {
        residents: vec![zhang_wei(template.index)],
        ..GovSimConfig::default()
    };
    let platform = start(config, quiet()).await;
    let zhang = ResidentId::parse(ZHANG_WEI).unwrap();
    let population = platform.population();
    let named = population.find(&zhang).unwrap();
    // Zhang's own card may have been generated with an electronic card; the template's not.
    let consent = platform.consent(&zhang, &["si.card"]);
    let activation: SiCardActivation = platform
        .client
        .call_as(
            &service_id("si.card.activate").unwrap(),
            Some(&consent),
            Some(&zhang),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(
        Some(activation.card_number),
        population.si_card(&named).number
    );
    let consent = platform.consent(&template.resident_id, &["si.card"]);
    let theirs: SiCard = platform
        .client
        .call_as(
            &service_id("si.card").unwrap(),
            Some(&consent),
            Some(&template.resident_id),
            json!({}),
        )
        .await
        .unwrap();
    assert!(!theirs.electronic, "the template's card is not activated");
}

#[tokio::test]
async fn the_driving_licence_counts_the_points_of_the_cycle() {
    let platform = start(GovSimConfig::default(), quiet()).await;
    let driver = platform.someone(0, |p| {
        p.traffic
            .licence
            .as_ref()
            .is_some_and(|licence| licence.points > 0)
    });
    let consent = platform.consent(&driver.resident_id, &["traffic.licence"]);
    let service = service_id("traffic.licence").unwrap();
    let licence: TrafficLicence = platform
        .client
        .call_as(
            &service,
            Some(&consent),
            Some(&driver.resident_id),
            json!({}),
        )
        .await
        .unwrap();
    let truth = driver.traffic.licence.as_ref().unwrap();
    assert_eq!(licence.licence_number, driver.resident_id.as_str());
    assert_eq!(licence.class, truth.class);
    assert_eq!(licence.first_issued, truth.first_issued);
    assert_eq!(licence.valid_until, truth.valid_until);
    assert!(licence.cycle_start <= licence.as_of && licence.as_of <= licence.cycle_end);
    let in_cycle: u32 = driver
        .traffic
        .violations
        .iter()
        .filter(|v| (licence.cycle_start..=licence.cycle_end).contains(&v.occurred_at.date()))
        .map(|v| v.points)
        .sum();
    assert_eq!(licence.points_deducted, in_cycle);
    assert!(licence.points_deducted > 0);
    assert_eq!(
        licence.status == DrivingLicenceStatus::Suspended,
        truth.status == bianmin_govsim::population::traffic::LicenceStatus::PointsExceeded
    );

    // No licence, no record.
    let pedestrian = platform.someone(0, |p| p.traffic.licence.is_none());
    let consent = platform.consent(&pedestrian.resident_id, &["traffic.licence"]);
    let error = platform
        .client
        .call(
            &service,
            Some(&consent),
            Some(&pedestrian.resident_id),
            json!({}),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ExchangeError::NotFound), "{error:?}");
}

/// Everyone employer `number` employs, found the slow way: every generated person, then every
/// named resident.
fn staff_by_scan(population: &Population) -> std::collections::BTreeMap<u16, Vec<SyntheticPerson>> {
    let mut staff = std::collections::BTreeMap::<u16, Vec<SyntheticPerson>>::new();
    let named = population
        .residents()
        .iter()
        .map(|resident| population.find(&resident.resident_id).unwrap());
    for person in (0..population.size())
        .map(|index| population.person(index))
        .chain(named)
    {
        if let Some(number) = person.employment.employer {
            staff.entry(number).or_default().push(person);
        }
    }
    staff
}

/// Masked id and masked name, as the staff list shows and orders them.
fn masked(person: &SyntheticPerson) -> (String, String) {
    (
        bianmin_core::mask::mask_resident_id(person.resident_id.as_str()),
        bianmin_core::mask::mask_name(&person.name),
    )
}

#[tokio::test]
async fn an_employer_sees_its_staff_under_masked_identifiers_without_consent() {
    let size = 3_000;
    let template = {
        let population = Population::new(20_261_129, size);
        (0..size)
            .map(|index| population.person(index))
            .find(|p| {
                p.employment
                    .employer
                    .and_then(|number| population.employer(number))
                    .is_some_and(|employer| employer.size == EmployerSize::Large)
            })
            .unwrap()
    };
    let config = GovSimConfig {
        size,
        residents: vec![zhang_wei(template.index)],
        ..GovSimConfig::default()
    };
    let platform = start(config, quiet()).await;
    let population = platform.population();
    let number = template.employment.employer.unwrap();
    let employer = population.employer(number).unwrap();
    let service = service_id("si.employer.staff").unwrap();
    let fetch = |body: serde_json::Value| {
        let (client, service) = (&platform.client, &service);
        async move {
            client
                .call_as::<SiEmployerStaff>(service, None, None, body)
                .await
        }
    };
    assert!(
        !population.has_staff_index(),
        "the index is built on first use, not at start"
    );

    // The whole list, a page at a time.
    let uscc = employer.uscc.as_str();
    let first = fetch(json!({"uscc": uscc, "per_page": 7})).await.unwrap();
    assert!(population.has_staff_index());
    assert_eq!(first.employer_name, employer.name);
    assert_eq!(first.uscc, uscc);
    assert_eq!((first.page, first.per_page), (1, 7));
    assert_eq!(first.as_of, bianmin_govsim::REFERENCE_DATE);
    let mut listed = first.employees.clone();
    let pages = first.total.div_ceil(7);
    assert!(pages >= 2, "{} employees", first.total);
    for page in 2..=pages {
        let answer = fetch(json!({"uscc": uscc, "page": page, "per_page": 7}))
            .await
            .unwrap();
        assert_eq!(answer.total, first.total);
        assert_eq!(
            answer.employees.len(),
            if page < pages {
                7
            } else {
                listed_rest(first.total, 7)
            }
        );
        listed.extend(answer.employees);
    }
    let past = fetch(json!({"uscc": uscc, "page": pages + 1, "per_page": 7}))
        .await
        .unwrap();
    assert!(past.employees.is_empty());
    assert_eq!(past.total, first.total);
    // Default paging: the first 50, the same people in the same order.
    let default = fetch(json!({"uscc": uscc})).await.unwrap();
    assert_eq!((default.page, default.per_page), (1, 50));
    let shown = default.employees.len().min(listed.len());
    assert_eq!(default.employees[..], listed[..shown]);

    // The same people as a scan of the population finds, in masked-id-then-name order.
    let scan = staff_by_scan(population);
    let mut expected = scan[&number].clone();
    expected.sort_by_key(masked);
    assert_eq!(listed.len(), expected.len());
    assert_eq!(
        listed
            .iter()
            .map(|e| (e.resident_id_masked.clone(), e.name_masked.clone()))
            .collect::<Vec<_>>(),
        expected.iter().map(masked).collect::<Vec<_>>()
    );
    for person in &expected {
        let entry = StaffMember::of(person);
        assert!(listed.contains(&entry), "{entry:?}");
        let status = SiStatus::of(population, person);
        assert_eq!(entry.status, status.status);
        assert_eq!(entry.insured_since, status.insured_since);
        assert_eq!(entry.last_paid, status.last_paid);
        assert_eq!(entry.base, status.base);
        let recent = population
            .contributions(person)
            .iter()
            .filter(|c| c.month >= bianmin_govsim::YearMonth::new(2025, 11))
            .count();
        assert_eq!(entry.months_paid_last_12 as usize, recent);
        assert!(entry.months_paid_last_12 <= 12);
    }
    // The template, and 张伟 with his own masked id and name.
    assert!(
        listed
            .iter()
            .any(|e| (e.resident_id_masked.clone(), e.name_masked.clone()) == masked(&template))
    );
    let zhang = listed
        .iter()
        .find(|e| e.resident_id_masked == "510104********0039")
        .expect("the named resident is listed");
    assert_eq!(zhang.name_masked, "*伟");
    assert_eq!(zhang.base, template.social_insurance.base);

    // Every employer's count matches the scan (employers nobody works for have none).
    for candidate in population.employers() {
        let scanned = scan.get(&candidate.number).map_or(0, Vec::len);
        assert_eq!(
            population.staff_count(candidate.number),
            scanned,
            "{}",
            candidate.name
        );
    }
    let other = scan.keys().copied().find(|&n| n != number).unwrap();
    let answer =
        fetch(json!({"uscc": population.employer(other).unwrap().uscc.as_str(), "per_page": 200}))
            .await
            .unwrap();
    assert_eq!(answer.total as usize, scan[&other].len());

    // No clear resident id or full name anywhere in what came back.
    let mut bodies = Vec::new();
    for page in 1..=first.total.div_ceil(200) {
        let body = platform
            .client
            .call(
                &service,
                None,
                None,
                json!({"uscc": uscc, "page": page, "per_page": 200}),
            )
            .await
            .unwrap();
        bodies.push(body.to_string());
    }
    for person in &expected {
        for body in &bodies {
            assert!(!body.contains(person.resident_id.as_str()), "a clear id");
            assert!(!body.contains(&person.name), "a full name");
            assert!(
                !body.contains(&person.resident_id.as_str()[6..14]),
                "a birth date"
            );
        }
    }

    // An unknown code is not found; paging out of range is refused.
    let unknown = population.group().distributors()[0].uscc.as_str();
    let error = fetch(json!({"uscc": unknown})).await.unwrap_err();
    assert!(matches!(error, ExchangeError::NotFound), "{error:?}");
    for bad in [
        json!({"uscc": uscc, "per_page": 201}),
        json!({"uscc": uscc, "per_page": 0}),
        json!({"uscc": uscc, "page": 0}),
        json!({"uscc": uscc, "subject_name": "x"}),
        json!({"page": 1}),
    ] {
        let error = fetch(bad.clone()).await.unwrap_err();
        assert!(
            matches!(error, ExchangeError::Malformed(_)),
            "{bad}: {error:?}"
        );
    }
}

/// How many are on the last page of `total` at `per_page` a page.
fn listed_rest(total: u32, per_page: u32) -> usize {
    match total % per_page {
        0 => per_page as usize,
        rest => rest as usize,
    }
}
