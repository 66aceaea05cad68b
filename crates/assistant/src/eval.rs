//! `bianmin kb eval`: the assistant's figures on a set of questions with their expected entry
//! (or none: should not be answered), next to a plain BM25 baseline computed in the same run.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::AssistantError;
use crate::answer::{Assistant, Outcome};
use crate::calibration::STARTER_NEGATIVES;
use crate::index::{Baseline, Scratch};

/// One evaluation question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// What is asked.
    pub question: String,
    /// The entry that answers it; `None`: nothing should.
    pub expected_id: Option<String>,
}

/// Parses the evaluation JSONL; the error names the line.
pub fn parse_cases(text: &str) -> Result<Vec<Case>, AssistantError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line)
                .map_err(|error| AssistantError::Invalid(format!("line {}: {error}", number + 1)))
        })
        .collect()
}

/// One system's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Questions with an expected entry.
    pub answerable: usize,
    /// Questions that should not be answered.
    pub unanswerable: usize,
    /// Share of answerable questions whose top-ranked entry is the expected one.
    pub top1_accuracy: f64,
    /// Mean reciprocal rank of the expected entry within the top 10 (0 when absent).
    pub mrr_at_10: f64,
    /// Share of all questions answered with an entry that is not the expected one (or answered
    /// at all when none is expected).
    pub wrong_answer_rate: f64,
    /// Of the questions handed off, the share that should not be answered.
    pub unanswered_precision: f64,
    /// Of the questions that should not be answered, the share handed off.
    pub unanswered_recall: f64,
    /// Outcomes: answer, clarify, hand off.
    pub outcomes: [usize; 3],
}

/// The assistant's and the baseline's figures on the same cases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The assistant (synonyms, bigrams, calibrated confidence, three outcomes).
    pub assistant: Figures,
    /// Plain BM25 (jieba's dictionary, one document per entry, a score threshold).
    pub baseline: Figures,
    /// Cases whose expected id is not in the knowledge base (skipped).
    pub unknown_ids: Vec<String>,
}

struct Tally {
    figures: Figures,
    reciprocal: f64,
    top1: usize,
    wrong: usize,
    handed_off: usize,
    handed_off_right: usize,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            figures: Figures::default(),
            reciprocal: 0.0,
            top1: 0,
            wrong: 0,
            handed_off: 0,
            handed_off_right: 0,
        }
    }

    fn add(
        &mut self,
        expected: Option<usize>,
        ranking: &[usize],
        outcome: Outcome,
        answered: Option<usize>,
    ) {
        match expected {
            Some(expected) => {
                self.figures.answerable += 1;
                if ranking.first() == Some(&expected) {
                    self.top1 += 1;
                }
                if let Some(rank) = ranking.iter().take(10).position(|entry| *entry == expected) {
                    self.reciprocal += 1.0 / (rank + 1) as f64;
                }
            }
            None => self.figures.unanswerable += 1,
        }
        if outcome == Outcome::Answer && answered != expected {
            self.wrong += 1;
        }
        if outcome == Outcome::Handoff {
            self.handed_off += 1;
            if expected.is_none() {
                self.handed_off_right += 1;
            }
        }
        self.figures.outcomes[match outcome {
            Outcome::Answer => 0,
            Outcome::Clarify => 1,
            Outcome::Handoff => 2,
        }] += 1;
    }

    fn finish(mut self) -> Figures {
        let ratio = |part: usize, whole: usize| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64
            }
        };
        let total = self.figures.answerable + self.figures.unanswerable;
        self.figures.top1_accuracy = ratio(self.top1, self.figures.answerable);
        self.figures.mrr_at_10 = if self.figures.answerable == 0 {
            0.0
        } else {
            self.reciprocal / self.figures.answerable as f64
        };
        self.figures.wrong_answer_rate = ratio(self.wrong, total);
        self.figures.unanswered_precision = ratio(self.handed_off_right, self.handed_off);
        self.figures.unanswered_recall = ratio(self.handed_off_right, self.figures.unanswerable);
        self.figures
    }
}

/// Evaluates `assistant` and a plain BM25 baseline over its knowledge base on `cases`.
///
/// The baseline answers its top entry when its normalised score reaches a threshold chosen, in
/// the same run, to best separate the knowledge base's own canonical questions from the
/// shipped out-of-scope questions (balanced accuracy) — the same data the assistant's
/// confidence is fitted on; below it, it hands off. It never clarifies.
pub fn evaluate(assistant: &Assistant, cases: &[Case]) -> Report {
    let kb = assistant.kb();
    let positions: HashMap<&str, usize> = kb
        .entries
        .iter()
        .enumerate()
        .map(|(number, entry)| (entry.id.as_str(), number))
        .collect();
    let baseline = Baseline::build(kb);
    let threshold = baseline_threshold(assistant, &baseline);
    let mut scratch = Scratch::default();
    let (mut ours, mut theirs) = (Tally::new(), Tally::new());
    let mut unknown_ids = Vec::new();
    for case in cases {
        let expected = match &case.expected_id {
            Some(id) => match positions.get(id.as_str()) {
                Some(number) => Some(*number),
                None => {
                    unknown_ids.push(id.clone());
                    continue;
                }
            },
            None => None,
        };
        let reply = assistant.ask(&case.question, None, &mut scratch);
        let ranking: Vec<usize> = reply.candidates.iter().map(|(entry, _)| *entry).collect();
        ours.add(expected, &ranking, reply.outcome, reply.entry);
        let hits = baseline.search(&case.question, 10);
        let ranking: Vec<usize> = hits.iter().map(|(entry, _)| *entry).collect();
        let (outcome, answered) = match hits.first() {
            Some((entry, score)) if *score >= threshold => (Outcome::Answer, Some(*entry)),
            _ => (Outcome::Handoff, None),
        };
        theirs.add(expected, &ranking, outcome, answered);
    }
    Report {
        assistant: ours.finish(),
        baseline: theirs.finish(),
        unknown_ids,
    }
}

