//! A集团's supply-chain services: the whole network, batches of trade, books that close with
//! the clock, late-turning distributors, open orders and payments on them.

use std::collections::HashSet;
use std::sync::Arc;

use bianmin_core::{Money, SharedClock, TestClock};
use bianmin_exchange::{ClientConfig, ExchangeClient, ExchangeError, MemberKeys, MemoryMessageLog};
use bianmin_govsim::Population;
use bianmin_govsim::agencies::{GovSim, GovSimConfig, RunningGovSim, service_id};
use bianmin_govsim::calendar::{LAST_CLOSED_MONTH, YearMonth};
use bianmin_govsim::enterprise::{
    BOOKS_ORIGIN, Distributor, DistributorStatus, TradeMonth, Trend, books_date, closed_month,
};
use bianmin_govsim::records::enterprise::{
    Distributors, EnterpriseOrders, EnterprisePayments, EnterpriseTrade, MAX_TRADE_BATCH,
    OpenOrders, OrderPayment,
};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const SEED: u64 = 20_261_129;

struct Bank {
    client: Arc<ExchangeClient>,
    govsim: RunningGovSim,
}

/// 2026-11-29 10:00 in Beijing: the reference date.
fn reference_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap()
}

async fn start(config: GovSimConfig, clock: SharedClock) -> Bank {
    let keys = Arc::new(MemberKeys::generate(
        "CN-CD/COM/bank/bianmin".parse().unwrap(),
    ));
    let govsim = GovSim::new(
        config,
        keys.subsystem("便民服务平台", None),
        Arc::clone(&clock),
    )
    .unwrap()
    .start()
    .await
    .unwrap();
    let client = Arc::new(ExchangeClient::new(
        govsim.registry(),
        keys,
        Arc::new(MemoryMessageLog::new()),
        clock,
        ClientConfig {
            max_retries: 0,
            breaker_failures: 10_000,
            cache: false,
            max_concurrency_per_provider: 512,
            ..ClientConfig::default()
        },
    ));
    Bank { client, govsim }
}

impl Bank {
    /// Calls A集团's service `code` (company data: no consent, no subject).
    async fn call<T: DeserializeOwned>(&self, code: &str, body: Value) -> Result<T, ExchangeError> {
        self.client
            .call_as(&service_id(code).unwrap(), None, None, body)
            .await
    }

    fn population(&self) -> &Population {
        self.govsim.population()
    }
}

fn config(distributors: u32) -> GovSimConfig {
    GovSimConfig {
        distributors,
        ..GovSimConfig::default()
    }
}

#[test]
fn the_closed_month_follows_the_beijing_date_and_never_goes_before_the_reference() {
    let at = |y, m, d, h| Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap();
    assert_eq!(closed_month(reference_time(), 0), LAST_CLOSED_MONTH);
    assert_eq!(closed_month(at(2020, 1, 1, 0), 0), LAST_CLOSED_MONTH);
    // 2026-11-30 16:00 UTC is already 2026-12-01 in Beijing.
    assert_eq!(
        closed_month(at(2026, 11, 30, 15), 0),
        YearMonth::new(2026, 10)
    );
    assert_eq!(
        closed_month(at(2026, 11, 30, 16), 0),
        YearMonth::new(2026, 11)
    );
    assert_eq!(closed_month(at(2027, 3, 15, 0), 2), YearMonth::new(2027, 4));
    assert_eq!(closed_month(reference_time(), 3), YearMonth::new(2027, 1));
    assert_eq!(BOOKS_ORIGIN, YearMonth::new(2024, 11));
    assert_eq!(
        books_date(LAST_CLOSED_MONTH),
        bianmin_govsim::REFERENCE_DATE
    );
    assert_eq!(
        books_date(YearMonth::new(2027, 1)).to_string(),
        "2027-02-28",
        "clamped to the month's end"
    );
}

