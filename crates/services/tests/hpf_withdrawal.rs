//! 公积金提取条件: every purpose of the embedded (illustrative) rules on its eligible,
//! not-eligible and unknown paths with the reason texts, alternative rule sets, and rule-file
//! validation.

use bianmin_core::Money;
use bianmin_services::hpf::loan::{EMBEDDED_RULES_TOML, HpfError};
use bianmin_services::hpf::withdrawal::{
    AccountFacts, AccountStatus, Assessment, Eligibility, Fact, WithdrawalPurpose, WithdrawalRules,
};

fn yuan(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn rules() -> &'static WithdrawalRules {
    WithdrawalRules::embedded().unwrap()
}

/// An active account of two years with every fact known and no purpose-specific fact in
/// the holder's favour.
fn active() -> AccountFacts {
    AccountFacts {
        status: AccountStatus::Active,
        balance: yuan("50000.00"),
        months_contributed: 24,
        consecutive_recent_months: 24,
        months_since_last_deposit: 0,
        age: 35,
        reached_retirement_age: Some(false),
        owns_home: Some(false),
        has_hpf_loan: Some(false),
        re_employed: Some(true),
    }
}

/// The same account, sealed for `months` months after its holder left the job.
fn sealed(months: u32) -> AccountFacts {
    AccountFacts {
        status: AccountStatus::Sealed,
        consecutive_recent_months: 0,
        months_since_last_deposit: months,
        re_employed: Some(false),
        ..active()
    }
}

fn assess(purpose: WithdrawalPurpose, facts: AccountFacts) -> Assessment {
    rules().assess(purpose, &facts).unwrap()
}

fn messages(assessment: &Assessment) -> Vec<&str> {
    assessment
        .reasons
        .iter()
        .map(|r| r.message.as_str())
        .collect()
}

fn codes(assessment: &Assessment) -> Vec<&str> {
    assessment.reasons.iter().map(|r| r.code).collect()
}

fn assert_eligible(assessment: &Assessment, amount: &str) {
    assert_eq!(
        assessment.eligibility,
        Eligibility::Eligible,
        "{assessment:?}"
    );
    assert!(assessment.reasons.is_empty());
    assert!(assessment.missing_facts.is_empty());
    assert_eq!(assessment.max_amount, Some(yuan(amount)));
    assert!(assessment.amount_note.is_some());
    assert_eq!(assessment.rules_version, "chengdu-demo-2025.1");
}

fn assert_not_eligible(assessment: &Assessment, expected: &[&str]) {
    assert_eq!(
        assessment.eligibility,
        Eligibility::NotEligible,
        "{assessment:?}"
    );
    assert_eq!(messages(assessment), expected);
    assert_eq!(assessment.max_amount, None);
    assert_eq!(assessment.amount_note, None);
}

fn assert_unknown(assessment: &Assessment, fact: Fact, message: &str) {
    assert_eq!(
        assessment.eligibility,
        Eligibility::Unknown,
        "{assessment:?}"
    );
    assert_eq!(assessment.missing_facts, vec![fact]);
    assert_eq!(messages(assessment), vec![message]);
    assert_eq!(assessment.max_amount, None);
}

// ---------------------------------------------------------------------------------------
// 购房提取: active or sealed, ≥ 6 months contributed, up to the balance.
// ---------------------------------------------------------------------------------------

#[test]
fn home_purchase() {
    let yes = assess(WithdrawalPurpose::HomePurchase, active());
    assert_eligible(&yes, "50000.00");
    assert_eq!(yes.name, "购房提取");
    assert_eq!(
        yes.amount_note.as_deref(),
        Some("最多可提取账户余额 50,000.00 元")
    );
    assert!(!yes.closes_account);
    assert_eligible(
        &assess(WithdrawalPurpose::HomePurchase, sealed(1)),
        "50000.00",
    );

    let short = AccountFacts {
        months_contributed: 4,
        consecutive_recent_months: 4,
        ..active()
    };
    let no = assess(WithdrawalPurpose::HomePurchase, short);
    assert_not_eligible(&no, &["累计缴存未满 6 个月（已缴存 4 个月）"]);
    assert_eq!(codes(&no), ["hpf.withdrawal.months_contributed"]);

    let closed = AccountFacts {
        status: AccountStatus::Closed,
        months_contributed: 5,
        consecutive_recent_months: 0,
        balance: Money::ZERO,
        ..active()
    };
    let no = assess(WithdrawalPurpose::HomePurchase, closed);
    assert_not_eligible(
        &no,
        &[
            "账户状态须为正常缴存或封存（当前为销户）",
            "累计缴存未满 6 个月（已缴存 5 个月）",
            "账户余额为 0，无可提取金额",
        ],
    );
    assert_eq!(
        codes(&no),
        [
            "hpf.withdrawal.account_status",
            "hpf.withdrawal.months_contributed",
            "hpf.withdrawal.balance"
        ]
    );
}

