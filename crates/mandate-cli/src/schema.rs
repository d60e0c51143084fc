//! The seam for contract validation of what the tool sends.
//!
//! **Not implemented yet**: validation of bodies against the committed JSON Schemas under
//! `schemas/` comes with the contract-artifacts milestone. Until then every JSON object is
//! accepted, and a wrong body is found by its consumer (which dead-letters it as
//! `undecodable`; `mandate dlq list` shows it). When the artifacts exist, this function reads
//! `schemas/<owner>/<name>.v<N>.json` (as a file: the tool never links the `schemas` crate)
//! and refuses a body that does not match, before anything is published.

use serde_json::Value;

use crate::subjects::EventSubject;

/// Checks `body` against the event's JSON Schema. Today: accepts everything (see module docs).
pub fn validate_event_body(_event: &EventSubject, _body: &Value) -> anyhow::Result<()> {
    Ok(())
}
