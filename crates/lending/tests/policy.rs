//! `lending::policy`: every rule at its threshold, the household cap, the APR ceiling, parse
//! errors, and the policy version carried into the outcome.

use bianmin_core::{Money, Rate};
use bianmin_lending::policy::{
    CreditPolicy, EMBEDDED_POLICY_TOML, PolicyError, PolicyInput, PolicyOutcome,
    REGULATORY_HOUSEHOLD_CAP, REGULATORY_MAX_APR, RuleCode, RuleResult,
};
use bianmin_lending::scorecard::{EmploymentKind, Features};
use chrono::NaiveDate;
use rust_decimal_macros::dec;

fn yuan(input: &str) -> Money {
    Money::parse(input).unwrap()
}

fn rate(input: &str) -> Rate {
    Rate::parse(input).unwrap()
}

fn policy() -> &'static CreditPolicy {
    CreditPolicy::embedded().unwrap()
}

/// An applicant who meets every rule of the embedded policy, asking for 30,000.00 at 18%.
fn good() -> PolicyInput {
    PolicyInput {
        age: 35,
        dishonest: false,
        overdue_days: 0,
        inquiries_6m: 2,
        dti_permille: 300,
        existing_online_credit: Money::ZERO,
        requested_amount: yuan("30000.00"),
        annual_rate: rate("0.18"),
    }
}

fn evaluate(input: PolicyInput) -> PolicyOutcome {
    policy().evaluate(&input).unwrap()
}

fn result(outcome: &PolicyOutcome, code: RuleCode) -> &RuleResult {
    outcome.results.iter().find(|r| r.code == code).unwrap()
}

/// Asserts that `code` is the only failed rule, with `reason`, and that nothing is offered.
fn only_failure(outcome: &PolicyOutcome, code: RuleCode, reason: &str) {
    assert!(!outcome.passed, "{outcome:#?}");
    let failed = outcome.failed();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].code, code);
    assert_eq!(failed[0].reason_zh.as_deref(), Some(reason));
    assert_eq!(outcome.max_limit, Money::ZERO);
}

fn passes(outcome: &PolicyOutcome) {
    assert!(outcome.passed, "{outcome:#?}");
    assert!(outcome.failed().is_empty());
    assert!(outcome.results.iter().all(|r| r.reason_zh.is_none()));
}

/// The embedded file with `from` replaced by `to` (which must occur exactly once).
fn embedded_with(from: &str, to: &str) -> String {
    assert_eq!(
        EMBEDDED_POLICY_TOML.matches(from).count(),
        1,
        "`{from}` must occur once"
    );
    EMBEDDED_POLICY_TOML.replacen(from, to, 1)
}

fn parse_error(text: &str) -> String {
    let error = CreditPolicy::from_toml_str(text).unwrap_err();
    assert_eq!(error.code(), "lending.invalid_policy", "{error}");
    assert!(matches!(error, PolicyError::InvalidPolicy(_)));
    error.to_string()
}

// --- The embedded policy ---------------------------------------------------------------

#[test]
fn embedded_policy_parses_with_its_figures() {
    let policy = policy();
    assert_eq!(policy.version(), "shandiandai-policy-2025.1");
    assert_eq!(
        policy.effective_from(),
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
    );
    assert!(policy.is_effective_on(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()));
    assert!(!policy.is_effective_on(NaiveDate::from_ymd_opt(2025, 5, 31).unwrap()));
    let hard = policy.hard();
    assert_eq!((hard.min_age, hard.max_age), (22, 55));
    assert_eq!(hard.max_overdue_days, 0);
    assert_eq!(hard.max_inquiries_6m, 6);
    assert_eq!(hard.max_dti_permille, 500);
    let limits = policy.limits();
    assert_eq!(limits.household_online_credit_cap, yuan("200000.00"));
    assert_eq!(limits.household_online_credit_cap, REGULATORY_HOUSEHOLD_CAP);
    assert_eq!(limits.product_max_limit, yuan("200000.00"));
    assert_eq!(limits.max_apr, rate("0.24"));
    assert_eq!(REGULATORY_MAX_APR, dec!(0.24));
}

