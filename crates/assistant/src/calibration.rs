//! The calibrated confidence, from two logistic models over a hit's features, both fitted when
//! the index is built, on the knowledge base itself:
//!
//! - **right**: the probability that the top hit is the right entry, given that the question is
//!   one the knowledge base covers. Fitted on a held-out pass: variants are left out of an index
//!   and asked of it (every variant once, over three folds, on a knowledge base of up to 2,000
//!   entries; about 600 in one fold on larger ones); the label is whether the top hit is its own
//!   entry.
//! - **scope**: the probability that the question is one the knowledge base covers at all.
//!   Fitted on the same held-out variants (in scope) against the shipped out-of-scope and
//!   near-miss questions (`kb/calibration-negatives.txt`, written apart from the evaluation
//!   set), weighted so that one question in five is out of scope (the prior).
//!
//! The confidence shown is their product. A question out of scope goes to a person; one in scope
//! is answered when the confidence is high, clarified otherwise. The evaluation set is never seen.

use std::sync::Arc;

use crate::index::{FEATURES, Features, Index, Scratch};
use crate::kb::KnowledgeBase;
use crate::text::Analyzer;

/// Out-of-scope and near-miss questions no starter entry answers.
pub const STARTER_NEGATIVES: &str = include_str!("../kb/calibration-negatives.txt");

/// On a large knowledge base, about this many held-out variants are asked.
const MAX_CALIBRATION_QUERIES: usize = 600;
/// The share of questions expected to be out of the knowledge base's scope: the prior of the
/// scope model (the out-of-scope examples are weighted to it).
const OUT_OF_SCOPE_SHARE: f32 = 0.1;
/// Up to this many entries, every variant is held out once (three folds).
const SMALL_KB: usize = 2_000;

/// FNV-1a of `text`: a hash that does not change between runs or builds.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A logistic model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Logistic {
    weights: [f32; FEATURES],
    bias: f32,
}

impl Logistic {
    /// The model's probability for `features`.
    pub fn probability(&self, features: &Features) -> f32 {
        let z = self.bias
            + features
                .vector()
                .iter()
                .zip(self.weights.iter())
                .map(|(value, weight)| value * weight)
                .sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// The fitted models.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    right: Logistic,
    scope: Logistic,
    /// Held-out questions the models were fitted on: (answered right, answered wrong,
    /// out of scope).
    pub examples: (usize, usize, usize),
}

impl Default for Calibration {
    /// Hand-set weights for a knowledge base too small to fit on.
    fn default() -> Self {
        Calibration {
            right: Logistic {
                weights: [3.0, 2.0, 1.0, 1.0, 3.0, -1.0],
                bias: -4.0,
            },
            scope: Logistic {
                weights: [2.0, 2.0, 1.0, 4.0, 0.0, -4.0],
                bias: -3.5,
            },
            examples: (0, 0, 0),
        }
    }
}

impl Calibration {
    /// The confidence that a hit with `features` answers the question: in scope × right.
    pub fn probability(&self, features: &Features) -> f32 {
        self.scope.probability(features) * self.right.probability(features)
    }

    /// The probability that the question is one the knowledge base covers.
    pub fn in_scope(&self, features: &Features) -> f32 {
        self.scope.probability(features)
    }

