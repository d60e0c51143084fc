//! The typed failures of the dead-letter operations, so that a caller can tell them apart: the
//! console answers a missing letter or DLQ with 404; the CLI prints each as the sentence it
//! is. (A retry JetStream drops as a duplicate is not a failure but an outcome,
//! `retry::Outcome::InsideWindow`: the console answers it with 409.)

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
