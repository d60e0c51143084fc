//! Pages over one key prefix of the store. The cursor handed out is the last key of a page:
//! the store can continue right after it, and callers treat it as an opaque string.

use mandate::{ServiceError, View};
use schemas::paging::{Page, page_size};
use serde::de::DeserializeOwned;

/// Up to `limit` (see [`page_size`]) values under `prefix` after the cursor `after`, each
/// turned into an item by `item`. `next` is absent on the last page.
pub(crate) fn page<T: DeserializeOwned, U>(
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
