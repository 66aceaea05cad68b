//! The fetch path end to end against the simulated agencies: a person registered in the vault,
//! their consents in the ledger, the real exchange client with the store's message log, and
//! govsim's servers on 127.0.0.1. Runs on SQLite and on PostgreSQL (`TestDb`).

use std::sync::Arc;

use bianmin_consent::{Consent, ConsentError, ConsentLedger, ConsentRequest, Purpose, kinds};
use bianmin_core::{Clock, ResidentId, SharedClock, TestClock};
use bianmin_crypto::LocalKeyring;
use bianmin_exchange::{
    ClientConfig, ExchangeClient, ExchangeError, Frequency, FrequencyUnit, MemberKeys,
    StoreMessageLog,
};
use bianmin_gateway::{BatchItem, FetchError, Gateway};
use bianmin_govsim::agencies::{GovSim, GovSimConfig, RunningGovSim};
use bianmin_people::{NewPerson, PersonVault};
use bianmin_store::testing::TestDb;
use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

struct Fixture {
    db: TestDb,
    clock: Arc<TestClock>,
    gateway: Gateway,
    vault: PersonVault,
    govsim: RunningGovSim,
    /// A resident of the simulated city with a provident-fund account, registered here.
    person: Uuid,
    actor: String,
}

impl Fixture {
    async fn new() -> Fixture {
        let db = TestDb::new().await;
        let clock = Arc::new(TestClock::at(Utc::now()));
        let shared: SharedClock = clock.clone();
        let keyring = LocalKeyring::generate_new(clock.now());
        let audit_key = keyring.audit_key().clone();
        let blind_index = keyring.blind_index().clone();
        let vault = PersonVault::new(
            db.store.clone(),
            Arc::new(keyring),
            blind_index,
            audit_key.clone(),
        );
        let keys = Arc::new(MemberKeys::generate(
            "CN-CD/COM/bank/bianmin".parse().unwrap(),
        ));
        let config = GovSimConfig {
            size: 2_000,
            ..GovSimConfig::default()
        };
        let govsim = GovSim::new(config, keys.subsystem("便民服务平台", None), shared.clone())
            .unwrap()
            .start()
            .await
            .unwrap();
        let population = govsim.population().clone();
        let resident = (0..2_000)
            .map(|i| population.person(i))
            .find(|p| p.housing_fund.is_some())
            .expect("someone in the city has a provident-fund account");
        let person = vault
            .register(
                &NewPerson {
                    resident_id: resident.resident_id.clone(),
                    name: resident.name.clone(),
                    phone: Some(resident.phone.clone()),
                },
                clock.now(),
            )
            .await
            .unwrap();
        let registry = govsim.registry();
        let log = Arc::new(StoreMessageLog::new(
            db.store.clone(),
            keys.clone(),
            shared.clone(),
        ));
        let client = Arc::new(ExchangeClient::new(
            registry.clone(),
            keys.clone(),
            log,
            shared.clone(),
            ClientConfig::default(),
        ));
        let ledger = ConsentLedger::new(db.store.clone(), vault.clone(), keys, audit_key);
        let gateway = Gateway::new(ledger, vault.clone(), client, registry, shared);
        Fixture {
            db,
            clock,
            gateway,
            vault,
            govsim,
            person,
            actor: format!("principal:{person}"),
        }
    }

    /// Asks for and approves a provident-fund consent of the person's.
    async fn consent(&self, max_per_day: u32, valid_for: Duration) -> Consent {
        self.consent_of(self.person, max_per_day, valid_for).await
    }

    async fn consent_of(&self, person: Uuid, max_per_day: u32, valid_for: Duration) -> Consent {
        let ledger = self.gateway.ledger();
        let now = self.clock.now();
        let actor = format!("principal:{person}");
        let request = ConsentRequest {
            person_id: person,
            consumer: self.gateway.client().id().clone(),
            purpose: Purpose::ServiceHpfQuery,
            data_kinds: vec![kinds::HPF_ACCOUNT.into(), kinds::HPF_DEPOSITS.into()],
            data_from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            data_to: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            frequency: Frequency {
                unit: FrequencyUnit::Day,
                max: max_per_day,
            },
            valid_for,
            data_life_days: 1,
        };
        let pending = ledger.request(&request, &actor, now).await.unwrap();
        let subject = self.vault.subject_of(person).await.unwrap();
        ledger
            .approve(pending.id, person, &subject, &actor, now)
            .await
            .unwrap()
    }

