//! The HTTP API: health, readiness, metrics and the `/v1` endpoints.
//!
//! Owns: routing, bearer-token authentication ([`auth`]: 401 without a valid token, 403 for a
//! missing scope), tenant isolation (a tenant's token sees only appliances labelled with its
//! tenant; any other name answers 404, exactly as a name that does not exist), request size
//! and time limits, and JSON errors `{code, message}`. What the endpoints report and do comes
//! from a [`Backend`] (the daemon), so that this module holds no daemon state.
//! Must not reach devices or the journal itself, and must not echo a token.

pub mod auth;
pub mod metrics;
pub mod tls;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

pub use auth::{Scope, Token, Tokens};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// Longest a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A boxed future, for the backend's async calls.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An error answered as `{code, message}` with an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: status.as_u16(),
            code,
            message: message.into(),
        }
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "VNF_NOT_FOUND", format!("no {what}"))
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VNF_INVALID", message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "VNF_UNAVAILABLE", message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "VNF_INTERNAL", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (
            status,
            axum::Json(json!({"code": self.code, "message": self.message})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// What readiness needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub journal_open: bool,
    pub commit_loaded: bool,
    pub recovery_done: bool,
}

/// An appliance as far as access control goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visible {
    pub name: String,
    /// The appliance's `tenant` label.
    pub tenant: Option<String>,
}

/// Which appliances a request may see: `None` for all (a token without tenant).
pub type View = Option<BTreeSet<String>>;

/// The `/v1/operations` filters, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsParams {
    pub appliance: Option<String>,
    pub state: Option<String>,
    pub kind: Option<String>,
    pub commit: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// The write actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Sync,
    Probe,
    Resume,
    Approve,
}

/// Where `POST /v1/appliances/{name}/rollback` returns an appliance (as `vnfsync rollback`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackTo {
    /// The last good snapshot the journal knows (no query).
    LastGood,
    /// `?snapshot=ID`.
    Snapshot(String),
    /// `?to_commit=SHA`: that commit, rendered and applied with the same safety as `apply`.
    Commit(String),
}

/// What the daemon provides to the API.
pub trait Backend: Send + Sync + 'static {
    fn readiness(&self) -> Readiness;
    fn metrics(&self) -> String;
    /// Every appliance the served commit declares, with its tenant.
    fn appliances(&self) -> Vec<Visible>;
    fn status<'a>(&'a self, view: &'a View) -> BoxFut<'a, Value>;
    /// The list view of `/v1/appliances`.
    fn appliance_list<'a>(&'a self, view: &'a View) -> BoxFut<'a, Value>;
    fn appliance<'a>(&'a self, name: &'a str) -> BoxFut<'a, Option<Value>>;
    fn diff<'a>(&'a self, name: &'a str) -> BoxFut<'a, Result<Value, ApiError>>;
    fn operations<'a>(
        &'a self,
        params: OpsParams,
        view: &'a View,
    ) -> BoxFut<'a, Result<Value, ApiError>>;
    fn dictionaries(&self, view: &View) -> Value;
    fn commit(&self, sha: &str, view: &View) -> Option<Value>;
    /// The snapshots the journal indexes for one appliance (ids, commits, times; never their
    /// content).
    fn snapshots<'a>(&'a self, name: &'a str) -> BoxFut<'a, Result<Value, ApiError>>;
    /// Return one appliance to a snapshot or an earlier commit.
    fn rollback<'a>(&'a self, name: &'a str, to: RollbackTo)
    -> BoxFut<'a, Result<Value, ApiError>>;
    /// Run an action on one appliance, or (sync only) on every visible one.
    fn act<'a>(
        &'a self,
        action: Action,
        appliance: Option<&'a str>,
        view: &'a View,
    ) -> BoxFut<'a, Result<Value, ApiError>>;
}

struct Ctx {
    backend: Arc<dyn Backend>,
    tokens: Tokens,
}

type Shared = State<Arc<Ctx>>;

/// The authenticated caller.
struct Caller {
    token: Token,
}

