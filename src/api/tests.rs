use super::*;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

/// Appliances `a` (tenant netops), `b` (tenant branches), `c` (no tenant); every view the
/// backend returns lists the names it was given, so leaks show up.
struct Fake;

fn names(view: &View) -> Vec<String> {
    ["a", "b", "c"]
        .iter()
        .filter(|n| view.as_ref().is_none_or(|v| v.contains(**n)))
        .map(|n| (*n).to_string())
        .collect()
}

impl Backend for Fake {
    fn readiness(&self) -> Readiness {
        Readiness {
            journal_open: true,
            commit_loaded: true,
            recovery_done: false,
        }
    }
    fn metrics(&self) -> String {
        "# EOF\n".into()
    }
    fn appliances(&self) -> Vec<Visible> {
        vec![
            Visible {
                name: "a".into(),
                tenant: Some("netops".into()),
            },
            Visible {
                name: "b".into(),
                tenant: Some("branches".into()),
            },
            Visible {
                name: "c".into(),
                tenant: None,
            },
        ]
    }
    fn status<'a>(&'a self, view: &'a View) -> BoxFut<'a, Value> {
        Box::pin(async move { json!({"appliances": names(view)}) })
    }
    fn appliance_list<'a>(&'a self, view: &'a View) -> BoxFut<'a, Value> {
        Box::pin(async move { json!(names(view)) })
    }
    fn appliance<'a>(&'a self, name: &'a str) -> BoxFut<'a, Option<Value>> {
        Box::pin(async move { Some(json!({"name": name})) })
    }
    fn diff<'a>(&'a self, name: &'a str) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move { Ok(json!({"diff": name})) })
    }
    fn operations<'a>(
        &'a self,
        params: OpsParams,
        view: &'a View,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move { Ok(json!({"appliance": params.appliance, "visible": names(view)})) })
    }
    fn dictionaries(&self, view: &View) -> Value {
        json!(names(view))
    }
    fn commit(&self, sha: &str, view: &View) -> Option<Value> {
        (sha == "abc").then(|| json!({"affected": names(view)}))
    }
    fn snapshots<'a>(&'a self, name: &'a str) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move { Ok(json!([{"id": name}])) })
    }
    fn rollback<'a>(
        &'a self,
        name: &'a str,
        to: RollbackTo,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move { Ok(json!({"rollback": name, "to": to})) })
    }
    fn act<'a>(
        &'a self,
        action: Action,
        appliance: Option<&'a str>,
        view: &'a View,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            Ok(json!({"action": action, "appliance": appliance, "visible": names(view)}))
        })
    }
}

const ADMIN: &str = "admin-token";
const READER: &str = "reader-token";
const NETOPS: &str = "netops-token";

fn app() -> Router {
    let text = [
        auth::entry_line("admin", &[Scope::Read, Scope::Write], None, ADMIN),
        auth::entry_line("reader", &[Scope::Read], None, READER),
        auth::entry_line(
            "netops",
            &[Scope::Read, Scope::Write],
            Some("netops"),
            NETOPS,
        ),
    ]
    .join("\n");
    router(
        Arc::new(Fake),
        Tokens::parse("tokens", &text).expect("tokens"),
    )
}

async fn call(method: &str, uri: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if !body.is_empty() {
        req = req.header("content-length", body.len());
    }
    let resp = app()
        .oneshot(req.body(Body::from(body)).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, v)
}

async fn get_(uri: &str, token: Option<&str>) -> (u16, Value) {
    call("GET", uri, token, Vec::new()).await
}

async fn post_(uri: &str, token: Option<&str>) -> (u16, Value) {
    call("POST", uri, token, Vec::new()).await
}

#[tokio::test]
async fn health_needs_no_token_and_readiness_reports_checks() {
    assert_eq!(get_("/healthz", None).await.0, 200);
    let (s, v) = get_("/readyz", None).await;
    assert_eq!(s, 503);
    assert_eq!(v["checks"]["recovery_done"], false);
}

