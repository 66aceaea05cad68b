//! The ~300 employers of the simulated city.

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use bianmin_core::District;
use bianmin_core::region::CHENGDU_DISTRICTS;

use super::pick_weighted;
use crate::seeding::{Stream, stream_rng};
use crate::uscc::Uscc;

/// How many employers the city has.
pub const EMPLOYER_COUNT: usize = 300;

/// Sector of an employer (国民经济行业分类, coarsened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Industry {
    /// 信息传输、软件和信息技术服务业.
    InformationTechnology,
    /// 金融业.
    Finance,
    /// 制造业.
    Manufacturing,
    /// 建筑业.
    Construction,
    /// 批发和零售业.
    Retail,
    /// 住宿和餐饮业.
    Hospitality,
    /// 交通运输、仓储和邮政业.
    Logistics,
    /// 教育.
    Education,
    /// 卫生和社会工作.
    Health,
    /// 公共管理和社会组织.
    PublicAdministration,
    /// 房地产业.
    RealEstate,
    /// 文化、体育和娱乐业.
    Culture,
    /// 居民服务和其他服务业.
    ResidentServices,
}

/// Per-industry parameters of the generative model.
pub(crate) struct IndustryProfile {
    pub(crate) industry: Industry,
    /// Share of employees (relative).
    pub(crate) weight: u32,
    /// Median gross monthly wage in yuan.
    pub(crate) median_wage: f64,
    /// Standard deviation of log wage within the industry.
    pub(crate) wage_sigma: f64,
    /// Work-injury insurance rate paid by the employer, per ten thousand.
    pub(crate) injury_rate_bp: u32,
    pub(crate) name_zh: &'static str,
    pub(crate) name_suffixes: &'static [&'static str],
}

pub(crate) const INDUSTRIES: [IndustryProfile; 13] = [
    IndustryProfile {
        industry: Industry::InformationTechnology,
        weight: 8,
        median_wage: 11_000.0,
        wage_sigma: 0.45,
        injury_rate_bp: 20,
        name_zh: "信息技术",
        name_suffixes: &[
            "科技有限公司",
            "软件有限公司",
            "网络科技有限公司",
            "信息技术有限公司",
        ],
    },
    IndustryProfile {
        industry: Industry::Finance,
        weight: 4,
        median_wage: 12_000.0,
        wage_sigma: 0.5,
        injury_rate_bp: 20,
        name_zh: "金融",
        name_suffixes: &[
            "融资租赁有限公司",
            "保险代理有限公司",
            "小额贷款有限公司",
            "资产管理有限公司",
        ],
    },
    IndustryProfile {
        industry: Industry::Manufacturing,
        weight: 16,
        median_wage: 6_200.0,
        wage_sigma: 0.35,
        injury_rate_bp: 100,
        name_zh: "制造业",
        name_suffixes: &[
            "电子有限公司",
            "机械制造有限公司",
            "食品有限公司",
            "制药有限公司",
            "汽车零部件有限公司",
        ],
    },
    IndustryProfile {
        industry: Industry::Construction,
        weight: 10,
        median_wage: 6_500.0,
        wage_sigma: 0.4,
        injury_rate_bp: 160,
        name_zh: "建筑业",
        name_suffixes: &["建设工程有限公司", "建筑劳务有限公司", "装饰工程有限公司"],
    },
    IndustryProfile {
        industry: Industry::Retail,
        weight: 14,
        median_wage: 5_200.0,
        wage_sigma: 0.4,
        injury_rate_bp: 40,
        name_zh: "批发零售",
        name_suffixes: &["商贸有限公司", "超市有限公司", "贸易有限公司"],
    },
    IndustryProfile {
        industry: Industry::Hospitality,
        weight: 9,
        median_wage: 4_500.0,
        wage_sigma: 0.3,
        injury_rate_bp: 40,
        name_zh: "住宿餐饮",
        name_suffixes: &["餐饮管理有限公司", "火锅有限公司", "酒店管理有限公司"],
    },
    IndustryProfile {
        industry: Industry::Logistics,
        weight: 7,
        median_wage: 6_500.0,
        wage_sigma: 0.35,
        injury_rate_bp: 120,
        name_zh: "交通物流",
        name_suffixes: &["物流有限公司", "供应链管理有限公司", "运输有限公司"],
    },
    IndustryProfile {
        industry: Industry::Education,
        weight: 6,
        median_wage: 8_500.0,
        wage_sigma: 0.3,
        injury_rate_bp: 20,
        name_zh: "教育",
        name_suffixes: &["教育咨询有限公司", "职业技能培训学校", "实验学校"],
    },
    IndustryProfile {
        industry: Industry::Health,
        weight: 5,
        median_wage: 9_500.0,
        wage_sigma: 0.4,
        injury_rate_bp: 20,
        name_zh: "医疗卫生",
        name_suffixes: &["医院", "医疗管理有限公司", "健康管理有限公司"],
    },
    IndustryProfile {
        industry: Industry::PublicAdministration,
        weight: 5,
        median_wage: 8_800.0,
        wage_sigma: 0.25,
        injury_rate_bp: 20,
        name_zh: "公共管理",
        name_suffixes: &["政务服务中心", "城市管理局", "社区发展治理中心"],
    },
    IndustryProfile {
        industry: Industry::RealEstate,
        weight: 4,
        median_wage: 7_500.0,
        wage_sigma: 0.45,
        injury_rate_bp: 40,
        name_zh: "房地产",
        name_suffixes: &["置业有限公司", "物业服务有限公司", "房地产开发有限公司"],
    },
    IndustryProfile {
        industry: Industry::Culture,
        weight: 3,
        median_wage: 7_000.0,
        wage_sigma: 0.5,
        injury_rate_bp: 20,
        name_zh: "文化娱乐",
        name_suffixes: &["文化传媒有限公司", "影视有限公司", "体育发展有限公司"],
    },
    IndustryProfile {
        industry: Industry::ResidentServices,
        weight: 9,
        median_wage: 4_800.0,
        wage_sigma: 0.35,
        injury_rate_bp: 50,
        name_zh: "居民服务",
        name_suffixes: &["家政服务有限公司", "美容美发有限公司", "汽车服务有限公司"],
    },
];

