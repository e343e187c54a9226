//! The VyOS HTTP API of an emulated appliance (reference §5): `/retrieve`, `/configure`,
//! `/configure-section` (1.4+), `/config-file`, `/show`, and `/info` on 1.5, over plain HTTP/1.1 on loopback (the real box
//! speaks HTTPS through nginx; TLS is left out of the lab).
//!
//! Owns the request formats (JSON body, urlencoded and multipart forms; the key in the body),
//! the `{"success","data","error"}` envelope written as Python's `json.dumps` writes it, with
//! `Content-Type: text/html`, the status codes and messages of §5.3, nginx's 1 MB body limit,
//! the one shared API session behind a global lock, and the connection handling that makes
//! lockout, reboots and the drop/hang faults real: refused connections are closed at once,
//! requests on a kept-alive connection while locked out never get an answer, an answer the
//! config now drops (the request that locked the API out, unless established traffic is
//! accepted) never arrives, and a dropped connection is closed without a response. Must not implement VyOS semantics: every change
//! goes through [`Appliance`].

// Early returns carry a finished axum `Response`; boxing it would only add an allocation on
// the error path of a test emulator.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::appliance::{API_SESSION, Appliance, CommitStatus, Service, Via};
use super::faults::Action;
use super::frontend::Admission;
use super::opmode::op_command;
use super::profile::Profile;
use super::schema::SchemaError;
use super::session::SessionError;
use crate::vyos::{BootStyle, Command, ConfigTree, Op, render_boot};

/// nginx's default `client_max_body_size` for the API (§5.1).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Per-connection handle a handler uses to drop its connection (fault: drop).
#[derive(Clone)]
struct Conn {
    kill: Arc<Notify>,
    peer: SocketAddr,
}

/// Serves the API of `app` on `listener` until the listener fails.
pub async fn serve_api(listener: TcpListener, app: Arc<Appliance>) -> std::io::Result<()> {
    let router = router(app.clone());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(appliance = app.name(), error = %e, "api accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if app.admission(Service::Api, peer.ip()) == Admission::Refuse {
            // Closed at once: the client sees a reset, as a refused or dropped connection.
            let _ = stream.set_zero_linger();
            drop(stream);
            continue;
        }
        let router = router.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let conn = Conn {
                kill: kill.clone(),
                peer,
            };
            let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(conn.clone());
                let r = router.clone();
                let app = app.clone();
                let kill_conn = conn.kill.clone();
                async move {
                    use tower::ServiceExt as _;
                    let resp = r.oneshot(req.map(Body::new)).await;
                    // The answer travels on an open connection: if the config now drops it (a
                    // lockout by this very request, or a reboot), it never arrives.
                    if app.admission_established(Service::Api, peer.ip()) == Admission::Refuse
                        && !app.hold_while_dropped(Service::Api, peer.ip()).await
                    {
                        // Rebooted meanwhile: the connection is gone.
                        kill_conn.notify_one();
                        return std::future::pending().await;
                    }
                    resp
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let serving = hyper::server::conn::http1::Builder::new().serve_connection(io, svc);
            tokio::select! {
                _ = serving => {}
                () = kill.notified() => {}
            }
        });
    }
}

/// The axum router of one appliance's API.
pub fn router(app: Arc<Appliance>) -> Router {
    Router::new()
        .route("/retrieve", post(retrieve).fallback(method_not_allowed))
        .route("/configure", post(configure).fallback(method_not_allowed))
        .route(
            "/config-file",
            post(config_file).fallback(method_not_allowed),
        )
        .route(
            "/configure-section",
            post(configure_section).fallback(method_not_allowed),
        )
        .route("/show", post(show).fallback(method_not_allowed))
        .route("/info", get(info))
        .fallback(not_found)
        .with_state(app)
}

// ---- responses ------------------------------------------------------------------------------

/// Python's `json.dumps` with its default separators and `ensure_ascii`.
fn py_dumps(v: &Value) -> String {
    let mut s = String::new();
    py_write(&mut s, v);
    s
}

fn py_write(s: &mut String, v: &Value) {
    match v {
        Value::Null => s.push_str("null"),
        Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => s.push_str(&n.to_string()),
        Value::String(t) => py_string(s, t),
        Value::Array(a) => {
            s.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                py_write(s, x);
            }
            s.push(']');
        }
        Value::Object(o) => {
            s.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                py_string(s, k);
                s.push_str(": ");
                py_write(s, x);
            }
            s.push('}');
        }
    }
}

fn py_string(s: &mut String, t: &str) {
    s.push('"');
    for c in t.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\u{8}' => s.push_str("\\b"),
            '\u{c}' => s.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    let _ = write!(s, "\\u{u:04x}");
                }
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn success(data: Value) -> Response {
    // vyos-1x `success()`: `json.dumps({"success": True, "data": data, "error": None})`.
    html(
        StatusCode::OK,
        format!(
            "{{\"success\": true, \"data\": {}, \"error\": null}}",
            py_dumps(&data)
        ),
    )
}

/// `success()` with data already written as Python JSON.
fn success_raw(data: &str) -> Response {
    html(
        StatusCode::OK,
        format!("{{\"success\": true, \"data\": {data}, \"error\": null}}"),
    )
}

