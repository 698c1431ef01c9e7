//! `hotline loadgen revocation`: how long "sign out everywhere" takes to
//! reach the other node. Two nodes in this process on one Redis (a
//! `redis-server` started on a free port), each polling the revoked
//! sign-ins at its configured interval; for each of N subjects, an admin
//! revokes on node a (at a random point of b's poll cycle) and node b is
//! asked with the subject's token, every millisecond, until it answers
//! UNAUTHENTICATED.

use std::time::{Duration, Instant};

use super::catalog::percentile;
use crate::auth::{Role, TokenKeys};
use crate::client::Clients;
use crate::config::Config;
use crate::error::Error;
use crate::proto;
use crate::time::Timestamp;

pub struct RevocationReport {
    pub revocations: usize,
    pub poll: Duration,
    /// From the revocation's reply on node a to node b refusing.
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl std::fmt::Display for RevocationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "revocations {} (poll every {:.0} ms)\nrevoke on a -> b refuses  p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            self.revocations,
            ms(self.poll),
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("loadgen revocation: {e}"))
}

pub async fn revocation(config: &Config, revocations: usize) -> Result<RevocationReport, Error> {
    let nodes = super::TwoNodes::start(config, "revocation").await?;
    let (a, b, config) = (&nodes.a, &nodes.b, &nodes.config);
    let keys = TokenKeys::new(config.auth.secret.as_bytes());
    let hour = Duration::from_secs(3600);
    let admin = keys.mint(Role::Admin, "loadgen", hour, Timestamp::now_wall())?;
    let mut on_a = Clients::new(crate::client::channel(a.addr).await?, &admin)?;
    let channel_b = crate::client::channel(b.addr).await?;
    // Subjects signed in a minute ago: every revocation below is after.
    let signed_in = Timestamp::from_millis(Timestamp::now_wall().as_millis().saturating_sub(60_000));
    let mut spread = Vec::with_capacity(revocations);
    for i in 0..revocations {
        let subject = format!("lg-user-{i}");
        let token = keys.mint(Role::Supervisor, &subject, hour, signed_in)?;
        let mut as_subject = Clients::new(channel_b.clone(), &token)?;
        // Node b takes the token (and has a warm connection) first.
        as_subject
            .session
            .who_am_i(proto::WhoAmIRequest {})
            .await
            .map_err(unavailable)?;
        // At a random point of node b's poll cycle (revoking right after
        // the previous refusal would always wait a whole interval).
        let poll_ms = config.auth.revocation_poll_ms;
        tokio::time::sleep(Duration::from_millis(rand::random_range(0..poll_ms.max(1)))).await;
        on_a.session
            .revoke_sessions(proto::RevokeSessionsRequest {
                subject: subject.clone(),
                reason: "loadgen".into(),
            })
            .await
            .map_err(unavailable)?;
        let revoked = Instant::now();
        loop {
            match as_subject.session.who_am_i(proto::WhoAmIRequest {}).await {
                Err(s) if s.code() == tonic::Code::Unauthenticated => break,
                _ if revoked.elapsed() > Duration::from_secs(60) => {
                    return Err(unavailable(format!(
                        "node b still took {subject}'s token after a minute"
                    )))
                }
                _ => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
        spread.push(revoked.elapsed());
    }
    spread.sort();
    let poll = Duration::from_millis(config.auth.revocation_poll_ms);
    nodes.stop().await?;
    Ok(RevocationReport {
        revocations,
        poll,
        p50: percentile(&spread, 0.5),
        p99: percentile(&spread, 0.99),
        max: spread.last().copied().unwrap_or_default(),
    })
}
