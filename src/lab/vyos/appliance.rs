//! One emulated VyOS appliance: the active, saved and archived configs, the sessions over them,
//! commits (partial, per owner subtree), commit-confirm per profile with its timer, reboots and
//! their downtime, management lockout, faults and the log of every command received.
//!
//! Owns the appliance state and every rule of §3 that is not about wording. All state sits
//! behind one mutex that is never held across an `.await`; timers are tokio tasks holding a weak
//! reference. Front ends (`exec` and the script interpreter, `api`, `control`) only call the methods
//! here and word the results; they must not reach into the state.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::faults::{Action, FaultState, Faults};
use super::frontend::Admission;
use super::lockout::{self, Probe};
use super::profile::Profile;
use super::session::Session;
use super::validate::{self, Context};
use crate::vyos::{self, BootFile, ConfigTree, VersionFooter, Vintage, diff, render_boot_file};

/// What an appliance is made from (a lab file entry, or `--vyos N`).
#[derive(Debug, Clone)]
pub struct ApplianceSpec {
    pub name: String,
    pub profile: Profile,
    pub user: String,
    pub password: String,
    /// The API key, written into the initial config as `service https api keys id lab key`.
    pub api_key: String,
    /// Public keys accepted for `user`, as in `authorized_keys` (comment optional).
    pub authorized_keys: Vec<String>,
    /// The initial config.boot or command list; `None` for the lab's default config.
    pub config: Option<String>,
    pub faults: Faults,
}

impl ApplianceSpec {
    /// A spec with the lab's default credentials and config.
    pub fn new(name: impl Into<String>, profile: Profile) -> ApplianceSpec {
        ApplianceSpec {
            name: name.into(),
            profile,
            user: "vyos".to_owned(),
            password: "vyos".to_owned(),
            api_key: "vnfsync-lab-key".to_owned(),
            authorized_keys: Vec::new(),
            config: None,
            faults: Faults::default(),
        }
    }
}

/// The emulated clock: how long a "minute" of commit-confirm is, and a reboot's downtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub minute: Duration,
    pub reboot: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            minute: Duration::from_secs(60),
            reboot: Duration::from_secs(30),
        }
    }
}

/// Why an appliance could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplianceError {
    #[error("appliance {name}: initial config: {source}")]
    Config { name: String, source: vyos::Error },
    #[error("appliance {name}: initial config: {message}")]
    Rejected { name: String, message: String },
}

/// Where a command came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Ssh,
    Api,
    Control,
    /// The appliance itself (timers).
    System,
}

impl Via {
    /// The `via` field of the commit log (§3.5).
    fn archive_name(self) -> &'static str {
        match self {
            Via::Api => "vyos-http-api",
            Via::System => "init",
            Via::Ssh | Via::Control => "cli",
        }
    }
}

/// One entry of the command log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    /// Milliseconds since the appliance started.
    pub ms: u64,
    pub via: Via,
    pub user: String,
    pub command: String,
}

/// One archived revision (§3.5); revision 0 is the newest.
#[derive(Debug, Clone)]
pub struct Revision {
    pub tree: ConfigTree,
    pub time: String,
    pub user: String,
    pub via: &'static str,
    pub comment: String,
}

/// A session handle.
pub type SessionId = u64;
/// The API's single shared session (§5.2).
pub const API_SESSION: SessionId = 0;

/// Which of the appliance's services a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ssh,
    Api,
}

/// How a commit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitStatus {
    /// Nothing differed.
    NoChanges,
    /// Everything committed (there may be warnings in the output).
    Committed,
    /// At least one subtree failed (others may be committed: a partial commit), or the commit
    /// could not run at all (lock, fault).
    Failed,
}

/// A commit's outcome and its output, worded as VyOS prints it (§3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReport {
    pub status: CommitStatus,
    pub output: String,
}

/// What happens when a commit-confirm times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmAction {
    Reboot,
    Reload,
}

/// A successful arming of commit-confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Armed {
    /// `Initialized commit-confirm; N minutes to confirm before reboot` (1.4+), or `Another
    /// confirm is pending` (1.3, where the commit still runs without a new timer).
    pub message: String,
    pub action: ConfirmAction,
    /// Whether a new timer runs (false: 1.3 with one already pending).
    pub new_timer: bool,
}

