//! The calibrated confidence: a logistic model from a hit's features to the probability that it
//! is the right answer, fitted when the index is built, on the knowledge base itself.
//!
//! Positives and negatives come from a held-out pass: one variant of every entry (of an even
//! sample of at most 600 entries on large knowledge bases) is left out of a second index and
//! asked of it; the label is whether the top hit is its own entry. The shipped out-of-scope questions
//! (`kb/calibration-negatives.txt`, written apart from the evaluation set) add the cases where no
//! entry is right. The evaluation set is never seen.

use std::sync::Arc;

use crate::index::{FEATURES, Features, Index, Scratch};
use crate::kb::KnowledgeBase;
use crate::text::Analyzer;

/// Out-of-scope and near-miss questions no starter entry answers.
pub const STARTER_NEGATIVES: &str = include_str!("../kb/calibration-negatives.txt");

/// At most this many held-out variants are asked (spread evenly over the entries).
const MAX_CALIBRATION_QUERIES: usize = 600;

/// The fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    weights: [f32; FEATURES],
    bias: f32,
    /// Queries the model was fitted on (positives, negatives).
    pub examples: (usize, usize),
}

impl Default for Calibration {
    /// Hand-set weights for an empty knowledge base (nothing to fit on).
    fn default() -> Self {
        Calibration {
            weights: [3.0, 2.0, 1.0, 2.0, 2.0],
            bias: -5.0,
            examples: (0, 0),
        }
    }
}

impl Calibration {
    /// The probability that a hit with `features` is right.
    pub fn probability(&self, features: &Features) -> f32 {
        let vector = features.vector();
        let z = self.bias
            + vector
                .iter()
                .zip(self.weights.iter())
                .map(|(value, weight)| value * weight)
                .sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }

    /// Fits the model on `kb` (held-out variants) and the `negatives` (one question per line).
    pub fn fit(analyzer: Arc<Analyzer>, kb: &KnowledgeBase, negatives: &str) -> Calibration {
        let with_variants: Vec<usize> = (0..kb.entries.len())
            .filter(|entry| !kb.entries[*entry].variants.is_empty())
            .collect();
        let step = with_variants.len().div_ceil(MAX_CALIBRATION_QUERIES).max(1);
        let sampled: Vec<(usize, usize)> = with_variants
            .iter()
            .step_by(step)
            .map(|entry| (*entry, entry % kb.entries[*entry].variants.len()))
            .collect();
        let held_out: std::collections::HashSet<(usize, usize)> = sampled.iter().copied().collect();
        let index = Index::build_without(analyzer, kb, &|entry, variant| {
            held_out.contains(&(entry, variant))
        });
        let mut scratch = Scratch::default();
        let mut examples: Vec<([f32; FEATURES], f32)> = Vec::new();
        let mut positives = 0;
        for (entry, variant) in sampled {
            let text = &kb.entries[entry].variants[variant];
            let hits = index.search(text, 2, &|_| true, &mut scratch);
            let Some(top) = hits.first() else {
                continue;
            };
            let right = top.entry == entry;
            positives += usize::from(right);
            examples.push((top.features.vector(), if right { 1.0 } else { 0.0 }));
        }
        let mut negatives_count = 0;
        for question in negatives
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
        {
            negatives_count += 1;
            let hits = index.search(question, 2, &|_| true, &mut scratch);
            let features = hits.first().map(|hit| hit.features).unwrap_or_default();
            examples.push((features.vector(), 0.0));
        }
        let negatives_total = examples.len() - positives;
        if positives == 0 || negatives_total == 0 {
            return Calibration::default();
        }
        // Balance the classes: a wrong answer costs as much as a missed one.
        let positive_weight = examples.len() as f32 / (2.0 * positives as f32);
        let negative_weight = examples.len() as f32 / (2.0 * negatives_total as f32);
        let mut model = Calibration::default();
        fit_logistic(&examples, positive_weight, negative_weight, &mut model);
        model.examples = (positives, negatives_total.max(negatives_count));
        model
    }
}

/// Weighted logistic regression by gradient descent with a small L2 penalty (five features,
/// hundreds of examples: a few thousand iterations take milliseconds).
fn fit_logistic(
    examples: &[([f32; FEATURES], f32)],
    positive_weight: f32,
    negative_weight: f32,
    model: &mut Calibration,
) {
    const RATE: f32 = 0.5;
    const L2: f32 = 1e-3;
    let total: f32 = examples
        .iter()
        .map(|(_, label)| {
            if *label > 0.5 {
                positive_weight
            } else {
                negative_weight
            }
        })
        .sum();
    for _ in 0..3000 {
        let mut gradient = [0.0f32; FEATURES];
        let mut gradient_bias = 0.0f32;
        for (vector, label) in examples {
            let weight = if *label > 0.5 {
                positive_weight
            } else {
                negative_weight
            };
            let z = model.bias
                + vector
                    .iter()
                    .zip(model.weights.iter())
                    .map(|(value, w)| value * w)
                    .sum::<f32>();
            let error = weight * (1.0 / (1.0 + (-z).exp()) - label);
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
        assert!(
            model.examples.0 > 100 && model.examples.1 > 30,
            "{:?}",
            model.examples
        );
        let mut scratch = Scratch::default();
        let confident = |question: &str, scratch: &mut Scratch| {
            let hits = index.search(question, 2, &|_| true, scratch);
            hits.first()
                .map_or(0.0, |hit| model.probability(&hit.features))
        };
        let known = confident(&kb.entries[0].question, &mut scratch);
        let unknown = confident("今天成都天气怎么样", &mut scratch);
        assert!(known > 0.7, "{known}");
        assert!(unknown < 0.35, "{unknown}");
    }
}
