//! What each agency answers: the population's records, as the protocol's service handler.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, FixedOffset, NaiveDate, SubsecRound};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use bianmin_core::clock::CHINA_STANDARD_TIME;
use bianmin_core::{Money, ResidentId, SharedClock};
use bianmin_exchange::{AcceptedRequest, ServiceFailure, ServiceHandler, async_trait};

use super::faults::Fault;
use crate::calendar::YearMonth;
use crate::enterprise::{books_date, closed_month};
use crate::population::social_insurance::CardStatus;
use crate::population::{Population, SyntheticPerson};
use crate::records::DateRange;
use crate::records::as_of;
use crate::records::court::CourtCases;
use crate::records::credit::CreditReportRecord;
use crate::records::enterprise::{
    DistributorRequest, Distributors, DistributorsRequest, EnterpriseOrders, EnterprisePayments,
    EnterpriseTrade, OpenOrders, OrderPayment, OrderPaymentRequest, TradeRequest,
};
use crate::records::housing_fund::{HpfAccount, HpfDeposits, MonthRangeRequest};
use crate::records::identity::{IdentityVerification, IdentityVerifyRequest};
use crate::records::social_insurance::{
    ActivationOutcome, CARD_NOT_ACTIVE, EmployerStaffRequest, MAX_STAFF_PAGE, SiCard,
    SiCardActivation, SiContributions, SiEmployerStaff, SiStatus,
};
use crate::records::tax::{TaxIncome, TaxIncomeRequest};
use crate::records::traffic::{
    FineNotification, FineNotifyRequest, NotifyOutcome, TrafficLicence, TrafficVehicles,
    TrafficViolations,
};

tokio::task_local! {
    /// The fault drawn for the request being served, set by the agency's front door.
    pub(crate) static FAULT: Fault;
}

/// Fines paid through `traffic.fine.notify`, shared by every request to the traffic police.
///
/// Kept per person: a named resident has their template's violations, numbers included, and
/// paying one's fine must not pay the other's.
#[derive(Debug, Default)]
pub struct FineLedger {
    inner: Mutex<FineLedgerInner>,
}

#[derive(Debug, Default)]
struct FineLedgerInner {
    /// Payment id → who paid and what was recorded.
    by_payment: HashMap<String, (ResidentId, FineNotification)>,
    /// (subject, violation id) → date paid.
    paid_on: HashMap<(ResidentId, String), NaiveDate>,
}

impl FineLedger {
    fn lock(&self) -> std::sync::MutexGuard<'_, FineLedgerInner> {
        // Every update below inserts into both maps under one lock; a panic between the two
        // cannot happen (no fallible code there), so a poisoned ledger is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When violation `id` was paid through a notification, by anyone, if it was.
    pub fn paid_on(&self, violation_id: &str) -> Option<NaiveDate> {
        self.lock()
            .paid_on
            .iter()
            .find(|((_, id), _)| id == violation_id)
            .map(|(_, date)| *date)
    }

    /// When `subject`'s violation `id` was paid through a notification, if it was.
    pub fn paid_on_by(&self, subject: &ResidentId, violation_id: &str) -> Option<NaiveDate> {
        self.lock()
            .paid_on
            .get(&(subject.clone(), violation_id.to_owned()))
            .copied()
    }

    /// Number of payments recorded.
    pub fn len(&self) -> usize {
        self.lock().by_payment.len()
    }

    /// Whether no payment was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Payments on A集团's purchase orders notified through `enterprise.order.pay`, shared by every
/// request to A集团 for the simulator's life.
#[derive(Debug, Default)]
pub struct OrderLedger {
    inner: Mutex<OrderLedgerInner>,
}

#[derive(Debug, Default)]
struct OrderLedgerInner {
    /// Payment id → the distributor's code and the first answer.
    by_payment: HashMap<String, (String, OrderPayment)>,
    /// (distributor's code, order number) → amount paid.
    paid: HashMap<(String, String), Money>,
}

impl OrderLedger {
    fn lock(&self) -> std::sync::MutexGuard<'_, OrderLedgerInner> {
        // Both maps are updated under one lock with no fallible code in between: a poisoned
        // ledger is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How much was paid through `enterprise.order.pay` on order `order_no` of the
    /// distributor with code `uscc` (zero if nothing).
    pub fn paid(&self, uscc: &str, order_no: &str) -> Money {
        self.lock()
            .paid
            .get(&(uscc.to_owned(), order_no.to_owned()))
            .copied()
            .unwrap_or(Money::from_fen(0))
    }

