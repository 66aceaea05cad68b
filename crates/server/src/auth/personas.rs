//! The development identity provider: fixed, fictional demo personas, one per role (two
//! citizens, so that tests can show one citizen never sees another's data).
//!
//! Enabled only when `auth.dev_login` is on (`bianmin demo` turns it on; `bianmin serve` does
//! not), because anyone can sign in as any persona.

use bianmin_core::{PhoneNumber, ResidentId};
use bianmin_govsim::calendar::YearMonth;
use bianmin_govsim::population::NamedResident;
use bianmin_govsim::population::housing_fund::HousingFundStatus;
use bianmin_govsim::population::social_insurance::{CardStatus, InsuredStatus};
use bianmin_govsim::{Population, SyntheticPerson};
use bianmin_lending::decision::{Application, Decision, Outcome, ReasonSource, decide};
use bianmin_people::NewPerson;
use bianmin_store::on_pool;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Department, Role, department};
use crate::app::AppState;
use crate::http::problem::ApiError;

/// A demo identity.
#[derive(Debug, Clone, Copy)]
pub struct Persona {
    /// Stable id used to sign in, e.g. `citizen-zhang`.
    pub id: &'static str,
    /// Role.
    pub role: Role,
    /// Fictional full name (shown on the demo login page only; stored encrypted and masked).
    pub name: &'static str,
    /// Department code for government officers.
    pub department: Option<&'static str>,
    /// First 17 digits of a fictional 居民身份证号码 (the check digit is computed), for the
    /// personas who are citizens; staff have no person record.
    pub resident_id_17: Option<&'static str>,
    /// Fictional mobile number.
    pub phone: Option<&'static str>,
    /// One line on what this persona is for.
    pub description: &'static str,
}

const fn staff(
    id: &'static str,
    role: Role,
    name: &'static str,
    department: Option<&'static str>,
    description: &'static str,
) -> Persona {
    Persona {
        id,
        role,
        name,
        department,
        resident_id_17: None,
        phone: None,
        description,
    }
}

/// Every demo persona.
pub const PERSONAS: [Persona; 15] = [
    Persona {
        id: "citizen-zhang",
        role: Role::Citizen,
        name: "张伟",
        department: None,
        resident_id_17: Some("51010419880312003"),
        phone: Some("13800000001"),
        description: "锦江区市民，在职缴存公积金与社保，名下有车、有待缴罚款",
    },
    Persona {
        id: "citizen-li",
        role: Role::Citizen,
        name: "李娜",
        department: None,
        resident_id_17: Some("51010719920708002"),
        phone: Some("13900000002"),
        description: "武侯区市民，灵活就业",
    },
    Persona {
        id: "enterprise-chen",
        role: Role::Enterprise,
        name: "陈刚",
        department: None,
        resident_id_17: Some("51010619800215005"),
        phone: Some("13700000003"),
        description: "A集团下游经销商（小微企业主），经营稳健，可接受预授信额度、支付订货款并还款",
    },
    Persona {
        id: "enterprise-zhao",
        role: Role::Enterprise,
        name: "赵敏",
        department: None,
        resident_id_17: Some("51010819960923004"),
        phone: Some("13700000004"),
        description: "A集团下游经销商（小微企业主），近期订货下滑、回款变慢，额度被预警冻结",
    },
    staff(
        "institution-hospital",
        Role::Institution,
        "何静",
        Some("inst-hospital"),
        "医院收费处，扫码核验电子社保卡",
    ),
    staff(
        "institution-pharmacy",
        Role::Institution,
        "钱敏",
        Some("inst-pharmacy"),
        "定点药店，扫码核验电子社保卡",
    ),
    staff(
        "institution-employer",
        Role::Institution,
        "郑凯",
        Some("inst-employer"),
        "用人单位人事专员，查看本单位职工参保缴费情况（张伟的单位）",
    ),
    staff(
        "institution-agroup",
        Role::Institution,
        "冯涛",
        Some("inst-agroup"),
        "A集团供应链金融专员：签署数据共享协议，查看经销商用信情况",
    ),
    staff(
        "officer-hpf",
        Role::GovernmentOfficer,
        "王芳",
        Some("hpf"),
        "公积金中心业务处",
    ),
    staff(
        "officer-hrss",
        Role::GovernmentOfficer,
        "赵磊",
        Some("hrss"),
        "人社局社保业务处",
    ),
    staff(
        "officer-traffic",
        Role::GovernmentOfficer,
        "周敏",
        Some("traffic"),
        "交管局违法处理科",
    ),
    staff(
        "officer-data",
        Role::GovernmentOfficer,
        "吴强",
        Some("data"),
        "网络理政办，查看全市汇总",
    ),
    staff(
        "operator-liu",
        Role::BankOperator,
        "刘洋",
        None,
        "银行网点运营，处理人工复核与知识库",
    ),
    staff(
        "auditor-sun",
        Role::Auditor,
        "孙丽",
        None,
        "内审，查阅审计日志",
    ),
    staff("admin-zhou", Role::Admin, "周涛", None, "系统管理员"),
];

