//! Mining what people ask: hot topics over a time window (keywords counted per question,
//! compared with the window before), and clusters of unanswered questions with a
//! representative example each, from which the console creates an FAQ entry in one click.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::text::Analyzer;

/// A keyword and how often it was asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topic {
    /// The canonical keyword.
    pub keyword: String,
    /// Questions in the window that contain it.
    pub count: u32,
    /// Questions in the window before that contained it.
    pub previous: u32,
}

/// The `limit` keywords most asked in `window`, each with its count in `previous`.
pub fn hot_topics(
    analyzer: &Analyzer,
    window: &[String],
    previous: &[String],
    limit: usize,
) -> Vec<Topic> {
    let count = |questions: &[String]| {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for question in questions {
            for keyword in analyzer.keywords(question) {
                *counts.entry(keyword).or_default() += 1;
            }
        }
        counts
    };
    let now = count(window);
    let before = count(previous);
    let mut topics: Vec<Topic> = now
        .into_iter()
        .map(|(keyword, count)| Topic {
            previous: before.get(&keyword).copied().unwrap_or(0),
            keyword,
            count,
        })
        .collect();
    topics.sort_by(|left, right| {
        right
            .count
            .cmp(&left.count)
            .then_with(|| left.keyword.cmp(&right.keyword))
    });
    topics.truncate(limit);
    topics
}

/// Similar unanswered questions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// The question closest to all the others.
    pub representative: String,
    /// Up to five other examples.
    pub examples: Vec<String>,
    /// Questions in the cluster.
    pub size: usize,
    /// The cluster's most common keywords.
    pub keywords: Vec<String>,
}

/// Two questions at least this similar (cosine of word and bigram vectors) share a cluster.
const SIMILAR: f32 = 0.3;

/// Clusters `questions` (single-pass leader clustering on word and bigram vectors, then the
/// medoid as the representative), largest first; questions asked once alone are kept as
/// clusters of one at the end.
pub fn cluster_unanswered(analyzer: &Analyzer, questions: &[String], limit: usize) -> Vec<Cluster> {
    let vectors: Vec<HashMap<String, f32>> = questions
        .iter()
        .map(|question| {
            let analyzed = analyzer.analyze(question);
            let mut vector: HashMap<String, f32> = HashMap::new();
            for word in analyzed.words {
                *vector.entry(format!("w:{word}")).or_default() += 1.0;
            }
            for gram in analyzed.grams {
                *vector.entry(format!("g:{gram}")).or_default() += 0.5;
            }
            let norm = vector
                .values()
                .map(|v| v * v)
                .sum::<f32>()
                .sqrt()
                .max(f32::EPSILON);
            vector.values_mut().for_each(|v| *v /= norm);
            vector
        })
        .collect();
    let cosine = |a: &HashMap<String, f32>, b: &HashMap<String, f32>| -> f32 {
        let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
        small
            .iter()
            .filter_map(|(key, value)| large.get(key).map(|other| value * other))
            .sum()
    };
    let mut clusters: Vec<Vec<usize>> = Vec::new();
    for (number, vector) in vectors.iter().enumerate() {
        let best = clusters
            .iter()
            .enumerate()
            .map(|(cluster, members)| (cluster, cosine(vector, &vectors[members[0]])))
            .filter(|(_, similarity)| *similarity >= SIMILAR)
            .max_by(|left, right| left.1.total_cmp(&right.1));
        match best {
            Some((cluster, _)) => clusters[cluster].push(number),
            None => clusters.push(vec![number]),
        }
    }
    clusters.sort_by_key(|members| (std::cmp::Reverse(members.len()), members[0]));
    clusters
        .into_iter()
        .take(limit)
        .map(|members| {
            let medoid = *members
                .iter()
                .max_by(|left, right| {
                    let total = |one: usize| {
                        members
                            .iter()
                            .map(|other| cosine(&vectors[one], &vectors[*other]))
                            .sum::<f32>()
                    };
                    total(**left)
                        .total_cmp(&total(**right))
                        .then(right.cmp(left))
                })
                .expect("a cluster has members");
            let mut seen = HashSet::new();
            let examples: Vec<String> = members
                .iter()
                .filter(|member| **member != medoid)
                .map(|member| questions[*member].clone())
                .filter(|question| seen.insert(question.clone()) && *question != questions[medoid])
                .take(5)
                .collect();
            let member_questions: Vec<String> = members
                .iter()
                .map(|member| questions[*member].clone())
                .collect();
            let keywords = hot_topics(analyzer, &member_questions, &[], 3)
                .into_iter()
                .map(|topic| topic.keyword)
                .collect();
            Cluster {
                representative: questions[medoid].clone(),
                examples,
                size: members.len(),
                keywords,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn hot_topics_count_questions_and_compare_windows() {
        let analyzer = Analyzer::starter();
        let window = strings(&[
            "公积金怎么提取",
            "住房公积金租房提取",
            "违章罚款在哪交",
            "公积金余额",
        ]);
        let previous = strings(&["公积金贷款"]);
        let topics = hot_topics(&analyzer, &window, &previous, 3);
        assert_eq!(topics[0].keyword, "公积金");
        assert_eq!(topics[0].count, 3);
        assert_eq!(topics[0].previous, 1);
        assert_eq!(topics[1].keyword, "提取");
    }

    #[test]
    fn unanswered_questions_cluster_around_a_representative() {
        let analyzer = Analyzer::starter();
        let questions = strings(&[
            "电动自行车怎么上牌",
            "今天天气怎么样",
            "电动自行车上牌要带什么",
            "电动自行车上牌在哪里办",
            "明天天气如何",
            "护照怎么办",
        ]);
        let clusters = cluster_unanswered(&analyzer, &questions, 10);
        assert_eq!(clusters[0].size, 3, "{clusters:?}");
        assert!(clusters[0].representative.contains("上牌"));
        assert_eq!(clusters[0].examples.len(), 2);
        assert!(
            clusters[0].keywords.contains(&"上牌".to_owned()),
            "{clusters:?}"
        );
        assert_eq!(
            clusters.iter().map(|cluster| cluster.size).sum::<usize>(),
            questions.len()
        );
    }
}