/// The JSON of a config subtree as the API sends it: `render_json`'s shape (§2.3), keys in the
/// tree's natural order, written the way `json.dumps` writes it.
fn tree_json(node: &crate::vyos::Node) -> String {
    let mut s = String::from("{");
    for (i, c) in node.children().iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        py_string(&mut s, c.name());
        s.push_str(": ");
        if !c.children().is_empty() {
            s.push_str(&tree_json(c));
        } else {
            match c.values() {
                [] => s.push_str("{}"),
                [v] => py_string(&mut s, v),
                vs => {
                    s.push('[');
                    for (j, v) in vs.iter().enumerate() {
                        if j > 0 {
                            s.push_str(", ");
                        }
                        py_string(&mut s, v);
                    }
                    s.push(']');
                }
            }
        }
    }
    s.push('}');
    s
}

fn error(code: StatusCode, msg: &str) -> Response {
    let mut m = String::new();
    py_string(&mut m, msg);
    html(
        code,
        format!("{{\"success\": false, \"error\": {m}, \"data\": null}}"),
    )
}

fn nginx_page(code: StatusCode) -> Response {
    // nginx keeps the old RFC 2616 name of 413.
    let reason = match code {
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        c => c.canonical_reason().unwrap_or_default(),
    };
    let title = format!("{} {reason}", code.as_u16());
    html(
        code,
        format!(
            "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        ),
    )
}

async fn not_found() -> Response {
    nginx_page(StatusCode::NOT_FOUND)
}

// ---- requests -------------------------------------------------------------------------------

/// A parsed request body: the key and the `data` value.
struct Parsed {
    key: Option<String>,
    data: Value,
    form: bool,
}

enum Reject {
    Response(Response),
}

fn parse_json(text: &str) -> Result<Value, Response> {
    serde_json::from_str(text).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("Failed to parse JSON: {e}"),
        )
    })
}

fn multipart_fields(content_type: &str, body: &[u8]) -> Option<BTreeMap<String, String>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let text = String::from_utf8_lossy(body);
    let delim = format!("--{boundary}");
    let mut out = BTreeMap::new();
    for part in text.split(delim.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let (head, value) = part.split_once("\r\n\r\n")?;
        let name = head
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("name="))
            .map(|n| n.trim_matches('"').to_owned())?;
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        out.insert(name, value.to_owned());
    }
    Some(out)
}

async fn parse_body(headers: &HeaderMap, body: Body) -> Result<Parsed, Reject> {
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| Reject::Response(nginx_page(StatusCode::PAYLOAD_TOO_LARGE)))?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let fields = if ct.starts_with("application/json") {
        let text = String::from_utf8_lossy(&bytes);
        let v = parse_json(&text).map_err(Reject::Response)?;
        let Value::Object(mut o) = v else {
            return Err(Reject::Response(error(
                StatusCode::BAD_REQUEST,
                "Failed to parse JSON: expected an object",
            )));
        };
        let key = match o.remove("key") {
            Some(Value::String(k)) => Some(k),
            _ => None,
        };
        let data = match o.remove("commands") {
            // A batch keeps its `confirm_time` (never commit dropping the timer).
            Some(cmds) => match o.remove("confirm_time") {
                Some(t) => json!({"commands": cmds, "confirm_time": t}),
                None => cmds,
            },
            None => Value::Object(o),
        };
        return Ok(Parsed {
            key,
            data,
            form: false,
        });
    } else if ct.starts_with("multipart/form-data") {
        multipart_fields(&ct_original(headers), &bytes).unwrap_or_default()
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .map(|v| v.into_iter().collect())
            .unwrap_or_default()
    };
    let key = fields.get("key").cloned();
    let data = match fields.get("data").filter(|d| !d.is_empty()) {
        Some(d) => parse_json(d).map_err(Reject::Response)?,
        None => Value::Null,
    };
    Ok(Parsed {
        key,
        data,
        form: true,
    })
}

fn ct_original(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Admission, parsing, faults and the key check shared by every POST endpoint. `Ok` gives the
/// request data and the latency to spend.
async fn prelude(
    app: &Arc<Appliance>,
    conn: &Conn,
    endpoint: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Value, Duration), Response> {
    if app.admission(Service::Api, conn.peer.ip()) == Admission::Refuse {
        // Locked out or rebooting: the packets of a kept-alive connection go nowhere.
        return Err(std::future::pending::<Response>().await);
    }
    let parsed = match parse_body(headers, body).await {
        Ok(p) => p,
        Err(Reject::Response(r)) => {
            app.record(Via::Api, "api", &format!("{endpoint} (rejected body)"));
            return Err(r);
        }
    };
    let summary = summarize(&parsed.data);
    let latency = match app.on_command(Via::Api, "api", &format!("{endpoint} {summary}")) {
        Action::Drop => {
            conn.kill.notify_one();
            return Err(std::future::pending::<Response>().await);
        }
        Action::Hang => return Err(std::future::pending::<Response>().await),
        Action::Run { latency } => latency,
    };
    if parsed.form && parsed.data.is_null() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Non-empty data field is required",
        ));
    }
    match parsed.key.as_deref() {
        None if parsed.form && app.profile() == Profile::V13 => {
            return Err(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                py_dumps(
                    &json!({"detail": [{"loc": ["body", "key"], "msg": "field required", "type": "value_error.missing"}]}),
                ),
            ));
        }
        Some(k) if app.api_key_valid(k) => {}
        _ => {
            return Err(error(StatusCode::UNAUTHORIZED, "Valid API key is required"));
        }
    }
    Ok((parsed.data, latency))
}

