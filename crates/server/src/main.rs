//! `bianmin`: the command-line entry point.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use bianmin_server::auth::personas::PERSONAS;
use bianmin_server::config::{Config, LogFormat};
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Bianmin 便民: a bank's platform connecting citizens to government services and instant credit.
#[derive(Debug, Parser)]
#[command(name = "bianmin", version, about, long_about = None)]
struct Cli {
    /// TOML configuration file (default: ./bianmin.toml if present).
    #[arg(long, global = true, env = "BIANMIN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (production mode: development sign-in off unless configured).
    Serve(RunArgs),
    /// Run the full demo: server, demo identities and web front-ends, with readable logs, and
    /// (once per data directory) a year of cockpit history.
    Demo(DemoArgs),
    /// Apply database migrations and exit.
    Migrate {
        /// Only list migrations and whether each is applied.
        #[arg(long)]
        status: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Inspect configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Key management: status, rotation, rewrap, retirement (each audited).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Personal data operations.
    #[command(subcommand)]
    Person(PersonCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// 闪电贷 Lightning Loan tools: what-if simulation of a line, scorecard training.
    #[command(subcommand)]
    Lending(LendingCommand),
    /// 智能客服 knowledge base: import, export, and evaluate the answering.
    #[command(subcommand)]
    Kb(KbCommand),
    /// Run the simulated government agencies as a separate process (development only).
    Govsim {
        /// IP address the agencies listen on, each on its own free port [default: 127.0.0.1].
        #[arg(long)]
        listen: Option<std::net::IpAddr>,
        /// Where to write the registry (agencies, keys, base URLs, access rights) that a
        /// server then loads with `exchange.registry_file`.
        #[arg(long)]
        registry_out: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
enum LendingCommand {
    /// Replay a scenario of draws and repayments (JSON) on a fresh line and print the statements.
    Simulate {
        /// The scenario file (see docs/lending.md).
        scenario: PathBuf,
    },
    /// Fit a scorecard (binning, WOE, IV, logistic regression, points) on a CSV file.
    Train {
        /// CSV file with a header row.
        #[arg(long)]
        data: PathBuf,
        /// The target column: 1/0, true/false or bad/good (1, true, bad = default).
        #[arg(long)]
        target: String,
        /// Column whose values `train`/`test` fix the split (otherwise a seeded random split).
        #[arg(long)]
        split_column: Option<String>,
        /// Share of rows held out for validation when there is no split column.
        #[arg(long, default_value_t = 0.3)]
        holdout: f64,
        /// Seed of the random split.
        #[arg(long, default_value_t = 20_261_129)]
        seed: u64,
        /// Version written into the model.
        #[arg(long, default_value = "csv-1")]
        model_version: String,
        /// Where to write the model (JSON); not written when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum KbCommand {
    /// Import FAQ entries from JSONL, one object per line (`id`, `question`, `variants`,
    /// `answer`, `department`, `tags`, optional `source`, `effective_from`, `effective_to`,
    /// `demo`): new ids are created, changed entries get a new version; every line is checked
    /// first and nothing is saved if one is wrong.
    Import {
        /// The JSONL file.
        file: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Write the knowledge base as JSONL (to standard output, or `--out FILE`).
    Export {
        /// Where to write it.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Ask the knowledge base the questions of an evaluation file (JSONL lines
    /// `{"question": "...", "expected_id": "..." | null}`; the shipped set without FILE) and print
    /// top-1 accuracy, MRR@10, the wrong-answer rate and the unanswered detection, next to a
    /// plain BM25 baseline computed in the same run.
    Eval {
        /// The evaluation file.
        file: Option<PathBuf>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Key versions, which is current, and how many data keys each still wraps.
    Status(DataArgs),
    /// Add a key-encryption key and make it current (then distribute the key file and rewrap).
    Rotate(DataArgs),
    /// Rewrap every data key to the current key-encryption key (no field is re-encrypted).
    Rewrap {
        /// Data keys per transaction.
        #[arg(long, default_value_t = 500)]
        batch: u32,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Stop decrypting with versions below N (refused while data keys still use them).
    Retire {
        /// Lowest version that stays usable.
        #[arg(long)]
        below: u32,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
enum PersonCommand {
    /// Erase a person by destroying their data key (crypto-shredding); audited.
    Erase {
        /// Person id (UUID).
        id: uuid::Uuid,
        /// Case or ticket reference recorded in the audit log (never personal data).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the HMAC-SM3 chain; exits non-zero and names the first broken entry if any.
    Verify(DataArgs),
    /// Verify the platform's exchange message log: every record against its signature or
    /// seal, and every seal still holding all its records; exits non-zero and names the
    /// first problems if any.
    ExchangeLog(DataArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the configuration in force as TOML, secrets masked.
    Show(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Debug, Args)]
struct DemoArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Days of generated cockpit history ending today, written once (0: none).
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(0..=730))]
    history_days: u32,
    /// People (and so events) in that history relative to the demo's size: 1.0 is about
    /// 120,000 people and 2.5 million events a year.
    #[arg(long, default_value_t = 1.0)]
    history_scale: f64,
}

#[derive(Debug, Args)]
struct DataArgs {
    /// Directory for the SQLite database and local keys [default: ./data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl DataArgs {
    fn apply(&self, config: &mut Config) {
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
    }
}

impl RunArgs {
    fn apply(&self, config: &mut Config) {
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        self.data.apply(config);
    }
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_env("BIANMIN_LOG")
        .unwrap_or_else(|_| EnvFilter::new(&config.log.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Pretty => builder.compact().init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    match cli.command {
        Command::Serve(args) => {
            args.apply(&mut config);
            init_logging(&config);
            run(config, None).await
        }
        Command::Demo(args) => {
            args.run.apply(&mut config);
            config.auth.dev_login = true;
            if config.exchange.registry_file.is_none() {
                config.exchange.govsim = true;
            }
            config.auth.secure_cookies = false;
            if std::env::var_os("BIANMIN_LOG__FORMAT").is_none() {
                config.log.format = LogFormat::Pretty;
            }
            init_logging(&config);
            if !(args.history_scale > 0.0 && args.history_scale <= 20.0) {
                anyhow::bail!("--history-scale must be more than 0 and at most 20");
            }
            let history =
                (args.history_days > 0).then_some((args.history_days, args.history_scale));
            run(config, Some(history)).await
        }
        Command::Migrate { status, data } => {
            data.apply(&mut config);
            init_logging(&config);
            migrate(&config, status).await
        }
        Command::Config(ConfigCommand::Show(args)) => {
            args.apply(&mut config);
            print!("{}", config.to_masked_toml()?);
            Ok(())
        }
        Command::Keys(command) => {
            init_logging(&config);
            keys(config, command).await
        }
        Command::Person(PersonCommand::Erase { id, reason, data }) => {
            data.apply(&mut config);
            init_logging(&config);
            let state = bianmin_server::build_default_state(config).await?;
            let actor = bianmin_server::keys::cli_actor();
            state
                .erase_person(id, &actor, &reason)
                .await
                .with_context(|| format!("cannot erase person {id}"))?;
            println!(
                "person {id} erased: their consents are ended, their data key is destroyed; both are in the audit log"
            );
            Ok(())
        }
        Command::Lending(command) => lending(command),
        Command::Kb(command) => kb(config, command).await,
        Command::Govsim {
            listen,
            registry_out,
            data,
        } => {
            data.apply(&mut config);
            if let Some(ip) = listen {
                config.govsim.bind = ip;
            }
            init_logging(&config);
            govsim(config, &registry_out).await
        }
        Command::Audit(AuditCommand::Verify(data)) => {
            data.apply(&mut config);
            init_logging(&config);
            let store = bianmin_server::open_store(&config).await?;
            let (keyring, _) = bianmin_server::keys::load(&config, chrono::Utc::now())?;
            let report = store.verify_audit(keyring.audit_key()).await?;
            store.close().await;
            match report.first_broken {
                None => {
                    println!(
                        "audit log intact: {} entries verified",
                        report.entries_checked
                    );
                    Ok(())
                }
                Some(broken) => {
                    anyhow::bail!(
                        "audit log BROKEN at entry {}: {}",
                        broken.seq,
                        broken.reason
                    )
                }
            }
        }
        Command::Audit(AuditCommand::ExchangeLog(data)) => {
            data.apply(&mut config);
            init_logging(&config);
            let store = bianmin_server::open_store(&config).await?;
            let keys = bianmin_server::exchange::platform_keys(&config)?;
            let key = keys.sign.verifying_key();
            let log = bianmin_exchange::StoreMessageLog::new(
                store.clone(),
                keys,
                std::sync::Arc::new(bianmin_core::SystemClock),
            );
            // Seals older than the retention period may have lost records to the daily purge.
            let days = bianmin_server::exchange::log_retention_days(&config);
            let retained_since = chrono::Utc::now() - chrono::TimeDelta::days(i64::from(days));
            let report = log.verify_all(&key, Some(retained_since)).await?;
            store.close().await;
            if report.intact() {
                println!(
                    "exchange log intact: {} records and {} seals verified",
                    report.records_checked, report.seals_checked
                );
                return Ok(());
            }
            for (seq, message_id) in &report.bad_records_listed {
                eprintln!("record {seq} (message {message_id}): does not verify");
            }
            for (seal, listed, present) in &report.incomplete_seals_listed {
                eprintln!("seal {seal}: lists {listed} records, {present} remain");
            }
            anyhow::bail!(
                "exchange log BROKEN: {} of {} records do not verify, {} of {} seals miss records",
                report.bad_records,
                report.records_checked,
                report.incomplete_seals,
                report.seals_checked
            )
        }
    }
}

async fn kb(mut config: Config, command: KbCommand) -> anyhow::Result<()> {
    use bianmin_server::assistant::kb;
    let data = match &command {
        KbCommand::Import { data, .. }
        | KbCommand::Export { data, .. }
        | KbCommand::Eval { data, .. } => data,
    };
    data.apply(&mut config);
    init_logging(&config);
    let store = bianmin_server::open_store(&config).await?;
    let now = chrono::Utc::now();
    let outcome = async {
        match command {
            KbCommand::Import { file, .. } => {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let entries = bianmin_assistant::kb::parse_jsonl(&text)
                    .with_context(|| format!("{} is not valid", file.display()))?;
                let mut ids = std::collections::HashSet::new();
                if let Some(twice) = entries.iter().find(|entry| !ids.insert(entry.id.as_str())) {
                    anyhow::bail!("{}: entry id {} appears twice", file.display(), twice.id);
                }
                kb::seed_if_empty(&store, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                let report = kb::import(&store, &entries, &bianmin_server::keys::cli_actor(), now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!(
                    "imported {}: {} created, {} updated, {} unchanged (a running server picks the changes up when restarted)",
                    file.display(),
                    report.created,
                    report.updated,
                    report.unchanged
                );
            }
            KbCommand::Export { out, .. } => {
                kb::seed_if_empty(&store, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                let text = kb::export(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                match out {
                    Some(path) => std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?,
                    None => {
                        use std::io::Write;
                        // A closed pipe (`… | head`) is the reader's choice, not an error.
                        match std::io::stdout().write_all(text.as_bytes()) {
                            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
                            other => other.context("cannot write to standard output")?,
                        }
                    }
                }
            }
            KbCommand::Eval { file, json, .. } => {
                let text = match &file {
                    Some(path) => std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                    None => bianmin_assistant::kb::STARTER_EVAL.to_owned(),
                };
                let cases = bianmin_assistant::eval::parse_cases(&text)?;
                kb::seed_if_empty(&store, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                let entries = kb::load_entries(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                let knowledge = bianmin_assistant::KnowledgeBase {
                    entries,
                    policies: bianmin_assistant::KnowledgeBase::starter().policies,
                };
                let started = std::time::Instant::now();
                let assistant = bianmin_assistant::Assistant::new(
                    std::sync::Arc::new(bianmin_assistant::text::Analyzer::starter()),
                    knowledge,
                );
                let built = started.elapsed();
                let report = bianmin_assistant::eval::evaluate(&assistant, &cases);
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    println!(
                        "knowledge base: {} entries, index and confidence model built in {} ms",
                        assistant.kb().entries.len(),
                        built.as_millis()
                    );
                    print!("{}", report.table());
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    outcome
}

fn lending(command: LendingCommand) -> anyhow::Result<()> {
    match command {
        LendingCommand::Simulate { scenario } => {
            let text = std::fs::read_to_string(&scenario)
                .with_context(|| format!("cannot read {}", scenario.display()))?;
            let report = bianmin_lending::simulate::run(&text)?;
            print!("{report}");
        }
        LendingCommand::Train {
            data,
            target,
            split_column,
            holdout,
            seed,
            model_version,
            out,
        } => {
            let report =
                bianmin_lending::train::train_csv(&bianmin_lending::train::CsvTrainOptions {
                    data,
                    target,
                    split_column,
                    holdout_fraction: holdout,
                    seed,
                    model_version,
                    out,
                })?;
            print!("{report}");
        }
    }
    Ok(())
}

async fn govsim(config: Config, registry_out: &std::path::Path) -> anyhow::Result<()> {
    use bianmin_server::exchange;
    let keys = exchange::platform_keys(&config)?;
    let platform = keys.id.clone();
    let clock = std::sync::Arc::new(bianmin_core::SystemClock);
    let running = exchange::start_govsim(&config, &keys, clock).await?;
    let registry = running.registry();
    let tmp = registry_out.with_extension("tmp");
    std::fs::write(&tmp, registry.to_toml_string())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, registry_out)
        .with_context(|| format!("cannot write {}", registry_out.display()))?;
    println!(
        "Simulated agencies are listening (seed {}, {} residents):",
        config.govsim.seed, config.govsim.size
    );
    for subsystem in registry.subsystems().filter(|s| s.id != platform) {
        println!(
            "  {:<40} {}",
            subsystem.id.to_string(),
            subsystem.base_url.as_deref().unwrap_or("-")
        );
    }
    println!(
        "Registry written to {}; start the server with BIANMIN_EXCHANGE__REGISTRY_FILE={}",
        registry_out.display(),
        registry_out.display()
    );
    bianmin_server::shutdown_signal().await;
    running.shutdown().await;
    Ok(())
}

async fn keys(mut config: Config, command: KeysCommand) -> anyhow::Result<()> {
    use bianmin_server::keys;
    let data = match &command {
        KeysCommand::Status(d) | KeysCommand::Rotate(d) => d,
        KeysCommand::Rewrap { data, .. } | KeysCommand::Retire { data, .. } => data,
    };
    data.apply(&mut config);
    let now = chrono::Utc::now();
    let store = bianmin_server::open_store(&config).await?;
    let (mut keyring, source) = keys::load(&config, now)?;
    match command {
        KeysCommand::Status(_) => print!("{}", keys::status(&keyring, &source, &store).await?),
        KeysCommand::Rotate(_) => {
            let version = keys::rotate(&mut keyring, &source, &store, now).await?;
            println!("key-encryption key version {version} is now current.");
            println!(
                "Next: distribute the key file to every instance, restart them, then run `bianmin keys rewrap`."
            );
        }
        KeysCommand::Rewrap { batch, .. } => {
            let state = bianmin_server::assemble_state(
                config,
                store.clone(),
                std::sync::Arc::new(bianmin_core::SystemClock),
            )
            .await?;
            let report = state
                .vault()
                .rewrap_all(batch, &keys::cli_actor(), now)
                .await
                .context("rewrap failed")?;
            println!(
                "rewrapped {} data keys to version {}; {} were already current; {} failed",
                report.rewrapped,
                report.kek_version,
                report.already_current,
                report.failed.len()
            );
        }
        KeysCommand::Retire { below, .. } => {
            keys::retire(&mut keyring, &source, &store, below, now).await?;
            println!("versions below {below} retired: they no longer decrypt anything.");
            println!(
                "Destroy them from every copy of the key file and its backups to complete the procedure."
            );
        }
    }
    store.close().await;
    Ok(())
}

/// Runs the server; `demo` is `Some` for the demo, with the days and scale of cockpit history
/// to write if any.
async fn run(config: Config, demo: Option<Option<(u32, f64)>>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let state = bianmin_server::build_default_state(config).await?;
    if let Some(Some((days, scale))) = demo {
        load_history(&state, days, scale).await?;
    }
    if demo.is_some() {
        bianmin_server::supply::demo::seed(&state)
            .await
            .map_err(|error| anyhow::anyhow!("cannot set up the supply-chain demo: {error:?}"))?;
    }
    tracing::info!(%address, database = state.store().backend().name(), "listening");
    if demo.is_some() {
        print_demo_banner(address);
    }
    bianmin_server::serve(listener, state, bianmin_server::shutdown_signal()).await
}

/// The demo's year of cockpit history, written once per data directory (seed fixed).
async fn load_history(
    state: &bianmin_server::app::AppState,
    days: u32,
    scale: f64,
) -> anyhow::Result<()> {
    let now = state.clock().now();
    let today = (now + chrono::TimeDelta::hours(8)).date_naive();
    let config = bianmin_insight::history::HistoryConfig {
        seed: DEMO_HISTORY_SEED,
        end: today,
        days,
        scale,
    };
    println!("驾驶舱 Cockpit: writing {days} days of generated history (once) …");
    match bianmin_server::insight::load_history(state, &config, now)
        .await
        .map_err(|error| anyhow::anyhow!("cannot write the cockpit history: {error:?}"))?
    {
        Some(load) => println!(
            "驾驶舱 Cockpit: {} events of {} people as {} cells in {:.1} s (generated and folded in {:.1} s).",
            load.facts,
            load.people,
            load.cells,
            load.fold_seconds + load.write_seconds,
            load.fold_seconds
        ),
        None => println!("驾驶舱 Cockpit: the history is already there."),
    }
    Ok(())
}

/// The demo history's seed: the same year on every machine.
const DEMO_HISTORY_SEED: u64 = 20_261_129;

fn print_demo_banner(address: SocketAddr) {
    let base = format!("http://{address}");
    println!("\nBianmin 便民服务平台 demo is running. Stop it with Ctrl-C.\n");
    println!("  登录 Sign in       {base}/");
    println!("  市民 H5 Citizen    {base}/citizen/");
    println!("  驾驶舱 Cockpit     {base}/cockpit/");
    println!("  机构工作台 B-end   {base}/institution/");
    println!("  银行控制台 Console {base}/console/");
    println!("  API 文档 API docs  {base}/api/docs");
    println!("\nDemo identities (click one on the sign-in page):");
    for p in &PERSONAS {
        println!(
            "  {:<16} {} {}  {}",
            p.id,
            p.role.label(),
            p.name,
            p.description
        );
    }
    println!();
}

async fn migrate(config: &Config, status_only: bool) -> anyhow::Result<()> {
    let url = config.effective_database_url();
    let options = bianmin_store::StoreOptions::default();
    let store = bianmin_store::Store::connect(&url, &options).await?;
    if !status_only {
        store.migrate().await?;
    }
    for (version, description, applied) in store.migration_status().await? {
        let state = if applied { "applied" } else { "pending" };
        println!("{version:>5}  {state:<8} {description}");
    }
    store.close().await;
    Ok(())
}
