//! Retrieval: BM25 over the entries' questions, variants, answers and cited passages, on words
//! and on character bigrams, and the features the confidence is computed from.
//!
//! Written here rather than taken from a search crate: the knowledge base is small (hundreds to
//! tens of thousands of entries), lives in memory, and the ranking needs per-unit scores and
//! term coverage that tantivy-style engines do not expose cheaply; the whole index is a few
//! hundred lines of arithmetic.

use std::collections::HashMap;
use std::sync::Arc;

use crate::kb::KnowledgeBase;
use crate::text::{Analyzed, Analyzer};

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// Bigrams count for less than words: they are the fallback.
const GRAM_WEIGHT: f32 = 0.35;
/// The same for whole entries: over a whole entry, bigrams find paraphrases the words miss.
const DOCUMENT_GRAM_WEIGHT: f32 = 1.5;
/// The best matching question or variant's share of an entry's score, beside the whole entry
/// (question, variants, answer and cited passage as one document).
const QUESTION_WEIGHT: f32 = 0.5;

/// One BM25 field: a term dictionary, postings and unit lengths.
#[derive(Debug, Default)]
struct Field {
    terms: HashMap<String, u32>,
    postings: Vec<Vec<(u32, u16)>>,
    lengths: Vec<u32>,
    average: f32,
    idf: Vec<f32>,
}

impl Field {
    fn add(&mut self, unit: u32, tokens: &[String]) -> Vec<u32> {
        let mut counts: HashMap<u32, u16> = HashMap::new();
        for token in tokens {
            let next = self.terms.len() as u32;
            let id = *self.terms.entry(token.clone()).or_insert(next);
            if id as usize == self.postings.len() {
                self.postings.push(Vec::new());
            }
            let count = counts.entry(id).or_default();
            *count = count.saturating_add(1);
        }
        let mut ids: Vec<u32> = counts.keys().copied().collect();
        ids.sort_unstable();
        for id in &ids {
            self.postings[*id as usize].push((unit, counts[id]));
        }
        debug_assert_eq!(self.lengths.len(), unit as usize);
        self.lengths.push(tokens.len() as u32);
        ids
    }

    fn finish(&mut self) {
        let units = self.lengths.len().max(1) as f32;
        self.average = (self
            .lengths
            .iter()
            .map(|length| *length as f32)
            .sum::<f32>()
            / units)
            .max(1.0);
        self.idf = self
            .postings
            .iter()
            .map(|postings| {
                let frequency = postings.len() as f32;
                ((units - frequency + 0.5) / (frequency + 0.5) + 1.0).ln()
            })
            .collect();
    }

    /// Query term ids with their idf, each once, unknown terms dropped.
    fn query(&self, tokens: &[String]) -> Vec<(u32, f32)> {
        self.query_counting(tokens).0
    }

    /// [`Field::query`], and the weight of the distinct terms the field has never seen (each as
    /// rare as a term can be): a question about something the knowledge base never mentions
    /// must not look covered because its unknown words were dropped.
    fn query_counting(&self, tokens: &[String]) -> (Vec<(u32, f32)>, f32) {
        let mut out: Vec<(u32, f32)> = Vec::new();
        let mut unknown: Vec<&str> = Vec::new();
        for token in tokens {
            match self.terms.get(token) {
                Some(id) => {
                    if !out.iter().any(|(seen, _)| seen == id) {
                        out.push((*id, self.idf[*id as usize]));
                    }
                }
                None => {
                    if !unknown.contains(&token.as_str()) {
                        unknown.push(token);
                    }
                }
            }
        }
        let units = self.lengths.len() as f32;
        let rarest = ((units + 0.5) / 0.5 + 1.0).ln();
        (out, unknown.len() as f32 * rarest)
    }

