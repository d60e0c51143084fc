//! Exit codes: 0 ok, 1 failure, 2 usage. Errors are `anyhow` chains whose messages say what
//! to do next; two marker types change how `main` reports them.

use std::process::ExitCode;

/// The command line was wrong in a way clap could not see (exit code 2).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// The command already explained the failure on stderr (e.g. a service's typed error as
/// JSON); exit 1 without printing anything more.
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failure already reported")
    }
}

impl std::error::Error for Reported {}

/// A usage error (exit code 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// Prints `err` (unless already reported) and picks the exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    if err.downcast_ref::<Reported>().is_some() {
        return ExitCode::FAILURE;
    }
    // A closed pipe (`mandate tail | head`) is the reader's choice, not a failure.
    if err
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    {
        return ExitCode::SUCCESS;
    }
    if let Some(Usage(message)) = err.downcast_ref::<Usage>() {
        eprintln!("error: {message}");
        eprintln!("\nFor more information, try '--help'.");
        return ExitCode::from(2);
    }
    eprintln!("error: {err:#}");
    ExitCode::FAILURE
}
