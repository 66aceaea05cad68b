//! A集团's answers: `enterprise.distributors`, `enterprise.network`, `enterprise.orders`,
//! `enterprise.payments`, `enterprise.trade`, `enterprise.orders.open` and
//! `enterprise.order.pay`.
//!
//! A集团's books close with the clock: each answer is as of a closed month (see
//! [`closed_month`](crate::enterprise::closed_month)) and carries `as_of` =
//! [`books_date`]`(closed)`. The `of` constructors answer as of [`LAST_CLOSED_MONTH`] (the
//! reference date), the `at` ones as of any closed month.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::DateRange;
use crate::calendar::{LAST_CLOSED_MONTH, YearMonth};
use crate::enterprise::{
    AGroup, Distributor, DistributorStatus, DistributorTier, TradeMonth, books_date,
};

/// Largest page of `enterprise.distributors` and `enterprise.network`.
pub const MAX_PAGE_SIZE: u32 = 200;

/// Default page size of `enterprise.network` (of `enterprise.distributors`: 50).
pub const NETWORK_PAGE_SIZE: u32 = MAX_PAGE_SIZE;

/// Request body of `enterprise.distributors` (besides an optional `subject`, the owner).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributorsRequest {
    /// One distributor by 统一社会信用代码.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uscc: Option<String>,
    /// Page number, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size, 1–200 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
}

/// One distributor in `enterprise.distributors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributorRecord {
    /// 统一社会信用代码.
    pub uscc: String,
    /// Name.
    pub name: String,
    /// Province.
    pub province: String,
    /// City.
    pub city: String,
    /// `first` (一级) or `second` (二级).
    pub tier: DistributorTier,
    /// Month the agreement was signed.
    pub joined: YearMonth,
    /// Months with A集团.
    pub tenure_months: u32,
    /// Credit limit granted by A集团.
    pub credit_limit: Money,
    /// `active`, `watch` or `suspended`.
    pub status: DistributorStatus,
}

impl DistributorRecord {
    fn at(distributor: &Distributor, closed: YearMonth) -> Self {
        Self {
            uscc: distributor.uscc.as_str().to_owned(),
            name: distributor.name.clone(),
            province: distributor.province.to_owned(),
            city: distributor.city.to_owned(),
            tier: distributor.tier,
            joined: distributor.joined,
            tenure_months: distributor.tenure_months_at(closed),
            credit_limit: distributor.credit_limit,
            status: distributor.status_at(closed),
        }
    }
}

