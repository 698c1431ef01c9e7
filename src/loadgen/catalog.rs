//! `hotline loadgen catalog`: the admin catalog at a directory's size. Two
//! nodes in this process on one Redis (a `redis-server` started on a free
//! port); measures importing N customers as CSV through one node (time,
//! this process's memory), the directory look-up at N entries (p50, p99),
//! and the time from an admin write on one node to the other node's
//! catalog, which its routing and look-ups read, holding it.

use std::time::{Duration, Instant};

use hotline_core::catalog::{Catalog, Customer, Revision};

use crate::auth::{Role, TokenKeys};
use crate::client::Clients;
use crate::config::Config;
use crate::error::Error;
use crate::proto;
use crate::time::Timestamp;

pub struct CatalogReport {
    pub customers: usize,
    pub import: Duration,
    /// Resident memory this process gained over the import (both nodes'
    /// catalogs and the server's working copy), and its peak.
    pub rss_gained: u64,
    pub peak_rss: u64,
    /// From the import's reply until the other node lists every customer.
    pub import_spread: Duration,
    pub lookup_p50: Duration,
    pub lookup_p99: Duration,
    /// Admin write on one node to the other node's catalog holding it.
    pub spread_p50: Duration,
    pub spread_p99: Duration,
    pub spread_max: Duration,
}

impl std::fmt::Display for CatalogReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        writeln!(f, "customers                 {}", self.customers)?;
        writeln!(f, "import (CSV, one node)    {:.2} s", self.import.as_secs_f64())?;
        writeln!(
            f,
            "memory gained / peak      {:.0} MiB / {:.0} MiB (this process: two nodes)",
            mib(self.rss_gained),
            mib(self.peak_rss)
        )?;
        writeln!(
            f,
            "import on the other node  {:.0} ms later",
            self.import_spread.as_secs_f64() * 1e3
        )?;
        writeln!(
            f,
            "look-up by number         p50 {:.2} us, p99 {:.2} us",
            self.lookup_p50.as_secs_f64() * 1e6,
            self.lookup_p99.as_secs_f64() * 1e6
        )?;
        write!(
            f,
            "write -> other node       p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            self.spread_p50.as_secs_f64() * 1e3,
            self.spread_p99.as_secs_f64() * 1e3,
            self.spread_max.as_secs_f64() * 1e3
        )
    }
}

fn proc_status(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A directory of `n` customers as CSV, a fifth key accounts.
pub fn directory_csv(n: usize) -> String {
    let mut out = String::from("id,name,tier,numbers,account_manager,contract,contract_expires\n");
    for i in 0..n {
        let tier = match i % 20 {
            0 => "key-account",
            1..=3 => "potential",
            4 => "one-off",
            _ => "regular",
        };
        out.push_str(&format!("lg-c{i:07},Customer {i},{tier},+86139{i:08},,none,\n"));
    }
    out
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("loadgen catalog: {e}"))
}

