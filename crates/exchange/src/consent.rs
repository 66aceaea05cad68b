//! The consent artefact (授权, §6): what the citizen agreed to, signed by the platform and
//! carried on every request made under it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bianmin_core::ResidentId;
use bianmin_crypto::{Sm2VerifyingKey, sm3_digest};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::registry::is_credit_kind;
use crate::{ClientId, ExchangeError, MemberKeys, ServiceDef};

/// Longest signed artefact accepted; a real one is well under 2 KiB.
pub const MAX_CONSENT_HEADER_LEN: usize = 8 * 1024;

/// How often the consent may be used: at most `max` uses per `unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frequency {
    /// The period.
    pub unit: FrequencyUnit,
    /// Uses allowed per period.
    pub max: u32,
}

/// The period of a [`Frequency`]; serialized as `day`, `month`, `year`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrequencyUnit {
    /// Per calendar day.
    Day,
    /// Per calendar month.
    Month,
    /// Per calendar year.
    Year,
}

/// The consent artefact, modelled on India's Account Aggregator artefact. It names its subject
/// only by [`subject_digest`](Self::subject_digest).
///
/// A provider checks it with [`check_use`](Self::check_use) and
/// [`check_subject`](Self::check_subject); the consumer checks the same before sending, and
/// also enforces revocation and [`frequency`](Self::frequency) from its consent ledger (the
/// provider cannot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentArtefact {
    /// The consent's identifier.
    pub consent_id: Uuid,
    /// Hex SM3 of `consent_id ":" 居民身份证号码`.
    pub subject_digest: String,
    /// The only client that may use it.
    pub consumer: ClientId,
    /// Stable purpose code, e.g. `LOAN_UNDERWRITING`.
    pub purpose_code: String,
    /// The purpose as shown to the citizen, e.g. 闪电贷授信审批.
    pub purpose_text: String,
    /// The data kinds it covers, e.g. `["hpf.account", "si.status"]`.
    pub data_kinds: Vec<String>,
    /// First date of the data covered.
    pub data_from: NaiveDate,
    /// Last date of the data covered.
    pub data_to: NaiveDate,
    /// How often it may be used.
    pub frequency: Frequency,
    /// Start of validity (inclusive).
    pub valid_from: DateTime<Utc>,
    /// End of validity (exclusive): from this instant the consent is void.
    pub valid_until: DateTime<Utc>,
    /// How many days the consumer may keep data fetched under it.
    pub data_life_days: u32,
    /// When the platform issued it.
    pub issued_at: DateTime<Utc>,
}

impl ConsentArtefact {
    /// Hex SM3 of the UTF-8 text `{consent_id}:{居民身份证号码}`, with the consent id in its
    /// lower-case hyphenated form.
    #[must_use]
    pub fn subject_digest(consent_id: &Uuid, subject: &ResidentId) -> String {
        let text = format!("{}:{}", consent_id.hyphenated(), subject.as_str());
        hex::encode(sm3_digest(text.as_bytes()))
    }