#[test]
fn a_good_applicant_passes_every_rule_and_gets_what_they_asked_for() {
    let outcome = evaluate(good());
    passes(&outcome);
    let codes: Vec<_> = outcome.results.iter().map(|r| r.code).collect();
    assert_eq!(codes, RuleCode::ALL);
    assert_eq!(outcome.max_limit, yuan("30000.00"));
    assert_eq!(outcome.policy_version, "shandiandai-policy-2025.1");
}

#[test]
fn rule_codes_are_stable_strings() {
    let codes: Vec<_> = RuleCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        codes,
        [
            "P01_AGE",
            "P02_DISHONEST",
            "P03_OVERDUE",
            "P04_INQUIRIES",
            "P05_DTI",
            "P06_CREDIT_CAP",
            "P07_MAX_APR"
        ]
    );
    assert_eq!(
        serde_json::to_string(&RuleCode::DebtToIncome).unwrap(),
        r#""P05_DTI""#
    );
    assert_eq!(RuleCode::Age.to_string(), "P01_AGE");
}

// --- Hard rules at their thresholds ----------------------------------------------------

#[test]
fn age_boundaries_are_inclusive() {
    for age in [22, 55] {
        passes(&evaluate(PolicyInput { age, ..good() }));
    }
    for age in [21, 56] {
        let outcome = evaluate(PolicyInput { age, ..good() });
        only_failure(&outcome, RuleCode::Age, "年龄不在 22 至 55 周岁之间");
        assert_eq!(
            result(&outcome, RuleCode::Age).detail,
            format!("age {age}, accepted 22..=55")
        );
    }
}

#[test]
fn a_dishonest_debtor_is_rejected() {
    let outcome = evaluate(PolicyInput {
        dishonest: true,
        ..good()
    });
    only_failure(&outcome, RuleCode::Dishonest, "申请人被列为失信被执行人");
}

#[test]
fn any_current_overdue_is_rejected() {
    passes(&evaluate(PolicyInput {
        overdue_days: 0,
        ..good()
    }));
    let outcome = evaluate(PolicyInput {
        overdue_days: 1,
        ..good()
    });
    only_failure(&outcome, RuleCode::Overdue, "当前有逾期未还的款项");
}

#[test]
fn an_overdue_allowance_is_named_in_the_reason() {
    let policy = CreditPolicy::from_toml_str(&embedded_with(
        "max_overdue_days = 0",
        "max_overdue_days = 3",
    ))
    .unwrap();
    let at = policy.evaluate(&PolicyInput {
        overdue_days: 3,
        ..good()
    });
    assert!(at.unwrap().passed);
    let above = policy
        .evaluate(&PolicyInput {
            overdue_days: 4,
            ..good()
        })
        .unwrap();
    only_failure(&above, RuleCode::Overdue, "当前逾期超过 3 天");
}

#[test]
fn inquiries_at_the_maximum_pass_and_one_more_fails() {
    passes(&evaluate(PolicyInput {
        inquiries_6m: 6,
        ..good()
    }));
    let outcome = evaluate(PolicyInput {
        inquiries_6m: 7,
        ..good()
    });
    only_failure(
        &outcome,
        RuleCode::Inquiries,
        "近 6 个月征信查询次数超过 6 次",
    );
}

#[test]
fn dti_at_the_maximum_passes_and_one_per_mille_more_fails() {
    passes(&evaluate(PolicyInput {
        dti_permille: 500,
        ..good()
    }));
    let outcome = evaluate(PolicyInput {
        dti_permille: 501,
        ..good()
    });
    only_failure(
        &outcome,
        RuleCode::DebtToIncome,
        "月还款额占收入比例超过 50%",
    );
    assert_eq!(
        result(&outcome, RuleCode::DebtToIncome).detail,
        "dti_permille 501, at most 500"
    );
}

