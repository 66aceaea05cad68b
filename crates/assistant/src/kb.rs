//! The knowledge base: FAQ entries and policy documents split into citable passages, read from
//! and written to JSONL (one entry per line) and validated on the way in.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::AssistantError;

/// The starter FAQ entries shipped with Bianmin (demo content for 成都).
pub const STARTER_FAQ: &[&str] = &[
    include_str!("../kb/faq-hpf-si.jsonl"),
    include_str!("../kb/faq-traffic-loan-account.jsonl"),
];

/// The starter policy documents, by id.
pub const STARTER_POLICIES: &[(&str, &str)] = &[
    (
        "hpf-withdrawal",
        include_str!("../kb/policies/hpf-withdrawal.md"),
    ),
    (
        "hpf-deposit-loan",
        include_str!("../kb/policies/hpf-deposit-loan.md"),
    ),
    ("si-card", include_str!("../kb/policies/si-card.md")),
    (
        "traffic-fines",
        include_str!("../kb/policies/traffic-fines.md"),
    ),
    (
        "loan-product",
        include_str!("../kb/policies/loan-product.md"),
    ),
    (
        "account-rules",
        include_str!("../kb/policies/account-rules.md"),
    ),
];

/// The evaluation set written apart from the entries' variants (`bianmin kb eval`).
pub const STARTER_EVAL: &str = include_str!("../kb/eval.jsonl");

/// One FAQ entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Stable id: lower-case letters, digits and `-`, e.g. `hpf-001`.
    pub id: String,
    /// The canonical question.
    pub question: String,
    /// Other ways people ask it.
    #[serde(default)]
    pub variants: Vec<String>,
    /// The answer shown.
    pub answer: String,
    /// The department that owns the answer.
    #[serde(default)]
    pub department: String,
    /// Short topic tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The policy passage the answer rests on, as `doc-id#article`.
    #[serde(default)]
    pub source: Option<String>,
    /// The first day the answer holds.
    #[serde(default)]
    pub effective_from: Option<NaiveDate>,
    /// The last day the answer holds (none: until changed).
    #[serde(default)]
    pub effective_to: Option<NaiveDate>,
    /// Demonstration content, not an official statement.
    #[serde(default)]
    pub demo: bool,
}

/// Longest question, variant or tag, in characters.
const MAX_QUESTION_CHARS: usize = 200;
/// Longest answer, in characters.
const MAX_ANSWER_CHARS: usize = 4000;

impl Entry {
    /// Checks the entry's fields; the error names the field.
    pub fn validate(&self) -> Result<(), AssistantError> {
        let invalid =
            |message: String| Err(AssistantError::Invalid(format!("{}: {message}", self.id)));
        if !valid_id(&self.id) {
            return Err(AssistantError::Invalid(format!(
                "entry id {:?}: use 1-64 lower-case letters, digits and '-'",
                self.id
            )));
        }
        if self.question.trim().is_empty() {
            return invalid("the question is empty".into());
        }
        if self.answer.trim().is_empty() {
            return invalid("the answer is empty".into());
        }
        if self.answer.chars().count() > MAX_ANSWER_CHARS {
            return invalid(format!(
                "the answer is longer than {MAX_ANSWER_CHARS} characters"
            ));
        }
        for text in std::iter::once(&self.question)
            .chain(&self.variants)
            .chain(&self.tags)
        {
            if text.trim().is_empty() {
                return invalid("a variant or tag is empty".into());
            }
            if text.chars().count() > MAX_QUESTION_CHARS {
                return invalid(format!(
                    "a question, variant or tag is longer than {MAX_QUESTION_CHARS} characters"
                ));
            }
        }
        if let (Some(from), Some(to)) = (self.effective_from, self.effective_to)
            && to < from
        {
            return invalid("effective_to is before effective_from".into());
        }
        if let Some(source) = &self.source
            && parse_source(source).is_none()
        {
            return invalid(format!("source {source:?} is not doc-id#article"));
        }
        Ok(())
    }

