//! The typed failures of the dead-letter operations (`commands/dlq.rs`), so that a caller can
//! tell them apart: the console answers a missing letter or DLQ with 404 and a retry JetStream
//! dropped as a duplicate with 409; the CLI prints each as the sentence it is.

use mandate::DEAD_LETTER_STREAM;

/// There is no dead letter at this sequence.
#[derive(Debug)]
pub struct NoSuchLetter(pub u64);

impl std::fmt::Display for NoSuchLetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DLQ has no message #{}: `mandate dlq list` shows the dead letters there are",
            self.0
        )
    }
}

impl std::error::Error for NoSuchLetter {}

/// There is no DLQ stream at all.
#[derive(Debug)]
pub struct NoDlqStream;

impl std::fmt::Display for NoDlqStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "there is no {DEAD_LETTER_STREAM} stream on this server, so nothing was dead-lettered here (every kit component creates it when it starts)"
        )
    }
}

impl std::error::Error for NoDlqStream {}

/// JetStream dropped a retry as a duplicate: the original's id is still inside its stream's
/// duplicate window. The dead letter stays in DLQ.
#[derive(Debug)]
pub struct DroppedAsDuplicate {
    pub stream: String,
    pub id: Option<String>,
    pub subject: String,
    /// When the original leaves the window, if it can be told.
    pub until: Option<String>,
}

impl std::fmt::Display for DroppedAsDuplicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "JetStream dropped the retry as a duplicate: {} already holds ce-id {} within its duplicate window{}. The dead letter stays in DLQ; retry after the window, or republish it under a new id with `mandate publish {} ... --id <new id>`",
            self.stream,
            self.id.as_deref().unwrap_or("?"),
            self.until.as_ref().map(|t| format!(" (until {t})")).unwrap_or_default(),
            self.subject,
        )
    }
}

impl std::error::Error for DroppedAsDuplicate {}
