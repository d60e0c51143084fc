//! A harness for testing a component against a real nats-server: the component started
//! in-process, talked to only over the bus, as any other component would — plus helpers to
//! watch what it publishes and to wait for it without fixed sleeps.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use mandate::envelope::Meta;
use mandate::{Bus, Component, ConnectionOptions, Event, Options, Running};

use crate::NatsServer;

/// A server, a data directory and a client for one test.
pub struct Harness {
    pub server: NatsServer,
    pub dir: tempfile::TempDir,
    pub bus: Bus,
}

impl Harness {
    /// A fresh server with the streams of `owners` created, as those owners would at their
    /// start-up, so the test can publish their events and the component finds them at once.
    pub async fn new(owners: &[&str]) -> Harness {
        Harness::with_config(owners, "").await
    }

    /// [`Harness::new`] on a server with `extra` config text (see
    /// [`NatsServer::start_with_config`]), e.g. `max_payload: 65536`.
    pub async fn with_config(owners: &[&str], extra: &str) -> Harness {
        if std::env::var_os("RUST_LOG").is_some() {
            mandate::init_logging(mandate::LogFormat::Text);
        }
        let server = NatsServer::start_with_config(extra);
        let bus = Bus::connect(&ConnectionOptions::new(server.url()), "test")
            .await
            .expect("connects");
        let harness = Harness {
            server,
            dir: tempfile::tempdir().expect("tempdir"),
            bus,
        };
        for owner in owners {
            harness.create_stream(owner).await;
        }
        harness
    }

    /// Creates `EVT_<OWNER>` as that owner would at its start-up.
    pub async fn create_stream(&self, owner: &str) {
        self.bus
            .jetstream()
            .get_or_create_stream(async_nats::jetstream::stream::Config {
                name: mandate::stream_name(owner),
                subjects: vec![format!("evt.{owner}.>")],
                duplicate_window: Duration::from_secs(120),
                subject_transform: Some(slot_transform(owner)),
                ..Default::default()
            })
            .await
            .expect("stream created");
    }

    /// Quick retries and small batches, so tests see several batches.
    pub fn options(&self) -> Options {
        let mut options = Options::new(self.server.url(), self.dir.path());
        options.batch_size = 16;
        options.max_attempts = 3;
        options.retry_backoff = Duration::from_millis(10);
        options
    }

    pub async fn start(&self, component: Component) -> Running {
        self.start_with(component, self.options()).await
    }

    pub async fn start_with(&self, component: Component, options: Options) -> Running {
        component.start(options).await.expect("the component starts")
    }

    /// Messages currently in `stream` (0 when it does not exist).
    pub async fn stream_messages(&self, stream: &str) -> u64 {
        match self.bus.jetstream().get_stream(stream).await {
            Ok(mut stream) => stream.info().await.expect("stream info").state.messages,
            Err(_) => 0,
        }
    }

    /// Every message in `stream`, in order, through an ephemeral ordered consumer.
    pub async fn read_stream(&self, stream: &str) -> Vec<async_nats::Message> {
        let total = self.stream_messages(stream).await as usize;
        if total == 0 {
            return Vec::new();
        }
        let stream = self.bus.jetstream().get_stream(stream).await.expect("stream");
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
            .await
            .expect("ordered consumer");
        let mut messages = consumer.messages().await.expect("messages");
        let mut out = Vec::with_capacity(total);
        while out.len() < total {
            let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
                .await
                .expect("the stream delivers in time")
                .expect("stream open")
                .expect("message");
            out.push(message.message);
        }
        out
    }

    /// A core subscription to `subject`, registered with the server before this returns. An
    /// event subject (`evt.<owner>.<event>.v<N>`) is watched in both forms, with and without
    /// the key a keyed event is published with.
    pub async fn watch(&self, subject: &str) -> Watch {
        let mut subjects = vec![subject.to_owned()];
        if !subject.ends_with('>') && subject.starts_with("evt.") {
            subjects.push(format!("{subject}.>"));
        }
        let mut subscribers = Vec::new();
        for subject in subjects {
            subscribers.push(self.bus.client().subscribe(subject).await.expect("subscribes"));
        }
        let subscriber = futures::stream::select_all(subscribers);
        // A flush only writes the subscription; a round trip proves the server has it.
        self.bus
            .jetstream()
            .query_account()
            .await
            .expect("a round trip to the server");
        Watch {
            subscriber,
            bus: self.bus.clone(),
        }
    }

