//! A deterministic, realistic history for the cockpit: a year (or any number of days) of the
//! facts 成都's residents would have produced, for the demo's rollups and for benchmarks.
//!
//! The model, per calendar month of the window:
//!
//! * **People.** Each has a stable pseudonymous subject (32 lower-case hex characters, like the
//!   real SM3-derived ones), a district weighted by population and by how much of it uses the
//!   bank's app (the five central districts heavy, the outer counties light), an age band (few
//!   65+), a preferred channel (h5 ~70 %, app ~30 %), whether they pay into the housing fund and
//!   whether they own a car, and an engagement class that sets how often they come back.
//! * **Growth.** Monthly actives follow a curve growing 30 % a month. A month's actives are last
//!   month's actives who stay (each with their class's retention, ~63 % overall), a few dormant
//!   people who return, and as many new people as it takes to reach the curve.
//! * **Visits.** An active person comes on a few days of the month (weekdays more than weekends,
//!   holidays less), at hours peaking 9–11, 14–16 and 20–22 China time. A visit is a session:
//!   an entry service from the person's mix, then follow-ups (account → deposits, violations →
//!   pay …), sometimes a question to the assistant, rarely a 闪电贷 application that runs its
//!   funnel (decided within half a second, signed within an hour or a day, drawn later).
//! * **Outcomes and latency.** Mostly `ok`; `consent.required` (~3 %, usually retried after
//!   consenting), exchange timeouts (at 3 s) and unavailability (fast) rare; latency
//!   log-normal per service with an occasional slow tail.
//!
//! Everything comes from one ChaCha8 stream seeded from the config, drawn in a fixed order, so
//! the same config yields the same facts. Floating point is used only to build tables at the
//! start and for probabilities compared against uniform draws.

use bianmin_core::region::CHENGDU_DISTRICTS;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::fact::{Fact, Metric};

/// What history to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryConfig {
    /// The seed: the same config yields the same facts.
    pub seed: u64,
    /// The last China calendar day of the history, inclusive.
    pub end: NaiveDate,
    /// How many days the history covers (365 for a year).
    pub days: u32,
    /// People (and so facts) relative to the demo's size, 1.0.
    pub scale: f64,
}

/// What was generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryReport {
    /// Facts handed to the sink.
    pub facts: u64,
    /// Distinct people who appear (as the subject of at least one service use).
    pub people: u64,
    /// Distinct people using a service in each calendar month of the window (`"2026-01"`).
    pub monthly_active: Vec<(String, u64)>,
}

/// Monthly actives in the first month at scale 1.0; with 30 % growth and the retention below
/// this gives ~120,000 distinct people over 365 days (~3,250 → ~58,000 monthly actives). (With
/// ~63 % of a month's actives back the next month, about half of each month's actives are new;
/// a smaller curve, say 1,800 → 30,000, would serve only ~70,000 people a year.)
const FIRST_MONTH_ACTIVE: f64 = 3_250.0;
/// Monthly growth of the actives curve.
const MONTHLY_GROWTH: f64 = 1.30;
/// The chance a dormant person (active once, not last month) comes back in a month.
const REACTIVATION: f64 = 0.03;
/// The chance a visit day has a second session that day.
const SECOND_SESSION: f64 = 0.40;
/// The chance a visit day has a third.
const THIRD_SESSION: f64 = 0.10;
/// The chance a session ends with a question to the assistant.
const ASSISTANT_ASKED: f64 = 0.085;
/// Milliseconds in a day.
const DAY_MS: u64 = 86_400_000;
/// Latency of an event that has none.
const NO_LATENCY: u32 = u32::MAX;

// --- Dimension tables -------------------------------------------------------------------

/// Residents (2020 census, 万) per district code, times how much the district uses the app:
/// central districts ×1.35, near suburbs ×1.0, outer counties and cities ×0.55.
const DISTRICT_WEIGHTS: [(&str, f64); 20] = [
    ("510104", 90.3 * 1.35),  // 锦江区
    ("510105", 95.6 * 1.35),  // 青羊区
    ("510106", 126.6 * 1.35), // 金牛区
    ("510107", 120.6 * 1.35), // 武侯区
    ("510108", 138.2 * 1.35), // 成华区
    ("510112", 134.6),        // 龙泉驿区
    ("510113", 49.0),         // 青白江区
    ("510114", 155.9),        // 新都区
    ("510115", 96.8),         // 温江区
    ("510116", 146.6),        // 双流区
    ("510117", 139.2),        // 郫都区
    ("510118", 36.3),         // 新津区
    ("510121", 80.0 * 0.55),  // 金堂县
    ("510129", 50.5 * 0.55),  // 大邑县
    ("510131", 25.6 * 0.55),  // 蒲江县
    ("510181", 71.0 * 0.55),  // 都江堰市
    ("510182", 78.1 * 0.55),  // 彭州市
    ("510183", 60.3 * 0.55),  // 邛崃市
    ("510184", 73.6 * 0.55),  // 崇州市
    ("510185", 111.8 * 0.55), // 简阳市
];

/// Age bands with their share of users, whether they pay into the housing fund and whether they
/// own a car.
const AGE_BANDS: [(&str, f64, f64, f64); 6] = [
    ("18-24", 14.0, 0.45, 0.12),
    ("25-34", 30.0, 0.80, 0.40),
    ("35-44", 26.0, 0.80, 0.50),
    ("45-54", 17.0, 0.70, 0.45),
    ("55-64", 9.0, 0.50, 0.30),
    ("65+", 4.0, 0.15, 0.10),
];

