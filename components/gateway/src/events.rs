//! `GET /v1/orders/{id}/events`: the live events of one order as server-sent events.
//!
//! One core-NATS subscription to `evt.>` per gateway process, shared by every client, rather
//! than one per request: the server sends each event to the gateway once, whatever the number
//! of open streams, and the gateway decodes it once. The [`Hub`] routes each event by the
//! `order_id` of its body to a small `tokio::sync::broadcast` channel per *watched* order
//! (created by the first client of that order, removed with its last), so an event wakes only
//! the clients of its order and an event of an order nobody watches is dropped right after
//! decoding. A client too slow to keep up gets an `event: lagged` telling how many events it
//! missed (re-read the order with `GET /v1/orders/{id}`) rather than stalling the others.
//!
//! Live means live: core NATS, no replay. Events published while a client is not connected (or
//! while the gateway is reconnecting to NATS) are not sent; `Last-Event-ID` is ignored.
//!
//! One exception to "every event as it is": an order's placement is sent once, as
//! `orders.placed.v2`, although orders publishes it as v2 and v1 during the migration
//! ([`placements`]).

mod placements;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::HeaderName;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{StreamExt, stream};
use mandate::envelope::{CE_ID, CE_TYPE};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::extract::OrderId;

/// What the gateway listens to, as `manifest.json` declares it.
pub const LISTENS: &[&str] = &["evt.>"];

/// One event of the bus, decoded once and shared by the clients of its order.
#[derive(Debug)]
pub(crate) struct BusEvent {
    /// `ce-type`, e.g. `orders.placed.v1`; the subject without `evt.` when the header is missing.
    kind: String,
    /// `ce-id`, when present.
    id: Option<String>,
    /// The body as compact JSON.
    data: String,
}

/// A watched order: its clients' channel, and whether its placement has been sent.
#[derive(Debug)]
struct Watched {
    sender: broadcast::Sender<Arc<BusEvent>>,
    placement_sent: bool,
}

type Watchers = HashMap<String, Watched>;

/// The shared subscription and the channels of the watched orders.
#[derive(Debug, Clone)]
pub(crate) struct Hub {
    watchers: Arc<Mutex<Watchers>>,
    capacity: usize,
}

