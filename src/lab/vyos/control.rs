//! The lab's control endpoint (plain HTTP, JSON): what tests, the demo and operators use to look
//! inside the emulated appliances and to inject faults. It is not part of any VyOS behaviour.
//!
//! Routes, per appliance under `/appliances/{name}`:
//! - `GET` → a summary: profile, up, pending commit-confirm, active/saved configs, sessions,
//!   reboots so far.
//! - `GET /active` (`?format=commands|boot|json`), `GET /saved`, `GET /working`.
//! - `GET /log` (`?since=SEQ`): every command received, oldest first.
//! - `GET /faults`, `POST /faults` (a JSON [`Faults`], replacing the current ones).
//! - `POST /reboot`: reboot now.
//! - `POST /exec` `{"command", "stdin"?, "user"?}`: runs the command as an SSH exec would
//!   (logged `via: control`), as the appliance's configured user unless the request names a
//!   login user that exists (404 otherwise), so a ForceCommand shim behind a real sshd can
//!   forward sessions; answers the exec result. It is the lab's console: a config that locks
//!   the management ports out does not hold its answer.
//!
//! `GET /` lists the appliances. Every request needs the lab's control token, because the
//! endpoint bypasses login and can reboot: either as `Authorization: Bearer TOKEN` or as the
//! path prefix `/t/TOKEN` (the `control` URL of each JSON line carries it); anything else is
//! a 401. Owns only this wiring; must not change appliance state except through [`Appliance`]
//! methods.

// Early returns carry a finished axum `Response`; boxing it would only add an allocation on
// the error path of a test emulator.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::appliance::{Appliance, Via};
use super::faults::Faults;
use crate::vyos::{BootStyle, render_boot, render_commands, render_json};

/// The appliances the endpoint serves, by name.
pub type Appliances = Arc<BTreeMap<String, Arc<Appliance>>>;

/// Whether two tokens are equal, comparing every byte whatever the first difference.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The control endpoint as a service: the token check of the module docs around [`router`].
pub fn service(
    appliances: Appliances,
    token: String,
) -> impl tower::Service<
    axum::extract::Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    let prefix = format!("/t/{token}");
    tower::ServiceExt::map_request(
        router(appliances),
        move |mut req: axum::extract::Request| {
            let bearer = req
                .headers()
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|t| same_token(t.trim(), &token));
            let path = req.uri().path().to_owned();
            let rest = path
                .strip_prefix(prefix.as_str())
                .filter(|r| r.is_empty() || r.starts_with('/'));
            let authorized = bearer || rest.is_some();
            let new_path = match (authorized, rest) {
                (false, _) => "/unauthorized".to_owned(),
                (true, Some("")) => "/".to_owned(),
                (true, Some(r)) => r.to_owned(),
                (true, None) => path,
            };
            let query = req
                .uri()
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            if let Ok(uri) = format!("{new_path}{query}").parse() {
                *req.uri_mut() = uri;
            }
            req
        },
    )
}

async fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "the lab's control token is required (Authorization: Bearer TOKEN, or the control URL of the JSON line)"})),
    )
        .into_response()
}

/// The control router (without the token check: see [`service`]).
pub fn router(appliances: Appliances) -> Router {
    Router::new()
        .route("/", get(list))
        .route("/unauthorized", axum::routing::any(unauthorized))
        .route("/appliances", get(list))
        .route("/appliances/{name}", get(summary))
        .route("/appliances/{name}/active", get(active))
        .route("/appliances/{name}/saved", get(saved))
        .route("/appliances/{name}/working", get(working))
        .route("/appliances/{name}/log", get(log))
        .route(
            "/appliances/{name}/faults",
            get(get_faults).post(set_faults),
        )
        .route("/appliances/{name}/reboot", post(reboot))
        .route("/appliances/{name}/exec", post(exec))
        .with_state(appliances)
}

fn find(all: &Appliances, name: &str) -> Result<Arc<Appliance>, Response> {
    all.get(name).cloned().ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no appliance named {name:?}")})),
        )
            .into_response()
    })
}

async fn list(State(all): State<Appliances>) -> Json<Value> {
    Json(Value::Array(
        all.values()
            .map(|a| json!({"name": a.name(), "profile": a.profile(), "up": a.is_up()}))
            .collect(),
    ))
}

