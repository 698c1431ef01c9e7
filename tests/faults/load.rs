//! The load the faults run under, and what it observed: agents on every
//! node answering every offer, callers on every node, each retrying a
//! refused StartCall elsewhere with the same request id, as an edge does.
//! Everything is recorded from the clients' side, to be checked against
//! the store afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hotline::auth::{Role, TokenKeys};
use hotline::client::Clients;
use hotline::proto;
use hotline::proto::agent_event::Event as Ev;
use hotline::time::Timestamp;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

pub const SECRET: &str = "faults-secret-0123456789abcdef";

pub fn token(role: Role, sub: &str) -> String {
    TokenKeys::new(SECRET.as_bytes())
        .mint(role, sub, Duration::from_secs(3600), Timestamp::now_wall())
        .unwrap()
}

/// A client's deadline for one request (sent as grpc-timeout).
const DEADLINE: Duration = Duration::from_secs(3);

fn timed<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(DEADLINE);
    r
}

/// What the clients saw.
#[derive(Default)]
pub struct Seen {
    /// Offers delivered: when, to whom, which call.
    pub offers: Vec<(Instant, String, String)>,
    /// An offer that reached an agent holding another call.
    pub double_offers: Vec<String>,
    /// Calls each agent was told it is connected with.
    pub connected: BTreeMap<String, BTreeSet<String>>,
    /// Agents set not ready for offers they did not answer (they answer
    /// every offer they see: these are offers they never saw).
    pub missed: Vec<(Instant, String)>,
    /// Calls whose StartCall was acknowledged, by request (the ani).
    pub acknowledged: BTreeMap<String, String>,
    /// Calls every attempt of which was refused: when, and the last error.
    pub refused: Vec<(Instant, String)>,
    /// Calls started (first attempt), when.
    pub started: Vec<Instant>,
    /// StartCall attempts refused (then retried), when.
    pub attempts_refused: Vec<Instant>,
}

pub type Shared = Arc<Mutex<Seen>>;

/// A softphone: logs in at its home node (the next one when that one does
/// not answer), answers every offer, talks briefly, wraps up at once.
pub async fn agent(channels: Vec<Channel>, id: String, seen: Shared, stop: Arc<AtomicBool>) {
    let act = |call: &str| proto::CallActionRequest {
        agent_id: id.clone(),
        call_id: call.into(),
        request_id: String::new(),
    };
    let mut attempt = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let ch = channels[attempt % channels.len()].clone();
        attempt += 1;
        let mut c = Clients::new(ch, &token(Role::Agent, &id)).unwrap();
        let login = c
            .agent
            .login(timed(proto::LoginRequest {
                agent_id: id.clone(),
                start_available: true,
                ..Default::default()
            }))
            .await;
        let events = match login {
            Ok(_) => {
                c.agent
                    .events(proto::EventsRequest { agent_id: id.clone() })
                    .await
            }
            Err(e) => Err(e),
        };
        let Ok(events) = events else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        // Connected: the home node first again next time.
        attempt = 0;
        let mut events = events.into_inner();
        let mut holding: Option<String> = None;
        while !stop.load(Ordering::SeqCst) {
            let ev = match tokio::time::timeout(Duration::from_millis(200), events.next()).await {
                Err(_) => continue,
                Ok(Some(Ok(ev))) => ev,
                Ok(_) => break,
            };
            match ev.event {
                Some(Ev::CallOffered(o)) => {
                    let Some(call) = o.call.as_ref().map(|c| c.call_id.clone()) else {
                        continue;
                    };
                    {
                        let mut s = seen.lock().unwrap();
                        if let Some(h) = holding.as_ref().filter(|h| **h != call) {
                            s.double_offers
                                .push(format!("{id} offered {call} while holding {h}"));
                        }
                        s.offers.push((Instant::now(), id.clone(), call.clone()));
                    }
                    holding = Some(call.clone());
                    // As an agent clicks again: while the offer rings and the
                    // answer is "try again" (the store or routing node is
                    // briefly away), not when it is "no longer yours".
                    let accepted = loop {
                        match c.agent.accept(timed(act(&call))).await {
                            Ok(r) => break Some(r),
                            Err(s)
                                if matches!(
                                    s.code(),
                                    tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
                                ) && Timestamp::now_wall().as_millis() as i64 + 500
                                    < o.expires_at_unix_ms =>
                            {
                                tokio::time::sleep(Duration::from_millis(500)).await
                            }
                            Err(_) => break None,
                        }
                    };
                    if let Some(r) = accepted {
                        if r.get_ref().status == proto::CallStatus::Connected as i32 {
                            seen.lock()
                                .unwrap()
                                .connected
                                .entry(call.clone())
                                .or_default()
                                .insert(id.clone());
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            let _ = c.agent.hangup(timed(act(&call))).await;
                        }
                    }
                }
                Some(Ev::CallConnected(cc)) => {
                    if let Some(call) = cc.call {
                        seen.lock()
                            .unwrap()
                            .connected
                            .entry(call.call_id)
                            .or_default()
                            .insert(id.clone());
                    }
                }
                Some(Ev::OfferRescinded(_)) | Some(Ev::CallEnded(_)) => holding = None,
                Some(Ev::WrapUpStarted(w)) => {
                    holding = None;
                    let _ = c
                        .agent
                        .complete_wrap_up(timed(proto::CompleteWrapUpRequest {
                            agent_id: id.clone(),
                            call_id: w.call_id,
                            disposition: proto::Disposition::Resolved as i32,
                            category: "billing/x".into(),
                            ..Default::default()
                        }))
                        .await;
                }
                Some(Ev::StateChanged(s)) => {
                    let Some(a) = s.agent else { continue };
                    if a.current_call_id.is_empty() {
                        holding = None;
                    }
                    if a.state == proto::AgentState::NotReady as i32 {
                        if a.not_ready_reason == "no-answer" {
                            seen.lock().unwrap().missed.push((Instant::now(), id.clone()));
                        }
                        let _ = c
                            .agent
                            .set_state(timed(proto::SetStateRequest {
                                agent_id: id.clone(),
                                state: proto::RequestedState::Available as i32,
                                ..Default::default()
                            }))
                            .await;
                    } else if a.state == proto::AgentState::OnCall as i32 {
                        let _ = c.agent.hangup(timed(act(&a.current_call_id))).await;
                    } else if a.state == proto::AgentState::WrapUp as i32 {
                        let _ = c
                            .agent
                            .complete_wrap_up(timed(proto::CompleteWrapUpRequest {
                                agent_id: id.clone(),
                                call_id: a.current_call_id.clone(),
                                disposition: proto::Disposition::Resolved as i32,
                                category: "billing/x".into(),
                                ..Default::default()
                            }))
                            .await;
                    } else if a.state == proto::AgentState::LoggedOut as i32 {
                        break;
                    }
                }
                _ => {}
            }
        }
    }
}