impl FromRequestParts<Arc<Ctx>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Ctx>) -> Result<Self, ApiError> {
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "VNF_AUTH",
                "a valid bearer token is required",
            )
        };
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unauthorized)?;
        let presented = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(unauthorized)?
            .trim();
        let token = ctx.tokens.find(presented).ok_or_else(unauthorized)?;
        Ok(Caller {
            token: token.clone(),
        })
    }
}

impl Caller {
    fn need(&self, scope: Scope) -> Result<(), ApiError> {
        if self.token.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "VNF_FORBIDDEN",
                format!(
                    "token `{}` lacks the `{}` scope",
                    self.token.name,
                    match scope {
                        Scope::Read => "read",
                        Scope::Write => "write",
                    }
                ),
            ))
        }
    }

    fn view(&self, backend: &dyn Backend) -> View {
        let tenant = self.token.tenant.as_ref()?;
        Some(
            backend
                .appliances()
                .into_iter()
                .filter(|a| a.tenant.as_ref() == Some(tenant))
                .map(|a| a.name)
                .collect(),
        )
    }

    /// The name, if this caller may see it; otherwise 404, as for a name that does not exist.
    fn see(&self, backend: &dyn Backend, name: &str) -> Result<(), ApiError> {
        let exists = backend.appliances().into_iter().any(|a| {
            a.name == name
                && self
                    .token
                    .tenant
                    .as_ref()
                    .is_none_or(|t| a.tenant.as_ref() == Some(t))
        });
        if exists {
            Ok(())
        } else {
            Err(ApiError::not_found(&format!("appliance `{name}`")))
        }
    }
}

/// The router over a backend and the accepted tokens.
pub fn router(backend: Arc<dyn Backend>, tokens: Tokens) -> Router {
    let ctx = Arc::new(Ctx { backend, tokens });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/v1/status", get(status))
        .route("/v1/appliances", get(appliances))
        .route("/v1/appliances/{name}", get(appliance))
        .route("/v1/appliances/{name}/diff", get(diff))
        .route("/v1/appliances/{name}/snapshots", get(snapshots))
        .route("/v1/appliances/{name}/probe", post(probe))
        .route("/v1/appliances/{name}/rollback", post(rollback))
        .route("/v1/appliances/{name}/resume", post(resume))
        .route("/v1/appliances/{name}/approve", post(approve))
        .route("/v1/operations", get(operations))
        .route("/v1/dictionaries", get(dictionaries))
        .route("/v1/commits/{sha}", get(commit))
        .route("/v1/sync", post(sync))
        .fallback(|| async { ApiError::not_found("such endpoint") })
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(ctx)
}

type Json = Result<axum::Json<Value>, ApiError>;

async fn healthz() -> axum::Json<Value> {
    axum::Json(json!({"status": "alive"}))
}

async fn readyz(State(ctx): Shared) -> Response {
    let r = ctx.backend.readiness();
    let ok = r.journal_open && r.commit_loaded && r.recovery_done;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(json!({"ready": ok, "checks": r}))).into_response()
}

async fn metrics_text(
    State(ctx): Shared,
    caller: Caller,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    caller.need(Scope::Read)?;
    if caller.token.tenant.is_some() {
        // Metrics name every appliance: a tenant's token may not read them.
        return Err(ApiError::not_found("such endpoint"));
    }
    let text = ctx.backend.metrics();
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    Ok(if openmetrics {
        ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
    } else {
        (
            [(header::CONTENT_TYPE, metrics::CLASSIC_CONTENT_TYPE)],
            metrics::classic(&text),
        )
            .into_response()
    })
}

async fn status(State(ctx): Shared, caller: Caller) -> Json {
    caller.need(Scope::Read)?;
    let view = caller.view(&*ctx.backend);
    Ok(axum::Json(ctx.backend.status(&view).await))
}

async fn appliances(State(ctx): Shared, caller: Caller) -> Json {
    caller.need(Scope::Read)?;
    let view = caller.view(&*ctx.backend);
    Ok(axum::Json(ctx.backend.appliance_list(&view).await))
}

async fn appliance(State(ctx): Shared, caller: Caller, Path(name): Path<String>) -> Json {
    caller.need(Scope::Read)?;
    caller.see(&*ctx.backend, &name)?;
    ctx.backend
        .appliance(&name)
        .await
        .map(axum::Json)
        .ok_or_else(|| ApiError::not_found(&format!("appliance `{name}`")))
}