// ---------------------------------------------------------------------------------------
// 租房提取: active, ≥ 3 consecutive months, no home owned; 1,500.00 元 a month at most.
// ---------------------------------------------------------------------------------------

#[test]
fn renting_is_capped_monthly_and_by_the_balance() {
    let yes = assess(WithdrawalPurpose::Renting, active());
    assert_eligible(&yes, "1500.00");
    assert_eq!(
        yes.amount_note.as_deref(),
        Some("每月最多提取 1,500.00 元，且不超过账户余额 50,000.00 元")
    );
    let poor = AccountFacts {
        balance: yuan("800.50"),
        ..active()
    };
    assert_eligible(&assess(WithdrawalPurpose::Renting, poor), "800.50");
}

#[test]
fn renting_not_eligible_lists_every_failed_condition() {
    let owner = AccountFacts {
        owns_home: Some(true),
        ..active()
    };
    let no = assess(WithdrawalPurpose::Renting, owner);
    assert_not_eligible(&no, &["名下已有住房"]);
    assert_eq!(codes(&no), ["hpf.withdrawal.owns_home"]);

    let new_job = AccountFacts {
        consecutive_recent_months: 2,
        ..active()
    };
    assert_not_eligible(
        &assess(WithdrawalPurpose::Renting, new_job),
        &["近期连续缴存未满 3 个月（已连续缴存 2 个月）"],
    );

    let sealed_owner = AccountFacts {
        owns_home: Some(true),
        ..sealed(2)
    };
    assert_not_eligible(
        &assess(WithdrawalPurpose::Renting, sealed_owner),
        &[
            "账户状态须为正常缴存（当前为封存）",
            "近期连续缴存未满 3 个月（已连续缴存 0 个月）",
            "名下已有住房",
        ],
    );
}

#[test]
fn renting_unknown_when_home_ownership_is_not_confirmed() {
    let unconfirmed = AccountFacts {
        owns_home: None,
        ..active()
    };
    let maybe = assess(WithdrawalPurpose::Renting, unconfirmed);
    assert_unknown(&maybe, Fact::OwnsHome, "尚未确认名下是否有住房");
    assert_eq!(codes(&maybe), ["hpf.withdrawal.owns_home_unknown"]);

    // A failed condition outranks the unknown fact, which is still reported as missing.
    let unconfirmed_and_new = AccountFacts {
        consecutive_recent_months: 1,
        ..unconfirmed
    };
    let no = assess(WithdrawalPurpose::Renting, unconfirmed_and_new);
    assert_not_eligible(&no, &["近期连续缴存未满 3 个月（已连续缴存 1 个月）"]);
    assert_eq!(no.missing_facts, vec![Fact::OwnsHome]);
}

// ---------------------------------------------------------------------------------------
// 退休提取: statutory retirement age reached → the whole balance, account closes.
// ---------------------------------------------------------------------------------------

#[test]
fn retirement() {
    let retired = AccountFacts {
        age: 63,
        reached_retirement_age: Some(true),
        ..sealed(2)
    };
    let yes = assess(WithdrawalPurpose::Retirement, retired);
    assert_eligible(&yes, "50000.00");
    assert!(yes.closes_account);

    let no = assess(WithdrawalPurpose::Retirement, active());
    assert_not_eligible(&no, &["未达到法定退休年龄"]);
    assert_eq!(codes(&no), ["hpf.withdrawal.reached_retirement_age"]);

    let maybe = assess(
        WithdrawalPurpose::Retirement,
        AccountFacts {
            reached_retirement_age: None,
            ..active()
        },
    );
    assert_unknown(
        &maybe,
        Fact::ReachedRetirementAge,
        "尚未确认是否已达到法定退休年龄",
    );
}

// ---------------------------------------------------------------------------------------
// 离职提取: sealed ≥ 6 months and not re-employed → the whole balance, account closes.
// ---------------------------------------------------------------------------------------