/// Response of `enterprise.distributors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distributors {
    /// This page.
    pub distributors: Vec<DistributorRecord>,
    /// Matching distributors in all pages.
    pub total: u32,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl Distributors {
    /// The page asked for, of the distributors `owned` (all when `None`), or the one with the
    /// requested code, on the reference date (page size 50 by default, clamped to 1–200).
    pub fn of(group: &AGroup, owned: Option<&[u16]>, request: &DistributorsRequest) -> Self {
        Self::at(group, owned, request, LAST_CLOSED_MONTH)
    }

    /// [`Distributors::of`] with the books closed at `closed`.
    pub fn at(
        group: &AGroup,
        owned: Option<&[u16]>,
        request: &DistributorsRequest,
        closed: YearMonth,
    ) -> Self {
        let page = request.page.unwrap_or(1).max(1);
        let page_size = request.page_size.unwrap_or(50).clamp(1, MAX_PAGE_SIZE);
        match (&request.uscc, owned) {
            (Some(uscc), _) => {
                let found = group
                    .by_uscc(uscc.trim())
                    .filter(|d| owned.is_none_or(|owned| owned.contains(&d.number)));
                Self::page(found.into_iter(), page, page_size, closed)
            }
            (None, Some(owned)) => {
                let owned: Vec<&Distributor> =
                    owned.iter().filter_map(|&n| group.distributor(n)).collect();
                Self::page(owned.into_iter(), page, page_size, closed)
            }
            (None, None) => Self::page(group.distributors().iter(), page, page_size, closed),
        }
    }

    /// A page of A集团's whole network (`enterprise.network`), every status included, with
    /// the books closed at `closed`: page size [`NETWORK_PAGE_SIZE`] by default; `uscc`, if
    /// given, picks that one distributor.
    ///
    /// # Errors
    ///
    /// A page of 0 or a page size outside 1–[`MAX_PAGE_SIZE`]: a message for the client.
    pub fn network(
        group: &AGroup,
        request: &DistributorsRequest,
        closed: YearMonth,
    ) -> Result<Self, String> {
        let page = request.page.unwrap_or(1);
        let page_size = request.page_size.unwrap_or(NETWORK_PAGE_SIZE);
        if page == 0 || !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(format!(
                "page 应不小于 1，page_size 应为 1 至 {MAX_PAGE_SIZE}（见 docs/schemas/enterprise.network.request.json）"
            ));
        }
        let request = DistributorsRequest {
            uscc: request.uscc.clone(),
            page: Some(page),
            page_size: Some(page_size),
        };
        Ok(Self::at(group, None, &request, closed))
    }

    fn page<'a>(
        matching: impl ExactSizeIterator<Item = &'a Distributor>,
        page: u32,
        page_size: u32,
        closed: YearMonth,
    ) -> Self {
        let total = u32::try_from(matching.len()).unwrap_or(u32::MAX);
        let skip = (page as usize - 1).saturating_mul(page_size as usize);
        Self {
            distributors: matching
                .skip(skip)
                .take(page_size as usize)
                .map(|d| DistributorRecord::at(d, closed))
                .collect(),
            total,
            page,
            page_size,
            as_of: books_date(closed),
        }
    }
}

/// Request body of `enterprise.orders` and `enterprise.payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributorRequest {
    /// The distributor's 统一社会信用代码.
    pub uscc: String,
}

/// One month of `enterprise.orders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderMonth {
    /// Month.
    pub month: YearMonth,
    /// Orders placed.
    pub order_count: u32,
    /// Value ordered.
    pub order_amount: Money,
    /// Value returned.
    pub return_amount: Money,
    /// Ordered less returned.
    pub net_amount: Money,
}

/// Response of `enterprise.orders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseOrders {
    /// The distributor.
    pub uscc: String,
    /// Months, oldest first.
    pub months: Vec<OrderMonth>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl OrderMonth {
    fn of(month: &TradeMonth) -> Self {
        Self {
            month: month.month,
            order_count: month.order_count,
            order_amount: month.orders,
            return_amount: month.returns,
            net_amount: Money::from_fen(month.orders.fen() - month.returns.fen()),
        }
    }
}

impl EnterpriseOrders {
    /// The orders of `distributor` within `range`, on the reference date.
    pub fn of(distributor: &Distributor, range: DateRange) -> Self {
        Self::at(distributor, range, LAST_CLOSED_MONTH)
    }

    /// The orders of `distributor` within `range` in the 24 months ending `closed`.
    pub fn at(distributor: &Distributor, range: DateRange, closed: YearMonth) -> Self {
        Self {
            uscc: distributor.uscc.as_str().to_owned(),
            months: distributor
                .trade_through(closed)
                .iter()
                .filter(|month| range.overlaps_month(month.month))
                .map(OrderMonth::of)
                .collect(),
            as_of: books_date(closed),
        }
    }
}

/// One month of `enterprise.payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentMonth {
    /// Month.
    pub month: YearMonth,
    /// Amount falling due.
    pub amount_due: Money,
    /// Amount paid.
    pub amount_paid: Money,
    /// Average days late.
    pub days_late: u32,
    /// Owed to A集团 at month end.
    pub receivable: Money,
}