/// Finds a persona by id.
pub fn persona(id: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.id == id)
}

/// A persona as the login page lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonaView {
    /// Persona id to sign in with.
    pub id: &'static str,
    /// Role.
    pub role: Role,
    /// Chinese role label.
    pub role_label: &'static str,
    /// Fictional name.
    pub display_name: &'static str,
    /// Department, for officers.
    pub department: Option<Department>,
    /// What the persona is for.
    pub description: &'static str,
}

impl From<&Persona> for PersonaView {
    fn from(p: &Persona) -> Self {
        PersonaView {
            id: p.id,
            role: p.role,
            role_label: p.role.label(),
            display_name: p.name,
            department: p.department.and_then(department),
            description: p.description,
        }
    }
}

/// Creates or refreshes the principal behind `persona` (and, for citizens, their encrypted
/// person record) and returns the principal's and person's ids.
pub async fn ensure(state: &AppState, persona: &Persona) -> Result<(Uuid, Option<Uuid>), ApiError> {
    let now = state.clock().now();
    let person_id = match (persona.resident_id_17, persona.phone) {
        (Some(first17), phone) => {
            let person = NewPerson {
                resident_id: ResidentId::with_check_digit(first17)
                    .map_err(bianmin_core::Error::from)?,
                name: persona.name.to_string(),
                phone: phone
                    .map(PhoneNumber::parse)
                    .transpose()
                    .map_err(bianmin_core::Error::from)?,
            };
            let person_id = state.vault().register(&person, now).await?;
            // A current account at the bank to pay fines and draw loans into (demo money).
            if let Some(phone) = persona.phone {
                let suffix = &phone[phone.len() - 4..];
                state
                    .accounts()
                    .open(person_id, suffix, opening_balance(persona.id), now)
                    .await
                    .map_err(|e| ApiError::internal(format!("cannot open a demo account: {e}")))?;
            }
            Some(person_id)
        }
        (None, _) => None,
    };
    let masked = bianmin_core::mask::mask_name(persona.name);
    let id = on_pool!(state.store(), pool => {
        sqlx::query_scalar(
            "INSERT INTO principals (id, persona, role, display_name, department, person_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (persona) DO UPDATE SET role = excluded.role, \
                 display_name = excluded.display_name, department = excluded.department, \
                 person_id = excluded.person_id, updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(Uuid::now_v7())
        .bind(persona.id)
        .bind(persona.role.as_str())
        .bind(&masked)
        .bind(persona.department)
        .bind(person_id)
        .bind(now)
        .fetch_one(pool)
        .await?
    });
    // Citizens can also sign in with a code texted to their (fictional) number.
    if let (Role::Citizen, Some(phone)) = (persona.role, persona.phone) {
        let phone = PhoneNumber::parse(phone).map_err(bianmin_core::Error::from)?;
        super::otp::bind_phone(state, id, &phone).await?;
    }
    Ok((id, person_id))
}

/// The demo balance of a persona's current account.
fn opening_balance(persona: &str) -> bianmin_core::Money {
    match persona {
        "citizen-zhang" => bianmin_core::Money::from_fen(2_000_000),
        "citizen-li" => bianmin_core::Money::from_fen(30_000),
        _ => bianmin_core::Money::from_fen(5_000_000),
    }
}

/// Creates every persona's principal (the demo does this at start-up).
pub async fn seed_all(state: &AppState) -> Result<(), ApiError> {
    for p in &PERSONAS {
        ensure(state, p).await?;
    }
    Ok(())
}

/// Whether generated person `p` can stand for `persona` (whose id is `id`) in the simulated
/// city: same sex, an age within five years (records are not adjusted to the persona's age), and
/// a life that fits the persona's description, so the demo shows what it says.
fn fits(persona: &str, id: &ResidentId, p: &SyntheticPerson) -> bool {
    let age = bianmin_govsim::REFERENCE_DATE
        .years_since(id.birth_date())
        .unwrap_or(0);
    if p.gender != id.gender() || p.age.abs_diff(age) > 5 {
        return false;
    }
    let hpf = p.housing_fund.as_ref().map(|fund| fund.status);
    match persona {
        // Employed, depositing into the provident fund (three years or more) and social
        // insurance with a working social-security card, a car with an unpaid fine, a clean
        // court record (and, below, approved for a 闪电贷 line).
        "citizen-zhang" => {
            p.employment.employer.is_some()
                && p.employment.since <= YearMonth::new(2024, 1)
                && p.social_insurance.card == CardStatus::Active
                && hpf == Some(HousingFundStatus::Active)
                && p.housing_fund.as_ref().is_some_and(|fund| {
                    fund.months_contributed >= 36
                        && fund.opened <= YearMonth::new(2022, 1)
                        && fund.last_deposit >= YearMonth::new(2026, 9)
                })
                && p.social_insurance.status == InsuredStatus::Contributing
                && !p.traffic.vehicles.is_empty()
                && p.traffic.violations.iter().any(|v| v.paid_on.is_none())
                && !p.court.is_dishonest()
        }
        // Flexible work: a sealed provident-fund account, no car.
        "citizen-li" => hpf == Some(HousingFundStatus::Sealed) && p.traffic.vehicles.is_empty(),
        // Owns one of A集团's distributors, with a clean court record and no debt past due.
        "enterprise-chen" | "enterprise-zhao" => {
            p.employment.distributor.is_some()
                && !p.court.is_dishonest()
                && p.credit.overdue_days == 0
                && p.credit.worst_status() <= 1
        }
        _ => true,
    }
}

/// What the shipped 闪电贷 policy and model decide on `person` asking for 20,000 yuan (张伟 is
/// the demo's borrower; 李娜's decline is the demo's case for human review).
fn decision_of(
    lending: &crate::lending::Lending,
    population: &Population,
    person: &SyntheticPerson,
) -> Option<Decision> {
    let application = Application {
        requested_amount: bianmin_core::Money::from_fen(2_000_000),
        existing_online_credit: bianmin_core::Money::ZERO,
        applied_on: bianmin_govsim::REFERENCE_DATE,
    };
    let records = bianmin_lending::features::AgencyRecords::simulated(
        population,
        person,
        bianmin_govsim::records::DateRange::ALL,
    );
    decide(&application, &records, &lending.context()).ok()
}

/// Whether generated person `index` owns distributors of A集团, every one of which is active
/// and satisfies `good`.
fn owns(
    population: &Population,
    index: u32,
    good: impl Fn(&bianmin_govsim::enterprise::Distributor) -> bool,
) -> bool {
    let group = population.group();
    let owned = group.owned_by(index);
    !owned.is_empty()
        && owned.iter().all(|&n| {
            group.distributor(n).is_some_and(|d| {
                d.status() == bianmin_govsim::enterprise::DistributorStatus::Active && good(d)
            })
        })
}

/// The personas who are citizens, as named residents of the simulated city: each keeps their
/// id, name and phone and takes the records of the first generated person whose life fits
/// their description (deterministic for a seed). Personas for whom nobody fits (a tiny
/// population) are left out and get `not_found` from the agencies.
pub fn simulated_residents(population: &Population) -> Vec<NamedResident> {
    let scan = population.size().min(50_000);
    let lending = crate::lending::Lending::embedded().ok();
    let decision_of = |person: &SyntheticPerson| {
        lending
            .as_deref()
            .and_then(|lending| decision_of(lending, population, person))
    };
    PERSONAS
        .iter()
        .filter_map(|persona| {
            let resident_id = ResidentId::with_check_digit(persona.resident_id_17?).ok()?;
            let phone = PhoneNumber::parse(persona.phone?).ok()?;
            let template = (0..scan).find(|&i| {
                let person = population.person(i);
                fits(persona.id, &resident_id, &person)
                    && match persona.id {
                        "citizen-zhang" => decision_of(&person).is_some_and(
                            |d| matches!(d.outcome, Outcome::Approved { limit, .. } if limit.fen() >= 2_000_000),
                        ),
                        // Declined by the model, not by a hard rule: a case for human review.
                        "citizen-li" => decision_of(&person).is_some_and(|d| {
                            matches!(&d.outcome, Outcome::Declined { reasons }
                                if reasons.iter().all(|r| r.source != ReasonSource::Policy))
                        }),
                        "enterprise-chen" => owns(population, i, |d| {
                            d.deteriorates_from().is_none() && d.tenure_months() >= 24
                        }),
                        // Healthy on the reference date, slipping from the next month or two:
                        // pre-approved, then frozen by monitoring once A集团's books move on.
                        "enterprise-zhao" => owns(population, i, |d| {
                            d.tenure_months() >= 24
                                && d.deteriorates_from().is_some_and(|m| {
                                    (YearMonth::new(2026, 11)..=YearMonth::new(2026, 12))
                                        .contains(&m)
                                })
                        }),
                        _ => true,
                    }
            })?;
            Some(NamedResident {
                resident_id,
                name: persona.name.to_owned(),
                phone,
                template,
            })
        })
        .collect()
}
