//! A link of the message chain (`policies.rs`): strict reading of what arrives
//! (docs/design.md) — a handler for the subject, a well-formed envelope whose `ce-type` and
//! `ce-source` are the subject's. A message that breaks a rule is refused, and nothing of it
//! runs. The body is decoded strictly by the handler (`handler::event_fn`, `codec/`).

use super::*;

impl Consumer {
    /// Passes the subscription and the envelope of `delivery` on to `next`, or refuses it.
    pub(super) fn strict(
        &self,
        delivery: &Delivery<'_>,
        next: impl FnOnce(&Subscription, &Meta) -> Handled,
    ) -> Handled {
        match self.classify(delivery.message) {
            Ok((subscription, meta)) => next(subscription, &meta),
            Err((kind, reason)) => Handled::Refused(kind, reason),
        }
    }

    /// Finds the handler and reads the envelope, or says why the message cannot be handled:
    /// no handler for the subject, a header missing or malformed (envelope.rs), a `ce-type`
    /// that is not the subject's, a `ce-source` that is not the subject's owner — the first
    /// found.
    fn classify(&self, message: &Message) -> Result<(&Subscription, Meta), (DeadLetterKind, String)> {
        let subject = message.subject.as_str();
        // A keyed event's subject carries its slot and key after the event's own four tokens.
        let subscription = self
            .handlers
            .get(crate::partition::event_subject(subject))
            .ok_or_else(|| (DeadLetterKind::UnknownType, format!("no handler for subject {subject}")))?;
        let meta = Meta::from_headers(message.headers.as_ref()).map_err(|e| {
            let kind = match e {
                EnvelopeError::Missing(_) => DeadLetterKind::MissingHeader,
                EnvelopeError::Invalid { .. } => DeadLetterKind::InvalidHeader,
            };
            (kind, e.to_string())
        })?;
        if meta.kind != subscription.ce_type {
            return Err((
                DeadLetterKind::UnknownType,
                format!(
                    "ce-type {:?} on subject {subject}: this component handles {} there",
                    envelope::shown(&meta.kind),
                    subscription.ce_type
                ),
            ));
        }
        if meta.source != subscription.owner {
            return Err((
                DeadLetterKind::InvalidHeader,
                format!(
                    "ce-source {:?} on subject {subject}: only its owner, {}, publishes there",
                    envelope::shown(&meta.source),
                    subscription.owner
                ),
            ));
        }
        Ok((subscription, meta))
    }
}