    /// Signs the artefact as the platform (signer id = the platform's identifier) and encodes
    /// it in the form requests carry (inside their encrypted body, as `consent`):
    /// `base64url(JSON) "." base64url(signature)`, unpadded, the signature over exactly the
    /// JSON bytes encoded.
    #[must_use]
    pub fn sign(&self, platform: &MemberKeys) -> SignedConsent {
        let json = match serde_json::to_vec(self) {
            Ok(json) => json,
            // Infallible: the artefact is a struct of strings, numbers, dates and a string
            // list; none of these can fail to serialize.
            Err(e) => unreachable!("a consent artefact always serializes: {e}"),
        };
        let signature = platform.sign.sign(&platform.id.to_string(), &json);
        let header = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(signature)
        );
        SignedConsent {
            artefact: self.clone(),
            header,
        }
    }

    /// Whether the artefact names `subject`.
    #[must_use]
    pub fn names_subject(&self, subject: &ResidentId) -> bool {
        Self::subject_digest(&self.consent_id, subject) == self.subject_digest
    }

    /// Checks the artefact allows `consumer` to call `service` at `now` (§6): the consumer,
    /// the validity window, the service's data kinds all covered, and a credit-report service
    /// only under a consent that covers credit kinds alone.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::ConsentInvalid`] saying which rule failed.
    pub fn check_use(
        &self,
        consumer: &ClientId,
        service: &ServiceDef,
        now: DateTime<Utc>,
    ) -> Result<(), ExchangeError> {
        let invalid = |why: &str| Err(ExchangeError::ConsentInvalid(why.to_string()));
        if &self.consumer != consumer {
            return invalid("授权给了其他调用方");
        }
        if now < self.valid_from {
            return invalid("授权尚未生效");
        }
        if now >= self.valid_until {
            return invalid("授权已过期");
        }
        if !service
            .data_kinds
            .iter()
            .all(|kind| self.data_kinds.contains(kind))
        {
            return invalid("授权未覆盖该服务的数据类别");
        }
        if service.is_credit_service() && !self.data_kinds.iter().all(|k| is_credit_kind(k)) {
            return invalid("征信查询须使用单独的征信授权");
        }
        Ok(())
    }

    /// Checks the artefact names `subject`.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::ConsentInvalid`] if it names someone else.
    pub fn check_subject(&self, subject: &ResidentId) -> Result<(), ExchangeError> {
        if self.names_subject(subject) {
            Ok(())
        } else {
            Err(ExchangeError::ConsentInvalid(
                "授权主体与请求主体不符".to_string(),
            ))
        }
    }

    /// When data fetched under this consent at `now` must be forgotten: `data_life_days`
    /// after `now`, and never later than the end of validity.
    #[must_use]
    pub fn data_expiry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let life = now
            .checked_add_signed(chrono::TimeDelta::days(i64::from(self.data_life_days)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        life.min(self.valid_until)
    }

    fn check_shape(&self) -> Result<(), ExchangeError> {
        let invalid = |why: &str| Err(ExchangeError::ConsentInvalid(why.to_string()));
        if self.subject_digest.len() != 64
            || !self
                .subject_digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return invalid("主体摘要应为 64 位小写十六进制");
        }
        if self.data_kinds.is_empty() {
            return invalid("授权未列出数据类别");
        }
        if self.valid_from >= self.valid_until || self.data_from > self.data_to {
            return invalid("授权的时间范围无效");
        }
        Ok(())
    }
}

/// An artefact with its signed form, as a request carries it in its encrypted body.
///
/// The signed form must never travel or be stored in clear where others can read it: its
/// `subject_digest` and `consent_id` together let anyone recover the 居民身份证号码 by trying
/// the few hundred billion possible numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedConsent {
    /// The artefact.
    pub artefact: ConsentArtefact,
    /// `base64url(JSON) "." base64url(SM2 signature)`.
    pub header: String,
}

impl SignedConsent {
    /// Decodes the signed form and verifies the platform's signature over it.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::ConsentInvalid`] if it is not in the signed form, the signature does
    /// not verify for `platform_id` and `platform_sign_key`, or the artefact is inconsistent
    /// (no data kinds, an empty validity window, a digest that is not SM3 hex).
    pub fn parse_and_verify(
        header: &str,
        platform_sign_key: &Sm2VerifyingKey,
        platform_id: &ClientId,
    ) -> Result<SignedConsent, ExchangeError> {
        let (json, signature) = decode_header(header)?;
        platform_sign_key
            .verify(&platform_id.to_string(), &json, &signature)
            .map_err(|_| ExchangeError::ConsentInvalid("授权签名无效".to_string()))?;
        let artefact: ConsentArtefact = serde_json::from_slice(&json)
            .map_err(|_| ExchangeError::ConsentInvalid("授权内容格式错误".to_string()))?;
        artefact.check_shape()?;
        Ok(SignedConsent {
            artefact,
            header: header.to_string(),
        })
    }
}