/// The log line of a request: `op path...` per command, `; `-separated.
fn summarize(data: &Value) -> String {
    let one = |c: &Value| -> String {
        let op = c.get("op").and_then(Value::as_str).unwrap_or("?");
        let mut s = op.to_owned();
        if let Some(Value::Array(p)) = c.get("path") {
            for w in p {
                s.push(' ');
                s.push_str(w.as_str().unwrap_or("?"));
            }
        }
        if let Some(v) = c.get("value").and_then(Value::as_str) {
            let _ = write!(s, " '{v}'");
        }
        if let Some(f) = c.get("file").and_then(Value::as_str) {
            let _ = write!(s, " {f}");
        }
        if let Some(t) = c.get("confirm_time") {
            let _ = write!(s, " confirm_time={t}");
        }
        s
    };
    match data {
        Value::Array(a) => a.iter().map(one).collect::<Vec<_>>().join("; "),
        Value::Object(o) if o.get("commands").is_some_and(Value::is_array) => {
            let mut s = o
                .get("commands")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(one).collect::<Vec<_>>().join("; "))
                .unwrap_or_default();
            if let Some(t) = o.get("confirm_time") {
                let _ = write!(s, " confirm_time={t}");
            }
            s
        }
        Value::Null => String::new(),
        v => one(v),
    }
}

/// A missing field, as vyos-1x's validation handler reports Pydantic's (v1, Debian bookworm)
/// first error: `error(400, str(exc.errors()[0]))`.
fn missing_field(field: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        &format!(
            "{{'loc': ('body', '{field}'), 'msg': 'field required', 'type': 'value_error.missing'}}"
        ),
    )
}

/// FastAPI's answer to a method the route does not take.
async fn method_not_allowed() -> Response {
    let mut r = (
        StatusCode::METHOD_NOT_ALLOWED,
        "{\"detail\":\"Method Not Allowed\"}",
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn op_of(data: &Value) -> Option<&str> {
    data.get("op").and_then(Value::as_str)
}

fn invalid_op(op: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        &format!("'{op}' is not a valid operation"),
    )
}

fn path_of(c: &Value) -> Result<Vec<String>, Response> {
    let malformed = || {
        error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Malformed command \"{}\": missing \"path\" field",
                py_dumps(c)
            ),
        )
    };
    match c.get("path") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|w| match w {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "Malformed command \"{}\": path must be a list of strings",
                        py_dumps(c)
                    ),
                )),
            })
            .collect(),
        Some(Value::String(s)) => Ok(s.split_whitespace().map(str::to_owned).collect()),
        _ => Err(malformed()),
    }
}

/// Python's `repr` of a JSON value, as a validation error dict shows the input.
fn py_repr(v: &Value) -> String {
    match v {
        Value::String(t) => format!("'{}'", t.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        other => py_dumps(other),
    }
}

/// `confirm_time` as the 1.5 API's request model reads it: a lax `int` (pydantic 2, as the
/// builds that have the field ship): an integer, a string of one (`"5"`), a float without a
/// fractional part or a bool is coerced; anything else is the validation error, a 400 with the
/// first error dict, and nothing runs. Older builds have no such field and ignore it (§5.4).
/// Zero or negative: no commit-confirm.
fn confirm_time(app: &Appliance, data: &Value) -> Result<u64, Response> {
    if !app.profile().api_commit_confirm() {
        return Ok(0);
    }
    let Some(v) = data.get("confirm_time") else {
        return Ok(0);
    };
    let invalid = |kind: &str, msg: &str| {
        error(
            StatusCode::BAD_REQUEST,
            &format!(
                "{{'type': '{kind}', 'loc': ('body', 'confirm_time'), 'msg': '{msg}', 'input': {}}}",
                py_repr(v)
            ),
        )
    };
    let n: i128 = match v {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i128::from(i),
            (_, Some(u), _) => i128::from(u),
            // A float cast saturates; the fraction is zero.
            (_, _, Some(f)) if f.is_finite() && f.fract() == 0.0 => f as i128,
            _ => {
                return Err(invalid(
                    "int_from_float",
                    "Input should be a valid integer, got a number with a fractional part",
                ));
            }
        },
        Value::Bool(b) => i128::from(*b),
        Value::String(t) => match t.trim().parse::<i128>() {
            Ok(n) => n,
            Err(_) => {
                return Err(invalid(
                    "int_parsing",
                    "Input should be a valid integer, unable to parse string as an integer",
                ));
            }
        },
        _ => return Err(invalid("int_type", "Input should be a valid integer")),
    };
    Ok(u64::try_from(n.max(0)).unwrap_or(u64::MAX))
}

fn subtree(tree: &ConfigTree, path: &[String]) -> Option<ConfigTree> {
    if path.is_empty() {
        return Some(tree.clone());
    }
    let node = tree.get(path)?;
    if node.children().is_empty() {
        // A leaf shows as itself: `{"host-name": "r1"}`.
        let mut root = crate::vyos::Node::new("");
        root.children_mut().push(node.clone());
        return Some(ConfigTree::from_root(root));
    }
    Some(ConfigTree::from_root(node.clone()))
}