    /// Adds `weight` × BM25 of `query` to each unit's slot; units first reached are appended to
    /// `touched`.
    fn accumulate(
        &self,
        query: &[(u32, f32)],
        weight: f32,
        scores: &mut [f32],
        touched: &mut Vec<u32>,
    ) {
        for (term, idf) in query {
            for (unit, frequency) in &self.postings[*term as usize] {
                let frequency = *frequency as f32;
                let norm = 1.0 - B + B * self.lengths[*unit as usize] as f32 / self.average;
                let score = idf * frequency * (K1 + 1.0) / (frequency + K1 * norm);
                let slot = &mut scores[*unit as usize];
                if *slot == 0.0 {
                    touched.push(*unit);
                }
                *slot += weight * score;
            }
        }
    }
}

/// A query's known words and bigrams with their idf, and the weight of its unknown words.
type QueryTerms = (Vec<(u32, f32)>, Vec<(u32, f32)>, f32);

/// Words and bigrams of the same units.
#[derive(Debug, Default)]
struct Fields {
    words: Field,
    grams: Field,
    /// The bigrams' share.
    gram_weight: f32,
}

impl Fields {
    fn add(&mut self, unit: u32, analyzed: &Analyzed) -> (Vec<u32>, Vec<u32>) {
        (
            self.words.add(unit, &analyzed.words),
            self.grams.add(unit, &analyzed.grams),
        )
    }

    fn finish(&mut self) {
        self.words.finish();
        self.grams.finish();
    }

    /// BM25 of words plus the bigrams' share into `scores` (units reached listed in `touched`).
    fn score(&self, query: &Analyzed, scores: &mut Vec<f32>, touched: &mut Vec<u32>) -> QueryTerms {
        let (words, unknown) = self.words.query_counting(&query.words);
        let grams = self.grams.query(&query.grams);
        scores.resize(self.words.lengths.len(), 0.0);
        touched.clear();
        self.words.accumulate(&words, 1.0, scores, touched);
        self.grams
            .accumulate(&grams, self.gram_weight, scores, touched);
        (words, grams, unknown)
    }
}

/// A question or variant.
#[derive(Debug, Clone)]
struct Unit {
    entry: u32,
    /// Its text (the calibration asks it again).
    text: Box<str>,
    /// Distinct term ids of its words and grams, sorted.
    words: Vec<u32>,
    grams: Vec<u32>,
}

/// A ranked entry and the evidence behind its rank.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Index of the entry in the knowledge base.
    pub entry: usize,
    /// The entry's retrieval score.
    pub score: f32,
    /// The features the confidence is computed from.
    pub features: Features,
}

/// What the confidence of a hit rests on.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Features {
    /// Share of the query's word weight (idf) found in the entry's best question or variant.
    pub word_coverage: f32,
    /// Share of the query's bigrams found in it.
    pub gram_coverage: f32,
    /// Share of that question's own word weight the query accounts for.
    pub reverse_coverage: f32,
    /// Share of the query's word weight found anywhere in the entry.
    pub entry_coverage: f32,
    /// How far the hit leads the next one, relative to its score (0 for ties, 1 when alone).
    pub margin: f32,
    /// Share of the query's word weight in words the knowledge base never uses.
    pub unknown: f32,
}

/// Features in the calibration model.
pub const FEATURES: usize = 6;

impl Features {
    /// As a vector for the calibration model.
    pub fn vector(&self) -> [f32; FEATURES] {
        [
            self.word_coverage,
            self.gram_coverage,
            self.reverse_coverage,
            self.entry_coverage,
            self.margin,
            self.unknown,
        ]
    }
}

/// The search index over a knowledge base.
pub struct Index {
    analyzer: Arc<Analyzer>,
    /// One document per entry: question, variants, answer and cited passage.
    documents: Fields,
    /// Distinct word ids of each entry's document, sorted.
    document_words: Vec<Vec<u32>>,
    /// One unit per question and variant.
    questions: Fields,
    units: Vec<Unit>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Index")
            .field("entries", &self.document_words.len())
            .field("units", &self.units.len())
            .finish_non_exhaustive()
    }
}

