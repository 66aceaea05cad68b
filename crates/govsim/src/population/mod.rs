//! A seeded synthetic population of Chengdu.
//!
//! Nothing is stored per person: [`Population::person`] regenerates person `i` from
//! `(seed, i)` alone in a few microseconds, so a population of ten million costs the memory
//! of its 300 employers and 850 distributors. The generative model is described in
//! `docs/govsim.md`.

pub mod court;
pub mod credit;
pub mod employers;
pub mod housing_fund;
pub mod named;
mod names;
pub(crate) mod numbering;
pub mod risk;
pub mod social_insurance;
mod staff;
pub mod tax;
pub mod traffic;
pub mod work;

use std::collections::HashMap;
use std::ops::Range;

use chrono::NaiveDate;
use rand::Rng;
use rand_distr::StandardNormal;

use bianmin_core::region::district_by_code;
use bianmin_core::{District, Gender, Money, PhoneNumber, ResidentId};

use crate::calendar::REFERENCE_DATE;
use crate::enterprise::{AGroup, DISTRIBUTOR_COUNT, Distributor, MAX_DISTRIBUTORS};
use crate::seeding::{Stream, stream_rng};

pub use court::CourtRecord;
pub use credit::CreditReport;
pub use employers::{Employer, Industry};
pub use housing_fund::{FundEntry, HousingFund};
pub use named::{NamedResident, NamedResidentError};
pub use numbering::{MAX_AGE, MAX_POPULATION, MIN_AGE};
pub use social_insurance::{Contribution, SocialInsurance, SocialSecurityCard};
pub use tax::TaxYear;
pub use traffic::TrafficRecord;
pub use work::{Education, Employment, EmploymentStatus};

use numbering::IdCodec;

/// How urban a district is; shifts wages and car ownership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DistrictTier {
    /// The five central districts.
    Core,
    /// The ring of newer districts around them.
    Suburban,
    /// Counties and county-level cities.
    Outer,
}

impl DistrictTier {
    fn of(district: &District) -> Self {
        match district.code {
            "510104" | "510105" | "510106" | "510107" | "510108" => Self::Core,
            "510112" | "510113" | "510114" | "510115" | "510116" | "510117" | "510118" => {
                Self::Suburban
            }
            _ => Self::Outer,
        }
    }

    pub(crate) fn wage_effect(self) -> f64 {
        match self {
            Self::Core => 0.08,
            Self::Suburban => 0.0,
            Self::Outer => -0.12,
        }
    }
}

/// One synthetic resident with everything the agencies know about them.
///
/// Produced by [`Population::person`]; the same `(seed, index)` always gives the same
/// person. [`Population::find`] also produces named residents (see [`NamedResident`]): the
/// person of their template with their own id, name, phone and what the id encodes.
#[derive(Debug, Clone)]
pub struct SyntheticPerson {
    /// Position in the population, `0..size`; for a named resident, their template's.
    pub index: u32,
    /// 居民身份证号码; encodes the index (see [`Population::find`]), except for a named
    /// resident.
    pub resident_id: ResidentId,
    /// Name.
    pub name: String,
    /// Sex, as encoded in the id.
    pub gender: Gender,
    /// Birth date, as encoded in the id.
    pub birth_date: NaiveDate,
    /// Age on [`REFERENCE_DATE`], 18–70.
    pub age: u32,
    /// District of household registration, as encoded in the id.
    pub district: &'static District,
    /// Mobile number, unique within the population.
    pub phone: PhoneNumber,
    /// Highest education.
    pub education: Education,
    /// Work and income.
    pub employment: Employment,
    /// Housing-fund account, if any was ever opened.
    pub housing_fund: Option<HousingFund>,
    /// Social insurance.
    pub social_insurance: SocialInsurance,
    /// Licence, vehicles and violations.
    pub traffic: TrafficRecord,
    /// Credit report.
    pub credit: CreditReport,
    /// Court cases and the 失信 flag.
    pub court: CourtRecord,
    pd: f64,
    /// Position among the population's named residents, for a named resident.
    named: Option<u32>,
}

