//! 社会保险: insured status, months per insurance type and monthly contributions.

use chrono::{Days, Months, NaiveDate, NaiveDateTime, NaiveTime};
use rand::Rng;
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::employers::{Employer, profile};
use super::pick_weighted;
use super::work::{Employment, EmploymentStatus};
use crate::calendar::{HISTORY_MONTHS, LAST_CLOSED_MONTH, REFERENCE_DATE, YearMonth};

/// Lowest monthly contribution base for 2026 (60 % of the provincial average wage).
/// An illustrative figure, not the published one.
pub const SI_BASE_MIN: Money = Money::from_fen(4_300 * 100);

/// Highest monthly contribution base for 2026 (300 % of the provincial average wage).
/// An illustrative figure, not the published one.
pub const SI_BASE_MAX: Money = Money::from_fen(21_500 * 100);

/// Contribution rates in basis points: employees' scheme (employer, employee) and flexible
/// workers' scheme (paid by the worker alone). Illustrative of Chengdu's rates.
const PENSION_BP: (i64, i64) = (1600, 800);
const MEDICAL_BP: (i64, i64) = (650, 200);
const UNEMPLOYMENT_BP: (i64, i64) = (60, 40);
const MATERNITY_EMPLOYER_BP: i64 = 80;
const FLEXIBLE_PENSION_BP: i64 = 2000;
const FLEXIBLE_MEDICAL_BP: i64 = 850;

/// Whether contributions are being paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsuredStatus {
    /// 参保缴费: contributions are being paid.
    Contributing,
    /// 暂停缴费: insured, but no contributions at present.
    Suspended,
    /// 退休: receiving a pension.
    Retired,
    /// 未参保: never insured.
    NotInsured,
}

/// Under which scheme the contributions are (or were last) paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// 职工: by an employer, all five insurances.
    Employee,
    /// 灵活就业: by the person, pension and medical only.
    Flexible,
}

/// State of the 社会保障卡.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// 正常使用.
    Active,
    /// 暂停使用 (e.g. the linked bank account is frozen, or the person is abroad).
    Suspended,
    /// 挂失.
    ReportedLost,
    /// 未制卡.
    NotIssued,
}

/// Months contributed to each insurance over a person's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContributionMonths {
    /// 养老保险.
    pub pension: u32,
    /// 医疗保险.
    pub medical: u32,
    /// 失业保险.
    pub unemployment: u32,
    /// 工伤保险.
    pub injury: u32,
    /// 生育保险.
    pub maternity: u32,
}

/// One person's social insurance.
#[derive(Debug, Clone)]
pub struct SocialInsurance {
    /// Whether contributions are being paid.
    pub status: InsuredStatus,
    /// Scheme of the current or last contributions.
    pub scheme: Scheme,
    /// First month insured.
    pub insured_since: Option<YearMonth>,
    /// Current (or last) monthly contribution base.
    pub base: Money,
    /// Months per insurance.
    pub months: ContributionMonths,
    /// Last month contributed.
    pub last_paid: Option<YearMonth>,
    /// Employer paying, for the employees' scheme.
    pub employer: Option<u16>,
    /// Social-security card.
    pub card: CardStatus,
    pub(crate) run_start: YearMonth,
    pub(crate) injury_bp: i64,
}

/// One month's contributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contribution {
    /// Month.
    pub month: YearMonth,
    /// Base.
    pub base: Money,
    /// Scheme paid under.
    pub scheme: Scheme,
    /// Pension, employer and employee shares.
    pub pension: (Money, Money),
    /// Medical, employer and employee shares.
    pub medical: (Money, Money),
    /// Unemployment, employer and employee shares.
    pub unemployment: (Money, Money),
    /// Work injury (employer only).
    pub injury: Money,
    /// Maternity (employer only).
    pub maternity: Money,
}

impl Contribution {
    /// Everything paid that month.
    pub fn total(&self) -> Money {
        Money::from_fen(
            self.pension.0.fen()
                + self.pension.1.fen()
                + self.medical.0.fen()
                + self.medical.1.fen()
                + self.unemployment.0.fen()
                + self.unemployment.1.fen()
                + self.injury.fen()
                + self.maternity.fen(),
        )
    }
}

