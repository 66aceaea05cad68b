//! Education, employment and income.

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use bianmin_core::{Gender, Money};

use super::employers::{Employer, HiringTable, INDUSTRIES, Industry, profile};
use super::{DistrictTier, pick_weighted, yuan};
use crate::calendar::{LAST_CLOSED_MONTH, YearMonth};

/// Chengdu's minimum monthly wage (一类地区, since 2022), the floor of any employee's wage.
pub const MINIMUM_WAGE_YUAN: f64 = 2_100.0;

/// Highest completed education.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Education {
    /// 初中及以下.
    JuniorOrBelow,
    /// 高中/中专.
    HighSchool,
    /// 大专.
    Associate,
    /// 本科.
    Bachelor,
    /// 研究生.
    Postgraduate,
}

impl Education {
    /// Log-wage premium relative to 大专.
    fn wage_effect(self) -> f64 {
        match self {
            Self::JuniorOrBelow => -0.20,
            Self::HighSchool => -0.08,
            Self::Associate => 0.0,
            Self::Bachelor => 0.18,
            Self::Postgraduate => 0.38,
        }
    }

    /// Typical age at which work starts after this education.
    fn career_start_age(self) -> f64 {
        match self {
            Self::JuniorOrBelow => 17.0,
            Self::HighSchool => 19.0,
            Self::Associate => 21.0,
            Self::Bachelor => 22.0,
            Self::Postgraduate => 25.0,
        }
    }
}

/// What a person does for a living.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentStatus {
    /// 在职: on an employer's payroll.
    Employed,
    /// 个体/自营: runs a business (including A集团's distributors).
    SelfEmployed,
    /// 灵活就业: gig and informal work (riders, drivers, stall keepers).
    Flexible,
    /// 无业: job-seekers and students.
    Unemployed,
    /// 退休: drawing a pension.
    Retired,
}

/// A person's working life as of the reference date.
#[derive(Debug, Clone)]
pub struct Employment {
    /// Current status.
    pub status: EmploymentStatus,
    /// Employer number for [`EmploymentStatus::Employed`].
    pub employer: Option<u16>,
    /// Sector worked in (for the self-employed and flexible workers too).
    pub industry: Option<Industry>,
    /// Number of the A集团 distributor this person owns, if any.
    pub distributor: Option<u16>,
    /// First month of the current status (job, business, spell of unemployment, retirement).
    pub since: YearMonth,
    /// First month of working life.
    pub career_start: YearMonth,
    /// Gross monthly income: wage, business income or pension; zero when unemployed.
    pub monthly_income: Money,
    /// Wage the person would earn in formal employment, which sets contribution bases of
    /// past jobs.
    pub(crate) potential_wage: f64,
    /// Share of the working life spent in contributing employment, 0–1.
    pub(crate) formality: f64,
}

impl Employment {
    /// Months in the current status.
    pub fn tenure_months(&self) -> u32 {
        u32::try_from(LAST_CLOSED_MONTH.months_since(self.since) + 1).unwrap_or(0)
    }
}

pub(crate) fn education(rng: &mut impl Rng, age: u32) -> Education {
    // Cumulative shares (per mille) of 初中及以下 / 高中 / 大专 / 本科 / 研究生 by cohort.
    let weights: [u32; 5] = match age {
        ..35 => [180, 240, 200, 320, 60],
        35..50 => [300, 280, 160, 220, 40],
        _ => [520, 280, 100, 90, 10],
    };
    [
        Education::JuniorOrBelow,
        Education::HighSchool,
        Education::Associate,
        Education::Bachelor,
        Education::Postgraduate,
    ][pick_weighted(rng, &weights)]
}

/// Everything employment depends on.
pub(crate) struct WorkInputs<'a> {
    pub(crate) employers: &'a [Employer],
    pub(crate) hiring: &'a HiringTable,
    pub(crate) age: u32,
    pub(crate) gender: Gender,
    pub(crate) education: Education,
    pub(crate) tier: DistrictTier,
    pub(crate) distributor: Option<u16>,
}

