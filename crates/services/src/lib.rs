//! Convenience services (便民服务) for citizens and institutions: the rules and calculations of
//! the 公积金 housing provident fund, the electronic social-security card (电子社保卡) and its
//! dynamic QR codes, and traffic fines (交通罚没).
//!
//! *Architecture invariant:* no HTTP and no roles; personal data from agencies only through
//! `bianmin-gateway`.

#![warn(missing_docs)]

pub mod accounts;
pub mod catalogue;
pub mod events;
pub mod hpf;
pub mod sscard;
pub mod traffic;

pub use accounts::{AccountView, Accounts};
pub use events::{Channel, Demographics, ServiceUse};
pub use traffic::{FinePayment, PayFines, TrafficError, TrafficService};
