//! `vnfsync demo`: start lab appliances and the daemon syncing the shipped desired state into
//! them; print where the API is, the token and two commands to try; Ctrl-C cleans up.

use std::io::Write;
use std::time::Duration;

use clap::Args;

use super::Exit;
use crate::daemon::demo;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print one JSON line (`api`, `repo`, `token`) when converged, instead of the guide.
    #[arg(long)]
    pub json: bool,
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub fn run(args: &DemoArgs) -> Exit {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Failure;
        }
    };
    rt.block_on(async {
        let d = match demo::prepare().await {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failure;
            }
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let daemon = tokio::spawn(crate::daemon::run_with(
            d.config.clone(),
            d.tokens.clone(),
            demo::names(),
            async move {
                let _ = stop_rx.await;
            },
        ));
        let converged = tokio::select! {
            r = demo::wait_converged(&d.api, &d.token, Duration::from_secs(180)) => r,
            () = stopped() => Err(demo::DemoError::Other("interrupted".into())),
        };
        if let Err(e) = converged {
            eprintln!("error: {e}");
            let _ = stop_tx.send(());
            let _ = daemon.await;
            return Exit::Failure;
        }
        let repo = d.repo();
        let mut out = std::io::stdout().lock();
        let printed = if args.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"api": d.api, "repo": repo, "token": d.token})
            )
        } else {
            let edge1 = repo.join("desired-state/policies/web-servers.yaml");
            writeln!(
                out,
                "vnfsync demo: 3 lab appliances (VyOS 1.3, 1.4, 1.5) converged.\n\n  API:    {api}\n  token:  {token}\n  repo:   {repo}\n\nTry:\n  curl -s -H 'Authorization: Bearer {token}' {api}/v1/status\n  # change a rule, commit, and watch it converge:\n  sed -i 's/external_port: 443/external_port: 8443/' {edge1} && git -C {repo} commit -qam 'web on 8443'\n  # lock the management port out, and watch the automatic rollback:\n  sed -i 's#{noc}#198.51.100.0/24#' {repo}/desired-state/policies/management.yaml && git -C {repo} commit -qam 'lock out'\n\nCtrl-C stops everything and removes {dir}.",
                api = d.api,
                token = d.token,
                repo = repo.display(),
                edge1 = edge1.display(),
                dir = d.dir.path().display(),
                noc = demo::DEMO_NOC,
            )
        };
        if printed.and_then(|()| out.flush()).is_err() {
            let _ = stop_tx.send(());
            return Exit::Failure;
        }
        drop(out);
        stopped().await;
        let _ = stop_tx.send(());
        let _ = daemon.await;
        drop(d);
        Exit::Ok
    })
}
