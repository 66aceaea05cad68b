//! The catalogue of purposes a consent can be asked for, and the data kinds each may cover.
//!
//! A purpose is not free text: the citizen approves one of a fixed list, each with the Chinese
//! wording shown to them and carried in the signed artefact, and each limited to the data
//! kinds that purpose needs (data minimisation, 个人信息保护法 art. 6). Adding a purpose or
//! widening one is a code change, reviewed like one.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::ConsentError;

/// Data kinds: the names the exchange registry gives to what a service returns. A service of
/// the registry lists the kinds it returns (govsim: each service's one kind is its code, e.g.
/// `hpf.deposits`); a consent must cover all of them. `tax.invoices` is named here ahead of
/// the agency that will serve it.
pub mod kinds {
    /// 住房公积金账户（状态、余额、缴存基数）.
    pub const HPF_ACCOUNT: &str = "hpf.account";
    /// 住房公积金缴存明细.
    pub const HPF_DEPOSITS: &str = "hpf.deposits";
    /// 社会保险参保状态.
    pub const SI_STATUS: &str = "si.status";
    /// 社会保险缴费明细.
    pub const SI_CONTRIBUTIONS: &str = "si.contributions";
    /// 社会保障卡（电子社保卡）信息.
    pub const SI_CARD: &str = "si.card";
    /// 交通违法记录.
    pub const TRAFFIC_VIOLATIONS: &str = "traffic.violations";
    /// 名下机动车.
    pub const TRAFFIC_VEHICLES: &str = "traffic.vehicles";
    /// 驾驶证状态与记分.
    pub const TRAFFIC_LICENCE: &str = "traffic.licence";
    /// 个人所得税纳税记录.
    pub const TAX_INCOME: &str = "tax.income";
    /// 发票开具与收受记录.
    pub const TAX_INVOICES: &str = "tax.invoices";
    /// 涉诉与执行信息.
    pub const COURT_CASES: &str = "court.cases";
    /// 核心企业登记的名下经销商.
    pub const ENTERPRISE_DISTRIBUTORS: &str = "enterprise.distributors";
    /// 向核心企业的订货记录.
    pub const ENTERPRISE_ORDERS: &str = "enterprise.orders";
    /// 向核心企业的回款记录.
    pub const ENTERPRISE_PAYMENTS: &str = "enterprise.payments";
    /// 公安人口信息核验（姓名与身份证号一致性）.
    pub const IDENTITY_VERIFY: &str = "identity.verify";
    /// 个人信用报告（人行征信）.
    pub const CREDIT_REPORT: &str = "credit.report";

    /// Every data kind a purpose of the catalogue can cover, with its Chinese label.
    pub const ALL: &[(&str, &str)] = &[
        (HPF_ACCOUNT, "住房公积金账户"),
        (HPF_DEPOSITS, "住房公积金缴存明细"),
        (SI_STATUS, "社会保险参保状态"),
        (SI_CONTRIBUTIONS, "社会保险缴费明细"),
        (SI_CARD, "社会保障卡信息"),
        (TRAFFIC_VIOLATIONS, "交通违法记录"),
        (TRAFFIC_VEHICLES, "名下机动车"),
        (TRAFFIC_LICENCE, "驾驶证状态与记分"),
        (TAX_INCOME, "个人所得税纳税记录"),
        (TAX_INVOICES, "发票记录"),
        (COURT_CASES, "涉诉与执行信息"),
        (ENTERPRISE_DISTRIBUTORS, "核心企业登记的名下经销商"),
        (ENTERPRISE_ORDERS, "向核心企业的订货记录"),
        (ENTERPRISE_PAYMENTS, "向核心企业的回款记录"),
        (IDENTITY_VERIFY, "身份信息核验"),
        (CREDIT_REPORT, "个人信用报告（征信）"),
    ];

    /// The Chinese label of `kind`, for the screen where the citizen decides.
    pub fn label_zh(kind: &str) -> Option<&'static str> {
        ALL.iter()
            .find(|(name, _)| *name == kind)
            .map(|(_, label)| *label)
    }

    /// Longest data kind name, in bytes.
    const MAX_LEN: usize = 64;

    /// True if `kind` has the shape of a data kind, as the exchange registry accepts it: 1 to
    /// 64 ASCII letters, digits, `.`, `_` or `-`. Only well-formed kinds are ever echoed in an
    /// error.
    pub(crate) fn well_formed(kind: &str) -> bool {
        (1..=MAX_LEN).contains(&kind.len())
            && kind
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    }
}

/// What a consent is for. Each purpose has a stable code (carried in the artefact and
/// stored), the Chinese text the citizen approves, and the data kinds it may cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// 公积金查询: the citizen's own provident-fund account.
    ServiceHpfQuery,
    /// 电子社保卡: the social-security card, insured status and contribution records.
    ServiceSsCard,
    /// 交通违法查询与缴款: traffic violations, vehicles and licence, to show and pay fines.
    ServiceTraffic,
    /// 闪电贷授信审批: government data for a consumer-loan decision (never the credit report).
    LoanUnderwriting,
    /// 征信查询（贷款审批）: the PBoC credit report, alone.
    LoanCreditReport,
    /// 供应链融资: a distributor owner's real-name check, A集团's confirmation of ownership,
    /// and litigation (the credit report under `LoanCreditReport`).
    ScfDistributor,
}

