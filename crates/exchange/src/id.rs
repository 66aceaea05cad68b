//! Identifiers of subsystems and services (§1): `instance/class/member/subsystem` and
//! `instance/class/member/subsystem/service/version`, each part `[A-Za-z0-9._-]{1,64}`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ExchangeError;

/// The member classes of the federation: government, commercial, financial infrastructure.
pub const MEMBER_CLASSES: [&str; 3] = ["GOV", "COM", "FIN"];

const MAX_PART_LEN: usize = 64;

fn is_valid_part(part: &str) -> bool {
    (1..=MAX_PART_LEN).contains(&part.len())
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A subsystem of a member, the party of every exchange: `CN-CD/COM/bank/bianmin`.
///
/// Parse it ([`FromStr`]) rather than filling the fields by hand: parsing checks every part
/// and the class. It serializes as its string form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId {
    /// The federation, e.g. `CN-CD` for 成都.
    pub instance: String,
    /// `GOV`, `COM` or `FIN`.
    pub class: String,
    /// The organisation, e.g. `bank`, `hpf-center`.
    pub member: String,
    /// One of its systems, e.g. `bianmin`, `accounts`.
    pub subsystem: String,
}

impl ClientId {
    fn from_parts(parts: &[&str]) -> Result<ClientId, ExchangeError> {
        let [instance, class, member, subsystem] = parts else {
            return Err(ExchangeError::Malformed(
                "子系统标识应为 instance/class/member/subsystem".to_string(),
            ));
        };
        if !parts.iter().all(|part| is_valid_part(part)) {
            return Err(ExchangeError::Malformed(
                "标识的每一段应为 1 至 64 个字母、数字或 ._-".to_string(),
            ));
        }
        if !MEMBER_CLASSES.contains(class) {
            return Err(ExchangeError::Malformed(
                "成员类别应为 GOV、COM 或 FIN".to_string(),
            ));
        }
        Ok(ClientId {
            instance: (*instance).to_string(),
            class: (*class).to_string(),
            member: (*member).to_string(),
            subsystem: (*subsystem).to_string(),
        })
    }
}

impl FromStr for ClientId {
    type Err = ExchangeError;

    fn from_str(s: &str) -> Result<ClientId, ExchangeError> {
        ClientId::from_parts(&s.split('/').collect::<Vec<_>>())
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.instance, self.class, self.member, self.subsystem
        )
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientId").field(&self.to_string()).finish()
    }
}

/// One operation of a provider subsystem, in one version:
/// `CN-CD/GOV/hpf-center/accounts/hpf.account/v1`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId {
    /// The subsystem that provides it.
    pub provider: ClientId,
    /// The service code, e.g. `hpf.account`.
    pub code: String,
    /// The version, e.g. `v1`.
    pub version: String,
}

impl ServiceId {
    /// The protocol path of the service at its provider (§3), without the base URL:
    /// `/exchange/v1/{member}/{subsystem}/{service}/{version}`. This is also the `{path}` line
    /// of the request signature.
    #[must_use]
    pub fn path(&self) -> String {
        format!(
            "/exchange/v1/{}/{}/{}/{}",
            self.provider.member, self.provider.subsystem, self.code, self.version
        )
    }
}

impl FromStr for ServiceId {
    type Err = ExchangeError;

    fn from_str(s: &str) -> Result<ServiceId, ExchangeError> {
        let parts: Vec<&str> = s.split('/').collect();
        let [provider @ .., code, version] = parts.as_slice() else {
            return Err(service_id_shape());
        };
        if provider.len() != 4 {
            return Err(service_id_shape());
        }
        let provider = ClientId::from_parts(provider)?;
        if !is_valid_part(code) || !is_valid_part(version) {
            return Err(ExchangeError::Malformed(
                "标识的每一段应为 1 至 64 个字母、数字或 ._-".to_string(),
            ));
        }
        Ok(ServiceId {
            provider,
            code: (*code).to_string(),
            version: (*version).to_string(),
        })
    }
}

fn service_id_shape() -> ExchangeError {
    ExchangeError::Malformed(
        "服务标识应为 instance/class/member/subsystem/service/version".to_string(),
    )
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.provider, self.code, self.version)
    }
}

impl fmt::Debug for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ServiceId").field(&self.to_string()).finish()
    }
}

macro_rules! serde_as_string {
    ($type:ty, $expecting:literal) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(|_| {
                    serde::de::Error::invalid_value(serde::de::Unexpected::Str(&text), &$expecting)
                })
            }
        }
    };
}

serde_as_string!(
    ClientId,
    "a subsystem identifier instance/class/member/subsystem"
);
serde_as_string!(
    ServiceId,
    "a service identifier instance/class/member/subsystem/service/version"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_round_trip_through_text_and_json() {
        let id: ClientId = "CN-CD/COM/bank/bianmin".parse().unwrap();
        assert_eq!(id.member, "bank");
        assert_eq!(id.to_string(), "CN-CD/COM/bank/bianmin");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"CN-CD/COM/bank/bianmin\"");
        assert_eq!(serde_json::from_str::<ClientId>(&json).unwrap(), id);
    }

    #[test]
    fn service_ids_have_a_protocol_path() {
        let id: ServiceId = "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
            .parse()
            .unwrap();
        assert_eq!(id.provider.to_string(), "CN-CD/GOV/hpf-center/accounts");
        assert_eq!(id.path(), "/exchange/v1/hpf-center/accounts/hpf.account/v1");
        assert_eq!(
            id.to_string(),
            "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
        );
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<ServiceId>(&json).unwrap(), id);
    }

    #[test]
    fn bad_identifiers_are_refused() {
        for bad in [
            "",
            "CN-CD/COM/bank",
            "CN-CD/COM/bank/bianmin/extra",
            "CN-CD/XYZ/bank/bianmin",
            "CN-CD/COM//bianmin",
            "CN-CD/COM/bank/bian min",
            "CN-CD/COM/银行/bianmin",
        ] {
            assert!(bad.parse::<ClientId>().is_err(), "{bad:?}");
        }
        let long = "a".repeat(65);
        assert!(format!("CN-CD/COM/{long}/x").parse::<ClientId>().is_err());
        for bad in [
            "CN-CD/GOV/hpf-center/accounts/hpf.account",
            "CN-CD/GOV/hpf-center/accounts/hpf.account/v1/x",
            "CN-CD/GOV/hpf-center/accounts/hpf account/v1",
        ] {
            assert!(bad.parse::<ServiceId>().is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<ClientId>("\"nope\"").is_err());
    }
}
