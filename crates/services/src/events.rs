//! The `service.used` domain event: one per use of a service, written to the outbox for the
//! cockpit (管理驾驶舱) with its dimensions — service, department, district, channel, outcome,
//! age band — and its latency. No personal data in clear: the person appears only as a
//! pseudonymous `subject` (a digest of their internal id, for distinct-person counts).

use bianmin_core::{ResidentId, region};
use bianmin_crypto::sm3_digest;
use bianmin_store::{NewEvent, StoreError, Tx};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// The event kind.
pub const SERVICE_USED: &str = "service.used";

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The H5 pages (in the bank app's web view or a browser).
    H5,
    /// The bank app through its signed SDK.
    App,
    /// An institution's system or the bank console.
    Api,
}

impl Channel {
    /// `h5`, `app` or `api`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::H5 => "h5",
            Channel::App => "app",
            Channel::Api => "api",
        }
    }
}

/// What the cockpit may know about who used a service: their district of household
/// registration and age band, both read off the resident id; never the id itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demographics {
    /// 6-digit district code, e.g. `510104`, when it is one of 成都's districts.
    pub district: Option<&'static str>,
    /// `18-24`, `25-34`, `35-44`, `45-54`, `55-64` or `65+`.
    pub age_band: &'static str,
}

impl Demographics {
    /// Reads the district and age band off `id` on `today`.
    #[must_use]
    pub fn of(id: &ResidentId, today: chrono::NaiveDate) -> Demographics {
        let code = &id.as_str()[..6];
        let district = region::CHENGDU_DISTRICTS
            .iter()
            .find(|d| d.code == code)
            .map(|d| d.code);
        let age = today.years_since(id.birth_date()).unwrap_or(0);
        let age_band = match age {
            0..=24 => "18-24",
            25..=34 => "25-34",
            35..=44 => "35-44",
            45..=54 => "45-54",
            55..=64 => "55-64",
            _ => "65+",
        };
        Demographics { district, age_band }
    }
}

/// One use of a service.
#[derive(Debug, Clone)]
pub struct ServiceUse {
    /// What was used, e.g. `hpf.account`, `traffic.pay`, `sscard.qr`.
    pub service: &'static str,
    /// The government department it belongs to: `hpf`, `hrss`, `traffic`.
    pub department: &'static str,
    /// The person's internal id (only its digest is written).
    pub person_id: Uuid,
    /// Their district and age band.
    pub demographics: Option<Demographics>,
    /// Where the request came from.
    pub channel: Channel,
    /// `ok`, or the stable error code that ended it (e.g. `consent.required`).
    pub outcome: String,
    /// Time to serve it.
    pub latency_ms: u64,
}

impl ServiceUse {
    /// The pseudonymous subject of the event: hex of the first 16 bytes of
    /// SM3("bianmin-subject:" ‖ person id). Stable per person, not reversible without the
    /// `persons` table.
    #[must_use]
    pub fn subject(&self) -> String {
        let digest = sm3_digest(format!("bianmin-subject:{}", self.person_id).as_bytes());
        hex::encode(&digest[..16])
    }

    /// The outbox event for this use at `now`.
    #[must_use]
    pub fn event(&self, now: DateTime<Utc>) -> NewEvent {
        NewEvent {
            event_id: Uuid::now_v7(),
            kind: SERVICE_USED.to_owned(),
            aggregate: "service".to_owned(),
            aggregate_id: self.service.to_owned(),
            payload: json!({
                "service": self.service,
                "department": self.department,
                "subject": self.subject(),
                "district": self.demographics.and_then(|d| d.district),
                "age_band": self.demographics.map(|d| d.age_band),
                "channel": self.channel.as_str(),
                "outcome": self.outcome,
                "latency_ms": self.latency_ms,
            }),
            occurred_at: now,
        }
    }

    /// Appends the event in `tx` (the transaction of the use itself, when it writes).
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn append(&self, tx: &mut Tx, now: DateTime<Utc>) -> Result<(), StoreError> {
        tx.append_event(&self.event(now)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn demographics_come_from_the_id_and_the_subject_hides_the_person() {
        let id = ResidentId::with_check_digit("51010419880312003").unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let d = Demographics::of(&id, today);
        assert_eq!(d.district, Some("510104"));
        assert_eq!(d.age_band, "35-44");
        let other = ResidentId::with_check_digit("11010519491231002").unwrap();
        assert_eq!(Demographics::of(&other, today).district, None);
        assert_eq!(Demographics::of(&other, today).age_band, "65+");

        let person_id = Uuid::now_v7();
        let used = ServiceUse {
            service: "hpf.account",
            department: "hpf",
            person_id,
            demographics: Some(d),
            channel: Channel::H5,
            outcome: "ok".into(),
            latency_ms: 12,
        };
        let event = used.event(Utc::now());
        assert_eq!(event.kind, SERVICE_USED);
        let text = event.payload.to_string();
        assert!(!text.contains(&person_id.to_string()));
        assert!(!text.contains(id.as_str()));
        assert_eq!(event.payload["district"], "510104");
        assert_eq!(event.payload["subject"].as_str().unwrap().len(), 32);
        assert_eq!(used.subject(), used.subject());
    }
}
