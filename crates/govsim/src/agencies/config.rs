//! How the simulated agencies behave: which population they serve, how slow they are and
//! how often they fail. Deserialisable from TOML; every field has a default.
//!
//! ```toml
//! seed = 20261129
//! size = 10000
//! distributors = 850        # A集团's network
//! service_timeout_ms = 3000
//!
//! [latency]                 # every agency, unless overridden
//! mean_ms = 20
//! p99_ms = 120
//!
//! [agencies.hpf.faults]     # only the housing-fund centre
//! http_5xx = 0.05
//! slow = 0.02
//!
//! [[residents]]             # a named person with generated person 42's records
//! resident_id = "510104198803120039"
//! name = "张伟"
//! phone = "13800000001"
//! template = 42
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use super::Agency;
use crate::population::named::{NamedResident, check_residents};

/// The simulator's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GovSimConfig {
    /// Seed of the population and of the latency and fault draws.
    pub seed: u64,
    /// Number of residents.
    pub size: u32,
    /// Number of A集团's distributors, 1 to
    /// [`MAX_DISTRIBUTORS`](crate::enterprise::MAX_DISTRIBUTORS) (default 850).
    pub distributors: u32,
    /// Address the agencies listen on, each on its own free port.
    pub bind: IpAddr,
    /// Timeout of every service in the registry (how long a client waits for one attempt).
    pub service_timeout_ms: u64,
    /// Latency of every agency without an override.
    pub latency: LatencyConfig,
    /// Faults of every agency without an override.
    pub faults: FaultConfig,
    /// Per-agency overrides, keyed `identity`, `hpf`, `si`, `tax`, `traffic`, `credit`,
    /// `court`, `a-group`.
    pub agencies: BTreeMap<Agency, AgencyConfig>,
    /// Named residents (`[[residents]]` tables): people outside the generated population,
    /// such as demo personas, who answer with a generated person's records. Empty by
    /// default.
    pub residents: Vec<NamedResident>,
}

impl Default for GovSimConfig {
    fn default() -> Self {
        Self {
            seed: 20_261_129,
            size: 10_000,
            distributors: u32::from(crate::enterprise::DISTRIBUTOR_COUNT),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            service_timeout_ms: 3_000,
            latency: LatencyConfig::default(),
            faults: FaultConfig::default(),
            agencies: BTreeMap::new(),
            residents: Vec::new(),
        }
    }
}

impl GovSimConfig {
    /// The latency of `agency`: its override, else the default.
    pub fn latency_of(&self, agency: Agency) -> LatencyConfig {
        self.agencies
            .get(&agency)
            .and_then(|config| config.latency)
            .unwrap_or(self.latency)
    }

    /// The faults of `agency`: its override, else the default.
    pub fn faults_of(&self, agency: Agency) -> FaultConfig {
        self.agencies
            .get(&agency)
            .and_then(|config| config.faults)
            .unwrap_or(self.faults)
    }

    /// Checks sizes, timeouts, probabilities and named residents (all but whether an id is
    /// a generated person's, which [`GovSim::new`](super::GovSim::new) checks).
    ///
    /// # Errors
    ///
    /// A message naming the first field out of range.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=crate::population::MAX_POPULATION).contains(&self.size) {
            return Err(format!(
                "size must be 1..={}",
                crate::population::MAX_POPULATION
            ));
        }
        if !(1..=crate::enterprise::MAX_DISTRIBUTORS).contains(&self.distributors) {
            return Err(format!(
                "distributors must be 1..={}",
                crate::enterprise::MAX_DISTRIBUTORS
            ));
        }
        if self.service_timeout_ms == 0 {
            return Err("service_timeout_ms must be positive".into());
        }
        check_residents(&self.residents, self.size).map_err(|error| error.to_string())?;
        for agency in Agency::ALL {
            let latency = self.latency_of(agency);
            if !(latency.mean_ms >= 0.0 && latency.p99_ms >= 0.0) {
                return Err(format!("{}: latency must be non-negative", agency.key()));
            }
            let faults = self.faults_of(agency);
            let rates = faults.rates();
            if rates.iter().any(|rate| !(0.0..=1.0).contains(rate)) {
                return Err(format!(
                    "{}: fault rates must be within 0..=1",
                    agency.key()
                ));
            }
            if rates.iter().sum::<f64>() > 1.0 + 1e-9 {
                return Err(format!(
                    "{}: fault rates add up to more than 1",
                    agency.key()
                ));
            }
        }
        Ok(())
    }
}

/// One agency's overrides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgencyConfig {
    /// Replaces the default latency.
    pub latency: Option<LatencyConfig>,
    /// Replaces the default faults.
    pub faults: Option<FaultConfig>,
}

/// A log-normal latency given by its mean and 99th percentile; zero means none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyConfig {
    /// Mean added latency in milliseconds.
    pub mean_ms: f64,
    /// 99th percentile in milliseconds (at most about 15 times the mean; a larger ratio is
    /// treated as the largest a log-normal with that mean allows).
    pub p99_ms: f64,
}

/// How often an agency misbehaves, as probabilities per request (drawn once per request,
/// so they are exclusive and must add up to at most 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Holds the request for `hang_ms` before answering, past the client's timeout.
    pub timeout: f64,
    /// Answers with a signed 503 `exchange.unavailable` (the back end is down).
    pub http_5xx: f64,
    /// Answers 200, correctly signed, with a body that does not match the service's schema.
    pub malformed_payload: f64,
    /// Answers correctly but signs with a key that is not the registered one.
    pub bad_signature: f64,
    /// Answers correctly after an extra `slow_ms`.
    pub slow: f64,
    /// Extra delay of a slow answer.
    pub slow_ms: u64,
    /// How long a timed-out request is held; by default the service timeout plus a second.
    pub hang_ms: Option<u64>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            timeout: 0.0,
            http_5xx: 0.0,
            malformed_payload: 0.0,
            bad_signature: 0.0,
            slow: 0.0,
            slow_ms: 1_000,
            hang_ms: None,
        }
    }
}

impl FaultConfig {
    /// The five probabilities, in the order faults are drawn.
    pub(crate) fn rates(&self) -> [f64; 5] {
        [
            self.timeout,
            self.http_5xx,
            self.malformed_payload,
            self.bad_signature,
            self.slow,
        ]
    }
}