#[tokio::test]
async fn the_network_pages_cover_every_distributor_once() {
    let clock: SharedClock = Arc::new(TestClock::at(reference_time()));
    let bank = start(config(1_000), clock).await;
    let group = bank.population().group();
    assert_eq!(group.distributors().len(), 1_000);
    let mut seen = HashSet::new();
    let mut statuses = HashSet::new();
    for page in 1..=5 {
        let answer: Distributors = bank
            .call("enterprise.network", json!({ "page": page }))
            .await
            .unwrap();
        assert_eq!(answer.total, 1_000);
        assert_eq!(answer.page_size, 200, "200 a page by default");
        assert_eq!(answer.distributors.len(), 200);
        assert_eq!(answer.as_of, bianmin_govsim::REFERENCE_DATE);
        for record in answer.distributors {
            let distributor = group.by_uscc(&record.uscc).unwrap();
            assert_eq!(record.status, distributor.status());
            statuses.insert(record.status);
            assert!(seen.insert(record.uscc), "listed once");
        }
    }
    assert_eq!(seen.len(), 1_000);
    assert!(statuses.len() == 3, "every status is listed: {statuses:?}");
    let past: Distributors = bank
        .call("enterprise.network", json!({ "page": 6, "page_size": 200 }))
        .await
        .unwrap();
    assert!(past.distributors.is_empty());
    let small: Distributors = bank
        .call("enterprise.network", json!({ "page": 7, "page_size": 150 }))
        .await
        .unwrap();
    assert_eq!(small.distributors.len(), 1_000 - 6 * 150);
    for bad in [
        json!({ "page": 0 }),
        json!({ "page_size": 201 }),
        json!({ "page_size": 0 }),
        json!({ "subject": "51010419900307123X" }),
    ] {
        let error = bank
            .call::<Distributors>("enterprise.network", bad.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(error, ExchangeError::Malformed(_)),
            "{bad}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_batch_of_trade_is_what_orders_and_payments_say() {
    let clock: SharedClock = Arc::new(TestClock::at(reference_time()));
    let bank = start(GovSimConfig::default(), clock).await;
    let group = bank.population().group();
    let unknown = bank.population().employers()[0].uscc.as_str().to_owned();
    let mut usccs: Vec<String> = group
        .distributors()
        .iter()
        .step_by(8)
        .take(MAX_TRADE_BATCH - 1)
        .map(|d| d.uscc.as_str().to_owned())
        .collect();
    usccs.insert(10, unknown.clone());
    let trade: EnterpriseTrade = bank
        .call("enterprise.trade", json!({ "usccs": usccs }))
        .await
        .unwrap();
    assert_eq!(trade.closed_month, LAST_CLOSED_MONTH);
    assert_eq!(trade.as_of, bianmin_govsim::REFERENCE_DATE);
    assert_eq!(trade.not_found, vec![unknown.clone()]);
    assert_eq!(trade.distributors.len(), MAX_TRADE_BATCH - 1);
    let asked: Vec<&String> = usccs.iter().filter(|u| **u != unknown).collect();
    for (record, uscc) in trade.distributors.iter().zip(asked) {
        assert_eq!(&record.uscc, uscc, "in the order asked");
        let distributor = group.by_uscc(uscc).unwrap();
        assert_eq!(record.status, distributor.status());
        assert_eq!(record.months.len(), distributor.trade().len());
    }
    for record in trade.distributors.iter().step_by(20) {
        let body = json!({ "uscc": record.uscc });
        let orders: EnterpriseOrders = bank.call("enterprise.orders", body.clone()).await.unwrap();
        let payments: EnterprisePayments = bank.call("enterprise.payments", body).await.unwrap();
        assert_eq!(orders.months.len(), record.months.len());
        assert_eq!(payments.months.len(), record.months.len());
        for ((month, order), payment) in record
            .months
            .iter()
            .zip(&orders.months)
            .zip(&payments.months)
        {
            assert_eq!(month.month, order.month);
            assert_eq!(month.order_count, order.order_count);
            assert_eq!(month.order_amount, order.order_amount);
            assert_eq!(month.return_amount, order.return_amount);
            assert_eq!(month.net_amount, order.net_amount);
            assert_eq!(month.month, payment.month);
            assert_eq!(month.amount_due, payment.amount_due);
            assert_eq!(month.amount_paid, payment.amount_paid);
            assert_eq!(month.days_late, payment.days_late);
            assert_eq!(month.receivable, payment.receivable);
        }
    }

    // One code to 100 codes; more or none is refused.
    let too_many: Vec<String> = group
        .distributors()
        .iter()
        .take(MAX_TRADE_BATCH + 1)
        .map(|d| d.uscc.as_str().to_owned())
        .collect();
    let full: EnterpriseTrade = bank
        .call(
            "enterprise.trade",
            json!({ "usccs": too_many[..MAX_TRADE_BATCH] }),
        )
        .await
        .unwrap();
    assert_eq!(full.distributors.len(), MAX_TRADE_BATCH);
    for bad in [
        json!({ "usccs": too_many }),
        json!({ "usccs": [] }),
        json!({ "uscc": unknown }),
    ] {
        let error = bank
            .call::<EnterpriseTrade>("enterprise.trade", bad)
            .await
            .unwrap_err();
        assert!(matches!(error, ExchangeError::Malformed(_)), "{error:?}");
    }
}

#[tokio::test]
async fn the_books_close_with_the_clock() {
    let test_clock = TestClock::at(reference_time());
    let clock: SharedClock = Arc::new(test_clock.clone());
    let bank = start(GovSimConfig::default(), clock).await;
    let usccs: Vec<String> = bank
        .population()
        .group()
        .distributors()
        .iter()
        .take(50)
        .map(|d| d.uscc.as_str().to_owned())
        .collect();
    let body = json!({ "usccs": usccs });
    let before: EnterpriseTrade = bank.call("enterprise.trade", body.clone()).await.unwrap();
    assert_eq!(bank.govsim.closed_month(), LAST_CLOSED_MONTH);
    assert_eq!(before.closed_month, LAST_CLOSED_MONTH);

    // Two months on: 2027-01-29, November and December have closed.
    test_clock.advance(TimeDelta::days(61));
    let december = YearMonth::new(2026, 12);
    assert_eq!(bank.govsim.closed_month(), december);
    let after: EnterpriseTrade = bank.call("enterprise.trade", body.clone()).await.unwrap();
    assert_eq!(after.closed_month, december);
    assert_eq!(after.as_of.to_string(), "2027-01-29");
    for (old, new) in before.distributors.iter().zip(&after.distributors) {
        assert_eq!(old.uscc, new.uscc);
        let last = new.months.last().unwrap();
        assert_eq!(last.month, december);
        assert_eq!(
            new.months[new.months.len() - 2].month,
            YearMonth::new(2026, 11)
        );
        assert!(new.months.len() <= 24);
        // Every month both answers show is unchanged.
        let kept: Vec<_> = old
            .months
            .iter()
            .filter(|m| m.month >= new.months[0].month)
            .collect();
        assert_eq!(kept.len() + 2, new.months.len(), "two months appended");
        for (old_month, new_month) in kept.iter().zip(&new.months) {
            assert_eq!(*old_month, new_month);
        }
    }
    let one = &before.distributors[0].uscc;
    let orders: EnterpriseOrders = bank
        .call("enterprise.orders", json!({ "uscc": one }))
        .await
        .unwrap();
    assert_eq!(orders.months.last().unwrap().month, december);

    // The simulator moves the books further ahead of the clock.
    bank.govsim.advance_books(3);
    assert_eq!(bank.govsim.books_ahead(), 3);
    assert_eq!(bank.govsim.closed_month(), YearMonth::new(2027, 3));
    let ahead: EnterpriseTrade = bank.call("enterprise.trade", body).await.unwrap();
    assert_eq!(ahead.closed_month, YearMonth::new(2027, 3));
    assert_eq!(ahead.as_of.to_string(), "2027-04-29");
    let network: Distributors = bank
        .call("enterprise.network", json!({ "page_size": 1 }))
        .await
        .unwrap();
    assert_eq!(network.as_of, ahead.as_of);
}

/// Mean of `f` over `months`.
fn mean(months: &[TradeMonth], f: impl Fn(&TradeMonth) -> f64) -> f64 {
    months.iter().map(f).sum::<f64>() / months.len() as f64
}

fn yuan(money: Money) -> f64 {
    money.fen() as f64 / 100.0
}

fn late_turners(population: &Population) -> (usize, Vec<&Distributor>) {
    let deteriorating: Vec<&Distributor> = population
        .group()
        .distributors()
        .iter()
        .filter(|d| d.trend == Trend::Deteriorating)
        .collect();
    let late = deteriorating
        .iter()
        .copied()
        .filter(|d| d.deteriorates_from().unwrap() > LAST_CLOSED_MONTH)
        .collect();
    (deteriorating.len(), late)
}

#[test]
fn a_late_turning_distributor_looks_healthy_then_deteriorates() {
    let population = Population::new(SEED, 10_000);
    for distributor in population.group().distributors() {
        assert_eq!(
            distributor.deteriorates_from().is_some(),
            distributor.trend == Trend::Deteriorating
        );
    }
    let (deteriorating, late) = late_turners(&population);
    // About a quarter turn in the six months after the reference date.
    assert!(
        (deteriorating / 8..=deteriorating * 2 / 5).contains(&late.len()),
        "{} of {deteriorating}",
        late.len()
    );
    let (mut before_orders, mut after_orders) = (0.0, 0.0);
    let (mut before_returns, mut after_returns) = (0.0, 0.0);
    for distributor in &late {
        let turn = distributor.deteriorates_from().unwrap();
        assert!(turn >= YearMonth::new(2026, 11) && turn <= YearMonth::new(2027, 4));
        // Healthy on the reference date.
        assert_eq!(distributor.status(), DistributorStatus::Active);
        let healthy = distributor.trade();
        assert!(healthy.iter().all(|m| m.days_late <= 5), "{healthy:?}");
        assert!(
            healthy
                .iter()
                .all(|m| m.paid.fen() as f64 >= 0.965 * m.due.fen() as f64)
        );
        // Four months after the turn.
        let closed = turn.plus(4);
        let later = distributor.trade_through(closed);
        assert_eq!(later.last().unwrap().month, closed);
        assert_eq!(distributor.status_at(closed), DistributorStatus::Watch);
        let last = later.last().unwrap();
        assert!(last.days_late >= 20, "{last:?}");
        assert!(yuan(last.paid) < 0.9 * yuan(last.due), "{last:?}");
        let turning = later.iter().find(|m| m.month == turn).unwrap();
        assert!(last.days_late > turning.days_late + 10);
        // Months closed before are unchanged.
        for month in &healthy {
            if let Some(same) = later.iter().find(|m| m.month == month.month) {
                assert_eq!(same, month);
            }
        }
        let pre: Vec<TradeMonth> = later.iter().filter(|m| m.month < turn).copied().collect();
        let pre = &pre[pre.len().saturating_sub(12)..];
        before_orders += mean(pre, |m| yuan(m.orders));
        before_returns += mean(pre, |m| yuan(m.returns));
        let tail = &later[later.len() - 2..];
        after_orders += mean(tail, |m| yuan(m.orders));
        after_returns += mean(tail, |m| yuan(m.returns));
    }
    // Orders fall by about 4 % a month (0.96^3.5 ≈ 0.87) while returns take a larger share.
    let fall = after_orders / before_orders;
    assert!(
        fall < 0.93,
        "orders at {fall:.3} of their level before the turn"
    );
    assert!(
        after_returns / after_orders > before_returns / before_orders + 0.008,
        "returns {:.4} → {:.4}",
        before_returns / before_orders,
        after_returns / after_orders
    );
}

#[tokio::test]
async fn a_late_turner_is_seen_deteriorating_over_the_protocol() {
    let clock: SharedClock = Arc::new(TestClock::at(reference_time()));
    let bank = start(GovSimConfig::default(), clock).await;
    let (_, late) = late_turners(bank.population());
    let distributor = late[0];
    let body = json!({ "usccs": [distributor.uscc.as_str()] });
    let now: EnterpriseTrade = bank.call("enterprise.trade", body.clone()).await.unwrap();
    assert_eq!(now.distributors[0].status, DistributorStatus::Active);
    let turn = distributor.deteriorates_from().unwrap();
    bank.govsim
        .advance_books(turn.plus(4).months_since(LAST_CLOSED_MONTH) as u32);
    let later: EnterpriseTrade = bank.call("enterprise.trade", body).await.unwrap();
    let record = &later.distributors[0];
    assert_eq!(later.closed_month, turn.plus(4));
    assert_eq!(record.status, DistributorStatus::Watch);
    let last = record.months.last().unwrap();
    assert!(last.days_late >= 20, "{last:?}");
    // No hidden truth in the answer.
    let text = serde_json::to_string(&later).unwrap();
    for hidden in ["trend", "deteriorat", "true_pd", "\"pd\""] {
        assert!(!text.contains(hidden), "{hidden} in {text}");
    }
}

#[tokio::test]
async fn open_orders_are_paid_once_per_payment_id() {
    let clock: SharedClock = Arc::new(TestClock::at(reference_time()));
    let bank = start(GovSimConfig::default(), clock).await;
    let group = bank.population().group();
    // Open orders are the same every time and have the promised shape.
    for distributor in group.distributors().iter().step_by(50) {
        let body = json!({ "uscc": distributor.uscc.as_str() });
        let first: OpenOrders = bank
            .call("enterprise.orders.open", body.clone())
            .await
            .unwrap();
        let again: OpenOrders = bank.call("enterprise.orders.open", body).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(
            first,
            OpenOrders::at(distributor, LAST_CLOSED_MONTH, |_| Money::from_fen(0))
        );
        assert!((1..=4).contains(&first.orders.len()));
        assert_eq!(first.as_of, bianmin_govsim::REFERENCE_DATE);
        for order in &first.orders {
            let days = (first.as_of - order.placed_on).num_days();
            assert!((1..=30).contains(&days), "{order:?}");
            assert_eq!(order.due_on, order.placed_on + TimeDelta::days(30));
            assert_eq!(order.order_no.len(), 15);
            assert!(
                order
                    .order_no
                    .starts_with(&format!("PO{}", order.placed_on.format("%Y%m%d")))
            );
            assert!(order.order_no[2..].bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(order.amount.fen() % 100, 0, "whole yuan");
            assert!(order.amount.fen() >= 100_000, "{order:?}");
            assert_eq!(order.outstanding, order.amount);
            assert!(order.goods.ends_with(" 箱"), "{}", order.goods);
        }
        assert!(
            first
                .orders
                .windows(2)
                .all(|w| w[0].placed_on <= w[1].placed_on)
        );
    }
    let unknown = bank.population().employers()[0].uscc.as_str();
    let error = bank
        .call::<OpenOrders>("enterprise.orders.open", json!({ "uscc": unknown }))
        .await
        .unwrap_err();
    assert!(matches!(error, ExchangeError::NotFound), "{error:?}");

    // Paying part of an order, twice under the same payment id, then the rest.
    let distributor = &group.distributors()[7];
    let uscc = distributor.uscc.as_str();
    let open: OpenOrders = bank
        .call("enterprise.orders.open", json!({ "uscc": uscc }))
        .await
        .unwrap();
    let order = open.orders[0].clone();
    let part = Money::from_fen(100_000);
    let pay = |payment_id: &str, amount: Money| json!({ "uscc": uscc, "order_no": order.order_no, "amount": amount, "payment_id": payment_id });
    let first: OrderPayment = bank
        .call("enterprise.order.pay", pay("BANK-0001", part))
        .await
        .unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.order_no, order.order_no);
    assert_eq!(first.amount, part);
    assert_eq!(first.outstanding.fen(), order.amount.fen() - part.fen());
    assert!(first.receipt_no.starts_with("RC"));
    assert!(first.receipt_no[2..].bytes().all(|b| b.is_ascii_digit()));
    let again: OrderPayment = bank
        .call("enterprise.order.pay", pay("BANK-0001", part))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        again,
        OrderPayment {
            duplicate: true,
            ..first.clone()
        }
    );
    assert_eq!(bank.govsim.order_ledger().len(), 1);
    assert_eq!(bank.govsim.order_ledger().paid(uscc, &order.order_no), part);
    let listed: OpenOrders = bank
        .call("enterprise.orders.open", json!({ "uscc": uscc }))
        .await
        .unwrap();
    assert_eq!(listed.orders[0].outstanding, first.outstanding);

    // Refused: the same id for another payment, more than is outstanding, nothing, an
    // unknown order.
    let over = Money::from_fen(first.outstanding.fen() + 1);
    for body in [
        pay("BANK-0001", Money::from_fen(200_000)),
        pay("BANK-0002", over),
        pay("BANK-0003", Money::from_fen(0)),
        pay("BANK-0004", Money::from_fen(-100)),
    ] {
        let error = bank
            .call::<OrderPayment>("enterprise.order.pay", body.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(error, ExchangeError::Malformed(_)),
            "{body}: {error:?}"
        );
    }
    let error = bank
        .call::<OrderPayment>(
            "enterprise.order.pay",
            json!({ "uscc": uscc, "order_no": "PO2026112999999", "amount": "1.00", "payment_id": "BANK-0005" }),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ExchangeError::NotFound), "{error:?}");
    assert_eq!(
        bank.govsim.order_ledger().len(),
        1,
        "refusals record nothing"
    );

    // The rest pays the order off: it is no longer open.
    let rest: OrderPayment = bank
        .call("enterprise.order.pay", pay("BANK-0006", first.outstanding))
        .await
        .unwrap();
    assert_eq!(rest.outstanding, Money::from_fen(0));
    assert_ne!(rest.receipt_no, first.receipt_no);
    let listed: OpenOrders = bank
        .call("enterprise.orders.open", json!({ "uscc": uscc }))
        .await
        .unwrap();
    assert!(listed.orders.iter().all(|o| o.order_no != order.order_no));
    assert_eq!(listed.orders.len(), open.orders.len() - 1);
    let error = bank
        .call::<OrderPayment>(
            "enterprise.order.pay",
            pay("BANK-0007", Money::from_fen(100)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ExchangeError::Malformed(_)),
        "a paid order: {error:?}"
    );
}

