//! Answering: the three outcomes (answer, clarify, hand off) from the calibrated confidence,
//! and the suggestions (猜你想问) — while typing, after an answer, and from the page.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::calibration::{Calibration, STARTER_NEGATIVES};
use crate::index::{Index, Scratch};
use crate::kb::{Entry, KnowledgeBase};
use crate::text::{Analyzer, normalize};

/// At or above this confidence the top entry is the answer.
pub const ANSWER_AT: f32 = 0.5;
/// Below this the question goes to a person (and is logged as unanswered).
pub const CLARIFY_AT: f32 = 0.2;
/// A question less likely than this to be in the knowledge base's scope goes to a person.
pub const IN_SCOPE_AT: f32 = 0.5;
/// A candidate offered for clarification needs at least this confidence.
const CANDIDATE_AT: f32 = 0.15;
/// Two strong hits closer than this are a clarification, not an answer.
const TIE: f32 = 0.08;

/// What the assistant does with a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answer with the top entry (its source cited).
    Answer,
    /// Ask "您是想问：" with the candidates.
    Clarify,
    /// Hand off to a person; the question is logged as unanswered.
    Handoff,
}

/// The assistant's reply to a public question.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// What to do.
    pub outcome: Outcome,
    /// The answering entry (index into the knowledge base), for `Answer`.
    pub entry: Option<usize>,
    /// The top hit's calibrated confidence (0 when nothing matched).
    pub confidence: f32,
    /// The best entries with their confidence, best first (the clarification's options).
    pub candidates: Vec<(usize, f32)>,
}

/// The knowledge base, its index and the fitted confidence model.
pub struct Assistant {
    kb: KnowledgeBase,
    index: Index,
    calibration: Calibration,
    /// Each entry's question normalised without spaces, for suggestions while typing.
    typed: Vec<String>,
}

impl std::fmt::Debug for Assistant {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Assistant")
            .field("entries", &self.kb.entries.len())
            .field("calibration", &self.calibration)
            .finish_non_exhaustive()
    }
}

impl Assistant {
    /// Indexes `kb` and fits the confidence model on it (leave-one-out) and the shipped
    /// out-of-scope questions.
    pub fn new(analyzer: Arc<Analyzer>, kb: KnowledgeBase) -> Assistant {
        let calibration = Calibration::fit(Arc::clone(&analyzer), &kb, STARTER_NEGATIVES);
        let index = Index::build(analyzer, &kb);
        let typed = kb
            .entries
            .iter()
            .map(|entry| normalize(&entry.question).replace(' ', ""))
            .collect();
        Assistant {
            kb,
            index,
            calibration,
            typed,
        }
    }

