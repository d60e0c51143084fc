//! The streams a component needs at start: its own `EVT_<OWNER>` and the shared `DLQ`.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};

use crate::contract::{DEAD_LETTER_STREAM, stream_name};
use crate::error::{Error, Result};

/// How long a component waits for JetStream to create or read its stream before it gives up
/// and exits (its supervisor then restarts it).
const PATIENCE: Duration = Duration::from_secs(60);
/// The longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// [`ensure_own_once`], again and again while JetStream cannot answer yet. A cluster whose
/// nodes are still starting has no meta leader (requests time out or find JetStream
/// unavailable), and several components creating replicated streams at once can outlast one
/// request's timeout: neither is a reason to exit. A stream that exists but is configured
/// otherwise is (`Error::Config`), at once.
pub(crate) async fn ensure_own(js: &jetstream::Context, owner: &str, replicas: usize) -> Result<()> {
    let deadline = Instant::now() + PATIENCE;
    let mut pause = Duration::from_millis(100);
    loop {
        match ensure_own_once(js, owner, replicas).await {
            Err(Error::JetStream(why)) if Instant::now() + pause < deadline => {
                tracing::warn!(stream = %stream_name(owner), error = %why, retry_in = ?pause, "JetStream cannot create or read the stream yet; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            done => return done,
        }
    }
}

/// Creates `EVT_<OWNER>`, capturing `evt.<owner>.>` and stamping keyed events with their
/// slot (`partition::stream_transform`), when it does not exist. An existing stream is left
/// as it is — from then on its configuration (replicas, limits) is the operator's — except
/// that a stream from before partitions gets the transform added, in place: without it a
/// keyed event would be stored with no slot and reach no partition by its filters.
async fn ensure_own_once(js: &jetstream::Context, owner: &str, replicas: usize) -> Result<()> {
    let name = stream_name(owner);
    let subjects = format!("evt.{owner}.>");
    let (source, destination) = crate::partition::stream_transform(owner);
    let transform = stream::SubjectTransform { source, destination };
    let config = stream::Config {
        name: name.clone(),
        description: Some(format!("events published by {owner}")),
        subjects: vec![subjects.clone()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: Duration::from_secs(120),
        num_replicas: replicas,
        // History is what rebuilds replay: no deleting single events.
        deny_delete: true,
        allow_direct: true,
        subject_transform: Some(transform.clone()),
        ..Default::default()
    };
    let mut stream = js
        .get_or_create_stream(config)
        .await
        .map_err(|e| Error::js(&format!("ensuring stream {name}"), e))?;
    let info = stream
        .info()
        .await
        .map_err(|e| Error::js(&format!("reading stream {name}"), e))?;
    if !info.config.subjects.contains(&subjects) {
        return Err(Error::Config(format!(
            "stream {name} exists but does not capture {subjects} (it captures {:?}): fix it with `nats stream edit {name}`",
            info.config.subjects
        )));
    }
    if info.config.subject_transform.as_ref() != Some(&transform) {
        if let Some(other) = &info.config.subject_transform {
            return Err(Error::Config(format!(
                "stream {name} transforms {} into {}, not keyed events into their slots ({} into {}): remove its transform with `nats stream edit {name}`",
                other.source, other.destination, transform.source, transform.destination
            )));
        }
        tracing::info!(stream = %name, "adding the partition slot transform to a stream from before partitions");
        let mut config = info.config.clone();
        config.subject_transform = Some(transform.clone());
        // Not fatal: under strict broker permissions a component may not update its stream
        // (bus-config/README.md). Keyed events are then stored without their slot, and
        // partitions of subscribers pick theirs out of every keyed event, by key.
        if let Err(err) = js.update_stream(config).await {
            tracing::warn!(
                stream = %name, error = %err,
                "cannot add the partition slot transform ({} -> {}): ask the operator to add it (nats stream edit {name}); until then partitioned subscribers read every keyed event of this stream",
                transform.source, transform.destination
            );
        }
    }
    Ok(())
}

/// Makes sure `DLQ` exists. Not fatal: under strict broker permissions the operator creates
/// it, and the relay keeps dead letters in the outbox until it can publish them.
pub(crate) async fn ensure_dead_letter(js: &jetstream::Context, replicas: usize) {
    let config = stream::Config {
        name: DEAD_LETTER_STREAM.to_owned(),
        description: Some("dead letters of every component".to_owned()),
        subjects: vec!["dlq.>".to_owned()],
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        num_replicas: replicas,
        ..Default::default()
    };
    if let Err(err) = js.get_or_create_stream(config).await {
        tracing::warn!(error = %err, "cannot ensure the DLQ stream; dead letters wait in the outbox until it exists");
    }
}
