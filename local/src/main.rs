//! `bnb-local`: run bnb on this machine.

use std::path::PathBuf;

use bnb_local::auth::Authority;
use bnb_local::{start, LocalConfig};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "bnb-local", version, about = "Run bnb's whole serverless topology on this machine: no AWS account, no Docker")]
struct Cli {
    /// The folder that holds the embedded store and the local signing key.
    #[arg(long, global = true, default_value = ".bnb", env = "BNB_DATA_DIR")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API on 127.0.0.1 over the embedded store.
    Up {
        /// The port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 3000, env = "BNB_PORT")]
        port: u16,
        #[arg(long, value_enum, default_value_t = LogFormat::Pretty)]
        log_format: LogFormat,
    },
    /// Mint a bearer token the local API accepts.
    Token {
        /// The user id (the JWT `sub`).
        #[arg(long)]
        sub: String,
        /// Groups, comma-separated: `host`, `guest`.
        #[arg(long, value_delimiter = ',', default_value = "guest")]
        groups: Vec<String>,
        /// A phone number for SMS notifications, E.164 (`+821012345678`).
        #[arg(long)]
        phone: Option<String>,
        /// `ko` or `en`.
        #[arg(long)]
        locale: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 12 * 3600)]
        ttl: i64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bnb-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match cli.command {
        Command::Token { sub, groups, phone, locale, ttl } => {
            let authority = Authority::load_or_create(&cli.data_dir)?;
            println!("{}", authority.mint(&sub, &groups, phone.as_deref(), locale.as_deref(), ttl)?);
            Ok(())
        }
        Command::Up { port, log_format } => {
            match log_format {
                LogFormat::Pretty => bnb::telemetry::init_pretty(),
                LogFormat::Json => bnb::telemetry::init_json(),
            }
            let running = start(LocalConfig { data_dir: cli.data_dir.clone(), port }).await?;
            for route in &running.routes {
                tracing::info!(route = %route.key(), function = %route.function, authorized = route.authorized, "route");
            }
            tracing::info!(url = %running.url(), store = %running.store.path().display(), "bnb is up; Ctrl-C stops it");
            tokio::signal::ctrl_c().await?;
            tracing::info!("stopping: finishing requests in flight");
            running.stop().await?;
            Ok(())
        }
    }
}