    async fn fetch_account(&self) -> Result<bianmin_gateway::Fetched<Value>, FetchError> {
        self.gateway
            .fetch::<Value>(
                self.person,
                Purpose::ServiceHpfQuery,
                "hpf.account",
                json!({}),
            )
            .await
    }

    /// Messages the platform's client has logged (one row per attempt).
    /// The messages the client logged, session handshakes (§5a) apart.
    async fn logged_messages(&self) -> Vec<Uuid> {
        bianmin_store::on_pool!(&self.db.store, pool => {
            sqlx::query_scalar::<_, Uuid>(
                "SELECT message_id FROM exchange_log WHERE side = 'client' \
                 AND service NOT LIKE '%/exchange.session/%' ORDER BY seq",
            )
            .fetch_all(pool)
            .await
            .unwrap()
        })
    }
}

#[tokio::test]
async fn without_a_consent_nothing_is_sent_and_the_caller_is_told_to_ask() {
    let f = Fixture::new().await;
    let err = f.fetch_account().await.unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::ConsentRequired {
                purpose: Purpose::ServiceHpfQuery
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "consent.required");
    assert!(err.nothing_sent());
    assert!(f.logged_messages().await.is_empty());
}

#[tokio::test]
async fn a_fetch_under_consent_returns_the_data_and_one_use_names_the_logged_message() {
    let f = Fixture::new().await;
    let consent = f.consent(10, Duration::days(30)).await;
    let fetched = f.fetch_account().await.unwrap();
    assert_eq!(fetched.consent_id, consent.id);
    assert_eq!(fetched.service.code, "hpf.account");
    assert!(
        fetched.value["account_number"].is_string(),
        "{}",
        fetched.value
    );

    let uses = f.gateway.ledger().uses(consent.id, f.person).await.unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(Some(uses[0].message_id), fetched.message_id);
    assert_eq!(uses[0].data_kind, "hpf.account");
    assert_eq!(uses[0].service, fetched.service.to_string());
    assert_eq!(f.logged_messages().await, [fetched.message_id.unwrap()]);
}

#[tokio::test]
async fn revocation_takes_effect_on_the_next_call_even_for_a_cached_answer() {
    let f = Fixture::new().await;
    let consent = f.consent(10, Duration::days(30)).await;
    f.fetch_account().await.unwrap();
    // The second answer comes from the client's cache: nothing sent, no use recorded.
    let cached = f.fetch_account().await.unwrap();
    assert_eq!(cached.message_id, None);
    assert_eq!(f.logged_messages().await.len(), 1);
    let before = f.gateway.ledger().uses(consent.id, f.person).await.unwrap();
    assert_eq!(before.len(), 1);

    f.gateway
        .revoke(consent.id, f.person, &f.actor)
        .await
        .unwrap();
    let err = f.fetch_account().await.unwrap_err();
    assert_eq!(err.code(), "consent.required", "{err:?}");
    let err = f
        .gateway
        .fetch_under::<Value>(consent.id, f.person, "hpf.account", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Consent(ConsentError::Revoked)),
        "{err:?}"
    );
    assert_eq!(f.logged_messages().await.len(), 1, "nothing more was sent");
    let after = f.gateway.ledger().uses(consent.id, f.person).await.unwrap();
    assert_eq!(after.len(), 1, "a refused use is not recorded");
}

#[tokio::test]
async fn an_expired_consent_is_refused_and_nothing_is_sent() {
    let f = Fixture::new().await;
    let consent = f.consent(10, Duration::hours(1)).await;
    f.clock.advance(chrono::TimeDelta::hours(2));
    let err = f.fetch_account().await.unwrap_err();
    assert_eq!(err.code(), "consent.required", "{err:?}");
    let err = f
        .gateway
        .fetch_under::<Value>(consent.id, f.person, "hpf.deposits", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Consent(ConsentError::Expired)),
        "{err:?}"
    );
    assert_eq!(err.code(), "consent.expired");
    assert!(f.logged_messages().await.is_empty());
}

