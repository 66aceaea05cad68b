//! 社保局 `si.status`, `si.contributions`, `si.card`, `si.card.activate` and
//! `si.employer.staff`.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use bianmin_core::Money;
use bianmin_core::mask::{mask_name, mask_resident_id};

use super::housing_fund::MonthRangeRequest;
use super::{DateRange, as_of, beijing};
use crate::calendar::{LAST_CLOSED_MONTH, YearMonth};
use crate::population::social_insurance::{CardStatus, ContributionMonths, InsuredStatus, Scheme};
use crate::population::{Employer, Population, SyntheticPerson};

/// Response of `si.status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiStatus {
    /// `contributing`, `suspended`, `retired` or `not_insured`.
    pub status: InsuredStatus,
    /// `employee` (职工) or `flexible` (灵活就业).
    pub scheme: Scheme,
    /// First month insured.
    pub insured_since: Option<YearMonth>,
    /// Last month contributed.
    pub last_paid: Option<YearMonth>,
    /// Current (or last) contribution base.
    pub base: Money,
    /// Employer paying (employees' scheme, while contributing).
    pub employer_name: Option<String>,
    /// That employer's 统一社会信用代码.
    pub employer_uscc: Option<String>,
    /// Months contributed per insurance.
    pub months: ContributionMonths,
    /// 社会保障卡: `active`, `suspended`, `reported_lost` or `not_issued` (`si.card` has the
    /// card itself).
    pub card_status: CardStatus,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl SiStatus {
    /// The social-insurance status of `person` (answered for everyone: "not insured" is an
    /// answer).
    pub fn of(population: &Population, person: &SyntheticPerson) -> Self {
        let insurance = &person.social_insurance;
        let employer = insurance
            .employer
            .and_then(|number| population.employer(number));
        Self {
            status: insurance.status,
            scheme: insurance.scheme,
            insured_since: insurance.insured_since,
            last_paid: insurance.last_paid,
            base: insurance.base,
            employer_name: employer.map(|employer| employer.name.clone()),
            employer_uscc: employer.map(|employer| employer.uscc.as_str().to_owned()),
            months: insurance.months,
            card_status: insurance.card,
            as_of: as_of(),
        }
    }
}

/// One month of `si.contributions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiContribution {
    /// Month.
    pub month: YearMonth,
    /// Scheme paid under.
    pub scheme: Scheme,
    /// Contribution base.
    pub base: Money,
    /// 养老, employer's share.
    pub pension_employer: Money,
    /// 养老, employee's share.
    pub pension_employee: Money,
    /// 医疗, employer's share.
    pub medical_employer: Money,
    /// 医疗, employee's share.
    pub medical_employee: Money,
    /// 失业, employer's share.
    pub unemployment_employer: Money,
    /// 失业, employee's share.
    pub unemployment_employee: Money,
    /// 工伤 (employer only).
    pub injury_employer: Money,
    /// 生育 (employer only).
    pub maternity_employer: Money,
    /// Everything paid that month.
    pub total: Money,
}

/// Response of `si.contributions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiContributions {
    /// Months, oldest first.
    pub records: Vec<SiContribution>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl SiContributions {
    /// The contributions of `person` within `range` and the months asked for; `None` if they
    /// were never insured.
    pub fn of(
        population: &Population,
        person: &SyntheticPerson,
        request: &MonthRangeRequest,
        range: DateRange,
    ) -> Option<Self> {
        if person.social_insurance.status == InsuredStatus::NotInsured {
            return None;
        }
        let records = population
            .contributions(person)
            .into_iter()
            .filter(|month| request.contains(month.month) && range.overlaps_month(month.month))
            .map(|month| SiContribution {
                month: month.month,
                scheme: month.scheme,
                base: month.base,
                pension_employer: month.pension.0,
                pension_employee: month.pension.1,
                medical_employer: month.medical.0,
                medical_employee: month.medical.1,
                unemployment_employer: month.unemployment.0,
                unemployment_employee: month.unemployment.1,
                injury_employer: month.injury,
                maternity_employer: month.maternity,
                total: month.total(),
            })
            .collect();
        Some(Self {
            records,
            as_of: as_of(),
        })
    }
}

/// State of the card in `si.card`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiCardStatus {
    /// 正常使用.
    Active,
    /// 未制卡.
    NotIssued,
    /// 暂停使用.
    Suspended,
    /// 挂失.
    Lost,
}

impl From<CardStatus> for SiCardStatus {
    fn from(status: CardStatus) -> Self {
        match status {
            CardStatus::Active => Self::Active,
            CardStatus::Suspended => Self::Suspended,
            CardStatus::ReportedLost => Self::Lost,
            CardStatus::NotIssued => Self::NotIssued,
        }
    }
}