const CHANNELS: [&str; 3] = ["h5", "app", "api"];
const H5: u8 = 0;
const APP: u8 = 1;

/// Engagement classes: share of new people, monthly retention, mean extra visit days a month.
const CLASSES: [(f64, f64, f64); 3] = [(0.35, 0.36, 1.5), (0.45, 0.63, 3.5), (0.20, 0.84, 7.0)];

// --- Services -----------------------------------------------------------------------------

/// Services as the server names them: name, department, median latency (ms), log-sd, weight as
/// the first service of a session.
const SERVICES: [(&str, &str, f64, f64, f64); 14] = [
    ("hpf.account", "hpf", 120.0, 0.45, 22.0),
    ("hpf.deposits", "hpf", 180.0, 0.50, 6.0),
    ("hpf.loan_quota", "hpf", 250.0, 0.50, 5.0),
    ("hpf.withdrawal", "hpf", 220.0, 0.55, 3.0),
    ("sscard.card", "hrss", 90.0, 0.40, 7.0),
    ("sscard.qr", "hrss", 60.0, 0.35, 22.0),
    ("sscard.activate", "hrss", 200.0, 0.50, 1.2),
    ("si.contributions", "hrss", 160.0, 0.50, 8.0),
    ("traffic.violations", "traffic", 140.0, 0.50, 16.0),
    ("traffic.vehicles", "traffic", 110.0, 0.45, 5.0),
    ("traffic.licence", "traffic", 100.0, 0.45, 5.0),
    ("traffic.pay", "traffic", 240.0, 0.55, 2.0),
    ("loan", "bank", 0.0, 0.0, 0.0),
    ("assistant", "bank", 0.0, 0.0, 0.0),
];
const HPF_ACCOUNT: u8 = 0;
const HPF_DEPOSITS: u8 = 1;
const HPF_LOAN_QUOTA: u8 = 2;
const HPF_WITHDRAWAL: u8 = 3;
const SSCARD_CARD: u8 = 4;
const SSCARD_QR: u8 = 5;
const SSCARD_ACTIVATE: u8 = 6;
const SI_CONTRIBUTIONS: u8 = 7;
const TRAFFIC_VIOLATIONS: u8 = 8;
const TRAFFIC_VEHICLES: u8 = 9;
const TRAFFIC_LICENCE: u8 = 10;
const TRAFFIC_PAY: u8 = 11;
const LOAN: u8 = 12;
const ASSISTANT: u8 = 13;
/// Citizen services (those with latency tables).
const CITIZEN_SERVICES: usize = 12;

/// What a person does next after a service, if anything: (next, chance), tried in order.
fn follow_ups(service: u8) -> &'static [(u8, f64)] {
    match service {
        HPF_ACCOUNT => &[
            (HPF_DEPOSITS, 0.35),
            (HPF_LOAN_QUOTA, 0.12),
            (HPF_WITHDRAWAL, 0.06),
        ],
        HPF_DEPOSITS => &[(HPF_WITHDRAWAL, 0.10), (HPF_LOAN_QUOTA, 0.05)],
        HPF_LOAN_QUOTA => &[(HPF_ACCOUNT, 0.10)],
        SSCARD_CARD => &[(SSCARD_QR, 0.30), (SI_CONTRIBUTIONS, 0.20)],
        SSCARD_ACTIVATE => &[(SSCARD_QR, 0.50)],
        SI_CONTRIBUTIONS => &[(SSCARD_CARD, 0.15), (HPF_ACCOUNT, 0.08)],
        TRAFFIC_VIOLATIONS => &[(TRAFFIC_VEHICLES, 0.10)],
        TRAFFIC_VEHICLES => &[(TRAFFIC_LICENCE, 0.15), (TRAFFIC_VIOLATIONS, 0.20)],
        TRAFFIC_LICENCE => &[(TRAFFIC_VIOLATIONS, 0.20)],
        _ => &[],
    }
}

const OUTCOMES: [&str; 15] = [
    "ok",
    "consent.required",
    "exchange.timeout",
    "exchange.unavailable",
    "traffic.amount_changed",
    "approved",
    "declined",
    "answer",
    "clarify",
    "handoff",
    "1",
    "2",
    "3",
    "4",
    "5",
];
const OK: u8 = 0;
const CONSENT_REQUIRED: u8 = 1;
const EXCHANGE_TIMEOUT: u8 = 2;
const EXCHANGE_UNAVAILABLE: u8 = 3;
const AMOUNT_CHANGED: u8 = 4;
const APPROVED: u8 = 5;
const DECLINED: u8 = 6;
const ANSWER: u8 = 7;
const CLARIFY: u8 = 8;
const HANDOFF: u8 = 9;
const SCORE_1: u8 = 10;

/// Survey scores 1–5, mostly 4 and 5.
const SCORES: [f64; 5] = [0.04, 0.04, 0.09, 0.28, 0.55];

/// Share of facts by China hour on weekdays, and on weekends and holidays (later mornings).
const HOURS_WEEKDAY: [f64; 24] = [
    1.2, 0.5, 0.25, 0.15, 0.15, 0.3, 1.0, 2.5, 4.5, 7.5, 8.5, 7.5, 5.0, 5.0, 7.0, 7.5, 6.5, 5.0,
    4.5, 5.5, 7.0, 7.0, 5.0, 2.5,
];
const HOURS_WEEKEND: [f64; 24] = [
    1.8, 0.8, 0.35, 0.2, 0.15, 0.25, 0.6, 1.2, 2.5, 5.0, 7.0, 7.5, 6.0, 5.5, 6.5, 6.5, 6.0, 5.0,
    5.0, 6.0, 7.5, 7.5, 6.0, 3.5,
];