// ---- endpoints ------------------------------------------------------------------------------

async fn retrieve(
    State(app): State<Arc<Appliance>>,
    axum::Extension(conn): axum::Extension<Conn>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (data, latency) = match prelude(&app, &conn, "retrieve", &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    tokio::time::sleep(latency).await;
    let Some(op) = op_of(&data) else {
        return missing_field("op");
    };
    let path = match op {
        "showConfig" => match data.get("path") {
            None => Vec::new(),
            Some(_) => match path_of(&data) {
                Ok(p) => p,
                Err(r) => return r,
            },
        },
        _ => match path_of(&data) {
            Ok(p) => p,
            Err(r) => return r,
        },
    };
    let active = app.active();
    match op {
        "showConfig" => {
            let format = data
                .get("configFormat")
                .and_then(Value::as_str)
                .unwrap_or("json");
            let Some(t) = subtree(&active, &path).filter(|t| !t.is_empty() || path.is_empty())
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Configuration under specified path is empty",
                );
            };
            match format {
                "json" => success_raw(&tree_json(t.root())),
                "raw" => success(Value::String(render_boot(&t, &BootStyle::vyos_1_3()))),
                other => error(
                    StatusCode::BAD_REQUEST,
                    &format!("'{other}' is not a valid config format"),
                ),
            }
        }
        "returnValue" => match active.values(&path).and_then(|v| v.first()) {
            Some(v) => success(Value::String(v.clone())),
            None => error(
                StatusCode::BAD_REQUEST,
                &format!("Path [{}] does not exist", path.join(" ")),
            ),
        },
        "returnValues" => match active.values(&path) {
            Some(v) => success(Value::Array(v.iter().cloned().map(Value::String).collect())),
            None => error(
                StatusCode::BAD_REQUEST,
                &format!("Path [{}] does not exist", path.join(" ")),
            ),
        },
        "exists" => success(Value::Bool(active.exists(&path))),
        other => invalid_op(other),
    }
}

fn session_error_text(e: &SessionError, verb: &str) -> String {
    let mut lines = match e {
        SessionError::Schema(SchemaError::BadValue { messages }) => {
            let mut m = messages.clone();
            m.push("Value validation failed".to_owned());
            m
        }
        other => vec![other.to_string()],
    };
    lines.push(format!("{verb} failed"));
    lines.join("\n")
}

/// Runs one API commit of the shared session, with commit-confirm when `minutes > 0`.
async fn api_commit(app: &Arc<Appliance>, minutes: u64, latency: Duration) -> Response {
    let mut data = Value::Null;
    // As the shell wrapper does, nothing to commit means no timer either.
    let changed = app
        .with_session(API_SESSION, |s, a| s.changed(a))
        .unwrap_or(false);
    if minutes > 0 && changed {
        match app.arm_confirm(minutes) {
            Ok(a) => data = Value::String(a.message),
            Err(m) => {
                app.with_session(API_SESSION, |s, a| s.discard(a));
                return error(StatusCode::BAD_REQUEST, &m);
            }
        }
    }
    let r = app
        .commit(API_SESSION, "api", Via::Api, None, minutes > 0, latency)
        .await;
    match r.status {
        CommitStatus::NoChanges => success(data),
        CommitStatus::Committed => {
            if data.is_null() && !r.output.is_empty() {
                data = Value::String(r.output);
            }
            success(data)
        }
        CommitStatus::Failed => {
            app.with_session(API_SESSION, |s, a| s.discard(a));
            error(StatusCode::BAD_REQUEST, &r.output)
        }
    }
}

