//! Reads Redis' MONITOR feed and checks the fencing invariant on every
//! write the nodes make: a write to routing state (agents, calls,
//! callbacks, contacts, agent days) goes through a script that carries the
//! fence, never unfenced (fence 0) or as a plain command; and a script
//! whose fence is stale when Redis runs it changes nothing (the script
//! refused it). The epoch is followed from the INCRs the acquire script
//! makes as Redis runs them, and from the fences of scripts that wrote
//! (never counted too high: after a restart it is read before MONITOR
//! starts again, so a missed INCR can only hide a violation, never invent
//! one).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// Routing state: what only the routing node writes, under the fence.
const ROUTING_KEYS: &[&str] = &[
    ":agent:",
    ":agents",
    ":call:",
    ":calls",
    ":callback:",
    ":callbacks",
    ":contacts:",
    ":contactlog",
    ":agentday",
];

const WRITES: &[&str] = &[
    "SET",
    "DEL",
    "ZADD",
    "ZREM",
    "ZREMRANGEBYSCORE",
    "HSET",
    "HDEL",
    "LPUSH",
    "RPUSH",
    "LTRIM",
    "SADD",
    "SREM",
    "MSET",
    "INCR",
    "EXPIRE",
    "PEXPIRE",
    "UNLINK",
    "GETDEL",
    "SETEX",
    "PSETEX",
];

#[derive(Default, Debug)]
pub struct Fencing {
    /// The epoch as Redis has it (counted from the acquire script's INCR).
    pub epoch: u64,
    /// Fenced scripts run with a stale fence, by client address (refused).
    pub stale_attempts: BTreeMap<String, u64>,
    /// Violations: unfenced routing writes, stale writes that landed.
    pub violations: Vec<String>,
    /// Fenced scripts seen in all.
    pub fenced_writes: u64,
    /// The script being run now: (client, its fence).
    in_script: Option<(String, u64)>,
}

/// Splits one MONITOR line: `<time> [<db> <client>] "ARG" "ARG" ...`.
fn parse(line: &str) -> Option<(String, Vec<String>)> {
    let open = line.find('[')?;
    let close = line[open..].find(']')? + open;
    let client = line[open + 1..close].split_whitespace().nth(1)?.to_string();
    let mut args = Vec::new();
    let mut chars = line[close + 1..].chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut arg = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        arg.push(n);
                    }
                }
                '"' => break,
                c => arg.push(c),
            }
        }
        args.push(arg);
    }
    Some((client, args))
}

fn routing_key(key: &str) -> bool {
    ROUTING_KEYS.iter().any(|k| key.contains(k))
}

impl Fencing {
    fn feed(&mut self, line: &str) {
        let Some((client, args)) = parse(line) else { return };
        let Some(cmd) = args.first().map(|c| c.to_ascii_uppercase()) else {
            return;
        };
        if client == "lua" {
            if cmd == "INCR" && args.get(1).is_some_and(|k| k.ends_with(":epoch")) {
                self.epoch += 1;
            }
            if let Some((owner, fence)) = &self.in_script {
                if WRITES.contains(&cmd.as_str()) && args.get(1).is_some_and(|k| routing_key(k)) {
                    if *fence < self.epoch {
                        self.violations.push(format!(
                            "a script from {owner} with stale fence {fence} (epoch {}) wrote: {}",
                            self.epoch,
                            args.join(" ")
                        ));
                    }
                    self.epoch = self.epoch.max(*fence);
                }
            }
            return;
        }
        self.in_script = None;
        if cmd == "EVALSHA" || cmd == "EVAL" {
            let numkeys: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(0);
            let fenced = args.get(3).is_some_and(|k| k.ends_with(":epoch"));
            if !fenced {
                return;
            }
            self.fenced_writes += 1;
            let fence: u64 = args.get(3 + numkeys).and_then(|f| f.parse().ok()).unwrap_or(0);
            if fence == 0 {
                self.violations.push(format!(
                    "an unfenced (0) script from {client}: {}",
                    args.join(" ")
                ));
            }
            if fence < self.epoch {
                *self.stale_attempts.entry(client.clone()).or_default() += 1;
            }
            self.in_script = Some((client, fence));
            return;
        }
        if WRITES.contains(&cmd.as_str()) && args.get(1).is_some_and(|k| routing_key(k)) {
            self.violations
                .push(format!("an unfenced write from {client}: {}", args.join(" ")));
        }
    }
}

