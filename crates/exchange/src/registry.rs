//! The federation's global configuration (§2): subsystems with their public keys and base
//! URLs, services with their properties, and the access-rights table.
//!
//! The file every member loads (`exchange.registry_file`) is TOML:
//!
//! ```toml
//! [[subsystem]]
//! id = "CN-CD/COM/bank/bianmin"
//! name = "便民服务平台"
//! sign_key = "04…"            # SM2 public key, hex of the uncompressed point
//! enc_key = "04…"
//!
//! [[subsystem]]
//! id = "CN-CD/GOV/hpf-center/accounts"
//! name = "成都住房公积金管理中心"
//! sign_key = "04…"
//! enc_key = "04…"
//! base_url = "https://hpf.example.gov.cn"   # only for providers
//!
//! [[service]]
//! id = "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
//! data_kinds = ["hpf.account"]
//! idempotent = true
//! personal_data = true
//! timeout_ms = 3000
//!
//! [[access]]
//! client = "CN-CD/COM/bank/bianmin"
//! service = "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bianmin_crypto::Sm2VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::{ClientId, ExchangeError, ServiceId};

/// A subsystem as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subsystem {
    /// Its identifier.
    pub id: ClientId,
    /// Human-readable name, e.g. 成都住房公积金管理中心.
    pub name: String,
    /// Verifies its signatures (signer id = `id`).
    pub sign_key: Sm2VerifyingKey,
    /// Payloads for it are encrypted to this key.
    pub enc_key: Sm2VerifyingKey,
    /// Where it serves, if it provides services: `https://host[:port][/prefix]`.
    pub base_url: Option<String>,
}

/// A service as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDef {
    /// Its identifier (which names its provider).
    pub id: ServiceId,
    /// The data kinds it returns, e.g. `["hpf.account"]`; a consent must cover all of them.
    pub data_kinds: Vec<String>,
    /// Whether calling it twice has the effect of calling it once: only these are retried and
    /// cached by clients.
    pub idempotent: bool,
    /// Whether its payloads carry personal data: then they are encrypted and a consent is
    /// required.
    pub personal_data: bool,
    /// How long a client waits for one attempt.
    pub timeout: Duration,
}

impl ServiceDef {
    /// True if it returns credit-report (征信) data, which only a credit-only consent covers.
    #[must_use]
    pub fn is_credit_service(&self) -> bool {
        self.data_kinds.iter().any(|kind| is_credit_kind(kind))
    }
}

/// True for credit-report (征信) data kinds: `credit.` followed by a name. The People's Bank
/// requires a separate authorisation for them, so a consent that covers one covers no other
/// kind (§6).
#[must_use]
pub fn is_credit_kind(kind: &str) -> bool {
    kind.strip_prefix("credit.")
        .is_some_and(|name| !name.is_empty())
}

fn is_valid_data_kind(kind: &str) -> bool {
    (1..=64).contains(&kind.len())
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The federation's registry: who exists, with which keys, providing what, and who may call
/// what. Every member loads the same one; it is read-only once loaded, except that a simulator
/// may [`set_base_url`](Self::set_base_url) after binding its ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    subsystems: BTreeMap<ClientId, Subsystem>,
    services: BTreeMap<ServiceId, ServiceDef>,
    access: BTreeSet<(ClientId, ServiceId)>,
}