    /// The knowledge base answered from.
    pub fn kb(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// The search index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The fitted confidence model.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// The entry at `number`.
    pub fn entry(&self, number: usize) -> &Entry {
        &self.kb.entries[number]
    }

    /// Ranks the entries in effect on `today` (all when `None`) for `question` and decides.
    pub fn ask(&self, question: &str, today: Option<NaiveDate>, scratch: &mut Scratch) -> Reply {
        let entries = &self.kb.entries;
        let keep = |entry: usize| today.is_none_or(|day| entries[entry].in_effect(day));
        let hits = self.index.search(question, 10, &keep, scratch);
        let candidates: Vec<(usize, f32)> = hits
            .iter()
            .map(|hit| (hit.entry, self.calibration.probability(&hit.features)))
            .collect();
        let confidence = candidates.first().map_or(0.0, |(_, p)| *p);
        let runner_up = candidates.get(1).map_or(0.0, |(_, p)| *p);
        let in_scope = hits
            .first()
            .map_or(0.0, |hit| self.calibration.in_scope(&hit.features));
        let outcome = if in_scope < IN_SCOPE_AT {
            Outcome::Handoff
        } else if confidence >= ANSWER_AT
            && !(runner_up >= ANSWER_AT && confidence - runner_up < TIE)
        {
            Outcome::Answer
        } else if confidence >= CLARIFY_AT {
            Outcome::Clarify
        } else {
            Outcome::Handoff
        };
        Reply {
            outcome,
            entry: (outcome == Outcome::Answer).then(|| candidates[0].0),
            confidence,
            candidates,
        }
    }

    /// The clarification's options: at most three candidates with enough confidence.
    pub fn clarification(reply: &Reply) -> Vec<(usize, f32)> {
        reply
            .candidates
            .iter()
            .copied()
            .filter(|(_, p)| *p >= CANDIDATE_AT)
            .take(3)
            .collect()
    }

    /// Suggestions while typing `partial`: entries whose question starts with it, then contains
    /// it, then the best search hits; `popularity` (asks per entry, by index) breaks ties.
    pub fn suggest_typing(
        &self,
        partial: &str,
        limit: usize,
        popularity: &dyn Fn(usize) -> u32,
        scratch: &mut Scratch,
    ) -> Vec<usize> {
        let needle = normalize(partial).replace(' ', "");
        if needle.is_empty() {
            return Vec::new();
        }
        let mut prefix: Vec<usize> = Vec::new();
        let mut contains: Vec<usize> = Vec::new();
        for (number, question) in self.typed.iter().enumerate() {
            if question.starts_with(&needle) {
                prefix.push(number);
            } else if question.contains(&needle) {
                contains.push(number);
            }
        }
        prefix.sort_by_key(|number| std::cmp::Reverse(popularity(*number)));
        contains.sort_by_key(|number| std::cmp::Reverse(popularity(*number)));
        let mut out: Vec<usize> = prefix.into_iter().chain(contains).take(limit).collect();
        if out.len() < limit {
            for hit in self.index.search(partial, limit * 2, &|_| true, scratch) {
                if out.len() == limit {
                    break;
                }
                if !out.contains(&hit.entry) {
                    out.push(hit.entry);
                }
            }
        }
        out
    }

    /// Questions related to entry `number`: first those people asked next after it
    /// (`asked_next`, by count), then entries sharing its tags, topic and department.
    pub fn related(&self, number: usize, asked_next: &[(usize, u32)], limit: usize) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        let mut next: Vec<(usize, u32)> = asked_next.to_vec();
        next.sort_by_key(|(entry, count)| (std::cmp::Reverse(*count), *entry));
        for (entry, _) in next {
            if entry != number
                && entry < self.kb.entries.len()
                && !out.contains(&entry)
                && out.len() < limit
            {
                out.push(entry);
            }
        }
        let this = &self.kb.entries[number];
        let topic = topic_of(&this.id);
        let mut scored: Vec<(usize, usize)> = self
            .kb
            .entries
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != number && !out.contains(other))
            .map(|(other, entry)| {
                let shared = entry
                    .tags
                    .iter()
                    .filter(|tag| this.tags.contains(tag))
                    .count();
                let score = shared * 4
                    + usize::from(topic_of(&entry.id) == topic) * 2
                    + usize::from(entry.department == this.department);
                (other, score)
            })
            .filter(|(_, score)| *score >= 3)
            .collect();
        scored.sort_by_key(|(other, score)| (std::cmp::Reverse(*score), other.abs_diff(number)));
        out.extend(
            scored
                .into_iter()
                .map(|(other, _)| other)
                .take(limit.saturating_sub(out.len())),
        );
        out
    }

    /// Suggestions for a citizen on a page about `topic` (`hpf`, `si`, `traffic`, `loan`,
    /// `account`; anything else: every topic), most asked first, then in knowledge-base order.
    pub fn for_topic(
        &self,
        topic: &str,
        limit: usize,
        popularity: &dyn Fn(usize) -> u32,
    ) -> Vec<usize> {
        let mut entries: Vec<usize> = (0..self.kb.entries.len())
            .filter(|number| {
                let own = topic_of(&self.kb.entries[*number].id);
                TOPICS.iter().all(|known| *known != topic) || own == topic
            })
            .collect();
        entries.sort_by_key(|number| (std::cmp::Reverse(popularity(*number)), *number));
        if TOPICS.iter().all(|known| *known != topic) {
            // Every topic: the first of each, round robin, so no topic crowds out the others.
            let mut by_topic: Vec<Vec<usize>> = TOPICS
                .iter()
                .map(|known| {
                    entries
                        .iter()
                        .copied()
                        .filter(|n| topic_of(&self.kb.entries[*n].id) == *known)
                        .collect()
                })
                .collect();
            let mut out = Vec::new();
            let mut round = 0;
            while out.len() < limit && by_topic.iter().any(|list| list.len() > round) {
                for list in &mut by_topic {
                    if let Some(entry) = list.get(round)
                        && out.len() < limit
                    {
                        out.push(*entry);
                    }
                }
                round += 1;
            }
            return out;
        }
        entries.truncate(limit);
        entries
    }
}

/// A canned reply to a greeting, thanks, goodbye or a request for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoReply {
    /// What to say.
    pub text: &'static str,
    /// `Answer`, or `Handoff` for a request for a person.
    pub outcome: Outcome,
}