async fn summary(State(all): State<Appliances>, Path(name): Path<String>) -> Response {
    let app = match find(&all, &name) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let sessions: Vec<Value> = app
        .working()
        .into_iter()
        .map(|(id, user, via, tree)| {
            json!({"session": id, "user": user, "via": via, "working": render_commands(&tree)})
        })
        .collect();
    Json(json!({
        "name": app.name(),
        "profile": app.profile(),
        "up": app.is_up(),
        "pending_confirm": app.pending_confirm(),
        "unsaved": app.unsaved(),
        "active": render_commands(&app.active()),
        "saved": app.saved(),
        "sessions": sessions,
        "revisions": app.archive().len(),
        "reboots": app.generation(),
        "faults": app.faults(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

async fn active(
    State(all): State<Appliances>,
    Path(name): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Response {
    let app = match find(&all, &name) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let tree = app.active();
    match q.format.as_deref().unwrap_or("commands") {
        "commands" => render_commands(&tree).into_response(),
        "boot" => render_boot(&tree, &BootStyle::vyos_1_5()).into_response(),
        "json" => render_json(&tree).into_response(),
        other => (
            StatusCode::BAD_REQUEST,
            format!("unknown format {other:?}: expected commands, boot or json\n"),
        )
            .into_response(),
    }
}

async fn saved(State(all): State<Appliances>, Path(name): Path<String>) -> Response {
    match find(&all, &name) {
        Ok(app) => app.saved().into_response(),
        Err(r) => r,
    }
}

async fn working(State(all): State<Appliances>, Path(name): Path<String>) -> Response {
    let app = match find(&all, &name) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let v: Vec<Value> = app
        .working()
        .into_iter()
        .map(|(id, user, via, tree)| {
            json!({"session": id, "user": user, "via": via, "working": render_commands(&tree)})
        })
        .collect();
    Json(Value::Array(v)).into_response()
}

#[derive(Deserialize)]
struct LogQuery {
    since: Option<u64>,
}

async fn log(
    State(all): State<Appliances>,
    Path(name): Path<String>,
    Query(q): Query<LogQuery>,
) -> Response {
    let app = match find(&all, &name) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let since = q.since.unwrap_or(0);
    let entries: Vec<_> = app.log().into_iter().filter(|e| e.seq > since).collect();
    Json(entries).into_response()
}

async fn get_faults(State(all): State<Appliances>, Path(name): Path<String>) -> Response {
    match find(&all, &name) {
        Ok(app) => Json(app.faults()).into_response(),
        Err(r) => r,
    }
}

async fn set_faults(
    State(all): State<Appliances>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let app = match find(&all, &name) {
        Ok(a) => a,
        Err(r) => return r,
    };
    match serde_json::from_str::<Faults>(&body) {
        Ok(f) => {
            app.set_faults(f);
            Json(app.faults()).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("bad faults: {e}")})),
        )
            .into_response(),
    }
}

async fn reboot(State(all): State<Appliances>, Path(name): Path<String>) -> Response {
    match find(&all, &name) {
        Ok(app) => {
            app.reboot_now();
            Json(json!({"rebooting": true})).into_response()
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecRequest {
    command: String,
    #[serde(default)]
    stdin: String,
    user: Option<String>,
}

async fn exec(State(all): State<Appliances>, Path(name): Path<String>, body: String) -> Response {
    let app = match find(&all, &name) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let req = match serde_json::from_str::<ExecRequest>(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("bad exec request: {e}")})),
            )
                .into_response();
        }
    };
    let user = match req.user {
        None => app.spec().user.clone(),
        Some(u) if app.user_exists(&u) => u,
        Some(u) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": format!("no login user {u:?} on {name}")})),
            )
                .into_response();
        }
    };
    let r = super::exec::run(app, user, Via::Control, req.command, req.stdin.into_bytes()).await;
    Json(json!({
        "stdout": String::from_utf8_lossy(&r.stdout),
        "stderr": String::from_utf8_lossy(&r.stderr),
        "exit_status": r.exit_status,
        "drop_connection": r.drop_connection,
    }))
    .into_response()
}