fn part(base: Money, bp: i64) -> Money {
    Money::from_fen((base.fen() * bp + 5_000) / 10_000)
}

impl SocialInsurance {
    /// Contributions of the history window, oldest first.
    pub(crate) fn contributions(&self) -> impl Iterator<Item = Contribution> + '_ {
        YearMonth::window(LAST_CLOSED_MONTH, HISTORY_MONTHS).filter_map(move |month| {
            let last = self.last_paid?;
            if month < self.run_start || month > last {
                return None;
            }
            // Bases are reset each January; earlier years' bases were about 4 % lower.
            let years_back = last.year() - month.year();
            let base = Money::from_fen(
                ((self.base.fen() as f64 / 1.04f64.powi(years_back) / 100.0).round() as i64 * 100)
                    .clamp(SI_BASE_MIN.fen(), SI_BASE_MAX.fen()),
            );
            let zero = (Money::ZERO, Money::ZERO);
            Some(match self.scheme {
                Scheme::Employee => Contribution {
                    month,
                    base,
                    scheme: self.scheme,
                    pension: (part(base, PENSION_BP.0), part(base, PENSION_BP.1)),
                    medical: (part(base, MEDICAL_BP.0), part(base, MEDICAL_BP.1)),
                    unemployment: (part(base, UNEMPLOYMENT_BP.0), part(base, UNEMPLOYMENT_BP.1)),
                    injury: part(base, self.injury_bp),
                    maternity: part(base, MATERNITY_EMPLOYER_BP),
                },
                Scheme::Flexible => Contribution {
                    month,
                    base,
                    scheme: self.scheme,
                    pension: (Money::ZERO, part(base, FLEXIBLE_PENSION_BP)),
                    medical: (Money::ZERO, part(base, FLEXIBLE_MEDICAL_BP)),
                    unemployment: zero,
                    injury: Money::ZERO,
                    maternity: Money::ZERO,
                },
            })
        })
    }

    /// The employee's own monthly contribution (pension, medical, unemployment), which is
    /// deductible from taxable income.
    pub fn employee_share(&self) -> Money {
        match (self.status, self.scheme) {
            (InsuredStatus::Contributing, Scheme::Employee) => {
                part(self.base, PENSION_BP.1 + MEDICAL_BP.1 + UNEMPLOYMENT_BP.1)
            }
            (InsuredStatus::Contributing, Scheme::Flexible) => {
                part(self.base, FLEXIBLE_PENSION_BP + FLEXIBLE_MEDICAL_BP)
            }
            _ => Money::ZERO,
        }
    }
}

