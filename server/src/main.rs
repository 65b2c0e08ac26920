//! The `server` binary: parse the command line, set up logging, serve until
//! Ctrl-C or SIGTERM. Failures print a clear message and exit non-zero.

use clap::Parser;
use server::{Application, Config};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let filter = match EnvFilter::try_new(&config.log) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("flack: invalid --log filter {:?}: {e}", config.log);
            return ExitCode::from(2);
        }
    };
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter);
    if config.log_json {
        subscriber.json().init();
    } else {
        subscriber.init();
    }

    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("flack: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = app.local_addr();
    tracing::info!("Flack is listening on http://{addr}");
    println!("Flack is serving at http://{addr}");
    match app.run_until(server::shutdown::signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        // A store that failed for good: 70 (EX_SOFTWARE), so a supervisor
        // can tell it from a bad command line.
        Err(e @ server::StartupError::StoreFailed) => {
            eprintln!("flack: {e}");
            ExitCode::from(70)
        }
        Err(e) => {
            eprintln!("flack: {e}");
            ExitCode::FAILURE
        }
    }
}
