//! Paging, shared by every list operation: a cursor and a limit in, a page and the next
//! cursor out. Cursors are opaque strings; pass back `next` to continue.

use mandate::{ServiceError, View};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The most items a page holds, whatever `limit` asks for.
pub const MAX_PAGE: u32 = 100;
/// The page size when `limit` is 0 or absent.
pub const DEFAULT_PAGE: u32 = 20;

/// A page of `items`; `next` is the cursor of the following page, absent on the last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
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

/// A page over one key prefix of a component's store, for list queries. The cursor handed
/// out is the last key of a page: the store continues right after it; callers treat it as an
/// opaque string.
///
/// Up to `limit` (see [`page_size`]) values under `prefix` after the cursor `after`, each
/// turned into an item by `item`. `next` is absent on the last page.
pub fn page<T: DeserializeOwned, U>(
    view: &View,
    prefix: &str,
    after: Option<&str>,
    limit: u32,
    item: impl Fn(T) -> U,
) -> Result<Page<U>, ServiceError> {
    if let Some(cursor) = after {
        // A cursor from another list (or made up) would silently page over the wrong keys.
        if !cursor.starts_with(prefix) {
            return Err(ServiceError::bad_request(format!(
                "cursor {cursor:?} does not belong to this list: pass back the `next` of the previous page"
            )));
        }
    }
    let size = page_size(limit);
    // One more than asked tells whether another page follows, so the last page says so.
    let mut entries = view.page::<T>(prefix, after, size + 1)?;
    let next = if entries.len() > size {
        entries.truncate(size);
        entries.last().map(|(key, _)| key.clone())
    } else {
        None
    };
    Ok(Page {
        items: entries.into_iter().map(|(_, value)| item(value)).collect(),
        next,
    })
}
