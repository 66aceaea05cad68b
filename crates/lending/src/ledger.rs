//! The revolving line's double-entry ledger (in progress).