pub(crate) fn generate(
    rng: &mut impl Rng,
    work: &Employment,
    employer: Option<&Employer>,
) -> SocialInsurance {
    let previous = work.since.plus(-1);
    let worked_before = previous > work.career_start;
    let (status, scheme, last_paid, employer_number) = match work.status {
        EmploymentStatus::Employed => match employer {
            Some(employer) if rng.random_bool(employer.si_coverage) => (
                InsuredStatus::Contributing,
                Scheme::Employee,
                Some(LAST_CLOSED_MONTH),
                Some(employer.number),
            ),
            _ if worked_before && rng.random_bool(0.6) => (
                InsuredStatus::Suspended,
                Scheme::Employee,
                Some(previous),
                None,
            ),
            _ => (InsuredStatus::NotInsured, Scheme::Employee, None, None),
        },
        EmploymentStatus::SelfEmployed | EmploymentStatus::Flexible => {
            match rng.random_range(0..100) {
                0..60 => (
                    InsuredStatus::Contributing,
                    Scheme::Flexible,
                    Some(LAST_CLOSED_MONTH),
                    None,
                ),
                60..85 if worked_before => (
                    InsuredStatus::Suspended,
                    Scheme::Employee,
                    Some(previous),
                    None,
                ),
                _ => (InsuredStatus::NotInsured, Scheme::Flexible, None, None),
            }
        }
        EmploymentStatus::Unemployed if worked_before && rng.random_bool(0.6) => (
            InsuredStatus::Suspended,
            Scheme::Employee,
            Some(previous),
            None,
        ),
        EmploymentStatus::Unemployed => (InsuredStatus::NotInsured, Scheme::Employee, None, None),
        EmploymentStatus::Retired if rng.random_bool(0.92) => (
            InsuredStatus::Retired,
            Scheme::Employee,
            Some(previous),
            None,
        ),
        EmploymentStatus::Retired => (InsuredStatus::NotInsured, Scheme::Employee, None, None),
    };
    let injury_bp =
        i64::from(profile(work.industry.unwrap_or(super::Industry::Retail)).injury_rate_bp);
    let card = match rng.random_range(0..100) {
        0..91 => CardStatus::Active,
        91..93 => CardStatus::Suspended,
        93..95 => CardStatus::ReportedLost,
        _ => CardStatus::NotIssued,
    };
    let Some(last_paid) = last_paid.filter(|last| *last >= work.career_start) else {
        return SocialInsurance {
            status: InsuredStatus::NotInsured,
            scheme,
            insured_since: None,
            base: Money::ZERO,
            months: ContributionMonths::default(),
            last_paid: None,
            employer: None,
            card,
            run_start: LAST_CLOSED_MONTH.plus(1),
            injury_bp,
        };
    };
    let months_working = u32::try_from(last_paid.months_since(work.career_start) + 1).unwrap_or(1);
    let run_length = if status == InsuredStatus::Contributing {
        work.tenure_months().clamp(1, months_working)
    } else {
        rng.random_range(6..=60u32).min(months_working)
    };
    let pension = ((f64::from(months_working) * work.formality * rng.random_range(0.8..1.05))
        .round() as u32)
        .clamp(run_length, months_working);
    let employee_months = if scheme == Scheme::Flexible {
        pension - run_length
    } else {
        pension
    };
    let months = ContributionMonths {
        pension,
        medical: (pension + rng.random_range(0..12)).min(months_working),
        unemployment: (f64::from(employee_months) * rng.random_range(0.9..=1.0)).round() as u32,
        injury: employee_months,
        maternity: employee_months,
    };
    let gaps = (f64::from(months_working - pension) * rng.random_range(0.0..1.0)) as i32;
    let run_start = last_paid.plus(1 - run_length as i32);
    let insured_since = run_start.plus(-((pension - run_length) as i32) - gaps);
    let declared = match (scheme, employer) {
        (Scheme::Flexible, _) if rng.random_bool(0.7) => SI_BASE_MIN.fen() as f64 / 100.0,
        (Scheme::Flexible, _) => SI_BASE_MIN.fen() as f64 / 100.0 * rng.random_range(1.0..2.0),
        (Scheme::Employee, Some(employer)) if employer.under_declares && rng.random_bool(0.7) => {
            SI_BASE_MIN.fen() as f64 / 100.0
        }
        (Scheme::Employee, Some(_)) if employer_number.is_some() => {
            work.monthly_income.fen() as f64 / 100.0
        }
        _ => work.potential_wage,
    };
    let base = Money::from_fen(
        (declared.round() as i64 * 100).clamp(SI_BASE_MIN.fen(), SI_BASE_MAX.fen()),
    );
    SocialInsurance {
        status,
        scheme,
        insured_since: Some(insured_since),
        base,
        months,
        last_paid: Some(last_paid),
        employer: employer_number,
        card,
        run_start,
        injury_bp,
    }
}

/// Banks issuing Chengdu's social-security cards (the card is also a debit card), with
/// relative shares; illustrative.
const CARD_BANKS: [(&str, u32); 8] = [
    ("中国工商银行", 18),
    ("中国建设银行", 17),
    ("中国农业银行", 14),
    ("成都银行", 14),
    ("成都农村商业银行", 12),
    ("中国银行", 10),
    ("中国邮政储蓄银行", 9),
    ("交通银行", 6),
];

/// Letters opening a card number (no I or O).
const CARD_LETTERS: &[u8; 24] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Multiplier of the card number's eight digits: odd and not a multiple of 5, so
/// `serial × m + c (mod 10⁸)` is a bijection and no two people share a number.
const CARD_MULTIPLIER: u64 = 21_474_837;

