//! Hosts in network namespaces, for fault injection: a bridge in the test's
//! own namespace, one namespace per host joined to it by a veth pair, and
//! nftables rules inside a host's namespace that cut it off from another
//! host (packets dropped both ways, as a real partition: no reset, the
//! other side hears nothing). Everything is made by [`Net::new`] and
//! removed on drop; leftovers of a run that was killed are removed first.
//!
//! Needs root (CAP_NET_ADMIN), `ip` (iproute2) and `nft` (nftables):
//! `./scripts/test` installs them; without them the test fails naming what
//! is missing.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// Every name this module makes starts with it (interface names are at
/// most 15 bytes).
const PREFIX: &str = "hlf";
/// The test network: the bridge is .1, host i is .(10 + i).
const SUBNET: [u8; 3] = [10, 231, 0];

pub struct Net {
    hosts: Vec<String>,
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "{}: {e} (install iproute2 and nftables; ./scripts/test does)",
                args[0]
            )
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ns_of(host: &str) -> String {
    format!("{PREFIX}-{host}")
}

impl Net {
    /// Makes the bridge and one namespace per host, in order (host i gets
    /// address .(10 + i)).
    pub fn new(hosts: &[&str]) -> Result<Net, String> {
        if is_root() {
            Self::clean_leftovers();
        } else {
            return Err("network namespaces need root (CAP_NET_ADMIN): run ./scripts/test as root".into());
        }
        let net = Net {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        };
        let bridge = format!("{PREFIX}br");
        run(&["ip", "link", "add", &bridge, "type", "bridge"])?;
        run(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", net.gateway()),
            "dev",
            &bridge,
        ])?;
        run(&["ip", "link", "set", &bridge, "up"])?;
        for (i, host) in hosts.iter().enumerate() {
            let ns = ns_of(host);
            let veth = format!("{PREFIX}v{i}");
            run(&["ip", "netns", "add", &ns])?;
            run(&[
                "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
            run(&["ip", "link", "set", &veth, "master", &bridge, "up"])?;
            let ip = net.ip(host).to_string();
            run(&["ip", "-n", &ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"])?;
            run(&["ip", "-n", &ns, "link", "set", "eth0", "up"])?;
            run(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
            // The host's cut rules live in this table.
            run(&["ip", "netns", "exec", &ns, "nft", "add", "table", "inet", PREFIX])?;
            run(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "nft",
                "add",
                "chain",
                "inet",
                PREFIX,
                "in",
                "{ type filter hook input priority 0; }",
            ])?;
            run(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "nft",
                "add",
                "chain",
                "inet",
                PREFIX,
                "out",
                "{ type filter hook output priority 0; }",
            ])?;
        }
        Ok(net)
    }

    /// The test's own address on the bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(SUBNET[0], SUBNET[1], SUBNET[2], 1)
    }

    pub fn ip(&self, host: &str) -> Ipv4Addr {
        let i = self
            .hosts
            .iter()
            .position(|h| h == host)
            .unwrap_or_else(|| panic!("no host {host}"));
        Ipv4Addr::new(SUBNET[0], SUBNET[1], SUBNET[2], 10 + i as u8)
    }

    /// `program args...` run inside `host`'s namespace.
    pub fn command(&self, host: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &ns_of(host), program]);
        c
    }

    /// Drops every packet between `host` and `other`, both ways (rules in
    /// `host`'s namespace).
    pub fn cut(&self, host: &str, other: &str) {
        let ns = ns_of(host);
        let peer = self.ip(other).to_string();
        for (chain, dir) in [("in", "saddr"), ("out", "daddr")] {
            run(&[
                "ip", "netns", "exec", &ns, "nft", "add", "rule", "inet", PREFIX, chain, "ip", dir, &peer,
                "drop",
            ])
            .expect("nft rule");
        }
    }

    /// Removes every cut of `host`.
    pub fn heal(&self, host: &str) {
        let ns = ns_of(host);
        for chain in ["in", "out"] {
            run(&[
                "ip", "netns", "exec", &ns, "nft", "flush", "chain", "inet", PREFIX, chain,
            ])
            .expect("nft flush");
        }
    }

    /// Removes namespaces (and what still runs in them) and links a killed
    /// run left behind.
    fn clean_leftovers() {
        if let Ok(out) = Command::new("ip").args(["netns", "list"]).output() {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let name = line.split_whitespace().next().unwrap_or("");
                if name.starts_with(&format!("{PREFIX}-")) {
                    remove_namespace(name);
                }
            }
        }
        if let Ok(out) = Command::new("ip").args(["-o", "link", "show"]).output() {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let name = line.split(':').nth(1).unwrap_or("").trim();
                let name = name.split('@').next().unwrap_or("");
                if name.starts_with(PREFIX) {
                    let _ = run(&["ip", "link", "del", name]);
                }
            }
        }
    }
}

/// Kills what runs in the namespace (a namespace lives on while a process
/// is in it, and its veth with it), then deletes it.
fn remove_namespace(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
    }
    let _ = run(&["ip", "netns", "del", ns]);
}

impl Drop for Net {
    fn drop(&mut self) {
        for host in &self.hosts {
            remove_namespace(&ns_of(host));
        }
        let _ = run(&["ip", "link", "del", &format!("{PREFIX}br")]);
    }
}

/// Whether this process runs as root (reads /proc, no libc needed).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