pub async fn catalog(config: &Config, customers: usize, writes: usize) -> Result<CatalogReport, Error> {
    let nodes = super::TwoNodes::start(config, "catalog").await?;
    let (a, b, config) = (&nodes.a, &nodes.b, &nodes.config);
    let token = TokenKeys::new(config.auth.secret.as_bytes()).mint(
        Role::Admin,
        "loadgen",
        Duration::from_secs(3600),
        Timestamp::now_wall(),
    )?;
    let mut on_a = Clients::new(crate::client::channel(a.addr).await?, &token)?;
    let mut on_b = Clients::new(crate::client::channel(b.addr).await?, &token)?;
    // Both nodes have read the seed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while on_b
        .admin
        .list_skills(proto::ListRequest::default())
        .await
        .map(|r| r.into_inner().total_size)
        .unwrap_or(0)
        == 0
    {
        if Instant::now() > deadline {
            return Err(unavailable("the nodes never read the catalog"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let csv = directory_csv(customers);
    let rss_before = proc_status("VmRSS:");
    let started = Instant::now();
    let summary = crate::client::catalog::import(
        &mut on_a,
        crate::client::catalog::DocFormat::CustomersCsv,
        csv.into_bytes(),
    )
    .await?;
    let import = started.elapsed();
    let imported_at = Instant::now();
    if summary.created as usize != customers {
        return Err(unavailable(format!(
            "{} of {customers} customers created",
            summary.created
        )));
    }
    let seeded = config.customers.len();
    loop {
        let listed = on_b
            .admin
            .list_customers(proto::ListRequest {
                page_size: 1,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?
            .into_inner()
            .total_size as usize;
        if listed >= customers + seeded {
            break;
        }
        if imported_at.elapsed() > Duration::from_secs(60) {
            return Err(unavailable("the other node never listed the imported customers"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let import_spread = imported_at.elapsed();
    let rss_gained = proc_status("VmRSS:").saturating_sub(rss_before);
    let peak_rss = proc_status("VmHWM:");

    // The look-up a call's arrival makes, on a catalog of this size.
    let mut directory = Catalog::default();
    for i in 0..customers {
        let c = Customer {
            id: format!("lg-c{i:07}"),
            numbers: vec![format!("+86139{i:08}")],
            ..Customer::default()
        };
        directory.apply(&c.id.clone(), Revision(i as u64 + 1), Some(c));
    }
    let mut lookups = Vec::with_capacity(customers);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..customers {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let number = format!("+86139{:08}", x % customers as u64);
        let t = Instant::now();
        let found = directory.customer_by_number(&number).is_some();
        lookups.push(t.elapsed());
        if !found {
            return Err(unavailable(format!("{number} not found")));
        }
    }
    lookups.sort();

    // An admin write on a, until b's catalog holds it. Writes start at
    // random moments (not just after b's poll, which would time a whole
    // poll interval every time).
    let mut spreads = Vec::with_capacity(writes);
    for i in 0..writes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let poll_ms = crate::admin::POLL_EVERY.as_millis() as u64;
        tokio::time::sleep(Duration::from_millis(x % (poll_ms + 50))).await;
        let proficiency = 1 + (i % 9) as u32;
        let agent = config
            .agents
            .first()
            .map(|a| a.id.clone())
            .ok_or_else(|| unavailable("no agent in the configuration"))?;
        let skill = config
            .skills
            .first()
            .cloned()
            .ok_or_else(|| unavailable("no skill in the configuration"))?;
        let t = Instant::now();
        on_a.admin
            .update_agent_profile(proto::UpdateAgentProfileRequest {
                agent: Some(proto::AgentProfile {
                    id: agent.clone(),
                    skills: vec![proto::SkillLevel {
                        skill: skill.clone(),
                        proficiency,
                    }],
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["skills".into()],
                }),
            })
            .await
            .map_err(unavailable)?;
        loop {
            let seen = on_b
                .admin
                .list_agent_profiles(proto::ListRequest {
                    filter: agent.clone(),
                    ..Default::default()
                })
                .await
                .map_err(unavailable)?
                .into_inner()
                .agents
                .iter()
                .any(|a| {
                    a.id == agent
                        && a.skills
                            .iter()
                            .any(|s| s.skill == skill && s.proficiency == proficiency)
                });
            if seen {
                break;
            }
            if t.elapsed() > Duration::from_secs(10) {
                return Err(unavailable("the other node never saw a write"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        spreads.push(t.elapsed());
    }
    spreads.sort();
    nodes.stop().await?;
    Ok(CatalogReport {
        customers,
        import,
        rss_gained,
        peak_rss,
        import_spread,
        lookup_p50: percentile(&lookups, 0.5),
        lookup_p99: percentile(&lookups, 0.99),
        spread_p50: percentile(&spreads, 0.5),
        spread_p99: percentile(&spreads, 0.99),
        spread_max: spreads.last().copied().unwrap_or_default(),
    })
}
