//! The lab must not say yes where VyOS says no: one test per departure that was fixed, each
//! through the real `vnfsync lab` process and clients we did not write (the system OpenSSH
//! `ssh` and `curl`). Every lab binds 127.0.0.1 on ephemeral ports; waits poll with a
//! deadline.
#![allow(clippy::disallowed_methods, dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::{Killed, spawn_lab};

const KEY: &str = "vnfsync-lab-key";
const HEAD: &str = "#!/bin/vbash\nsource /opt/vyatta/etc/functions/script-template\nconfigure\n";

/// A running `vnfsync lab` with one appliance `r1`, an SSH key pair and a pinned host key.
struct Lab {
    _process: Killed,
    dir: tempfile::TempDir,
    info: Value,
}

impl Lab {
    /// `vnfsync lab --file` with one appliance; `extra` is more YAML for it (indented 4).
    fn start(profile: &str, extra: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let keygen = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.path().join("id"))
            .status()
            .unwrap_or_else(|e| panic!("ssh-keygen: {e}"));
        assert!(keygen.success());
        let public = std::fs::read_to_string(dir.path().join("id.pub")).unwrap_or_default();
        let file = dir.path().join("lab.yaml");
        std::fs::write(
            &file,
            format!(
                "appliances:\n  - name: r1\n    profile: '{profile}'\n    authorized_keys: ['{}']\n{extra}",
                public.trim()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let file_arg = file.display().to_string();
        let (process, mut lines) = spawn_lab(
            &[
                "--file",
                &file_arg,
                "--minute-seconds",
                "1",
                "--reboot-seconds",
                "1",
                "--login-delay-ms",
                "300",
            ],
            1,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let info = lines.remove(0);
        let lab = Lab {
            _process: process,
            dir,
            info,
        };
        std::fs::write(
            lab.dir.path().join("known"),
            format!(
                "[127.0.0.1]:{} {}\n",
                lab.ssh_port(),
                lab.info["host_key"].as_str().unwrap_or_default()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        lab
    }

    fn ssh_port(&self) -> String {
        let addr = self.info["ssh"].as_str().unwrap_or_default();
        addr.rsplit(':').next().unwrap_or_default().to_owned()
    }

    fn api(&self) -> String {
        self.info["api"].as_str().unwrap_or_default().to_owned()
    }

    fn control(&self) -> String {
        self.info["control"].as_str().unwrap_or_default().to_owned()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The system `ssh` with the test key; (stdout, stderr, exit code).
    fn ssh(&self, command: &str, stdin: &str) -> (String, String, Option<i32>) {
        self.ssh_as(
            "vyos",
            &["-i", &self.path("id").display().to_string()],
            command,
            stdin,
        )
    }

    /// The system `ssh` with password authentication (the password comes from an askpass
    /// script, one prompt only).
    fn ssh_password(&self, user: &str, password: &str, command: &str) -> (String, Option<i32>) {
        let askpass = self.path(&format!("askpass-{user}-{}", password.len()));
        std::fs::write(&askpass, format!("#!/bin/sh\necho '{password}'\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("{e}"));
        let askpass = askpass.display().to_string();
        let (out, _, rc) = self.ssh_env(
            user,
            &[
                "-o",
                "BatchMode=no",
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "NumberOfPasswordPrompts=1",
            ],
            &[
                ("SSH_ASKPASS", askpass.as_str()),
                ("SSH_ASKPASS_REQUIRE", "force"),
                ("DISPLAY", ":0"),
            ],
            command,
            "",
        );
        (out, rc)
    }

    fn ssh_as(
        &self,
        user: &str,
        auth: &[&str],
        command: &str,
        stdin: &str,
    ) -> (String, String, Option<i32>) {
        self.ssh_env(user, auth, &[], command, stdin)
    }

    fn ssh_env(
        &self,
        user: &str,
        auth: &[&str],
        env: &[(&str, &str)],
        command: &str,
        stdin: &str,
    ) -> (String, String, Option<i32>) {
        let mut child = Command::new("ssh")
            .envs(env.iter().copied())
            .args(["-F", "/dev/null", "-T"])
            .args(auth)
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.path("known").display()
            ))
            .args([
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "ConnectTimeout=5",
                "-o",
                "LogLevel=ERROR",
                "-p",
                &self.ssh_port(),
                "-l",
                user,
                "127.0.0.1",
                command,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("ssh: {e}"));
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin.as_bytes());
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("ssh: {e}"));
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code(),
        )
    }

    /// `vbash -s` with the template and `configure` before `body`.
    fn script(&self, body: &str) -> (String, Option<i32>) {
        let (out, _, rc) = self.ssh("vbash -s", &format!("{HEAD}{body}"));
        (out, rc)
    }

    /// POST a JSON body to the API; (status, JSON reply).
    fn post(&self, endpoint: &str, body: &Value) -> (u16, Value) {
        let (status, text) = curl(&[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body.to_string(),
            &format!("{}/{endpoint}", self.api()),
        ]);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn configure(&self, op: &str, path: &[&str]) -> (u16, Value) {
        self.post("configure", &json!({"key": KEY, "op": op, "path": path}))
    }

    fn retrieve(&self, op: &str, path: &[&str]) -> Value {
        self.post("retrieve", &json!({"key": KEY, "op": op, "path": path}))
            .1
    }
}

/// curl with a 5 s cap; (HTTP status, body).
fn curl(args: &[&str]) -> (u16, String) {
    const MARK: &str = "\n--status--";
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "-w"])
        .arg(format!("{MARK}%{{http_code}}"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("curl: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once(MARK).unwrap_or((&text, "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn extra_words_after_a_leaf_value_are_refused_and_every_view_agrees() {
    let lab = Lab::start("1.4", "");
    let (out, rc) =
        lab.script("set system host-name a b\nset system host-name 'edge'\ncommit\nsave\nexit\n");
    assert_eq!(
        out,
        "\n  Configuration path: system host-name a [b] is not valid\n  Set failed\n\n"
    );
    assert_eq!(rc, Some(0));
    // The API joins path and value the same way: extra words are a 400, nothing committed.
    let (status, reply) = lab.post(
        "configure",
        &json!({"key": KEY, "op": "set", "path": ["system", "host-name", "x", "y"]}),
    );
    assert_eq!(status, 400, "{reply}");
    assert_eq!(
        reply["error"],
        json!("Configuration path: [system host-name x y] is not valid\nSet failed")
    );
    let (status, _) = lab.post(
        "configure",
        &json!({"key": KEY, "op": "set", "path": ["system", "host-name", "x"], "value": "y"}),
    );
    assert_eq!(status, 400);
    // Every view says `edge`.
    let (commands, _, _) = lab.ssh("show configuration commands", "");
    assert!(
        commands.contains("set system host-name 'edge'\n"),
        "{commands}"
    );
    assert_eq!(
        lab.retrieve("returnValue", &["system", "host-name"])["data"],
        json!("edge")
    );
    assert_eq!(
        lab.retrieve("showConfig", &["system", "host-name"])["data"],
        json!({"host-name": "edge"})
    );
    let (_, saved) = curl(&[&format!("{}/saved", lab.control())]);
    assert!(saved.contains("host-name \"edge\"\n"), "{saved}");
    let (out, _) = lab.script("compare\nexit\n");
    assert_eq!(
        out,
        "No changes between working and active configurations.\n"
    );
}

#[test]
fn vbash_syntax_is_interpreted_or_refused_never_stored() {
    let lab = Lab::start("1.4", "");
    let (out, err, rc) = lab.ssh(
        "vbash -s",
        &format!(
            "{HEAD}set system host-name 'seq1'; set system domain-name 'example.net'\n\
             set system time-zone $(cat /etc/timezone)\n\
             set system name-server `dig +short ns`\n\
             set system login banner \"$BANNER\"\n\
             set interfaces ethernet eth1 description x > /tmp/out\n\
             set interfaces ethernet eth1 description x | tee\n\
             false || echo fallback\n\
             false && echo never\n\
             commit && echo committed\n\
             exit\n"
        ),
    );
    assert_eq!(
        out,
        "fallback\ncommitted\nWarning: configuration changes have not been saved.\n"
    );
    assert_eq!(
        err,
        "vbash: line 5: command substitution ($(...)) is not supported by the vnfsync lab\n\
         vbash: line 6: command substitution (`...`) is not supported by the vnfsync lab\n\
         vbash: line 7: variable expansion ($NAME) is not supported by the vnfsync lab\n\
         vbash: line 8: redirection (<, >) is not supported by the vnfsync lab\n\
         vbash: line 9: a pipeline (|) is not supported by the vnfsync lab\n"
    );
    assert_eq!(rc, Some(0));
    let (commands, _, _) = lab.ssh("show configuration commands", "");
    assert!(
        commands.contains("set system host-name 'seq1'\n"),
        "{commands}"
    );
    assert!(
        commands.contains("set system domain-name 'example.net'\n"),
        "{commands}"
    );
    for bad in [
        "time-zone",
        "name-server",
        "banner",
        "description",
        ";",
        "$",
        "`",
        "|",
        ">",
    ] {
        assert!(!commands.contains(bad), "{bad} stored: {commands}");
    }
    // One op-mode command with a pipe is refused too, and `vbash -c` runs `;` sequences.
    let (out, err, rc) = lab.ssh("show configuration commands | grep host", "");
    assert_eq!(
        (out.as_str(), err.as_str(), rc),
        (
            "",
            "vbash: line 1: a pipeline (|) is not supported by the vnfsync lab\n",
            Some(2)
        )
    );
    let (out, _, rc) = lab.ssh("vbash -c 'echo one; echo two && false; echo three'", "");
    assert_eq!((out.as_str(), rc), ("one\ntwo\nthree\n", Some(0)));
}

fn refused(messages: &[&str]) -> String {
    let mut s = String::from("\n");
    for m in messages
        .iter()
        .chain(&["Value validation failed", "Set failed"])
    {
        s.push_str("  ");
        s.push_str(m);
        s.push('\n');
    }
    s.push('\n');
    s
}

#[test]
fn set_time_value_checks_and_strict_delete() {
    let lab = Lab::start("1.4", "");
    let long = "d".repeat(257);
    let (out, rc) = lab.script(&format!(
        "set firewall ipv4 name WAN rule 10 destination port 65536\n\
         set firewall ipv4 name WAN rule 10 destination port 80-22\n\
         set firewall ipv4 name WAN rule 10 protocol tcpp\n\
         set protocols static route 0.0.0.0/0 next-hop gateway\n\
         set interfaces ethernet eth1 description '{long}'\n\
         set interfaces ethernet eth1 description \"it's\"\n\
         set service https api keys id 'a b' key x\n\
         set firewall ipv4 name WAN rule 10 protocol '!udp'\n\
         set firewall ipv4 name WAN rule 10 action accept\n\
         set firewall ipv4 name WAN rule 20 protocol tcp\n\
         set firewall ipv4 name WAN rule 20 destination port 'http,8000-8080'\n\
         set firewall ipv4 name WAN rule 20 action accept\n\
         commit\nexit\n"
    ));
    let expected = [
        refused(&["Invalid port \"65536\""]),
        refused(&["Invalid port \"80-22\""]),
        refused(&[
            "Invalid protocol \"tcpp\": not a name of /etc/protocols, tcp_udp, all or a number 0-255",
        ]),
        refused(&["\"gateway\" is not a valid IPv4 address"]),
        refused(&["Description too long (limit 256 characters)"]),
        refused(&["Cannot use the single quote (') character in a value string"]),
        refused(&["Tag node value name must not contain whitespace"]),
        "Warning: configuration changes have not been saved.\n".to_owned(),
    ]
    .concat();
    assert_eq!(out, expected);
    assert_eq!(rc, Some(0));
    let (commands, _, _) = lab.ssh("show configuration commands", "");
    assert!(
        commands.contains("set firewall ipv4 name WAN rule 10 protocol '!udp'\n"),
        "{commands}"
    );
    for bad in ["65536", "tcpp", "gateway", "ddd", "it's", "'a b'"] {
        assert!(!commands.contains(bad), "{bad}: {commands}");
    }
    // The API joins a tag node's value to its path: the next hop is checked there too.
    let (status, reply) = lab.post(
        "configure",
        &json!({"key": KEY, "op": "set", "path": ["protocols", "static", "route", "0.0.0.0/0", "next-hop"], "value": "gateway"}),
    );
    assert_eq!(status, 400, "{reply}");
    assert_eq!(
        reply["error"],
        json!("\"gateway\" is not a valid IPv4 address\nValue validation failed\nSet failed")
    );
    // Deleting what does not exist: silent success without `strict`, the error with it (§5.2).
    assert_eq!(lab.configure("delete", &["system", "time-zone"]).0, 200);
    let (status, _) = lab.configure("set", &["service", "https", "api", "strict"]);
    assert_eq!(status, 200);
    eventually("strict mode", || {
        lab.retrieve("exists", &["service", "https", "api", "strict"])["data"] == json!(true)
    });
    let (status, reply) = lab.configure("delete", &["system", "time-zone"]);
    assert_eq!(status, 400, "{reply}");
    assert_eq!(
        reply["error"],
        json!("Cannot delete [system time-zone]: path/value does not exist")
    );
    let (status, reply) = lab.post(
        "configure",
        &json!({"key": KEY, "op": "delete", "path": ["interfaces", "ethernet", "eth0", "address"], "value": "203.0.113.1/24"}),
    );
    assert_eq!(status, 400, "{reply}");
    assert_eq!(
        lab.configure(
            "delete",
            &["interfaces", "ethernet", "eth0", "address", "192.0.2.1/24"]
        )
        .0,
        200
    );
}

#[test]
fn confirm_time_is_coerced_or_refused_as_the_api_validates_it() {
    let lab = Lab::start("1.5", "");
    let set = |name: &str, t: Value| {
        lab.post(
            "configure",
            &json!({"key": KEY, "op": "set", "path": ["system", "host-name", name], "confirm_time": t}),
        )
    };
    for (t, kind, msg, input) in [
        (
            json!(1.5),
            "int_from_float",
            "Input should be a valid integer, got a number with a fractional part",
            "1.5",
        ),
        (
            json!("x"),
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
            "'x'",
        ),
        (
            json!([1]),
            "int_type",
            "Input should be a valid integer",
            "[1]",
        ),
    ] {
        let (status, reply) = set("refused", t);
        assert_eq!(status, 400, "{reply}");
        assert_eq!(
            reply["error"],
            json!(format!(
                "{{'type': '{kind}', 'loc': ('body', 'confirm_time'), 'msg': '{msg}', 'input': {input}}}"
            ))
        );
    }
    assert_eq!(
        lab.retrieve("returnValue", &["system", "host-name"])["data"],
        json!("r1")
    );
    // A string of digits is coerced: commit-confirm runs with its timer.
    let (status, reply) = set("coerced", json!("2"));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["data"],
        json!("Initialized commit-confirm; 2 minutes to confirm before reboot\n")
    );
    let (status, reply) = lab.post("config-file", &json!({"key": KEY, "op": "confirm"}));
    assert_eq!(
        (status, reply["data"].clone()),
        (200, json!("Reboot timer stopped\n"))
    );
    // A batch keeps its confirm_time.
    let (status, reply) = lab.post(
        "configure",
        &json!({"key": KEY, "commands": [{"op": "set", "path": ["system", "host-name", "batch"]}], "confirm_time": 3.0}),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["data"],
        json!("Initialized commit-confirm; 3 minutes to confirm before reboot\n")
    );
    let (_, reply) = lab.post("configure", &json!({"key": KEY, "op": "confirm"}));
    assert_eq!(reply["data"], json!("Reboot timer stopped\n"));
    assert_eq!(
        lab.retrieve("returnValue", &["system", "host-name"])["data"],
        json!("batch")
    );
}

#[test]
fn control_token_exec_user_and_logins_checked_against_the_config() {
    let lab = Lab::start("1.4", "");
    let control = lab.control();
    let token = lab.info["control_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The control URL carries the token; without it, 401; with the header, served.
    let bare = control.replace(&format!("/t/{token}"), "");
    assert_ne!(bare, control);
    assert_eq!(curl(&[&bare]).0, 401);
    assert_eq!(curl(&["-X", "POST", &format!("{bare}/reboot")]).0, 401);
    assert_eq!(curl(&["-H", "Authorization: Bearer nope", &bare]).0, 401);
    assert_eq!(
        curl(&["-H", &format!("Authorization: Bearer {token}"), &bare]).0,
        200
    );
    // /exec runs as the configured user, logged `via: control`; an unknown user is a 404.
    let exec = |body: Value| {
        let (status, text) = curl(&[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body.to_string(),
            &format!("{control}/exec"),
        ]);
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let (status, reply) = exec(json!({"command": "show host name"}));
    assert_eq!((status, reply["stdout"].clone()), (200, json!("r1\n")));
    assert_eq!(
        exec(json!({"command": "show host name", "user": "mallory"})).0,
        404
    );
    let log: Value =
        serde_json::from_str(&curl(&[&format!("{control}/log")]).1).unwrap_or(Value::Null);
    let entry = log
        .as_array()
        .and_then(|l| l.iter().find(|e| e["command"] == json!("show host name")))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        (entry["via"].clone(), entry["user"].clone()),
        (json!("control"), json!("vyos"))
    );
    // A plaintext password is stored hashed at commit; logins then follow `system login user`.
    let public = read(&lab.path("id.pub"));
    let mut key = public.split_whitespace();
    let (kind, blob) = (
        key.next().unwrap_or_default(),
        key.next().unwrap_or_default(),
    );
    let (out, rc) = lab.script(&format!(
        "set system login user alice authentication plaintext-password 'S3cret-pw'\n\
         set system login user vyos authentication public-keys test key '{blob}'\n\
         set system login user vyos authentication public-keys test type '{kind}'\n\
         commit\nsave\nexit\n"
    ));
    assert_eq!((out.as_str(), rc), ("", Some(0)));
    let (commands, _, _) = lab.ssh("show configuration commands", "");
    assert!(
        commands.contains("set system login user alice authentication encrypted-password '$6$"),
        "{commands}"
    );
    assert!(!commands.contains("plaintext-password"), "{commands}");
    assert!(!commands.contains("S3cret"), "{commands}");
    let (out, rc) = lab.ssh_password("alice", "S3cret-pw", "show host name");
    assert_eq!((out.as_str(), rc), ("r1\n", Some(0)));
    // A failed login is answered only after the login delay (300 ms in this lab).
    let started = Instant::now();
    let (out, rc) = lab.ssh_password("alice", "wrong", "show host name");
    assert_eq!((out.as_str(), rc), ("", Some(255)));
    assert!(started.elapsed() >= Duration::from_millis(300));
    // The lab file's password no longer opens the box: the config defines the users now.
    let (_, rc) = lab.ssh_password("vyos", "vyos", "show host name");
    assert_eq!(rc, Some(255));
}

/// `vnfsync lab ARGS…` expected to refuse its arguments: exit 64 and a message on stderr.
fn refused_args(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .arg("lab")
        .args(args)
        .stdout(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("vnfsync lab: {e}"));
    assert_eq!(out.status.code(), Some(64), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_options_and_lab_files_exit_64() {
    assert!(refused_args(&["--vyos", "0"]).contains("at least one appliance"));
    assert!(refused_args(&["--vyos", "1", "--port-base", "80"]).contains("privileged"));
    assert!(refused_args(&["--vyos", "3", "--port-base", "65530"]).contains("above 65535"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (yaml, message) in [
        ("appliances:\n  - name: 'r 1'\n", "not a DNS label"),
        ("appliances:\n  - name: r1.example\n", "not a DNS label"),
        ("appliances:\n  - name: -r1\n", "not a DNS label"),
        (
            "appliances:\n  - name: r1\n    api_key: ''\n",
            "api_key is empty",
        ),
        ("appliances: []\n", "at least one"),
    ] {
        let file = dir.path().join("lab.yaml");
        std::fs::write(&file, yaml).unwrap_or_else(|e| panic!("{e}"));
        let err = refused_args(&["--file", &file.display().to_string()]);
        assert!(err.contains(message), "{yaml}: {err}");
    }
}

#[test]
fn listed_departures_behave_as_documented() {
    let lab = Lab::start("1.4", "");
    // A Linux program: the lab has no userland (Known departures), and says so as vbash would.
    let (out, err, rc) = lab.ssh("id", "");
    assert_eq!(
        (out.as_str(), err.as_str(), rc),
        ("", "vbash: line 1: id: command not found\n", Some(127))
    );
    // `sg vyattacfg -c "vbash -s"` (the documented way, §4.1) reads the script from stdin.
    let (out, _, rc) = lab.ssh(
        "sg vyattacfg -c \"vbash -s\"",
        &format!("{HEAD}set system host-name 'via-sg'\ncommit\nexit discard\necho done\n"),
    );
    assert_eq!((out.as_str(), rc), ("done\n", Some(0)));
    assert_eq!(
        lab.retrieve("returnValue", &["system", "host-name"])["data"],
        json!("via-sg")
    );
    // The control endpoint is the console: a change that locks SSH out still gets its answer
    // there, and the console can undo it.
    let exec = |stdin: &str| {
        let (status, text) = curl(&[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &json!({"command": "vbash -s", "stdin": format!("{HEAD}{stdin}")}).to_string(),
            &format!("{}/exec", lab.control()),
        ]);
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let (status, reply) = exec(
        "set firewall ipv4 input filter rule 10 action 'drop'\n\
         set firewall ipv4 input filter rule 10 protocol 'tcp'\n\
         set firewall ipv4 input filter rule 10 destination port '22'\n\
         commit\necho locked\nexit discard\n",
    );
    assert_eq!(
        (status, reply["stdout"].clone()),
        (200, json!("locked\n")),
        "{reply}"
    );
    eventually("the lockout", || {
        lab.ssh("show host name", "").2 == Some(255)
    });
    let (status, reply) = exec("delete firewall\ncommit\necho open\nexit discard\n");
    assert_eq!(
        (status, reply["stdout"].clone()),
        (200, json!("open\n")),
        "{reply}"
    );
    let (out, _, rc) = lab.ssh("show host name", "");
    assert_eq!((out.as_str(), rc), ("via-sg\n", Some(0)));
}
