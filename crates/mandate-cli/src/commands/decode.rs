//! `mandate decode`: one MessagePack value on stdin → JSON on stdout.
//!
//! Made for `nats sub 'evt.>' --translate 'mandate decode'`, which pipes each message body
//! through it. Binary values come out as base64 strings (see `msgpack.rs` for every rule).

use std::io::Read;

use anyhow::Context as _;
use clap::Args;

use crate::{msgpack, output};

#[derive(Debug, Args)]
#[command(after_help = "Binary values are printed as base64 strings; extension values as \
{\"ext_type\": N, \"data_base64\": \"...\"}.\n\nExample: nats sub 'evt.>' --translate 'mandate decode'")]
pub struct DecodeArgs {
    /// Indent the JSON (default: indented on a terminal, one line otherwise).
    #[arg(long, conflicts_with = "compact")]
    pub pretty: bool,
    /// Print the JSON on one line, even on a terminal.
    #[arg(long)]
    pub compact: bool,
}

pub fn run(args: &DecodeArgs) -> anyhow::Result<()> {
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .context("reading stdin")?;
    let value = msgpack::to_json(&input).context("stdin")?;
    let pretty = args.pretty || (!args.compact && output::stdout_is_terminal());
    let text = if pretty {
        serde_json::to_string_pretty(&value)?
    } else {
        serde_json::to_string(&value)?
    };
    output::line(&text)
}