#[tokio::test]
async fn a_spent_frequency_window_refuses_fetches_but_not_answers_already_held() {
    let f = Fixture::new().await;
    let consent = f.consent(1, Duration::days(30)).await;
    f.fetch_account().await.unwrap();
    // Within the data life, the answer already fetched is shown again without a use.
    assert_eq!(f.fetch_account().await.unwrap().message_id, None);
    // A new fetch needs a use, and the day's one is spent.
    let err = f
        .gateway
        .fetch::<Value>(
            f.person,
            Purpose::ServiceHpfQuery,
            "hpf.deposits",
            json!({}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Consent(ConsentError::FrequencyExceeded { max: 1, .. })
        ),
        "{err:?}"
    );
    assert_eq!(f.logged_messages().await.len(), 1);
    assert_eq!(
        f.gateway
            .ledger()
            .uses(consent.id, f.person)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_erased_person_cannot_be_fetched_for() {
    let f = Fixture::new().await;
    let consent = f.consent(10, Duration::days(30)).await;
    f.vault
        .erase(f.person, "principal:dpo", "ticket-1", f.clock.now())
        .await
        .unwrap();
    let err = f
        .gateway
        .fetch_under::<Value>(consent.id, f.person, "hpf.account", json!({}))
        .await
        .unwrap_err();
    assert!(err.nothing_sent(), "{err:?}");
    assert!(f.logged_messages().await.is_empty());
    // Erasure ends the consents too.
    let ended = f
        .gateway
        .revoke_all_for(f.person, "principal:dpo")
        .await
        .unwrap();
    assert_eq!(ended, [consent.id]);
}

#[tokio::test]
async fn a_purpose_never_reaches_data_it_does_not_cover() {
    let f = Fixture::new().await;
    f.consent(10, Duration::days(30)).await;
    let err = f
        .gateway
        .fetch::<Value>(
            f.person,
            Purpose::ServiceHpfQuery,
            "credit.report",
            json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "gateway.not_in_purpose", "{err:?}");
    let err = f
        .gateway
        .fetch::<Value>(f.person, Purpose::ServiceHpfQuery, "no.such", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "exchange.unknown_service");
    assert!(f.logged_messages().await.is_empty());
}

#[tokio::test]
async fn someone_elses_consent_is_never_usable_and_an_unknown_subject_is_the_agencys_not_found() {
    let f = Fixture::new().await;
    let consent = f.consent(10, Duration::days(30)).await;
    // A resident the simulated city does not know.
    let stranger = f
        .vault
        .register(
            &NewPerson {
                resident_id: ResidentId::with_check_digit("11010519491231002").unwrap(),
                name: "张三".into(),
                phone: None,
            },
            f.clock.now(),
        )
        .await
        .unwrap();
    let err = f
        .gateway
        .fetch_under::<Value>(consent.id, stranger, "hpf.account", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Consent(ConsentError::NotYours)),
        "{err:?}"
    );
    assert!(f.logged_messages().await.is_empty());

    // Under their own consent the request goes out, and the agency has no record of them.
    f.consent_of(stranger, 10, Duration::days(30)).await;
    let err = f
        .gateway
        .fetch::<Value>(stranger, Purpose::ServiceHpfQuery, "hpf.account", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Exchange(ExchangeError::NotFound)),
        "{err:?}"
    );
    assert!(!err.nothing_sent());
    assert_eq!(f.logged_messages().await.len(), 1);
}

/// The purpose catalogue and the agencies agree on data kinds: every personal-data service of
/// the simulated city is covered by some purpose, and every kind a purpose names is served by
/// an agency or is one of those named ahead of their agencies.
#[tokio::test]
async fn the_purpose_catalogue_names_the_kinds_the_agencies_serve() {
    let f = Fixture::new().await;
    let registry = f.govsim.registry();
    let personal: Vec<&String> = registry
        .services()
        .filter(|def| def.personal_data)
        .flat_map(|def| def.data_kinds.iter())
        .collect();
    let served: Vec<&String> = registry
        .services()
        .flat_map(|def| def.data_kinds.iter())
        .collect();
    let catalogue: Vec<&str> = Purpose::ALL
        .iter()
        .flat_map(|purpose| purpose.data_kinds().iter().copied())
        .collect();
    for kind in &personal {
        // The distributor list is the enterprise's own data, shared under its agreement.
        if kind.as_str() == "enterprise.distributors" {
            continue;
        }
        assert!(catalogue.contains(&kind.as_str()), "{kind} has no purpose");
    }
    let ahead = [kinds::TAX_INVOICES];
    for kind in catalogue {
        assert!(
            served.iter().any(|s| s.as_str() == kind) || ahead.contains(&kind),
            "{kind} is served by no agency"
        );
    }
}