/// 春节 (first day of the lunar year), for the holiday dip.
const SPRING_FESTIVALS: [(i32, u32, u32); 8] = [
    (2023, 1, 22),
    (2024, 2, 10),
    (2025, 1, 29),
    (2026, 2, 17),
    (2027, 2, 6),
    (2028, 1, 26),
    (2029, 2, 13),
    (2030, 2, 3),
];

// --- Random draws -------------------------------------------------------------------------

/// The random stream: ChaCha8, with every draw built on `next_u64` here.
struct Rng(ChaCha8Rng);

impl Rng {
    fn new(seed: u64) -> Rng {
        // The 32-byte key from splitmix64, so the stream depends on nothing but the seed.
        let mut state = seed;
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        Rng(ChaCha8Rng::from_seed(key))
    }

    fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn u32(&mut self) -> u32 {
        (self.u64() >> 32) as u32
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [lo, hi].
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A discrete distribution: cumulative thresholds out of 2^32.
#[derive(Debug, Clone)]
struct Table {
    cumulative: Vec<u64>,
}

impl Table {
    fn new(weights: &[f64]) -> Table {
        let total: f64 = weights.iter().sum();
        let mut sum = 0.0;
        let mut cumulative: Vec<u64> = weights
            .iter()
            .map(|weight| {
                sum += weight;
                ((sum / total) * 4_294_967_296.0).round() as u64
            })
            .collect();
        if let Some(last) = cumulative.last_mut() {
            *last = 1 << 32;
        }
        Table { cumulative }
    }

    fn pick(&self, rng: &mut Rng) -> usize {
        self.at(u64::from(rng.u32()))
    }

    /// The entry a draw `u` in [0, 2^32) falls in.
    fn at(&self, u: u64) -> usize {
        self.cumulative.partition_point(|&edge| edge <= u)
    }

    /// A pick among entries `from..`.
    fn pick_from(&self, from: usize, rng: &mut Rng) -> usize {
        let low = if from == 0 {
            0
        } else {
            self.cumulative[from - 1]
        };
        let u = low + ((u64::from(rng.u32()) * ((1 << 32) - low)) >> 32);
        self.at(u).max(from)
    }
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -39.696_830_286_653_76,
        220.946_098_424_520_5,
        -275.928_510_446_968_7,
        138.357_751_867_269,
        -30.664_798_066_147_16,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -54.476_098_798_224_06,
        161.585_836_858_040_9,
        -155.698_979_859_886_6,
        66.801_311_887_719_72,
        -13.280_681_552_885_72,
    ];
    const C: [f64; 6] = [
        -0.007_784_894_002_430_293,
        -0.322_396_458_041_136_5,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        0.007_784_695_709_041_462,
        0.322_467_129_070_039_8,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Latency quantiles of a log-normal, drawn by table lookup with interpolation.
const LATENCY_STEPS: usize = 1024;

struct Latency {
    quantiles: Vec<f32>,
}

impl Latency {
    fn new(median: f64, sigma: f64) -> Latency {
        let quantiles = (0..=LATENCY_STEPS)
            .map(|i| {
                let p = (i as f64 + 0.5) / (LATENCY_STEPS as f64 + 1.0);
                (median * (sigma * normal_quantile(p)).exp()) as f32
            })
            .collect();
        Latency { quantiles }
    }

    fn draw(&self, rng: &mut Rng) -> u32 {
        let u = rng.u32();
        let index = (u >> 22) as usize;
        let fraction = (u & 0x3F_FFFF) as f32 / 4_194_304.0;
        let low = self.quantiles[index];
        let high = self.quantiles[index + 1];
        let mut ms = low + (high - low) * fraction;
        // The slow tail: a busy backend now and then.
        if rng.chance(0.012) {
            ms *= 3.0 + rng.below(700) as f32 / 100.0;
        }
        (ms.round() as u32).clamp(8, 2_950)
    }
}

// --- People -------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Person {
    subject: [u8; 16],
    district: u8,
    age_band: u8,
    channel: u8,
    class: u8,
    /// Which entry-service mix: bit 0 pays into the housing fund, bit 1 owns a car.
    mix: u8,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: &[u8; 16]) -> String {
    let mut text = String::with_capacity(32);
    for byte in bytes {
        text.push(HEX[usize::from(byte >> 4)] as char);
        text.push(HEX[usize::from(byte & 0xF)] as char);
    }
    text
}

// --- Events -------------------------------------------------------------------------------

/// A fact before it is spelled out: times in ms since the first day's China midnight.
#[derive(Debug, Clone, Copy)]
struct Event {
    at: u64,
    seq: u32,
    person: u32,
    latency: u32,
    metric: Metric,
    service: u8,
    outcome: u8,
    channel: u8,
}

/// Everything fixed for a run.
struct Model {
    districts: Table,
    district_codes: Vec<&'static str>,
    ages: Table,
    classes: Table,
    /// Extra visit days a month, per class (a geometric distribution).
    visits: Vec<Table>,
    /// Entry service per mix (bit 2: July, when hpf accounts are checked after interest).
    entries: Vec<Table>,
    latency: Vec<Latency>,
    hours_weekday: Table,
    hours_weekend: Table,
    scores: Table,
}

impl Model {
    fn new() -> Model {
        let district_codes: Vec<&'static str> = CHENGDU_DISTRICTS.iter().map(|d| d.code).collect();
        let district_weights: Vec<f64> = district_codes
            .iter()
            .map(|code| {
                DISTRICT_WEIGHTS
                    .iter()
                    .find(|(c, _)| c == code)
                    .map_or(50.0, |(_, weight)| *weight)
            })
            .collect();
        let visits = CLASSES
            .iter()
            .map(|&(_, _, mean)| {
                // P(extra = k) = (1 - q) q^k with mean q / (1 - q).
                let q = mean / (1.0 + mean);
                let mut p = 1.0 - q;
                let weights: Vec<f64> = (0..31)
                    .map(|_| {
                        let w = p;
                        p *= q;
                        w
                    })
                    .collect();
                Table::new(&weights)
            })
            .collect();
        let entries = (0..8u8)
            .map(|mix| {
                let weights: Vec<f64> = SERVICES[..CITIZEN_SERVICES]
                    .iter()
                    .map(|&(name, department, _, _, weight)| {
                        let mut weight = weight;
                        if department == "hpf" {
                            if mix & 1 == 0 {
                                weight *= 0.08;
                            } else if mix & 4 != 0 && name != "hpf.withdrawal" {
                                weight *= 1.4;
                            }
                        }
                        if department == "traffic" && mix & 2 == 0 {
                            weight *= 0.15;
                        }
                        weight
                    })
                    .collect();
                Table::new(&weights)
            })
            .collect();
        Model {
            districts: Table::new(&district_weights),
            district_codes,
            ages: Table::new(&AGE_BANDS.map(|(_, weight, _, _)| weight)),
            classes: Table::new(&CLASSES.map(|(share, _, _)| share)),
            visits,
            entries,
            latency: SERVICES[..CITIZEN_SERVICES]
                .iter()
                .map(|&(_, _, median, sigma, _)| Latency::new(median, sigma))
                .collect(),
            hours_weekday: Table::new(&HOURS_WEEKDAY),
            hours_weekend: Table::new(&HOURS_WEEKEND),
            scores: Table::new(&SCORES),
        }
    }

    fn person(&self, rng: &mut Rng) -> Person {
        let mut subject = [0u8; 16];
        subject[..8].copy_from_slice(&rng.u64().to_le_bytes());
        subject[8..].copy_from_slice(&rng.u64().to_le_bytes());
        let age_band = self.ages.pick(rng);
        let (_, _, hpf, car) = AGE_BANDS[age_band];
        let mut mix = 0;
        if rng.chance(hpf) {
            mix |= 1;
        }
        if rng.chance(car) {
            mix |= 2;
        }
        Person {
            subject,
            district: self.districts.pick(rng) as u8,
            age_band: age_band as u8,
            channel: if rng.chance(0.30) { APP } else { H5 },
            class: self.classes.pick(rng) as u8,
            mix,
        }
    }
}

/// How busy a China day is, relative to an ordinary weekday.
fn day_weight(date: NaiveDate) -> f64 {
    let (month, day) = (date.month(), date.day());
    let holiday = (month == 1 && day == 1)
        || (month == 5 && day <= 5)
        || (month == 10 && day <= 7)
        || SPRING_FESTIVALS.iter().any(|&(y, m, d)| {
            NaiveDate::from_ymd_opt(y, m, d).is_some_and(|festival| {
                let offset = (date - festival).num_days();
                (-1..=6).contains(&offset)
            })
        });
    if holiday {
        return 0.45;
    }
    let mut weight = match date.weekday() {
        Weekday::Sat | Weekday::Sun => 0.6,
        _ => 1.0,
    };
    // Month end: salaries, contributions and bills.
    if day >= 28 {
        weight *= 1.1;
    }
    weight
}

fn is_rest_day(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || day_weight(date) < 0.5
}

/// A calendar month's part of the window.
struct Month {
    year: i32,
    month: u32,
    /// Its first and last day, as indices into the window.
    first: u32,
    last: u32,
    /// Days in the whole calendar month.
    length: u32,
}

fn months_of(start: NaiveDate, days: u32) -> Vec<Month> {
    let mut months: Vec<Month> = Vec::new();
    for index in 0..days {
        let date = start + TimeDelta::days(i64::from(index));
        match months.last_mut() {
            Some(month) if month.year == date.year() && month.month == date.month() => {
                month.last = index;
            }
            _ => {
                let next = if date.month() == 12 {
                    NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
                };
                let first = date.with_day(1).unwrap_or(date);
                let length = next.map_or(31, |next| (next - first).num_days() as u32);
                months.push(Month {
                    year: date.year(),
                    month: date.month(),
                    first: index,
                    last: index,
                    length,
                });
            }
        }
    }
    months
}

/// The generator's running state.
struct Generator<'a> {
    model: Model,
    rng: Rng,
    people: Vec<Person>,
    /// Events after the day being generated, per day of the window.
    pending: Vec<Vec<Event>>,
    /// The day being generated, and its events.
    today: u64,
    events: Vec<Event>,
    /// Order of pushing, the tie-break between events at the same millisecond.
    seq: u32,
    start: DateTime<Utc>,
    sink: &'a mut dyn FnMut(Fact),
    facts: u64,
}

impl Generator<'_> {
    fn push(&mut self, mut event: Event) {
        let day = event.at / DAY_MS;
        event.seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        if day == self.today {
            self.events.push(event);
        } else if let Some(later) = self.pending.get_mut(day as usize) {
            later.push(event);
        }
        // Beyond the window: not yet happened.
    }