    /// Number of payments recorded.
    pub fn len(&self) -> usize {
        self.lock().by_payment.len()
    }

    /// Whether no payment was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Electronic social-security cards activated through `si.card.activate`, kept in memory
/// by the social-insurance agency for the simulator's life.
#[derive(Debug, Default)]
pub struct CardActivations {
    by_person: Mutex<HashMap<ResidentId, DateTime<FixedOffset>>>,
}

impl CardActivations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ResidentId, DateTime<FixedOffset>>> {
        // One insertion per update: a poisoned map is still consistent.
        self.by_person
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// When `resident_id`'s electronic card was activated through `si.card.activate`, if it
    /// was (not counting cards the population generated as already activated).
    pub fn activated_at(&self, resident_id: &ResidentId) -> Option<DateTime<FixedOffset>> {
        self.lock().get(resident_id).copied()
    }

    /// The activation of `resident_id`'s electronic card: the recorded one, or `now`,
    /// recorded; and whether it is new.
    fn activate(
        &self,
        resident_id: &ResidentId,
        now: DateTime<FixedOffset>,
    ) -> (DateTime<FixedOffset>, bool) {
        let mut map = self.lock();
        match map.get(resident_id) {
            Some(earlier) => (*earlier, false),
            None => {
                map.insert(resident_id.clone(), now);
                (now, true)
            }
        }
    }

    /// Number of activations recorded.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Serves every service of one agency from the population.
pub(crate) struct AgencyHandler {
    pub(crate) population: Arc<Population>,
    pub(crate) fines: Arc<FineLedger>,
    pub(crate) cards: Arc<CardActivations>,
    pub(crate) orders: Arc<OrderLedger>,
    /// Months A集团's books are moved ahead of the clock.
    pub(crate) books_ahead: Arc<AtomicU32>,
    pub(crate) clock: SharedClock,
}

fn parse<T: DeserializeOwned>(request: &AcceptedRequest) -> Result<T, ServiceFailure> {
    // The serde message may quote the offending value; the client gets the service name only.
    serde_json::from_value(request.body.clone()).map_err(|_| {
        ServiceFailure::Invalid(format!(
            "请求体不符合 {} 的请求格式（见 docs/schemas/{}.request.json）",
            request.service.id.code, request.service.id.code
        ))
    })
}

fn answer(value: &impl Serialize) -> Result<Value, ServiceFailure> {
    serde_json::to_value(value).map_err(|_| ServiceFailure::Unavailable)
}

/// A request body with no field besides `subject`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParameters {}

impl AgencyHandler {
    fn subject(&self, request: &AcceptedRequest) -> Result<SyntheticPerson, ServiceFailure> {
        let subject = request
            .subject
            .as_ref()
            .ok_or_else(|| ServiceFailure::Invalid("缺少 subject".into()))?;
        self.population
            .find(subject)
            .ok_or(ServiceFailure::NotFound)
    }

    /// A集团's last closed month now.
    fn closed_month(&self) -> YearMonth {
        closed_month(self.clock.now(), self.books_ahead.load(Ordering::Relaxed))
    }