impl Registry {
    /// A builder, mostly for tests and simulators.
    #[must_use]
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// Parses and checks a registry file (format in the module documentation).
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Registry`] for invalid TOML, a bad identifier or key, a duplicate
    /// entry, or a reference to something not listed (see [`validate`](Self::validate)).
    pub fn from_toml_str(text: &str) -> Result<Registry, ExchangeError> {
        let file: RegistryFile = toml::from_str(text)
            .map_err(|e| ExchangeError::Registry(format!("not a registry file: {e}")))?;
        let mut registry = Registry::default();
        for entry in file.subsystem {
            let key = |hex: &str, which: &str| {
                Sm2VerifyingKey::from_hex(hex).map_err(|_| {
                    ExchangeError::Registry(format!(
                        "{}: {which} is not an SM2 public key",
                        entry.id
                    ))
                })
            };
            let subsystem = Subsystem {
                sign_key: key(&entry.sign_key, "sign_key")?,
                enc_key: key(&entry.enc_key, "enc_key")?,
                id: entry.id.clone(),
                name: entry.name,
                base_url: entry.base_url,
            };
            if registry
                .subsystems
                .insert(entry.id.clone(), subsystem)
                .is_some()
            {
                return Err(ExchangeError::Registry(format!(
                    "subsystem {} is listed twice",
                    entry.id
                )));
            }
        }
        for entry in file.service {
            let service = ServiceDef {
                id: entry.id.clone(),
                data_kinds: entry.data_kinds,
                idempotent: entry.idempotent,
                personal_data: entry.personal_data,
                timeout: Duration::from_millis(entry.timeout_ms),
            };
            if registry
                .services
                .insert(entry.id.clone(), service)
                .is_some()
            {
                return Err(ExchangeError::Registry(format!(
                    "service {} is listed twice",
                    entry.id
                )));
            }
        }
        for entry in file.access {
            if !registry
                .access
                .insert((entry.client.clone(), entry.service.clone()))
            {
                return Err(ExchangeError::Registry(format!(
                    "access right {} → {} is listed twice",
                    entry.client, entry.service
                )));
            }
        }
        registry.validate()?;
        Ok(registry)
    }

    /// The registry as a file [`from_toml_str`](Self::from_toml_str) reads back to an equal
    /// registry.
    #[must_use]
    pub fn to_toml_string(&self) -> String {
        let file = RegistryFile {
            subsystem: self
                .subsystems
                .values()
                .map(|s| SubsystemEntry {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    sign_key: s.sign_key.to_hex(),
                    enc_key: s.enc_key.to_hex(),
                    base_url: s.base_url.clone(),
                })
                .collect(),
            service: self
                .services
                .values()
                .map(|s| ServiceEntry {
                    id: s.id.clone(),
                    data_kinds: s.data_kinds.clone(),
                    idempotent: s.idempotent,
                    personal_data: s.personal_data,
                    timeout_ms: u64::try_from(s.timeout.as_millis()).unwrap_or(u64::MAX),
                })
                .collect(),
            access: self
                .access
                .iter()
                .map(|(client, service)| AccessEntry {
                    client: client.clone(),
                    service: service.clone(),
                })
                .collect(),
        };
        match toml::to_string(&file) {
            Ok(text) => text,
            // Infallible: every field is a string, boolean, integer or array of strings, all of
            // which TOML represents, and the arrays of tables come after all plain keys.
            Err(e) => unreachable!("a registry always serializes to TOML: {e}"),
        }
    }

    /// Checks that every service's provider, and every access right's client and service, is
    /// listed; that every service has valid data kinds and a timeout; and that base URLs are
    /// `http://` or `https://`.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Registry`] naming the first inconsistency.
    pub fn validate(&self) -> Result<(), ExchangeError> {
        let invalid = |what: String| Err(ExchangeError::Registry(what));
        for subsystem in self.subsystems.values() {
            if let Some(url) = &subsystem.base_url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return invalid(format!("{}: base_url must be http(s)://", subsystem.id));
            }
        }
        for service in self.services.values() {
            if !self.subsystems.contains_key(&service.id.provider) {
                return invalid(format!(
                    "service {}: its provider is not a listed subsystem",
                    service.id
                ));
            }
            if service.data_kinds.is_empty()
                || !service.data_kinds.iter().all(|k| is_valid_data_kind(k))
            {
                return invalid(format!(
                    "service {}: data_kinds must be non-empty names of [A-Za-z0-9._-]",
                    service.id
                ));
            }
            if service.timeout.is_zero() {
                return invalid(format!("service {}: timeout must be positive", service.id));
            }
        }
        for (client, service) in &self.access {
            if !self.subsystems.contains_key(client) {
                return invalid(format!("access right for unlisted client {client}"));
            }
            if !self.services.contains_key(service) {
                return invalid(format!("access right to unlisted service {service}"));
            }
        }
        Ok(())
    }

    /// The subsystem `id`, if listed.
    #[must_use]
    pub fn subsystem(&self, id: &ClientId) -> Option<&Subsystem> {
        self.subsystems.get(id)
    }

    /// The service `id`, if listed.
    #[must_use]
    pub fn service(&self, id: &ServiceId) -> Option<&ServiceDef> {
        self.services.get(id)
    }

    /// Whether the access-rights table lists `(client, service)`; anything else is denied.
    #[must_use]
    pub fn is_allowed(&self, client: &ClientId, service: &ServiceId) -> bool {
        // The set is keyed by owned pairs; a linear probe would avoid the clones but the
        // table is small and this runs once per request.
        self.access.contains(&(client.clone(), service.clone()))
    }

    /// Whether the access-rights table lists `client` for at least one service of `provider`:
    /// who may open an exchange session with it (§5a).
    #[must_use]
    pub fn may_call_any(&self, client: &ClientId, provider: &ClientId) -> bool {
        self.access
            .iter()
            .any(|(caller, service)| caller == client && &service.provider == provider)
    }

    /// Every listed service, ordered by identifier.
    pub fn services(&self) -> impl Iterator<Item = &ServiceDef> {
        self.services.values()
    }

    /// Every listed subsystem, ordered by identifier.
    pub fn subsystems(&self) -> impl Iterator<Item = &Subsystem> {
        self.subsystems.values()
    }

    /// Sets where `id` serves (a simulator learns its ports only after binding them). Does
    /// nothing for an unlisted subsystem.
    pub fn set_base_url(&mut self, id: &ClientId, base_url: String) {
        if let Some(subsystem) = self.subsystems.get_mut(id) {
            subsystem.base_url = Some(base_url);
        }
    }
}