    /// Whether the entry holds on `day`.
    pub fn in_effect(&self, day: NaiveDate) -> bool {
        self.effective_from.is_none_or(|from| from <= day)
            && self.effective_to.is_none_or(|to| day <= to)
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// `doc-id#article` split into its parts.
pub fn parse_source(source: &str) -> Option<(&str, u32)> {
    let (doc, article) = source.split_once('#')?;
    valid_id(doc).then_some(())?;
    Some((doc, article.parse().ok().filter(|number| *number > 0)?))
}

/// A policy document split into numbered articles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDoc {
    /// File name without `.md`.
    pub id: String,
    /// The `# ` title line.
    pub title: String,
    /// The `来源：` line.
    pub issuer: String,
    /// The `生效：` line.
    pub effective: Option<NaiveDate>,
    /// The articles, in order.
    pub passages: Vec<Passage>,
}

/// One article of a policy document: the unit an answer cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// `doc-id#article`.
    pub id: String,
    /// The article's number.
    pub article: u32,
    /// The article's text, without its `第N条` label.
    pub text: String,
}

impl PolicyDoc {
    /// Parses a policy document: `# title`, `来源：`, `生效：`, then `第N条 …` articles, one per
    /// line (continuation lines join the article above).
    pub fn parse(id: &str, markdown: &str) -> Result<PolicyDoc, AssistantError> {
        let invalid = |message: &str| AssistantError::Invalid(format!("policy {id}: {message}"));
        let mut lines = markdown.lines();
        let title = lines
            .next()
            .and_then(|line| line.strip_prefix("# "))
            .ok_or_else(|| invalid("the first line must be '# title'"))?
            .trim()
            .to_owned();
        let (mut issuer, mut effective) = (String::new(), None);
        let mut passages: Vec<Passage> = Vec::new();
        for line in lines {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("来源：") {
                issuer = rest.trim().to_owned();
            } else if let Some(rest) = line.strip_prefix("生效：") {
                effective = Some(
                    NaiveDate::parse_from_str(rest.trim(), "%Y-%m-%d")
                        .map_err(|_| invalid("生效 must be YYYY-MM-DD"))?,
                );
            } else if let Some((article, text)) = article_line(line) {
                if article != passages.len() as u32 + 1 {
                    return Err(invalid(&format!("article {article} is out of order")));
                }
                passages.push(Passage {
                    id: format!("{id}#{article}"),
                    article,
                    text: text.to_owned(),
                });
            } else if let Some(last) = passages.last_mut() {
                last.text.push_str(line);
            }
        }
        if passages.is_empty() {
            return Err(invalid("no 第N条 articles"));
        }
        Ok(PolicyDoc {
            id: id.to_owned(),
            title,
            issuer,
            effective,
            passages,
        })
    }

    /// The passage `article`.
    pub fn passage(&self, article: u32) -> Option<&Passage> {
        self.passages
            .get(usize::try_from(article).ok()?.checked_sub(1)?)
    }
}

/// `第N条 text` → (N, text), N in Arabic digits.
fn article_line(line: &str) -> Option<(u32, &str)> {
    let rest = line.strip_prefix('第')?;
    let (number, text) = rest.split_once('条')?;
    Some((number.parse().ok()?, text.trim()))
}

/// FAQ entries and policy documents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KnowledgeBase {
    /// The entries, ids unique.
    pub entries: Vec<Entry>,
    /// The policy documents, ids unique.
    pub policies: Vec<PolicyDoc>,
}

impl KnowledgeBase {
    /// The starter knowledge base shipped with Bianmin.
    pub fn starter() -> KnowledgeBase {
        let mut entries = Vec::new();
        for file in STARTER_FAQ {
            entries.extend(parse_jsonl(file).expect("the shipped FAQ is valid"));
        }
        let policies = STARTER_POLICIES
            .iter()
            .map(|(id, text)| PolicyDoc::parse(id, text).expect("the shipped policies are valid"))
            .collect();
        let kb = KnowledgeBase { entries, policies };
        kb.validate()
            .expect("the shipped knowledge base is consistent");
        kb
    }

    /// Checks every entry, that ids are unique, and that every source names a known passage.
    pub fn validate(&self) -> Result<(), AssistantError> {
        let mut ids = HashSet::new();
        for entry in &self.entries {
            entry.validate()?;
            if !ids.insert(entry.id.as_str()) {
                return Err(AssistantError::Invalid(format!(
                    "entry id {} appears twice",
                    entry.id
                )));
            }
            if let Some(source) = &entry.source
                && self.passage(source).is_none()
            {
                return Err(AssistantError::Invalid(format!(
                    "{}: source {source} names no known passage",
                    entry.id
                )));
            }
        }
        let mut docs = HashSet::new();
        for policy in &self.policies {
            if !docs.insert(policy.id.as_str()) {
                return Err(AssistantError::Invalid(format!(
                    "policy {} appears twice",
                    policy.id
                )));
            }
        }
        Ok(())
    }