impl SyntheticPerson {
    /// The hidden truth: probability of a 90+ days-past-due default within twelve months.
    ///
    /// No agency ever reports it. It exists so that a model trained on what the agencies
    /// say can be measured against what is really there.
    pub fn true_pd(&self) -> f64 {
        self.pd
    }

    /// Whether this is a named resident (given by configuration, with the records of the
    /// generated person [`index`](Self::index)) rather than a generated person.
    pub fn is_named(&self) -> bool {
        self.named.is_some()
    }

    /// Monthly repayments over monthly income (capped at 2), as the risk model reads it.
    pub fn debt_to_income(&self) -> f64 {
        risk::debt_to_income(
            self.credit.monthly_repayment().fen() as f64 / 100.0,
            self.employment.monthly_income.fen() as f64 / 100.0,
        )
    }
}

/// The first draws of a person's stream (see `Population::beginning`), and the stream,
/// positioned to go on.
struct Beginning {
    slot: numbering::IdentitySlot,
    rng: rand_chacha::ChaCha8Rng,
    age: u32,
    gender: Gender,
    tier: DistrictTier,
    fragility: f64,
    carelessness: f64,
    shock: f64,
    name: String,
    phone: PhoneNumber,
    education: Education,
    distributor: Option<u16>,
    employment: Employment,
}

/// A synthetic population of `size` adults of Chengdu, generated from `seed`.
#[derive(Debug, Clone)]
pub struct Population {
    seed: u64,
    size: u32,
    codec: IdCodec,
    employers: Vec<Employer>,
    hiring: employers::HiringTable,
    group: AGroup,
    residents: Vec<NamedResident>,
    named: HashMap<ResidentId, u32>,
    /// Employer number → staff, built on first use (see [`Population::staff`]).
    staff: staff::LazyStaff,
}

impl Population {
    /// The population of `size` people generated from `seed`, with A集团's default network
    /// of [`DISTRIBUTOR_COUNT`] (850) distributors.
    ///
    /// Builds the employer list and A集团's distributors (a few milliseconds); people are
    /// generated on demand.
    ///
    /// # Panics
    ///
    /// If `size` is 0 or above [`MAX_POPULATION`].
    pub fn new(seed: u64, size: u32) -> Self {
        Self::with_distributors(seed, size, u32::from(DISTRIBUTOR_COUNT))
    }

    /// The population of `size` people generated from `seed`, with `distributors`
    /// distributors in A集团's network. Distributor `n` (its code, name and figures) is the
    /// same whatever the network size; owners are at most one person in twenty, so in a
    /// large network each holds several.
    ///
    /// # Panics
    ///
    /// If `size` is 0 or above [`MAX_POPULATION`], or `distributors` is 0 or above
    /// [`MAX_DISTRIBUTORS`].
    pub fn with_distributors(seed: u64, size: u32, distributors: u32) -> Self {
        assert!(
            (1..=MAX_DISTRIBUTORS).contains(&distributors),
            "distributors must be 1..={MAX_DISTRIBUTORS}"
        );
        let codec = IdCodec::new(seed, size);
        let employers = employers::generate_employers(seed);
        let hiring = employers::HiringTable::new(&employers);
        let group = AGroup::generate(seed, size, distributors, |index| {
            REFERENCE_DATE
                .years_since(codec.encode(index).birth_date)
                .unwrap_or(0)
        });
        Self {
            seed,
            size,
            codec,
            employers,
            hiring,
            group,
            residents: Vec::new(),
            named: HashMap::new(),
            staff: staff::LazyStaff::default(),
        }
    }

