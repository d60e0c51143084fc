//! Connecting to the bus: one server or a list of them (`servers.rs`), credentials, retry
//! with backoff, and the server version check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    connect_with(options, name, None).await
}

/// [`connect`], also noting every publish the server refuses for lack of permission.
pub(crate) async fn connect_watching(
    options: &ConnectionOptions,
    name: &str,
) -> Result<(async_nats::Client, PublishRefusals)> {
    let refusals = PublishRefusals::default();
    let client = connect_with(options, name, Some(refusals.clone())).await?;
    Ok((client, refusals))
}

async fn connect_with(
    options: &ConnectionOptions,
    name: &str,
    refusals: Option<PublishRefusals>,
) -> Result<async_nats::Client> {
    // A malformed list is a typo in the deployment: refused at once, not retried.
    let servers = crate::servers::parse(&options.url).map_err(Error::Config)?;
    let deadline = tokio::time::Instant::now() + options.connect_timeout;
    let mut backoff = Duration::from_millis(100);
    let client = loop {
        let mut connect = connect_options(options, name).await?;
        if let Some(refusals) = &refusals {
            let refusals = refusals.clone();
            connect = connect.event_callback(move |event| {
                if let async_nats::Event::ServerError(async_nats::ServerError::Other(text)) = &event {
                    refusals.note(text);
                }
                std::future::ready(())
            });
        }
        match connect.connect(servers.as_slice()).await {
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

/// Subjects the server refused to let this connection publish to, and when it last said so.
///
/// The server drops such a message and answers with an asynchronous
/// `-ERR 'Permissions Violation for Publish to "<subject>"'`; a JetStream publish of it then
/// times out like one to a slow server. The relay asks here to tell the two apart: permissions
/// are per subject, so a refusal of the subject since the publish was sent means this message
/// was refused too.
#[derive(Debug, Clone, Default)]
pub(crate) struct PublishRefusals(Arc<Mutex<HashMap<String, Instant>>>);

impl PublishRefusals {
    fn note(&self, error: &str) {
        if let Some(subject) = refused_subject(error) {
            tracing::error!(subject, "the server refuses this component permission to publish");
            if let Ok(mut refused) = self.0.lock() {
                refused.insert(subject.to_owned(), Instant::now());
            }
        }
    }

    /// Whether the server refused a publish to `subject` at or after `since`.
    pub(crate) fn refused_since(&self, subject: &str, since: Instant) -> bool {
        self.0
            .lock()
            .is_ok_and(|refused| refused.get(subject).is_some_and(|at| *at >= since))
    }
}

/// The subject of nats-server's publish permission violation, e.g. from
/// `Permissions Violation for Publish to "evt.orders.placed.v1"`.
fn refused_subject(error: &str) -> Option<&str> {
    const PREFIX: &str = "permissions violation for publish to ";
    let head = error.get(..PREFIX.len())?;
    if !head.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let rest = error[PREFIX.len()..].trim();
    // Older servers quote with \", newer ones with %q's quotes: either way, strip them.
    let subject = rest.trim_matches(|c| c == '"' || c == '\'' || c == '\\');
    // "... with reply ..." follows the subject when a reply permission is also at fault.
    let subject = subject.split('"').next().unwrap_or(subject);
    (!subject.is_empty()).then_some(subject)
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
    fn a_publish_permission_violation_names_its_subject() {
        use super::refused_subject;
        assert_eq!(
            refused_subject(r#"Permissions Violation for Publish to "evt.orders.placed.v1""#),
            Some("evt.orders.placed.v1")
        );
        assert_eq!(
            refused_subject("permissions violation for publish to dlq.x"),
            Some("dlq.x")
        );
        assert_eq!(
            refused_subject(r#"Permissions Violation for Subscription to "evt.>""#),
            None
        );
        assert_eq!(refused_subject("Maximum Payload Violation"), None);
    }

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
