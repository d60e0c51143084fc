//! `mandate export STREAM`: a stream's messages to a JSON Lines file.
//!
//! # The export format
//!
//! One JSON object per line, one line per message, in stream order:
//!
//! ```json
//! {"subject":"evt.orders.placed.v1","sequence":42,"time":"2025-01-31T12:00:00.123456789Z","headers":{"ce-id":["0194..."],"Nats-Msg-Id":["0194..."]},"payload_base64":"gqhvcmRlcl9pZKNvLTE="}
//! ```
//!
//! - `subject`: the subject the message was published to (import republishes to it);
//! - `sequence`: its sequence in the exported stream (informational: import cannot keep it);
//! - `time`: when the server stored it, RFC 3339 UTC (informational);
//! - `headers`: every header, name → list of values, exactly as stored (`ce-*`,
//!   `traceparent`, `correlation-id`, `Nats-Msg-Id`, `Mandate-Dlq-*`, ...);
//! - `payload_base64`: the body bytes, standard base64 with padding — untouched MessagePack.
//!
//! The file is written to `FILE.partial` and renamed when complete, so a file that exists is
//! a whole export.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use mandate::Bus;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Global;
use crate::bus::{Start, StreamReader, headers_to_map};
use crate::since::{parse_since, rfc3339};
use crate::{msgpack, output};

#[derive(Debug, Args)]
#[command(after_help = "Format: JSON Lines, one object per message:\n  \
{\"subject\",\"sequence\",\"time\",\"headers\":{name:[values]},\"payload_base64\"}\n\n\
Examples:\n  mandate export EVT_ORDERS -o orders.jsonl\n  mandate export DLQ --since 1h > dead.jsonl")]
pub struct ExportArgs {
    /// The stream to export (e.g. EVT_ORDERS, DLQ).
    pub stream: String,
    /// Only messages stored since a time: a duration back from now (10m, 2h) or RFC 3339.
    #[arg(long, value_parser = parse_since, value_name = "TIME", conflicts_with = "from_seq")]
    pub since: Option<OffsetDateTime>,
    /// Only messages from this stream sequence on.
    #[arg(long, value_name = "N")]
    pub from_seq: Option<u64>,
    /// Only messages on these subjects (`*`, `>` allowed).
    #[arg(long, value_parser = crate::subjects::parse_filter, value_name = "FILTER")]
    pub subject: Option<String>,
    /// The file to write (default: stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// One line of an export file.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    pub subject: String,
    pub sequence: u64,
    pub time: String,
    pub headers: std::collections::BTreeMap<String, Vec<String>>,
    pub payload_base64: String,
}

#[derive(Debug, Serialize)]
struct Exported {
    stream: String,
    messages: u64,
    file: Option<String>,
}

pub async fn run(bus: &Bus, args: &ExportArgs, global: Global) -> anyhow::Result<()> {
    let start = match (args.since, args.from_seq) {
        (Some(at), _) => Start::Time(at),
        (None, Some(sequence)) => Start::Sequence(sequence),
        (None, None) => Start::All,
    };
    let filters: Vec<String> = args.subject.iter().cloned().collect();
    let mut reader = StreamReader::open(bus.jetstream(), &args.stream, &filters, start, false).await?;
    let file = args.output.as_deref().filter(|p| *p != Path::new("-"));
    let (mut out, partial): (Box<dyn Write>, Option<PathBuf>) = match file {
        Some(path) => {
            let partial = partial_path(path);
            let created =
                std::fs::File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
            (Box::new(BufWriter::new(created)), Some(partial))
        }
        None => (Box::new(BufWriter::new(std::io::stdout().lock())), None),
    };
    let bar = output::progress_bar(reader.remaining(), &format!("export {}", args.stream));
    let mut count = 0u64;
    let result = async {
        while let Some(message) = reader.next_history().await? {
            let info = message
                .info()
                .map_err(|e| anyhow::anyhow!("a message of {} has no stream metadata: {e}", args.stream))?;
            let record = Record {
                subject: message.subject.to_string(),
                sequence: info.stream_sequence,
                time: rfc3339(info.published),
                headers: headers_to_map(message.headers.as_ref()),
                payload_base64: msgpack::base64_encode(&message.payload),
            };
            serde_json::to_writer(&mut out, &record)?;
            out.write_all(b"\n")?;
            count += 1;
            bar.set_length(count + reader.remaining());
            bar.set_position(count);
        }
        out.flush()?;
        anyhow::Ok(())
    }
    .await;
    drop(out);
    bar.finish_and_clear();
    if let Err(err) = result {
        if let Some(partial) = &partial {
            let _ = std::fs::remove_file(partial);
        }
        return Err(err.context(format!("exporting {}", args.stream)));
    }
    if let (Some(partial), Some(path)) = (&partial, file) {
        std::fs::rename(partial, path)
            .with_context(|| format!("cannot move {} to {}", partial.display(), path.display()))?;
    }
    let exported = Exported {
        stream: args.stream.clone(),
        messages: count,
        file: file.map(|p| p.display().to_string()),
    };
    match &exported.file {
        Some(_) if global.json => output::json(&exported),
        Some(path) => output::line(&format!("exported {count} message(s) from {} to {path}", args.stream)),
        None => {
            eprintln!("exported {count} message(s) from {}", args.stream);
            Ok(())
        }
    }
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}