/// Response of `si.card`: the person's social-security card (社会保障卡) and electronic card
/// (电子社保卡).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiCard {
    /// 卡号: a letter and eight digits; `null` if no card was issued.
    pub card_number: Option<String>,
    /// `active`, `not_issued`, `suspended` or `lost`.
    pub status: SiCardStatus,
    /// 发卡银行; `null` if no card was issued.
    pub issuing_bank: Option<String>,
    /// 发卡日期; `null` if no card was issued.
    pub issued_on: Option<NaiveDate>,
    /// Whether the electronic card is activated (领取).
    pub electronic: bool,
    /// When it was activated (RFC 3339, Beijing time); `null` if not.
    pub electronic_activated_at: Option<DateTime<FixedOffset>>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl SiCard {
    /// The card of `person` (answered for everyone: "not issued" is an answer);
    /// `activated_at` is an activation through `si.card.activate`, which counts if the card
    /// had no electronic card yet.
    pub fn of(
        population: &Population,
        person: &SyntheticPerson,
        activated_at: Option<DateTime<FixedOffset>>,
    ) -> Self {
        let card = population.si_card(person);
        let electronic_activated_at = card
            .electronic_activated_at
            .map(beijing)
            .or(activated_at.filter(|_| card.status == CardStatus::Active));
        Self {
            card_number: card.number,
            status: card.status.into(),
            issuing_bank: card.bank.map(str::to_owned),
            issued_on: card.issued_on,
            electronic: electronic_activated_at.is_some(),
            electronic_activated_at,
            as_of: as_of(),
        }
    }
}

/// The stable code opening the detail of a refused `si.card.activate` (a card that is not
/// `active`): the agency answers `400 exchange.malformed` with the detail
/// `si.card_not_active：…`, which a client sees as `ExchangeError::Malformed` starting with
/// this code.
pub const CARD_NOT_ACTIVE: &str = "si.card_not_active";

/// Whether `si.card.activate` changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationOutcome {
    /// The electronic card was activated by this request.
    Activated,
    /// It already was; nothing changed and the earlier activation is returned.
    AlreadyActivated,
}

/// Response of `si.card.activate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiCardActivation {
    /// `activated` or `already_activated`.
    pub outcome: ActivationOutcome,
    /// 卡号 of the card whose electronic card it is.
    pub card_number: String,
    /// When the electronic card was activated (RFC 3339, Beijing time): the same on every
    /// repetition.
    pub electronic_activated_at: DateTime<FixedOffset>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

/// Largest page of `si.employer.staff`.
pub const MAX_STAFF_PAGE: u32 = 200;

/// Page size of `si.employer.staff` when none is asked for.
pub const DEFAULT_STAFF_PAGE: u32 = 50;

/// Request body of `si.employer.staff` (no `subject`: the employer asks about its own staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployerStaffRequest {
    /// The employer's 统一社会信用代码.
    pub uscc: String,
    /// Page number, from 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size, 1–200 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_page: Option<u32>,
}

impl EmployerStaffRequest {
    /// The page and page size asked for, defaults filled in; `None` if out of range (a page
    /// of 0, a page size of 0 or above [`MAX_STAFF_PAGE`]).
    pub fn paging(&self) -> Option<(u32, u32)> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_STAFF_PAGE);
        (page >= 1 && (1..=MAX_STAFF_PAGE).contains(&per_page)).then_some((page, per_page))
    }
}

/// One employee in `si.employer.staff`: identified only by masked name and id (JR/T 0171).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffMember {
    /// Name with all but the last character hidden, e.g. `*伟`.
    pub name_masked: String,
    /// Resident id with the birth date and sequence hidden, e.g. `510104********0039`.
    pub resident_id_masked: String,
    /// Insured status, as `si.status` reports it.
    pub status: InsuredStatus,
    /// First month insured.
    pub insured_since: Option<YearMonth>,
    /// Last month contributed.
    pub last_paid: Option<YearMonth>,
    /// Months contributed among the last twelve closed months (2025-11 to 2026-10), 0–12.
    pub months_paid_last_12: u32,
    /// Current (or last) contribution base.
    pub base: Money,
}

impl StaffMember {
    /// `person`, as their employer sees them.
    pub fn of(person: &SyntheticPerson) -> Self {
        let insurance = &person.social_insurance;
        let first = LAST_CLOSED_MONTH.plus(-11);
        let months_paid_last_12 = insurance
            .contributions()
            .filter(|month| month.month >= first)
            .count();
        Self {
            name_masked: mask_name(&person.name),
            resident_id_masked: mask_resident_id(person.resident_id.as_str()),
            status: insurance.status,
            insured_since: insurance.insured_since,
            last_paid: insurance.last_paid,
            // At most the twelve months counted.
            months_paid_last_12: u32::try_from(months_paid_last_12).unwrap_or(12),
            base: insurance.base,
        }
    }
}

/// Response of `si.employer.staff`: an employer's staff and their insurance (单位参保人员缴费
/// 情况), a page at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiEmployerStaff {
    /// The employer's registered name.
    pub employer_name: String,
    /// Its 统一社会信用代码.
    pub uscc: String,
    /// This page, ordered by masked resident id, then masked name.
    pub employees: Vec<StaffMember>,
    /// Employees in all pages.
    pub total: u32,
    /// Page number, from 1.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl SiEmployerStaff {
    /// Page `page` (from 1) of `per_page` employees of `employer`; past the last page, no
    /// employees. Builds the population's staff index on first use (see
    /// [`Population::build_staff_index`]).
    pub fn of(population: &Population, employer: &Employer, page: u32, per_page: u32) -> Self {
        let page = page.max(1);
        let per_page = per_page.clamp(1, MAX_STAFF_PAGE);
        let start = (page as usize - 1).saturating_mul(per_page as usize);
        let employees = population
            .staff(
                employer.number,
                start..start.saturating_add(per_page as usize),
            )
            .iter()
            .map(StaffMember::of)
            .collect();
        Self {
            employer_name: employer.name.clone(),
            uscc: employer.uscc.as_str().to_owned(),
            employees,
            total: u32::try_from(population.staff_count(employer.number)).unwrap_or(u32::MAX),
            page,
            per_page,
            as_of: as_of(),
        }
    }
}
