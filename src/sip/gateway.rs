//! The SIP trunk adapter: one task owns the UDP socket and the sans-IO
//! [`TrunkCore`] (in the style of mini-redis: the state has one owner;
//! call tasks send it commands); each trunk call has its own task that
//! queues the call through `CallService` and follows it.
//!
//! Invariants: the core only sees time through `Timestamp::now_wall()`
//! taken here; every `Incoming` call gets a task, and that task hears how
//! the caller's side ended (`Cancelled`/`Ended`); a call that could not be
//! queued is refused with a final response and never left ringing; the
//! socket task stops at shutdown, after sending what the core had queued.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tracing::{debug, info, warn};

use super::trunk::{Refusal, SipCallKey, TrunkCore, TrunkEvent, TrunkSettings};
use crate::api::call::CallApi;
use crate::api::ApiContext;
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::ids::CallId;
use crate::media::rtp::{RtpParams, RtpSession};
use crate::proto;
use crate::proto::call_service_server::CallService;
use crate::time::Timestamp;

/// Commands a call task sends to the socket task.
#[derive(Debug)]
enum Command {
    Accept { key: SipCallKey, local_rtp: SocketAddr },
    Reject { key: SipCallKey, why: Refusal },
    Answer { key: SipCallKey },
    Hangup { key: SipCallKey },
}

/// What a call task hears about the caller's side.
#[derive(Debug)]
enum CallerSide {
    Gone,
}

/// How the gateway runs.
#[derive(Clone, Debug)]
pub struct GatewaySettings {
    pub listen: SocketAddr,
    /// The address our SDP offers for RTP (reachable by the trunk).
    pub media_ip: IpAddr,
    pub rtp_ports: Option<(u16, u16)>,
    pub jitter_frames: usize,
}

/// Binds the SIP socket and serves trunk calls until `shutdown`; returns
/// the bound address.
pub async fn start(
    settings: GatewaySettings,
    ctx: ApiContext,
    shutdown: watch::Receiver<bool>,
) -> Result<SocketAddr, Error> {
    let socket = UdpSocket::bind(settings.listen)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot listen for SIP on {}: {e}", settings.listen)))?;
    let local = socket
        .local_addr()
        .map_err(|e| Error::Unavailable(format!("SIP socket address: {e}")))?;
    // Contact and Via name an address the trunk can reach.
    let advertised = if local.ip().is_unspecified() {
        SocketAddr::new(settings.media_ip, local.port())
    } else {
        local
    };
    let core = TrunkCore::new(TrunkSettings {
        local: advertised,
        seed: rand::random(),
    });
    info!(%local, "SIP trunk listening (UDP)");
    tokio::spawn(run(socket, core, settings, ctx, shutdown));
    Ok(local)
}

async fn run(
    socket: UdpSocket,
    mut core: TrunkCore,
    settings: GatewaySettings,
    ctx: ApiContext,
    mut shutdown: watch::Receiver<bool>,
) {
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<Command>(1024);
    let mut calls: HashMap<SipCallKey, mpsc::Sender<CallerSide>> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let next = core.poll_timeout();
        let sleep = async move {
            match next {
                Some(at) => {
                    let wait = at.since(Timestamp::now_wall()) + std::time::Duration::from_millis(1);
                    tokio::time::sleep(wait).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => core.handle_datagram(Timestamp::now_wall(), from, &buf[..n]),
                Err(e) => debug!(error = %e, "SIP receive"),
            },
            Some(cmd) = cmd_rx.recv() => {
                let now = Timestamp::now_wall();
                match cmd {
                    Command::Accept { key, local_rtp } => core.handle_accept(now, &key, local_rtp),
                    Command::Reject { key, why } => {
                        calls.remove(&key);
                        core.handle_reject(now, &key, why);
                    }
                    Command::Answer { key } => core.handle_answer(now, &key),
                    Command::Hangup { key } => {
                        calls.remove(&key);
                        core.handle_hangup(now, &key);
                    }
                }
            }
            _ = sleep => core.handle_timeout(Timestamp::now_wall()),
            _ = shutdown.wait_for(|s| *s) => break,
        }
        while let Some(t) = core.poll_transmit() {
            if let Err(e) = socket.send_to(&t.bytes, t.to).await {
                debug!(to = %t.to, error = %e, "SIP send");
            }
        }
        while let Some(event) = core.poll_event() {
            match event {
                TrunkEvent::Incoming {
                    key,
                    from_number,
                    to_number,
                    source,
                    offer,
                } => {
                    let (tx, rx) = mpsc::channel(4);
                    calls.insert(key.clone(), tx);
                    info!(sip_call = %key, from = %from_number, to = %to_number, %source, "trunk call arriving");
                    tokio::spawn(trunk_call(
                        TrunkCall {
                            key,
                            from_number,
                            to_number,
                            params: RtpParams {
                                remote: offer.remote,
                                codec: offer.codec,
                                telephone_event: offer.telephone_event,
                                latch: true,
                            },
                        },
                        ctx.clone(),
                        settings.clone(),
                        cmd_tx.clone(),
                        rx,
                    ));
                }
                TrunkEvent::Cancelled { key } | TrunkEvent::Ended { key } => {
                    if let Some(tx) = calls.remove(&key) {
                        let _ = tx.try_send(CallerSide::Gone);
                    }
                }
                TrunkEvent::HoldChanged { key, on_hold } => {
                    debug!(sip_call = %key, on_hold, "trunk hold changed");
                }
            }
        }
    }
    // Ending: every call on this trunk is hung up.
    let now = Timestamp::now_wall();
    for key in calls.keys() {
        core.handle_hangup(now, key);
    }
    while let Some(t) = core.poll_transmit() {
        let _ = socket.send_to(&t.bytes, t.to).await;
    }
    info!("SIP trunk stopped");
}