    fn event(&self, at: u64, person: u32, metric: Metric, service: u8, outcome: u8) -> Event {
        Event {
            at,
            seq: 0,
            person,
            latency: NO_LATENCY,
            metric,
            service,
            outcome,
            channel: self.people[person as usize].channel,
        }
    }

    /// One session starting at `at`.
    fn session(&mut self, person: u32, mut at: u64, july: bool) {
        let profile = self.people[person as usize];
        let mix = usize::from(profile.mix) | if july { 4 } else { 0 };
        let mut service = self.model.entries[mix].pick(&mut self.rng) as u8;
        let mut loan_interest = false;
        for _ in 0..5 {
            let channel = if self.rng.chance(0.08) {
                profile.channel ^ 1
            } else {
                profile.channel
            };
            let mut outcome = self.outcome(service);
            if outcome == CONSENT_REQUIRED {
                self.use_service(person, at, service, channel, outcome);
                if !self.rng.chance(0.75) {
                    break;
                }
                // Consents, and tries again.
                at += self.rng.between(10_000, 60_000);
                outcome = loop {
                    let retry = self.outcome(service);
                    if retry != CONSENT_REQUIRED {
                        break retry;
                    }
                };
            }
            self.use_service(person, at, service, channel, outcome);
            if outcome != OK {
                break;
            }
            if service == HPF_LOAN_QUOTA {
                loan_interest = true;
            }
            if service == TRAFFIC_PAY && self.rng.chance(0.04) {
                // The follow-up survey, answered within a day or two.
                let later = at + self.rng.between(2 * 3_600_000, 2 * DAY_MS);
                self.survey(person, later);
            }
            let next = if service == TRAFFIC_VIOLATIONS {
                // Some have a fine to pay.
                if self.rng.chance(0.28) {
                    Some(TRAFFIC_PAY)
                } else {
                    self.follow_up(service)
                }
            } else {
                self.follow_up(service)
            };
            match next {
                Some(next) => {
                    service = next;
                    at += self.rng.between(5_000, 90_000);
                }
                None => break,
            }
        }
        let apply = if loan_interest { 0.018 } else { 0.0007 };
        if self.rng.chance(apply) {
            at += self.rng.between(30_000, 180_000);
            self.loan(person, at);
        }
        if self.rng.chance(ASSISTANT_ASKED) {
            for _ in 0..4 {
                at += self.rng.between(15_000, 120_000);
                let u = self.rng.unit();
                let outcome = if u < 0.55 {
                    ANSWER
                } else if u < 0.85 {
                    CLARIFY
                } else {
                    HANDOFF
                };
                let event = self.event(at, person, Metric::AssistantTurn, ASSISTANT, outcome);
                self.push(event);
                if outcome != CLARIFY || !self.rng.chance(0.55) {
                    break;
                }
            }
        }
    }

