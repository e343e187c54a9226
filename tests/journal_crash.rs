//! The crash test: a child process writes transitions in a loop and reports each one the
//! journal acknowledged; it is SIGKILLed at 50 seeded random points. After each kill the
//! journal reopens without repair, every acknowledged transition is there, and the indexes
//! agree with the records.
//!
//! The child is this test binary again, running `crash_child` with `JOURNAL_CRASH_CHILD` set.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use vnfsync::journal::{Change, Intent, Journal, OpId, OpKind, OpState, Options};

const ROUNDS: usize = 50;
const SEED: u64 = 0x5eed_0fc0_ffee;
const PATH: [OpState; 4] = [
    OpState::Pending,
    OpState::InProgress,
    OpState::AwaitingConfirm,
    OpState::Completed,
];

fn open(path: &Path) -> Journal {
    Journal::open(
        path,
        Options {
            create: true,
            ..Options::default()
        },
    )
    .unwrap()
}

/// The child: four writers, each driving operations along `PATH` forever, printing
/// `ack <id> <state>` after each write the journal acknowledged as durable.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os("JOURNAL_CRASH_CHILD") else {
        return;
    };
    let j = open(Path::new(&path));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let j = j.clone();
            std::thread::spawn(move || {
                loop {
                    let op = j
                        .begin(Intent {
                            appliance: format!("edge-{w}"),
                            kind: OpKind::Apply,
                            commit: "c0ffee".into(),
                            ..Intent::default()
                        })
                        .wait()
                        .unwrap()
                        .into_operation();
                    println!("ack {} pending", op.id);
                    for &s in &PATH[1..] {
                        j.change(op.id, Change::to(s)).wait().unwrap();
                        println!("ack {} {s}", op.id);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        let _ = w.join();
    }
}

/// xorshift64*: the seeded kill points.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn acknowledged_transitions_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.redb");
    let exe = std::env::current_exe().unwrap();
    let mut rng = SEED;
    let mut acked: Vec<(OpId, OpState)> = Vec::new();
    for round in 0..ROUNDS {
        // Kill after 1..=12 acknowledgements; writes are still in flight when the signal lands.
        let kill_after = 1 + (next(&mut rng) % 12) as usize;
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env("JOURNAL_CRASH_CHILD", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut seen = 0;
        let mut killed = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Some(rest) = line.strip_prefix("ack ") else {
                continue;
            };
            let Some((id, state)) = rest.split_once(' ') else {
                continue; // a line cut by the kill
            };
            let (Ok(id), Ok(state)) = (id.parse::<OpId>(), state.parse::<OpState>()) else {
                continue;
            };
            acked.push((id, state));
            seen += 1;
            if seen == kill_after && !killed {
                child.kill().unwrap(); // SIGKILL
                killed = true;
            }
        }
        let status = child.wait().unwrap();
        assert!(
            killed,
            "round {round}: the child stopped by itself: {status}"
        );

        let j = open(&path);
        assert!(
            !j.opened().repaired,
            "round {round}: the file needed repair"
        );
        let report = j.check().wait().unwrap();
        assert_eq!(report.problems, Vec::<String>::new(), "round {round}");
        for &(id, state) in &acked {
            let op = j
                .get(id)
                .wait()
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: acknowledged {id} is missing"));
            let at = |s| PATH.iter().position(|&p| p == s).unwrap();
            assert!(
                at(op.state) >= at(state),
                "round {round}: {id} was acknowledged {state}, the journal says {}",
                op.state
            );
        }
    }
    assert!(acked.len() >= ROUNDS);
}
