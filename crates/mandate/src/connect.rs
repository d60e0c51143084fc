//! Connecting to the bus: credentials, retry with backoff, and the server version check.

use std::time::Duration;

use async_nats::ConnectOptions;

use crate::error::{Error, Result};
use crate::options::ConnectionOptions;

/// The oldest server the kit accepts. 2.9 ignores `filter_subjects` on consumers and delivers
/// everything; async-nats' key-value also fails on it.
pub const MIN_SERVER_VERSION: (u64, u64) = (2, 10);

/// Connects as `name`, retrying with backoff until `connect_timeout`, then checks the
/// server's version. The connection's reply inboxes are `_INBOX.<name>.>` so that broker
/// permissions can keep other components from reading its replies.
pub async fn connect(options: &ConnectionOptions, name: &str) -> Result<async_nats::Client> {
    let deadline = tokio::time::Instant::now() + options.connect_timeout;
    let mut backoff = Duration::from_millis(100);
    let client = loop {
        match connect_options(options, name)
            .await?
            .connect(options.url.as_str())
            .await
        {
            Ok(client) => break client,
            Err(err) if tokio::time::Instant::now() + backoff < deadline => {
                tracing::warn!(url = %options.url, error = %err, retry_in = ?backoff, "cannot connect to NATS yet");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(err) => {
                return Err(Error::Connect {
                    url: options.url.clone(),
                    reason: err.to_string(),
                });
            }
        }
    };
    let version = client.server_info().version;
    check_server_version(&version).map_err(|found| Error::ServerTooOld {
        url: options.url.clone(),
        found,
    })?;
    tracing::debug!(url = %options.url, %version, "connected to NATS");
    Ok(client)
}

async fn connect_options(options: &ConnectionOptions, name: &str) -> Result<ConnectOptions> {
    let mut connect = ConnectOptions::new()
        .name(name)
        .custom_inbox_prefix(format!("_INBOX.{name}"))
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None);
    let password = match (&options.password, &options.password_file) {
        (Some(password), _) => Some(password.clone()),
        (None, Some(file)) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| Error::Config(format!("cannot read password file {}: {e}", file.display())))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    if let Some(user) = &options.user {
        let password = password.ok_or_else(|| {
            Error::Config(format!(
                "user {user:?} has no password: set NATS_PASSWORD or NATS_PASSWORD_FILE"
            ))
        })?;
        connect = connect.user_and_password(user.clone(), password);
    }
    if let Some(creds) = &options.creds {
        connect = connect
            .credentials_file(creds)
            .await
            .map_err(|e| Error::Config(format!("cannot read credentials file {}: {e}", creds.display())))?;
    }
    if let Some(file) = &options.nkey_file {
        let seed = std::fs::read_to_string(file)
            .map_err(|e| Error::Config(format!("cannot read nkey seed file {}: {e}", file.display())))?;
        connect = connect.nkey(seed.trim().to_owned());
    }
    Ok(connect)
}

/// Accepts `2.10.0` and newer; refuses older versions and versions it cannot read.
pub fn check_server_version(version: &str) -> std::result::Result<(), String> {
    let mut parts = version.trim_start_matches('v').split(['.', '-']);
    let mut number = || parts.next().and_then(|p| p.parse::<u64>().ok());
    match (number(), number()) {
        (Some(major), Some(minor)) if (major, minor) >= MIN_SERVER_VERSION => Ok(()),
        _ => Err(version.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_server_version;

    #[test]
    fn versions_before_2_10_are_refused() {
        for ok in ["2.10.0", "2.14.6", "v2.11.1", "3.0.0", "2.12.0-beta.1"] {
            assert!(check_server_version(ok).is_ok(), "{ok} refused");
        }
        for old in ["2.9.10", "2.2.0", "1.4.1", "", "garbage"] {
            assert!(check_server_version(old).is_err(), "{old} accepted");
        }
    }
}
