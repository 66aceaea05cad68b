//! The government simulator: a seeded synthetic population of 成都 and the agencies that
//! serve it over the exchange protocol, so that Bianmin runs on a laptop and credit models
//! can be trained and measured against a known truth.
//!
//! - [`Population`] generates any of up to ten million residents on demand from
//!   `(seed, index)`, with correlated employment, income, housing fund, social insurance,
//!   tax, traffic, credit-bureau and court records, and a hidden probability of default.
//! - [`enterprise`] is A集团 and its distributors (850 by default, up to 20,000), for
//!   supply-chain finance; its books close month by month with the simulator's clock.
//! - [`records`] are the agencies' answers, one type per data kind, matching the JSON
//!   Schemas in `docs/schemas/`.
//! - [`agencies`] serves them: eight HTTP servers speaking the exchange protocol, with
//!   seeded latency and fault injection.
//!
//! The generative model, the id numbering and the risk model are described in
//! `docs/govsim.md`.
//!
//! Architecture invariant: the population knows nothing of HTTP or the exchange protocol;
//! only `agencies` does, and it only reads the population.

#![warn(missing_docs)]

pub mod agencies;
pub mod calendar;
pub mod enterprise;
pub mod population;
pub mod records;
mod seeding;
pub mod uscc;

pub use calendar::{REFERENCE_DATE, YearMonth};
pub use population::{NamedResident, Population, SyntheticPerson};
pub use uscc::Uscc;
