//! Extractors that answer bad input with a JSON 4xx ([`ApiError`]) instead of axum's
//! plain-text rejections: JSON bodies (size, media type, syntax, shape), query strings, ids in
//! the path and the `Idempotency-Key` header.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::errors::ApiError;

/// The longest id or idempotency key accepted.
pub const MAX_ID_LEN: usize = 128;
/// The longest sku accepted (catalog's own rule).
pub const MAX_SKU_LEN: usize = 64;

/// Checks an order or customer id: 1 to [`MAX_ID_LEN`] characters among
/// `A-Z a-z 0-9 - _ . :`.
pub fn check_id(what: &str, value: &str) -> Result<(), ApiError> {
    check(what, value, MAX_ID_LEN, ":")
}

/// Checks a sku as catalog does: 1 to [`MAX_SKU_LEN`] characters among `A-Z a-z 0-9 - _ .`.
pub fn check_sku(what: &str, value: &str) -> Result<(), ApiError> {
    check(what, value, MAX_SKU_LEN, "")
}

fn check(what: &str, value: &str, max: usize, extra: &str) -> Result<(), ApiError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') || extra.contains(c);
    let problem = if value.is_empty() {
        Some("is empty".to_owned())
    } else if value.len() > max {
        Some(format!("is longer than {max} characters"))
    } else {
        value
            .chars()
            .find(|c| !allowed(*c))
            .map(|bad| format!("contains {bad:?}; use letters, digits and any of \"-_.{extra}\" only"))
    };
    match problem {
        Some(problem) => Err(ApiError::bad_request("invalid_id", format!("the {what} {problem}"))),
        None => Ok(()),
    }
}

/// A JSON request body of type `T` (the body limit is `body_limit.rs`'s). Answers 415 without a JSON content type,
/// 400 `invalid_json` for malformed JSON and 400 `invalid_body` for missing fields or wrong
/// types (naming the field).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request("invalid_json", "the request needs a JSON body"));
        }
        parse(&bytes).map(JsonBody)
    }
}

/// Like [`JsonBody`], but an empty body is `T::default()`.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse(&bytes).map(OptionalJsonBody)
    }
}

/// Reads the body (`body_limit.rs` has already held it to the limit); a non-empty body must
/// say it is JSON.
async fn read_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let headers = request.headers();
    let json = is_json(headers);
    let has_type = headers.contains_key(header::CONTENT_TYPE);
    let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
        ApiError::bad_request(
            "invalid_body",
            format!("cannot read the request body: {}", rejection.body_text()),
        )
    })?;
    if !bytes.is_empty() && !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            if has_type {
                "the request body must be JSON: send `Content-Type: application/json`"
            } else {
                "the request has a body but no content type: send `Content-Type: application/json`"
            },
        ));
    }
    Ok(bytes)
}

/// `application/json`, with parameters (`; charset=utf-8`), or any `application/*+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses JSON, naming the offending field on a shape error.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let syntax = |inner: serde_json::Error| {
        ApiError::bad_request("invalid_json", format!("the request body is not valid JSON: {inner}"))
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data if path == "." => {
                ApiError::bad_request("invalid_body", format!("the request body does not fit: {inner}"))
            }
            serde_json::error::Category::Data => ApiError::bad_request("invalid_body", format!("{path}: {inner}")),
            _ => syntax(inner),
        }
    })?;
    deserializer.end().map_err(syntax)?;
    Ok(value)
}

/// A query string of type `T`; a bad one is 400 `invalid_query`.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| QueryParams(value))
            .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
    }
}

/// `?after=<cursor>&limit=<n>` of a list route.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Page size: absent or 0 means 20, at most 100.
    pub limit: Option<u32>,
}

/// Reads the single path parameter and checks it with `check`.
async fn path_id(
    parts: &mut Parts,
    state: &AppState,
    what: &str,
    check: fn(&str, &str) -> Result<(), ApiError>,
) -> Result<String, ApiError> {
    let Path(value) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|rejection| {
            ApiError::bad_request(
                "invalid_id",
                format!("the {what} in the path: {}", rejection.body_text()),
            )
        })?;
    check(what, &value)?;
    Ok(value)
}

macro_rules! path_ids {
    ($($(#[$doc:meta])* $name:ident = $what:literal, $check:path;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
                path_id(parts, state, $what, $check).await.map($name)
            }
        }
    )*};
}

path_ids! {
    /// `{sku}` in the path, checked.
    Sku = "sku", check_sku;
    /// `{id}` of an order in the path, checked.
    OrderId = "order id", check_id;
    /// `{id}` of a customer in the path, checked.
    CustomerId = "customer id", check_id;
}

/// The `Idempotency-Key` header: required; 1 to [`MAX_ID_LEN`] visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

impl FromRequestParts<AppState> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY) else {
            return Err(ApiError::bad_request(
                "missing_idempotency_key",
                "this request changes state: send an `Idempotency-Key` header (e.g. a UUID) so that a retry does not repeat it",
            ));
        };
        let key = value
            .to_str()
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= MAX_ID_LEN && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_idempotency_key",
                    format!("the `Idempotency-Key` header must be 1 to {MAX_ID_LEN} visible ASCII characters"),
                )
            })?;
        Ok(IdempotencyKey(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_skus_are_short_and_plain() {
        for ok in [
            "sku-1",
            "0190f7a4-8c1e-7b7a-9f00-000000000001",
            "A.b_c:d",
            &"x".repeat(MAX_ID_LEN),
        ] {
            assert!(check_id("id", ok).is_ok(), "{ok:?} refused");
        }
        for bad in ["", "a b", "a/b", "é", "a\n", &"x".repeat(MAX_ID_LEN + 1), "a>", "*"] {
            let err = check_id("id", bad).expect_err(bad);
            assert_eq!((err.status, err.code.as_ref()), (StatusCode::BAD_REQUEST, "invalid_id"));
        }
        for ok in ["sku-1", "A.b_c", &"x".repeat(MAX_SKU_LEN)] {
            assert!(check_sku("sku", ok).is_ok(), "{ok:?} refused");
        }
        for bad in ["", "a:b", "a b", &"x".repeat(MAX_SKU_LEN + 1)] {
            assert!(check_sku("sku", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        name: String,
        quantity: u32,
    }

    #[test]
    fn parse_errors_say_what_and_where() {
        let code = |body: &str| parse::<Shape>(body.as_bytes()).expect_err(body).code;
        assert_eq!(code("{"), "invalid_json");
        assert_eq!(code(r#"{"name":"a","quantity":1} trailing"#), "invalid_json");
        assert_eq!(code(r#"{"name":"a"}"#), "invalid_body");
        assert_eq!(code(r#"{"name":"a","quantity":-1}"#), "invalid_body");
        let err = parse::<Shape>(br#"{"name":"a","quantity":"two"}"#).expect_err("wrong type");
        assert!(err.message.starts_with("quantity:"), "{}", err.message);
        assert!(parse::<Shape>(br#"{"name":"a","quantity":2,"extra":true}"#).is_ok());
    }

    #[test]
    fn json_media_types() {
        let with = |ct: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, ct.parse().expect("header"));
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
