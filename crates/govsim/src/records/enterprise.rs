//! A集团 `enterprise.distributors`, `enterprise.orders` and `enterprise.payments`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::{DateRange, as_of};
use crate::calendar::YearMonth;
use crate::enterprise::{AGroup, Distributor, DistributorStatus, DistributorTier};

/// Largest page of `enterprise.distributors`.
pub const MAX_PAGE_SIZE: u32 = 200;

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
    fn of(distributor: &Distributor) -> Self {
        Self {
            uscc: distributor.uscc.as_str().to_owned(),
            name: distributor.name.clone(),
            province: distributor.province.to_owned(),
            city: distributor.city.to_owned(),
            tier: distributor.tier,
            joined: distributor.joined,
            tenure_months: distributor.tenure_months(),
            credit_limit: distributor.credit_limit,
            status: distributor.status(),
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
    /// requested code.
    pub fn of(group: &AGroup, owned: Option<&[u16]>, request: &DistributorsRequest) -> Self {
        let page = request.page.unwrap_or(1).max(1);
        let page_size = request.page_size.unwrap_or(50).clamp(1, MAX_PAGE_SIZE);
        let matching: Vec<&Distributor> = match (&request.uscc, owned) {
            (Some(uscc), _) => group
                .by_uscc(uscc)
                .filter(|d| owned.is_none_or(|owned| owned.contains(&d.number)))
                .into_iter()
                .collect(),
            (None, Some(owned)) => owned.iter().filter_map(|&n| group.distributor(n)).collect(),
            (None, None) => group.distributors().iter().collect(),
        };
        let skip = (page as usize - 1).saturating_mul(page_size as usize);
        Self {
            distributors: matching
                .iter()
                .skip(skip)
                .take(page_size as usize)
                .map(|d| DistributorRecord::of(d))
                .collect(),
            total: u32::try_from(matching.len()).unwrap_or(u32::MAX),
            page,
            page_size,
            as_of: as_of(),
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

impl EnterpriseOrders {
    /// The orders of `distributor` within `range`.
    pub fn of(distributor: &Distributor, range: DateRange) -> Self {
        Self {
            uscc: distributor.uscc.as_str().to_owned(),
            months: distributor
                .trade()
                .iter()
                .filter(|month| range.overlaps_month(month.month))
                .map(|month| OrderMonth {
                    month: month.month,
                    order_count: month.order_count,
                    order_amount: month.orders,
                    return_amount: month.returns,
                    net_amount: Money::from_fen(month.orders.fen() - month.returns.fen()),
                })
                .collect(),
            as_of: as_of(),
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

impl EnterprisePayments {
    /// The payments of `distributor` within `range`.
    pub fn of(distributor: &Distributor, range: DateRange) -> Self {
        Self {
            uscc: distributor.uscc.as_str().to_owned(),
            months: distributor
                .trade()
                .iter()
                .filter(|month| range.overlaps_month(month.month))
                .map(|month| PaymentMonth {
                    month: month.month,
                    amount_due: month.due,
                    amount_paid: month.paid,
                    days_late: month.days_late,
                    receivable: month.receivable,
                })
                .collect(),
            as_of: as_of(),
        }
    }
}
