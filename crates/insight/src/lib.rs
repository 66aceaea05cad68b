//! 管理驾驶舱 cockpit analytics: the domain events of the outbox read as facts
//! (`fact`), folded into rollup cells by time bucket and dimension (`rollup`), people counted
//! once per cell with HyperLogLog++ sketches whose hash is stable across processes and builds
//! (`distinct`), and cells describing fewer than five people suppressed before anything is
//! shown (`privacy`).
//!
//! *Architecture invariant:* no HTTP, no storage, no clock; nothing here sees a person, only the
//! pseudonymous `subject` digest the events carry.

#![warn(missing_docs)]

pub mod distinct;
pub mod fact;
pub mod history;
pub mod privacy;
pub mod rollup;

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum InsightError {
    /// A sketch that does not decode, or of another precision.
    #[error("distinct-count sketch: {0}")]
    Sketch(String),
}
