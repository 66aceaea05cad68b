//! Shared domain primitives for Bianmin, the bank's citizen-services platform.
//!
//! Every value here can only be obtained by parsing, so a [`ResidentId`], [`Money`],
//! [`PhoneNumber`] or [`Uscc`] (统一社会信用代码) that exists is valid: code further in never re-checks them. The crate does
//! no I/O; time ([`Clock`]) is injected so callers stay deterministic under test.
//!
//! Personal data never leaks through formatting: [`ResidentId`] and [`PhoneNumber`] print
//! only their masked form under `Debug` and have no `Display`, and [`mask`] holds the
//! JR/T 0171-2020 masking rules used for logs and API responses.
//!
//! Architecture invariant: this crate depends on no other Bianmin crate and does no I/O — no
//! files, network, database or environment, and no reading of the system time outside
//! [`SystemClock`] and [`id::new_id`]. Everything else in the workspace may depend on it.

#![warn(missing_docs)]

pub mod clock;
pub mod error;
pub mod id;
pub mod mask;
pub mod money;
pub mod phone;
pub mod region;
pub mod resident_id;
mod serde_string;
pub mod uscc;

pub use clock::{Clock, SharedClock, SystemClock, TestClock};
pub use error::Error;
pub use money::{Money, MoneyError, Rate, Rounding};
pub use phone::{PhoneError, PhoneNumber};
pub use region::District;
pub use resident_id::{Gender, ResidentId, ResidentIdError};
pub use uscc::{Uscc, UsccError};