struct Pending {
    id: u64,
    task: AbortHandle,
    action: ConfirmAction,
    /// 1.3: the config.boot as saved when commit-confirm ran.
    saved_then: String,
    /// 1.4+: revisions of commits made under commit-confirm, archived by `confirm`.
    held: Vec<Revision>,
}

struct SessionSlot {
    session: Session,
    user: String,
    via: Via,
}

struct State {
    active: ConfigTree,
    saved: String,
    files: BTreeMap<String, String>,
    archive: Vec<Revision>,
    pending: Option<Pending>,
    down_until: Option<Instant>,
    generation: u64,
    sessions: HashMap<SessionId, SessionSlot>,
    next_session: SessionId,
    log: VecDeque<LogEntry>,
    log_seq: u64,
    faults: FaultState,
    confirm_seq: u64,
}

/// The longest command log kept per appliance; older entries are dropped.
pub const LOG_CAPACITY: usize = 10_000;

/// The saved config file (§3.4).
pub const CONFIG_BOOT: &str = "/config/config.boot";

/// An emulated VyOS appliance. Build with [`Appliance::new`] inside a tokio runtime.
pub struct Appliance {
    spec: ApplianceSpec,
    timing: Timing,
    hardware: BTreeSet<String>,
    me: Weak<Appliance>,
    started: Instant,
    state: Mutex<State>,
    commit_lock: tokio::sync::Mutex<()>,
    api_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Appliance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appliance")
            .field("name", &self.spec.name)
            .field("profile", &self.spec.profile)
            .finish_non_exhaustive()
    }
}

/// The lab's default config for a new appliance.
pub fn default_config(spec: &ApplianceSpec) -> String {
    let mut s = String::new();
    s.push_str("set interfaces ethernet eth0 address '192.0.2.1/24'\n");
    s.push_str("set interfaces ethernet eth0 hw-id '00:53:00:00:00:00'\n");
    s.push_str("set interfaces ethernet eth1 hw-id '00:53:00:00:00:01'\n");
    s.push_str("set interfaces loopback lo\n");
    s.push_str("set service ssh port '22'\n");
    s.push_str(&format!(
        "set service https api keys id lab key '{}'\n",
        spec.api_key
    ));
    if spec.profile.api_needs_rest_node() {
        s.push_str("set service https api rest\n");
    }
    s.push_str("set system config-management commit-revisions '100'\n");
    s.push_str(&format!("set system host-name '{}'\n", spec.name));
    s
}