#[test]
fn leaving_job() {
    let yes = assess(WithdrawalPurpose::LeavingJob, sealed(6));
    assert_eligible(&yes, "50000.00");
    assert!(yes.closes_account);

    let no = assess(WithdrawalPurpose::LeavingJob, sealed(3));
    assert_not_eligible(&no, &["账户封存未满 6 个月（已封存 3 个月）"]);
    assert_eq!(codes(&no), ["hpf.withdrawal.sealed_months"]);

    assert_not_eligible(
        &assess(WithdrawalPurpose::LeavingJob, active()),
        &["账户未封存（当前为正常缴存）", "已重新就业"],
    );
    let working = AccountFacts {
        re_employed: Some(true),
        ..sealed(8)
    };
    assert_not_eligible(
        &assess(WithdrawalPurpose::LeavingJob, working),
        &["已重新就业"],
    );

    let maybe = assess(
        WithdrawalPurpose::LeavingJob,
        AccountFacts {
            re_employed: None,
            ..sealed(8)
        },
    );
    assert_unknown(&maybe, Fact::ReEmployed, "尚未确认是否已重新就业");
}

// ---------------------------------------------------------------------------------------
// 偿还公积金贷款提取: has a 公积金 loan → up to the balance.
// ---------------------------------------------------------------------------------------

#[test]
fn loan_repayment() {
    let borrower = AccountFacts {
        has_hpf_loan: Some(true),
        ..active()
    };
    assert_eligible(
        &assess(WithdrawalPurpose::LoanRepayment, borrower),
        "50000.00",
    );
    let no = assess(WithdrawalPurpose::LoanRepayment, active());
    assert_not_eligible(&no, &["无公积金贷款"]);
    assert_eq!(codes(&no), ["hpf.withdrawal.has_hpf_loan"]);
    let maybe = assess(
        WithdrawalPurpose::LoanRepayment,
        AccountFacts {
            has_hpf_loan: None,
            ..active()
        },
    );
    assert_unknown(&maybe, Fact::HasHpfLoan, "尚未确认是否有公积金贷款");
}

// ---------------------------------------------------------------------------------------
// 大病提取 and 出境定居提取: handled at a counter, explained; a closed account cannot.
// ---------------------------------------------------------------------------------------

#[test]
fn serious_illness_needs_offline_handling() {
    let offline = assess(WithdrawalPurpose::SeriousIllness, active());
    assert_eq!(offline.eligibility, Eligibility::NeedsOffline);
    assert_eq!(codes(&offline), ["hpf.withdrawal.offline"]);
    assert_eq!(
        messages(&offline),
        [
            "需线下办理：需提供医院诊断证明、医疗费用票据等材料，由公积金中心审核，请携带材料到服务网点办理。"
        ]
    );
    assert_eq!(offline.max_amount, None);
    assert!(!offline.closes_account);

    let closed = AccountFacts {
        status: AccountStatus::Closed,
        ..active()
    };
    assert_not_eligible(
        &assess(WithdrawalPurpose::SeriousIllness, closed),
        &["账户状态须为正常缴存或封存（当前为销户）"],
    );
}

#[test]
fn emigration_needs_offline_handling_and_closes_the_account() {
    let offline = assess(WithdrawalPurpose::Emigration, sealed(1));
    assert_eq!(offline.eligibility, Eligibility::NeedsOffline);
    assert!(offline.closes_account);
    assert!(offline.reasons[0].message.starts_with("需线下办理："));
    assert_eq!(offline.max_amount, None);
}

// ---------------------------------------------------------------------------------------
// The whole rule set
// ---------------------------------------------------------------------------------------

#[test]
fn assess_all_covers_every_purpose_in_file_order() {
    let all = rules().assess_all(&active()).unwrap();
    let purposes: Vec<WithdrawalPurpose> = all.iter().map(|a| a.purpose).collect();
    assert_eq!(purposes, WithdrawalPurpose::ALL);
    assert_eq!(
        rules().purposes().collect::<Vec<_>>(),
        WithdrawalPurpose::ALL
    );
    let outcomes: Vec<Eligibility> = all.iter().map(|a| a.eligibility).collect();
    assert_eq!(
        outcomes,
        [
            Eligibility::Eligible,     // 购房
            Eligibility::Eligible,     // 租房
            Eligibility::NotEligible,  // 退休
            Eligibility::NotEligible,  // 离职
            Eligibility::NotEligible,  // 偿还贷款
            Eligibility::NeedsOffline, // 大病
            Eligibility::NeedsOffline, // 出境定居
        ]
    );
    assert!(all.iter().all(|a| a.rules_version == "chengdu-demo-2025.1"));
    assert_eq!(rules().meta().region, "成都");
    assert!(std::ptr::eq(rules(), WithdrawalRules::embedded().unwrap()));
}