    fn outcome(&mut self, service: u8) -> u8 {
        let u = self.rng.unit();
        if u < 0.03 {
            CONSENT_REQUIRED
        } else if u < 0.033 {
            EXCHANGE_TIMEOUT
        } else if u < 0.035 {
            EXCHANGE_UNAVAILABLE
        } else if service == TRAFFIC_PAY && u < 0.05 {
            AMOUNT_CHANGED
        } else {
            OK
        }
    }

    fn follow_up(&mut self, service: u8) -> Option<u8> {
        let u = self.rng.unit();
        let mut sum = 0.0;
        for &(next, chance) in follow_ups(service) {
            sum += chance;
            if u < sum {
                return Some(next);
            }
        }
        None
    }

    fn use_service(&mut self, person: u32, at: u64, service: u8, channel: u8, outcome: u8) {
        let latency = match outcome {
            CONSENT_REQUIRED => self.rng.between(6, 35) as u32,
            EXCHANGE_TIMEOUT => 3_000 + self.rng.below(15) as u32,
            EXCHANGE_UNAVAILABLE => self.rng.between(15, 80) as u32,
            _ => self.model.latency[usize::from(service)].draw(&mut self.rng),
        };
        let mut event = self.event(at, person, Metric::ServiceUse, service, outcome);
        event.latency = latency;
        event.channel = channel;
        self.push(event);
    }

    fn survey(&mut self, person: u32, at: u64) {
        let score = SCORE_1 + self.model.scores.pick(&mut self.rng) as u8;
        let event = self.event(at, person, Metric::Survey, ASSISTANT, score);
        self.push(event);
    }

    /// A 闪电贷 application at `at` and what follows it.
    fn loan(&mut self, person: u32, mut at: u64) {
        let applied = self.event(at, person, Metric::LoanApplied, LOAN, OK);
        self.push(applied);
        let decision_ms = self.rng.between(180, 450);
        at += decision_ms;
        let approved = self.rng.chance(0.35);
        let outcome = if approved { APPROVED } else { DECLINED };
        let mut decided = self.event(at, person, Metric::LoanDecided, LOAN, outcome);
        decided.latency = decision_ms as u32;
        self.push(decided);
        if !approved {
            return;
        }
        if self.rng.chance(0.05) {
            let later = at + self.rng.between(DAY_MS, 3 * DAY_MS);
            self.survey(person, later);
        }
        if !self.rng.chance(0.80) {
            return;
        }
        at += if self.rng.chance(0.65) {
            self.rng.between(60_000, 3_600_000)
        } else {
            self.rng.between(3_600_000, 30 * 3_600_000)
        };
        let signed = self.event(at, person, Metric::LoanSigned, LOAN, OK);
        self.push(signed);
        if !self.rng.chance(0.90) {
            return;
        }
        at += if self.rng.chance(0.6) {
            self.rng.between(10_000, 1_800_000)
        } else {
            self.rng.between(3_600_000, 5 * DAY_MS)
        };
        let drawn = self.event(at, person, Metric::LoanDrawn, LOAN, OK);
        self.push(drawn);
    }

