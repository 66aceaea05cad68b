//! 公积金 housing provident fund: loan estimates and withdrawal eligibility.

pub mod loan;
pub mod withdrawal;