#[test]
fn every_failure_is_listed_without_short_circuit() {
    let outcome = evaluate(PolicyInput {
        age: 60,
        dishonest: true,
        overdue_days: 30,
        inquiries_6m: 20,
        dti_permille: 2_000,
        existing_online_credit: yuan("200000.00"),
        requested_amount: yuan("1000.00"),
        annual_rate: rate("0.36"),
    });
    assert!(!outcome.passed);
    let failed: Vec<_> = outcome.failed().iter().map(|r| r.code).collect();
    assert_eq!(failed, RuleCode::ALL);
    assert!(
        outcome
            .results
            .iter()
            .all(|r| r.reason_zh.as_deref().is_some_and(|s| !s.is_empty()))
    );
    assert_eq!(outcome.max_limit, Money::ZERO);
}

// --- The household cap -----------------------------------------------------------------

#[test]
fn existing_credit_leaves_the_rest_of_the_household_cap() {
    let outcome = evaluate(PolicyInput {
        existing_online_credit: yuan("150000.00"),
        requested_amount: yuan("80000.00"),
        ..good()
    });
    passes(&outcome);
    assert_eq!(outcome.max_limit, yuan("50000.00"));
    assert_eq!(
        result(&outcome, RuleCode::CreditCap).detail,
        "existing_online_credit 150000.00, cap 200000.00, headroom 50000.00"
    );
}

#[test]
fn one_fen_of_headroom_is_still_headroom() {
    let outcome = evaluate(PolicyInput {
        existing_online_credit: yuan("199999.99"),
        ..good()
    });
    passes(&outcome);
    assert_eq!(outcome.max_limit, yuan("0.01"));
}

#[test]
fn a_full_household_cap_offers_nothing_with_a_reason() {
    for existing in ["200000.00", "250000.00"] {
        let outcome = evaluate(PolicyInput {
            existing_online_credit: yuan(existing),
            ..good()
        });
        only_failure(
            &outcome,
            RuleCode::CreditCap,
            "您在本行的网络消费贷款额度已达 200000 元上限",
        );
        assert!(
            result(&outcome, RuleCode::CreditCap)
                .detail
                .ends_with("headroom 0.00")
        );
    }
}

#[test]
fn the_limit_is_the_smallest_of_headroom_product_cap_and_request() {
    let policy = CreditPolicy::from_toml_str(&embedded_with(
        "product_max_limit = \"200000.00\"",
        "product_max_limit = \"30000.00\"",
    ))
    .unwrap();
    let limit = |existing: &str, requested: &str| {
        policy
            .evaluate(&PolicyInput {
                existing_online_credit: yuan(existing),
                requested_amount: yuan(requested),
                ..good()
            })
            .unwrap()
            .max_limit
    };
    assert_eq!(limit("0.00", "100000.00"), yuan("30000.00")); // product cap
    assert_eq!(limit("190000.00", "100000.00"), yuan("10000.00")); // household headroom
    assert_eq!(limit("0.00", "5000.50"), yuan("5000.50")); // the request
}

// --- The APR ceiling -------------------------------------------------------------------

#[test]
fn a_price_at_24_percent_passes_and_24_01_is_refused() {
    passes(&evaluate(PolicyInput {
        annual_rate: rate("0.24"),
        ..good()
    }));
    let outcome = evaluate(PolicyInput {
        annual_rate: rate("0.2401"),
        ..good()
    });
    only_failure(
        &outcome,
        RuleCode::MaxApr,
        "本次定价超过年化利率 24% 的上限，暂无法提供借款",
    );
    assert_eq!(
        result(&outcome, RuleCode::MaxApr).detail,
        "annual_rate 0.2401, at most 0.24"
    );
}

