//! Paging, shared by every list operation: a cursor and a limit in, a page and the next
//! cursor out. Cursors are opaque strings; pass back `next` to continue.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most items a page holds, whatever `limit` asks for.
pub const MAX_PAGE: u32 = 100;
/// The page size when `limit` is 0 or absent.
pub const DEFAULT_PAGE: u32 = 20;

/// A page of `items`; `next` is the cursor of the following page, absent on the last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The effective page size for a requested `limit`.
pub fn page_size(limit: u32) -> usize {
    match limit {
        0 => DEFAULT_PAGE as usize,
        n => n.min(MAX_PAGE) as usize,
    }
}
