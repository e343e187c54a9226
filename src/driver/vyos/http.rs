//! The HTTP API transport of the VyOS driver (reqwest, rustls).
//!
//! Owns: request bodies (JSON, with the key in the body as the API wants, reference/vyos.md
//! §5.2), reading `{success, data, error}` whatever the content type says (§5.3: it says
//! text/html), mapping status codes to driver errors, and TLS verified against a pinned CA or
//! certificate fingerprint. Must not know which commands to send.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::driver::{DriverError, Result};
use crate::model::{Scheme, TlsPin};
use crate::vyos::{Command, Op};

/// Where and how to reach the API.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    pub appliance: String,
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    pub key: SecretString,
    pub tls: Option<TlsPin>,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

/// A parsed API reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub success: bool,
    pub data: Value,
    pub error: Option<String>,
}

/// The VyOS HTTP API of one appliance.
pub struct HttpApi {
    client: reqwest::Client,
    base: String,
    key: SecretString,
    appliance: String,
    command_timeout: Duration,
}

impl HttpApi {
    pub fn new(t: &HttpTarget) -> Result<HttpApi> {
        let bad_tls = |message: String| DriverError::Unsupported {
            appliance: t.appliance.clone(),
            what: "the TLS settings".into(),
            why: message,
        };
        let mut builder = reqwest::Client::builder()
            .connect_timeout(t.connect_timeout)
            .timeout(t.command_timeout)
            .pool_max_idle_per_host(2)
            .user_agent(concat!("vnfsync/", env!("CARGO_PKG_VERSION")));
        if t.scheme == Scheme::Https {
            match t.tls.as_ref().and_then(|tls| tls.fingerprint.as_ref()) {
                Some(fp) => {
                    builder =
                        builder.use_preconfigured_tls(pinned_tls(fp.as_str()).map_err(bad_tls)?)
                }
                None => builder = builder.use_rustls_tls(),
            }
            if let Some(ca) = t.tls.as_ref().and_then(|tls| tls.ca.as_ref()) {
                let pem =
                    std::fs::read(ca).map_err(|e| bad_tls(format!("cannot read CA {ca}: {e}")))?;
                let cert = reqwest::Certificate::from_pem(&pem)
                    .map_err(|e| bad_tls(format!("CA {ca}: {e}")))?;
                builder = builder
                    .add_root_certificate(cert)
                    .tls_built_in_root_certs(false);
            }
        }
        let client = builder.build().map_err(|e| bad_tls(e.to_string()))?;
        let host = if t.host.contains(':') {
            format!("[{}]", t.host)
        } else {
            t.host.clone()
        };
        Ok(HttpApi {
            client,
            base: format!("{}://{}:{}", t.scheme.as_str(), host, t.port),
            key: t.key.clone(),
            appliance: t.appliance.clone(),
            command_timeout: t.command_timeout,
        })
    }