    fn answer_for(&self, request: &AcceptedRequest) -> Result<Value, ServiceFailure> {
        let population = &*self.population;
        let range = request
            .consent
            .as_ref()
            .map_or(DateRange::ALL, |consent| DateRange {
                from: consent.data_from,
                to: consent.data_to,
            });
        match request.service.id.code.as_str() {
            "identity.verify" => {
                let body: IdentityVerifyRequest = parse(request)?;
                let person = request.subject.as_ref().and_then(|id| population.find(id));
                answer(&IdentityVerification::check(person.as_ref(), &body))
            }
            "hpf.account" => {
                parse::<NoParameters>(request)?;
                let person = self.subject(request)?;
                answer(&HpfAccount::of(population, &person).ok_or(ServiceFailure::NotFound)?)
            }
            "hpf.deposits" => {
                let body: MonthRangeRequest = parse(request)?;
                let person = self.subject(request)?;
                answer(
                    &HpfDeposits::of(population, &person, &body, range)
                        .ok_or(ServiceFailure::NotFound)?,
                )
            }
            "si.status" => {
                parse::<NoParameters>(request)?;
                answer(&SiStatus::of(population, &self.subject(request)?))
            }
            "si.card" => {
                parse::<NoParameters>(request)?;
                let person = self.subject(request)?;
                let activated = self.cards.activated_at(&person.resident_id);
                answer(&SiCard::of(population, &person, activated))
            }
            "si.card.activate" => {
                parse::<NoParameters>(request)?;
                answer(&self.activate(&self.subject(request)?)?)
            }
            "si.contributions" => {
                let body: MonthRangeRequest = parse(request)?;
                let person = self.subject(request)?;
                answer(
                    &SiContributions::of(population, &person, &body, range)
                        .ok_or(ServiceFailure::NotFound)?,
                )
            }
            "si.employer.staff" => {
                let body: EmployerStaffRequest = parse(request)?;
                let (page, per_page) = body.paging().ok_or_else(|| {
                    ServiceFailure::Invalid(format!(
                        "page 应不小于 1，per_page 应为 1 至 {MAX_STAFF_PAGE}（见 docs/schemas/si.employer.staff.request.json）"
                    ))
                })?;
                let employer = population
                    .employer_by_uscc(&body.uscc)
                    .ok_or(ServiceFailure::NotFound)?;
                answer(&SiEmployerStaff::of(population, employer, page, per_page))
            }
            "tax.income" => {
                let body: TaxIncomeRequest = parse(request)?;
                answer(&TaxIncome::of(
                    population,
                    &self.subject(request)?,
                    &body,
                    range,
                ))
            }
            "traffic.vehicles" => {
                parse::<NoParameters>(request)?;
                answer(&TrafficVehicles::of(&self.subject(request)?))
            }
            "traffic.violations" => {
                parse::<NoParameters>(request)?;
                let person = self.subject(request)?;
                answer(&TrafficViolations::of(&person, range, |id| {
                    self.fines.paid_on_by(&person.resident_id, id)
                }))
            }
            "traffic.licence" => {
                parse::<NoParameters>(request)?;
                answer(
                    &TrafficLicence::of(&self.subject(request)?).ok_or(ServiceFailure::NotFound)?,
                )
            }
            "traffic.fine.notify" => {
                let body: FineNotifyRequest = parse(request)?;
                let person = self.subject(request)?;
                answer(&self.notify(&person, body)?)
            }
            "credit.report" => {
                parse::<NoParameters>(request)?;
                answer(&CreditReportRecord::of(&self.subject(request)?))
            }
            "court.cases" => {
                parse::<NoParameters>(request)?;
                answer(&CourtCases::of(&self.subject(request)?, range))
            }
            "enterprise.distributors" => {
                let body: DistributorsRequest = parse(request)?;
                let owner = self.subject(request)?;
                let owned = population.group().owned_by(owner.index);
                if owned.is_empty() {
                    return Err(ServiceFailure::NotFound);
                }
                answer(&Distributors::at(
                    population.group(),
                    Some(owned),
                    &body,
                    self.closed_month(),
                ))
            }
            "enterprise.network" => {
                let body: DistributorsRequest = parse(request)?;
                answer(
                    &Distributors::network(population.group(), &body, self.closed_month())
                        .map_err(ServiceFailure::Invalid)?,
                )
            }
            "enterprise.orders" | "enterprise.payments" => {
                let body: DistributorRequest = parse(request)?;
                let distributor = population
                    .group()
                    .by_uscc(body.uscc.trim())
                    .ok_or(ServiceFailure::NotFound)?;
                let closed = self.closed_month();
                if request.service.id.code == "enterprise.orders" {
                    answer(&EnterpriseOrders::at(distributor, range, closed))
                } else {
                    answer(&EnterprisePayments::at(distributor, range, closed))
                }
            }
            "enterprise.trade" => {
                let body: TradeRequest = parse(request)?;
                body.check().map_err(ServiceFailure::Invalid)?;
                answer(&EnterpriseTrade::at(
                    population.group(),
                    &body,
                    self.closed_month(),
                ))
            }
            "enterprise.orders.open" => {
                let body: DistributorRequest = parse(request)?;
                let uscc = body.uscc.trim();
                let distributor = population
                    .group()
                    .by_uscc(uscc)
                    .ok_or(ServiceFailure::NotFound)?;
                answer(&OpenOrders::at(distributor, self.closed_month(), |order| {
                    self.orders.paid(uscc, order)
                }))
            }
            "enterprise.order.pay" => {
                let body: OrderPaymentRequest = parse(request)?;
                answer(&self.pay_order(body)?)
            }
            _ => Err(ServiceFailure::Invalid("本机构不提供该服务".into())),
        }
    }

