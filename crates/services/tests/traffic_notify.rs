//! Notifying the 交管局 of a payment: a failure leaves the payment paid and the notification
//! pending, retried later with backoff, and the retry never charges again.

use std::sync::Arc;

use bianmin_consent::{ConsentLedger, ConsentRequest, Purpose};
use bianmin_core::{Clock, Money, SharedClock, TestClock};
use bianmin_crypto::LocalKeyring;
use bianmin_exchange::{
    ClientConfig, ExchangeClient, Frequency, FrequencyUnit, MemberKeys, StoreMessageLog,
};
use bianmin_gateway::Gateway;
use bianmin_govsim::agencies::{GovSim, GovSimConfig};
use bianmin_people::{NewPerson, PersonVault};
use bianmin_services::traffic::PayFines;
use bianmin_services::{Accounts, Channel, ServiceUse, TrafficService};
use bianmin_store::testing::TestDb;
use chrono::{NaiveDate, TimeDelta, Utc};

#[tokio::test]
async fn a_failed_notification_stays_pending_and_is_retried_without_charging_again() {
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
    let govsim = GovSim::new(
        GovSimConfig {
            size: 2_000,
            ..GovSimConfig::default()
        },
        keys.subsystem("便民服务平台", None),
        shared.clone(),
    )
    .unwrap()
    .start()
    .await
    .unwrap();
    let registry = govsim.registry();
    let client = Arc::new(ExchangeClient::new(
        registry.clone(),
        keys.clone(),
        Arc::new(StoreMessageLog::new(
            db.store.clone(),
            keys.clone(),
            shared.clone(),
        )),
        shared.clone(),
        ClientConfig {
            max_retries: 0,
            ..ClientConfig::default()
        },
    ));
    let ledger = ConsentLedger::new(db.store.clone(), vault.clone(), keys.clone(), audit_key);
    let gateway = Gateway::new(
        ledger.clone(),
        vault.clone(),
        client,
        registry,
        shared.clone(),
    );
    let accounts = Accounts::new(db.store.clone(), vault.clone());
    let traffic = TrafficService::new(
        db.store.clone(),
        gateway,
        accounts.clone(),
        keys.clone(),
        shared.clone(),
    );

    // A resident with an unpaid fine, an account and a consent.
    let population = govsim.population().clone();
    let resident = (0..2_000)
        .map(|i| population.person(i))
        .find(|p| p.traffic.violations.iter().any(|v| v.paid_on.is_none()))
        .unwrap();
    let now = clock.now();
    let person = vault
        .register(
            &NewPerson {
                resident_id: resident.resident_id.clone(),
                name: resident.name.clone(),
                phone: None,
            },
            now,
        )
        .await
        .unwrap();
    accounts
        .open(person, "0001", Money::from_fen(1_000_000), now)
        .await
        .unwrap();
    let pending = ledger
        .request(
            &ConsentRequest {
                person_id: person,
                consumer: keys.id.clone(),
                purpose: Purpose::ServiceTraffic,
                data_kinds: Purpose::ServiceTraffic
                    .data_kinds()
                    .iter()
                    .map(|k| (*k).to_owned())
                    .collect(),
                data_from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
                data_to: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
                frequency: Frequency {
                    unit: FrequencyUnit::Day,
                    max: 100,
                },
                valid_for: TimeDelta::days(30),
                data_life_days: 1,
            },
            "test",
            now,
        )
        .await
        .unwrap();
    ledger
        .approve(pending.id, person, &resident.resident_id, "test", now)
        .await
        .unwrap();
    let owed = traffic.violations(person).await.unwrap();
    let fine = owed
        .violations
        .iter()
        .find(|v| v.amount_due.is_positive())
        .unwrap();
    let usage = ServiceUse {
        service: "traffic.pay",
        department: "traffic",
        person_id: person,
        demographics: None,
        channel: Channel::Api,
        outcome: String::new(),
        latency_ms: 0,
    };
    let payment = traffic
        .pay(
            person,
            &PayFines {
                idempotency_key: "tap-1".into(),
                violation_ids: vec![fine.id.clone()],
                expected_total: fine.amount_due,
            },
            usage,
        )
        .await
        .unwrap();
    assert_eq!(payment.notify_state, "pending");
    let balance = accounts.view(person).await.unwrap().unwrap().balance;
    assert_eq!(balance.fen(), 1_000_000 - fine.amount_due.fen());

    // The 交管局 is down: the notification fails, stays pending, and is not due again at once.
    drop(govsim);
    let report = traffic.notify_due(10).await.unwrap();
    assert_eq!(report.rescheduled, 1);
    assert_eq!(report.acknowledged, 0);
    assert_eq!(
        traffic.notify_due(10).await.unwrap().rescheduled,
        0,
        "backoff"
    );
    clock.advance(TimeDelta::seconds(5));
    assert_eq!(
        traffic.notify_due(10).await.unwrap().rescheduled,
        1,
        "retried"
    );
    let still = traffic.payment(person, payment.id).await.unwrap();
    assert_eq!(still.notify_state, "pending");
    assert!(still.fines[0].notified_at.is_none());
    // Retrying never moved money.
    assert_eq!(
        accounts.view(person).await.unwrap().unwrap().balance,
        balance
    );
    let attempts: i64 = bianmin_store::on_pool!(&db.store, pool => {
        sqlx::query_scalar("SELECT notify_attempts FROM fine_payments WHERE id = $1")
            .bind(payment.id)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(attempts, 2);
}