#[test]
fn a_tighter_apr_ceiling_is_shown_exactly() {
    let policy =
        CreditPolicy::from_toml_str(&embedded_with("max_apr = \"0.24\"", "max_apr = \"0.235\""))
            .unwrap();
    let outcome = policy
        .evaluate(&PolicyInput {
            annual_rate: rate("0.2351"),
            ..good()
        })
        .unwrap();
    only_failure(
        &outcome,
        RuleCode::MaxApr,
        "本次定价超过年化利率 23.5% 的上限，暂无法提供借款",
    );
}

// --- Inputs ----------------------------------------------------------------------------

#[test]
fn inputs_come_from_features() {
    let features = Features {
        age: 40,
        monthly_income_yuan: 12_000,
        fund_months: 60,
        employment: EmploymentKind::Employed,
        dti_permille: 250,
        overdue_days: 0,
        worst_status_24m: 0,
        inquiries_6m: 1,
        card_utilisation_pct: 30,
        dishonest: false,
        open_court_cases: 0,
    };
    let input =
        PolicyInput::from_features(&features, yuan("10000.00"), yuan("20000.00"), rate("0.12"));
    assert_eq!(
        input,
        PolicyInput {
            age: 40,
            dishonest: false,
            overdue_days: 0,
            inquiries_6m: 1,
            dti_permille: 250,
            existing_online_credit: yuan("10000.00"),
            requested_amount: yuan("20000.00"),
            annual_rate: rate("0.12"),
        }
    );
    assert_eq!(evaluate(input).max_limit, yuan("20000.00"));
}

#[test]
fn invalid_amounts_are_input_errors() {
    for input in [
        PolicyInput {
            existing_online_credit: yuan("-0.01"),
            ..good()
        },
        PolicyInput {
            requested_amount: Money::ZERO,
            ..good()
        },
        PolicyInput {
            requested_amount: yuan("-5.00"),
            ..good()
        },
    ] {
        let error = policy().evaluate(&input).unwrap_err();
        assert_eq!(error.code(), "lending.invalid_policy_input");
    }
}

// --- Versions --------------------------------------------------------------------------

#[test]
fn the_version_is_carried_into_the_outcome() {
    let policy = CreditPolicy::from_toml_str(&embedded_with(
        "version = \"shandiandai-policy-2025.1\"",
        "version = \"shandiandai-policy-2026.2\" # next",
    ))
    .unwrap();
    assert_eq!(policy.version(), "shandiandai-policy-2026.2");
    let outcome = policy.evaluate(&good()).unwrap();
    assert_eq!(outcome.policy_version, "shandiandai-policy-2026.2");
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["policy_version"], "shandiandai-policy-2026.2");
    assert_eq!(json["max_limit"], "30000.00");
    assert_eq!(json["results"][0]["code"], "P01_AGE");
    let back: PolicyOutcome = serde_json::from_value(json).unwrap();
    assert_eq!(back, outcome);
}

// --- Parse errors ----------------------------------------------------------------------

#[test]
fn a_float_amount_is_refused() {
    let message = parse_error(&embedded_with(
        "household_online_credit_cap = \"200000.00\"",
        "household_online_credit_cap = 200000.00",
    ));
    assert!(message.contains("金额必须以字符串表示"), "{message}");
    assert!(message.contains("line "), "{message}");
}

#[test]
fn a_float_rate_is_refused() {
    let message = parse_error(&embedded_with("max_apr = \"0.24\"", "max_apr = 0.24"));
    assert!(message.contains("利率必须以字符串表示"), "{message}");
}

#[test]
fn an_integer_amount_is_refused() {
    let message = parse_error(&embedded_with(
        "product_max_limit = \"200000.00\"",
        "product_max_limit = 200000",
    ));
    assert!(message.contains("金额必须以字符串表示"), "{message}");
}

#[test]
fn an_amount_with_fractions_of_a_fen_is_refused() {
    let message = parse_error(&embedded_with(
        "product_max_limit = \"200000.00\"",
        "product_max_limit = \"1000.001\"",
    ));
    assert!(message.contains("最多保留 2 位小数"), "{message}");
}

