//! From the agencies' answers to the scorecard's [`Features`]: the one mapping shared by
//! training (`examples/train_scorecard.rs`), the tests and the decision engine.
//!
//! The inputs are the answers as the exchange returns them (`GET` on each service), typed by
//! `bianmin_govsim::records`, the reference implementation of the schemas in
//! `docs/schemas/*.json`. Nothing else about the applicant is read.
//!
//! # Where each feature comes from
//!
//! | Feature | Answer and field | Missing answer |
//! |---|---|---|
//! | [`Features::age`] | birth date (resident id / `identity.verify` `birth_date`), whole years on `today` | required |
//! | [`Features::monthly_income_yuan`] | `tax.income`: `gross_income` of the latest `year`, over 12; if that is absent or zero, `hpf.account` `deposit_base` | no return and no account: 0 |
//! | [`Features::fund_months`] | `hpf.account` `months_contributed` | no account: 0 |
//! | [`Features::employment`] | `si.status` `status` and `scheme`, then `tax.income` `income_kind` of the latest year (see below) | no `si.status`: as `not_insured`; no return: no income kind |
//! | [`Features::dti_permille`] | `credit.report` `monthly_repayment` over the monthly income above (at least 1,500 yuan), ‰, capped at 2,000 | required (a "白户" answers an empty report) |
//! | [`Features::overdue_days`] | `credit.report` `overdue.days` | required |
//! | [`Features::worst_status_24m`] | `credit.report` `worst_status_24m` | required |
//! | [`Features::inquiries_6m`] | `credit.report` `inquiries_6m` | required |
//! | [`Features::card_utilisation_pct`] | `credit.report` `cards.used` over `cards.total_limit`, %, capped at 200 | no limit: 0 |
//! | [`Features::dishonest`] | `court.cases` `dishonest_debtor` | required |
//! | [`Features::open_court_cases`] | `court.cases`: cases with `status` `open` | required (no case is an answer) |
//!
//! Employment, first rule that applies: `si.status` `retired` → [`EmploymentKind::Retired`];
//! `contributing` under the `employee` scheme → [`EmploymentKind::Employed`]; a latest return
//! of `business` income → [`EmploymentKind::SelfEmployed`]; `contributing` under the
//! `flexible` scheme, or a latest return of `remuneration` → [`EmploymentKind::Flexible`]; a
//! latest return of `wages` with a monthly income above 0 → [`EmploymentKind::Employed`];
//! otherwise [`EmploymentKind::NoIncomeRecord`].
//!
//! Amounts are cut to whole yuan (towards zero). A negative amount in an answer is rejected
//! ([`FeatureError::NegativeAmount`]) rather than guessed at.

use chrono::NaiveDate;

use bianmin_core::Money;
use bianmin_govsim::population::court::CaseStatus;
use bianmin_govsim::population::social_insurance::{InsuredStatus, Scheme};
use bianmin_govsim::population::tax::IncomeKind;
use bianmin_govsim::records::DateRange;
use bianmin_govsim::records::court::CourtCases;
use bianmin_govsim::records::credit::CreditReportRecord;
use bianmin_govsim::records::housing_fund::HpfAccount;
use bianmin_govsim::records::social_insurance::SiStatus;
use bianmin_govsim::records::tax::{TaxIncome, TaxIncomeRequest};
use bianmin_govsim::{Population, SyntheticPerson};

use crate::scorecard::{EmploymentKind, Features};

/// Monthly incomes below this many fen count as this much in the debt-to-income ratio.
const DTI_INCOME_FLOOR_FEN: i64 = 150_000;
/// Cap of [`Features::dti_permille`].
const DTI_CAP_PERMILLE: i64 = 2_000;
/// Cap of [`Features::card_utilisation_pct`].
const UTILISATION_CAP_PCT: i64 = 200;

/// The agencies' answers about one applicant, as the exchange returned them.
///
/// `None` is an agency's `not_found` (or a data kind the consent did not cover); see the
/// [module documentation](self) for how each absence is treated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgencyRecords {
    /// Birth date: from the resident id (and confirmed by `identity.verify`).
    pub birth_date: NaiveDate,
    /// `hpf.account`; `None` without a housing-fund account.
    pub hpf: Option<HpfAccount>,
    /// `si.status`; `None` is treated as `not_insured`.
    pub si: Option<SiStatus>,
    /// `tax.income`; `None` is treated as no return.
    pub tax: Option<TaxIncome>,
    /// `credit.report` (answered for everyone).
    pub credit: CreditReportRecord,
    /// `court.cases` (answered for everyone).
    pub court: CourtCases,
}

