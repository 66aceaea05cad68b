//! 闪电贷 Lightning Loan: the arithmetic of a revolving consumer credit line (daily interest on
//! the outstanding principal, repayment allocation, the annualised rate as an IRR with every
//! fee) and the scorecard that turns an applicant's authorised data into points and reasons.
//!
//! *Architecture invariant:* no HTTP, no storage; money is `bianmin_core::Money` (fen) and
//! rates are decimals, never floats (the scorecard's internal training statistics aside).

#![warn(missing_docs)]

pub mod crosscheck;
pub mod decision;
pub mod features;
pub mod interest;
pub mod ledger;
pub mod policy;
pub mod scorecard;
pub mod simulate;
pub mod supply;
pub mod train;
