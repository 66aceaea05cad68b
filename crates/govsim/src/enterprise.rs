//! A集团, the core enterprise of the supply-chain finance scenario, and its distributors
//! across China (850 by default).
//!
//! A集团's books close month by month with the simulator's clock: [`closed_month`] is the
//! last closed month, at least [`LAST_CLOSED_MONTH`] (2026-10). Every distributor's figures
//! are generated from [`BOOKS_ORIGIN`] (2024-11) onwards from its own stream, so a month's
//! figures never change when later months close.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use bianmin_core::Money;
use bianmin_core::clock::CHINA_STANDARD_TIME;

use crate::calendar::{HISTORY_MONTHS, LAST_CLOSED_MONTH, REFERENCE_DATE, YearMonth};
use crate::population::{logistic, pick_weighted, yuan};
use crate::seeding::{Permutation, Stream, mix, stream_rng};
use crate::uscc::Uscc;

/// Number of distributors by default.
pub const DISTRIBUTOR_COUNT: u16 = 850;

/// Largest network a population may have (see
/// [`Population::with_distributors`](crate::Population::with_distributors)).
pub const MAX_DISTRIBUTORS: u32 = 20_000;

/// The first month of A集团's books: every distributor's figures are generated from here
/// (the first month of the reference window, 2024-11).
pub const BOOKS_ORIGIN: YearMonth = LAST_CLOSED_MONTH.plus(1 - HISTORY_MONTHS as i32);

/// How far [`closed_month`] lets the books run ahead of the clock, in months (a century).
pub const MAX_BOOKS_AHEAD: u32 = 1_200;

/// A集团's last closed month at `now`, with the books moved `ahead` months (at most
/// [`MAX_BOOKS_AHEAD`]): the month before today's in Beijing, but never before
/// [`LAST_CLOSED_MONTH`], plus `ahead`.
pub fn closed_month(now: DateTime<Utc>, ahead: u32) -> YearMonth {
    let today = now.with_timezone(&CHINA_STANDARD_TIME).date_naive();
    let ahead = i32::try_from(ahead.min(MAX_BOOKS_AHEAD)).unwrap_or(0);
    YearMonth::of(today)
        .plus(-1)
        .max(LAST_CLOSED_MONTH)
        .plus(ahead)
}

/// The date A集团's answers describe when `closed` is its last closed month: the 29th of the
/// following month (clamped to the month's end), so [`REFERENCE_DATE`] (2026-11-29) for
/// 2026-10.
pub fn books_date(closed: YearMonth) -> NaiveDate {
    closed.plus(1).day(REFERENCE_DATE.day())
}

/// (category, price of a case in yuan) of the goods on open orders.
const GOODS: [(&str, i64); 7] = [
    ("饮料类", 60),
    ("休闲食品", 90),
    ("乳制品", 70),
    ("方便食品", 55),
    ("调味品", 45),
    ("酒类", 240),
    ("粮油制品", 120),
];

/// Owners are people aged 28–60 on the reference date.
const OWNER_AGES: std::ops::RangeInclusive<u32> = 28..=60;