#[test]
fn a_network_of_ten_thousand_generates() {
    let default = Population::new(SEED, 100_000);
    let big = Population::with_distributors(SEED, 100_000, 10_000);
    let distributors = big.group().distributors();
    assert_eq!(distributors.len(), 10_000);
    let mut codes = HashSet::new();
    let mut owners = HashSet::new();
    for distributor in distributors {
        assert!(codes.insert(distributor.uscc.as_str()), "codes are unique");
        owners.insert(distributor.owner);
        assert_eq!(
            big.group()
                .by_uscc(distributor.uscc.as_str())
                .map(|d| d.number),
            Some(distributor.number)
        );
        assert!(
            big.group()
                .owned_by(distributor.owner)
                .contains(&distributor.number)
        );
    }
    // One person in twenty owns distributors, so each holds two.
    assert_eq!(owners.len(), 5_000);
    let owner = big.person(distributors[9_999].owner);
    assert!((28..=60).contains(&owner.age));
    assert_eq!(big.distributors_of(owner.index).len(), 2);
    // The first 850 are the default network's.
    for (a, b) in default.group().distributors().iter().zip(distributors) {
        assert_eq!(
            (
                a.uscc.as_str(),
                &a.name,
                a.owner,
                a.trend,
                a.joined,
                a.credit_limit
            ),
            (
                b.uscc.as_str(),
                &b.name,
                b.owner,
                b.trend,
                b.joined,
                b.credit_limit
            )
        );
        assert_eq!(a.trade(), b.trade());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bank_pulls_ten_thousand_distributors_in_a_hundred_calls() {
    let clock: SharedClock = Arc::new(TestClock::at(reference_time()));
    let bank = start(config(10_000), clock).await;
    let mut usccs = Vec::with_capacity(10_000);
    for page in 1..=50 {
        let answer: Distributors = bank
            .call("enterprise.network", json!({ "page": page }))
            .await
            .unwrap();
        usccs.extend(answer.distributors.into_iter().map(|d| d.uscc));
    }
    assert_eq!(usccs.len(), 10_000);
    let mut months = 0;
    for batch in usccs.chunks(MAX_TRADE_BATCH) {
        let trade: EnterpriseTrade = bank
            .call("enterprise.trade", json!({ "usccs": batch }))
            .await
            .unwrap();
        assert!(trade.not_found.is_empty());
        assert_eq!(trade.distributors.len(), batch.len());
        months += trade
            .distributors
            .iter()
            .map(|d| d.months.len())
            .sum::<usize>();
    }
    assert!(months > 200_000, "{months}");
}