/// Scratch space of one search, reused.
#[derive(Debug, Default)]
pub struct Scratch {
    documents: Vec<f32>,
    questions: Vec<f32>,
    touched: Vec<u32>,
    best: HashMap<u32, (f32, u32)>,
}

impl Index {
    /// Indexes every entry of `kb`.
    pub fn build(analyzer: Arc<Analyzer>, kb: &KnowledgeBase) -> Index {
        Index::build_without(analyzer, kb, &|_, _| false)
    }

    /// Indexes `kb` leaving out the variants for which `held_out(entry, variant)` holds (the
    /// calibration asks them of an index that has never seen them).
    pub fn build_without(
        analyzer: Arc<Analyzer>,
        kb: &KnowledgeBase,
        held_out: &dyn Fn(usize, usize) -> bool,
    ) -> Index {
        let mut index = Index {
            analyzer,
            documents: Fields {
                gram_weight: DOCUMENT_GRAM_WEIGHT,
                ..Fields::default()
            },
            document_words: Vec::with_capacity(kb.entries.len()),
            questions: Fields {
                gram_weight: GRAM_WEIGHT,
                ..Fields::default()
            },
            units: Vec::new(),
        };
        for (number, entry) in kb.entries.iter().enumerate() {
            let mut document = Analyzed::default();
            let add_question = |index: &mut Index, text: &str, document: &mut Analyzed| {
                let analyzed = index.analyzer.analyze(text);
                let unit = index.units.len() as u32;
                let (words, grams) = index.questions.add(unit, &analyzed);
                index.units.push(Unit {
                    entry: number as u32,
                    text: text.into(),
                    words,
                    grams,
                });
                document.words.extend(analyzed.words);
                document.grams.extend(analyzed.grams);
            };
            add_question(&mut index, &entry.question, &mut document);
            for (variant_number, variant) in entry.variants.iter().enumerate() {
                if !held_out(number, variant_number) {
                    add_question(&mut index, variant, &mut document);
                }
            }
            let mut extend = |text: &str| {
                let analyzed = index.analyzer.analyze(text);
                document.words.extend(analyzed.words);
                document.grams.extend(analyzed.grams);
            };
            extend(&entry.answer);
            if let Some((_, passage)) = entry
                .source
                .as_deref()
                .and_then(|source| kb.passage(source))
            {
                extend(&passage.text);
            }
            let (words, _) = index.documents.add(number as u32, &document);
            index.document_words.push(words);
        }
        index.documents.finish();
        index.questions.finish();
        index
    }

    /// The analyzer the index was built with.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Questions and variants indexed.
    pub fn units(&self) -> usize {
        self.units.len()
    }

    /// The `limit` best entries for `text`, best first; `keep` filters entries (e.g. those in
    /// effect today).
    pub fn search(
        &self,
        text: &str,
        limit: usize,
        keep: &dyn Fn(usize) -> bool,
        scratch: &mut Scratch,
    ) -> Vec<Hit> {
        let analyzed = self.analyzer.analyze(text);
        self.search_analyzed(&analyzed, limit, keep, scratch)
    }

