//! Ports: one nobody listens on, and the monitoring port `mandate dev` derives from the client
//! port — checked, so that the two can never be the same or wrap around.

use std::net::{Ipv4Addr, TcpListener};

use anyhow::{Context, bail};

/// How far above the client port `mandate dev` puts the monitoring port (4222 → 8222, as
/// nats-server's defaults are).
pub const MONITOR_OFFSET: u16 = 4000;

/// A port nobody listens on right now on 127.0.0.1. Another process may take it before it is
/// used: prefer letting a server bind port 0 (`-1` in nats-server's config) where possible.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .context("finding a free local port")?
        .port())
}

/// The monitoring port for a server whose clients use `client`: `client + 4000`, refused when
/// that is past 65535 with what to do instead.
pub fn monitor_port(client: u16) -> anyhow::Result<u16> {
    match client.checked_add(MONITOR_OFFSET) {
        Some(port) => Ok(port),
        None => bail!(
            "port {client}: its monitoring port would be {client} + {MONITOR_OFFSET}, past 65535: pick a client port \
             of at most {}",
            u16::MAX - MONITOR_OFFSET
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monitoring_port_is_4000_above_and_never_wraps() {
        assert_eq!(monitor_port(4222).ok(), Some(8222));
        assert_eq!(monitor_port(61535).ok(), Some(65535));
        let refused = monitor_port(61536).expect_err("past 65535");
        assert!(refused.to_string().contains("at most 61535"), "{refused}");
    }
}