fn decode_header(header: &str) -> Result<(Vec<u8>, Vec<u8>), ExchangeError> {
    let unreadable = || ExchangeError::ConsentInvalid("授权格式错误".to_string());
    if header.len() > MAX_CONSENT_HEADER_LEN {
        return Err(unreadable());
    }
    let (json, signature) = header.split_once('.').ok_or_else(unreadable)?;
    let json = URL_SAFE_NO_PAD.decode(json).map_err(|_| unreadable())?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| unreadable())?;
    Ok((json, signature))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    fn artefact(subject: &ResidentId, kinds: &[&str]) -> ConsentArtefact {
        let consent_id = Uuid::now_v7();
        ConsentArtefact {
            consent_id,
            subject_digest: ConsentArtefact::subject_digest(&consent_id, subject),
            consumer: "CN-CD/COM/bank/bianmin".parse().unwrap(),
            purpose_code: "LOAN_UNDERWRITING".into(),
            purpose_text: "闪电贷授信审批".into(),
            data_kinds: kinds.iter().map(|k| (*k).to_string()).collect(),
            data_from: NaiveDate::from_ymd_opt(2024, 11, 1).unwrap(),
            data_to: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            frequency: Frequency {
                unit: FrequencyUnit::Day,
                max: 5,
            },
            valid_from: at(1, 0),
            valid_until: at(30, 0),
            data_life_days: 7,
            issued_at: at(1, 0),
        }
    }

    fn service(kinds: &[&str]) -> ServiceDef {
        ServiceDef {
            id: "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
                .parse()
                .unwrap(),
            data_kinds: kinds.iter().map(|k| (*k).to_string()).collect(),
            idempotent: true,
            personal_data: true,
            timeout: Duration::from_secs(3),
        }
    }

    fn subject() -> ResidentId {
        ResidentId::with_check_digit("51010419900307123").unwrap()
    }

    #[test]
    fn signed_header_verifies_and_round_trips() {
        let platform = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
        let artefact = artefact(&subject(), &["hpf.account"]);
        let signed = artefact.sign(&platform);
        assert!(!signed.header.contains('='));
        let back = SignedConsent::parse_and_verify(
            &signed.header,
            &platform.sign.verifying_key(),
            &platform.id,
        )
        .unwrap();
        assert_eq!(back, signed);
        // The JSON uses the protocol's field forms.
        let json = serde_json::to_value(&artefact).unwrap();
        assert_eq!(
            json["frequency"],
            serde_json::json!({"unit": "day", "max": 5})
        );
        assert_eq!(json["data_from"], "2024-11-01");
        assert_eq!(json["consumer"], "CN-CD/COM/bank/bianmin");
    }

    #[test]
    fn a_forged_or_garbled_header_is_refused() {
        let platform = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
        let other = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
        let signed = artefact(&subject(), &["hpf.account"]).sign(&other);
        let verify = |header: &str| {
            SignedConsent::parse_and_verify(header, &platform.sign.verifying_key(), &platform.id)
        };
        assert!(matches!(
            verify(&signed.header),
            Err(ExchangeError::ConsentInvalid(_))
        ));
        let mut widened = artefact(&subject(), &["hpf.account"]);
        let genuine = widened.sign(&platform);
        widened.data_kinds.push("tax.income".into());
        let forged_json = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&widened).unwrap());
        let (_, signature) = genuine.header.split_once('.').unwrap();
        assert!(verify(&format!("{forged_json}.{signature}")).is_err());
        for garbage in ["", "abc", "a.b.c", "!!.??"] {
            assert!(verify(garbage).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn subject_digest_is_sm3_of_id_colon_number() {
        let consent_id = Uuid::parse_str("0190f3a4-7d1c-7000-8000-000000000042").unwrap();
        let expected = hex::encode(sm3_digest(
            format!(
                "0190f3a4-7d1c-7000-8000-000000000042:{}",
                subject().as_str()
            )
            .as_bytes(),
        ));
        assert_eq!(
            ConsentArtefact::subject_digest(&consent_id, &subject()),
            expected
        );
        let artefact = artefact(&subject(), &["hpf.account"]);
        assert!(artefact.check_subject(&subject()).is_ok());
        let someone_else = ResidentId::with_check_digit("51010419850101002").unwrap();
        assert!(artefact.check_subject(&someone_else).is_err());
    }

    #[test]
    fn use_is_checked_against_consumer_window_and_kinds() {
        let artefact = artefact(&subject(), &["hpf.account", "si.status"]);
        let bank = artefact.consumer.clone();
        let hpf = service(&["hpf.account"]);
        assert!(artefact.check_use(&bank, &hpf, at(15, 0)).is_ok());
        let other: ClientId = "CN-CD/COM/other-bank/loans".parse().unwrap();
        assert!(artefact.check_use(&other, &hpf, at(15, 0)).is_err());
        assert!(artefact.check_use(&bank, &hpf, at(30, 0)).is_err());
        assert!(
            artefact
                .check_use(&bank, &hpf, at(1, 0) - chrono::TimeDelta::seconds(1))
                .is_err()
        );
        assert!(
            artefact
                .check_use(&bank, &service(&["tax.income"]), at(15, 0))
                .is_err()
        );
    }

    #[test]
    fn credit_reports_need_a_credit_only_consent() {
        let credit = service(&["credit.report"]);
        let mixed = artefact(&subject(), &["credit.report", "hpf.account"]);
        let bank = mixed.consumer.clone();
        assert!(mixed.check_use(&bank, &credit, at(15, 0)).is_err());
        let alone = artefact(&subject(), &["credit.report"]);
        assert!(alone.check_use(&bank, &credit, at(15, 0)).is_ok());
    }

    #[test]
    fn data_expiry_never_outlives_the_consent() {
        let artefact = artefact(&subject(), &["hpf.account"]);
        assert_eq!(artefact.data_expiry(at(2, 0)), at(9, 0));
        assert_eq!(artefact.data_expiry(at(28, 0)), at(30, 0));
    }
}