/// (province, city, prefecture code, weight): Sichuan carries about 40 % of the network.
const CITIES: [(&str, &str, &str, u32); 31] = [
    ("四川省", "成都市", "510100", 120),
    ("四川省", "绵阳市", "510700", 25),
    ("四川省", "德阳市", "510600", 20),
    ("四川省", "宜宾市", "511500", 20),
    ("四川省", "南充市", "511300", 20),
    ("四川省", "乐山市", "511100", 15),
    ("四川省", "泸州市", "510500", 15),
    ("四川省", "达州市", "511700", 12),
    ("四川省", "自贡市", "510300", 10),
    ("四川省", "眉山市", "511400", 10),
    ("重庆市", "重庆市", "500103", 60),
    ("贵州省", "贵阳市", "520100", 45),
    ("贵州省", "遵义市", "520300", 15),
    ("云南省", "昆明市", "530100", 45),
    ("陕西省", "西安市", "610100", 40),
    ("湖北省", "武汉市", "420100", 30),
    ("湖南省", "长沙市", "430100", 30),
    ("广东省", "广州市", "440100", 25),
    ("广东省", "深圳市", "440300", 15),
    ("河南省", "郑州市", "410100", 25),
    ("甘肃省", "兰州市", "620100", 15),
    ("广西壮族自治区", "南宁市", "450100", 20),
    ("青海省", "西宁市", "630100", 8),
    ("宁夏回族自治区", "银川市", "640100", 8),
    ("新疆维吾尔自治区", "乌鲁木齐市", "650100", 10),
    ("西藏自治区", "拉萨市", "540100", 5),
    ("江苏省", "南京市", "320100", 15),
    ("浙江省", "杭州市", "330100", 15),
    ("山东省", "济南市", "370100", 12),
    ("北京市", "北京市", "110105", 10),
    ("上海市", "上海市", "310104", 10),
];

const NAME_CORES: [&str; 24] = [
    "顺达",
    "恒通",
    "鑫旺",
    "盛源",
    "永辉",
    "华联",
    "佳和",
    "福瑞",
    "兴隆",
    "宏运",
    "金诚",
    "汇丰源",
    "利民",
    "广进",
    "万家",
    "益民",
    "天诚",
    "鼎盛",
    "润泽",
    "德顺",
    "嘉信",
    "丰泽",
    "同兴",
    "荣昌",
];

/// Level in the distribution network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistributorTier {
    /// 一级经销商: buys directly from A集团.
    First,
    /// 二级经销商: buys through a first-tier distributor, settles with A集团.
    Second,
}

/// How a distributor's business moves over the 24 months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// About 1.2 % more each month.
    Growing,
    /// Flat.
    Stable,
    /// ±25 % around the Spring Festival peak.
    Seasonal,
    /// Falling orders, slower and partial payments and more returns from a turning month.
    Deteriorating,
}

/// A集团's view of a distributor's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistributorStatus {
    /// 正常合作.
    Active,
    /// 重点关注: payments have slipped for three months or more.
    Watch,
    /// 暂停供货: credit supply suspended.
    Suspended,
}

/// One distributor.
#[derive(Debug, Clone)]
pub struct Distributor {
    /// Position in [`AGroup::distributors`].
    pub number: u16,
    /// 统一社会信用代码.
    pub uscc: Uscc,
    /// Registered name.
    pub name: String,
    /// Province.
    pub province: &'static str,
    /// City.
    pub city: &'static str,
    /// Index of the owner in the population.
    pub owner: u32,
    /// Network level.
    pub tier: DistributorTier,
    /// Month the distribution agreement was signed.
    pub joined: YearMonth,
    /// Credit limit granted by A集团.
    pub credit_limit: Money,
    /// How the business moves (hidden from A集团's answers, visible in the figures).
    pub trend: Trend,
    base_orders: f64,
    average_order: f64,
    turn: u32,
    pd: f64,
    seed: u64,
}

/// One purchase order a distributor placed with A集团, before any payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseOrder {
    /// Order number: `PO`, the day placed (`yyyymmdd`) and five digits.
    pub order_no: String,
    /// Day placed.
    pub placed_on: NaiveDate,
    /// Invoice value, in whole yuan.
    pub amount: Money,
    /// Day payment falls due (30-day terms).
    pub due_on: NaiveDate,
    /// What was ordered, e.g. `饮料类 120 箱`.
    pub goods: String,
}

/// One month of trade with A集团.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeMonth {
    /// Month.
    pub month: YearMonth,
    /// Number of orders placed.
    pub order_count: u32,
    /// Value of orders (at invoice price).
    pub orders: Money,
    /// Value of goods returned.
    pub returns: Money,
    /// Amount falling due (last month's net orders, on 30-day terms).
    pub due: Money,
    /// Amount paid.
    pub paid: Money,
    /// Average days late of this month's payments.
    pub days_late: u32,
    /// Amount owed to A集团 at month end.
    pub receivable: Money,
}

