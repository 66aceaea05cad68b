//! Every answer the agencies build validates against its JSON Schema in `docs/schemas/`.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};

use bianmin_govsim::calendar::LAST_CLOSED_MONTH;
use bianmin_govsim::population::social_insurance::CardStatus;
use bianmin_govsim::records::court::CourtCases;
use bianmin_govsim::records::credit::CreditReportRecord;
use bianmin_govsim::records::enterprise::{
    Distributors, DistributorsRequest, EnterpriseOrders, EnterprisePayments, EnterpriseTrade,
    OpenOrders, OrderPayment, TradeRequest,
};
use bianmin_govsim::records::housing_fund::{HpfAccount, HpfDeposits, MonthRangeRequest};
use bianmin_govsim::records::identity::{IdentityVerification, IdentityVerifyRequest};
use bianmin_govsim::records::social_insurance::{
    ActivationOutcome, MAX_STAFF_PAGE, SiCard, SiCardActivation, SiContributions, SiEmployerStaff,
    SiStatus,
};
use bianmin_govsim::records::tax::{TaxIncome, TaxIncomeRequest};
use bianmin_govsim::records::traffic::{
    FineNotification, NotifyOutcome, TrafficLicence, TrafficVehicles, TrafficViolations,
};
use bianmin_govsim::records::{DATA_KINDS, DateRange, SERVICE_CODES};
use bianmin_govsim::{NamedResident, Population};

