//! 智能客服 AI customer service: a knowledge base of FAQ entries and policy passages, Chinese
//! text analysis (jieba-rs with a domain dictionary and synonyms), retrieval and ranking with a
//! calibrated confidence (answer, clarify or hand off), personal intents with slot filling,
//! suggestions (猜你想问), the evaluation against a plain BM25 baseline, and the mining of what
//! people ask (hot topics, clusters of unanswered questions).
//!
//! *Architecture invariant:* no HTTP, no storage, no clock: the server keeps the turns, the
//! follow-ups and the knowledge base's versions, and passes today's date in.

#![warn(missing_docs)]

pub mod answer;
pub mod calibration;
pub mod eval;
pub mod index;
pub mod intent;
pub mod kb;
pub mod mining;
pub mod text;

pub use answer::{Assistant, AutoReply, Outcome, Reply, auto_reply};
pub use kb::{Entry, KnowledgeBase};

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    /// Input that does not make sense; the message says which part and why.
    #[error("{0}")]
    Invalid(String),
}