    /// Activates `person`'s electronic social-security card, once: a card activated before
    /// (generated so, or by an earlier request) answers with that activation.
    fn activate(&self, person: &SyntheticPerson) -> Result<SiCardActivation, ServiceFailure> {
        let card = self.population.si_card(person);
        let number = card
            .number
            .filter(|_| card.status == CardStatus::Active)
            .ok_or_else(|| {
                // The detail names no status: which one it is, is the person's data.
                ServiceFailure::Invalid(format!(
                    "{CARD_NOT_ACTIVE}：社会保障卡未处于正常使用状态（未制卡、暂停使用或已挂失），不能激活电子社保卡"
                ))
            })?;
        let (at, new) = match card.electronic_activated_at {
            Some(generated) => (crate::records::beijing(generated), false),
            None => {
                let now = self
                    .clock
                    .now()
                    .with_timezone(&CHINA_STANDARD_TIME)
                    .trunc_subsecs(0);
                self.cards.activate(&person.resident_id, now)
            }
        };
        Ok(SiCardActivation {
            outcome: if new {
                ActivationOutcome::Activated
            } else {
                ActivationOutcome::AlreadyActivated
            },
            card_number: number,
            electronic_activated_at: at,
            as_of: as_of(),
        })
    }

    /// Records a payment on a distributor's open order, once per payment id.
    fn pay_order(&self, body: OrderPaymentRequest) -> Result<OrderPayment, ServiceFailure> {
        let uscc = body.uscc.trim();
        if body.payment_id.trim().is_empty() {
            return Err(ServiceFailure::Invalid("payment_id 不能为空".into()));
        }
        let mut ledger = self.orders.lock();
        if let Some((payer, recorded)) = ledger.by_payment.get(&body.payment_id) {
            if payer != uscc || recorded.order_no != body.order_no || recorded.amount != body.amount
            {
                return Err(ServiceFailure::Invalid(
                    "payment_id 已用于另一笔付款".into(),
                ));
            }
            return Ok(OrderPayment {
                duplicate: true,
                ..recorded.clone()
            });
        }
        if !body.amount.is_positive() {
            return Err(ServiceFailure::Invalid("支付金额应大于零".into()));
        }
        let closed = self.closed_month();
        let order = self
            .population
            .group()
            .by_uscc(uscc)
            .ok_or(ServiceFailure::NotFound)?
            .recent_orders(closed)
            .into_iter()
            .find(|order| order.order_no == body.order_no)
            .ok_or(ServiceFailure::NotFound)?;
        let key = (uscc.to_owned(), order.order_no);
        let paid = ledger
            .paid
            .get(&key)
            .map_or(0, |paid| paid.fen())
            .saturating_add(body.amount.fen());
        if paid > order.amount.fen() {
            return Err(ServiceFailure::Invalid("支付金额超过订单未付金额".into()));
        }
        let receipt_no = format!(
            "RC{}{:08}",
            books_date(closed).format("%Y%m%d"),
            ledger.by_payment.len() + 1
        );
        let payment = OrderPayment {
            order_no: key.1.clone(),
            amount: body.amount,
            outstanding: Money::from_fen(order.amount.fen() - paid),
            receipt_no,
            duplicate: false,
        };
        ledger.paid.insert(key, Money::from_fen(paid));
        ledger
            .by_payment
            .insert(body.payment_id, (uscc.to_owned(), payment.clone()));
        Ok(payment)
    }