    /// The passage `doc-id#article`, with its document.
    pub fn passage(&self, source: &str) -> Option<(&PolicyDoc, &Passage)> {
        let (doc, article) = parse_source(source)?;
        let policy = self.policies.iter().find(|policy| policy.id == doc)?;
        Some((policy, policy.passage(article)?))
    }

    /// The entry with `id`.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.id == id)
    }
}

/// Entries from JSONL: one JSON object per line, blank lines ignored; the error names the line.
pub fn parse_jsonl(text: &str) -> Result<Vec<Entry>, AssistantError> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(line)
            .map_err(|error| AssistantError::Invalid(format!("line {}: {error}", number + 1)))?;
        entry
            .validate()
            .map_err(|error| AssistantError::Invalid(format!("line {}: {error}", number + 1)))?;
        entries.push(entry);
    }
    Ok(entries)
}

/// Entries as JSONL, one object per line, in the order given.
pub fn to_jsonl(entries: &[Entry]) -> String {
    let mut out = String::new();
    for entry in entries {
        out.push_str(&serde_json::to_string(entry).expect("an entry serialises"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_knowledge_base_is_large_consistent_and_demo() {
        let kb = KnowledgeBase::starter();
        assert!(kb.entries.len() >= 200, "{} entries", kb.entries.len());
        assert!(kb.entries.iter().all(|entry| entry.demo));
        for prefix in ["hpf-", "si-", "traffic-", "loan-", "account-"] {
            assert!(
                kb.entries
                    .iter()
                    .filter(|entry| entry.id.starts_with(prefix))
                    .count()
                    >= 30,
                "{prefix}"
            );
        }
        assert_eq!(kb.policies.len(), STARTER_POLICIES.len());
        let cited = kb
            .entries
            .iter()
            .filter(|entry| entry.source.is_some())
            .count();
        assert!(
            cited * 2 > kb.entries.len(),
            "{cited} entries cite a passage"
        );
    }

    #[test]
    fn jsonl_round_trips() {
        let kb = KnowledgeBase::starter();
        let text = to_jsonl(&kb.entries);
        assert_eq!(parse_jsonl(&text).unwrap(), kb.entries);
    }

    #[test]
    fn bad_lines_are_named() {
        let error = parse_jsonl("\n{\"id\":\"a-1\",\"question\":\"q\",\"answer\":\"a\"}\n{oops}\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 3"), "{error}");
        let error = parse_jsonl(r#"{"id":"A 1","question":"q","answer":"a"}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("entry id"), "{error}");
        let error = parse_jsonl(r#"{"id":"a-1","question":"q","answer":" "}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("answer is empty"), "{error}");
        let entry: Entry = serde_json::from_str(
            r#"{"id":"a-1","question":"q","answer":"a","effective_from":"2025-02-01","effective_to":"2025-01-01"}"#,
        )
        .unwrap();
        assert!(entry.validate().is_err());
    }

    #[test]
    fn a_duplicate_id_or_unknown_source_is_refused() {
        let mut kb = KnowledgeBase::starter();
        let mut copy = kb.entries[0].clone();
        kb.entries.push(copy.clone());
        assert!(kb.validate().unwrap_err().to_string().contains("twice"));
        kb.entries.pop();
        copy.id = "x-1".into();
        copy.source = Some("nowhere#1".into());
        kb.entries.push(copy);
        assert!(
            kb.validate()
                .unwrap_err()
                .to_string()
                .contains("no known passage")
        );
    }

    #[test]
    fn policies_parse_into_numbered_passages() {
        let doc = PolicyDoc::parse(
            "demo",
            "# 标题\n来源：某中心\n生效：2025-01-01\n说明：演示\n第1条 第一条内容。\n第2条 第二条\n接上一行。\n",
        )
        .unwrap();
        assert_eq!(doc.passages.len(), 2);
        assert_eq!(doc.passage(2).unwrap().text, "第二条接上一行。");
        assert_eq!(doc.passage(2).unwrap().id, "demo#2");
        assert!(PolicyDoc::parse("demo", "# t\n第2条 x\n").is_err());
        assert!(PolicyDoc::parse("demo", "no title").is_err());
    }
}
