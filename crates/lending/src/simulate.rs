//! `bianmin lending simulate`: replays a scenario of draws and repayments on a fresh line.

use std::fmt;

/// Why a scenario could not be simulated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SimulateError(pub String);

/// The outcome of a simulated scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationReport {
    text: String,
}

impl fmt::Display for SimulationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Runs the scenario given as JSON text.
pub fn run(scenario_json: &str) -> Result<SimulationReport, SimulateError> {
    let _ = scenario_json;
    Err(SimulateError("not built yet".into()))
}