impl Distributor {
    /// The hidden truth: probability that the distributor defaults on A集团 within twelve
    /// months. Never reported by any service.
    pub fn true_pd(&self) -> f64 {
        self.pd
    }

    /// The month deterioration starts (its first month of falling orders and late
    /// payments), for a deteriorating distributor; `None` for the others. About a quarter of
    /// them turn in the six months after [`LAST_CLOSED_MONTH`], so they look healthy on the
    /// reference date. The hidden truth: never reported by any service.
    pub fn deteriorates_from(&self) -> Option<YearMonth> {
        (self.trend == Trend::Deteriorating).then(|| BOOKS_ORIGIN.plus(self.turn as i32))
    }

    /// Tenure in months on the reference date.
    pub fn tenure_months(&self) -> u32 {
        self.tenure_months_at(LAST_CLOSED_MONTH)
    }

    /// Tenure in months at the end of `closed`.
    pub fn tenure_months_at(&self, closed: YearMonth) -> u32 {
        u32::try_from(closed.months_since(self.joined) + 1).unwrap_or(0)
    }

    /// Status as A集团 sees it on the reference date (end of [`LAST_CLOSED_MONTH`]).
    pub fn status(&self) -> DistributorStatus {
        self.status_at(LAST_CLOSED_MONTH)
    }

    /// Status as A集团 sees it at the end of `closed`.
    pub fn status_at(&self, closed: YearMonth) -> DistributorStatus {
        let slipping = match self.trend {
            Trend::Deteriorating => u32::try_from(closed.months_since(BOOKS_ORIGIN))
                .unwrap_or(0)
                .saturating_sub(self.turn),
            _ => 0,
        };
        match slipping {
            0..3 => DistributorStatus::Active,
            3..10 => DistributorStatus::Watch,
            _ => DistributorStatus::Suspended,
        }
    }

    /// The 24 months of trade ending [`LAST_CLOSED_MONTH`], oldest first (or since joining).
    pub fn trade(&self) -> Vec<TradeMonth> {
        self.trade_through(LAST_CLOSED_MONTH)
    }

    /// The last 24 months of trade ending `closed`, oldest first (or since joining; none
    /// before [`BOOKS_ORIGIN`]).
    ///
    /// Generated month by month from [`BOOKS_ORIGIN`], so a month's figures are the same
    /// whatever later month the books are closed at.
    pub fn trade_through(&self, closed: YearMonth) -> Vec<TradeMonth> {
        let Ok(count) = u32::try_from(closed.months_since(BOOKS_ORIGIN) + 1) else {
            return Vec::new();
        };
        let keep_from = count.saturating_sub(HISTORY_MONTHS);
        let mut rng = stream_rng(self.seed, u64::from(self.number), Stream::Distributor);
        let mut receivable = self.base_orders;
        let mut previous_net = self.base_orders;
        let mut months = Vec::with_capacity(HISTORY_MONTHS as usize);
        for t in 0..count {
            let month = BOOKS_ORIGIN.plus(t as i32);
            let noise: f64 = rng.sample(StandardNormal);
            let extra_returns: f64 = rng.sample(StandardNormal);
            let lateness: f64 = rng.random_range(0.0..5.0);
            if month < self.joined {
                continue;
            }
            let after_turn = t.saturating_sub(self.turn);
            let deteriorating = self.trend == Trend::Deteriorating && t >= self.turn;
            let level = match self.trend {
                Trend::Growing => 1.012f64.powi(t as i32),
                Trend::Stable => 1.0,
                Trend::Seasonal => {
                    1.0 + 0.25 * (f64::from(month.month() - 1) / 12.0 * std::f64::consts::TAU).cos()
                }
                Trend::Deteriorating if deteriorating => 0.96f64.powi(after_turn as i32),
                Trend::Deteriorating => 1.0,
            };
            let orders = self.base_orders * level * (0.12 * noise).exp();
            let return_rate = 0.02
                + 0.01 * extra_returns.abs()
                + if deteriorating {
                    0.004 * f64::from(after_turn)
                } else {
                    0.0
                };
            let returns = orders * return_rate.min(0.3);
            let pay_ratio = if deteriorating {
                (1.0 - 0.025 * f64::from(after_turn + 1)).max(0.5)
            } else {
                0.97 + 0.03 * lateness / 5.0
            };
            let due = previous_net;
            let paid = due * pay_ratio;
            let days_late = if deteriorating {
                5.0 + 4.0 * f64::from(after_turn) + lateness
            } else {
                lateness
            };
            receivable += orders - returns - paid;
            previous_net = orders - returns;
            if t < keep_from {
                continue;
            }
            months.push(TradeMonth {
                month,
                order_count: ((orders / self.average_order).round() as u32).max(1),
                orders: yuan(orders),
                returns: yuan(returns),
                due: yuan(due),
                paid: yuan(paid),
                days_late: days_late.round() as u32,
                receivable: yuan(receivable.max(0.0)),
            });
        }
        months
    }