#[tokio::test]
async fn no_or_wrong_token_is_401_and_missing_scope_is_403() {
    for t in [None, Some("nope"), Some("")] {
        let (s, v) = get_("/v1/status", t).await;
        assert_eq!(s, 401, "{t:?}");
        assert_eq!(v["code"], "VNF_AUTH");
        assert!(v["message"].is_string());
    }
    let (s, v) = post_("/v1/sync", Some(READER)).await;
    assert_eq!(s, 403);
    assert_eq!(v["code"], "VNF_FORBIDDEN");
    assert_eq!(post_("/v1/appliances/a/probe", Some(READER)).await.0, 403);
    assert_eq!(
        post_("/v1/appliances/a/rollback", Some(READER)).await.0,
        403
    );
    let (s, v) = post_("/v1/appliances/a/rollback?to_commit=abc", Some(ADMIN)).await;
    assert_eq!(s, 200);
    assert_eq!(v["to"], json!({"commit": "abc"}));
    assert_eq!(post_("/v1/sync", Some(ADMIN)).await.0, 200);
    assert_eq!(get_("/metrics", Some(READER)).await.0, 200);
}

#[tokio::test]
async fn a_tenant_never_sees_another_tenants_appliance() {
    let t = Some(NETOPS);
    assert_eq!(get_("/v1/status", t).await.1["appliances"], json!(["a"]));
    assert_eq!(get_("/v1/appliances", t).await.1, json!(["a"]));
    assert_eq!(get_("/v1/dictionaries", t).await.1, json!(["a"]));
    assert_eq!(get_("/v1/commits/abc", t).await.1["affected"], json!(["a"]));
    assert_eq!(get_("/v1/operations", t).await.1["visible"], json!(["a"]));
    assert_eq!(get_("/v1/appliances/a", t).await.0, 200);
    let missing = get_("/v1/appliances/zzz", t).await;
    assert_eq!(missing.0, 404);
    for (method, uri) in [
        ("GET", "/v1/appliances/b"),
        ("GET", "/v1/appliances/c"),
        ("GET", "/v1/appliances/b/diff"),
        ("GET", "/v1/appliances/b/snapshots"),
        ("GET", "/v1/operations?appliance=b"),
        ("POST", "/v1/sync?appliance=b"),
        ("POST", "/v1/appliances/b/probe"),
        ("POST", "/v1/appliances/b/rollback"),
        ("POST", "/v1/appliances/b/resume"),
        ("POST", "/v1/appliances/b/approve"),
        ("GET", "/metrics"),
    ] {
        let (s, v) = call(method, uri, t, Vec::new()).await;
        assert_eq!(s, 404, "{method} {uri}");
        assert_eq!(v["code"], "VNF_NOT_FOUND", "{method} {uri}");
        assert!(!v.to_string().contains("branches"), "{method} {uri}: {v}");
    }
    // Sync of everything acts on the tenant's appliances only.
    assert_eq!(post_("/v1/sync", t).await.1["visible"], json!(["a"]));
    // The token without tenant sees everything.
    assert_eq!(
        get_("/v1/appliances", Some(ADMIN)).await.1,
        json!(["a", "b", "c"])
    );
}

#[tokio::test]
async fn bad_input_is_a_json_error() {
    let (s, v) = get_("/v1/operations?bogus=1", Some(ADMIN)).await;
    assert_eq!(s, 400);
    assert_eq!(v["code"], "VNF_INVALID");
    let (s, _) = call("POST", "/v1/sync", Some(ADMIN), vec![b'x'; MAX_BODY + 1]).await;
    assert_eq!(s, 413);
    let (s, v) = post_(
        "/v1/appliances/a/rollback?snapshot=x&to_commit=y",
        Some(ADMIN),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("VNF_INVALID")));
    let (s, v) = get_("/nope", Some(ADMIN)).await;
    assert_eq!((s, v["code"].as_str()), (404, Some("VNF_NOT_FOUND")));
}