    /// [`Index::search`] on an analyzed query.
    pub fn search_analyzed(
        &self,
        query: &Analyzed,
        limit: usize,
        keep: &dyn Fn(usize) -> bool,
        scratch: &mut Scratch,
    ) -> Vec<Hit> {
        // The best question or variant of each entry.
        let (query_words, query_grams, unknown_words) =
            self.questions
                .score(query, &mut scratch.questions, &mut scratch.touched);
        scratch.best.clear();
        for unit in &scratch.touched {
            let slot = *unit as usize;
            let score = std::mem::take(&mut scratch.questions[slot]);
            let best = scratch
                .best
                .entry(self.units[slot].entry)
                .or_insert((0.0, *unit));
            if score > best.0 {
                *best = (score, *unit);
            }
        }
        // The whole entries.
        let (document_words, _, unknown_document_words) =
            self.documents
                .score(query, &mut scratch.documents, &mut scratch.touched);
        let mut ranked: Vec<(u32, f32)> = Vec::with_capacity(scratch.touched.len());
        for entry in &scratch.touched {
            let slot = *entry as usize;
            let document = std::mem::take(&mut scratch.documents[slot]);
            if !keep(slot) {
                continue;
            }
            let question = scratch.best.get(entry).map_or(0.0, |best| best.0);
            ranked.push((*entry, document + QUESTION_WEIGHT * question));
        }
        if ranked.is_empty() {
            return Vec::new();
        }
        let take = (limit.max(1) + 1).min(ranked.len());
        if take < ranked.len() {
            ranked.select_nth_unstable_by(take - 1, |left, right| {
                right.1.total_cmp(&left.1).then(left.0.cmp(&right.0))
            });
            ranked.truncate(take);
        }
        ranked.sort_by(|left, right| right.1.total_cmp(&left.1).then(left.0.cmp(&right.0)));
        let word_mass: f32 = query_words.iter().map(|(_, idf)| idf).sum::<f32>() + unknown_words;
        let document_mass: f32 =
            document_words.iter().map(|(_, idf)| idf).sum::<f32>() + unknown_document_words;
        let query_gram_count = query.grams.len().max(1) as f32;
        let mut hits = Vec::with_capacity(limit);
        for position in 0..ranked.len().min(limit) {
            let (entry, score) = ranked[position];
            let next = ranked.get(position + 1).map_or(0.0, |next| next.1);
            let in_entry = &self.document_words[entry as usize];
            let covered: f32 = document_words
                .iter()
                .filter(|(id, _)| in_entry.binary_search(id).is_ok())
                .map(|(_, idf)| idf)
                .sum();
            let mut features = Features {
                margin: if score > 0.0 {
                    (score - next) / score
                } else {
                    0.0
                },
                entry_coverage: if document_mass > 0.0 {
                    covered / document_mass
                } else {
                    0.0
                },
                unknown: if document_mass > 0.0 {
                    unknown_document_words / document_mass
                } else {
                    0.0
                },
                ..Features::default()
            };
            if let Some((_, unit)) = scratch.best.get(&entry) {
                let unit = &self.units[*unit as usize];
                let matched: f32 = query_words
                    .iter()
                    .filter(|(id, _)| unit.words.binary_search(id).is_ok())
                    .map(|(_, idf)| idf)
                    .sum();
                let unit_mass: f32 = unit
                    .words
                    .iter()
                    .map(|id| self.questions.words.idf[*id as usize])
                    .sum();
                features.word_coverage = if word_mass > 0.0 {
                    matched / word_mass
                } else {
                    0.0
                };
                features.reverse_coverage = if unit_mass > 0.0 {
                    matched / unit_mass
                } else {
                    0.0
                };
                let grams_matched = query_grams
                    .iter()
                    .filter(|(id, _)| unit.grams.binary_search(id).is_ok())
                    .count() as f32;
                features.gram_coverage = grams_matched / query_gram_count;
            }
            hits.push(Hit {
                entry: entry as usize,
                score,
                features,
            });
        }
        hits
    }

    /// The text of a question or variant unit.
    pub fn unit_text(&self, unit: usize) -> Option<&str> {
        Some(&self.units.get(unit)?.text)
    }
}

/// Plain BM25 over each entry's question, variants and answer as one document, segmented by
/// jieba's own dictionary with no synonyms, normalisation or bigrams: the baseline
/// `bianmin kb eval` prints beside the assistant's figures.
pub struct Baseline {
    analyzer: Analyzer,
    field: Field,
}

impl std::fmt::Debug for Baseline {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Baseline").finish_non_exhaustive()
    }
}