#[test]
fn assessments_serialise_for_the_page() {
    let json = serde_json::to_value(assess(WithdrawalPurpose::LeavingJob, sealed(3))).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "purpose": "leaving_job",
            "name": "离职提取",
            "eligibility": "not_eligible",
            "reasons": [{
                "code": "hpf.withdrawal.sealed_months",
                "message": "账户封存未满 6 个月（已封存 3 个月）",
            }],
            "missing_facts": [],
            "max_amount": null,
            "amount_note": null,
            "closes_account": true,
            "rules_version": "chengdu-demo-2025.1",
        })
    );
    let facts: AccountFacts = serde_json::from_value(serde_json::json!({
        "status": "sealed",
        "balance": "1234.56",
        "months_contributed": 30,
        "consecutive_recent_months": 0,
        "months_since_last_deposit": 7,
        "age": 40,
        "reached_retirement_age": null,
        "owns_home": true,
        "has_hpf_loan": null,
        "re_employed": false,
    }))
    .unwrap();
    assert_eligible(&assess(WithdrawalPurpose::LeavingJob, facts), "1234.56");
}

#[test]
fn inconsistent_facts_are_rejected() {
    let cases = [
        (
            AccountFacts {
                balance: yuan("-0.01"),
                ..active()
            },
            "账户信息无效：账户余额不能为负数（-0.01 元）",
        ),
        (
            AccountFacts {
                consecutive_recent_months: 25,
                ..active()
            },
            "账户信息无效：近期连续缴存月数（25）不能大于累计缴存月数（24）",
        ),
        (
            AccountFacts {
                age: 200,
                ..active()
            },
            "账户信息无效：年龄无效（200 周岁）",
        ),
    ];
    for (facts, message) in cases {
        let err = rules()
            .assess(WithdrawalPurpose::HomePurchase, &facts)
            .unwrap_err();
        assert_eq!(err.code(), "hpf.invalid_facts");
        assert_eq!(err.to_string(), message);
        assert_eq!(rules().assess_all(&facts).unwrap_err(), err);
    }
}

// ---------------------------------------------------------------------------------------
// Another city is another rule file
// ---------------------------------------------------------------------------------------

const HEADER: &str = r#"
version = "other-city-1"
effective_from = "2026-01-01"
region = "示例市"
notice = "测试配置"
"#;

fn with_purposes(purposes: &str) -> String {
    format!("{HEADER}\n{purposes}")
}

const OTHER_CITY: &str = r#"
[[withdrawal.purposes]]
purpose = "retirement"
name = "退休销户提取"
handling = "online"
closes_account = true
amount = { kind = "balance" }
conditions = [
    { kind = "status_in", statuses = ["active", "sealed"] },
    { kind = "age_at_least", years = 60 },
]

[[withdrawal.purposes]]
purpose = "renting"
name = "租赁住房提取"
handling = "online"
amount = { kind = "monthly_cap", cap = "2000.00" }
conditions = [
    { kind = "months_contributed_at_least", months = 12 },
]
"#;

#[test]
fn another_city_is_configuration() {
    let city = WithdrawalRules::from_toml_str(&with_purposes(OTHER_CITY)).unwrap();
    assert_eq!(city.version(), "other-city-1");
    assert_eq!(
        city.purposes().collect::<Vec<_>>(),
        [WithdrawalPurpose::Retirement, WithdrawalPurpose::Renting]
    );

    let young = city
        .assess(WithdrawalPurpose::Retirement, &active())
        .unwrap();
    assert_eq!(young.eligibility, Eligibility::NotEligible);
    assert_eq!(messages(&young), ["年龄未满 60 周岁（现年 35 周岁）"]);
    assert_eq!(codes(&young), ["hpf.withdrawal.age"]);
    assert_eq!(young.name, "退休销户提取");
    assert_eq!(young.rules_version, "other-city-1");

    let older = AccountFacts {
        age: 60,
        reached_retirement_age: None,
        ..active()
    };
    let yes = city.assess(WithdrawalPurpose::Retirement, &older).unwrap();
    assert_eq!(yes.eligibility, Eligibility::Eligible);
    assert_eq!(yes.max_amount, Some(yuan("50000.00")));

    let rent = city.assess(WithdrawalPurpose::Renting, &older).unwrap();
    assert_eq!(rent.max_amount, Some(yuan("2000.00")));

    let err = city
        .assess(WithdrawalPurpose::HomePurchase, &active())
        .unwrap_err();
    assert_eq!(err.code(), "hpf.purpose_not_offered");
    assert_eq!(err.to_string(), "本地未开办购房提取业务");
    assert_eq!(city.assess_all(&active()).unwrap().len(), 2);
}