async fn diff(State(ctx): Shared, caller: Caller, Path(name): Path<String>) -> Json {
    caller.need(Scope::Read)?;
    caller.see(&*ctx.backend, &name)?;
    ctx.backend.diff(&name).await.map(axum::Json)
}

async fn snapshots(State(ctx): Shared, caller: Caller, Path(name): Path<String>) -> Json {
    caller.need(Scope::Read)?;
    caller.see(&*ctx.backend, &name)?;
    ctx.backend.snapshots(&name).await.map(axum::Json)
}

async fn operations(
    State(ctx): Shared,
    caller: Caller,
    params: Result<Query<OpsParams>, axum::extract::rejection::QueryRejection>,
) -> Json {
    caller.need(Scope::Read)?;
    let Query(params) = params.map_err(|e| ApiError::invalid(e.body_text()))?;
    if let Some(a) = &params.appliance {
        caller.see(&*ctx.backend, a)?;
    }
    let view = caller.view(&*ctx.backend);
    ctx.backend.operations(params, &view).await.map(axum::Json)
}

async fn dictionaries(State(ctx): Shared, caller: Caller) -> Json {
    caller.need(Scope::Read)?;
    let view = caller.view(&*ctx.backend);
    Ok(axum::Json(ctx.backend.dictionaries(&view)))
}

async fn commit(State(ctx): Shared, caller: Caller, Path(sha): Path<String>) -> Json {
    caller.need(Scope::Read)?;
    let view = caller.view(&*ctx.backend);
    ctx.backend
        .commit(&sha, &view)
        .map(axum::Json)
        .ok_or_else(|| ApiError::not_found(&format!("commit `{sha}`")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncParams {
    appliance: Option<String>,
}

async fn sync(
    State(ctx): Shared,
    caller: Caller,
    params: Result<Query<SyncParams>, axum::extract::rejection::QueryRejection>,
) -> Json {
    caller.need(Scope::Write)?;
    let Query(params) = params.map_err(|e| ApiError::invalid(e.body_text()))?;
    if let Some(a) = &params.appliance {
        caller.see(&*ctx.backend, a)?;
    }
    let view = caller.view(&*ctx.backend);
    ctx.backend
        .act(Action::Sync, params.appliance.as_deref(), &view)
        .await
        .map(axum::Json)
}

async fn act_on(ctx: &Ctx, caller: &Caller, action: Action, name: &str) -> Json {
    caller.need(Scope::Write)?;
    caller.see(&*ctx.backend, name)?;
    let view = caller.view(&*ctx.backend);
    ctx.backend
        .act(action, Some(name), &view)
        .await
        .map(axum::Json)
}

async fn probe(State(ctx): Shared, caller: Caller, Path(name): Path<String>) -> Json {
    act_on(&ctx, &caller, Action::Probe, &name).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackParams {
    snapshot: Option<String>,
    to_commit: Option<String>,
}

async fn rollback(
    State(ctx): Shared,
    caller: Caller,
    Path(name): Path<String>,
    params: Result<Query<RollbackParams>, axum::extract::rejection::QueryRejection>,
) -> Json {
    caller.need(Scope::Write)?;
    caller.see(&*ctx.backend, &name)?;
    let Query(params) = params.map_err(|e| ApiError::invalid(e.body_text()))?;
    let to = match (params.snapshot, params.to_commit) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give `snapshot` or `to_commit`, not both",
            ));
        }
        (Some(id), None) => RollbackTo::Snapshot(id),
        (None, Some(sha)) => RollbackTo::Commit(sha),
        (None, None) => RollbackTo::LastGood,
    };
    ctx.backend.rollback(&name, to).await.map(axum::Json)
}

async fn resume(State(ctx): Shared, caller: Caller, Path(name): Path<String>) -> Json {
    act_on(&ctx, &caller, Action::Resume, &name).await
}

async fn approve(State(ctx): Shared, caller: Caller, Path(name): Path<String>) -> Json {
    act_on(&ctx, &caller, Action::Approve, &name).await
}

#[cfg(test)]
mod tests;
