//! The signals of automated behaviour, each computed from one subject's window.
//!
//! Every signal gives a strength between 0 and 1 and a sentence in Simplified Chinese for the
//! operators' console. The sentences never quote a target: targets are resident ids and plate
//! numbers, which must not reach logs.

use std::collections::HashSet;

use serde::Serialize;

use super::{Outcome, Seen};

/// A kind of evidence of automation, with a stable code for logs, metrics and the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Targets that are neighbours of each other: sequential ids or plates, or many sharing a
    /// long prefix.
    Enumeration,
    /// More distinct targets than a person looks up for themselves and their family.
    Breadth,
    /// Requests at machine-regular intervals, or faster than a person taps.
    RegularTiming,
    /// Most requests find nothing or are refused.
    ErrorRatio,
    /// The client says it is a tool: automation user agent, `navigator.webdriver`, no
    /// `Accept-Language`, or no signature where one is required.
    Automation,
}

impl Signal {
    /// The stable code, e.g. `"enumeration"`, as serialised.
    pub fn code(self) -> &'static str {
        match self {
            Self::Enumeration => "enumeration",
            Self::Breadth => "breadth",
            Self::RegularTiming => "regular_timing",
            Self::ErrorRatio => "error_ratio",
            Self::Automation => "automation",
        }
    }
}

/// One signal found in a window, before weighting.
pub(super) struct Finding {
    pub(super) signal: Signal,
    /// Between 0 and 1.
    pub(super) strength: f64,
    pub(super) detail: String,
}

/// Size of a group of neighbouring targets that suggests enumeration. A person's slips make
/// small groups around each of their own identifiers: a plate and two typos of it are three.
const ENUMERATION_GROUP_FROM: usize = 4;
/// Group size at which the enumeration signal is at full strength.
const ENUMERATION_GROUP_FULL: usize = 8;
/// Longest run of differing characters for two targets to count as neighbours.
const NEIGHBOUR_RUN: usize = 4;
/// Shortest target considered for enumeration: shorter ones are too dense to mean anything.
const SHORTEST_ENUMERABLE: usize = 5;

/// Distinct targets a person plausibly looks up: their own id and plate and a few of their
/// family's.
const PLAUSIBLE_TARGETS: usize = 5;
/// Distinct targets at which the breadth signal is at full strength.
const BREADTH_FULL: usize = 15;

/// Requests needed before timing and error ratio mean anything.
const REQUESTS_FOR_STATISTICS: usize = 8;
/// Most recent requests whose intervals are examined.
const TIMING_SAMPLE: usize = 16;
/// Coefficient of variation at or below which intervals are machine-regular; people vary by
/// 30% and more.
const REGULAR_CV: f64 = 0.1;
/// Coefficient of variation from which timing no longer counts at all.
const IRREGULAR_CV: f64 = 0.2;
/// Mean interval under which requests come faster than a person can tap and read a result.
const FASTER_THAN_HUMAN_MS: f64 = 400.0;

/// Error share above which the error ratio signal starts, and where it is at full strength.
const ERROR_SHARE_FROM: f64 = 0.5;
const ERROR_SHARE_FULL: f64 = 0.8;

