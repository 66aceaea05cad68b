//! `bianmin-bench`: runs benchmark suites and prints their figures as a table or, with `--json`,
//! as one JSON object per line. Benchmarks report; they never fail on a number. The exit status
//! is non-zero only when a suite could not run at all.

mod client;
mod figure;
mod load;
mod report;
mod scratch;
mod servers;
mod suites;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clap::builder::{PossibleValue, PossibleValuesParser};

use crate::figure::{Figure, Figures};
use crate::suites::{LendingPhase, SUITES, Settings, Suite};

/// Runs every suite.
const ALL: &str = "all";
/// Lists the suites instead of running them.
const LIST: &str = "list";

/// Bianmin benchmark runner: prints figures and their ratios against baselines measured in the
/// same run.
#[derive(Debug, Parser)]
#[command(name = "bianmin-bench", version, about)]
struct Cli {
    /// Suites to run; `all` runs every suite, `list` shows them.
    #[arg(required = true, value_name = "SUITE", value_parser = suite_names())]
    suites: Vec<String>,
    /// Print one JSON object per figure and line instead of a table.
    #[arg(long)]
    json: bool,
    /// Seconds measured per target.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = positive_seconds)]
    duration: Duration,
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Seconds of unrecorded load before each measurement.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = seconds)]
    warmup: Duration,
    /// Run the application on this PostgreSQL database (`postgres://…`) instead of a SQLite
    /// file in a temporary directory.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Credit lines the `lending` suite seeds and accrues overnight (fewer for a quick run;
    /// `accrual_1m_s` is then scaled linearly).
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    accrual_lines: u64,
    /// Which measurements of the `lending` suite to run (comma-separated; all by default).
    #[arg(long, value_name = "PHASES", value_enum, value_delimiter = ',', default_values_t = LendingPhase::ALL)]
    lending_phases: Vec<LendingPhase>,
}

fn suite_names() -> PossibleValuesParser {
    let suites = SUITES
        .iter()
        .map(|s| PossibleValue::new(s.name).help(s.about));
    PossibleValuesParser::new(suites.chain([
        PossibleValue::new(ALL).help("every suite above"),
        PossibleValue::new(LIST).help("list the suites and exit"),
    ]))
}

fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is not a duration"))
}

fn positive_seconds(text: &str) -> Result<Duration, String> {
    match seconds(text)? {
        Duration::ZERO => Err("must be more than zero".into()),
        duration => Ok(duration),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    if cli.suites.iter().any(|s| s == LIST) {
        for suite in SUITES {
            println!("{:<14} {}", suite.name, suite.about);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let settings = Settings {
        duration: cli.duration,
        warmup: cli.warmup,
        connections: usize::try_from(cli.connections)?,
        database_url: cli.database_url,
        accrual_lines: cli.accrual_lines,
        lending_phases: cli.lending_phases,
    };
    let header = header(&settings);
    // With --json, stdout carries only JSON lines.
    if cli.json {
        eprintln!("{header}");
    } else {
        println!("{header}");
    }

    let mut stdout = std::io::stdout().lock();
    let mut measured: Vec<Figure> = Vec::new();
    let mut failures = 0;
    for suite in selected(&cli.suites) {
        let mut figures = Figures::new(suite.name);
        if let Err(error) = (suite.run)(&settings, &mut figures).await {
            eprintln!("{}: could not finish: {error:#}", suite.name);
            failures += 1;
        }
        let figures = figures.into_vec();
        if cli.json {
            report::write_json_lines(&mut stdout, &figures)?;
            stdout.flush()?;
        }
        measured.extend(figures);
    }
    if !cli.json {
        report::write_table(&mut stdout, &measured)?;
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The suites named on the command line, `all` expanded, each once, in the order named.
fn selected(names: &[String]) -> Vec<&'static Suite> {
    let mut chosen: Vec<&'static Suite> = Vec::new();
    for name in names {
        let matching: Vec<&'static Suite> = if name == ALL {
            SUITES.iter().collect()
        } else {
            suites::find(name).into_iter().collect()
        };
        for suite in matching {
            if !chosen.iter().any(|c| c.name == suite.name) {
                chosen.push(suite);
            }
        }
    }
    chosen
}

/// One line saying what the figures were measured on.
fn header(settings: &Settings) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let database = match settings.database_url.as_deref() {
        // Only the scheme: the rest of the URL may carry a password.
        Some(url) => format!("{} (--database-url)", url.split(':').next().unwrap_or(url)),
        None => "sqlite (temporary directory)".into(),
    };
    format!(
        "bianmin-bench: {cores} cores, {} s measured after {} s warm-up per target, {} connections, \
         database {database}; load generator and servers share these cores in one process, so \
         compare ratios, not absolute numbers",
        settings.duration.as_secs_f64(),
        settings.warmup.as_secs_f64(),
        settings.connections,
    )
}