fn footer(profile: Profile) -> VersionFooter {
    VersionFooter {
        vintage: Vintage::Vyos,
        components: vec![
            (
                "firewall".to_owned(),
                if profile.is_1_4_plus() { 15 } else { 5 },
            ),
            (
                "interfaces".to_owned(),
                if profile.is_1_4_plus() { 32 } else { 22 },
            ),
            ("nat".to_owned(), if profile.is_1_4_plus() { 8 } else { 5 }),
            (
                "system".to_owned(),
                if profile.is_1_4_plus() { 27 } else { 21 },
            ),
        ],
        release: profile.release().to_owned(),
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a wall-clock time.
pub fn format_time(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

fn commit_revisions(tree: &ConfigTree) -> usize {
    tree.get(&["system", "config-management", "commit-revisions"])
        .and_then(|n| n.values().first())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn first_value<'a>(tree: &'a ConfigTree, path: &[&str]) -> Option<&'a str> {
    tree.get(path)
        .and_then(|n| n.values().first())
        .map(String::as_str)
}

/// The `system login user` node, if the config defines any user.
fn login_users(tree: &ConfigTree) -> Option<&vyos::Node> {
    tree.get(&["system", "login", "user"])
        .filter(|n| !n.children().is_empty())
}

/// Stores each `plaintext-password` of `system login user` as its SHA-512 crypt hash in
/// `encrypted-password`, as VyOS's `system_login.py` does at commit; whether anything changed.
pub fn hash_plaintext_passwords(tree: &mut ConfigTree) -> bool {
    let users: Vec<(String, String)> = login_users(tree)
        .map(|users| {
            users
                .children()
                .iter()
                .filter_map(|u| {
                    let p = u.get(&["authentication", "plaintext-password"])?;
                    Some((u.name().to_owned(), p.values().first()?.clone()))
                })
                .collect()
        })
        .unwrap_or_default();
    for (user, password) in &users {
        let base = ["system", "login", "user", user.as_str(), "authentication"];
        let mut path: Vec<&str> = base.to_vec();
        path.push("encrypted-password");
        let _ = tree.set_with(
            &path,
            Some(&super::crypt::hash(password)),
            vyos::SetMode::Replace,
        );
        path.pop();
        path.push("plaintext-password");
        let _ = tree.delete(&path, None);
    }
    !users.is_empty()
}

/// The name of a file as `save`/`load` see it: relative names live under `/config/`.
pub fn file_path(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/config/{name}")
    }
}

impl Appliance {
    /// Builds an appliance booted from its initial config (which is also its saved config).
    pub fn new(spec: ApplianceSpec, timing: Timing) -> Result<Arc<Appliance>, ApplianceError> {
        let text = spec.config.clone().unwrap_or_else(|| default_config(&spec));
        let mut tree = ConfigTree::parse_any(&text)
            .map_err(|source| ApplianceError::Config {
                name: spec.name.clone(),
                source,
            })?
            .tree;
        super::schema::mark_tags(&mut tree);
        if let Some(p) = super::session::misshapen(&tree) {
            return Err(ApplianceError::Rejected {
                name: spec.name.clone(),
                message: format!("[{}] holds both values and children", p.join(" ")),
            });
        }
        hash_plaintext_passwords(&mut tree);
        // Values a `set` would refuse cannot be in a config either (§1.3).
        for c in vyos::diff(&ConfigTree::new(), &tree, &[]) {
            if let Some(v) = &c.value
                && let Err(message) = vyos::validate_value(v)
            {
                return Err(ApplianceError::Rejected {
                    name: spec.name.clone(),
                    message,
                });
            }
        }
        let mut hardware: BTreeSet<String> = (0..4).map(|i| format!("eth{i}")).collect();
        if let Some(eths) = tree.get(&["interfaces", "ethernet"]) {
            hardware.extend(eths.children().iter().map(|n| n.name().to_owned()));
        }
        let saved = render_boot_file(
            &BootFile {
                tree: tree.clone(),
                footer: Some(footer(spec.profile)),
            },
            &spec.profile.boot_style(),
        );
        let mut archive = Vec::new();
        if commit_revisions(&tree) > 0 {
            archive.push(Revision {
                tree: tree.clone(),
                time: format_time(SystemTime::now()),
                user: "root".to_owned(),
                via: Via::System.archive_name(),
                comment: String::new(),
            });
        }
        let faults = FaultState::new(spec.faults.clone());
        Ok(Arc::new_cyclic(|me| Appliance {
            spec,
            timing,
            hardware,
            me: me.clone(),
            started: Instant::now(),
            state: Mutex::new(State {
                active: tree,
                saved,
                files: BTreeMap::new(),
                archive,
                pending: None,
                down_until: None,
                generation: 0,
                sessions: HashMap::new(),
                next_session: API_SESSION + 1,
                log: VecDeque::new(),
                log_seq: 0,
                faults,
                confirm_seq: 0,
            }),
            commit_lock: tokio::sync::Mutex::new(()),
            api_lock: tokio::sync::Mutex::new(()),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug in this module; the state is still
        // consistent after any single statement, so keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn spec(&self) -> &ApplianceSpec {
        &self.spec
    }
    pub fn name(&self) -> &str {
        &self.spec.name
    }
    pub fn profile(&self) -> Profile {
        self.spec.profile
    }
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// This appliance as an `Arc` (`None` while it is being dropped).
    pub fn arc(&self) -> Option<Arc<Appliance>> {
        self.me.upgrade()
    }

    /// Whether `user` may log in with `password`: against `system login user` when the
    /// active config defines users (the stored `encrypted-password`), else the lab file's
    /// credentials.
    pub fn login_password_ok(&self, user: &str, password: &str) -> bool {
        // Read what is stored under the lock; hash (slow on purpose) after releasing it.
        let stored = {
            let st = self.lock();
            login_users(&st.active).map(|users| {
                let auth = |leaf: &str| {
                    users
                        .get(&[user, "authentication", leaf])
                        .and_then(|n| n.values().first().cloned())
                };
                (auth("encrypted-password"), auth("plaintext-password"))
            })
        };
        match stored {
            Some((hash, plain)) => {
                hash.is_some_and(|h| super::crypt::verify(password, &h))
                    || plain.is_some_and(|p| p == password)
            }
            None => user == self.spec.user && password == self.spec.password,
        }
    }

    /// Whether `user` may log in with the public key `key_openssh` (`authorized_keys` form):
    /// against `system login user X authentication public-keys` when the active config
    /// defines users, else the lab file's `authorized_keys`.
    pub fn login_key_ok(&self, user: &str, key_openssh: &str) -> bool {
        let strip = |k: &str| k.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        let key = strip(key_openssh);
        let st = self.lock();
        match login_users(&st.active) {
            Some(users) => users
                .get(&[user, "authentication", "public-keys"])
                .is_some_and(|keys| {
                    keys.children().iter().any(|k| {
                        let v = |leaf: &str| {
                            k.child(leaf)
                                .and_then(|n| n.values().first().cloned())
                                .unwrap_or_default()
                        };
                        format!("{} {}", v("type"), v("key")) == key
                    })
                }),
            None => {
                user == self.spec.user && self.spec.authorized_keys.iter().any(|k| strip(k) == key)
            }
        }
    }

    /// Whether `user` is a login user of the appliance (see [`Appliance::login_password_ok`]).
    pub fn user_exists(&self, user: &str) -> bool {
        let st = self.lock();
        match login_users(&st.active) {
            Some(users) => users.child(user).is_some(),
            None => user == self.spec.user,
        }
    }

    /// The lock that serialises API requests (§5.2).
    pub fn api_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.api_lock
    }

    /// Whether the appliance is up (not in a reboot).
    pub fn is_up(&self) -> bool {
        let st = self.lock();
        st.down_until.is_none_or(|t| Instant::now() >= t)
    }

    /// Bumped by every reboot; sessions of an older generation are gone.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    // ---- log and faults -------------------------------------------------------------------

    /// Records a command and asks the faults what to do with it.
    pub fn on_command(&self, via: Via, user: &str, command: &str) -> Action {
        let mut st = self.lock();
        self.push_log(&mut st, via, user, command);
        st.faults.on_command(command)
    }

    /// Records a command without counting it as one for the faults.
    pub fn record(&self, via: Via, user: &str, command: &str) {
        let mut st = self.lock();
        self.push_log(&mut st, via, user, command);
    }

    fn push_log(&self, st: &mut State, via: Via, user: &str, command: &str) {
        st.log_seq += 1;
        let entry = LogEntry {
            seq: st.log_seq,
            ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            via,
            user: user.to_owned(),
            command: command.to_owned(),
        };
        if st.log.len() >= LOG_CAPACITY {
            st.log.pop_front();
        }
        st.log.push_back(entry);
    }

    /// The command log, oldest first.
    pub fn log(&self) -> Vec<LogEntry> {
        self.lock().log.iter().cloned().collect()
    }

    pub fn faults(&self) -> Faults {
        self.lock().faults.faults().clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults.set(faults);
    }

    pub fn refuse_auth(&self) -> bool {
        self.lock().faults.refuse_auth()
    }

    // ---- views --------------------------------------------------------------------------------

    pub fn active(&self) -> ConfigTree {
        self.lock().active.clone()
    }

    /// The saved config.boot text.
    pub fn saved(&self) -> String {
        self.lock().saved.clone()
    }

    /// A file as `load` would read it.
    pub fn read_file(&self, name: &str) -> Option<String> {
        let path = file_path(name);
        let st = self.lock();
        if path == CONFIG_BOOT {
            Some(st.saved.clone())
        } else {
            st.files.get(&path).cloned()
        }
    }

    /// The working copies of the open sessions: (id, user, via, working config).
    pub fn working(&self) -> Vec<(SessionId, String, Via, ConfigTree)> {
        let mut st = self.lock();
        let active = st.active.clone();
        let mut out: Vec<_> = st
            .sessions
            .iter_mut()
            .map(|(id, slot)| {
                slot.session.rebase(&active);
                (
                    *id,
                    slot.user.clone(),
                    slot.via,
                    slot.session.working().clone(),
                )
            })
            .collect();
        out.sort_by_key(|x| x.0);
        out
    }

    /// The revision archive, newest first.
    pub fn archive(&self) -> Vec<Revision> {
        self.lock().archive.clone()
    }

    /// Whether a commit-confirm is pending, and its action.
    pub fn pending_confirm(&self) -> Option<ConfirmAction> {
        self.lock().pending.as_ref().map(|p| p.action)
    }

    /// Whether commits were made since the last `save`.
    pub fn unsaved(&self) -> bool {
        let st = self.lock();
        Self::differs_from_saved(&st)
    }

    fn differs_from_saved(st: &State) -> bool {
        match ConfigTree::parse_boot(&st.saved) {
            Ok(saved) => !diff(&saved, &st.active, &[]).is_empty(),
            Err(_) => true,
        }
    }

    // ---- admission ----------------------------------------------------------------------------

    /// Whether a new connection to `service` from `client` gets through (reboot, service not
    /// configured, or management lockout by the input filter).
    pub fn admission(&self, service: Service, client: IpAddr) -> Admission {
        self.admission_of(service, client, false)
    }

    /// Whether packets of a connection already open to `service` still get through (after a
    /// commit that changed the input filter, or during a reboot).
    pub fn admission_established(&self, service: Service, client: IpAddr) -> Admission {
        self.admission_of(service, client, true)
    }

    /// Holds an answer on an open connection while the config drops it: `true` once it would
    /// get through again (the config changed back, e.g. a commit-confirm reload), `false` when
    /// the appliance rebooted meanwhile (the connection is gone).
    pub async fn hold_while_dropped(&self, service: Service, client: IpAddr) -> bool {
        let generation = self.generation();
        loop {
            if self.generation() != generation {
                return false;
            }
            if self.admission_established(service, client) == Admission::Accept {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn admission_of(&self, service: Service, client: IpAddr, established: bool) -> Admission {
        let st = self.lock();
        if st.down_until.is_some_and(|t| Instant::now() < t) {
            return Admission::Refuse;
        }
        let tree = &st.active;
        let (enabled, port) = match service {
            Service::Ssh => (
                tree.exists(&["service", "ssh"]),
                first_value(tree, &["service", "ssh", "port"]).unwrap_or("22"),
            ),
            Service::Api => (
                tree.exists(&["service", "https", "api"])
                    && (!self.spec.profile.api_needs_rest_node()
                        || tree.exists(&["service", "https", "api", "rest"])),
                first_value(tree, &["service", "https", "port"]).unwrap_or("443"),
            ),
        };
        let Ok(port) = port.parse::<u16>() else {
            return Admission::Refuse;
        };
        let probe = Probe {
            port,
            client,
            local: IpAddr::from([127, 0, 0, 1]),
            established,
        };
        if enabled && lockout::allowed(self.spec.profile, tree, &probe) {
            Admission::Accept
        } else {
            Admission::Refuse
        }
    }

    /// Whether `key` is one of the API keys in the active config (§5.1).
    pub fn api_key_valid(&self, key: &str) -> bool {
        let st = self.lock();
        if st.faults.refuse_auth() {
            return false;
        }
        st.active
            .get(&["service", "https", "api", "keys", "id"])
            .is_some_and(|ids| {
                ids.children().iter().any(|id| {
                    id.child("key")
                        .is_some_and(|k| k.values().iter().any(|v| v == key))
                })
            })
    }

    /// Whether the API runs in strict mode.
    pub fn api_strict(&self) -> bool {
        let st = self.lock();
        if self.spec.profile.api_needs_rest_node() {
            st.active
                .exists(&["service", "https", "api", "rest", "strict"])
        } else {
            st.active.exists(&["service", "https", "api", "strict"])
        }
    }

    // ---- sessions ---------------------------------------------------------------------------

    /// Opens a configuration session (`configure`).
    pub fn open_session(&self, user: &str, via: Via) -> SessionId {
        let mut st = self.lock();
        let id = st.next_session;
        st.next_session += 1;
        let session = Session::new(&st.active);
        st.sessions.insert(
            id,
            SessionSlot {
                session,
                user: user.to_owned(),
                via,
            },
        );
        id
    }

    pub fn close_session(&self, id: SessionId) {
        self.lock().sessions.remove(&id);
    }

    /// Runs `f` on a session, rebased on the active config. `None` if the session is gone (a
    /// reboot). The API session is created on first use.
    pub fn with_session<R>(
        &self,
        id: SessionId,
        f: impl FnOnce(&mut Session, &ConfigTree) -> R,
    ) -> Option<R> {
        let mut st = self.lock();
        let st = &mut *st;
        if id == API_SESSION && !st.sessions.contains_key(&id) {
            st.sessions.insert(
                id,
                SessionSlot {
                    session: Session::new(&st.active),
                    user: "api".to_owned(),
                    via: Via::Api,
                },
            );
        }
        let slot = st.sessions.get_mut(&id)?;
        slot.session.rebase(&st.active);
        Some(f(&mut slot.session, &st.active))
    }

    // ---- commit -------------------------------------------------------------------------------

    /// `commit [comment]` of a session. `hold` is how long the commit takes (the latency fault),
    /// spent holding the commit lock. `in_confirm` marks a commit under commit-confirm (1.4+:
    /// its revision waits for `confirm`).
    pub async fn commit(
        &self,
        id: SessionId,
        user: &str,
        via: Via,
        comment: Option<&str>,
        in_confirm: bool,
        hold: Duration,
    ) -> CommitReport {
        let Ok(_guard) = self.commit_lock.try_lock() else {
            return CommitReport {
                status: CommitStatus::Failed,
                output:
                    "Configuration system temporarily locked due to another commit in progress\n"
                        .to_owned(),
            };
        };
        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        let mut st = self.lock();
        self.commit_locked(&mut st, id, user, via, comment, in_confirm)
    }

    fn commit_locked(
        &self,
        st: &mut State,
        id: SessionId,
        user: &str,
        via: Via,
        comment: Option<&str>,
        in_confirm: bool,
    ) -> CommitReport {
        let profile = self.spec.profile;
        let st_active = st.active.clone();
        let Some(slot) = st.sessions.get_mut(&id) else {
            return CommitReport {
                status: CommitStatus::Failed,
                output: "Commit failed\n".to_owned(),
            };
        };
        slot.session.rebase(&st_active);
        let mut working = slot.session.working().clone();
        // The commit stores passwords hashed; the session sees what was committed.
        if hash_plaintext_passwords(&mut working) {
            slot.session.replace(working.clone());
        }
        let changes = diff(&st_active, &working, &[]);
        if changes.is_empty() {
            return CommitReport {
                status: CommitStatus::NoChanges,
                output: String::new(),
            };
        }
        if let Some(msg) = st.faults.take_commit_failure() {
            return CommitReport {
                status: CommitStatus::Failed,
                output: format!("\n{msg}\n\nCommit failed\n"),
            };
        }
        let mut owners: Vec<Vec<String>> = Vec::new();
        for c in &changes {
            let o = validate::owner_of(&c.path);
            if !owners.contains(&o) {
                owners.push(o);
            }
        }
        // An owner nested in another (a comment on `protocols` and a change under
        // `protocols static`) is covered by the outer one.
        let all = owners.clone();
        owners.retain(|o| !all.iter().any(|p| p.len() < o.len() && o.starts_with(p)));
        owners.sort_by(|a, b| validate::priority(a, b));
        let ctx = Context {
            profile,
            hardware: &self.hardware,
        };
        let before = st.active.clone();
        let mut out = String::new();
        let mut failed = false;
        let mut changed = false;
        for owner in owners {
            if st.faults.take_subtree_failure(&owner.join(" ")) {
                out.push_str(&format!(
                    "\nlab fault: the commit of this subtree failed\n\n[[{}]] failed\n",
                    owner.join(" ")
                ));
                failed = true;
                continue;
            }
            let mut candidate = st.active.clone();
            if let Err(e) = candidate.graft(&owner, &working) {
                out.push_str(&format!("\n{e}\n\n[[{}]] failed\n", owner.join(" ")));
                failed = true;
                continue;
            }
            let verdict = validate::verify(&ctx, &owner, &candidate, &before);
            for w in &verdict.warnings {
                out.push_str(&format!("\nWARNING: {}\n\n", validate::wrap(w, 72)));
            }
            match verdict.error {
                Some(e) => {
                    out.push_str(&format!("\n{e}\n\n[[{}]] failed\n", owner.join(" ")));
                    failed = true;
                }
                None => {
                    st.active = candidate;
                    changed = true;
                }
            }
        }
        if changed {
            let limit = commit_revisions(&st.active);
            if limit > 0 {
                let rev = Revision {
                    tree: st.active.clone(),
                    time: format_time(SystemTime::now()),
                    user: user.to_owned(),
                    via: via.archive_name(),
                    comment: comment.unwrap_or_default().to_owned(),
                };
                match st.pending.as_mut() {
                    Some(p) if in_confirm && profile.is_1_4_plus() => p.held.push(rev),
                    _ => {
                        st.archive.insert(0, rev);
                        st.archive.truncate(limit);
                    }
                }
            }
        }
        if failed {
            out.push_str("Commit failed\n");
        }
        CommitReport {
            status: if failed {
                CommitStatus::Failed
            } else {
                CommitStatus::Committed
            },
            output: out,
        }
    }

    // ---- commit-confirm -----------------------------------------------------------------------

    /// The action a commit-confirm armed now would take on timeout.
    pub fn confirm_action(&self) -> ConfirmAction {
        let st = self.lock();
        self.confirm_action_of(&st.active)
    }

    fn confirm_action_of(&self, tree: &ConfigTree) -> ConfirmAction {
        let reload = self.spec.profile.has_confirm_reload()
            && first_value(
                tree,
                &["system", "config-management", "commit-confirm", "action"],
            ) == Some("reload");
        if reload {
            ConfirmAction::Reload
        } else {
            ConfirmAction::Reboot
        }
    }

    /// Arms the commit-confirm timer for `minutes` (the step before the commit, §3.6). An error
    /// is the message that stops the commit-confirm.
    pub fn arm_confirm(&self, minutes: u64) -> Result<Armed, String> {
        let profile = self.spec.profile;
        let mut st = self.lock();
        let action = self.confirm_action_of(&st.active);
        if st.pending.is_some() {
            return if profile.is_1_4_plus() {
                Err("Another confirm is pending".to_owned())
            } else {
                Ok(Armed {
                    message: "Another confirm is pending\n".to_owned(),
                    action,
                    new_timer: false,
                })
            };
        }
        let revs = commit_revisions(&st.active);
        if profile == Profile::V13 && revs == 0 {
            return Err("commit-revisions is not configured.".to_owned());
        }
        if action == ConfirmAction::Reload && revs == 0 {
            return Err("commit-confirm reload requires non-zero commit-revisions".to_owned());
        }
        st.confirm_seq += 1;
        let id = st.confirm_seq;
        let me = self.me.clone();
        let after = self
            .timing
            .minute
            .saturating_mul(u32::try_from(minutes).unwrap_or(u32::MAX));
        let task = tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(app) = me.upgrade() {
                app.confirm_timeout(id);
            }
        })
        .abort_handle();
        st.pending = Some(Pending {
            id,
            task,
            action,
            saved_then: st.saved.clone(),
            held: Vec::new(),
        });
        let word = match action {
            ConfirmAction::Reboot => "reboot",
            ConfirmAction::Reload => "reload",
        };
        Ok(Armed {
            message: format!(
                "Initialized commit-confirm; {minutes} minutes to confirm before {word}\n"
            ),
            action,
            new_timer: true,
        })
    }

    /// `confirm`: stops the timer. The message, and whether one was pending.
    pub fn confirm(&self) -> (String, bool) {
        let profile = self.spec.profile;
        let mut st = self.lock();
        let Some(p) = st.pending.take() else {
            return ("No confirm pending\n".to_owned(), false);
        };
        p.task.abort();
        let limit = commit_revisions(&st.active).max(1);
        for rev in p.held {
            st.archive.insert(0, rev);
        }
        st.archive.truncate(limit);
        let msg = match (profile, p.action) {
            (Profile::V13, _) => "",
            (_, ConfirmAction::Reload) => "Reload timer stopped\n",
            (_, ConfirmAction::Reboot) => "Reboot timer stopped\n",
        };
        (msg.to_owned(), true)
    }

    fn confirm_timeout(&self, id: u64) {
        let mut st = self.lock();
        if st.pending.as_ref().is_none_or(|p| p.id != id) {
            return;
        }
        let Some(p) = st.pending.take() else {
            return;
        };
        tracing::info!(appliance = %self.spec.name, action = ?p.action, "commit-confirm timed out");
        self.push_log(
            &mut st,
            Via::System,
            "root",
            "[commit-confirm] timeout: not confirmed",
        );
        match (self.spec.profile, p.action) {
            (Profile::V13, _) => {
                st.saved = p.saved_then;
                self.reboot_locked(&mut st);
            }
            (_, ConfirmAction::Reboot) => self.reboot_locked(&mut st),
            (_, ConfirmAction::Reload) => {
                self.push_log(
                    &mut st,
                    Via::System,
                    "root",
                    "[commit-confirm] Reverting to previous config now",
                );
                if let Some(rev) = st.archive.first() {
                    st.active = rev.tree.clone();
                }
            }
        }
    }

    // ---- save, files, reboot ------------------------------------------------------------------

    /// Renders the active config as `save` writes it.
    pub fn render_saved(&self, tree: &ConfigTree) -> String {
        render_boot_file(
            &BootFile {
                tree: tree.clone(),
                footer: Some(footer(self.spec.profile)),
            },
            &self.spec.profile.boot_style(),
        )
    }

    /// `save [file]`: writes the ACTIVE config; returns the file name written.
    pub fn save(&self, file: Option<&str>) -> String {
        let path = file.map_or_else(|| CONFIG_BOOT.to_owned(), file_path);
        let text = {
            let st = self.lock();
            self.render_saved(&st.active)
        };
        let mut st = self.lock();
        if path == CONFIG_BOOT {
            st.saved = text;
        } else {
            st.files.insert(path.clone(), text);
        }
        path
    }

    /// Reboots now: the box comes back with the saved config after the reboot downtime.
    pub fn reboot_now(&self) {
        let mut st = self.lock();
        self.push_log(&mut st, Via::Control, "root", "reboot");
        self.reboot_locked(&mut st);
    }

    fn reboot_locked(&self, st: &mut State) {
        if let Some(p) = st.pending.take() {
            p.task.abort();
        }
        st.active = match ConfigTree::parse_boot(&st.saved) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(appliance = %self.spec.name, error = %e, "saved config does not parse; booting empty");
                ConfigTree::new()
            }
        };
        st.sessions.clear();
        st.generation += 1;
        st.down_until = Some(Instant::now() + self.timing.reboot);
        tracing::info!(appliance = %self.spec.name, downtime = ?self.timing.reboot, "rebooting");
    }

    /// Replaces the saved config.boot with revision `n` and reboots (`rollback N`).
    pub fn rollback(&self, n: usize) -> Result<(), String> {
        let mut st = self.lock();
        let Some(rev) = st.archive.get(n) else {
            return Err(format!(
                "Invalid revision number {n}: must be 0 < rev < {}",
                st.archive.len()
            ));
        };
        let text = self.render_saved(&rev.tree.clone());
        let old = std::mem::replace(&mut st.saved, text);
        st.files
            .insert("/config/archive/config.boot-prerollback".to_owned(), old);
        self.reboot_locked(&mut st);
        Ok(())
    }

    /// Revision `n` of the archive.
    pub fn revision(&self, n: usize) -> Result<ConfigTree, String> {
        let st = self.lock();
        st.archive.get(n).map(|r| r.tree.clone()).ok_or_else(|| {
            format!(
                "Invalid revision number {n}: must be 0 < rev < {}",
                st.archive.len()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_time() {
        assert_eq!(format_time(UNIX_EPOCH), "1970-01-01 00:00:00");
        assert_eq!(
            format_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            "2023-11-14 22:13:20"
        );
    }
}