impl AgencyRecords {
    /// What the simulated agencies answer about `person` for a consent covering `range`
    /// (every tax year asked for): the same record constructors the govsim agencies serve
    /// through the exchange. For training and tests.
    pub fn simulated(population: &Population, person: &SyntheticPerson, range: DateRange) -> Self {
        Self {
            birth_date: person.birth_date,
            hpf: HpfAccount::of(population, person),
            si: Some(SiStatus::of(population, person)),
            tax: Some(TaxIncome::of(
                population,
                person,
                &TaxIncomeRequest::default(),
                range,
            )),
            credit: CreditReportRecord::of(person),
            court: CourtCases::of(person, range),
        }
    }
}

/// Why the answers cannot be turned into [`Features`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeatureError {
    /// The birth date is after the scoring date.
    #[error("birth date {birth_date} is after {today}")]
    BornAfterToday {
        /// The applicant's birth date.
        birth_date: NaiveDate,
        /// The scoring date.
        today: NaiveDate,
    },
    /// An amount that cannot be negative is (named by its answer and field).
    #[error("negative amount in {0}")]
    NegativeAmount(&'static str),
}

/// The scorecard's inputs from the agencies' `records`, age counted on `today`.
///
/// See the [module documentation](self) for the source of every feature.
///
/// # Errors
///
/// [`FeatureError::BornAfterToday`] if the birth date is after `today`;
/// [`FeatureError::NegativeAmount`] if an income, deposit base, repayment or card amount is
/// negative.
pub fn from_records(records: &AgencyRecords, today: NaiveDate) -> Result<Features, FeatureError> {
    let age = today
        .years_since(records.birth_date)
        .ok_or(FeatureError::BornAfterToday {
            birth_date: records.birth_date,
            today,
        })?;

    let latest = records
        .tax
        .as_ref()
        .and_then(|tax| tax.years.iter().max_by_key(|year| year.year));
    let gross = match latest {
        Some(year) => fen(year.gross_income, "tax.income gross_income")?,
        None => 0,
    };
    let income_fen = if gross > 0 {
        gross / 12
    } else {
        match &records.hpf {
            Some(hpf) => fen(hpf.deposit_base, "hpf.account deposit_base")?,
            None => 0,
        }
    };
    let income_yuan = u32::try_from(income_fen / 100).unwrap_or(u32::MAX);

    let (status, scheme) = records
        .si
        .as_ref()
        .map_or((InsuredStatus::NotInsured, None), |si| {
            (si.status, Some(si.scheme))
        });
    let employment = match (status, scheme, latest.map(|year| year.income_kind)) {
        (InsuredStatus::Retired, _, _) => EmploymentKind::Retired,
        (InsuredStatus::Contributing, Some(Scheme::Employee), _) => EmploymentKind::Employed,
        (_, _, Some(IncomeKind::Business)) => EmploymentKind::SelfEmployed,
        (InsuredStatus::Contributing, Some(Scheme::Flexible), _) => EmploymentKind::Flexible,
        (_, _, Some(IncomeKind::Remuneration)) => EmploymentKind::Flexible,
        (_, _, Some(IncomeKind::Wages)) if income_yuan > 0 => EmploymentKind::Employed,
        _ => EmploymentKind::NoIncomeRecord,
    };

    let credit = &records.credit;
    let repayment = fen(credit.monthly_repayment, "credit.report monthly_repayment")?;
    let dti = (repayment.saturating_mul(1_000) / income_fen.max(DTI_INCOME_FLOOR_FEN))
        .min(DTI_CAP_PERMILLE);
    let limit = fen(credit.cards.total_limit, "credit.report cards.total_limit")?;
    let used = fen(credit.cards.used, "credit.report cards.used")?;
    let utilisation = if limit > 0 {
        (used.saturating_mul(100) / limit).min(UTILISATION_CAP_PCT)
    } else {
        0
    };

    let open_cases = records
        .court
        .cases
        .iter()
        .filter(|case| case.status == CaseStatus::Open)
        .count();

    Ok(Features {
        age,
        monthly_income_yuan: income_yuan,
        fund_months: records.hpf.as_ref().map_or(0, |hpf| hpf.months_contributed),
        employment,
        // Both are capped well within u32.
        dti_permille: u32::try_from(dti).unwrap_or(2_000),
        overdue_days: credit.overdue.days,
        worst_status_24m: credit.worst_status_24m,
        inquiries_6m: credit.inquiries_6m,
        card_utilisation_pct: u32::try_from(utilisation).unwrap_or(200),
        dishonest: records.court.dishonest_debtor,
        open_court_cases: u32::try_from(open_cases).unwrap_or(u32::MAX),
    })
}

/// The fen of `amount`, which must not be negative.
fn fen(amount: Money, field: &'static str) -> Result<i64, FeatureError> {
    let fen = amount.fen();
    if fen < 0 {
        Err(FeatureError::NegativeAmount(field))
    } else {
        Ok(fen)
    }
}