/// Response of `enterprise.payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterprisePayments {
    /// The distributor.
    pub uscc: String,
    /// Months, oldest first.
    pub months: Vec<PaymentMonth>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl PaymentMonth {
    fn of(month: &TradeMonth) -> Self {
        Self {
            month: month.month,
            amount_due: month.due,
            amount_paid: month.paid,
            days_late: month.days_late,
            receivable: month.receivable,
        }
    }
}

impl EnterprisePayments {
    /// The payments of `distributor` within `range`, on the reference date.
    pub fn of(distributor: &Distributor, range: DateRange) -> Self {
        Self::at(distributor, range, LAST_CLOSED_MONTH)
    }

    /// The payments of `distributor` within `range` in the 24 months ending `closed`.
    pub fn at(distributor: &Distributor, range: DateRange, closed: YearMonth) -> Self {
        Self {
            uscc: distributor.uscc.as_str().to_owned(),
            months: distributor
                .trade_through(closed)
                .iter()
                .filter(|month| range.overlaps_month(month.month))
                .map(PaymentMonth::of)
                .collect(),
            as_of: books_date(closed),
        }
    }
}

/// Largest number of distributors one `enterprise.trade` request may name.
pub const MAX_TRADE_BATCH: usize = 100;

/// Request body of `enterprise.trade`: A集团's monthly trade with several distributors at once
/// (the bank's batch pre-approval and monitoring), shared under A集团's data-sharing
/// agreement with the bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradeRequest {
    /// The distributors' 统一社会信用代码, 1 to [`MAX_TRADE_BATCH`].
    pub usccs: Vec<String>,
}

impl TradeRequest {
    /// Checks the batch size.
    ///
    /// # Errors
    ///
    /// No code, or more than [`MAX_TRADE_BATCH`]: a message for the client.
    pub fn check(&self) -> Result<(), String> {
        if (1..=MAX_TRADE_BATCH).contains(&self.usccs.len()) {
            Ok(())
        } else {
            Err(format!(
                "usccs 应包含 1 至 {MAX_TRADE_BATCH} 个统一社会信用代码（见 docs/schemas/enterprise.trade.request.json）"
            ))
        }
    }
}

/// One month of trade in `enterprise.trade`: orders, returns and payments together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradeMonthRecord {
    /// Month.
    pub month: YearMonth,
    /// Orders placed.
    pub order_count: u32,
    /// Value ordered.
    pub order_amount: Money,
    /// Value returned.
    pub return_amount: Money,
    /// Ordered less returned.
    pub net_amount: Money,
    /// Amount falling due (last month's net orders, on 30-day terms).
    pub amount_due: Money,
    /// Amount paid.
    pub amount_paid: Money,
    /// Average days late of this month's payments.
    pub days_late: u32,
    /// Owed to A集团 at month end.
    pub receivable: Money,
}

impl TradeMonthRecord {
    /// The record of one month of trade.
    pub fn of(month: &TradeMonth) -> Self {
        Self {
            month: month.month,
            order_count: month.order_count,
            order_amount: month.orders,
            return_amount: month.returns,
            net_amount: Money::from_fen(month.orders.fen() - month.returns.fen()),
            amount_due: month.due,
            amount_paid: month.paid,
            days_late: month.days_late,
            receivable: month.receivable,
        }
    }
}

/// One distributor's trade in `enterprise.trade`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributorTrade {
    /// The distributor.
    pub uscc: String,
    /// A集团's view of its standing at the end of the last closed month.
    pub status: DistributorStatus,
    /// Months, oldest first (the last 24 closed months, or since joining).
    pub months: Vec<TradeMonthRecord>,
}

impl DistributorTrade {
    /// The trade of `distributor` in the 24 months ending `closed`, and its status then.
    pub fn at(distributor: &Distributor, closed: YearMonth) -> Self {
        Self {
            uscc: distributor.uscc.as_str().to_owned(),
            status: distributor.status_at(closed),
            months: distributor
                .trade_through(closed)
                .iter()
                .map(TradeMonthRecord::of)
                .collect(),
        }
    }
}