fn schema(name: &str) -> jsonschema::Validator {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../docs/schemas/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn to_value(answer: &impl Serialize) -> Value {
    serde_json::to_value(answer).unwrap()
}

fn check(validator: &jsonschema::Validator, kind: &str, answer: &impl Serialize) {
    let value = serde_json::to_value(answer).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{kind}: {errors:?}\n{value:#}");
}

#[test]
fn every_service_has_a_request_and_a_response_schema() {
    for code in SERVICE_CODES {
        schema(code);
        schema(&format!("{code}.request"));
    }
    for kind in DATA_KINDS {
        assert!(SERVICE_CODES.contains(&kind), "{kind} names a service");
    }
    // And no schema is left without a service.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let code = name
            .strip_suffix(".request.json")
            .or_else(|| name.strip_suffix(".json"))
            .unwrap_or(&name);
        assert!(
            SERVICE_CODES.contains(&code),
            "{name} belongs to no service"
        );
    }
}

#[test]
fn generated_answers_match_their_schemas() {
    let population = Population::new(20_261_129, 20_000);
    let validators: Vec<(&str, jsonschema::Validator)> = SERVICE_CODES
        .iter()
        .map(|code| (*code, schema(code)))
        .collect();
    let validator = |kind: &str| &validators.iter().find(|(k, _)| *k == kind).unwrap().1;
    let mut seen = std::collections::BTreeMap::<&str, u32>::new();
    let all = DateRange::ALL;
    for index in (0..20_000).step_by(37) {
        let person = population.person(index);
        let mut answer = |kind: &'static str, value: Option<Value>| {
            if let Some(value) = value {
                check(validator(kind), kind, &value);
                *seen.entry(kind).or_default() += 1;
            }
        };
        let request = IdentityVerifyRequest {
            name: person.name.clone(),
            phone: Some(person.phone.as_str().to_owned()),
        };
        answer(
            "identity.verify",
            Some(to_value(&IdentityVerification::check(
                Some(&person),
                &request,
            ))),
        );
        answer(
            "identity.verify",
            Some(to_value(&IdentityVerification::check(None, &request))),
        );
        answer(
            "hpf.account",
            HpfAccount::of(&population, &person).map(|a| to_value(&a)),
        );
        answer(
            "hpf.deposits",
            HpfDeposits::of(&population, &person, &MonthRangeRequest::default(), all)
                .map(|a| to_value(&a)),
        );
        answer(
            "si.status",
            Some(to_value(&SiStatus::of(&population, &person))),
        );
        let card = SiCard::of(&population, &person, None);
        if let (Some(number), Some(at)) = (&card.card_number, card.electronic_activated_at) {
            answer(
                "si.card.activate",
                Some(to_value(&SiCardActivation {
                    outcome: ActivationOutcome::AlreadyActivated,
                    card_number: number.clone(),
                    electronic_activated_at: at,
                    as_of: bianmin_govsim::REFERENCE_DATE,
                })),
            );
        }
        answer("si.card", Some(to_value(&card)));
        if card.status == bianmin_govsim::records::social_insurance::SiCardStatus::Active {
            // Activated while the simulator runs.
            let now = chrono::DateTime::parse_from_rfc3339("2026-11-29T10:30:00+08:00").unwrap();
            answer(
                "si.card",
                Some(to_value(&SiCard::of(&population, &person, Some(now)))),
            );
        }
        answer(
            "si.contributions",
            SiContributions::of(&population, &person, &MonthRangeRequest::default(), all)
                .map(|a| to_value(&a)),
        );
        answer(
            "tax.income",
            Some(to_value(&TaxIncome::of(
                &population,
                &person,
                &TaxIncomeRequest::default(),
                all,
            ))),
        );
        answer(
            "traffic.vehicles",
            Some(to_value(&TrafficVehicles::of(&person))),
        );
        let violations = TrafficViolations::of(&person, all, |_| None);
        if let Some(first) = violations.violations.first() {
            answer(
                "traffic.fine.notify",
                Some(to_value(&FineNotification {
                    payment_id: "PAY-1".into(),
                    violation_id: first.id.clone(),
                    amount: first.amount_due,
                    outcome: NotifyOutcome::Recorded,
                    paid_on: bianmin_govsim::REFERENCE_DATE,
                })),
            );
        }
        answer("traffic.violations", Some(to_value(&violations)));
        answer(
            "traffic.licence",
            TrafficLicence::of(&person).map(|licence| to_value(&licence)),
        );
        answer(
            "credit.report",
            Some(to_value(&CreditReportRecord::of(&person))),
        );
        answer("court.cases", Some(to_value(&CourtCases::of(&person, all))));
        let owned = population.group().owned_by(index);
        if !owned.is_empty() {
            answer(
                "enterprise.distributors",
                Some(to_value(&Distributors::of(
                    population.group(),
                    Some(owned),
                    &DistributorsRequest::default(),
                ))),
            );
        }
    }
    for distributor in population.group().distributors().iter().step_by(17) {
        check(
            validator("enterprise.orders"),
            "enterprise.orders",
            &EnterpriseOrders::of(distributor, DateRange::ALL),
        );
        check(
            validator("enterprise.payments"),
            "enterprise.payments",
            &EnterprisePayments::of(distributor, DateRange::ALL),
        );
    }
    check(
        validator("enterprise.distributors"),
        "enterprise.distributors",
        &Distributors::of(
            population.group(),
            None,
            &DistributorsRequest {
                uscc: None,
                page: Some(2),
                page_size: Some(200),
            },
        ),
    );
    // A集团's whole network, a batch of trade, open orders and a payment, on the reference
    // date and with later months closed.
    for closed in [LAST_CLOSED_MONTH, LAST_CLOSED_MONTH.plus(7)] {
        check(
            validator("enterprise.network"),
            "enterprise.network",
            &Distributors::network(population.group(), &DistributorsRequest::default(), closed)
                .unwrap(),
        );
        let mut usccs: Vec<String> = population
            .group()
            .distributors()
            .iter()
            .step_by(9)
            .take(99)
            .map(|d| d.uscc.as_str().to_owned())
            .collect();
        usccs.push("91510100MA000000XX".into());
        let trade = EnterpriseTrade::at(population.group(), &TradeRequest { usccs }, closed);
        assert_eq!(trade.not_found.len(), 1);
        check(validator("enterprise.trade"), "enterprise.trade", &trade);
        for distributor in population.group().distributors().iter().step_by(17) {
            let open = OpenOrders::at(distributor, closed, |_| bianmin_core::Money::from_fen(0));
            check(
                validator("enterprise.orders.open"),
                "enterprise.orders.open",
                &open,
            );
            let order = &open.orders[0];
            check(
                validator("enterprise.order.pay"),
                "enterprise.order.pay",
                &OrderPayment {
                    order_no: order.order_no.clone(),
                    amount: order.amount,
                    outstanding: bianmin_core::Money::from_fen(0),
                    receipt_no: "RC2026112900000001".into(),
                    duplicate: false,
                },
            );
        }
    }
    // Staff lists: first pages of every tenth employer, a later page, one past the end.
    let staff = validator("si.employer.staff");
    for employer in population.employers().iter().step_by(10) {
        for page in [1, 2, 1_000] {
            let answer = SiEmployerStaff::of(&population, employer, page, MAX_STAFF_PAGE);
            check(staff, "si.employer.staff", &answer);
            *seen.entry("si.employer.staff").or_default() += answer.employees.len() as u32;
        }
    }
    for code in SERVICE_CODES
        .iter()
        .filter(|code| !code.starts_with("enterprise."))
    {
        assert!(
            seen.get(code).copied().unwrap_or(0) > 0,
            "no {code} answer was checked"
        );
    }
    // Cards of every state, including never issued (numbers, banks and dates null).
    for status in [
        CardStatus::Active,
        CardStatus::Suspended,
        CardStatus::ReportedLost,
        CardStatus::NotIssued,
    ] {
        let person = (0..20_000)
            .map(|index| population.person(index))
            .find(|person| person.social_insurance.card == status)
            .unwrap();
        check(
            validator("si.card"),
            "si.card",
            &SiCard::of(&population, &person, None),
        );
    }
}

