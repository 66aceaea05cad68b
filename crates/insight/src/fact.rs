//! The domain events the cockpit counts, read as facts: what happened, when, along which
//! dimensions, to which pseudonymous subject, and how long it took. Events of other kinds are
//! not facts (`None`); a fact never carries anything an event did not.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// What a fact counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// A use of a citizen service (`service.used`).
    ServiceUse,
    /// A 闪电贷 application made (`loan.applied`).
    LoanApplied,
    /// A 闪电贷 decision (`loan.decided`; outcome approved or declined, latency the decision time).
    LoanDecided,
    /// A 闪电贷 contract signed (`loan.contract_signed`).
    LoanSigned,
    /// Money drawn on a line (`loan.drawn`).
    LoanDrawn,
    /// A question to the assistant (`assistant.turn`; outcome answer, clarify or handoff).
    AssistantTurn,
    /// A follow-up survey answered (`assistant.survey_answered`; outcome the score).
    Survey,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 7] = [
        Metric::ServiceUse,
        Metric::LoanApplied,
        Metric::LoanDecided,
        Metric::LoanSigned,
        Metric::LoanDrawn,
        Metric::AssistantTurn,
        Metric::Survey,
    ];

    /// Its stable name (stored).
    pub fn name(self) -> &'static str {
        match self {
            Metric::ServiceUse => "service_use",
            Metric::LoanApplied => "loan_applied",
            Metric::LoanDecided => "loan_decided",
            Metric::LoanSigned => "loan_signed",
            Metric::LoanDrawn => "loan_drawn",
            Metric::AssistantTurn => "assistant_turn",
            Metric::Survey => "survey",
        }
    }

    /// The metric named `name`.
    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|metric| metric.name() == name)
    }
}

/// One countable thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    /// What.
    pub metric: Metric,
    /// When.
    pub at: DateTime<Utc>,
    /// The service (`hpf.account`, `traffic.pay`, `loan`, `assistant` …).
    pub service: String,
    /// The department it belongs to (`hpf`, `hrss`, `traffic`; `bank` for the bank's own).
    pub department: String,
    /// The 成都 district of the person (from their resident id), if known.
    pub district: Option<String>,
    /// `h5`, `app`, `api` …
    pub channel: String,
    /// `ok` or an error code; approved/declined; answer/clarify/handoff; a score.
    pub outcome: String,
    /// `18-24` … `65+`, if known.
    pub age_band: Option<String>,
    /// The pseudonymous person, when the event names one.
    pub subject: Option<String>,
    /// How long it took, when the event says.
    pub latency_ms: Option<u64>,
}

fn text(payload: &Value, key: &str) -> Option<String> {
    payload
        .get(key)
        .and_then(|value| match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        })
        .filter(|text| !text.is_empty())
}

/// The fact an outbox event records, if it records one the cockpit counts.
pub fn from_event(kind: &str, payload: &Value, at: DateTime<Utc>) -> Option<Fact> {
    let (metric, service, department, outcome, latency) = match kind {
        "service.used" => (
            Metric::ServiceUse,
            text(payload, "service")?,
            text(payload, "department")?,
            text(payload, "outcome").unwrap_or_else(|| "ok".into()),
            payload.get("latency_ms").and_then(Value::as_u64),
        ),
        "loan.applied" => (
            Metric::LoanApplied,
            "loan".into(),
            "bank".into(),
            "ok".into(),
            None,
        ),
        "loan.decided" => (
            Metric::LoanDecided,
            "loan".into(),
            "bank".into(),
            text(payload, "outcome")?,
            payload.get("decision_ms").and_then(Value::as_u64),
        ),
        "loan.contract_signed" => (
            Metric::LoanSigned,
            "loan".into(),
            "bank".into(),
            "ok".into(),
            None,
        ),
        "loan.drawn" => (
            Metric::LoanDrawn,
            "loan".into(),
            "bank".into(),
            "ok".into(),
            None,
        ),
        "assistant.turn" => (
            Metric::AssistantTurn,
            "assistant".into(),
            "bank".into(),
            text(payload, "outcome")?,
            None,
        ),
        "assistant.survey_answered" => (
            Metric::Survey,
            "assistant".into(),
            "bank".into(),
            text(payload, "score")?,
            None,
        ),
        _ => return None,
    };
    Some(Fact {
        metric,
        at,
        service,
        department,
        district: text(payload, "district"),
        channel: text(payload, "channel").unwrap_or_else(|| "h5".into()),
        outcome,
        age_band: text(payload, "age_band"),
        subject: text(payload, "subject"),
        latency_ms: latency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_uses_and_loan_steps_are_facts_and_other_events_are_not() {
        let at = Utc::now();
        let used = from_event(
            "service.used",
            &json!({"service": "hpf.account", "department": "hpf", "subject": "ab", "district": "锦江区",
                    "age_band": "25-34", "channel": "h5", "outcome": "ok", "latency_ms": 42}),
            at,
        )
        .unwrap();
        assert_eq!(
            (used.metric, used.department.as_str(), used.latency_ms),
            (Metric::ServiceUse, "hpf", Some(42))
        );
        assert_eq!(used.subject.as_deref(), Some("ab"));
        let decided = from_event(
            "loan.decided",
            &json!({"outcome": "approved", "decision_ms": 230}),
            at,
        )
        .unwrap();
        assert_eq!(
            (decided.outcome.as_str(), decided.latency_ms),
            ("approved", Some(230))
        );
        assert!(decided.subject.is_none());
        let survey = from_event("assistant.survey_answered", &json!({"score": 5}), at).unwrap();
        assert_eq!(survey.outcome, "5");
        assert!(from_event("auth.login", &json!({}), at).is_none());
        assert!(
            from_event("service.used", &json!({"department": "hpf"}), at).is_none(),
            "no service"
        );
        assert!(
            Metric::ALL
                .iter()
                .all(|metric| Metric::parse(metric.name()) == Some(*metric))
        );
    }
}