    /// This population with `residents` added: people who are not generated but answer with
    /// the records of generated person [`NamedResident::template`] (see
    /// [`Population::find`]). Names are trimmed.
    ///
    /// # Errors
    ///
    /// A template not below [`Population::size`], an id given twice (here or in an earlier
    /// call), an id that is a generated person's, an id outside Chengdu's current districts
    /// or born after [`REFERENCE_DATE`], an empty name: see [`NamedResidentError`].
    pub fn with_residents(
        mut self,
        residents: Vec<NamedResident>,
    ) -> Result<Population, NamedResidentError> {
        // The new residents may work somewhere: an index built before is out of date.
        self.staff = staff::LazyStaff::default();
        for resident in residents {
            let resident = resident.checked(self.size)?;
            let id = &resident.resident_id;
            if self.named.contains_key(id) {
                return Err(NamedResidentError::Duplicate {
                    resident_id: id.masked(),
                });
            }
            if let Some(index) = self.codec.decode(id).filter(|&index| index < self.size) {
                return Err(NamedResidentError::Generated {
                    resident_id: id.masked(),
                    index,
                });
            }
            let position = u32::try_from(self.residents.len())
                .ok()
                .filter(|&position| position < named::MAX_NAMED_RESIDENTS)
                .ok_or(NamedResidentError::TooMany {
                    limit: named::MAX_NAMED_RESIDENTS,
                })?;
            self.named.insert(id.clone(), position);
            self.residents.push(resident);
        }
        Ok(self)
    }