async fn configure(
    State(app): State<Arc<Appliance>>,
    axum::Extension(conn): axum::Extension<Conn>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (data, latency) = match prelude(&app, &conn, "configure", &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let profile = app.profile();
    if op_of(&data) == Some("confirm") && profile.api_commit_confirm() {
        tokio::time::sleep(latency).await;
        let (m, _) = app.confirm();
        return success(Value::String(m));
    }
    let minutes = match confirm_time(&app, &data) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let commands: Vec<Value> = match &data {
        Value::Array(a) => a.clone(),
        Value::Object(o) if o.get("commands").is_some_and(Value::is_array) => o
            .get("commands")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        v => vec![v.clone()],
    };
    let mut cmds = Vec::new();
    for c in &commands {
        let op = match op_of(c) {
            Some(op @ ("set" | "delete" | "comment")) => op,
            Some(op) => return invalid_op(op),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "Malformed command \"{}\": missing \"op\" field",
                        py_dumps(c)
                    ),
                );
            }
        };
        let path = match path_of(c) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let value = c.get("value").and_then(Value::as_str).map(str::to_owned);
        cmds.push(match op {
            "set" => Command::set(path, value),
            "delete" => Command::delete(path, value),
            _ => Command::comment(path, value.unwrap_or_default()),
        });
    }
    let _serial = app.api_lock().lock().await;
    let strict = app.api_strict();
    for cmd in &cmds {
        let r = app.with_session(API_SESSION, |s, _| {
            // Only with `strict` (§5.2); without it such a delete silently succeeds.
            if strict && cmd.op == Op::Delete && !s.deletable(&cmd.path, cmd.value.as_deref()) {
                let mut shown = cmd.path.join(" ");
                if let Some(v) = &cmd.value {
                    shown.push(' ');
                    shown.push_str(v);
                }
                return Err(format!(
                    "Cannot delete [{shown}]: path/value does not exist"
                ));
            }
            s.run(profile, cmd).map_err(|e| {
                let verb = match cmd.op {
                    Op::Set => "Set",
                    Op::Delete => "Delete",
                    Op::Comment => "Comment",
                };
                session_error_text(&e, verb)
            })
        });
        if let Some(Err(m)) = r {
            app.with_session(API_SESSION, |s, a| s.discard(a));
            return error(StatusCode::BAD_REQUEST, &m);
        }
    }
    // A change to `service https` restarts the server under the API: commit in the background.
    let touches_https = app
        .with_session(API_SESSION, |s, a| {
            crate::vyos::diff(a, s.working(), &[crate::vyos::Path::parse("service https")])
                .is_empty()
        })
        .is_some_and(|same| !same);
    if touches_https {
        let bg = app.clone();
        tokio::spawn(async move {
            let _serial = bg.api_lock().lock().await;
            let r = bg
                .commit(API_SESSION, "api", Via::Api, None, false, Duration::ZERO)
                .await;
            if r.status == CommitStatus::Failed {
                tracing::warn!(appliance = bg.name(), output = %r.output, "background API commit failed");
                bg.with_session(API_SESSION, |s, a| s.discard(a));
            }
        });
        return success(Value::String(
            "Requested HTTP API server configuration change; commit will be called in the background"
                .to_owned(),
        ));
    }
    api_commit(&app, minutes, latency).await
}

/// The set commands that build a section given as a nested dict (the §2.3 JSON shape).
fn section_commands(
    path: &mut Vec<String>,
    v: &Value,
    out: &mut Vec<Command>,
) -> Result<(), String> {
    match v {
        Value::Object(o) if o.is_empty() => out.push(Command::set(path.clone(), None)),
        Value::Object(o) => {
            for (k, x) in o {
                path.push(k.clone());
                section_commands(path, x, out)?;
                path.pop();
            }
        }
        Value::String(x) => out.push(Command::set(path.clone(), Some(x.clone()))),
        Value::Number(n) => out.push(Command::set(path.clone(), Some(n.to_string()))),
        Value::Array(a) => {
            for x in a {
                match x {
                    Value::String(x) => out.push(Command::set(path.clone(), Some(x.clone()))),
                    Value::Number(n) => out.push(Command::set(path.clone(), Some(n.to_string()))),
                    _ => return Err(format!("Invalid section value at [{}]", path.join(" "))),
                }
            }
        }
        _ => return Err(format!("Invalid section value at [{}]", path.join(" "))),
    }
    Ok(())
}

/// `/configure-section` (1.4+): `set` merges a section under `path`, `load` replaces it.
async fn configure_section(
    State(app): State<Arc<Appliance>>,
    axum::Extension(conn): axum::Extension<Conn>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (data, latency) = match prelude(&app, &conn, "configure-section", &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let profile = app.profile();
    if !profile.is_1_4_plus() {
        return nginx_page(StatusCode::NOT_FOUND);
    }
    let requests: Vec<Value> = match &data {
        Value::Array(a) => a.clone(),
        v => vec![v.clone()],
    };
    let mut plan: Vec<(bool, Vec<String>, Vec<Command>)> = Vec::new();
    for r in &requests {
        let load = match op_of(r) {
            Some("set") => false,
            Some("load") => true,
            Some(op) => return invalid_op(op),
            None => return missing_field("op"),
        };
        let path = match path_of(r) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let Some(section) = r.get("section") else {
            return missing_field("section");
        };
        let mut cmds = Vec::new();
        if let Err(m) = section_commands(&mut path.clone(), section, &mut cmds) {
            return error(StatusCode::BAD_REQUEST, &m);
        }
        plan.push((load, path, cmds));
    }
    let _serial = app.api_lock().lock().await;
    for (load, path, cmds) in &plan {
        let r = app.with_session(API_SESSION, |s, _| {
            if *load && !path.is_empty() {
                let _ = s.delete(profile, path, None);
            }
            cmds.iter()
                .try_for_each(|c| s.run(profile, c))
                .map_err(|e| session_error_text(&e, "Set"))
        });
        if let Some(Err(m)) = r {
            app.with_session(API_SESSION, |s, a| s.discard(a));
            return error(StatusCode::BAD_REQUEST, &m);
        }
    }
    match confirm_time(&app, &data) {
        Ok(minutes) => api_commit(&app, minutes, latency).await,
        Err(r) => r,
    }
}

async fn config_file(
    State(app): State<Arc<Appliance>>,
    axum::Extension(conn): axum::Extension<Conn>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (data, latency) = match prelude(&app, &conn, "config-file", &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let profile = app.profile();
    let new_api = profile.api_commit_confirm();
    let op = op_of(&data).unwrap_or_default();
    match op {
        "save" => {
            tokio::time::sleep(latency).await;
            let file = data.get("file").and_then(Value::as_str);
            let path = app.save(file);
            success(Value::String(profile.save_message(&path)))
        }
        "confirm" if new_api => {
            tokio::time::sleep(latency).await;
            let (m, _) = app.confirm();
            success(Value::String(m))
        }
        "load" | "merge" if op == "load" || new_api => {
            let text = match (
                data.get("file").and_then(Value::as_str),
                data.get("string").and_then(Value::as_str),
            ) {
                (_, Some(s)) if new_api => s.to_owned(),
                (Some(f), _) => match app.read_file(f) {
                    Some(t) => t,
                    None => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            &format!("Failed to load file '{f}': No such file or directory"),
                        );
                    }
                },
                _ => {
                    return missing_field("file");
                }
            };
            let tree = match ConfigTree::parse_any(&text) {
                Ok(f) if let Some(p) = super::session::misshapen(&f.tree) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "Failed to parse specified config file: [{}] holds both values and children",
                            p.join(" ")
                        ),
                    );
                }
                Ok(mut f) => {
                    super::schema::mark_tags(&mut f.tree);
                    f.tree
                }
                Err(e) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        &format!("Failed to parse specified config file: {e}"),
                    );
                }
            };
            let minutes = match confirm_time(&app, &data) {
                Ok(m) => m,
                Err(r) => return r,
            };
            let _serial = app.api_lock().lock().await;
            let destructive = data
                .get("destructive")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let r = app.with_session(API_SESSION, |s, a| {
                s.discard(a);
                if op == "load" {
                    s.replace(tree);
                    Ok(())
                } else if destructive {
                    let mut w = s.working().clone();
                    for top in tree.root().children() {
                        for second in top.children() {
                            let p = vec![top.name().to_owned(), second.name().to_owned()];
                            let _ = w.graft(&p, &tree);
                        }
                    }
                    s.replace(w);
                    Ok(())
                } else {
                    s.merge(&tree, &[]).map_err(|e| e.to_string())
                }
            });
            if let Some(Err(m)) = r {
                return error(StatusCode::BAD_REQUEST, &m);
            }
            api_commit(&app, minutes, latency).await
        }
        other => invalid_op(other),
    }
}