/// Response of `enterprise.trade`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseTrade {
    /// The distributors found, in the order asked.
    pub distributors: Vec<DistributorTrade>,
    /// Codes asked for that are not A集团's distributors.
    pub not_found: Vec<String>,
    /// The last closed month of A集团's books.
    pub closed_month: YearMonth,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl EnterpriseTrade {
    /// The trade of the distributors `request` names (codes trimmed), in the order asked,
    /// with the books closed at `closed`; the batch size is the caller's to check
    /// ([`TradeRequest::check`]).
    pub fn at(group: &AGroup, request: &TradeRequest, closed: YearMonth) -> Self {
        let mut distributors = Vec::with_capacity(request.usccs.len());
        let mut not_found = Vec::new();
        for uscc in &request.usccs {
            match group.by_uscc(uscc.trim()) {
                Some(distributor) => distributors.push(DistributorTrade::at(distributor, closed)),
                None => not_found.push(uscc.clone()),
            }
        }
        Self {
            distributors,
            not_found,
            closed_month: closed,
            as_of: books_date(closed),
        }
    }
}

/// One unpaid purchase order of a distributor in `enterprise.orders.open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenOrder {
    /// A集团's order number, e.g. `PO2026110001234`.
    pub order_no: String,
    /// Day the order was placed.
    pub placed_on: NaiveDate,
    /// Invoice value.
    pub amount: Money,
    /// Still to pay (the amount less payments notified through `enterprise.order.pay`).
    pub outstanding: Money,
    /// Day payment falls due (30-day terms).
    pub due_on: NaiveDate,
    /// What was ordered, e.g. `饮料类 120 箱`.
    pub goods: String,
}

/// Response of `enterprise.orders.open` (request: [`DistributorRequest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenOrders {
    /// The distributor.
    pub uscc: String,
    /// Unpaid orders, oldest first (fully paid ones are left out).
    pub orders: Vec<OpenOrder>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl OpenOrders {
    /// The orders of `distributor` placed in the 30 days before the books' date with the
    /// books closed at `closed` (see [`Distributor::recent_orders`]), less what `paid(order
    /// number)` says was paid on each; fully paid orders are left out.
    pub fn at(distributor: &Distributor, closed: YearMonth, paid: impl Fn(&str) -> Money) -> Self {
        Self {
            uscc: distributor.uscc.as_str().to_owned(),
            orders: distributor
                .recent_orders(closed)
                .into_iter()
                .filter_map(|order| {
                    let outstanding = order.amount.fen() - paid(&order.order_no).fen();
                    (outstanding > 0).then(|| OpenOrder {
                        order_no: order.order_no,
                        placed_on: order.placed_on,
                        amount: order.amount,
                        outstanding: Money::from_fen(outstanding),
                        due_on: order.due_on,
                        goods: order.goods,
                    })
                })
                .collect(),
            as_of: books_date(closed),
        }
    }
}

/// Request body of `enterprise.order.pay`: a bank tells A集团 it paid (part of) an order on a
/// distributor's behalf (受托支付). Idempotent by `payment_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPaymentRequest {
    /// The distributor.
    pub uscc: String,
    /// The order paid.
    pub order_no: String,
    /// Amount paid, at most what is outstanding.
    pub amount: Money,
    /// The bank's payment reference: the same reference again answers the first payment.
    pub payment_id: String,
}

/// Response of `enterprise.order.pay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPayment {
    /// The order.
    pub order_no: String,
    /// Amount of this payment.
    pub amount: Money,
    /// Still to pay after it.
    pub outstanding: Money,
    /// A集团's receipt number.
    pub receipt_no: String,
    /// Whether this `payment_id` had already been recorded (the first answer is repeated).
    pub duplicate: bool,
}