/// All signals found in `window`, oldest observation first.
pub(super) fn findings(window: &[Seen], window_minutes: i64) -> Vec<Finding> {
    let targets = distinct_targets(window);
    [
        enumeration(&targets, window_minutes),
        breadth(&targets, window_minutes),
        regular_timing(window),
        error_ratio(window),
        automation(window),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn distinct_targets(window: &[Seen]) -> Vec<&str> {
    let mut seen = HashSet::new();
    window
        .iter()
        .filter_map(|observation| observation.target.as_deref())
        .filter(|target| seen.insert(*target))
        .collect()
}

fn ramp(value: f64, from: f64, full: f64) -> f64 {
    ((value - from) / (full - from)).clamp(0.0, 1.0)
}

fn enumeration(targets: &[&str], window_minutes: i64) -> Option<Finding> {
    if targets.len() < ENUMERATION_GROUP_FROM {
        return None;
    }
    let characters: Vec<Vec<char>> = targets.iter().map(|t| t.chars().collect()).collect();
    // Groups are the connected parts of the neighbour relation (union-find): a walk through
    // sequential ids is one group however long, while slips around a person's own plate and
    // own id stay two small ones.
    let mut parent: Vec<usize> = (0..characters.len()).collect();
    fn root(parent: &mut [usize], mut node: usize) -> usize {
        while parent[node] != node {
            parent[node] = parent[parent[node]];
            node = parent[node];
        }
        node
    }
    for i in 0..characters.len() {
        for j in i + 1..characters.len() {
            if are_neighbours(&characters[i], &characters[j]) {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                parent[a] = b;
            }
        }
    }
    let mut group_sizes = vec![0usize; characters.len()];
    for node in 0..characters.len() {
        group_sizes[root(&mut parent, node)] += 1;
    }
    let largest = group_sizes.into_iter().max().unwrap_or(0);
    // Strength starts one below the threshold so that reaching it already counts.
    let strength = ramp(
        largest as f64,
        (ENUMERATION_GROUP_FROM - 1) as f64,
        ENUMERATION_GROUP_FULL as f64,
    );
    (strength > 0.0).then(|| Finding {
        signal: Signal::Enumeration,
        strength,
        detail: format!(
            "{window_minutes} 分钟内查询的 {} 个不同标识中，有 {largest} 个彼此仅相差一小段字符或共享很长的前缀，疑似顺序遍历",
            targets.len()
        ),
    })
}

/// Whether two targets look like steps of one enumeration: same length, and either their
/// differences fit in one short run of ASCII letters and digits (川A12345 and 川A12346; two
/// resident ids that differ in the sequence number and check digit), or they share a prefix
/// of at least two thirds of their length (ids walking through birth dates).
fn are_neighbours(a: &[char], b: &[char]) -> bool {
    if a.len() != b.len() || a.len() < SHORTEST_ENUMERABLE || a == b {
        return false;
    }
    let differing = |i: &usize| a[*i] != b[*i];
    let (Some(first), Some(last)) = (
        (0..a.len()).find(differing),
        (0..a.len()).rev().find(differing),
    ) else {
        return false;
    };
    let short_run = last - first < NEIGHBOUR_RUN
        && (first..=last).all(|i| a[i].is_ascii_alphanumeric() && b[i].is_ascii_alphanumeric());
    let long_shared_prefix = first * 3 >= a.len() * 2;
    short_run || long_shared_prefix
}

fn breadth(targets: &[&str], window_minutes: i64) -> Option<Finding> {
    let strength = ramp(
        targets.len() as f64,
        PLAUSIBLE_TARGETS as f64,
        BREADTH_FULL as f64,
    );
    (strength > 0.0).then(|| Finding {
        signal: Signal::Breadth,
        strength,
        detail: format!(
            "{window_minutes} 分钟内查询了 {} 个不同标识（本人及家人通常不超过 {PLAUSIBLE_TARGETS} 个）",
            targets.len()
        ),
    })
}

fn regular_timing(window: &[Seen]) -> Option<Finding> {
    if window.len() < REQUESTS_FOR_STATISTICS {
        return None;
    }
    let recent = &window[window.len().saturating_sub(TIMING_SAMPLE)..];
    let intervals: Vec<f64> = recent
        .windows(2)
        .map(|pair| (pair[1].at - pair[0].at).num_milliseconds().max(0) as f64)
        .collect();
    let count = intervals.len() as f64;
    let mean = intervals.iter().sum::<f64>() / count;
    if mean < FASTER_THAN_HUMAN_MS {
        return Some(Finding {
            signal: Signal::RegularTiming,
            strength: 1.0,
            detail: format!(
                "最近 {} 次请求的平均间隔为 {mean:.0} 毫秒，快于人工操作",
                recent.len()
            ),
        });
    }
    let variance = intervals.iter().map(|i| (i - mean).powi(2)).sum::<f64>() / count;
    let variation = variance.sqrt() / mean;
    let strength = 1.0 - ramp(variation, REGULAR_CV, IRREGULAR_CV);
    (strength > 0.0).then(|| Finding {
        signal: Signal::RegularTiming,
        strength,
        detail: format!(
            "最近 {} 次请求的间隔几乎相同（平均 {:.1} 秒，变异系数 {variation:.2}），呈机器节律",
            recent.len(),
            mean / 1000.0
        ),
    })
}

fn error_ratio(window: &[Seen]) -> Option<Finding> {
    if window.len() < REQUESTS_FOR_STATISTICS {
        return None;
    }
    let failed = window
        .iter()
        .filter(|seen| matches!(seen.outcome, Outcome::NotFound | Outcome::Rejected))
        .count();
    let share = failed as f64 / window.len() as f64;
    let strength = ramp(share, ERROR_SHARE_FROM, ERROR_SHARE_FULL);
    (strength > 0.0).then(|| Finding {
        signal: Signal::ErrorRatio,
        strength,
        detail: format!(
            "最近 {} 次请求中有 {failed} 次查无结果或被拒绝（{:.0}%）",
            window.len(),
            share * 100.0
        ),
    })
}

/// What one request's client gave away about itself, kept instead of the user agent string.
#[derive(Debug, Clone, Default)]
pub(super) struct ClientTells {
    /// The automation tool named by the user agent, or "无 User-Agent" when there was none.
    pub(super) tool: Option<&'static str>,
    pub(super) webdriver: bool,
    pub(super) no_accept_language: bool,
    pub(super) unsigned_where_required: bool,
}

/// Share of the automation weight each tell carries. A tool's user agent or webdriver is
/// strong evidence, a missing header weak; even all together stay within the automation
/// weight, so signatures alone (which a careful bot forges away, and a misconfigured app may
/// show) reach a challenge but never a block.
const TOOL_SHARE: f64 = 2.0 / 3.0;
const WEBDRIVER_SHARE: f64 = 2.0 / 3.0;
const NO_ACCEPT_LANGUAGE_SHARE: f64 = 1.0 / 6.0;
const UNSIGNED_SHARE: f64 = 1.0 / 3.0;

/// User-agent fragments (lowercase) of headless browsers, HTTP libraries and crawlers.
const AUTOMATION_AGENTS: &[(&str, &str)] = &[
    ("headlesschrome", "HeadlessChrome"),
    ("phantomjs", "PhantomJS"),
    ("selenium", "Selenium"),
    ("puppeteer", "Puppeteer"),
    ("playwright", "Playwright"),
    ("python-requests", "python-requests"),
    ("python-urllib", "Python-urllib"),
    ("python-httpx", "python-httpx"),
    ("aiohttp", "aiohttp"),
    ("scrapy", "Scrapy"),
    ("curl/", "curl"),
    ("wget", "Wget"),
    ("go-http-client", "Go-http-client"),
    ("java/", "Java"),
    ("apache-httpclient", "Apache-HttpClient"),
    ("node-fetch", "node-fetch"),
    ("axios/", "axios"),
    ("libwww-perl", "libwww-perl"),
    ("httpclient", "HttpClient"),
];

/// The tool a user agent names, if any. `okhttp` counts only without `app_marker`, the token
/// the bank's app adds to its user agent, since the app itself is built on okhttp.
pub(super) fn automation_tool(user_agent: Option<&str>, app_marker: &str) -> Option<&'static str> {
    let Some(user_agent) = user_agent.filter(|ua| !ua.trim().is_empty()) else {
        return Some("无 User-Agent");
    };
    let lowercase = user_agent.to_ascii_lowercase();
    if let Some((_, name)) = AUTOMATION_AGENTS
        .iter()
        .find(|(fragment, _)| lowercase.contains(fragment))
    {
        return Some(name);
    }
    let from_app = !app_marker.is_empty() && lowercase.contains(&app_marker.to_ascii_lowercase());
    (lowercase.contains("okhttp") && !from_app).then_some("okhttp（无应用标识）")
}

fn automation(window: &[Seen]) -> Option<Finding> {
    let mut tools: Vec<&str> = Vec::new();
    let mut tells = ClientTells::default();
    for seen in window {
        if let Some(tool) = seen.tells.tool.filter(|tool| !tools.contains(tool)) {
            tools.push(tool);
        }
        tells.webdriver |= seen.tells.webdriver;
        tells.no_accept_language |= seen.tells.no_accept_language;
        tells.unsigned_where_required |= seen.tells.unsigned_where_required;
    }
    let mut strength = 0.0;
    let mut parts = Vec::new();
    if !tools.is_empty() {
        strength += TOOL_SHARE;
        parts.push(format!(
            "User-Agent 显示为自动化工具（{}）",
            tools.join("、")
        ));
    }
    if tells.webdriver {
        strength += WEBDRIVER_SHARE;
        parts.push("浏览器报告 navigator.webdriver 为真".to_owned());
    }
    if tells.no_accept_language {
        strength += NO_ACCEPT_LANGUAGE_SHARE;
        parts.push("未发送 Accept-Language".to_owned());
    }
    if tells.unsigned_where_required {
        strength += UNSIGNED_SHARE;
        parts.push("要求签名的接口收到未签名请求".to_owned());
    }
    (!parts.is_empty()).then(|| Finding {
        signal: Signal::Automation,
        strength: f64::min(strength, 1.0),
        detail: format!("客户端特征：{}", parts.join("；")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neighbours(a: &str, b: &str) -> bool {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        are_neighbours(&a, &b)
    }

    #[test]
    fn sequential_plates_and_ids_are_neighbours() {
        assert!(neighbours("川A12345", "川A12346"));
        assert!(neighbours("川A12345", "川A12399"));
        assert!(neighbours("110101199003071234", "110101199003071257"));
        // Walking birth dates changes more than four characters but keeps a long prefix.
        assert!(neighbours("110101199003071234", "110101199003081231"));
    }

    #[test]
    fn unrelated_targets_are_not_neighbours() {
        assert!(!neighbours("川A12345", "川A88888"));
        assert!(!neighbours("川A12345", "川A12345"));
        assert!(
            !neighbours("川A12345", "渝A12345"),
            "a province is no ASCII run"
        );
        assert!(!neighbours("110101199003071234", "510104198512120021"));
        assert!(!neighbours("1234", "1235"), "too short to mean anything");
    }

    #[test]
    fn slips_around_own_identifiers_are_no_enumeration_but_a_walk_is() {
        let slips = [
            "川A12345",
            "川A12354",
            "川A12845",
            "510104198512120021",
            "510104198512120012",
            "510104198512120091",
        ];
        assert!(enumeration(&slips, 10).is_none());

        let walk: Vec<String> = (0..8).map(|n| format!("川A1{:04}", 2_000 + n)).collect();
        let walk: Vec<&str> = walk.iter().map(String::as_str).collect();
        let finding = enumeration(&walk, 10).unwrap();
        assert_eq!(finding.strength, 1.0);
        assert!(finding.detail.contains("有 8 个"), "{}", finding.detail);
        assert!(enumeration(&walk[..3], 10).is_none());
    }

    #[test]
    fn known_tools_are_named_and_browsers_are_not() {
        let marker = "BianminApp";
        assert_eq!(
            automation_tool(Some("python-requests/2.31.0"), marker),
            Some("python-requests")
        );
        assert_eq!(
            automation_tool(
                Some("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.0.0 Safari/537.36"),
                marker
            ),
            Some("HeadlessChrome")
        );
        assert_eq!(automation_tool(Some("curl/8.5.0"), marker), Some("curl"));
        assert_eq!(automation_tool(None, marker), Some("无 User-Agent"));
        assert_eq!(
            automation_tool(Some("okhttp/4.12.0"), marker),
            Some("okhttp（无应用标识）")
        );
        assert_eq!(
            automation_tool(Some("BianminApp/3.2 (Android 14) okhttp/4.12.0"), marker),
            None
        );
        assert_eq!(
            automation_tool(
                Some(
                    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47"
                ),
                marker
            ),
            None
        );
    }
}
