//! When a nats-server is ready: its log names the client port it bound, and a client
//! connecting there is greeted by an `INFO` announcing JetStream.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::process::{Running, read_from};

/// The line nats-server logs once its client listener is bound (stable since 2.0).
pub const LISTENING: &str = "Listening for client connections on ";
const POLL: Duration = Duration::from_millis(10);

/// Why a server did not become ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    Exited,
    TimedOut,
}

impl NotReady {
    pub fn describe(self) -> &'static str {
        match self {
            NotReady::Exited => "the process exited",
            NotReady::TimedOut => "not ready (listening, with JetStream) in time",
        }
    }
}

/// Waits until this run of the server (its log from `log_start` on) reports its client port
/// and JetStream answers there. Returns the port.
pub fn wait_ready(child: &mut Running, log: &Path, log_start: u64, deadline: Instant) -> Result<u16, NotReady> {
    let mut port = None;
    loop {
        if child.exited().is_some() {
            return Err(NotReady::Exited);
        }
        if port.is_none() {
            port = listening_port(&read_from(log, log_start));
        }
        if let Some(port) = port {
            if jetstream_ready(port) {
                return Ok(port);
            }
        }
        if Instant::now() >= deadline {
            return Err(NotReady::TimedOut);
        }
        std::thread::sleep(POLL);
    }
}

/// The client port from the `Listening for client connections on 127.0.0.1:<port>` line.
pub fn listening_port(log: &str) -> Option<u16> {
    // Only complete lines: the last one may still be being written.
    let complete = &log[..log.rfind('\n')? + 1];
    complete.lines().find_map(|line| {
        let (_, addr) = line.split_once(LISTENING)?;
        addr.trim().rsplit_once(':')?.1.parse().ok()
    })
}

/// Whether a client connecting to `port` is greeted by an `INFO` announcing JetStream.
pub fn jetstream_ready(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    if stream.set_read_timeout(Some(Duration::from_secs(1))).is_err() {
        return false;
    }
    let mut line = String::new();
    match BufReader::new(stream).read_line(&mut line) {
        Ok(_) => line.starts_with("INFO ") && line.contains("\"jetstream\":true"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::listening_port;

    #[test]
    fn the_port_is_read_from_complete_log_lines_only() {
        let line = "[1] 2026/01/01 00:00:00.000000 [INF] Listening for client connections on 127.0.0.1:4567\n";
        assert_eq!(listening_port(line), Some(4567));
        assert_eq!(listening_port(line.trim_end()), None);
        assert_eq!(
            listening_port("[INF] Listening for client connections on 127.0.0.1:45"),
            None
        );
    }
}