#[test]
fn an_unknown_key_is_refused() {
    let message = parse_error(&embedded_with(
        "max_inquiries_6m = 6",
        "max_inquiries_6m = 6\nmax_inquiries_3m = 4",
    ));
    assert!(
        message.contains("unknown field `max_inquiries_3m`"),
        "{message}"
    );
    let message = parse_error(&format!("{EMBEDDED_POLICY_TOML}\n[extra]\nx = 1\n"));
    assert!(message.contains("unknown field `extra`"), "{message}");
}

#[test]
fn a_missing_cap_is_refused() {
    let message = parse_error(&embedded_with(
        "household_online_credit_cap = \"200000.00\"",
        "",
    ));
    assert!(
        message.contains("missing field `household_online_credit_cap`"),
        "{message}"
    );
    let message = parse_error(&embedded_with(
        "version = \"shandiandai-policy-2025.1\"",
        "",
    ));
    assert!(message.contains("missing field `version`"), "{message}");
}

#[test]
fn regulatory_ceilings_cannot_be_loosened() {
    let message = parse_error(&embedded_with(
        "household_online_credit_cap = \"200000.00\"",
        "household_online_credit_cap = \"200000.01\"",
    ));
    assert!(
        message.contains("above the regulatory 200000.00"),
        "{message}"
    );
    let message = parse_error(&embedded_with("max_apr = \"0.24\"", "max_apr = \"0.2401\""));
    assert!(message.contains("above the regulatory 0.24"), "{message}");
}

#[test]
fn inconsistent_figures_are_refused() {
    for (from, to, expected) in [
        ("min_age = 22", "min_age = 56", "above `hard.max_age`"),
        ("min_age = 22", "min_age = 17", "below 18"),
        (
            "max_dti_permille = 500",
            "max_dti_permille = 2001",
            "above 2000",
        ),
        ("max_apr = \"0.24\"", "max_apr = \"0\"", "must be positive"),
        (
            "product_max_limit = \"200000.00\"",
            "product_max_limit = \"0.00\"",
            "must be positive",
        ),
        (
            "version = \"shandiandai-policy-2025.1\"",
            "version = \" \"",
            "`version` is empty",
        ),
        (
            "max_age = 55",
            "max_age = -1",
            "invalid value: integer `-1`",
        ),
        (
            "effective_from = \"2025-06-01\"",
            "effective_from = \"2025-02-30\"",
            "input is out of range",
        ),
    ] {
        let message = parse_error(&embedded_with(from, to));
        assert!(message.contains(expected), "{to}: {message}");
    }
}

#[test]
fn malformed_toml_is_refused_with_its_line() {
    for (text, line) in [
        ("version = [1, 2]", "line 1"),
        ("\n\nversion = \"a", "line 3"),
        ("version = \"a\"\nversion = \"b\"", "line 2"),
        ("[hard]\n[hard]", "line 2"),
        ("just words", "line 1"),
        ("version =", "line 1"),
    ] {
        let message = parse_error(text);
        assert!(message.contains("TOML parse error"), "{text:?}: {message}");
        assert!(message.contains(line), "{text:?}: {message}");
    }
}

#[test]
fn ordinary_toml_comments_strings_and_integers_are_read() {
    let text = r#"
# a comment
version = "v\u0031 \"quoted\" # not a comment"   # a comment
effective_from = '2025-06-01'
[hard]
min_age = +22
max_age = 5_5
max_overdue_days = 0
max_inquiries_6m = 6
max_dti_permille = 1_000
[limits]
household_online_credit_cap = "100000"
product_max_limit = "50000.5"
max_apr = "0.18"
"#;
    let policy = CreditPolicy::from_toml_str(text).unwrap();
    assert_eq!(policy.version(), "v1 \"quoted\" # not a comment");
    assert_eq!((policy.hard().min_age, policy.hard().max_age), (22, 55));
    assert_eq!(policy.hard().max_dti_permille, 1_000);
    assert_eq!(policy.limits().product_max_limit, yuan("50000.50"));
}