impl Baseline {
    /// Indexes `kb`.
    pub fn build(kb: &KnowledgeBase) -> Baseline {
        let analyzer = Analyzer::plain();
        let mut field = Field::default();
        for (number, entry) in kb.entries.iter().enumerate() {
            let mut text = entry.question.clone();
            for variant in &entry.variants {
                text.push(' ');
                text.push_str(variant);
            }
            text.push(' ');
            text.push_str(&entry.answer);
            field.add(number as u32, &plain_words(&analyzer, &text));
        }
        field.finish();
        Baseline { analyzer, field }
    }

    /// Entries by score, best first, with the score normalised by the query's own weight.
    pub fn search(&self, text: &str, limit: usize) -> Vec<(usize, f32)> {
        let query = self.field.query(&plain_words(&self.analyzer, text));
        let mut scores = vec![0.0; self.field.lengths.len()];
        let mut touched = Vec::new();
        self.field
            .accumulate(&query, 1.0, &mut scores, &mut touched);
        let mass: f32 = query.iter().map(|(_, idf)| idf * (K1 + 1.0)).sum();
        let mut ranked: Vec<(usize, f32)> = touched
            .into_iter()
            .map(|unit| {
                (
                    unit as usize,
                    scores[unit as usize] / mass.max(f32::EPSILON),
                )
            })
            .collect();
        ranked.sort_by(|left, right| right.1.total_cmp(&left.1).then(left.0.cmp(&right.0)));
        ranked.truncate(limit);
        ranked
    }
}

fn plain_words(analyzer: &Analyzer, text: &str) -> Vec<String> {
    analyzer
        .analyze(&text.to_lowercase())
        .words
        .into_iter()
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> (KnowledgeBase, Index) {
        let kb = KnowledgeBase::starter();
        let index = Index::build(Arc::new(Analyzer::starter()), &kb);
        (kb, index)
    }

    #[test]
    fn canonical_questions_find_their_entry() {
        let (kb, index) = index();
        let mut scratch = Scratch::default();
        let found = kb
            .entries
            .iter()
            .enumerate()
            .filter(|(number, entry)| {
                index
                    .search(&entry.question, 3, &|_| true, &mut scratch)
                    .first()
                    .map(|hit| hit.entry)
                    == Some(*number)
            })
            .count();
        assert!(
            found * 100 >= kb.entries.len() * 97,
            "{found} of {}",
            kb.entries.len()
        );
    }

    #[test]
    fn held_out_variants_still_find_most_entries() {
        let kb = KnowledgeBase::starter();
        let index = Index::build_without(Arc::new(Analyzer::starter()), &kb, &|_, variant| {
            variant == 0
        });
        let mut scratch = Scratch::default();
        let (mut total, mut found) = (0, 0);
        for (number, entry) in kb.entries.iter().enumerate() {
            let Some(variant) = entry.variants.first() else {
                continue;
            };
            total += 1;
            if index
                .search(variant, 1, &|_| true, &mut scratch)
                .first()
                .map(|hit| hit.entry)
                == Some(number)
            {
                found += 1;
            }
        }
        // The first variant is often the terse keyword form ("租房提取公积金条件"): hard.
        assert!(found * 100 >= total * 55, "{found} of {total}");
    }

    #[test]
    fn nothing_known_finds_nothing_and_filters_apply() {
        let (kb, index) = index();
        let mut scratch = Scratch::default();
        assert!(
            index
                .search("？？？", 5, &|_| true, &mut scratch)
                .is_empty()
        );
        let hits = index.search(
            "租房提取公积金",
            5,
            &|entry| kb.entries[entry].id != "hpf-001",
            &mut scratch,
        );
        assert!(hits.iter().all(|hit| kb.entries[hit.entry].id != "hpf-001"));
        assert!(!hits.is_empty());
    }

    #[test]
    fn the_baseline_ranks_entries() {
        let kb = KnowledgeBase::starter();
        let baseline = Baseline::build(&kb);
        let hits = baseline.search(&kb.entries[0].question, 3);
        assert!(hits.iter().any(|hit| hit.0 == 0), "{hits:?}");
    }
}