impl Purpose {
    /// Every purpose of the catalogue.
    pub const ALL: [Purpose; 6] = [
        Purpose::ServiceHpfQuery,
        Purpose::ServiceSsCard,
        Purpose::ServiceTraffic,
        Purpose::LoanUnderwriting,
        Purpose::LoanCreditReport,
        Purpose::ScfDistributor,
    ];

    /// The stable code, e.g. `LOAN_UNDERWRITING`; stored, and `purpose_code` in the artefact.
    pub fn code(self) -> &'static str {
        match self {
            Purpose::ServiceHpfQuery => "SERVICE_HPF_QUERY",
            Purpose::ServiceSsCard => "SERVICE_SSCARD",
            Purpose::ServiceTraffic => "SERVICE_TRAFFIC",
            Purpose::LoanUnderwriting => "LOAN_UNDERWRITING",
            Purpose::LoanCreditReport => "LOAN_CREDIT_REPORT",
            Purpose::ScfDistributor => "SCF_DISTRIBUTOR",
        }
    }

    /// The text the citizen approves, e.g. 闪电贷授信审批; `purpose_text` in the artefact.
    pub fn text_zh(self) -> &'static str {
        match self {
            Purpose::ServiceHpfQuery => "公积金查询",
            Purpose::ServiceSsCard => "电子社保卡",
            Purpose::ServiceTraffic => "交通违法查询与缴款",
            Purpose::LoanUnderwriting => "闪电贷授信审批",
            Purpose::LoanCreditReport => "征信查询（贷款审批）",
            Purpose::ScfDistributor => "供应链融资",
        }
    }

    /// The data kinds a consent for this purpose may cover (a request may ask for fewer).
    pub fn data_kinds(self) -> &'static [&'static str] {
        use kinds::*;
        match self {
            Purpose::ServiceHpfQuery => &[HPF_ACCOUNT, HPF_DEPOSITS],
            Purpose::ServiceSsCard => &[SI_CARD, SI_STATUS, SI_CONTRIBUTIONS],
            Purpose::ServiceTraffic => &[TRAFFIC_VIOLATIONS, TRAFFIC_VEHICLES, TRAFFIC_LICENCE],
            Purpose::LoanUnderwriting => &[
                IDENTITY_VERIFY,
                HPF_ACCOUNT,
                HPF_DEPOSITS,
                SI_STATUS,
                SI_CONTRIBUTIONS,
                TAX_INCOME,
                COURT_CASES,
            ],
            Purpose::LoanCreditReport => &[CREDIT_REPORT],
            // The owner's real-name check, A集团's confirmation that they own the distributor,
            // and their court records; the credit report is asked for separately
            // (`LoanCreditReport`), and the distributor's trade comes from A集团 under its own
            // data-sharing agreement with the bank.
            Purpose::ScfDistributor => &[IDENTITY_VERIFY, ENTERPRISE_DISTRIBUTORS, COURT_CASES],
        }
    }

    /// True if a consent for this purpose may cover `kind`.
    pub fn allows(self, kind: &str) -> bool {
        self.data_kinds().contains(&kind)
    }
}

impl FromStr for Purpose {
    type Err = ConsentError;

    /// Parses a code such as `SERVICE_HPF_QUERY`; anything outside the catalogue is
    /// [`ConsentError::UnknownPurpose`].
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Purpose::ALL
            .into_iter()
            .find(|purpose| purpose.code() == code)
            .ok_or(ConsentError::UnknownPurpose)
    }
}

impl fmt::Display for Purpose {
    /// The code, e.g. `SERVICE_TRAFFIC`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Purpose {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use bianmin_exchange::is_credit_kind;

    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_refused() {
        for purpose in Purpose::ALL {
            assert_eq!(purpose.code().parse::<Purpose>().unwrap(), purpose);
        }
        assert!(matches!(
            "LOAN_ANYTHING".parse::<Purpose>(),
            Err(ConsentError::UnknownPurpose)
        ));
        assert!("service_hpf_query".parse::<Purpose>().is_err());
    }

    #[test]
    fn credit_kinds_belong_to_the_credit_report_purpose_alone() {
        for purpose in Purpose::ALL {
            let credit = purpose.data_kinds().iter().filter(|k| is_credit_kind(k));
            if purpose == Purpose::LoanCreditReport {
                assert_eq!(credit.count(), purpose.data_kinds().len());
            } else {
                assert_eq!(credit.count(), 0, "{purpose} lists a credit kind");
            }
        }
    }

    #[test]
    fn every_kind_in_the_catalogue_has_a_label() {
        for purpose in Purpose::ALL {
            for kind in purpose.data_kinds() {
                assert!(kinds::label_zh(kind).is_some(), "{kind} has no label");
            }
        }
        assert_eq!(kinds::label_zh("hpf.account"), Some("住房公积金账户"));
        assert_eq!(kinds::label_zh("nothing.here"), None);
    }
}
