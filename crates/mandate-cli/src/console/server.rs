//! The routes and the page. The assets are compiled into the binary (`include_str!`): the
//! console runs from the single `mandate` binary with no build step and nothing to install.
//! Every API answer is JSON (or server-sent events); every error a JSON body (`error.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::error::ApiError;
use super::guard::{AllowedHosts, guard};
use super::{Console, component, deadletters, journey, redrive, replay};

const INDEX: &str = include_str!("assets/index.html");
const APP: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

type Shared = State<Arc<Console>>;

/// Where the console listens.
pub struct Listening {
    pub address: SocketAddr,
    pub served: tokio::task::JoinHandle<()>,
}

impl Listening {
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

pub async fn serve(console: Arc<Console>, allowed: AllowedHosts, listen: SocketAddr) -> anyhow::Result<Listening> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen} (pick another address with --listen)"))?;
    let address = listener.local_addr()?;
    let app = router(console).layer(axum::middleware::from_fn_with_state(allowed, guard));
    let served = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "the console stopped serving");
        }
    });
    Ok(Listening { address, served })
}

fn router(console: Arc<Console>) -> Router {
    let api = Router::new()
        .route(
            "/map",
            get(|State(c): Shared| async move { axum::Json((*c.topology).clone()) }),
        )
        .route("/live", get(|State(c): Shared| async move { c.sampled.events() }))
        .route(
            "/snapshot",
            get(|State(c): Shared| async move { axum::Json((*c.sampled.live()).clone()) }),
        )
        .route(
            "/components/{name}",
            get(|State(c): Shared, Path(name): Path<String>| async move { component::page(&c, &name).await }),
        )
        .route(
            "/dead-letters",
            get(|State(c): Shared| async move { deadletters::list(&c).await }),
        )
        .route(
            "/dead-letters/purge",
            post(|State(c): Shared, body| async move { deadletters::purge(&c, body).await }),
        )
        .route(
            "/dead-letters/redrive",
            post(|State(c): Shared, body| async move { redrive::start(&c, body).await }),
        )
        .route(
            "/redrive/{id}/events",
            get(|State(c): Shared, Path(id): Path<String>| async move { redrive::events(&c, &id) }),
        )
        .route(
            "/redrive/{id}/stop",
            post(|State(c): Shared, Path(id): Path<String>| async move { redrive::stop(&c, &id) }),
        )
        .route(
            "/dead-letters/{seq}",
            get(|State(c): Shared, Path(seq): Path<String>| async move { deadletters::show(&c, &seq).await }),
        )
        .route(
            "/dead-letters/{seq}/retry",
            post(|State(c): Shared, Path(seq): Path<String>| async move { deadletters::retry(&c, &seq).await }),
        )
        .route(
            "/journey/{id}",
            get(|State(c): Shared, Path(id): Path<String>, query| async move { journey::find(&c, &id, query).await }),
        )
        .route(
            "/replay/{name}",
            post(
                |State(c): Shared, Path(name): Path<String>, body| async move { replay::start(&c, &name, body).await },
            ),
        )
        .route(
            "/replay/{name}/events",
            get(|State(c): Shared, Path(name): Path<String>| async move { replay::events(&c, &name) }),
        )
        .fallback(|| async { ApiError::not_found("no such API route: the page lists what the console serves") });
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX) }))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP) }),
        )
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .nest("/api", api)
        .with_state(console)
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")], body)
}