/// `redis-cli monitor` against one server; started again after a restart.
pub struct Monitor {
    pub fencing: Arc<Mutex<Fencing>>,
    child: Option<Child>,
}

impl Monitor {
    pub fn new() -> Monitor {
        Monitor {
            fencing: Arc::new(Mutex::new(Fencing::default())),
            child: None,
        }
    }

    /// Follows the server at `host:port` (after a restart, call again),
    /// whose epoch is at least `epoch` (read before this call).
    pub fn follow(&mut self, host: &str, port: u16, epoch: u64) {
        self.stop();
        {
            let mut f = self.fencing.lock().unwrap();
            f.epoch = f.epoch.max(epoch);
            f.in_script = None;
        }
        let mut child = Command::new("redis-cli")
            .args(["-h", host, "-p", &port.to_string(), "monitor"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-cli (./scripts/test installs redis-server, which brings it)");
        let out = child.stdout.take().expect("piped");
        let fencing = self.fencing.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                fencing.lock().unwrap().feed(&line);
            }
        });
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn monitor_lines_are_read_and_judged() {
    let mut f = Fencing::default();
    // The acquire script: epoch 1.
    f.feed(r#"1.0 [0 10.0.0.11:5] "EVALSHA" "abc" "2" "{x}:leader" "{x}:epoch" "n1|a" "2000""#);
    f.feed(r#"1.0 [0 lua] "INCR" "{x}:epoch""#);
    assert_eq!(f.epoch, 1);
    // A fenced write with the current epoch lands.
    f.feed(r#"1.1 [0 10.0.0.11:5] "EVALSHA" "def" "3" "{x}:epoch" "{x}:agent:a" "{x}:agents" "1" "a" "{\"id\":\"a\"}""#);
    f.feed(r#"1.1 [0 lua] "SET" "{x}:agent:a" "{}""#);
    assert!(f.violations.is_empty(), "{:?}", f.violations);
    // A stale one is counted, and would be a violation had it written.
    f.feed(r#"1.2 [0 10.0.0.12:6] "EVALSHA" "def" "3" "{x}:epoch" "{x}:agent:a" "{x}:agents" "0" "a" "{}""#);
    assert_eq!(f.violations.len(), 1, "fence 0 is unfenced");
    // Epoch 2; the node of epoch 1 tries again: counted, refused.
    f.feed(r#"1.3 [0 10.0.0.12:6] "EVALSHA" "abc" "2" "{x}:leader" "{x}:epoch" "n2|b" "2000""#);
    f.feed(r#"1.3 [0 lua] "INCR" "{x}:epoch""#);
    f.feed(r#"1.3 [0 10.0.0.11:5] "EVALSHA" "def" "3" "{x}:epoch" "{x}:agent:a" "{x}:agents" "1" "a" "{}""#);
    assert_eq!(f.stale_attempts.values().sum::<u64>(), 2);
    assert_eq!(f.violations.len(), 1, "refused: nothing written");
    // Had it written, that is a violation.
    f.feed(r#"1.3 [0 lua] "SET" "{x}:agent:a" "{}""#);
    assert_eq!(f.violations.len(), 2, "a stale write that landed");
    // A plain write to routing state is unfenced.
    f.feed(r#"1.4 [0 10.0.0.11:5] "SET" "{x}:agentday:1:a" "{}""#);
    assert_eq!(f.violations.len(), 3);
    // Bookkeeping keys are not routing state.
    f.feed(r#"1.5 [0 10.0.0.11:5] "ZADD" "{x}:nodes" "1" "n1""#);
    assert_eq!(f.violations.len(), 3);
}
