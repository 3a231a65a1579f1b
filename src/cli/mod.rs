//! The command line. Parses flags into plain options, then calls the
//! library; errors become messages on stderr and exit codes here, and only
//! here.

mod scan;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::detect::Engine;
use crate::rules::{self, RuleErrors, RuleFile};

#[derive(Parser, Debug)]
#[command(
    name = "zaslon",
    version,
    about = "Privacy proxy for Russian personal data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scan files, directories (recursively) or `-` (standard input) for
    /// personal data.
    Scan(ScanArgs),
    /// Check or test rule files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Run the reverse proxy.
    Serve(ServeArgs),
    /// Run a small leaky clinic site on loopback with Zaslon in front.
    Demo {
        /// Where Zaslon listens for the browser.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The admin listener (/metrics).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9090")]
        admin: std::net::SocketAddr,
        /// Where to write the demo's config, ledger and audit log (default:
        /// a new folder under the system's temporary directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Check a serve config.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The config file (YAML).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address for clients (overrides the config).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// One upstream for every request (overrides the config's routes).
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, value_name = "ADDR")]
    admin: Option<std::net::SocketAddr>,
    /// Rule files or directories (default: the built-in rules).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Run every policy in report mode: count and audit, change nothing.
    #[arg(long)]
    report: bool,
    /// Forward without inspecting anything (a bare proxy), every body
    /// counted as uninspected. For measuring and emergencies.
    #[arg(long)]
    no_inspect: bool,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate a config with its rule and policy files.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Rule files or directories (default: the built-in rules).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Print the raw values found. Off by default: output is often pasted
    /// into tickets and chats.
    #[arg(long)]
    show_values: bool,
    /// Files, directories or `-`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Jsonl,
}

#[derive(Subcommand, Debug)]
enum RulesCommand {
    /// Validate rule files; errors as file:line:column: message.
    Check {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Run the examples inside rule files.
    Test {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Rules { command } => match command {
            RulesCommand::Check { paths } => rules_check(&paths),
            RulesCommand::Test { paths } => rules_test(&paths),
        },
        Command::Serve(a) => serve(a),
        Command::Demo { listen, admin, dir } => {
            init_log();
            match crate::demo::run(listen, admin, dir) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("zaslon demo: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Config {
            command: ConfigCommand::Check { file },
        } => config_check(file),
    }
}

fn source(config: Option<PathBuf>, a: Option<&ServeArgs>) -> crate::proxy::Source {
    let overrides = match a {
        Some(a) => crate::proxy::Overrides {
            listen: a.listen,
            upstream: a.upstream.clone(),
            admin: a.admin,
            rules: a.rules.clone(),
            report_only: a.report,
            no_inspect: a.no_inspect,
        },
        None => Default::default(),
    };
    crate::proxy::Source { config, overrides }
}

/// The process log: standard error, `ZASLON_LOG` filters (default info).
fn init_log() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZASLON_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

fn serve(a: ServeArgs) -> ExitCode {
    init_log();
    match crate::proxy::run(source(a.config.clone(), Some(&a))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zaslon: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn config_check(file: PathBuf) -> ExitCode {
    match source(Some(file), None).load() {
        Ok((c, _, p)) => {
            println!(
                "config OK: {} route(s), {} policies, {} bulk rule(s), {} form(s), {} destination(s){}",
                c.routes.len(),
                p.policies.len(),
                p.bulk.len(),
                p.forms.len(),
                p.destinations.len(),
                if c.egress.is_none() && !p.destinations.is_empty() {
                    " (no `egress` listener: destinations unreachable)"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::from(1)
        }
    }
}

fn print_errors(errors: &RuleErrors) {
    for e in &errors.0 {
        eprintln!("{e}");
    }
}

/// Loads rule files, or the built-in ones when `paths` is empty.
fn load(paths: &[PathBuf]) -> Result<(Vec<RuleFile>, Engine), RuleErrors> {
    let files = if paths.is_empty() {
        rules::default_files()?
    } else {
        rules::load_paths(paths)?
    };
    let engine = rules::compile(&files)?;
    Ok((files, engine))
}

fn rules_check(paths: &[PathBuf]) -> ExitCode {
    match load(paths) {
        Ok((files, _)) => {
            println!("{} rule file(s) OK", files.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_errors(&e);
            ExitCode::from(1)
        }
    }
}

fn rules_test(paths: &[PathBuf]) -> ExitCode {
    let (files, engine) = match load(paths) {
        Ok(x) => x,
        Err(e) => {
            print_errors(&e);
            return ExitCode::from(1);
        }
    };
    let (n, failures) = rules::run_examples(&files, &engine);
    for f in &failures {
        eprintln!("{}", f.0);
    }
    println!("{} passed, {} failed", n - failures.len(), failures.len());
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