pub(crate) fn employment(rng: &mut impl Rng, inputs: &WorkInputs<'_>) -> Employment {
    let age = f64::from(inputs.age);
    let start_age = inputs.education.career_start_age() + rng.random_range(0.0..2.0);
    let career_years = (age - start_age).max(0.0);
    let retirement_age = match (inputs.gender, inputs.education) {
        (Gender::Male, _) => 60.0,
        (Gender::Female, Education::JuniorOrBelow | Education::HighSchool) => 50.0,
        (Gender::Female, _) => 55.0,
    };
    let status = if inputs.distributor.is_some() {
        EmploymentStatus::SelfEmployed
    } else if age >= retirement_age {
        match rng.random_range(0..100) {
            0..88 => EmploymentStatus::Retired,
            88..93 => EmploymentStatus::SelfEmployed,
            _ => EmploymentStatus::Flexible,
        }
    } else if career_years < 0.5 {
        // Still studying: mostly without income, some part-time.
        if rng.random_bool(0.8) {
            EmploymentStatus::Unemployed
        } else {
            EmploymentStatus::Flexible
        }
    } else {
        let graduate = matches!(
            inputs.education,
            Education::Bachelor | Education::Postgraduate
        );
        let weights: [u32; 4] = if graduate {
            [76, 9, 8, 7]
        } else {
            [60, 15, 16, 9]
        };
        [
            EmploymentStatus::Employed,
            EmploymentStatus::SelfEmployed,
            EmploymentStatus::Flexible,
            EmploymentStatus::Unemployed,
        ][pick_weighted(rng, &weights)]
    };

    let career_months = (career_years * 12.0).round() as i32;
    let career_start = LAST_CLOSED_MONTH.plus(-career_months);
    let mean_tenure_months = match status {
        EmploymentStatus::Employed => 42.0,
        EmploymentStatus::SelfEmployed => 60.0,
        EmploymentStatus::Flexible => 24.0,
        EmploymentStatus::Unemployed => 8.0,
        EmploymentStatus::Retired => 0.0,
    };
    let industry_index = match status {
        EmploymentStatus::Employed => pick_weighted(rng, &INDUSTRIES.map(|profile| profile.weight)),
        EmploymentStatus::SelfEmployed => {
            pick_weighted(rng, &[0, 0, 2, 3, 10, 6, 3, 1, 0, 0, 1, 1, 6])
        }
        EmploymentStatus::Flexible => pick_weighted(rng, &[1, 0, 1, 2, 2, 3, 8, 1, 0, 0, 0, 1, 4]),
        EmploymentStatus::Unemployed | EmploymentStatus::Retired => {
            pick_weighted(rng, &INDUSTRIES.map(|profile| profile.weight))
        }
    };
    let mut employer = None;
    let mut industry = INDUSTRIES[industry_index].industry;
    if status == EmploymentStatus::Employed {
        let number = inputs.hiring.pick(rng, industry_index);
        employer = Some(number);
        industry = inputs.employers[usize::from(number)].industry;
    }
    // A distributor of A集团 sells its consumer goods wholesale.
    if inputs.distributor.is_some() {
        industry = Industry::Retail;
    }
    let since = if status == EmploymentStatus::Retired {
        let retired_months = ((age - retirement_age) * 12.0) as i32 + rng.random_range(0..12);
        LAST_CLOSED_MONTH.plus(-retired_months)
    } else {
        let draw: f64 = rng.random_range(0.0..1.0);
        let tenure = (-(1.0 - draw).ln() * mean_tenure_months).round() as i32 + 1;
        LAST_CLOSED_MONTH.plus(-tenure.min(career_months.max(1)) + 1)
    };

    let normal: f64 = rng.sample(StandardNormal);
    let age_effect = 0.30 * (1.0 - ((age - 42.0) / 22.0).powi(2)) - 0.15;
    let profile = profile(industry);
    let premium = employer.map_or(0.0, |number| {
        inputs.employers[usize::from(number)].wage_premium
    });
    let potential_wage = (profile.median_wage.ln()
        + premium
        + age_effect
        + inputs.education.wage_effect()
        + inputs.tier.wage_effect()
        + profile.wage_sigma * normal)
        .exp()
        .max(MINIMUM_WAGE_YUAN);
    let income_yuan = match status {
        EmploymentStatus::Employed => potential_wage,
        EmploymentStatus::SelfEmployed if inputs.distributor.is_some() => {
            (25_000f64.ln() + 0.5 * normal).exp()
        }
        EmploymentStatus::SelfEmployed => (7_500f64.ln()
            + 0.75 * normal
            + 0.5 * inputs.education.wage_effect()
            + inputs.tier.wage_effect())
        .exp(),
        EmploymentStatus::Flexible => {
            (4_300f64.ln() + 0.4 * normal + 0.5 * inputs.tier.wage_effect()).exp()
        }
        EmploymentStatus::Unemployed => 0.0,
        EmploymentStatus::Retired => {
            (3_300f64.ln() + 0.35 * normal + 0.5 * inputs.education.wage_effect()).exp()
        }
    };
    let formality = match status {
        EmploymentStatus::Employed | EmploymentStatus::Retired => rng.random_range(0.55..1.0),
        EmploymentStatus::SelfEmployed | EmploymentStatus::Flexible => rng.random_range(0.1..0.6),
        EmploymentStatus::Unemployed => rng.random_range(0.0..0.6),
    };
    Employment {
        status,
        employer,
        industry: (status != EmploymentStatus::Unemployed || career_months > 6).then_some(industry),
        distributor: inputs.distributor,
        since,
        career_start,
        monthly_income: yuan(income_yuan),
        potential_wage,
        formality,
    }
}