    /// Sorts the day's events and hands them to the sink as facts.
    fn emit_day(&mut self) {
        self.events
            .sort_unstable_by_key(|event| (event.at, event.seq));
        for event in &self.events {
            let person = &self.people[event.person as usize];
            let (service, department, ..) = SERVICES[usize::from(event.service)];
            let fact = Fact {
                metric: event.metric,
                at: self.start + TimeDelta::milliseconds(event.at as i64),
                service: service.to_owned(),
                department: department.to_owned(),
                district: Some(self.model.district_codes[usize::from(person.district)].to_owned()),
                channel: CHANNELS[usize::from(event.channel)].to_owned(),
                outcome: OUTCOMES[usize::from(event.outcome)].to_owned(),
                age_band: Some(AGE_BANDS[usize::from(person.age_band)].0.to_owned()),
                subject: (event.metric == Metric::ServiceUse).then(|| hex(&person.subject)),
                latency_ms: (event.latency != NO_LATENCY).then_some(u64::from(event.latency)),
            };
            (self.sink)(fact);
        }
        self.facts += self.events.len() as u64;
        self.events.clear();
    }
}

/// Generates the history `config` describes, handing each fact to `sink` in time order (day by
/// day, sorted within the day), and reports what it generated.
///
/// District is the 6-digit code, as the server's events carry it; loan, assistant and survey
/// facts have no subject, as the real events name none.
pub fn generate(config: &HistoryConfig, sink: &mut dyn FnMut(Fact)) -> HistoryReport {
    let start_day = config.end - TimeDelta::days(i64::from(config.days.max(1)) - 1);
    let start = start_day
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        - TimeDelta::hours(8);
    let model = Model::new();
    let mut generator = Generator {
        model,
        rng: Rng::new(config.seed),
        people: Vec::new(),
        pending: vec![Vec::new(); config.days as usize],
        today: 0,
        events: Vec::new(),
        seq: 0,
        start,
        sink,
        facts: 0,
    };
    let scale = if config.scale.is_finite() {
        config.scale.max(0.0)
    } else {
        0.0
    };
    let mut report = HistoryReport {
        facts: 0,
        people: 0,
        monthly_active: Vec::new(),
    };
    let mut active: Vec<u32> = Vec::new();
    let mut previous: Vec<u32> = Vec::new();
    let mut dormant: Vec<u32> = Vec::new();
    let mut visits: Vec<Vec<u32>> = Vec::new();
    for month in months_of(start_day, config.days) {
        // Who is active: those who stay, those who return, and new people up to the curve.
        active.clear();
        for &person in &previous {
            let (_, retention, _) = CLASSES[usize::from(generator.people[person as usize].class)];
            if generator.rng.chance(retention) {
                active.push(person);
            } else {
                dormant.push(person);
            }
        }
        dormant.retain(|&person| {
            if generator.rng.chance(REACTIVATION) {
                active.push(person);
                false
            } else {
                true
            }
        });
        let covered = month.last - month.first + 1;
        let middle = f64::from(month.first + month.last + 1) / 2.0;
        let target = FIRST_MONTH_ACTIVE
            * scale
            * MONTHLY_GROWTH.powf((middle - 15.2) / 30.44)
            * (f64::from(covered) / f64::from(month.length)).powf(0.7);
        let target = target.round() as usize;
        let returning = active.len();
        while active.len() < target {
            let person = generator.model.person(&mut generator.rng);
            active.push(generator.people.len() as u32);
            generator.people.push(person);
        }

        // When they come: visit days weighted by how busy each day is.
        let dates: Vec<NaiveDate> = (month.first..=month.last)
            .map(|index| start_day + TimeDelta::days(i64::from(index)))
            .collect();
        let days = Table::new(&dates.iter().map(|&d| day_weight(d)).collect::<Vec<_>>());
        visits.resize_with(dates.len(), Vec::new);
        for (index, &person) in active.iter().enumerate() {
            let class = usize::from(generator.people[person as usize].class);
            let extra = generator.model.visits[class].pick(&mut generator.rng);
            // New people come first on their day of joining, and after it.
            let first = if index >= returning {
                days.pick(&mut generator.rng)
            } else {
                0
            };
            if index >= returning {
                visits[first].push(person);
            }
            let count = if index >= returning { extra } else { extra + 1 };
            for _ in 0..count {
                let day = days.pick_from(first, &mut generator.rng);
                visits[day].push(person);
            }
        }
        report.monthly_active.push((
            format!("{:04}-{:02}", month.year, month.month),
            active.len() as u64,
        ));

        // Day by day: the sessions, then everything of the day in time order.
        for (offset, date) in dates.iter().enumerate() {
            let index = u64::from(month.first) + offset as u64;
            generator.today = index;
            let mut carried = std::mem::take(&mut generator.pending[index as usize]);
            generator.events.append(&mut carried);
            let day_start = index * DAY_MS;
            let rest = is_rest_day(*date);
            let july = date.month() == 7;
            let people = std::mem::take(&mut visits[offset]);
            for &person in &people {
                let sessions = 1
                    + u32::from(generator.rng.chance(SECOND_SESSION))
                    + u32::from(generator.rng.chance(THIRD_SESSION));
                for _ in 0..sessions {
                    let hours = if rest {
                        &generator.model.hours_weekend
                    } else {
                        &generator.model.hours_weekday
                    };
                    let hour = hours.pick(&mut generator.rng) as u64;
                    // Sessions last under half an hour: none starts after 23:30.
                    let within = if hour == 23 { 1_800_000 } else { 3_600_000 };
                    let at = day_start + hour * 3_600_000 + generator.rng.below(within);
                    generator.session(person, at, july);
                }
            }
            visits[offset] = people;
            visits[offset].clear();
            generator.emit_day();
        }
        std::mem::swap(&mut previous, &mut active);
    }
    report.facts = generator.facts;
    report.people = generator.people.len() as u64;
    report
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::OnceLock;
    use std::time::Instant;

    use chrono::{FixedOffset, Timelike};

    use super::*;

    fn config(scale: f64, days: u32) -> HistoryConfig {
        HistoryConfig {
            seed: 20_260_101,
            end: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            days,
            scale,
        }
    }

    fn china_date(at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
            .date_naive()
    }

    /// What one run at scale 0.2 over a year looked like.
    struct Summary {
        report: HistoryReport,
        seconds: f64,
        first: NaiveDate,
        last: NaiveDate,
        in_order: bool,
        districts_known: bool,
        by_hour: [u64; 24],
        by_metric: HashMap<Metric, u64>,
        approved: u64,
        subjects: usize,
        outcomes: HashMap<String, u64>,
        mean_dau: f64,
        /// Of a month's actives, the share active the month after.
        retention: f64,
    }

    fn summary() -> &'static Summary {
        static SUMMARY: OnceLock<Summary> = OnceLock::new();
        SUMMARY.get_or_init(|| run(&config(0.2, 365)))
    }

    fn run(config: &HistoryConfig) -> Summary {
        let codes: HashSet<&str> = CHENGDU_DISTRICTS.iter().map(|d| d.code).collect();
        let china = FixedOffset::east_opt(8 * 3600).unwrap();
        let mut first = NaiveDate::MAX;
        let mut last = NaiveDate::MIN;
        let mut previous = DateTime::<Utc>::MIN_UTC;
        let mut in_order = true;
        let mut districts_known = true;
        let mut by_hour = [0u64; 24];
        let mut by_metric = HashMap::new();
        let mut approved = 0;
        let mut subjects = HashSet::new();
        let mut outcomes = HashMap::new();
        let mut daily = HashSet::new();
        let mut dau_sum = 0u64;
        let mut day = NaiveDate::MIN;
        let mut monthly: Vec<HashSet<String>> = Vec::new();
        let mut month = 0;
        let started = Instant::now();
        let report = generate(config, &mut |fact: Fact| {
            let local = fact.at.with_timezone(&china);
            let date = local.date_naive();
            first = first.min(date);
            last = last.max(date);
            in_order &= fact.at >= previous;
            previous = fact.at;
            districts_known &= fact.district.as_deref().is_some_and(|d| codes.contains(d));
            by_hour[local.hour() as usize] += 1;
            *by_metric.entry(fact.metric).or_insert(0) += 1;
            if fact.metric == Metric::LoanDecided && fact.outcome == "approved" {
                approved += 1;
            }
            if fact.metric == Metric::ServiceUse {
                *outcomes.entry(fact.outcome.clone()).or_insert(0) += 1;
            }
            if date != day {
                dau_sum += daily.len() as u64;
                daily.clear();
                day = date;
            }
            if let Some(subject) = fact.subject {
                assert_eq!(subject.len(), 32);
                if date.month() != month || monthly.is_empty() {
                    month = date.month();
                    monthly.push(HashSet::new());
                }
                monthly.last_mut().unwrap().insert(subject.clone());
                daily.insert(subject.clone());
                subjects.insert(subject);
            }
        });
        dau_sum += daily.len() as u64;
        let seconds = started.elapsed().as_secs_f64();
        let (kept, before) = monthly.windows(2).fold((0, 0), |(kept, before), pair| {
            (
                kept + pair[0].intersection(&pair[1]).count(),
                before + pair[0].len(),
            )
        });
        Summary {
            retention: kept as f64 / before.max(1) as f64,
            mean_dau: dau_sum as f64 / f64::from(config.days),
            report,
            seconds,
            first,
            last,
            in_order,
            districts_known,
            by_hour,
            by_metric,
            approved,
            subjects: subjects.len(),
            outcomes,
        }
    }

    #[test]
    fn the_same_config_yields_the_same_facts() {
        let config = config(0.05, 120);
        let mut runs = Vec::new();
        for _ in 0..2 {
            let mut facts = Vec::new();
            let report = generate(&config, &mut |fact| facts.push(fact));
            assert_eq!(report.facts, facts.len() as u64);
            runs.push((report, facts));
        }
        let (a, b) = (&runs[0], &runs[1]);
        assert_eq!(a.0, b.0);
        assert!(a.1.len() > 5_000, "{} facts", a.1.len());
        assert_eq!(a.1.first(), b.1.first());
        assert_eq!(a.1.last(), b.1.last());
        assert!(a.1 == b.1, "every fact equal");
        let other = generate(
            &HistoryConfig {
                seed: 7,
                ..config.clone()
            },
            &mut |_| {},
        );
        assert_ne!(other, a.0, "another seed, another history");
    }

    #[test]
    fn monthly_actives_grow_by_about_thirty_percent() {
        let summary = summary();
        let months = &summary.report.monthly_active;
        assert_eq!(months.len(), 12);
        assert_eq!(months[0].0, "2026-01");
        assert_eq!(months[11].0, "2026-12");
        let growth: Vec<f64> = months
            .windows(2)
            .map(|pair| pair[1].1 as f64 / pair[0].1 as f64 - 1.0)
            .collect();
        let mean = growth.iter().sum::<f64>() / growth.len() as f64;
        assert!((0.20..=0.40).contains(&mean), "mean growth {mean}");
        assert!(growth.iter().all(|&g| g > 0.1), "{growth:?}");
        assert!(
            (0.55..=0.80).contains(&summary.retention),
            "retention {}",
            summary.retention
        );
        // DAU/MAU in the last month.
        let dau_mau = summary.mean_dau / (months.iter().map(|m| m.1).sum::<u64>() as f64 / 12.0);
        assert!((0.05..=0.30).contains(&dau_mau), "DAU/MAU {dau_mau}");
    }

    #[test]
    fn about_a_hundred_and_twenty_thousand_people_a_year_at_scale_one() {
        let summary = summary();
        let expected = 120_000.0 * 0.2;
        let people = summary.report.people as f64;
        assert!(
            (people / expected - 1.0).abs() <= 0.20,
            "{people} people for {expected}"
        );
        assert_eq!(
            summary.subjects as u64, summary.report.people,
            "every person appears"
        );
        let facts = summary.report.facts as f64 / 0.2;
        assert!(
            (1_000_000.0..=3_000_000.0).contains(&facts),
            "{facts} facts at scale 1"
        );
    }

    #[test]
    fn facts_are_in_the_window_in_order_and_in_chengdu() {
        let summary = summary();
        assert_eq!(summary.first, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert_eq!(summary.last, NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        assert!(summary.in_order);
        assert!(summary.districts_known);
        // A short window ending mid-month.
        let config = HistoryConfig {
            end: NaiveDate::from_ymd_opt(2026, 3, 10).unwrap(),
            ..config(0.05, 20)
        };
        let mut dates = Vec::new();
        let report = generate(&config, &mut |fact| dates.push(china_date(fact.at)));
        assert_eq!(
            report
                .monthly_active
                .iter()
                .map(|m| m.0.as_str())
                .collect::<Vec<_>>(),
            ["2026-02", "2026-03"]
        );
        assert_eq!(
            dates.iter().min(),
            NaiveDate::from_ymd_opt(2026, 2, 19).as_ref()
        );
        assert_eq!(dates.iter().max(), Some(&config.end));
    }

    #[test]
    fn the_loan_funnel_narrows() {
        let summary = summary();
        let count = |metric| summary.by_metric.get(&metric).copied().unwrap_or(0);
        let applied = count(Metric::LoanApplied);
        let decided = count(Metric::LoanDecided);
        let signed = count(Metric::LoanSigned);
        let drawn = count(Metric::LoanDrawn);
        // Decisions of applications on the last day may fall... on the same day: ≥ not >.
        assert!(applied >= decided && decided >= summary.approved);
        assert!(summary.approved > signed && signed > drawn && drawn > 0);
        assert!(applied > drawn);
        let person_months: u64 = summary.report.monthly_active.iter().map(|m| m.1).sum();
        let share = applied as f64 / person_months as f64;
        assert!((0.005..=0.03).contains(&share), "applied {share}");
        let approval = summary.approved as f64 / decided as f64;
        assert!((0.28..=0.42).contains(&approval), "approved {approval}");
        let turns = count(Metric::AssistantTurn) as f64 / person_months as f64;
        assert!((0.5..=1.0).contains(&turns), "turns {turns}");
        assert!(count(Metric::Survey) > 0);
    }

    #[test]
    fn days_and_outcomes_look_like_people() {
        let summary = summary();
        assert!(summary.by_hour[10] > 20 * summary.by_hour[4].max(1));
        assert!(summary.by_hour[21] > summary.by_hour[18]);
        let uses: u64 = summary.outcomes.values().sum();
        let share = |outcome: &str| {
            summary.outcomes.get(outcome).copied().unwrap_or(0) as f64 / uses as f64
        };
        assert!(share("ok") > 0.95);
        assert!((0.02..=0.04).contains(&share("consent.required")));
        assert!(share("exchange.timeout") > 0.0 && share("exchange.timeout") < 0.01);
        assert!(share("traffic.amount_changed") > 0.0);
    }

    #[test]
    fn reports_its_numbers() {
        // Scale 1.0 with its speed in release (`cargo test --release -- --nocapture`), a small
        // run in debug.
        let scale = if cfg!(debug_assertions) { 0.05 } else { 1.0 };
        let summary = run(&config(scale, 365));
        let mut count = 0u64;
        let started = Instant::now();
        let report = generate(&config(scale, 365), &mut |_| count += 1);
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(report, summary.report);
        let person_months: u64 = report.monthly_active.iter().map(|m| m.1).sum();
        println!(
            "history at scale {scale}: {} facts, {} people, {:.0} facts/s generated \
             ({:.0} facts/s with the checks); DAU/MAU {:.3}, retention {:.3}",
            report.facts,
            report.people,
            report.facts as f64 / seconds,
            report.facts as f64 / summary.seconds,
            summary.mean_dau / (person_months as f64 / 12.0),
            summary.retention,
        );
        println!("monthly actives: {:?}", report.monthly_active);
        let mut metrics: Vec<_> = summary.by_metric.iter().collect();
        metrics.sort();
        println!("by metric: {metrics:?}; approved {}", summary.approved);
        println!("by hour: {:?}", summary.by_hour);
        let mut outcomes: Vec<_> = summary.outcomes.iter().collect();
        outcomes.sort();
        println!("service-use outcomes: {outcomes:?}");
        if !cfg!(debug_assertions) {
            let started = Instant::now();
            let report = generate(&config(4.0, 365), &mut |_| {});
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "history at scale 4: {} facts, {} people, {:.0} facts/s generated",
                report.facts,
                report.people,
                report.facts as f64 / seconds
            );
        }
    }
}