    /// The reply body as text, read chunk by chunk and refused once it passes
    /// [`MAX_DEVICE_REPLY`](crate::driver::MAX_DEVICE_REPLY): the read stops there instead of
    /// loading a hostile or broken device's endless answer.
    async fn read_capped(&self, mut resp: reqwest::Response, during: &str) -> Result<String> {
        let cap = crate::driver::MAX_DEVICE_REPLY;
        let too_big = || DriverError::Upstream {
            appliance: self.appliance.clone(),
            during: during.into(),
            message: format!(
                "the reply is larger than the {} MiB cap; stopped reading",
                cap >> 20
            ),
            retryable: false,
        };
        if resp.content_length().is_some_and(|n| n > cap as u64) {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(during, &e))?
        {
            if body.len() + chunk.len() > cap {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    fn transport_error(&self, during: &str, e: &reqwest::Error) -> DriverError {
        if let Some(tls) = tls_failure(e) {
            return DriverError::Auth {
                appliance: self.appliance.clone(),
                message: format!("{}: the TLS certificate was refused: {tls}", self.base),
            };
        }
        if e.is_timeout() {
            DriverError::Timeout {
                appliance: self.appliance.clone(),
                during: during.into(),
                after: self.command_timeout,
            }
        } else if e.is_connect() {
            DriverError::Unreachable {
                appliance: self.appliance.clone(),
                message: format!("{}: {e}", self.base),
            }
        } else {
            DriverError::Upstream {
                appliance: self.appliance.clone(),
                during: during.into(),
                message: e.to_string(),
                retryable: true,
            }
        }
    }

    /// POST `body` (the key is added) to `endpoint` and read the reply, mapping failures.
    pub async fn post(&self, endpoint: &str, mut body: Value, during: &str) -> Result<Reply> {
        if let Value::Object(map) = &mut body {
            map.insert(
                "key".into(),
                Value::String(self.key.expose_secret().to_string()),
            );
        }
        let resp = self
            .client
            .post(format!("{}{endpoint}", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(during, &e))?;
        let status = resp.status().as_u16();
        let text = self.read_capped(resp, during).await?;
        let reply = parse_reply(status, &text).map_err(|message| DriverError::Upstream {
            appliance: self.appliance.clone(),
            during: during.into(),
            message,
            retryable: status >= 500,
        })?;
        self.check(reply, during)
    }

    fn check(&self, reply: Reply, during: &str) -> Result<Reply> {
        let appliance = self.appliance.clone();
        let msg = reply.error.clone().unwrap_or_default();
        match reply.status {
            200 if reply.success => Ok(reply),
            400 if is_busy(&msg) => Err(DriverError::Conflict {
                appliance,
                during: during.into(),
                device: msg,
            }),
            400 | 422 => Err(DriverError::Rejected {
                appliance,
                command: during.into(),
                device: msg,
            }),
            401 | 403 => Err(DriverError::Auth {
                appliance,
                message: msg,
            }),
            413 => Err(DriverError::Capacity {
                appliance,
                during: during.into(),
                message: "request body too large".into(),
            }),
            429 => Err(DriverError::RateLimit {
                appliance,
                during: during.into(),
                message: msg,
            }),
            s => Err(DriverError::Upstream {
                appliance,
                during: during.into(),
                message: format!("HTTP {s}: {msg}"),
                retryable: s >= 500,
            }),
        }
    }

    /// `GET /info` (1.5 builds from 2025 on): `Ok(None)` when the endpoint does not exist.
    pub async fn info(&self) -> Result<Option<Value>> {
        let during = "GET /info";
        let resp = self
            .client
            .get(format!("{}/info", self.base))
            .send()
            .await
            .map_err(|e| self.transport_error(during, &e))?;
        let status = resp.status().as_u16();
        if status == 404 || status == 405 {
            return Ok(None);
        }
        let text = self.read_capped(resp, during).await?;
        let reply = parse_reply(status, &text).map_err(|message| DriverError::Upstream {
            appliance: self.appliance.clone(),
            during: during.into(),
            message,
            retryable: status >= 500,
        })?;
        Ok(Some(self.check(reply, during)?.data))
    }

    /// The running config as cstore text (`showConfig` with `configFormat: raw`).
    pub async fn show_config_raw(&self) -> Result<String> {
        let reply = self
            .post(
                "/retrieve",
                json!({"op": "showConfig", "path": [], "configFormat": "raw"}),
                "retrieve showConfig",
            )
            .await?;
        match reply.data {
            Value::String(s) => Ok(s),
            Value::Null => Ok(String::new()),
            other => Err(DriverError::Upstream {
                appliance: self.appliance.clone(),
                during: "retrieve showConfig".into(),
                message: format!("expected the config as text, got {}", kind(&other)),
                retryable: false,
            }),
        }
    }

    /// An op-mode `show` command's text.
    pub async fn show(&self, path: &[&str]) -> Result<String> {
        let reply = self
            .post(
                "/show",
                json!({"op": "show", "path": path}),
                &format!("show {}", path.join(" ")),
            )
            .await?;
        Ok(match reply.data {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }

    /// One `/configure` request: all commands, one commit, optionally under commit-confirm.
    pub async fn configure(
        &self,
        commands: &[Command],
        confirm_minutes: Option<u32>,
        during: &str,
    ) -> Result<Reply> {
        let cmds: Vec<Value> = commands.iter().map(command_json).collect();
        let mut body = json!({"commands": cmds});
        if let Some(m) = confirm_minutes {
            body["confirm_time"] = json!(m);
        }
        self.post("/configure", body, during).await
    }

    /// A `/config-file` operation (`save`, `load`, `confirm`, …).
    pub async fn config_file(&self, op: &str, file: Option<&str>, during: &str) -> Result<Reply> {
        let mut body = json!({"op": op});
        if let Some(f) = file {
            body["file"] = json!(f);
        }
        self.post("/config-file", body, during).await
    }
}

/// The rustls error behind a request error, if the TLS handshake failed (a certificate that
/// neither the pinned CA nor the pinned fingerprint vouches for).
fn tls_failure(e: &reqwest::Error) -> Option<&rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(t) = c.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        // `io::Error::source` skips the error it wraps; look inside it instead.
        cause = match c
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => c.source(),
        };
    }
    None
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A command as the API's `{op, path, value}`.
pub fn command_json(c: &Command) -> Value {
    let op = match c.op {
        Op::Set => "set",
        Op::Delete => "delete",
        Op::Comment => "comment",
    };
    match &c.value {
        Some(v) => json!({"op": op, "path": c.path, "value": v}),
        None => json!({"op": op, "path": c.path}),
    }
}

fn is_busy(msg: &str) -> bool {
    msg.contains("temporarily locked") || msg.contains("Another confirm is pending")
}

/// Read `{success, data, error}` from a body, whatever its content type.
pub fn parse_reply(status: u16, body: &str) -> std::result::Result<Reply, String> {
    let v: Value = serde_json::from_str(body.trim()).map_err(|_| {
        let snippet: String = body.chars().take(120).collect();
        format!("HTTP {status}: the reply is not the API's JSON envelope: {snippet:?}")
    })?;
    let success = v
        .get("success")
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("HTTP {status}: the reply has no boolean `success`"))?;
    let error = match v.get("error") {
        Some(Value::String(s)) => Some(unescape_html(s)),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    Ok(Reply {
        status,
        success,
        data: v.get("data").cloned().unwrap_or(Value::Null),
        error,
    })
}

/// Newer builds HTML-escape error texts (§5.3, T6736).
fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A rustls config that accepts exactly the certificate whose SHA-256 is `pin`.
fn pinned_tls(pin: &str) -> std::result::Result<rustls::ClientConfig, String> {
    let hex: String = pin
        .trim_start_matches("sha256:")
        .chars()
        .filter(|c| *c != ':')
        .collect();
    let want: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| format!("bad fingerprint {pin}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedCert {
        want,
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

#[derive(Debug)]
struct PinnedCert {
    want: Vec<u8>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let got = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        if got.as_ref() == self.want.as_slice() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "certificate does not match the pinned fingerprint".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback "device" that answers every request with `head` and then `body_len` bytes of
    /// `x` (or until the client goes away).
    async fn endless_device(head: &'static str, body_len: usize) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    if sock.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = vec![b'x'; 1 << 20];
                    let mut sent = 0;
                    while sent < body_len {
                        if sock.write_all(&chunk).await.is_err() {
                            return;
                        }
                        sent += chunk.len();
                    }
                });
            }
        });
        port
    }

    fn api(port: u16) -> HttpApi {
        HttpApi::new(&HttpTarget {
            appliance: "r1".into(),
            scheme: Scheme::Http,
            host: "127.0.0.1".into(),
            port,
            key: SecretString::from("canary-key"),
            tls: None,
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(60),
        })
        .expect("client")
    }

    #[tokio::test]
    async fn an_endless_reply_stops_at_the_cap() {
        let port = endless_device(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n",
            crate::driver::MAX_DEVICE_REPLY + (8 << 20),
        )
        .await;
        let err = api(port)
            .post("/retrieve", json!({"op": "showConfig"}), "showConfig")
            .await
            .expect_err("past the cap");
        assert!(
            err.to_string().contains("larger than the 64 MiB cap"),
            "{err}"
        );
        assert!(!err.retryable());
        assert!(!err.to_string().contains("canary-key"));
    }

    #[tokio::test]
    async fn a_declared_length_past_the_cap_is_refused_before_reading() {
        let port = endless_device("HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n", 0).await;
        let err = api(port)
            .post("/retrieve", json!({"op": "showConfig"}), "showConfig")
            .await
            .expect_err("declared past the cap");
        assert!(
            err.to_string().contains("larger than the 64 MiB cap"),
            "{err}"
        );
    }

    #[test]
    fn replies_are_read_whatever_the_content_type() {
        let r =
            parse_reply(200, "{\"success\": true, \"data\": null, \"error\": null}").expect("ok");
        assert!(r.success);
        let r = parse_reply(400, "{\"success\": false, \"data\": null, \"error\": \"Cannot delete [a]: path/value does not exist &lt;x&gt;\"}").expect("ok");
        assert_eq!(
            r.error.as_deref(),
            Some("Cannot delete [a]: path/value does not exist <x>")
        );
        assert!(
            parse_reply(502, "<html>Bad Gateway</html>")
                .unwrap_err()
                .contains("not the API's JSON envelope")
        );
        assert!(
            parse_reply(200, "{\"data\": 1}")
                .unwrap_err()
                .contains("no boolean `success`")
        );
    }

    #[test]
    fn commands_as_json() {
        let c = Command::set(vec!["system".into(), "host-name".into()], Some("r1".into()));
        assert_eq!(
            command_json(&c),
            json!({"op": "set", "path": ["system", "host-name"], "value": "r1"})
        );
        let d = Command::delete(vec!["nat".into()], None);
        assert_eq!(command_json(&d), json!({"op": "delete", "path": ["nat"]}));
    }

    #[test]
    fn fingerprint_pins_parse() {
        let pin = format!("sha256:{}", ["ab"; 32].join(":"));
        assert!(pinned_tls(&pin).is_ok());
        assert!(pinned_tls("sha256:zz").is_err());
    }
}
