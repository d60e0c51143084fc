//! What a handler sees: the component's state (read-your-writes, committed with the batch)
//! and a way to emit events (staged in the outbox of the same transaction).

use std::collections::BTreeSet;

use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::contract::Event;
use crate::envelope::{Cause, Meta, derived_event_id, derived_id};
use crate::outbox::{self, OutMessage, TooLarge};
use crate::store::{StoreError, Tx};

/// What an event handler returns; any error type converts with `?`.
pub type HandlerResult = Result<(), HandlerError>;
/// A handler's failure. The kit retries the event, then dead-letters it with this message.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// How ids of emitted events are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdPolicy {
    /// Derived from the causing event and the emit index, so a re-run emits the same ids.
    Derived,
    /// UUIDv7: a service call is not replayed, so each call's events are new.
    Fresh,
}

/// A handler's window on its own state and the outbox. Everything it writes or emits is
/// committed atomically with the stream position of the event it handles — or not at all.
///
/// # Idempotent on the business key, not only on the message id
///
/// The kit applies each *message* once: a redelivery (same stream sequence) is skipped. It
/// cannot know that two messages tell the same *fact*: an event published again under a
/// new `ce-id` (an owner's bug, an operator's `mandate import`, a dead letter retried under
/// a new id), or the two majors of one event during a migration, reach the handler as new
/// messages. So a handler makes each effect idempotent on its business key — the entity and
/// the transition — and never on [`Meta::id`](crate::envelope::Meta):
///
/// - keep the entity's state and skip a transition it has already made: an order's history
///   gains no second `reserved`, a shipment is one per order, a charge is decided once;
/// - key what you record by the entity, not by the event (a notification per order and
///   kind of event, not per `ce-id`); a command's idempotency key or an event's own id field
///   (`restock_id`) is a business key too;
/// - when the same fact is told twice with different details (a later time), pick the one
///   that stands by a rule that does not depend on arrival (the earlier time, the higher
///   revision), so a rebuild that meets the copies in another order ends the same;
/// - decide a question that two streams could race on (may this order still be cancelled?
///   may it ship?) in one owner, and tell the decision on that owner's one stream: order
///   holds only within a stream.
#[derive(Debug)]
pub struct Context<'a> {
    tx: &'a mut Tx,
    component: &'a str,
    declared: &'a BTreeSet<String>,
    meta: Option<&'a Meta>,
    cause: &'a Cause,
    ids: IdPolicy,
    emitted: u32,
    /// What [`Context::event_time`] says: the handled event's `ce-time`, or the moment a
    /// command started (also the `ce-time` of the events it emits, so that its own handler
    /// records the same time in a rebuild).
    time: String,
    /// True while a rebuild re-applies events that were handled before: their effects on
    /// other components already happened, so emitted events are discarded.
    replaying: bool,
    /// The server's max payload: an event larger than this could never be published.
    max_payload: usize,
    /// Set when an emit was refused as too large. The kit then refuses the command or
    /// dead-letters the event, whatever the code did with the error.
    pub(crate) too_large: Option<TooLarge>,
    /// The types of its own events the component handles (`Emitter::own`).
    own: &'a BTreeSet<String>,
    /// What was emitted here of those types: applied by their handlers in this transaction
    /// once the code that emitted them is done (`own.rs`).
    own_emitted: Vec<OwnEvent>,
}

/// One of the component's own events, emitted and to be applied by its own handler.
#[derive(Debug)]
pub(crate) struct OwnEvent {
    /// The event's type subject, `evt.<owner>.<event>.v<N>`: the handler's key.
    pub subject: String,
    pub meta: Meta,
    pub body: Vec<u8>,
}

/// Who emits through a [`Context`]: the component, the events it declared, and the server's
/// max payload (an event larger than this could never be published).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Emitter<'a> {
    pub component: &'a str,
    pub declared: &'a BTreeSet<String>,
    pub max_payload: usize,
    /// The subjects of its own events it also handles: emitting one applies it (`own.rs`).
    pub own: &'a BTreeSet<String>,
}