struct TrunkCall {
    key: SipCallKey,
    from_number: String,
    to_number: String,
    params: RtpParams,
}

/// A request as the trunk, a telephony principal of this node.
fn as_trunk<T>(message: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.extensions_mut().insert(Principal {
        sub: "sip-trunk".into(),
        role: Role::Telephony,
    });
    req
}

fn refusal(status: &tonic::Status) -> Refusal {
    match status.code() {
        tonic::Code::NotFound | tonic::Code::InvalidArgument => Refusal::UnknownNumber,
        tonic::Code::ResourceExhausted | tonic::Code::FailedPrecondition => Refusal::Busy,
        _ => Refusal::Unavailable,
    }
}

async fn trunk_call(
    call: TrunkCall,
    ctx: ApiContext,
    settings: GatewaySettings,
    cmds: mpsc::Sender<Command>,
    mut caller: mpsc::Receiver<CallerSide>,
) {
    let TrunkCall {
        key,
        from_number,
        to_number,
        params,
    } = call;
    let api = CallApi { ctx: ctx.clone() };
    let reject = |why| Command::Reject {
        key: key.clone(),
        why,
    };
    let ani = if from_number.is_empty() {
        "anonymous".to_string()
    } else {
        from_number
    };
    let started = api
        .start_call(as_trunk(proto::StartCallRequest {
            ani,
            dnis: to_number,
            request_id: format!("sip:{key}"),
            ..Default::default()
        }))
        .await;
    let queued = match started {
        Ok(c) => c.into_inner(),
        Err(status) => {
            info!(sip_call = %key, code = ?status.code(), reason = status.message(), "trunk call refused");
            let _ = cmds.send(reject(refusal(&status))).await;
            return;
        }
    };
    if queued.status == proto::CallStatus::Ended as i32 {
        let _ = cmds.send(reject(Refusal::Busy)).await;
        return;
    }
    let call_id = CallId::new(&queued.call_id);
    let end_call = || async {
        let _ = api
            .end_call(as_trunk(proto::EndCallRequest {
                call_id: call_id.to_string(),
                request_id: String::new(),
            }))
            .await;
    };
    let opened = RtpSession::open(
        format!("rtp-{call_id}"),
        settings.media_ip,
        settings.rtp_ports,
        params,
        settings.jitter_frames,
    )
    .await;
    let (session, _keys) = match opened {
        Ok(s) => s,
        Err(e) => {
            warn!(sip_call = %key, error = %e, "no RTP leg for a trunk call");
            end_call().await;
            let _ = cmds.send(reject(Refusal::Unavailable)).await;
            return;
        }
    };
    let local_rtp = SocketAddr::new(settings.media_ip, session.local.port());
    let Ok(Some(mut watch)) = ctx.engine.watch_call(call_id.clone()).await else {
        let _ = cmds.send(reject(Refusal::Ended)).await;
        return;
    };
    if let Err(e) = ctx.media.connect_rtp_caller(&call_id, session).await {
        warn!(sip_call = %key, error = %e, "trunk call without audio");
        end_call().await;
        let _ = cmds.send(reject(Refusal::Unavailable)).await;
        return;
    }
    let _ = cmds
        .send(Command::Accept {
            key: key.clone(),
            local_rtp,
        })
        .await;
    let mut answered = false;
    loop {
        tokio::select! {
            side = caller.recv() => {
                // The caller cancelled or hung up (or the trunk stopped).
                let _ = side;
                end_call().await;
                return;
            }
            update = watch.next() => match update {
                Some(Ok(c)) => {
                    if c.status == proto::CallStatus::Connected as i32 && !answered {
                        answered = true;
                        let _ = cmds.send(Command::Answer { key: key.clone() }).await;
                    }
                    if c.status == proto::CallStatus::Ended as i32 {
                        let _ = cmds.send(Command::Hangup { key: key.clone() }).await;
                        return;
                    }
                }
                _ => {
                    // The watch ended (routing moved): find the call again.
                    match ctx.engine.watch_call(call_id.clone()).await {
                        Ok(Some(again)) => watch = again,
                        _ => {
                            let _ = cmds.send(Command::Hangup { key: key.clone() }).await;
                            return;
                        }
                    }
                }
            }
        }
    }
}