#[test]
fn the_embedded_file_parses_for_both_modules() {
    assert!(WithdrawalRules::from_toml_str(EMBEDDED_RULES_TOML).is_ok());
    assert_eq!(
        WithdrawalRules::from_toml_str(EMBEDDED_RULES_TOML).unwrap(),
        *rules()
    );
}

// ---------------------------------------------------------------------------------------
// Rule-file validation
// ---------------------------------------------------------------------------------------

fn invalid(text: &str) -> String {
    match WithdrawalRules::from_toml_str(text) {
        Err(err) => {
            assert_eq!(err.code(), "hpf.invalid_rules", "{err}");
            let message = err.to_string();
            message
                .strip_prefix("公积金规则配置无效：")
                .unwrap_or_else(|| panic!("{message}"))
                .to_owned()
        }
        Ok(_) => panic!("accepted invalid rules:\n{text}"),
    }
}

/// One online purpose with the given extra lines and conditions.
fn online(extra: &str, conditions: &str) -> String {
    with_purposes(&format!(
        r#"
[[withdrawal.purposes]]
purpose = "home_purchase"
name = "购房提取"
handling = "online"
{extra}
conditions = [
{conditions}
]
"#
    ))
}

const BALANCE: &str = r#"amount = { kind = "balance" }"#;
const POSITIVE: &str = r#"{ kind = "balance_positive" },"#;

#[test]
fn valid_minimal_purpose_parses() {
    assert!(WithdrawalRules::from_toml_str(&online(BALANCE, POSITIVE)).is_ok());
}

#[test]
fn purpose_level_errors() {
    let p = "withdrawal.purposes[0]（home_purchase）";
    assert_eq!(
        invalid(&with_purposes("[withdrawal]\npurposes = []\n")),
        "withdrawal.purposes 至少需要配置一项提取事项"
    );
    assert_eq!(
        invalid(&online("", POSITIVE)),
        format!("{p}：在线办理的事项须配置 amount")
    );
    assert_eq!(
        invalid(&online(BALANCE, "")),
        format!("{p}：在线办理的事项须至少配置一项条件")
    );
    assert_eq!(
        invalid(&online(
            &format!("{BALANCE}\noffline_note = \"x\""),
            POSITIVE
        )),
        format!("{p}：在线办理的事项不应配置 offline_note")
    );
    assert_eq!(
        invalid(&online(
            r#"amount = { kind = "monthly_cap", cap = "0.00" }"#,
            POSITIVE
        )),
        format!("{p}：amount.cap 须大于 0，实际为 0.00")
    );
    let offline = |extra: &str| {
        with_purposes(&format!(
            "[[withdrawal.purposes]]\npurpose = \"serious_illness\"\nname = \"大病提取\"\nhandling = \"offline\"\n{extra}\nconditions = []\n"
        ))
    };
    let q = "withdrawal.purposes[0]（serious_illness）";
    assert_eq!(
        invalid(&offline("")),
        format!("{q}：线下办理的事项须配置 offline_note（办理说明）")
    );
    assert_eq!(
        invalid(&offline(&format!("offline_note = \"柜台办理\"\n{BALANCE}"))),
        format!("{q}：线下办理的事项不应配置 amount（金额由柜台审核确定）")
    );
    assert!(WithdrawalRules::from_toml_str(&offline("offline_note = \"柜台办理\"")).is_ok());

    let twice = format!(
        "{}{}",
        online(BALANCE, POSITIVE),
        online(BALANCE, POSITIVE).replace(HEADER, "")
    );
    assert_eq!(
        invalid(&twice),
        "withdrawal.purposes[1]（home_purchase）：提取事项重复配置"
    );
    assert_eq!(
        invalid(
            &online(&format!("{BALANCE}\nname = \" \""), POSITIVE).replacen(
                "name = \"购房提取\"\n",
                "",
                1
            )
        ),
        format!("{p}：name 不能为空")
    );
}