    /// The purchase orders placed in the 30 days before [`books_date`]`(closed)`: one to
    /// four, oldest first, each about the distributor's average order. The same for the same
    /// closed month; payments are not deducted (see `records::enterprise::OpenOrders`).
    pub fn recent_orders(&self, closed: YearMonth) -> Vec<PurchaseOrder> {
        let as_of = books_date(closed);
        // The closed month's offset from the origin as the high half of the entity number:
        // every (distributor, month) has its own stream.
        let month_key = u64::from(closed.months_since(BOOKS_ORIGIN) as u32);
        let mut rng = stream_rng(
            self.seed,
            u64::from(self.number) | month_key << 32,
            Stream::OpenOrders,
        );
        let count = rng.random_range(1..=4usize);
        let mut orders: Vec<PurchaseOrder> = Vec::with_capacity(count);
        for _ in 0..count {
            let placed_on = as_of - TimeDelta::days(rng.random_range(1..=30));
            let (category, case_price) = GOODS[rng.random_range(0..GOODS.len())];
            let normal: f64 = rng.sample(StandardNormal);
            let value = self.average_order * (0.25 * normal).exp();
            let cases = ((value / case_price as f64).round() as i64).max(1);
            let order_no = loop {
                let candidate = format!(
                    "PO{}{:05}",
                    placed_on.format("%Y%m%d"),
                    rng.random_range(0..100_000u32)
                );
                if orders.iter().all(|order| order.order_no != candidate) {
                    break candidate;
                }
            };
            orders.push(PurchaseOrder {
                order_no,
                placed_on,
                amount: Money::from_fen(cases * case_price * 100),
                due_on: placed_on + TimeDelta::days(30),
                goods: format!("{category} {cases} 箱"),
            });
        }
        orders.sort_by(|a, b| (a.placed_on, &a.order_no).cmp(&(b.placed_on, &b.order_no)));
        orders
    }
}

/// A集团 and its distribution network.
#[derive(Debug, Clone)]
pub struct AGroup {
    distributors: Vec<Distributor>,
    by_owner: HashMap<u32, Vec<u16>>,
    by_uscc: HashMap<String, u16>,
}

