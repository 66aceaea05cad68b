//! Figures: the one thing a benchmark produces. A figure is a number with a unit and, where the
//! suite measured one in the same run, the baseline it should be read against.

use serde::Serialize;

/// One measured number. Serialises to exactly the documented JSON line:
/// `{"suite", "name", "value", "unit", "baseline", "ratio"}`, with `null` where there is no
/// baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// The suite that measured it, e.g. `http`.
    pub suite: &'static str,
    /// What was measured, dotted from general to specific, e.g. `healthz.p99_ms`.
    pub name: String,
    /// The measurement.
    pub value: f64,
    /// Unit of `value` and `baseline`, e.g. `req/s` or `ms`.
    pub unit: &'static str,
    /// The same quantity measured on the baseline in the same run.
    pub baseline: Option<f64>,
    /// `value / baseline`; absent when there is no baseline or it is zero.
    pub ratio: Option<f64>,
}

/// The figures of one suite, collected as it measures them so that a suite failing half-way
/// still reports what it had measured.
#[derive(Debug)]
pub struct Figures {
    suite: &'static str,
    recorded: Vec<Figure>,
}

impl Figures {
    /// An empty collection for `suite`.
    pub fn new(suite: &'static str) -> Self {
        Self {
            suite,
            recorded: Vec::new(),
        }
    }

    /// Records a figure that has no baseline.
    pub fn record(&mut self, name: impl Into<String>, value: f64, unit: &'static str) {
        self.push(name.into(), value, unit, None);
    }

    /// Records a figure together with the baseline it is compared against; the ratio is
    /// `value / baseline`, so for throughput below 1 means slower and for latency above 1 does.
    pub fn record_against(
        &mut self,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
        baseline: f64,
    ) {
        self.push(name.into(), value, unit, Some(baseline));
    }

    fn push(&mut self, name: String, value: f64, unit: &'static str, baseline: Option<f64>) {
        // A zero or non-finite baseline has no meaningful ratio; `null` says so honestly
        // where `inf` or `NaN` would not even be valid JSON.
        let ratio = baseline
            .filter(|b| *b != 0.0 && b.is_finite())
            .map(|b| value / b)
            .filter(|r| r.is_finite());
        self.recorded.push(Figure {
            suite: self.suite,
            name,
            value,
            unit,
            baseline,
            ratio,
        });
    }

    /// The figures, in the order they were recorded.
    pub fn into_vec(self) -> Vec<Figure> {
        self.recorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_serialises_to_the_documented_json_line() {
        let mut figures = Figures::new("http");
        figures.record("bare.rps", 1000.0, "req/s");
        figures.record_against("healthz.rps", 250.0, "req/s", 1000.0);
        let lines: Vec<String> = figures
            .into_vec()
            .iter()
            .map(|f| serde_json::to_string(f).expect("a figure always serialises"))
            .collect();
        assert_eq!(
            lines,
            [
                r#"{"suite":"http","name":"bare.rps","value":1000.0,"unit":"req/s","baseline":null,"ratio":null}"#,
                r#"{"suite":"http","name":"healthz.rps","value":250.0,"unit":"req/s","baseline":1000.0,"ratio":0.25}"#,
            ]
        );
    }

    #[test]
    fn a_zero_baseline_gives_no_ratio() {
        let mut figures = Figures::new("http");
        figures.record_against("me_db_read.rps", 10.0, "req/s", 0.0);
        let figure = &figures.into_vec()[0];
        assert_eq!(figure.baseline, Some(0.0));
        assert_eq!(figure.ratio, None);
    }
}