/// Earliest issue date of a card still in use.
const CARD_FIRST_ISSUE: NaiveDate = match NaiveDate::from_ymd_opt(2010, 1, 1) {
    Some(date) => date,
    None => panic!("2010-01-01 is a calendar date"),
};

/// When Chengdu's electronic social-security card (电子社保卡) could first be activated.
const ELECTRONIC_LAUNCH: NaiveDate = match NaiveDate::from_ymd_opt(2019, 6, 1) {
    Some(date) => date,
    None => panic!("2019-06-01 is a calendar date"),
};

/// A social-security card (社会保障卡) and its electronic card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialSecurityCard {
    /// 卡号: a letter and eight digits, unique in the population; `None` if never issued.
    pub number: Option<String>,
    /// State, as in [`SocialInsurance::card`].
    pub status: CardStatus,
    /// Issuing bank; `None` if never issued.
    pub bank: Option<&'static str>,
    /// Date issued; `None` if never issued.
    pub issued_on: Option<NaiveDate>,
    /// When the electronic card was activated (Beijing time), if it was. Only active cards
    /// have one.
    pub electronic_activated_at: Option<NaiveDateTime>,
}

pub(crate) struct CardInputs {
    pub(crate) seed: u64,
    pub(crate) serial: u64,
    pub(crate) status: CardStatus,
    pub(crate) birth_date: NaiveDate,
    pub(crate) age: u32,
    pub(crate) insured_since: Option<YearMonth>,
}

/// The card of the person with this serial number. Draws the same numbers whatever the
/// status, so each draw means the same thing for everyone.
pub(crate) fn card(rng: &mut impl Rng, inputs: &CardInputs) -> SocialSecurityCard {
    let letter = char::from(CARD_LETTERS[rng.random_range(0..CARD_LETTERS.len())]);
    let bank = CARD_BANKS[pick_weighted(rng, &CARD_BANKS.map(|(_, weight)| weight))].0;
    let issue_delay = rng.random_range(0..=365u64);
    let electronic = rng.random_bool(match inputs.age {
        ..30 => 0.80,
        30..45 => 0.72,
        45..60 => 0.55,
        _ => 0.30,
    });
    let electronic_day: f64 = rng.random();
    let electronic_second = rng.random_range(7 * 3600..23 * 3600u32);

    if inputs.status == CardStatus::NotIssued {
        return SocialSecurityCard {
            number: None,
            status: inputs.status,
            bank: None,
            issued_on: None,
            electronic_activated_at: None,
        };
    }
    let digits =
        (inputs.serial % 100_000_000 * CARD_MULTIPLIER + inputs.seed % 100_000_000) % 100_000_000;
    // Made within a year of first being insured, at 16 at the earliest, and not before the
    // cards now in use were introduced.
    let latest = REFERENCE_DATE - Days::new(14);
    let sixteen = inputs
        .birth_date
        .checked_add_months(Months::new(16 * 12))
        .unwrap_or(inputs.birth_date);
    let earliest = CARD_FIRST_ISSUE.max(sixteen).min(latest);
    let insured = inputs
        .insured_since
        .map_or(earliest, YearMonth::first_day)
        .clamp(earliest, latest);
    let issued_on = (insured + Days::new(issue_delay)).min(latest);
    let first_possible = issued_on.max(ELECTRONIC_LAUNCH);
    let last_possible = REFERENCE_DATE - Days::new(1);
    let electronic_activated_at =
        (inputs.status == CardStatus::Active && electronic && first_possible <= last_possible)
            .then(|| {
                let span = (last_possible - first_possible).num_days() as f64;
                let day = first_possible + Days::new((electronic_day * (span + 1.0)) as u64);
                let time = NaiveTime::from_num_seconds_from_midnight_opt(electronic_second, 0)
                    .unwrap_or(NaiveTime::MIN);
                NaiveDateTime::new(day.min(last_possible), time)
            });
    SocialSecurityCard {
        number: Some(format!("{letter}{digits:08}")),
        status: inputs.status,
        bank: Some(bank),
        issued_on: Some(issued_on),
        electronic_activated_at,
    }
}
