//! 智能客服 AI customer service over HTTP: the knowledge base kept in the database with every
//! version (`kb`), asking, suggestions and feedback (`ask`), follow-ups and the citizen's inbox
//! (`followup`), and the console's insights (`insights`). The answering itself —
//! segmentation, ranking, confidence, intents, mining — is `bianmin_assistant`.

pub mod ask;
pub mod followup;
pub mod insights;
pub mod kb;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bianmin_assistant::text::Analyzer;
use bianmin_assistant::{Assistant, KnowledgeBase};
use bianmin_crypto::sm3_digest;
use uuid::Uuid;

use crate::app::AppState;
use crate::http::problem::ApiError;

/// jieba's dictionary with the domain words, loaded once per process (tens of milliseconds and
/// some megabytes; every server in a test process shares it).
fn analyzer() -> Arc<Analyzer> {
    static ANALYZER: OnceLock<Arc<Analyzer>> = OnceLock::new();
    ANALYZER
        .get_or_init(|| Arc::new(Analyzer::starter()))
        .clone()
}

/// The pseudonymous owner of a conversation: the same digest the domain events use as
/// `subject` (SM3 of the person id, first 16 bytes, hex).
pub(crate) fn owner_of(person: Uuid) -> String {
    let digest = sm3_digest(format!("bianmin-subject:{person}").as_bytes());
    hex::encode(&digest[..16])
}

/// How often entries are asked, and which entry people ask after which: what the suggestions
/// rank by. Kept in memory, filled from the recent turns when the assistant is built.
#[derive(Debug, Default)]
pub struct Popularity {
    asked: HashMap<String, u32>,
    next: HashMap<String, HashMap<String, u32>>,
}

impl Popularity {
    /// Counts an answer with `entry`, after `previous` in the same conversation.
    pub fn record(&mut self, previous: Option<&str>, entry: &str) {
        *self.asked.entry(entry.to_owned()).or_default() += 1;
        if let Some(previous) = previous.filter(|previous| *previous != entry) {
            *self
                .next
                .entry(previous.to_owned())
                .or_default()
                .entry(entry.to_owned())
                .or_default() += 1;
        }
    }

    /// Times `entry` was answered.
    pub fn asked(&self, entry: &str) -> u32 {
        self.asked.get(entry).copied().unwrap_or(0)
    }

    /// Entries asked after `entry`, with their counts.
    pub fn asked_next(&self, entry: &str) -> Vec<(String, u32)> {
        self.next
            .get(entry)
            .map(|next| {
                next.iter()
                    .map(|(id, count)| (id.clone(), *count))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The assistant built from the database's knowledge base, rebuilt when it changes.
#[derive(Default)]
pub struct AssistantHub {
    current: tokio::sync::RwLock<Option<Arc<Assistant>>>,
    building: tokio::sync::Mutex<()>,
    popularity: std::sync::Mutex<Popularity>,
}

impl std::fmt::Debug for AssistantHub {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AssistantHub")
            .finish_non_exhaustive()
    }
}

impl AssistantHub {
    /// The current assistant, built on first use (the starter knowledge base is imported into
    /// an empty database then).
    pub async fn get(&self, state: &AppState) -> Result<Arc<Assistant>, ApiError> {
        if let Some(assistant) = self.current.read().await.as_ref() {
            return Ok(Arc::clone(assistant));
        }
        let _building = self.building.lock().await;
        if let Some(assistant) = self.current.read().await.as_ref() {
            return Ok(Arc::clone(assistant));
        }
        kb::seed_if_empty(state.store(), state.clock().now()).await?;
        let assistant = self.build(state).await?;
        let recent = ask::recent_answers(state).await?;
        if let Ok(mut popularity) = self.popularity.lock() {
            *popularity = Popularity::default();
            let mut last: HashMap<Uuid, String> = HashMap::new();
            for (session, entry) in recent {
                popularity.record(last.get(&session).map(String::as_str), &entry);
                last.insert(session, entry);
            }
        }
        *self.current.write().await = Some(Arc::clone(&assistant));
        Ok(assistant)
    }

    /// Rebuilds from the database after the knowledge base changed.
    pub async fn rebuild(&self, state: &AppState) -> Result<(), ApiError> {
        let _building = self.building.lock().await;
        let assistant = self.build(state).await?;
        *self.current.write().await = Some(assistant);
        Ok(())
    }

    async fn build(&self, state: &AppState) -> Result<Arc<Assistant>, ApiError> {
        let entries = kb::load_entries(state.store()).await?;
        let policies = KnowledgeBase::starter().policies;
        tokio::task::spawn_blocking(move || {
            Arc::new(Assistant::new(
                analyzer(),
                KnowledgeBase { entries, policies },
            ))
        })
        .await
        .map_err(ApiError::internal)
    }

    /// Runs `f` on the popularity counts.
    pub fn popularity<T>(&self, f: impl FnOnce(&mut Popularity) -> T) -> T {
        match self.popularity.lock() {
            Ok(mut popularity) => f(&mut popularity),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popularity_counts_answers_and_what_follows() {
        let mut popularity = Popularity::default();
        popularity.record(None, "hpf-001");
        popularity.record(Some("hpf-001"), "hpf-002");
        popularity.record(Some("hpf-002"), "hpf-002");
        assert_eq!(popularity.asked("hpf-002"), 2);
        assert_eq!(
            popularity.asked_next("hpf-001"),
            vec![("hpf-002".to_owned(), 1)]
        );
        assert!(popularity.asked_next("hpf-002").is_empty());
        assert_eq!(owner_of(Uuid::nil()).len(), 32);
    }
}