    /// The named residents, in the order they were added.
    pub fn residents(&self) -> &[NamedResident] {
        &self.residents
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of people.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The city's employers, indexed by [`Employer::number`].
    pub fn employers(&self) -> &[Employer] {
        &self.employers
    }

    /// Employer number `number`, if there is one.
    pub fn employer(&self, number: u16) -> Option<&Employer> {
        self.employers.get(usize::from(number))
    }

    /// The employer with this 统一社会信用代码 (surrounding whitespace ignored), if the city
    /// has one. A look through the 300 employers: well under a microsecond.
    pub fn employer_by_uscc(&self, uscc: &str) -> Option<&Employer> {
        let uscc = uscc.trim();
        self.employers
            .iter()
            .find(|employer| employer.uscc.as_str() == uscc)
    }

    /// How many people employer `number` employs: the generated people whose
    /// [`Employment::employer`] it is, and the named residents whose template's it is; 0 for
    /// an unknown number.
    ///
    /// The first call (of this, [`Population::staff`] or
    /// [`Population::build_staff_index`]) builds the staff index by one pass over the
    /// population (see [`Population::build_staff_index`]); later calls are O(1).
    pub fn staff_count(&self, number: u16) -> usize {
        self.staff.get_or_build(self).staff(number).len()
    }

    /// The people at `positions` of employer `number`'s staff, generated on demand. The staff
    /// are listed by masked resident id (`510104********0039`), then masked name (`*伟`),
    /// then position in the population (named residents after the generated people), so the
    /// order is stable and shows nothing the masked identifiers do not. Positions past the
    /// end are left out; a named resident appears as themselves (their own id and name, their
    /// template's records), next to the template.
    pub fn staff(&self, number: u16, positions: Range<usize>) -> Vec<SyntheticPerson> {
        let serials = self.staff.get_or_build(self).staff(number);
        let end = positions.end.min(serials.len());
        serials
            .get(positions.start.min(end)..end)
            .unwrap_or_default()
            .iter()
            .filter_map(|&serial| self.by_serial(serial))
            .collect()
    }

    /// Builds the staff index now if it is not built yet (it is built on first use
    /// otherwise). One pass over the population generating each person only up to their
    /// employment: about 0.65 µs a person in a release build (a third of generating whole
    /// people), ≈ 7 ms for 10,000 people, ≈ 0.65 s for a million, once. It keeps 4 bytes per
    /// employed person (16 while sorting).
    pub fn build_staff_index(&self) {
        self.staff.get_or_build(self);
    }

    /// Whether the staff index is built.
    pub fn has_staff_index(&self) -> bool {
        self.staff.is_built()
    }

    /// The person with this serial (see `Population::serial`).
    fn by_serial(&self, serial: u32) -> Option<SyntheticPerson> {
        match serial.checked_sub(self.size) {
            None => Some(self.person(serial)),
            Some(position) => self.named_person(position),
        }
    }

    /// The name of the person with this serial, without generating all of them.
    fn name_of_serial(&self, serial: u32) -> String {
        match serial.checked_sub(self.size) {
            None => self.beginning(serial).name,
            Some(position) => self
                .residents
                .get(position as usize)
                .map(|resident| resident.name.clone())
                .unwrap_or_default(),
        }
    }

    /// A集团 and its distributors.
    pub fn group(&self) -> &AGroup {
        &self.group
    }

    /// The first draws of person `index`'s stream, up to and including their employment:
    /// what [`Population::person`] starts from, and all the staff index needs (a third of the
    /// cost of the whole person).
    fn beginning(&self, index: u32) -> Beginning {
        let slot = self.codec.encode(index);
        let mut rng = stream_rng(self.seed, u64::from(index), Stream::Person);
        let age = REFERENCE_DATE
            .years_since(slot.birth_date)
            .unwrap_or(MIN_AGE);
        let gender = slot.gender();
        let tier = DistrictTier::of(slot.district);
        let fragility: f64 = rng.sample(StandardNormal);
        let care_noise: f64 = rng.sample(StandardNormal);
        let carelessness = 0.3 * fragility + 0.954 * care_noise;
        let shock: f64 = rng.sample(StandardNormal);

        let name = names::full_name(&mut rng, gender, age);
        let phone = names::mobile(&mut rng, self.seed, index);
        let education = work::education(&mut rng, age);
        let distributor = self.group.owned_by(index).first().copied();
        let employment = work::employment(
            &mut rng,
            &work::WorkInputs {
                employers: &self.employers,
                hiring: &self.hiring,
                age,
                gender,
                education,
                tier,
                distributor,
            },
        );
        Beginning {
            slot,
            rng,
            age,
            gender,
            tier,
            fragility,
            carelessness,
            shock,
            name,
            phone,
            education,
            distributor,
            employment,
        }
    }

    /// Person `index`.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`Population::size`].
    pub fn person(&self, index: u32) -> SyntheticPerson {
        assert!(
            index < self.size,
            "person {index} of a population of {}",
            self.size
        );
        let Beginning {
            slot,
            mut rng,
            age,
            gender,
            tier,
            fragility,
            carelessness,
            shock,
            name,
            phone,
            education,
            distributor,
            employment,
        } = self.beginning(index);
        let rng = &mut rng;
        let employer = employment.employer.and_then(|number| self.employer(number));
        let income = employment.monthly_income.fen() as f64 / 100.0;
        let traffic = traffic::generate(
            rng,
            &traffic::TrafficInputs {
                age,
                male: gender == Gender::Male,
                monthly_income: income,
                outer_district: tier == DistrictTier::Outer,
                district: slot.district,
                carelessness,
                fragility,
                index,
            },
        );
        let mut credit = credit::generate(
            rng,
            &credit::CreditInputs {
                age,
                status: employment.status,
                monthly_income: income,
                owns_vehicle: !traffic.vehicles.is_empty(),
                distributor: distributor.is_some(),
                fragility,
            },
        );
        let mut traffic = traffic;
        if credit
            .loans
            .iter()
            .any(|loan| loan.kind == credit::LoanKind::Car)
            && let Some(vehicle) = traffic.vehicles.first_mut()
        {
            vehicle.status = traffic::VehicleStatus::Mortgaged;
        }
        // 吊销 (drunk driving, hit and run): rare, likelier for careless drivers; drawn from
        // its own stream so that the person stream is what it was before revocations.
        if let Some(licence) = traffic.licence.as_mut() {
            let mut draw = stream_rng(self.seed, u64::from(index), Stream::Licence);
            if draw.random_bool(logistic(traffic::REVOCATION_LOGIT + 0.8 * carelessness)) {
                licence.status = traffic::LicenceStatus::Revoked;
            }
        }
        let housing_fund = housing_fund::generate(
            rng,
            &housing_fund::FundInputs {
                employment: &employment,
                employer,
                has_mortgage: credit
                    .loans
                    .iter()
                    .any(|loan| loan.kind == credit::LoanKind::Mortgage),
                index,
            },
        );
        let social_insurance = social_insurance::generate(rng, &employment, employer);
        let court = court::generate(
            rng,
            &court::CourtInputs {
                district: slot.district,
                fragility,
                overdue_days: credit.overdue_days,
                outstanding: credit.total_outstanding(),
                employed: employment.status == EmploymentStatus::Employed,
                self_employed: employment.status == EmploymentStatus::SelfEmployed,
                unemployed: employment.status == EmploymentStatus::Unemployed,
                owns_vehicle: !traffic.vehicles.is_empty(),
            },
        );
        // Courts' enforcement cases show up as inquiries by the enforcing bank.
        if court.is_dishonest() {
            credit.inquiries_6m += 1;
        }
        let pd = risk::probability_of_default(&risk::RiskFactors {
            monthly_income: income,
            monthly_repayment: credit.monthly_repayment().fen() as f64 / 100.0,
            overdue_days: credit.overdue_days,
            worst_status: credit.worst_status(),
            dishonest: court.is_dishonest(),
            status: employment.status,
            fund_months: housing_fund
                .as_ref()
                .map_or(0, |fund| fund.months_contributed),
            inquiries_6m: credit.inquiries_6m,
            age,
            fragility,
            shock,
        });
        SyntheticPerson {
            named: None,
            index,
            resident_id: slot.resident_id(),
            name,
            gender,
            birth_date: slot.birth_date,
            age,
            district: slot.district,
            phone,
            education,
            employment,
            housing_fund,
            social_insurance,
            traffic,
            credit,
            court,
            pd,
        }
    }

    /// The person with this resident id, or `None` if nobody in this population has it.
    ///
    /// O(1): a named resident is looked up in a hash map; otherwise the id is decoded back
    /// to the index (see `numbering` and `docs/govsim.md`).
    ///
    /// A named resident is [`person(template)`](Self::person) with their own resident id,
    /// name and phone, and the birth date, age (on [`REFERENCE_DATE`]), sex and district the
    /// id encodes; everything else (employment, housing fund, social insurance, traffic,
    /// credit, court, `pd`, and `index`) is the template's.
    pub fn find(&self, resident_id: &ResidentId) -> Option<SyntheticPerson> {
        if let Some(&position) = self.named.get(resident_id) {
            return self.named_person(position);
        }
        let index = self.codec.decode(resident_id)?;
        (index < self.size).then(|| self.person(index))
    }

    /// The index of the person with this resident id, without generating them; for a named
    /// resident, their template's.
    pub fn index_of(&self, resident_id: &ResidentId) -> Option<u32> {
        if let Some(&position) = self.named.get(resident_id) {
            return self
                .residents
                .get(position as usize)
                .map(|resident| resident.template);
        }
        self.codec
            .decode(resident_id)
            .filter(|&index| index < self.size)
    }

    /// Named resident number `position`: their template with what is theirs.
    fn named_person(&self, position: u32) -> Option<SyntheticPerson> {
        let resident = self.residents.get(position as usize)?;
        let mut person = self.person(resident.template);
        let id = &resident.resident_id;
        person.resident_id = id.clone();
        person.name = resident.name.clone();
        person.phone = resident.phone.clone();
        person.birth_date = id.birth_date();
        person.age = id.age_on(REFERENCE_DATE);
        person.gender = id.gender();
        // Checked when the resident was added; the template's district is never used.
        person.district = district_by_code(id.region_code()).unwrap_or(person.district);
        person.named = Some(position);
        Some(person)
    }

    /// A number no two people share: the index of a generated person, `size + k` for the
    /// `k`-th named resident. Below 10⁸ (sizes are at most 10⁷).
    fn serial(&self, person: &SyntheticPerson) -> u64 {
        match person.named {
            Some(position) => u64::from(self.size) + u64::from(position),
            None => u64::from(person.index),
        }
    }

    /// The social-security card (社会保障卡) of `person`, with its electronic card as generated
    /// (activations through `si.card.activate` are the agency's, not the population's).
    ///
    /// The status is the one in [`SocialInsurance::card`]; the number, bank, issue date and
    /// electronic card come from the person's own stream, so a named resident's card is
    /// theirs, not their template's.
    pub fn si_card(&self, person: &SyntheticPerson) -> SocialSecurityCard {
        let serial = self.serial(person);
        let mut rng = stream_rng(self.seed, serial, Stream::SiCard);
        social_insurance::card(
            &mut rng,
            &social_insurance::CardInputs {
                seed: self.seed,
                serial,
                status: person.social_insurance.card,
                birth_date: person.birth_date,
                age: person.age,
                insured_since: person.social_insurance.insured_since,
            },
        )
    }

    /// Whether person `index` defaults (90+ days past due) within `horizon_months` of the
    /// reference date.
    ///
    /// Reproducible: one uniform number per person decides every horizon, so a default
    /// within 6 months is also a default within 12. The probability is
    /// `1 − (1 − pd)^(horizon/12)`.
    pub fn draw_default(&self, index: u32, horizon_months: u32) -> bool {
        let pd = self.person(index).pd;
        self.default_draw(index) < risk::default_probability_within(pd, horizon_months)
    }

    /// The uniform number in `[0, 1)` that decides person `index`'s default.
    fn default_draw(&self, index: u32) -> f64 {
        stream_rng(self.seed, u64::from(index), Stream::Default).random()
    }

    /// The housing-fund history of the last 24 months (deposits and June interest), oldest
    /// first; empty without an account.
    pub fn fund_history(&self, person: &SyntheticPerson) -> Vec<FundEntry> {
        let mut entries = Vec::new();
        if let Some(fund) = &person.housing_fund {
            fund.walk(|entry| entries.push(entry));
        }
        entries
    }

    /// Social-insurance contributions of the last 24 months, oldest first.
    pub fn contributions(&self, person: &SyntheticPerson) -> Vec<Contribution> {
        person.social_insurance.contributions().collect()
    }

    /// Annual income-tax returns for 2021–2025, oldest first; a named resident's are their
    /// template's.
    pub fn tax_returns(&self, person: &SyntheticPerson) -> Vec<TaxYear> {
        let mut rng = stream_rng(self.seed, u64::from(person.index), Stream::TaxHistory);
        if person.is_named() {
            // The deductions depend on the age, which is the named resident's own.
            return tax::returns(&mut rng, &self.person(person.index));
        }
        tax::returns(&mut rng, person)
    }

    /// The distributors of A集团 owned by person `index`.
    pub fn distributors_of(&self, index: u32) -> Vec<&Distributor> {
        self.group
            .owned_by(index)
            .iter()
            .filter_map(|&number| self.group.distributor(number))
            .collect()
    }
}

/// An index into `weights` drawn in proportion to them.
pub(crate) fn pick_weighted(rng: &mut impl Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut draw = rng.random_range(0..total.max(1));
    for (position, &weight) in weights.iter().enumerate() {
        if draw < weight {
            return position;
        }
        draw -= weight;
    }
    weights.len() - 1
}

/// A yuan amount as money, rounded to the fen.
pub(crate) fn yuan(amount: f64) -> Money {
    Money::from_fen((amount * 100.0).round() as i64)
}

/// The logistic function.
pub(crate) fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