/// One caller: starts a call at its node, retried (same request id) at the
/// others for up to 8 s; then waits for the call to end, hanging up after
/// 20 s at most.
pub async fn caller(edges: Vec<Clients>, ani: String, seen: Shared) {
    let first = Instant::now();
    seen.lock().unwrap().started.push(first);
    let mut call = None;
    let mut last_error = String::new();
    let mut attempt = 0usize;
    while first.elapsed() < Duration::from_secs(8) {
        let mut edge = edges[attempt % edges.len()].clone();
        attempt += 1;
        match edge
            .call
            .start_call(timed(proto::StartCallRequest {
                ani: ani.clone(),
                dnis: "100".into(),
                request_id: ani.clone(),
                ..Default::default()
            }))
            .await
        {
            Ok(c) => {
                call = Some(c.into_inner().call_id);
                break;
            }
            Err(s) => {
                seen.lock().unwrap().attempts_refused.push(Instant::now());
                last_error = format!("{:?}: {}", s.code(), s.message());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let Some(id) = call else {
        seen.lock().unwrap().refused.push((first, last_error));
        return;
    };
    seen.lock().unwrap().acknowledged.insert(ani, id.clone());
    let started = Instant::now();
    let mut node = 0usize;
    'watch: while started.elapsed() < Duration::from_secs(20) {
        let mut edge = edges[node % edges.len()].clone();
        node += 1;
        let watch = edge
            .call
            .watch_call(proto::GetCallRequest { call_id: id.clone() })
            .await;
        let Ok(watch) = watch else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut watch = watch.into_inner();
        loop {
            let left = Duration::from_secs(20).saturating_sub(started.elapsed());
            match tokio::time::timeout(left, watch.next()).await {
                Ok(Some(Ok(c))) if c.status == proto::CallStatus::Ended as i32 => return,
                Ok(Some(Ok(_))) => {}
                // Broken (the routing node changed) or not live: look again.
                Ok(_) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue 'watch;
                }
                Err(_) => break 'watch,
            }
        }
    }
    // Waited long enough: hang up, until some node takes it.
    let hung_up = Instant::now();
    let mut node = 0usize;
    while hung_up.elapsed() < Duration::from_secs(30) {
        let mut edge = edges[node % edges.len()].clone();
        node += 1;
        let r = edge
            .call
            .end_call(timed(proto::EndCallRequest {
                call_id: id.clone(),
                request_id: format!("end-{id}"),
            }))
            .await;
        match r {
            Ok(_) => return,
            Err(s) if s.code() == tonic::Code::NotFound => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