/// The auto-reply for a short social message or a request for a person; `None` for anything
/// else (a question).
pub fn auto_reply(message: &str) -> Option<AutoReply> {
    let text = normalize(message).replace(' ', "");
    let short = text.chars().count() <= 8;
    let has = |words: &[&str]| words.iter().any(|word| text.contains(word));
    if has(&["转人工", "人工客服", "人工服务", "找人工", "真人"]) || text == "人工"
    {
        return Some(AutoReply {
            text: "好的，正在为您转接人工客服，工作人员会尽快回复您。您也可以拨打本行客服热线 95XXX（演示号码）。",
            outcome: Outcome::Handoff,
        });
    }
    if !short {
        return None;
    }
    let reply = if has(&["你好", "您好", "在吗", "hello", "hi", "哈喽", "嗨"]) {
        "您好！我是便民智能客服，可以解答公积金、社保、交通罚款、闪电贷和账户相关的问题，登录后还能帮您查询本人的公积金余额、违章和额度。请问有什么可以帮您？"
    } else if has(&[
        "谢谢",
        "感谢",
        "多谢",
        "好的",
        "明白了",
        "知道了",
        "ok",
        "thx",
    ]) {
        "不客气，很高兴为您服务！还有其他问题随时问我。"
    } else if has(&["再见", "拜拜", "bye"]) {
        "感谢您的使用，再见！"
    } else {
        return None;
    };
    Some(AutoReply {
        text: reply,
        outcome: Outcome::Answer,
    })
}

/// The topics of the starter knowledge base, by id prefix.
pub const TOPICS: &[&str] = &["hpf", "si", "traffic", "loan", "account"];

/// An entry's topic: its id up to the first `-`.
pub fn topic_of(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assistant() -> Assistant {
        Assistant::new(Arc::new(Analyzer::starter()), KnowledgeBase::starter())
    }

    #[test]
    fn answers_clarifies_and_hands_off() {
        let assistant = assistant();
        let mut scratch = Scratch::default();
        let reply = assistant.ask("租房子能不能把公积金取出来交房租", None, &mut scratch);
        assert_eq!(reply.outcome, Outcome::Answer, "{reply:?}");
        assert_eq!(assistant.entry(reply.entry.unwrap()).id, "hpf-001");
        let reply = assistant.ask("帮我写一首关于大海的诗", None, &mut scratch);
        assert_eq!(reply.outcome, Outcome::Handoff, "{reply:?}");
        let reply = assistant.ask("公积金", None, &mut scratch);
        assert_eq!(reply.outcome, Outcome::Clarify, "{reply:?}");
        assert!(!Assistant::clarification(&reply).is_empty());
    }

    #[test]
    fn social_messages_get_auto_replies() {
        assert_eq!(auto_reply("你好").unwrap().outcome, Outcome::Answer);
        assert_eq!(auto_reply("谢谢！").unwrap().outcome, Outcome::Answer);
        assert_eq!(auto_reply("我要转人工").unwrap().outcome, Outcome::Handoff);
        assert_eq!(auto_reply("你好，租房怎么提取公积金"), None);
        assert_eq!(auto_reply("公积金余额"), None);
    }

    #[test]
    fn entries_out_of_effect_are_not_answered() {
        let mut kb = KnowledgeBase::starter();
        kb.entries[0].effective_to = NaiveDate::from_ymd_opt(2020, 1, 1);
        let assistant = Assistant::new(Arc::new(Analyzer::starter()), kb);
        let mut scratch = Scratch::default();
        let question = assistant.entry(0).question.clone();
        let today = NaiveDate::from_ymd_opt(2026, 11, 29);
        let reply = assistant.ask(&question, today, &mut scratch);
        assert!(reply.candidates.iter().all(|(entry, _)| *entry != 0));
    }

    #[test]
    fn suggests_while_typing_after_answers_and_by_page() {
        let assistant = assistant();
        let mut scratch = Scratch::default();
        let typing = assistant.suggest_typing("公积金", 5, &|_| 0, &mut scratch);
        assert_eq!(typing.len(), 5);
        assert!(
            typing
                .iter()
                .all(|entry| assistant.entry(*entry).id.starts_with("hpf"))
        );
        let related = assistant.related(0, &[(7, 3)], 4);
        assert_eq!(related[0], 7);
        assert_eq!(related.len(), 4);
        let page = assistant.for_topic("traffic", 3, &|_| 0);
        assert!(
            page.iter()
                .all(|entry| assistant.entry(*entry).id.starts_with("traffic"))
        );
        let home = assistant.for_topic("home", 5, &|_| 0);
        let topics: std::collections::HashSet<&str> = home
            .iter()
            .map(|entry| topic_of(&assistant.entry(*entry).id))
            .collect();
        assert_eq!(topics.len(), 5);
    }
}