/// Who owns an employer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    /// 机关事业单位.
    Public,
    /// 国有企业.
    StateOwned,
    /// 民营企业.
    Private,
    /// 外资企业.
    Foreign,
}

/// Headcount class of an employer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmployerSize {
    /// More than 1,000 staff.
    Large,
    /// 100–1,000 staff.
    Medium,
    /// Fewer than 100 staff.
    Small,
}

/// One employer.
#[derive(Debug, Clone)]
pub struct Employer {
    /// Position in [`Population::employers`](crate::Population::employers).
    pub number: u16,
    /// Registered name.
    pub name: String,
    /// 统一社会信用代码.
    pub uscc: Uscc,
    /// Sector.
    pub industry: Industry,
    /// Ownership.
    pub ownership: Ownership,
    /// Headcount class.
    pub size: EmployerSize,
    /// Where it is registered.
    pub district: &'static District,
    /// Housing-fund rate in percent, the same for employer and employee (5–12).
    pub hpf_rate_percent: u8,
    /// Probability that an employee is enrolled in the housing fund.
    pub(crate) hpf_coverage: f64,
    /// Probability that an employee is enrolled in social insurance.
    pub(crate) si_coverage: f64,
    /// Whether it declares contribution bases below actual wages.
    pub(crate) under_declares: bool,
    /// Log multiplier on its industry's wages.
    pub(crate) wage_premium: f64,
    /// Weight when a worker of its industry picks an employer.
    pub(crate) hiring_weight: u32,
}

const NAME_CORES: [&str; 40] = [
    "天府", "锦城", "蓉欣", "川信", "宏达", "蜀道", "金沙", "银杏", "芙蓉", "青城", "峨眉", "岷江",
    "望江", "玉林", "浣花", "锦官", "蓉城", "西岭", "龙泉", "都江", "文殊", "杜甫", "宽窄", "太古",
    "新蓉", "川渝", "巴蜀", "蜀锦", "锦绣", "天益", "嘉禾", "盛世", "华西", "西南", "长虹", "鑫源",
    "博瑞", "汇通", "恒信", "瑞丰",
];

