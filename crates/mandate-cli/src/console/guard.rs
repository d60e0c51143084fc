//! What keeps another web page from acting as the operator through a browser that can reach
//! the console. It has no login (it listens on 127.0.0.1 unless told otherwise), so:
//!
//! - a request that changes something (POST) must say `content-type: application/json`: a
//!   page of another origin cannot send that without the browser asking first (a CORS
//!   preflight), which the console never allows — no cross-site form can retry, purge or
//!   rebuild;
//! - the `Host` a request names must be an IP address, `localhost`, or a name given with
//!   `--allow-host`: a name of an attacker's resolving to 127.0.0.1 (DNS rebinding) is refused.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The host names the console answers to besides IP addresses and `localhost`.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(pub Arc<Vec<String>>);

pub async fn guard(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    if let Err(refused) = check(&allowed, &request) {
        return refused.into_response();
    }
    next.run(request).await
}

fn check(allowed: &AllowedHosts, request: &Request) -> Result<(), ApiError> {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().host())
        .unwrap_or("");
    if !host_allowed(host, &allowed.0) {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "the console does not answer to host {host:?}: open it by IP address or localhost, or start it with --allow-host {}",
                name_of(host)
            ),
        });
    }
    if request.method() == Method::POST && !is_json(request) {
        return Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "a request that changes something must be sent as content-type: application/json (a JSON body, `{}` when there is nothing to say)".into(),
        });
    }
    Ok(())
}

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// `host` without its port (an IPv6 literal keeps its brackets off).
fn name_of(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = name_of(host);
    name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_localhost_and_allowed_names_are_served_other_names_are_not() {
        let allowed = vec!["console.internal".to_owned()];
        for host in [
            "127.0.0.1:8290",
            "[::1]:8290",
            "10.0.0.5",
            "localhost:8290",
            "console.internal:80",
        ] {
            assert!(host_allowed(host, &allowed), "{host}");
        }
        for host in [
            "evil.example:8290",
            "",
            "127.0.0.1.evil.example",
            "localhost.evil.example:8290",
        ] {
            assert!(!host_allowed(host, &allowed), "{host}");
        }
    }
}