#[test]
fn staff_lists_with_named_residents_match_their_schema() {
    let generated = Population::new(7, 2_000);
    let template = (0..2_000)
        .map(|index| generated.person(index))
        .find(|p| p.employment.employer.is_some())
        .unwrap();
    let resident = |id: &str, name: &str, phone: &str| NamedResident {
        resident_id: id.parse().unwrap(),
        name: name.into(),
        phone: phone.parse().unwrap(),
        template: template.index,
    };
    let population = generated
        .with_residents(vec![
            resident("510104198803120039", "Alice Wang", "13800000001"),
            resident("51010719920708002X", "欧阳娜娜", "13900000002"),
        ])
        .unwrap();
    let employer = population
        .employer(template.employment.employer.unwrap())
        .unwrap();
    let validator = schema("si.employer.staff");
    let mut names = Vec::new();
    let mut page = 1;
    loop {
        let answer = SiEmployerStaff::of(&population, employer, page, 50);
        check(&validator, "si.employer.staff", &answer);
        if answer.employees.is_empty() {
            break;
        }
        names.extend(answer.employees.into_iter().map(|e| e.name_masked));
        page += 1;
    }
    assert!(names.contains(&"A*********".to_owned()), "{names:?}");
    assert!(names.contains(&"***娜".to_owned()), "{names:?}");
    assert_eq!(names.len(), population.staff_count(employer.number));
}

#[test]
fn schemas_reject_what_the_types_never_produce() {
    let account = schema("hpf.account");
    let population = Population::new(1, 1_000);
    let person = (0..1_000)
        .map(|index| population.person(index))
        .find(|person| person.housing_fund.is_some())
        .unwrap();
    let mut value = serde_json::to_value(HpfAccount::of(&population, &person).unwrap()).unwrap();
    assert!(account.is_valid(&value));
    value["balance"] = json!(1234.5);
    assert!(!account.is_valid(&value), "money must be a yuan string");
    value["balance"] = json!("1234.5");
    assert!(!account.is_valid(&value), "two decimals");
    value["balance"] = json!("1234.50");
    value["surprise"] = json!(true);
    assert!(!account.is_valid(&value), "no unknown fields");
}

#[test]
fn request_examples_match_their_schemas() {
    let subject = "51010419900307123X";
    let examples = [
        (
            "identity.verify.request",
            json!({"subject": subject, "name": "张三", "phone": "13812341234"}),
        ),
        (
            "hpf.deposits.request",
            json!({"subject": subject, "from": "2025-01", "to": "2025-12"}),
        ),
        (
            "tax.income.request",
            json!({"subject": subject, "years": [2024, 2025]}),
        ),
        (
            "traffic.fine.notify.request",
            json!({"subject": subject, "violation_id": "51010202501020000001", "payment_id": "P1",
                   "amount": "200.00", "paid_at": "2026-11-29T10:00:00+08:00"}),
        ),
        (
            "enterprise.distributors.request",
            json!({"subject": subject, "page": 1, "page_size": 20}),
        ),
        (
            "enterprise.orders.request",
            json!({"uscc": "91350100M000100Y43"}),
        ),
        ("enterprise.network.request", json!({"page": 3})),
        (
            "enterprise.network.request",
            json!({"page": 1, "page_size": 200}),
        ),
        (
            "enterprise.trade.request",
            json!({"usccs": ["91350100M000100Y43", "91510104MA6C8B9X2L"]}),
        ),
        (
            "enterprise.orders.open.request",
            json!({"uscc": "91350100M000100Y43"}),
        ),
        (
            "enterprise.order.pay.request",
            json!({"uscc": "91350100M000100Y43", "order_no": "PO2026111812345",
                   "amount": "5000.00", "payment_id": "BANK-PAY-0001"}),
        ),
        ("si.card.request", json!({"subject": subject})),
        ("si.card.activate.request", json!({"subject": subject})),
        (
            "si.employer.staff.request",
            json!({"uscc": "91510104MA6C8B9X2L", "page": 2, "per_page": 200}),
        ),
        ("traffic.licence.request", json!({"subject": subject})),
    ];
    for (name, example) in examples {
        let validator = schema(name);
        assert!(validator.is_valid(&example), "{name}: {example}");
    }
    assert!(
        !schema("hpf.account.request").is_valid(&json!({})),
        "subject is required"
    );
    assert!(
        !schema("si.card.activate.request").is_valid(&json!({"subject": subject, "force": true})),
        "no unknown fields"
    );
    let trade = schema("enterprise.trade.request");
    let many: Vec<String> = (0..101).map(|_| "91350100M000100Y43".to_owned()).collect();
    for bad in [json!({"usccs": []}), json!({"usccs": many}), json!({})] {
        assert!(!trade.is_valid(&bad), "{bad}");
    }
    assert!(
        !schema("enterprise.network.request").is_valid(&json!({"page_size": 201})),
        "pages of at most 200"
    );
    let staff = schema("si.employer.staff.request");
    assert!(staff.is_valid(&json!({"uscc": "91510104MA6C8B9X2L"})));
    for bad in [
        json!({}),
        json!({"uscc": "91510104MA6C8B9X2L", "per_page": 201}),
        json!({"uscc": "91510104MA6C8B9X2L", "page": 0}),
        json!({"uscc": "91510104MA6C8B9X2L", "subject": subject}),
    ] {
        assert!(!staff.is_valid(&bad), "{bad}");
    }
}
