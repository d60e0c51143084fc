//! Liveness and readiness (docs/operate.md, "Probes"): what `/readyz` answers, and the
//! `--healthcheck` form of the same question for a container's healthcheck, which has nothing
//! but the component's own binary to ask with (a component image ships no curl or wget).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use serde::Serialize;

/// Whether a process should be sent work, and if not, why: the body of `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// Every reason it is not ready (empty when it is).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_ready: Vec<String>,
}

impl Readiness {
    /// Ready when there is no reason not to be.
    pub fn from_reasons(not_ready: Vec<String>) -> Readiness {
        Readiness {
            ready: not_ready.is_empty(),
            not_ready,
        }
    }
}

/// What the metrics listener asks a process for its `/readyz`.
pub trait Probe: std::fmt::Debug + Send + Sync + 'static {
    fn readiness(&self) -> Readiness;
    /// Called every second while the listener runs (a component samples its outbox's head).
    fn tick(&self) {}
}

/// How long the healthcheck waits for the listener, connecting and answering together.
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Asks the metrics listener at `addr` (this process's own `MANDATE_METRICS`) for `/readyz`:
/// Ok when it answers 200, otherwise what it said or why it could not be asked. An address
/// bound to every interface (`0.0.0.0`, `::`) is asked on the loopback.
pub fn healthcheck(addr: SocketAddr) -> Result<(), String> {
    let target = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    };
    let fail = |what: &str, err: std::io::Error| format!("{what} http://{target}/readyz: {err}");
    let mut stream =
        TcpStream::connect_timeout(&target, HEALTHCHECK_TIMEOUT).map_err(|e| fail("cannot connect to", e))?;
    stream
        .set_read_timeout(Some(HEALTHCHECK_TIMEOUT))
        .map_err(|e| fail("cannot ask", e))?;
    stream
        .set_write_timeout(Some(HEALTHCHECK_TIMEOUT))
        .map_err(|e| fail("cannot ask", e))?;
    // HTTP/1.0 and Connection: close: the answer ends when the server closes.
    write!(
        stream,
        "GET /readyz HTTP/1.0\r\nHost: {target}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| fail("cannot ask", e))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| fail("no answer from", e))?;
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body).trim();
    if status == "200" {
        Ok(())
    } else {
        Err(format!("not ready (HTTP {status} from http://{target}/readyz): {body}"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_healthcheck_with_no_listener_says_where_it_asked() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = free.local_addr().expect("its address");
        drop(free);
        let err = super::healthcheck(addr).expect_err("nothing listens");
        assert!(err.contains(&format!("http://{addr}/readyz")), "{err}");
    }
}