async fn show(
    State(app): State<Arc<Appliance>>,
    axum::Extension(conn): axum::Extension<Conn>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (data, latency) = match prelude(&app, &conn, "show", &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    tokio::time::sleep(latency).await;
    match op_of(&data) {
        Some("show") => {}
        Some(other) => return invalid_op(other),
        None => return missing_field("op"),
    }
    let path = match path_of(&data) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut words = vec!["show"];
    words.extend(path.iter().map(String::as_str));
    let (out, status) = op_command(&app, &words);
    if status == 0 {
        success(Value::String(out))
    } else {
        error(StatusCode::BAD_REQUEST, out.trim())
    }
}

#[derive(serde::Deserialize)]
struct InfoQuery {
    version: Option<bool>,
    hostname: Option<bool>,
}

async fn info(
    State(app): State<Arc<Appliance>>,
    axum::Extension(conn): axum::Extension<Conn>,
    Query(q): Query<InfoQuery>,
) -> Response {
    if app.admission(Service::Api, conn.peer.ip()) == Admission::Refuse {
        return std::future::pending::<Response>().await;
    }
    if !app.profile().api_info() {
        return nginx_page(StatusCode::NOT_FOUND);
    }
    app.record(Via::Api, "api", "info");
    let host = app
        .active()
        .values(&["system", "host-name"])
        .and_then(|v| v.first().cloned())
        .unwrap_or_else(|| "vyos".to_owned());
    let version = if q.version.unwrap_or(true) {
        app.profile().release().to_owned()
    } else {
        String::new()
    };
    let hostname = if q.hostname.unwrap_or(true) {
        host
    } else {
        String::new()
    };
    let mut m = Map::new();
    m.insert("version".into(), Value::String(version));
    m.insert("hostname".into(), Value::String(hostname));
    m.insert("banner".into(), Value::String(String::new()));
    success(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::vyos::appliance::{ApplianceSpec, Timing, Via};

    fn request(path: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap_or_default();
        req.extensions_mut().insert(Conn {
            kill: Arc::new(Notify::new()),
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        });
        req
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(128))]
        /// Whatever arrives, the API answers with one of its documented statuses, never a
        /// panic or a 500.
        #[test]
        fn any_body_gets_a_documented_status(
            endpoint in proptest::sample::select(vec!["/retrieve", "/configure", "/config-file", "/configure-section", "/show"]),
            ct in proptest::sample::select(vec!["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=B", "text/plain"]),
            body in proptest::prop_oneof![
                "[ -~]{0,200}",
                proptest::strategy::Just("{\"key\": \"vnfsync-lab-key\", \"op\": \"set\", \"path\": [\"system\", \"x\"]}".to_owned()),
                proptest::strategy::Just("data=%7B%22op%22%3A%22showConfig%22%7D&key=vnfsync-lab-key".to_owned()),
                proptest::strategy::Just("--B\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n[1,2]\r\n--B--".to_owned()),
                "\\{\"key\": \"vnfsync-lab-key\", \"op\": \"[a-zA-Z]{0,12}\", \"path\": \\[(\"[a-z0-9 -]{0,8}\",?){0,4}\\]\\}",
            ],
        ) {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => panic!("{e}"),
            };
            let status = rt.block_on(async {
                let app = match Appliance::new(ApplianceSpec::new("r1", Profile::V15), Timing::default()) {
                    Ok(a) => a,
                    Err(e) => panic!("{e}"),
                };
                use tower::ServiceExt as _;
                let resp = router(app).oneshot(request(endpoint, ct, body.clone().into_bytes())).await;
                resp.map(|r| r.status().as_u16()).unwrap_or(0)
            });
            proptest::prop_assert!([200, 400, 401, 404, 413, 422].contains(&status), "{endpoint} {ct} {body:?} -> {status}");
        }
    }

    /// One step of a random editing script (item 1 of the lab fidelity issue).
    #[derive(Debug, Clone)]
    enum Step {
        /// An SSH `set` line; `style` 0: no quotes, 1: every word quoted, 2: last word quoted.
        Set(Vec<String>, u8),
        Delete(Vec<String>, u8),
        Commit,
        Discard,
        /// An API `/configure` request (its own session, committed at once).
        ApiSet(Vec<String>, Option<String>),
        ApiDelete(Vec<String>),
    }

    fn words_strategy() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        use proptest::prelude::*;
        let base = prop::sample::select(vec![
            "system host-name",
            "system name-server",
            "system domain-name",
            "interfaces ethernet eth1 description",
            "interfaces ethernet eth1 address",
            "service lldp",
            "service lldp interface eth0",
            "service lldp legacy-protocols",
            "service foo",
            "service foo bar",
        ]);
        let extra = prop::collection::vec(
            prop::sample::select(vec![
                "a",
                "b",
                "r1",
                "192.0.2.53",
                "198.51.100.1/24",
                "cdp",
                "x y",
            ]),
            0..3,
        );
        (base, extra)
            .prop_map(|(b, e)| b.split(' ').chain(e).map(str::to_owned).collect::<Vec<_>>())
    }

    fn step_strategy() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (words_strategy(), 0u8..3).prop_map(|(w, s)| Step::Set(w, s)),
            2 => (words_strategy(), 0u8..3).prop_map(|(w, s)| Step::Delete(w, s)),
            2 => Just(Step::Commit),
            1 => Just(Step::Discard),
            1 => (words_strategy(), prop::option::of(prop::sample::select(vec!["a", "r2"]))).prop_map(|(w, v)| Step::ApiSet(w, v.map(str::to_owned))),
            1 => words_strategy().prop_map(Step::ApiDelete),
        ]
    }

    fn line(verb: &str, words: &[String], style: u8) -> String {
        let q = |w: &String| format!("'{w}'");
        let n = words.len();
        let parts: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(i, w)| match style {
                1 => q(w),
                2 if i + 1 == n => q(w),
                _ => w.clone(),
            })
            .collect();
        format!("{verb} {}", parts.join(" "))
    }

    /// A tree from the API's showConfig JSON.
    fn tree_of_json(v: &Value) -> ConfigTree {
        fn walk(t: &mut ConfigTree, path: &mut Vec<String>, v: &Value) {
            match v {
                Value::Object(m) if m.is_empty() && !path.is_empty() => {
                    let _ = t.set(path, None);
                }
                Value::Object(m) => {
                    for (k, c) in m {
                        path.push(k.clone());
                        walk(t, path, c);
                        path.pop();
                    }
                }
                Value::String(s) => {
                    let _ = t.set(path, Some(s));
                }
                Value::Array(a) => {
                    for s in a.iter().filter_map(Value::as_str) {
                        let _ = t.set(path, Some(s));
                    }
                }
                _ => {}
            }
        }
        let mut t = ConfigTree::new();
        walk(&mut t, &mut Vec::new(), v);
        t
    }

    /// Every node holds values or children, never both.
    fn well_shaped(node: &crate::vyos::Node) -> bool {
        (node.values().is_empty() || node.children().is_empty())
            && node.children().iter().all(well_shaped)
    }

    fn leaf_paths(node: &crate::vyos::Node, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        for c in node.children() {
            path.push(c.name().to_owned());
            if !c.values().is_empty() {
                out.push(path.clone());
            }
            leaf_paths(c, path, out);
            path.pop();
        }
    }

    async fn api_call(app: &Arc<Appliance>, endpoint: &str, body: Value) -> (u16, Value) {
        use tower::ServiceExt as _;
        let resp = router(app.clone())
            .oneshot(request(
                endpoint,
                "application/json",
                body.to_string().into_bytes(),
            ))
            .await;
        let Ok(resp) = resp;
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn same(a: &ConfigTree, b: &ConfigTree) -> bool {
        crate::vyos::diff(a, b, &[]).is_empty()
    }

    async fn views_agree(profile: Profile, steps: Vec<Step>) -> Result<(), String> {
        let app = Appliance::new(ApplianceSpec::new("r1", profile), Timing::default())
            .map_err(|e| e.to_string())?;
        let mut script =
            String::from("source /opt/vyatta/etc/functions/script-template\nconfigure\n");
        for step in &steps {
            match step {
                Step::Set(w, s) => script.push_str(&line("set", w, *s)),
                Step::Delete(w, s) => script.push_str(&line("delete", w, *s)),
                Step::Commit => script.push_str("commit"),
                Step::Discard => script.push_str("discard"),
                Step::ApiSet(..) | Step::ApiDelete(_) => continue,
            }
            script.push('\n');
        }
        // API requests go first, then the SSH session runs (and rebases on them).
        for step in &steps {
            let body = match step {
                Step::ApiSet(p, v) => {
                    json!({"key": "vnfsync-lab-key", "op": "set", "path": p, "value": v})
                }
                Step::ApiDelete(p) => json!({"key": "vnfsync-lab-key", "op": "delete", "path": p}),
                _ => continue,
            };
            let (status, _) = api_call(&app, "/configure", body).await;
            if ![200, 400].contains(&status) {
                return Err(format!("configure answered {status}"));
            }
        }
        script.push_str("echo @@SHOW\nshow\necho @@COMPARE\ncompare\necho @@END\n");
        let r = crate::lab::vyos::exec::run(
            app.clone(),
            "vyos".into(),
            Via::Ssh,
            "vbash -s".into(),
            script.into_bytes(),
        )
        .await;
        let out = String::from_utf8_lossy(&r.stdout).into_owned();
        let section = |from: &str, to: &str| -> String {
            out.split_once(from)
                .and_then(|(_, rest)| rest.split_once(to))
                .map(|(s, _)| s.trim_start_matches('\n').to_owned())
                .unwrap_or_default()
        };
        let shown = section("@@SHOW\n", "@@COMPARE\n");
        let working = if shown.contains("Configuration under specified path is empty") {
            ConfigTree::new()
        } else {
            ConfigTree::parse_boot(&shown).map_err(|e| format!("show: {e}\n{shown}"))?
        };
        let compared = section("@@COMPARE\n", "@@END\n");
        let active = app.active();
        if !well_shaped(active.root()) || !well_shaped(working.root()) {
            return Err(format!(
                "a node holds values and children:\n{}",
                crate::vyos::render_commands(&active)
            ));
        }
        let (_, _) = api_call(
            &app,
            "/config-file",
            json!({"key": "vnfsync-lab-key", "op": "save"}),
        )
        .await;
        let saved = ConfigTree::parse_boot(&app.saved()).map_err(|e| format!("saved: {e}"))?;
        let (_, commands) = (
            0,
            op_command(&app, &["show", "configuration", "commands"]).0,
        );
        let from_commands =
            ConfigTree::parse_commands(&commands).map_err(|e| format!("commands: {e}"))?;
        let (_, json_reply) = api_call(
            &app,
            "/retrieve",
            json!({"key": "vnfsync-lab-key", "op": "showConfig", "path": []}),
        )
        .await;
        let from_json = tree_of_json(&json_reply["data"]);
        for (name, view) in [
            ("save", &saved),
            ("show configuration commands", &from_commands),
            ("showConfig", &from_json),
        ] {
            if !same(&active, view) {
                return Err(format!(
                    "{name} differs from the active config:\n{}\nvs\n{}",
                    crate::vyos::render_commands(&active),
                    crate::vyos::render_commands(view)
                ));
            }
        }
        let mut leafs = Vec::new();
        leaf_paths(active.root(), &mut Vec::new(), &mut leafs);
        for p in leafs {
            let (_, r) = api_call(
                &app,
                "/retrieve",
                json!({"key": "vnfsync-lab-key", "op": "returnValues", "path": p}),
            )
            .await;
            let want: Vec<Value> = active
                .values(&p)
                .unwrap_or_default()
                .iter()
                .cloned()
                .map(Value::String)
                .collect();
            if r["data"] != Value::Array(want.clone()) {
                return Err(format!("returnValues {p:?}: {} vs {want:?}", r["data"]));
            }
            let (_, r) = api_call(
                &app,
                "/retrieve",
                json!({"key": "vnfsync-lab-key", "op": "returnValue", "path": p}),
            )
            .await;
            if r["data"] != want[0] {
                return Err(format!("returnValue {p:?}: {}", r["data"]));
            }
        }
        // compare ran on the working copy `show` printed, against the same active config.
        let nothing = compared.starts_with("No changes between working and active");
        if nothing != same(&active, &working) {
            return Err(format!("compare said {compared:?}"));
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(64))]
        /// For random scripts of set/delete/commit/discard over SSH and the API, every view of
        /// the config (show, compare, show configuration commands, save, showConfig,
        /// returnValue(s)) reports the same tree, and no node holds both values and children.
        #[test]
        fn every_view_reports_the_same_tree(
            profile in proptest::sample::select(vec![Profile::V13, Profile::V14, Profile::V15]),
            steps in proptest::collection::vec(step_strategy(), 1..14),
        ) {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => panic!("{e}"),
            };
            let r = rt.block_on(views_agree(profile, steps));
            proptest::prop_assert!(r.is_ok(), "{}", r.err().unwrap_or_default());
        }
    }

    #[test]
    fn python_json() {
        assert_eq!(
            py_dumps(&json!(["a", "é\n", {"k": 1}])),
            "[\"a\", \"\\u00e9\\n\", {\"k\": 1}]"
        );
        let f = multipart_fields(
            "multipart/form-data; boundary=XX",
            b"--XX\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{\"op\": \"x\"}\r\n--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XX--\r\n",
        )
        .unwrap_or_default();
        assert_eq!(f.get("key").map(String::as_str), Some("k"));
        assert_eq!(f.get("data").map(String::as_str), Some("{\"op\": \"x\"}"));
    }
}