#[test]
fn condition_errors() {
    let p = "withdrawal.purposes[0]（home_purchase）";
    let cases = [
        (
            r#"{ kind = "months_contributed_at_least", months = 0 },"#,
            "conditions[0]：months 须在 1 至 600 之间，实际为 0",
        ),
        (
            r#"{ kind = "sealed_months_at_least", months = 601 },"#,
            "conditions[0]：months 须在 1 至 600 之间，实际为 601",
        ),
        (
            r#"{ kind = "age_at_least", years = 0 },"#,
            "conditions[0]：years 须在 1 至 150 之间，实际为 0",
        ),
        (
            r#"{ kind = "status_in", statuses = [] },"#,
            "conditions[0]：statuses 须至少列出一种账户状态且不能重复",
        ),
        (
            r#"{ kind = "status_in", statuses = ["active", "active"] },"#,
            "conditions[0]：statuses 须至少列出一种账户状态且不能重复",
        ),
        (
            r#"{ kind = "balance_positive" }, { kind = "balance_positive" },"#,
            "conditions[1]：条件 balance_positive 重复配置",
        ),
        (
            r#"{ kind = "fact_is", fact = "owns_home", value = false }, { kind = "fact_is", fact = "owns_home", value = true },"#,
            "conditions[1]：条件 fact_is owns_home 重复配置",
        ),
    ];
    for (conditions, detail) in cases {
        assert_eq!(
            invalid(&online(BALANCE, conditions)),
            format!("{p}：{detail}")
        );
    }
}

#[test]
fn unknown_names_and_types_are_reported_with_the_line() {
    // Line numbers count from the HEADER's leading blank line; the conditions start on 14.
    let unknown_kind = invalid(&online(BALANCE, r#"{ kind = "owns_car" },"#));
    assert!(unknown_kind.starts_with("第 14 行："), "{unknown_kind}");
    assert!(unknown_kind.contains("owns_car"), "{unknown_kind}");

    let unknown_fact = invalid(&online(
        BALANCE,
        r#"{ kind = "fact_is", fact = "owns_car", value = true },"#,
    ));
    assert!(unknown_fact.contains("owns_car"), "{unknown_fact}");

    let unknown_field = invalid(&online(
        BALANCE,
        r#"{ kind = "months_contributed_at_least", months = 6, per = "year" },"#,
    ));
    assert!(unknown_field.contains("per"), "{unknown_field}");

    let unknown_purpose =
        invalid(&online(BALANCE, POSITIVE).replace("home_purchase", "car_purchase"));
    assert!(
        unknown_purpose.contains("car_purchase"),
        "{unknown_purpose}"
    );

    let number_cap = invalid(&online(
        r#"amount = { kind = "monthly_cap", cap = 1500 }"#,
        POSITIVE,
    ));
    assert!(number_cap.contains("金额必须以字符串表示"), "{number_cap}");

    let bad_status = invalid(&online(
        BALANCE,
        r#"{ kind = "status_in", statuses = ["frozen"] },"#,
    ));
    assert!(bad_status.contains("frozen"), "{bad_status}");

    let extra_field = invalid(&online(BALANCE, r#"{ kind = "balance_positive", x = 1 },"#));
    assert!(extra_field.contains("unknown field `x`"), "{extra_field}");
    let extra_field = invalid(&online(
        r#"amount = { kind = "balance", cap = "1.00" }"#,
        POSITIVE,
    ));
    assert!(extra_field.contains("unknown field `cap`"), "{extra_field}");

    assert!(invalid(HEADER).contains("withdrawal"));
    assert!(invalid(&online(BALANCE, POSITIVE).replace("version", "verison")).contains("version"));
    assert!(
        invalid(&online(BALANCE, POSITIVE).replace("handling = \"online\"\n", ""))
            .contains("handling")
    );
}

#[test]
fn purposes_and_facts_have_stable_codes() {
    let codes: Vec<&str> = WithdrawalPurpose::ALL.iter().map(|p| p.code()).collect();
    assert_eq!(
        codes,
        [
            "home_purchase",
            "renting",
            "retirement",
            "leaving_job",
            "loan_repayment",
            "serious_illness",
            "emigration"
        ]
    );
    for purpose in WithdrawalPurpose::ALL {
        assert_eq!(
            serde_json::to_value(purpose).unwrap(),
            serde_json::Value::String(purpose.code().to_owned())
        );
        assert!(purpose.name_zh().ends_with("提取"));
    }
    assert_eq!(Fact::OwnsHome.code(), "owns_home");
    assert_eq!(Fact::OwnsHome.statement_zh(false), "名下无住房");
    let err = HpfError::PurposeNotOffered {
        name: "大病提取".to_owned(),
    };
    assert_eq!(err.code(), "hpf.purpose_not_offered");
}