/// Assembles a [`Registry`] in code: `Registry::builder().subsystem(..).service(..)
/// .allow(&client, &service).build()`. Later entries with the same identifier replace earlier
/// ones. [`build`](Self::build) does not check consistency; call [`Registry::validate`] when
/// the entries come from outside the program.
#[derive(Debug, Default)]
pub struct RegistryBuilder {
    registry: Registry,
}

impl RegistryBuilder {
    /// Adds (or replaces) a subsystem.
    #[must_use]
    pub fn subsystem(mut self, subsystem: Subsystem) -> RegistryBuilder {
        self.registry
            .subsystems
            .insert(subsystem.id.clone(), subsystem);
        self
    }

    /// Adds (or replaces) a service.
    #[must_use]
    pub fn service(mut self, service: ServiceDef) -> RegistryBuilder {
        self.registry.services.insert(service.id.clone(), service);
        self
    }

    /// Grants `client` the right to call `service`.
    #[must_use]
    pub fn allow(mut self, client: &ClientId, service: &ServiceId) -> RegistryBuilder {
        self.registry
            .access
            .insert((client.clone(), service.clone()));
        self
    }

    /// The registry.
    #[must_use]
    pub fn build(self) -> Registry {
        self.registry
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    subsystem: Vec<SubsystemEntry>,
    #[serde(default)]
    service: Vec<ServiceEntry>,
    #[serde(default)]
    access: Vec<AccessEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubsystemEntry {
    id: ClientId,
    name: String,
    sign_key: String,
    enc_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    id: ServiceId,
    data_kinds: Vec<String>,
    idempotent: bool,
    personal_data: bool,
    timeout_ms: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessEntry {
    client: ClientId,
    service: ServiceId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemberKeys;

    fn sample() -> (Registry, ClientId, ServiceId) {
        let bank = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
        let hpf = MemberKeys::generate("CN-CD/GOV/hpf-center/accounts".parse().unwrap());
        let service: ServiceId = "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
            .parse()
            .unwrap();
        let registry = Registry::builder()
            .subsystem(bank.subsystem("便民服务平台", None))
            .subsystem(hpf.subsystem(
                "成都住房公积金管理中心",
                Some("http://127.0.0.1:9000".into()),
            ))
            .service(ServiceDef {
                id: service.clone(),
                data_kinds: vec!["hpf.account".into()],
                idempotent: true,
                personal_data: true,
                timeout: Duration::from_millis(2500),
            })
            .allow(&bank.id, &service)
            .build();
        (registry, bank.id, service)
    }

    #[test]
    fn toml_round_trips() {
        let (registry, bank, service) = sample();
        registry.validate().unwrap();
        let text = registry.to_toml_string();
        assert!(text.contains("[[subsystem]]"), "{text}");
        let back = Registry::from_toml_str(&text).unwrap();
        assert_eq!(back, registry);
        assert!(back.is_allowed(&bank, &service));
        assert_eq!(back.services().count(), 1);
        assert_eq!(
            back.service(&service).unwrap().timeout,
            Duration::from_millis(2500)
        );
    }

    #[test]
    fn access_is_denied_unless_listed() {
        let (registry, bank, service) = sample();
        assert!(!registry.is_allowed(&service.provider, &service));
        let other: ServiceId = "CN-CD/GOV/hpf-center/accounts/hpf.loans/v1"
            .parse()
            .unwrap();
        assert!(!registry.is_allowed(&bank, &other));
    }

    #[test]
    fn inconsistent_files_are_refused() {
        let (registry, _, _) = sample();
        let text = registry.to_toml_string();
        let unknown_provider = text.replace(
            "id = \"CN-CD/GOV/hpf-center/accounts/hpf.account/v1\"",
            "id = \"CN-CD/GOV/tax/accounts/hpf.account/v1\"",
        );
        assert!(matches!(
            Registry::from_toml_str(&unknown_provider),
            Err(ExchangeError::Registry(_))
        ));
        let duplicated = format!(
            "{text}\n[[access]]\nclient = \"CN-CD/COM/bank/bianmin\"\nservice = \"CN-CD/GOV/hpf-center/accounts/hpf.account/v1\"\n"
        );
        assert!(Registry::from_toml_str(&duplicated).is_err());
        let bad_key = text.replacen("sign_key = \"04", "sign_key = \"05", 1);
        assert!(Registry::from_toml_str(&bad_key).is_err());
        assert!(Registry::from_toml_str("[[subsystem]]\nid = \"x\"").is_err());
        assert!(Registry::from_toml_str("surprise = 1").is_err());
    }

    #[test]
    fn base_urls_can_be_set_after_binding() {
        let (mut registry, _, service) = sample();
        registry.set_base_url(&service.provider, "http://127.0.0.1:41234".into());
        assert_eq!(
            registry
                .subsystem(&service.provider)
                .unwrap()
                .base_url
                .as_deref(),
            Some("http://127.0.0.1:41234")
        );
    }

    #[test]
    fn credit_kinds_are_recognised() {
        assert!(is_credit_kind("credit.report"));
        assert!(!is_credit_kind("credit."));
        assert!(!is_credit_kind("hpf.account"));
        assert!(!is_credit_kind("creditreport"));
    }
}