    /// Records a fine paid through the bank, once per payment id.
    fn notify(
        &self,
        person: &SyntheticPerson,
        body: FineNotifyRequest,
    ) -> Result<FineNotification, ServiceFailure> {
        let violation = person
            .traffic
            .violations
            .iter()
            .find(|violation| violation.id == body.violation_id)
            .ok_or(ServiceFailure::NotFound)?;
        let mut ledger = self.fines.lock();
        if let Some((payer, recorded)) = ledger.by_payment.get(&body.payment_id) {
            if *payer != person.resident_id
                || recorded.violation_id != body.violation_id
                || recorded.amount != body.amount
            {
                return Err(ServiceFailure::Invalid(
                    "payment_id 已用于另一笔缴款".into(),
                ));
            }
            return Ok(FineNotification {
                outcome: NotifyOutcome::Duplicate,
                ..recorded.clone()
            });
        }
        let key = (person.resident_id.clone(), violation.id.clone());
        if violation.paid_on.is_some() || ledger.paid_on.contains_key(&key) {
            return Err(ServiceFailure::Invalid("violation_id 已缴款".into()));
        }
        let paid_on = body
            .paid_at
            .with_timezone(&CHINA_STANDARD_TIME)
            .date_naive();
        let expected = violation.fine.fen() + violation.late_fee_on(paid_on).fen();
        if body.amount.fen() != expected || paid_on < violation.occurred_at.date() {
            return Err(ServiceFailure::Invalid(
                "amount 应为罚款加缴款日的滞纳金".into(),
            ));
        }
        let notification = FineNotification {
            payment_id: body.payment_id.clone(),
            violation_id: body.violation_id,
            amount: body.amount,
            outcome: NotifyOutcome::Recorded,
            paid_on,
        };
        ledger.paid_on.insert(key, paid_on);
        ledger.by_payment.insert(
            body.payment_id,
            (person.resident_id.clone(), notification.clone()),
        );
        Ok(notification)
    }
}

#[async_trait]
impl ServiceHandler for AgencyHandler {
    async fn handle(&self, request: &AcceptedRequest) -> Result<Value, ServiceFailure> {
        match FAULT.try_with(|fault| *fault).unwrap_or(Fault::None) {
            Fault::Unavailable => return Err(ServiceFailure::Unavailable),
            // Signed and well-formed JSON, but not what the schema promises: money as a
            // float, a field nobody asked for.
            Fault::Malformed => {
                return Ok(json!({"balance": 1234.5, "unexpected": [1, 2, 3], "as_of": 20261129}));
            }
            _ => {}
        }
        if request.service.id.code == "si.employer.staff" && !self.population.has_staff_index() {
            // The first staff request builds the index: one pass over the population (≈ 0.65 s
            // per million people in a release build), off the async workers.
            let population = Arc::clone(&self.population);
            tokio::task::spawn_blocking(move || population.build_staff_index())
                .await
                .map_err(|_| ServiceFailure::Unavailable)?;
        }
        self.answer_for(request)
    }
}