impl AGroup {
    /// The network of `count` distributors (1 to [`MAX_DISTRIBUTORS`]; clamped) for a
    /// population of `size` whose person `i` is `age_of(i)` years old.
    ///
    /// Owners are distinct people aged 28–60, picked in a seeded pseudo-random order; at
    /// most one person in twenty owns a distributor, so in a small population (or a large
    /// network) some owners hold several. Distributor `n`'s code, name and figures are the
    /// same whatever `count`.
    pub(crate) fn generate(seed: u64, size: u32, count: u32, age_of: impl Fn(u32) -> u32) -> Self {
        let count = count.clamp(1, MAX_DISTRIBUTORS) as u16;
        let order = Permutation::new(u64::from(size), mix(seed ^ 0xA_6E0E));
        let wanted = usize::from(count).min((size as usize / 20).max(1));
        let owners: Vec<u32> = (0..u64::from(size))
            .map(|position| order.forward(position) as u32)
            .filter(|&index| OWNER_AGES.contains(&age_of(index)))
            .take(wanted)
            .collect();
        let city_weights = CITIES.map(|city| city.3);
        let mut distributors = Vec::with_capacity(usize::from(count));
        let mut by_owner: HashMap<u32, Vec<u16>> = HashMap::new();
        let mut by_uscc = HashMap::new();
        for number in 0..count {
            let mut rng = stream_rng(seed, u64::from(number) | 1 << 32, Stream::Distributor);
            let (province, city, region, _) = CITIES[pick_weighted(&mut rng, &city_weights)];
            let owner = match owners.get(usize::from(number) % owners.len().max(1)) {
                Some(&owner) => owner,
                None => 0,
            };
            let trend = match rng.random_range(0..100) {
                0..25 => Trend::Growing,
                25..70 => Trend::Stable,
                70..85 => Trend::Seasonal,
                _ => Trend::Deteriorating,
            };
            let mut turn = rng.random_range(4..20u32);
            if trend == Trend::Deteriorating {
                // Drawn apart, so that the distributor stream (and every distributor that
                // does not deteriorate) is what it was before late turns existed.
                let mut late = stream_rng(seed, u64::from(number), Stream::DistributorTurn);
                if late.random_bool(0.25) {
                    // 2026-11 to 2027-04: healthy on the reference date.
                    turn = HISTORY_MONTHS + late.random_range(0..6u32);
                }
            }
            let normal: f64 = rng.sample(StandardNormal);
            let base_orders = (300_000f64.ln() + 0.6 * normal).exp();
            let tier = if base_orders > 400_000.0 || rng.random_bool(0.2) {
                DistributorTier::First
            } else {
                DistributorTier::Second
            };
            let tenure = rng.random_range(6..=180);
            let log_odds = match trend {
                Trend::Growing => -4.6,
                Trend::Stable => -3.9,
                Trend::Seasonal => -3.6,
                // A turn after the reference date counts as one in its last month.
                Trend::Deteriorating => {
                    -1.2 + 0.08 * f64::from(HISTORY_MONTHS.saturating_sub(turn))
                }
            } - 0.004 * f64::from(tenure);
            let core = NAME_CORES[rng.random_range(0..NAME_CORES.len())];
            let short_city = city.trim_end_matches('市');
            let uscc = crate::uscc::generate(&mut rng, '9', '1', region);
            by_owner.entry(owner).or_default().push(number);
            by_uscc.insert(uscc.as_str().to_owned(), number);
            distributors.push(Distributor {
                number,
                uscc,
                name: format!("{short_city}{core}商贸有限公司"),
                province,
                city,
                owner,
                tier,
                joined: LAST_CLOSED_MONTH.plus(1 - tenure),
                credit_limit: yuan((base_orders * 1.5 / 10_000.0).round() * 10_000.0),
                trend,
                base_orders,
                average_order: rng.random_range(8_000.0..30_000.0),
                turn,
                pd: logistic(log_odds),
                seed,
            });
        }
        Self {
            distributors,
            by_owner,
            by_uscc,
        }
    }

    /// All distributors, by number.
    pub fn distributors(&self) -> &[Distributor] {
        &self.distributors
    }

    /// Distributor `number`.
    pub fn distributor(&self, number: u16) -> Option<&Distributor> {
        self.distributors.get(usize::from(number))
    }

    /// The distributor with this credit code.
    pub fn by_uscc(&self, uscc: &str) -> Option<&Distributor> {
        self.by_uscc
            .get(uscc)
            .and_then(|&number| self.distributor(number))
    }

    /// Numbers of the distributors person `index` owns.
    pub fn owned_by(&self, index: u32) -> &[u16] {
        self.by_owner.get(&index).map_or(&[], Vec::as_slice)
    }
}