impl Hub {
    /// Subscribes to `evt.>` (written to the server before it returns) and spawns the task
    /// that routes events until `shutdown`.
    pub(crate) async fn start(
        client: &async_nats::Client,
        capacity: usize,
        shutdown: CancellationToken,
    ) -> mandate::Result<Hub> {
        let subscriber = client
            .subscribe(LISTENS[0])
            .await
            .map_err(|e| mandate::Error::Nats(format!("subscribing to {}: {e}", LISTENS[0])))?;
        client
            .flush()
            .await
            .map_err(|e| mandate::Error::Nats(format!("subscribing to {}: {e}", LISTENS[0])))?;
        let hub = Hub {
            watchers: Arc::new(Mutex::new(HashMap::new())),
            capacity: capacity.max(1),
        };
        tokio::spawn(hub.clone().route(subscriber, shutdown));
        Ok(hub)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watchers> {
        // The map stays consistent whatever a panicking holder was doing.
        self.watchers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn route(self, mut subscriber: async_nats::Subscriber, shutdown: CancellationToken) {
        loop {
            let message = tokio::select! {
                message = subscriber.next() => message,
                () = shutdown.cancelled() => None,
            };
            let Some(message) = message else { break };
            if self.lock().is_empty() {
                continue;
            }
            let Some((order_id, body)) = order_of(&message.payload) else {
                continue;
            };
            let header = |name: &str| {
                message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .map(|v| v.as_str().to_owned())
            };
            let kind = header(CE_TYPE).unwrap_or_else(|| {
                mandate::partition::event_subject(&message.subject)
                    .trim_start_matches("evt.")
                    .to_owned()
            });
            let placement = placements::Placement::of(&kind);
            let sender = {
                let mut watchers = self.lock();
                let Some(watched) = watchers.get_mut(&order_id) else {
                    continue;
                };
                if placement.is_some() {
                    if watched.placement_sent {
                        // The other version of a placement already sent.
                        continue;
                    }
                    watched.placement_sent = true;
                }
                watched.sender.clone()
            };
            let body = to_json(body);
            let (kind, data) = match placement.and_then(|p| p.as_v2(&body)) {
                Some((kind, json)) => (kind, json),
                None => (kind, body),
            };
            let event = BusEvent {
                kind,
                id: header(CE_ID),
                data: data.to_string(),
            };
            // An error only means the last client just left.
            let _ = sender.send(Arc::new(event));
        }
        let _ = subscriber.unsubscribe().await;
        // Dropping the senders ends every open stream.
        self.lock().clear();
        tracing::debug!("the event subscription is closed");
    }

    /// Starts following `order_id`.
    pub(crate) fn watch(&self, order_id: &str) -> Watch {
        let receiver = self
            .lock()
            .entry(order_id.to_owned())
            .or_insert_with(|| Watched {
                sender: broadcast::channel(self.capacity).0,
                placement_sent: false,
            })
            .sender
            .subscribe();
        Watch {
            hub: self.clone(),
            order_id: order_id.to_owned(),
            receiver: Some(receiver),
        }
    }
}

/// A client's subscription to one order; the order's channel goes with its last `Watch`.
#[derive(Debug)]
pub(crate) struct Watch {
    hub: Hub,
    order_id: String,
    receiver: Option<broadcast::Receiver<Arc<BusEvent>>>,
}

impl Watch {
    /// The next SSE event, or `None` when the hub has shut down.
    async fn next(&mut self) -> Option<Event> {
        let receiver = self.receiver.as_mut()?;
        match receiver.recv().await {
            Ok(event) => Some(to_sse(&event)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(
                Event::default()
                    .event("lagged")
                    .data(serde_json::json!({ "missed": missed }).to_string()),
            ),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut watchers = self.hub.lock();
        drop(self.receiver.take());
        if watchers
            .get(&self.order_id)
            .is_some_and(|watched| watched.sender.receiver_count() == 0)
        {
            watchers.remove(&self.order_id);
        }
    }
}

fn to_sse(event: &BusEvent) -> Event {
    // Header values cannot hold line breaks, but a field that did would make axum panic.
    let plain = |s: &str| !s.contains(['\r', '\n', '\0']);
    let mut sse = Event::default().data(&event.data);
    if plain(&event.kind) {
        sse = sse.event(&event.kind);
    }
    if let Some(id) = event.id.as_deref().filter(|id| plain(id)) {
        sse = sse.id(id);
    }
    sse
}

/// `GET /v1/orders/{id}/events`: a comment once subscribed, then one SSE event per event of
/// the order (`event:` its `ce-type`, `id:` its `ce-id`, `data:` its body as JSON; the
/// placement once, as `orders.placed.v2`), and a keep-alive comment when idle. Ends when the
/// gateway shuts down.
pub(crate) async fn order_events(State(state): State<AppState>, OrderId(order_id): OrderId) -> impl IntoResponse {
    let watch = state.events().watch(&order_id);
    let hello = Event::default().comment(format!("following the events of order {order_id}"));
    let events = stream::unfold(watch, |mut watch| async move {
        let event = watch.next().await?;
        Some((event, watch))
    });
    let stream = stream::once(async { hello })
        .chain(events)
        .map(Ok::<_, Infallible>)
        .take_until(state.shutdown().clone().cancelled_owned());
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(state.settings().keep_alive));
    // Tell buffering proxies (nginx) to pass events through as they come.
    ([(HeaderName::from_static("x-accel-buffering"), "no")], sse)
}

/// The body and its `order_id`, when the payload is a MessagePack map with a string `order_id`.
fn order_of(payload: &[u8]) -> Option<(String, rmpv::Value)> {
    let body = rmpv::decode::read_value(&mut &payload[..]).ok()?;
    let order_id = body.as_map()?.iter().find_map(|(key, value)| {
        (key.as_str() == Some("order_id"))
            .then(|| value.as_str().map(str::to_owned))
            .flatten()
    })?;
    Some((order_id, body))
}

/// MessagePack to JSON: map keys become strings, binary becomes an array of bytes, an
/// extension becomes `{"type", "data"}`, a non-finite float becomes `null`.
fn to_json(value: rmpv::Value) -> serde_json::Value {
    use rmpv::Value as M;
    use serde_json::Value as J;
    match value {
        M::Nil => J::Null,
        M::Boolean(b) => J::Bool(b),
        M::Integer(i) => i
            .as_u64()
            .map(J::from)
            .or_else(|| i.as_i64().map(J::from))
            .unwrap_or(J::Null),
        M::F32(f) => serde_json::Number::from_f64(f64::from(f)).map_or(J::Null, J::Number),
        M::F64(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        M::String(s) => J::String(text(&s)),
        M::Binary(bytes) => J::Array(bytes.into_iter().map(J::from).collect()),
        M::Array(items) => J::Array(items.into_iter().map(to_json).collect()),
        M::Map(entries) => J::Object(
            entries
                .into_iter()
                .map(|(key, value)| {
                    let key = match key {
                        M::String(s) => text(&s),
                        other => to_json(other).to_string(),
                    };
                    (key, to_json(value))
                })
                .collect(),
        ),
        M::Ext(kind, data) => serde_json::json!({ "type": kind, "data": data }),
    }
}

/// A MessagePack string; invalid UTF-8 is replaced, not dropped.
fn text(s: &rmpv::Utf8String) -> String {
    s.as_str()
        .map_or_else(|| String::from_utf8_lossy(s.as_bytes()).into_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_become_json_and_name_their_order() {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            order_id: &'a str,
            total_minor: i64,
            lines: Vec<(&'a str, u32)>,
            note: Option<&'a str>,
            ratio: f64,
        }
        let payload = rmp_serde::to_vec_named(&Body {
            order_id: "o-1",
            total_minor: -5,
            lines: vec![("sku-1", 2)],
            note: None,
            ratio: 0.5,
        })
        .expect("encodes");
        let (order, body) = order_of(&payload).expect("an order event");
        assert_eq!(order, "o-1");
        assert_eq!(
            to_json(body),
            serde_json::json!({"order_id": "o-1", "total_minor": -5, "lines": [["sku-1", 2]], "note": null, "ratio": 0.5})
        );
        let no_order = rmp_serde::to_vec_named(&serde_json::json!({"sku": "s"})).expect("encodes");
        assert!(order_of(&no_order).is_none());
        assert!(order_of(b"\xc1garbage").is_none());
        let numeric = rmp_serde::to_vec_named(&serde_json::json!({"order_id": 7})).expect("encodes");
        assert!(order_of(&numeric).is_none());
    }

    #[test]
    fn a_stray_line_break_never_reaches_axum() {
        let event = BusEvent {
            kind: "bad\ntype".into(),
            id: Some("a\rb".into()),
            data: "{}".into(),
        };
        let _ = to_sse(&event);
    }
}