impl<'a> Context<'a> {
    /// An event handler's: ids derived from the event, its `ce-time` as the time, and —
    /// while `replaying` a rebuild — emitted events discarded.
    pub(crate) fn for_event(
        tx: &'a mut Tx,
        emitter: Emitter<'a>,
        meta: &'a Meta,
        cause: &'a Cause,
        replaying: bool,
    ) -> Context<'a> {
        Context {
            tx,
            component: emitter.component,
            declared: emitter.declared,
            meta: Some(meta),
            cause,
            ids: IdPolicy::Derived,
            emitted: 0,
            time: meta.time.clone(),
            replaying,
            max_payload: emitter.max_payload,
            too_large: None,
            own: emitter.own,
            own_emitted: Vec::new(),
        }
    }

    /// A command's: fresh ids, now as the time, never replayed.
    pub(crate) fn for_command(tx: &'a mut Tx, emitter: Emitter<'a>, cause: &'a Cause) -> Context<'a> {
        Context {
            tx,
            component: emitter.component,
            declared: emitter.declared,
            meta: None,
            cause,
            ids: IdPolicy::Fresh,
            emitted: 0,
            time: crate::envelope::now_rfc3339(),
            replaying: false,
            max_payload: emitter.max_payload,
            too_large: None,
            own: emitter.own,
            own_emitted: Vec::new(),
        }
    }

    /// The context in which the component's own handler applies `event`, one of its own
    /// events emitted here: this transaction, the event's envelope as the handled one's (so
    /// that its time and the ids it derives are those a rebuild will see), never replaying.
    pub(crate) fn for_own_event<'b>(&'b mut self, meta: &'b Meta, cause: &'b Cause) -> Context<'b> {
        let emitter = Emitter {
            component: self.component,
            declared: self.declared,
            max_payload: self.max_payload,
            own: self.own,
        };
        Context::for_event(&mut *self.tx, emitter, meta, cause, false)
    }

    /// The own events emitted here and not yet applied, in emit order.
    pub(crate) fn take_own_emitted(&mut self) -> Vec<OwnEvent> {
        std::mem::take(&mut self.own_emitted)
    }
}

impl Context<'_> {
    /// The value at `key` in this component's state, seeing this transaction's own writes.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.tx.get(key)
    }

    /// Writes `value` at `key`.
    pub fn put<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), StoreError> {
        self.tx.put(key, value)
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: &str) {
        self.tx.delete(key)
    }

    /// Every entry under `prefix`, in key order, seeing this transaction's own writes.
    pub fn scan<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>, StoreError> {
        self.tx.scan(prefix)
    }

    /// The envelope of the event being handled (`None` in a service call).
    pub fn meta(&self) -> Option<&Meta> {
        self.meta
    }

    /// The correlation id that every event emitted here will carry.
    pub fn correlation_id(&self) -> &str {
        &self.cause.correlation_id
    }

    /// A new id for something this handler creates (a payment, a shipment, an order).
    /// In an event handler it is derived from the event and `label`, so a rebuild or a retry
    /// creates the same id; in a command it is a fresh UUIDv7.
    pub fn new_id(&self, label: &str) -> String {
        match self.ids {
            IdPolicy::Derived => derived_id(self.component, &self.cause.id, label),
            IdPolicy::Fresh => Uuid::now_v7().to_string(),
        }
    }

    /// The time to record for what happens here: the event's `ce-time` in a handler (so a
    /// rebuild records the same time), now in a command. RFC 3339.
    pub fn event_time(&self) -> String {
        self.time.clone()
    }

    /// True while a rebuild re-applies events handled before (emitted events are discarded).
    pub fn is_replaying(&self) -> bool {
        self.replaying
    }

    /// Emits `event`: it is staged in the outbox with this transaction and published after
    /// the commit. Only the event's owner may emit it, and only if it declared it with
    /// [`Component::publishes`](crate::Component::publishes).
    ///
    /// An event larger than the server's max payload (body plus envelope) could never be
    /// published: `emit` fails with [`TooLarge`], and the kit refuses the command (413,
    /// nothing committed) or dead-letters the handled event at once, without retries —
    /// whatever the code does with the error.
    pub fn emit<E: Event>(&mut self, event: &E) -> Result<(), HandlerError> {
        let kind = E::ce_type();
        if E::OWNER != self.component {
            return Err(format!(
                "component {} may not publish {kind}: only its owner {} may",
                self.component,
                E::OWNER
            )
            .into());
        }
        if !self.declared.contains(&kind) {
            return Err(format!(
                "{kind} is not declared: add `.publishes::<{}>()` to the component",
                std::any::type_name::<E>()
            )
            .into());
        }
        let index = self.emitted;
        self.emitted += 1;
        let id = match self.ids {
            IdPolicy::Derived => derived_event_id(self.component, &self.cause.id, index),
            IdPolicy::Fresh => Uuid::now_v7().to_string(),
        };
        let mut meta = Meta::caused_by(self.cause, id, self.component, kind);
        if self.ids == IdPolicy::Fresh {
            meta.time = self.time.clone();
        }
        let body = rmp_serde::to_vec_named(event)?;
        let subject = E::publish_subject(&body)?;
        // Most components handle none of their own events: no subject is made for them.
        let own = (!self.own.is_empty())
            .then(E::subject)
            .filter(|subject| self.own.contains(subject))
            .map(|subject| (subject, body.clone()));
        let message = OutMessage::event(subject, &meta, body);
        // Checked in a rebuild too, so that a message refused the first time is refused again
        // and its handler's writes are discarded again.
        if let Err(too_large) = message.check_fits(|| format!("event {}", meta.kind), self.max_payload) {
            self.too_large = Some(too_large.clone());
            return Err(too_large.into());
        }
        if self.replaying {
            tracing::debug!(kind = %meta.kind, "rebuild: not re-publishing an event published before");
            return Ok(());
        }
        outbox::stage(self.tx, &message)?;
        if let Some((subject, body)) = own {
            self.own_emitted.push(OwnEvent { subject, meta, body });
        }
        Ok(())
    }
}
