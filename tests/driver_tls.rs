//! The VyOS HTTP API transport over TLS: the certificate is verified against the pinned CA or
//! the pinned certificate fingerprint, and anything else is refused as VNF_AUTH. A TLS front
//! (tokio-rustls, a certificate made by the system `openssl`) relays to the lab's plain API,
//! as nginx does on a real VyOS.

use std::path::Path;
use std::process::Command as Process;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use vnfsync::driver::vyos::{Timeouts, VyosDriver};
use vnfsync::driver::{Driver, ErrorCode, secret::ProcessEnv};
use vnfsync::model;
use vnfsync::source::SourceFiles;

#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::start_lab;

const PROFILE: &str = "1.5";

fn openssl(args: &[&str], dir: &Path) {
    let out = Process::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`{name}-ca.pem`) and a server certificate for 127.0.0.1 it signed (`{name}.pem`,
/// `{name}.key`), in `dir`.
fn make_cert(dir: &Path, name: &str) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    let mut args = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=vnfsync test CA",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ];
    args.extend(ec);
    openssl(&args, dir);
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let mut args = vec![
        "req",
        "-new",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &key,
        "-out",
        &csr,
    ];
    args.extend(ec);
    openssl(&args, dir);
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    let pem = format!("{name}.pem");
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
        dir,
    );
}

/// Serve TLS on an ephemeral port, relaying every connection to `upstream`.
async fn tls_front(cert: &Path, key: &Path, upstream: String) -> u16 {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("cert")
        .map(|c| c.expect("cert"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

fn fingerprint(pem: &Path) -> String {
    let der = CertificateDer::from_pem_file(pem).expect("cert");
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    format!("sha256:{}", hex.join(":"))
}

fn driver(port: u16, key_file: &Path, tls: &str) -> VyosDriver {
    let yaml = format!(
        "name: r1\ndictionary: vyos-1.5\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  port: {port}\n  api_key: file:{}\n{tls}owns: [system]\n",
        key_file.display()
    );
    let mut files = SourceFiles::default();
    files
        .files
        .insert("appliances/r1.yaml".into(), yaml.into_bytes());
    let state = model::load(&files).unwrap_or_else(|e| panic!("{e:?}"));
    VyosDriver::new(
        &state.appliances[0],
        &ProcessEnv,
        Timeouts {
            connect: Duration::from_secs(5),
            command: Duration::from_secs(10),
        },
    )
    .expect("driver")
}

#[test]
fn tls_is_verified_against_the_pinned_ca_or_fingerprint() {
    let (_lab, info) = start_lab(PROFILE, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    make_cert(d, "good");
    make_cert(d, "other");
    std::fs::write(d.join("api_key"), info["api_key"].as_str().expect("key")).expect("write");
    let upstream = info["api"]
        .as_str()
        .expect("api")
        .trim_start_matches("http://")
        .to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let port = rt.block_on(tls_front(
        &d.join("good.pem"),
        &d.join("good.key"),
        upstream,
    ));
    let key = d.join("api_key");

    let by_fingerprint = format!(
        "  tls:\n    fingerprint: \"{}\"\n",
        fingerprint(&d.join("good.pem"))
    );
    rt.block_on(driver(port, &key, &by_fingerprint).fetch())
        .expect("pinned fingerprint accepted");

    let by_ca = format!("  tls:\n    ca: {}\n", d.join("good-ca.pem").display());
    rt.block_on(driver(port, &key, &by_ca).fetch())
        .expect("pinned CA accepted");

    for (what, tls) in [
        (
            "another fingerprint",
            format!(
                "  tls:\n    fingerprint: \"{}\"\n",
                fingerprint(&d.join("other.pem"))
            ),
        ),
        (
            "another CA",
            format!("  tls:\n    ca: {}\n", d.join("other-ca.pem").display()),
        ),
        ("the system roots", String::new()),
    ] {
        let err = rt
            .block_on(driver(port, &key, &tls).fetch())
            .expect_err(what);
        assert_eq!(err.code(), ErrorCode::Auth, "{what}: {err}");
        assert!(
            err.to_string().contains("TLS certificate was refused"),
            "{what}: {err}"
        );
    }
}