    /// Fits the models on `kb` (held-out variants) and the `negatives` (one question per line).
    ///
    /// Which fold a variant falls in depends on its entry's id and its position, not on the
    /// entries' order, so the same knowledge base fits the same models however it was loaded.
    pub fn fit(analyzer: Arc<Analyzer>, kb: &KnowledgeBase, negatives: &str) -> Calibration {
        let folds: u64 = if kb.entries.len() <= SMALL_KB { 3 } else { 1 };
        let fold_of = |entry: usize, variant: usize| {
            (stable_hash(&kb.entries[entry].id) + variant as u64) % 3
        };
        let total: usize = kb.entries.iter().map(|entry| entry.variants.len()).sum();
        // On one fold of a large knowledge base, keep about MAX_CALIBRATION_QUERIES variants.
        let keep_one_in = if folds == 1 {
            (total / 3).div_ceil(MAX_CALIBRATION_QUERIES).max(1) as u64
        } else {
            1
        };
        let mut held_out: Vec<([f32; FEATURES], bool)> = Vec::new();
        let mut scratch = Scratch::default();
        let mut last_index = None;
        for fold in 0..folds {
            let index = Index::build_without(Arc::clone(&analyzer), kb, &|entry, variant| {
                fold_of(entry, variant) == fold
            });
            for (entry, item) in kb.entries.iter().enumerate() {
                for (variant, text) in item.variants.iter().enumerate() {
                    if fold_of(entry, variant) != fold
                        || !stable_hash(text).is_multiple_of(keep_one_in)
                    {
                        continue;
                    }
                    let hits = index.search(text, 2, &|_| true, &mut scratch);
                    let features = hits.first().map(|hit| hit.features).unwrap_or_default();
                    held_out.push((
                        features.vector(),
                        hits.first().is_some_and(|hit| hit.entry == entry),
                    ));
                }
            }
            last_index = Some(index);
        }
        let Some(index) = last_index else {
            return Calibration::default();
        };
        let outside: Vec<[f32; FEATURES]> = negatives
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|question| {
                let hits = index.search(question, 2, &|_| true, &mut scratch);
                hits.first()
                    .map(|hit| hit.features)
                    .unwrap_or_default()
                    .vector()
            })
            .collect();
        let right_count = held_out.iter().filter(|(_, right)| *right).count();
        let wrong_count = held_out.len() - right_count;
        if right_count == 0 || wrong_count == 0 || outside.is_empty() {
            return Calibration {
                examples: (right_count, wrong_count, outside.len()),
                ..Calibration::default()
            };
        }
        let right_examples: Vec<([f32; FEATURES], f32)> = held_out
            .iter()
            .map(|(vector, right)| (*vector, if *right { 1.0 } else { 0.0 }))
            .collect();
        let scope_examples: Vec<([f32; FEATURES], f32)> = held_out
            .iter()
            .map(|(vector, _)| (*vector, 1.0))
            .chain(outside.iter().map(|vector| (*vector, 0.0)))
            .collect();
        Calibration {
            // Right or wrong as they come: the probability stays a frequency.
            right: fit_logistic(&right_examples, 1.0, 1.0),
            // Out-of-scope questions weighted to the share expected among real questions.
            scope: fit_logistic(
                &scope_examples,
                1.0,
                OUT_OF_SCOPE_SHARE / (1.0 - OUT_OF_SCOPE_SHARE) * held_out.len() as f32
                    / outside.len() as f32,
            ),
            examples: (right_count, wrong_count, outside.len()),
        }
    }
}

/// Weighted logistic regression by gradient descent with a small L2 penalty (five features,
/// hundreds of examples: a few thousand iterations take milliseconds).
fn fit_logistic(
    examples: &[([f32; FEATURES], f32)],
    positive_weight: f32,
    negative_weight: f32,
) -> Logistic {
    const RATE: f32 = 0.5;
    const L2: f32 = 1e-3;
    let weight_of = |label: f32| {
        if label > 0.5 {
            positive_weight
        } else {
            negative_weight
        }
    };
    let total: f32 = examples.iter().map(|(_, label)| weight_of(*label)).sum();
    let mut model = Logistic {
        weights: [0.0; FEATURES],
        bias: 0.0,
    };
    for _ in 0..3000 {
        let mut gradient = [0.0f32; FEATURES];
        let mut gradient_bias = 0.0f32;
        for (vector, label) in examples {
            let z = model.bias
                + vector
                    .iter()
                    .zip(model.weights.iter())
                    .map(|(value, w)| value * w)
                    .sum::<f32>();
            let error = weight_of(*label) * (1.0 / (1.0 + (-z).exp()) - label);
            for (slot, value) in gradient.iter_mut().zip(vector.iter()) {
                *slot += error * value;
            }
            gradient_bias += error;
        }
        for (w, g) in model.weights.iter_mut().zip(gradient.iter()) {
            *w -= RATE * (g / total + L2 * *w);
        }
        model.bias -= RATE * gradient_bias / total;
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_separates_right_answers_from_out_of_scope_questions() {
        let kb = KnowledgeBase::starter();
        let analyzer = Arc::new(Analyzer::starter());
        let index = Index::build(Arc::clone(&analyzer), &kb);
        let model = Calibration::fit(analyzer, &kb, STARTER_NEGATIVES);
        // Every variant held out once: hundreds right and wrong, and the negatives.
        assert!(
            model.examples.0 > 300 && model.examples.1 > 100 && model.examples.2 > 50,
            "{:?}",
            model.examples
        );
        let mut scratch = Scratch::default();
        let mut judge = |question: &str| {
            let hits = index.search(question, 2, &|_| true, &mut scratch);
            let top = hits.first().expect("something matches");
            (
                model.in_scope(&top.features),
                model.probability(&top.features),
            )
        };
        let (known_scope, known) = judge(&kb.entries[0].question);
        assert!(known_scope > 0.8 && known > 0.5, "{known_scope} {known}");
        // Nothing of it in the knowledge base: out of scope.
        let (poem_scope, poem) = judge("帮我写一首关于大海的诗");
        assert!(poem_scope < 0.5 && poem < 0.2, "{poem_scope} {poem}");
        // A question of the city's life with words the knowledge base uses ("去哪里"): not
        // confidently answered, though the scope model alone does not rule it out.
        let (_, hiking) = judge("周末去哪里爬山比较好");
        assert!(hiking < 0.5 && hiking + 0.25 < known, "{hiking} {known}");
    }
}