    /// Waits until `component` has applied `applied` events in all (summed over its streams).
    pub async fn wait_applied(&self, component: &str, applied: u64) {
        eventually(&format!("{component} to apply {applied} events"), || async {
            let status = self.bus.status(component).await.ok()?;
            (status.consumers.iter().map(|c| c.applied_sequence).sum::<u64>() >= applied).then_some(())
        })
        .await;
    }

    /// Asks `component` to rebuild from the beginning and waits until it has re-applied
    /// everything it had applied before.
    pub async fn rebuild(&self, component: &str) {
        let before = self.bus.status(component).await.expect("status");
        let report = self
            .bus
            .rebuild(component, &mandate::admin::RebuildRequest::default())
            .await
            .expect("rebuild starts");
        assert!(report.started);
        assert!(report.wiped > 0, "the state was wiped");
        eventually(&format!("{component} to finish its rebuild"), || async {
            let status = self.bus.status(component).await.ok()?;
            let caught_up = before.consumers.iter().all(|was| {
                status
                    .consumers
                    .iter()
                    .any(|now| now.stream == was.stream && now.applied_sequence >= was.applied_sequence)
            });
            (!status.rebuilding && caught_up).then_some(())
        })
        .await;
    }
}

/// Sees every publish on its subjects — also repeats that JetStream's duplicate window
/// would keep out of the stream, which is what a test of "published nothing again" needs.
pub struct Watch {
    subscriber: futures::stream::SelectAll<async_nats::Subscriber>,
    bus: Bus,
}

impl Watch {
    /// The next message, which must be an `E`; its envelope and body, both read as strictly
    /// as a consumer reads them (so every test that watches an event also checks that it
    /// keeps the contract's encoding).
    pub async fn next<E: Event>(&mut self) -> (Meta, E) {
        let message = tokio::time::timeout(Duration::from_secs(10), self.subscriber.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {}", E::subject()))
            .expect("subscription open");
        assert_eq!(
            mandate::partition::event_subject(&message.subject),
            E::subject(),
            "the next event published"
        );
        if let Some(key) = E::KEY {
            let expected = mandate::partition::key_of(&message.payload, &key).expect("a keyed event has its key");
            assert_eq!(
                mandate::partition::subject_key(&message.subject),
                Some(expected.as_str()),
                "a keyed event is published with its key"
            );
        }
        let meta = Meta::from_headers(message.headers.as_ref()).expect("a complete envelope");
        let body = mandate::codec::decode(&message.payload).unwrap_or_else(|e| panic!("the body decodes: {e}"));
        (meta, body)
    }

    /// Asserts that nothing is published for a while (after a round trip to the server).
    pub async fn assert_silent(&mut self) {
        self.bus.client().flush().await.expect("flush");
        let next = tokio::time::timeout(Duration::from_millis(300), self.subscriber.next()).await;
        assert!(
            next.is_err(),
            "expected nothing, but {:?} was published",
            next.ok().flatten().map(|m| m.subject)
        );
    }
}

/// Polls `probe` until it returns `Some`, or panics after 10 s saying what it waited for.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Publishes `event` again as a copy of the one published under `meta`: the same body, time
/// and correlation under a new `ce-id` — what an owner's bug, an operator's `mandate import`
/// or a dead letter retried under a new id does. Effects must not happen twice.
pub async fn resend<E: Event>(bus: &Bus, meta: &Meta, event: &E, copy: u32) {
    let mut again = meta.clone();
    again.id = format!("{}-copy-{copy}", meta.id);
    let body = rmp_serde::to_vec_named(event).expect("encodes");
    let subject = E::publish_subject(&body).expect("a key that is a subject token");
    bus.publish_raw(&subject, again.to_headers(), body.into())
        .await
        .expect("published");
}

/// Every order of `items`: what a handler must give the same state for, when its facts come
/// from several streams.
pub fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

/// The slot transform the kit gives an owner's stream (`mandate::partition`).
pub fn slot_transform(owner: &str) -> async_nats::jetstream::stream::SubjectTransform {
    let (source, destination) = mandate::partition::stream_transform(owner);
    async_nats::jetstream::stream::SubjectTransform { source, destination }
}
