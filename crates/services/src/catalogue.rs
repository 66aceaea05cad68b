//! The service hall (服务大厅): which services the platform offers, who runs them, whether they
//! are live, and in which of 成都's districts they can be used. Availability is data: a pilot
//! district list for a service still rolling out, everywhere for the others.

use bianmin_core::region::{CHENGDU_DISTRICTS, District};
use serde::Serialize;

/// Whether a service can be used yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Open to citizens.
    Live,
    /// Announced; not open yet.
    Coming,
}

/// Where a service can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Every district of 成都.
    Everywhere,
    /// Only these districts (a pilot), by GB/T 2260 code.
    Pilot(&'static [&'static str]),
}

impl Availability {
    /// Whether the service can be used by a resident of district `code`.
    #[must_use]
    pub fn covers(self, code: &str) -> bool {
        match self {
            Availability::Everywhere => CHENGDU_DISTRICTS.iter().any(|d| d.code == code),
            Availability::Pilot(codes) => codes.contains(&code),
        }
    }
}

/// One service of the hall.
#[derive(Debug, Clone, Copy)]
pub struct ServiceEntry {
    /// Stable code, e.g. `hpf`.
    pub code: &'static str,
    /// Name shown to citizens.
    pub name: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// The department that runs it (its data comes from there).
    pub department: &'static str,
    /// The consent purpose it asks for, if it reads personal data.
    pub purpose: Option<&'static str>,
    /// Live or coming.
    pub status: Status,
    /// Where it can be used.
    pub availability: Availability,
    /// The H5 page, for live services.
    pub href: Option<&'static str>,
}

/// The central urban districts where 闪电贷 is piloted first (illustrative).
const LOAN_PILOT: &[&str] = &["510104", "510105", "510106", "510107", "510108", "510116"];

/// Every service of the hall, in display order.
pub const SERVICES: &[ServiceEntry] = &[
    ServiceEntry {
        code: "hpf",
        name: "公积金查询",
        summary: "账户余额、缴存明细、提取条件与贷款试算",
        department: "成都住房公积金管理中心",
        purpose: Some("SERVICE_HPF_QUERY"),
        status: Status::Live,
        availability: Availability::Everywhere,
        href: Some("/citizen/hpf/"),
    },
    ServiceEntry {
        code: "sscard",
        name: "电子社保卡",
        summary: "申领电子社保卡、就医购药扫码、参保缴费记录",
        department: "成都市人力资源和社会保障局",
        purpose: Some("SERVICE_SSCARD"),
        status: Status::Live,
        availability: Availability::Everywhere,
        href: Some("/citizen/sscard/"),
    },
    ServiceEntry {
        code: "traffic",
        name: "交通罚没",
        summary: "名下车辆、驾驶证记分、违法记录查询与罚款缴纳",
        department: "成都市公安局交通管理局",
        purpose: Some("SERVICE_TRAFFIC"),
        status: Status::Live,
        availability: Availability::Everywhere,
        href: Some("/citizen/traffic/"),
    },
    ServiceEntry {
        code: "loan",
        name: "闪电贷",
        summary: "凭授权政务数据秒级审批的个人消费信用贷款",
        department: "本行",
        purpose: Some("LOAN_UNDERWRITING"),
        status: Status::Live,
        availability: Availability::Pilot(LOAN_PILOT),
        href: Some("/citizen/loan/"),
    },
    ServiceEntry {
        code: "supply",
        name: "供应链融资",
        summary: "A集团下游经销商凭经营数据获得预授信额度，随借随还，专款支付订货款",
        department: "本行",
        purpose: Some("SCF_DISTRIBUTOR"),
        status: Status::Live,
        availability: Availability::Everywhere,
        href: Some("/citizen/supply/"),
    },
    ServiceEntry {
        code: "assistant",
        name: "智能客服",
        summary: "政策与业务规则问答，7×24 小时",
        department: "本行",
        purpose: None,
        status: Status::Coming,
        availability: Availability::Everywhere,
        href: None,
    },
    ServiceEntry {
        code: "consents",
        name: "我的授权",
        summary: "查看、撤回您给出的个人信息查询授权",
        department: "本行",
        purpose: None,
        status: Status::Live,
        availability: Availability::Everywhere,
        href: Some("/citizen/consents/"),
    },
];

/// The districts a service covers, each with its name.
#[must_use]
pub fn districts_of(entry: &ServiceEntry) -> Vec<&'static District> {
    CHENGDU_DISTRICTS
        .iter()
        .filter(|d| entry.availability.covers(d.code))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_services_have_pages_and_pilots_name_real_districts() {
        for entry in SERVICES {
            assert_eq!(
                entry.status == Status::Live,
                entry.href.is_some(),
                "{}",
                entry.code
            );
            if let Availability::Pilot(codes) = entry.availability {
                for code in codes {
                    assert!(CHENGDU_DISTRICTS.iter().any(|d| d.code == *code), "{code}");
                }
            }
        }
        let loan = SERVICES.iter().find(|e| e.code == "loan").unwrap();
        assert!(loan.availability.covers("510104"));
        assert!(!loan.availability.covers("510185"));
        assert_eq!(districts_of(loan).len(), LOAN_PILOT.len());
        let hpf = SERVICES.iter().find(|e| e.code == "hpf").unwrap();
        assert_eq!(districts_of(hpf).len(), CHENGDU_DISTRICTS.len());
        assert!(!hpf.availability.covers("110105"));
    }
}
