//! `mandate`, the operator tool: it speaks only NATS (never a component's store or files).
//! `commands/mod.rs` holds the command tree and its one dispatch, `commands/` one file per command.

mod admin;
mod asyncapi;
mod bus;
mod busconfig;
mod check;
mod commands;
mod compose;
mod console;
mod dev;
mod failure;
mod msgpack;
mod ops;
mod output;
#[cfg(test)]
mod published;
mod repo;
mod scaffold;
mod schema;
mod since;
mod subjects;
mod validation;

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = commands::parse();
    init_logging();
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => failure::report(&err),
    }
}

/// Logs go to stderr; the level comes from `RUST_LOG` (default `warn`, so a tool's output
/// is not drowned in the kit's `info` lines). The kit's "cannot connect yet, retrying" lines
/// are for long-running components; a command that cannot connect ends with one error that
/// says what to do, so they stay quiet unless asked for.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,mandate::connect=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: piped into a file or `docker compose logs` they are
        // noise around every field.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