/// The city's employers, generated from the seed alone.
pub(crate) fn generate_employers(seed: u64) -> Vec<Employer> {
    let industry_weights = INDUSTRIES.map(|profile| profile.weight);
    let district_weights = [
        6u32, 6, 5, 8, 5, 5, 2, 4, 3, 7, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ];
    (0..EMPLOYER_COUNT)
        .map(|number| {
            let mut rng = stream_rng(seed, number as u64, Stream::Employer);
            // The first employers cover every industry once, so each has somewhere to work.
            let profile = if number < INDUSTRIES.len() {
                &INDUSTRIES[number]
            } else {
                &INDUSTRIES[pick_weighted(&mut rng, &industry_weights)]
            };
            let district = &CHENGDU_DISTRICTS[pick_weighted(&mut rng, &district_weights)];
            let ownership = match profile.industry {
                Industry::PublicAdministration => Ownership::Public,
                Industry::Education | Industry::Health if rng.random_bool(0.6) => Ownership::Public,
                _ => match rng.random_range(0..100) {
                    0..15 => Ownership::StateOwned,
                    15..20 => Ownership::Foreign,
                    _ => Ownership::Private,
                },
            };
            let size = match rng.random_range(0..100) {
                0..12 => EmployerSize::Large,
                12..45 => EmployerSize::Medium,
                _ => EmployerSize::Small,
            };
            let (hpf_coverage, si_coverage, rate_range) = match (ownership, size) {
                (Ownership::Public, _) => (1.0, 1.0, 12..=12),
                (Ownership::StateOwned, _) => (0.98, 0.99, 10..=12),
                (_, EmployerSize::Large) => (0.85, 0.97, 5..=12),
                (_, EmployerSize::Medium) => (0.6, 0.88, 5..=10),
                (_, EmployerSize::Small) => (0.3, 0.65, 5..=8),
            };
            let under_declares = matches!(ownership, Ownership::Private)
                && size != EmployerSize::Large
                && rng.random_bool(0.4);
            let wage_premium = 0.15 * rng.sample::<f64, _>(StandardNormal)
                + match ownership {
                    Ownership::Foreign => 0.15,
                    Ownership::StateOwned => 0.08,
                    _ => 0.0,
                };
            let core = NAME_CORES[rng.random_range(0..NAME_CORES.len())];
            let suffix = profile.name_suffixes[rng.random_range(0..profile.name_suffixes.len())];
            let name = if ownership == Ownership::Public {
                format!("成都市{}{}{}", district.name, core, suffix)
            } else {
                let prefix = if rng.random_bool(0.7) {
                    "成都"
                } else {
                    "四川"
                };
                format!("{prefix}{core}{suffix}")
            };
            let (authority, kind) = match ownership {
                Ownership::Public if profile.industry == Industry::PublicAdministration => {
                    ('1', '1')
                }
                Ownership::Public => ('1', '2'),
                _ => ('9', '1'),
            };
            let uscc = crate::uscc::generate(&mut rng, authority, kind, district.code);
            Employer {
                number: number as u16,
                name,
                uscc,
                industry: profile.industry,
                ownership,
                size,
                district,
                hpf_rate_percent: rng.random_range(rate_range),
                hpf_coverage,
                si_coverage,
                under_declares,
                wage_premium,
                hiring_weight: match size {
                    EmployerSize::Large => 40,
                    EmployerSize::Medium => 8,
                    EmployerSize::Small => 1,
                },
            }
        })
        .collect()
}

/// The profile of an industry.
pub(crate) fn profile(industry: Industry) -> &'static IndustryProfile {
    // `INDUSTRIES` lists every variant, so the search always succeeds; the fallback keeps
    // the function total.
    INDUSTRIES
        .iter()
        .find(|profile| profile.industry == industry)
        .unwrap_or(&INDUSTRIES[0])
}

impl Industry {
    /// The name shown to people, e.g. `"制造业"`.
    pub fn name_zh(self) -> &'static str {
        profile(self).name_zh
    }
}

/// Employers grouped by industry with cumulative hiring weights, for O(log n) picks.
#[derive(Debug, Clone)]
pub(crate) struct HiringTable {
    /// Per industry (in `INDUSTRIES` order): employer numbers and their hiring weights.
    by_industry: Vec<(Vec<u16>, Vec<u32>)>,
}

impl HiringTable {
    pub(crate) fn new(employers: &[Employer]) -> Self {
        let by_industry = INDUSTRIES
            .iter()
            .map(|profile| {
                employers
                    .iter()
                    .filter(|employer| employer.industry == profile.industry)
                    .map(|employer| (employer.number, employer.hiring_weight))
                    .unzip()
            })
            .collect();
        Self { by_industry }
    }

    /// An employer of industry number `industry`, chosen in proportion to hiring weight.
    pub(crate) fn pick(&self, rng: &mut impl Rng, industry: usize) -> u16 {
        let (numbers, weights) = &self.by_industry[industry];
        numbers[pick_weighted(rng, weights)]
    }
}
