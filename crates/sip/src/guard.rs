//! Who may talk to the trunk, and how fast: the first thing every datagram
//! meets. Sans-IO: time comes in as an argument.
//!
//! Invariants:
//! - a source outside every trunk's address list gets no answer at all
//!   (when lists are configured): a scanner learns nothing, whatever number
//!   it tries;
//! - each source address has a token bucket per request kind (INVITE,
//!   REGISTER, OPTIONS and the rest), refilled at the configured rate up to
//!   its burst; a request over the rate is dropped, unanswered;
//! - state is bounded: at most [`MAX_TRACKED`] sources are tracked; when
//!   full, buckets idle for a minute are swept, and if none are, a new
//!   source shares the overflow bucket (so a spoofed flood cannot grow
//!   memory, and is limited as one).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use hotline_time::Monotonic;

/// Sources tracked before idle ones are swept.
pub const MAX_TRACKED: usize = 65_536;

/// A trunk: where its traffic comes from, how many calls it may hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Trunk {
    pub name: String,
    /// Networks its requests come from.
    pub sources: Vec<Network>,
    /// Concurrent calls it may have; 0 = no cap.
    pub max_calls: u32,
    /// Digest credentials its INVITEs must carry (username, password).
    pub credentials: Option<(String, String)>,
}

/// An address and prefix length, e.g. 192.0.2.0/24.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Network {
    pub fn parse(s: &str) -> Option<Network> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.trim().parse::<IpAddr>().ok()?, p.trim().parse::<u8>().ok()?),
            None => {
                let a: IpAddr = s.trim().parse().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Requests per second and burst, per source and kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub invite: Rate,
    pub register: Rate,
    pub options: Rate,
    /// Everything else (ACK, BYE, CANCEL, INFO, responses).
    pub other: Rate,
}

/// The kinds of traffic limited apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Invite,
    Register,
    Options,
    Other,
}

/// What the guard decided about one datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on; the trunk it came from, if lists are configured.
    Admit(Option<String>),
    /// Not from any trunk: dropped.
    Unknown,
    /// Over the rate: dropped.
    Limited,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Monotonic,
}

impl Bucket {
    fn take(&mut self, now: Monotonic, rate: Rate) -> bool {
        let elapsed = now.since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Buckets {
    by_kind: [Bucket; 4],
    last_seen: Monotonic,
}

pub struct Guard {
    trunks: Vec<Trunk>,
    limits: Limits,
    sources: HashMap<IpAddr, Buckets>,
    /// Shared by sources beyond [`MAX_TRACKED`].
    overflow: Option<Buckets>,
}

impl Guard {
    /// `trunks` empty: every source is admitted (rate limits still apply).
    pub fn new(trunks: Vec<Trunk>, limits: Limits) -> Self {
        Guard {
            trunks,
            limits,
            sources: HashMap::new(),
            overflow: None,
        }
    }

    /// Whether sources are checked against trunks' lists at all.
    pub fn lists_trunks(&self) -> bool {
        !self.trunks.is_empty()
    }

    /// The trunk a source belongs to.
    pub fn trunk_of(&self, ip: IpAddr) -> Option<&Trunk> {
        self.trunks
            .iter()
            .find(|t| t.sources.iter().any(|n| n.contains(ip)))
    }

    pub fn tracked(&self) -> usize {
        self.sources.len()
    }

    /// One datagram of `kind` from `ip` at `now`. `open`: the source need
    /// not be a trunk (an agent's phone, the far end of a call we placed);
    /// its rate is limited all the same.
    pub fn check(&mut self, now: Monotonic, ip: IpAddr, kind: Kind, open: bool) -> Verdict {
        let trunk = if self.trunks.is_empty() {
            None
        } else {
            match self.trunk_of(ip) {
                Some(t) => Some(t.name.clone()),
                None if open => None,
                None => return Verdict::Unknown,
            }
        };
        let rate = match kind {
            Kind::Invite => self.limits.invite,
            Kind::Register => self.limits.register,
            Kind::Options => self.limits.options,
            Kind::Other => self.limits.other,
        };
        let fresh = |r: [Rate; 4]| Buckets {
            by_kind: r.map(|r| Bucket {
                tokens: r.burst,
                at: now,
            }),
            last_seen: now,
        };
        let all = [
            self.limits.invite,
            self.limits.register,
            self.limits.options,
            self.limits.other,
        ];
        if !self.sources.contains_key(&ip) && self.sources.len() >= MAX_TRACKED {
            let idle = Duration::from_secs(60);
            self.sources.retain(|_, b| now.since(b.last_seen) < idle);
        }
        let buckets = if self.sources.contains_key(&ip) || self.sources.len() < MAX_TRACKED {
            self.sources.entry(ip).or_insert_with(|| fresh(all))
        } else {
            self.overflow.get_or_insert_with(|| fresh(all))
        };
        buckets.last_seen = now;
        let i = kind as usize;
        if buckets.by_kind[i].take(now, rate) {
            Verdict::Admit(trunk)
        } else {
            Verdict::Limited
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: f64, burst: f64) -> Limits {
        let r = Rate { per_second, burst };
        Limits {
            invite: r,
            register: r,
            options: r,
            other: Rate {
                per_second: 1000.0,
                burst: 1000.0,
            },
        }
    }

    #[test]
    fn networks_match_by_prefix() {
        let n = Network::parse("192.0.2.0/24").unwrap();
        assert!(n.contains("192.0.2.77".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        assert!(Network::parse("10.0.0.1")
            .unwrap()
            .contains("10.0.0.1".parse().unwrap()));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains("203.0.113.9".parse().unwrap()));
        assert_eq!(Network::parse("10.0.0.0/33"), None);
        assert_eq!(Network::parse("nonsense"), None);
    }

    #[test]
    fn strangers_are_dropped_and_trunks_are_limited_per_source() {
        let trunk = Trunk {
            name: "carrier".into(),
            sources: vec![Network::parse("192.0.2.0/24").unwrap()],
            max_calls: 0,
            credentials: None,
        };
        let mut g = Guard::new(vec![trunk], limits(10.0, 5.0));
        let t0 = Monotonic(1_000_000);
        let carrier: IpAddr = "192.0.2.5".parse().unwrap();
        assert_eq!(
            g.check(t0, "198.51.100.1".parse().unwrap(), Kind::Invite, false),
            Verdict::Unknown
        );
        let admitted = (0..20)
            .filter(|_| g.check(t0, carrier, Kind::Invite, false) == Verdict::Admit(Some("carrier".into())))
            .count();
        assert_eq!(admitted, 5, "the burst, then nothing in the same instant");
        // Other kinds have buckets of their own.
        assert!(matches!(
            g.check(t0, carrier, Kind::Options, false),
            Verdict::Admit(_)
        ));
        // A second later, ten more.
        let t1 = t0.plus(Duration::from_secs(1));
        let later = (0..20)
            .filter(|_| matches!(g.check(t1, carrier, Kind::Invite, false), Verdict::Admit(_)))
            .count();
        assert_eq!(later, 5, "refilled at 10/s, capped at the burst");
    }

    #[test]
    fn a_spoofed_flood_cannot_grow_memory() {
        let mut g = Guard::new(Vec::new(), limits(1.0, 1.0));
        let t0 = Monotonic(1_000_000);
        for i in 0..(MAX_TRACKED as u32 + 1000) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            g.check(t0, ip, Kind::Invite, false);
        }
        assert_eq!(g.tracked(), MAX_TRACKED);
    }
}