fn baseline_threshold(assistant: &Assistant, baseline: &Baseline) -> f32 {
    let top = |question: &str| {
        baseline
            .search(question, 1)
            .first()
            .map_or(0.0, |hit| hit.1)
    };
    let positives: Vec<f32> = assistant
        .kb()
        .entries
        .iter()
        .map(|entry| top(&entry.question))
        .collect();
    let negatives: Vec<f32> = STARTER_NEGATIVES
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(top)
        .collect();
    let mut best = (0.0f32, 0.0f64);
    for candidate in positives.iter().chain(negatives.iter()) {
        let sensitivity = positives.iter().filter(|score| *score >= candidate).count() as f64
            / positives.len().max(1) as f64;
        let specificity = negatives.iter().filter(|score| *score < candidate).count() as f64
            / negatives.len().max(1) as f64;
        let balanced = (sensitivity + specificity) / 2.0;
        if balanced > best.1 {
            best = (*candidate, balanced);
        }
    }
    best.0
}

/// A row of the table: its name and how to print one system's cell.
type Row = (&'static str, fn(&Figures) -> String);

impl Report {
    /// The report as the table `bianmin kb eval` prints.
    pub fn table(&self) -> String {
        let rows: [Row; 6] = [
            ("top-1 accuracy", |f| format!("{:.3}", f.top1_accuracy)),
            ("MRR@10", |f| format!("{:.3}", f.mrr_at_10)),
            ("wrong-answer rate", |f| {
                format!("{:.3}", f.wrong_answer_rate)
            }),
            ("unanswered precision", |f| {
                format!("{:.3}", f.unanswered_precision)
            }),
            ("unanswered recall", |f| {
                format!("{:.3}", f.unanswered_recall)
            }),
            ("answer/clarify/hand-off", |f| {
                format!("{}/{}/{}", f.outcomes[0], f.outcomes[1], f.outcomes[2])
            }),
        ];
        let mut out = format!(
            "{} questions ({} answerable, {} should not be answered)\n{:<24} {:>12} {:>14}\n",
            self.assistant.answerable + self.assistant.unanswerable,
            self.assistant.answerable,
            self.assistant.unanswerable,
            "",
            "assistant",
            "BM25 baseline"
        );
        for (name, cell) in rows {
            out.push_str(&format!(
                "{name:<24} {:>12} {:>14}\n",
                cell(&self.assistant),
                cell(&self.baseline)
            ));
        }
        if !self.unknown_ids.is_empty() {
            out.push_str(&format!(
                "skipped {} cases naming unknown ids: {}\n",
                self.unknown_ids.len(),
                self.unknown_ids.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::kb::{KnowledgeBase, STARTER_EVAL};
    use crate::text::Analyzer;

    #[test]
    fn the_shipped_evaluation_set_is_large_and_names_known_entries() {
        let cases = parse_cases(STARTER_EVAL).unwrap();
        assert!(cases.len() >= 300, "{}", cases.len());
        let kb = KnowledgeBase::starter();
        for case in &cases {
            if let Some(id) = &case.expected_id {
                assert!(kb.entry(id).is_some(), "{id}");
            }
        }
    }

    #[test]
    fn the_assistant_beats_the_baseline_on_the_shipped_set() {
        let assistant = Assistant::new(Arc::new(Analyzer::starter()), KnowledgeBase::starter());
        let cases = parse_cases(STARTER_EVAL).unwrap();
        let report = evaluate(&assistant, &cases);
        eprintln!("{}", report.table());
        assert!(report.unknown_ids.is_empty());
        assert!(
            report.assistant.top1_accuracy >= report.baseline.top1_accuracy,
            "{report:?}"
        );
        assert!(
            report.assistant.wrong_answer_rate <= report.baseline.wrong_answer_rate,
            "{report:?}"
        );
    }

    #[test]
    fn figures_follow_their_definitions() {
        let mut tally = Tally::new();
        tally.add(Some(1), &[1, 2], Outcome::Answer, Some(1)); // right
        tally.add(Some(2), &[1, 2], Outcome::Answer, Some(1)); // wrong, rank 2
        tally.add(None, &[3], Outcome::Handoff, None); // rightly handed off
        tally.add(Some(4), &[5], Outcome::Handoff, None); // wrongly handed off, not in top 10
        let figures = tally.finish();
        assert_eq!(figures.answerable, 3);
        assert!((figures.top1_accuracy - 1.0 / 3.0).abs() < 1e-9);
        assert!((figures.mrr_at_10 - 0.5).abs() < 1e-9);
        assert!((figures.wrong_answer_rate - 0.25).abs() < 1e-9);
        assert!((figures.unanswered_precision - 0.5).abs() < 1e-9);
        assert!((figures.unanswered_recall - 1.0).abs() < 1e-9);
        assert_eq!(figures.outcomes, [2, 0, 2]);
    }
}