/// Two instances of the platform over one PostgreSQL database: a revocation made through one
/// reaches the other, which stops showing the answer it holds (on SQLite the platform is one
/// process and revokes through its own gateway, tested above).
#[tokio::test]
async fn a_revocation_by_another_instance_reaches_this_one() {
    let f = Fixture::new().await;
    if f.db.store.backend() != bianmin_store::Backend::Postgres {
        return;
    }
    let listener = f.gateway.listen_for_revocations(&f.db.store).unwrap();
    // Let it connect (it forgets everything held when it starts listening).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let consent = f.consent(10, Duration::days(30)).await;
    f.fetch_account().await.unwrap();
    assert_eq!(f.fetch_account().await.unwrap().message_id, None, "held");

    // The other instance: its own ledger over the same database.
    f.gateway
        .ledger()
        .clone()
        .revoke(consent.id, f.person, &f.actor, f.clock.now())
        .await
        .unwrap();
    let mut refused = false;
    for _ in 0..100 {
        match f.fetch_account().await {
            Err(e) if e.code() == "consent.required" => {
                refused = true;
                break;
            }
            Ok(held) => assert_eq!(held.message_id, None),
            Err(e) => panic!("{e:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "the revocation never arrived");
    listener.abort();
}

#[tokio::test]
async fn a_batch_is_authorised_together_then_each_fetch_is_sent() {
    let f = Fixture::new().await;
    let consent = f.consent(2, Duration::days(30)).await;
    let item = |code| BatchItem {
        purpose: Purpose::ServiceHpfQuery,
        code,
        body: json!({}),
    };
    let batch = f
        .gateway
        .authorize_batch(f.person, vec![item("hpf.account"), item("hpf.deposits")])
        .await
        .unwrap();
    // Both uses are on record before anything is sent.
    let uses = f.gateway.ledger().uses(consent.id, f.person).await.unwrap();
    assert_eq!(uses.len(), 2);
    assert!(f.logged_messages().await.is_empty());
    let (account, deposits) = tokio::join!(
        f.gateway.send_authorized::<Value>(&batch, 0),
        f.gateway.send_authorized::<Value>(&batch, 1),
    );
    let (account, deposits) = (account.unwrap(), deposits.unwrap());
    assert!(
        account.value["account_number"].is_string(),
        "{}",
        account.value
    );
    assert_eq!(deposits.service.code, "hpf.deposits");
    let mut sent = vec![account.message_id.unwrap(), deposits.message_id.unwrap()];
    let mut recorded: Vec<Uuid> = uses.iter().map(|u| u.message_id).collect();
    sent.sort();
    recorded.sort();
    assert_eq!(sent, recorded);
    let mut logged = f.logged_messages().await;
    logged.sort();
    assert_eq!(logged, sent);
    assert!(matches!(
        f.gateway.send_authorized::<Value>(&batch, 2).await,
        Err(FetchError::UnknownService(_))
    ));

    // Asked again, both answers come from the cache: no use, nothing sent.
    let again = f
        .gateway
        .authorize_batch(f.person, vec![item("hpf.account"), item("hpf.deposits")])
        .await
        .unwrap();
    let cached = f.gateway.send_authorized::<Value>(&again, 0).await.unwrap();
    assert_eq!(cached.message_id, None);
    assert_eq!(cached.value, account.value);
    assert_eq!(
        f.gateway
            .ledger()
            .uses(consent.id, f.person)
            .await
            .unwrap()
            .len(),
        2
    );

    // Without the cache the window (two a day) is spent: the whole batch is refused.
    f.gateway.client().forget_consent(&consent.id);
    let refused = f
        .gateway
        .authorize_batch(f.person, vec![item("hpf.account")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            FetchError::Consent(ConsentError::FrequencyExceeded { .. })
        ),
        "{refused:?}"
    );
    assert!(refused.nothing_sent());
    assert_eq!(f.logged_messages().await.len(), 2);

    // A purpose that does not cover the data refuses the batch before any lookup.
    let outside = f
        .gateway
        .authorize_batch(
            f.person,
            vec![BatchItem {
                purpose: Purpose::ServiceHpfQuery,
                code: "tax.income",
                body: json!({}),
            }],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(outside, FetchError::NotInPurpose { .. }),
        "{outside:?}"
    );
}
