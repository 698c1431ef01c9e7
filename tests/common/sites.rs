//! A cluster of real `hotline serve` processes (tests that kill nodes):
//! each site is one node with its own recordings folder and metrics port,
//! logging to a file in the test's folder.

use std::path::Path;
use std::time::{Duration, Instant};

use hotline::auth::{Role, TokenKeys};
use hotline::client::softphone::{self, tone, Party, SoftPhone};
use hotline::client::Clients;
use hotline::media::webrtc::WebRtcEndpoint;
use hotline::proto;
use hotline::time::Timestamp;
use tokio_stream::StreamExt;

use super::process::{connect, free_port, Node};
use super::redis::RedisServer;
use super::{Agent, CONFIG, SECRET, SOON};

pub struct Site {
    pub node: Node,
    pub ch: tonic::transport::Channel,
    pub metrics: std::net::SocketAddr,
}

pub fn clients(ch: &tonic::transport::Channel, role: Role, sub: &str) -> Clients {
    let token = TokenKeys::new(SECRET.as_bytes())
        .mint(role, sub, Duration::from_secs(600), Timestamp::now_wall())
        .expect("mint");
    Clients::new(ch.clone(), &token).expect("clients")
}

/// The cluster's lease: short, so lost nodes show quickly.
pub const LEASE_MS: u64 = 1500;

/// Starts node `name` on `redis`, its files in `dir`, with `media` lines
/// added to its `[media]` table.
pub async fn start(dir: &Path, redis: &RedisServer, name: &str, media: &str) -> Site {
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "{CONFIG}\n[store]\nurl = {:?}\nnamespace = \"loss\"\n[cluster]\nlease_ms = {LEASE_MS}\n[media]\nrecordings_dir = {:?}\ninclude_loopback = true\nips = [\"127.0.0.1\"]\nflush_ms = 100\nagent_audio_grace_ms = 1000\n{media}\n",
            redis.url(),
            dir.join(format!("recordings-{name}")).display().to_string(),
        ),
    )
    .expect("config");
    let metrics: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let node = Node::start_with(
        &config,
        name,
        &[("HOTLINE_METRICS__LISTEN", metrics.to_string())],
        Some(&dir.join(format!("{name}.log"))),
    );
    let ch = connect(node.addr).await;
    Site { node, ch, metrics }
}

/// Signs `id` in on `site` with a softphone saying `hz`, not ready yet.
pub async fn agent(site: &Site, endpoint: &WebRtcEndpoint, id: &str, hz: f64) -> (Agent, SoftPhone) {
    let mut c = clients(&site.ch, Role::Agent, id);
    c.agent
        .login(proto::LoginRequest {
            agent_id: id.into(),
            ..Default::default()
        })
        .await
        .expect("login");
    let events = c
        .agent
        .events(proto::EventsRequest { agent_id: id.into() })
        .await
        .expect("events")
        .into_inner();
    let mut a = Agent {
        id: id.into(),
        c,
        events,
    };
    a.not_ready("getting ready").await;
    let phone = softphone::connect(&mut a.c, endpoint, Party::Agent(id), tone(hz, 8000), true)
        .await
        .expect("softphone");
    assert!(phone.connected(Duration::from_secs(10)).await);
    (a, phone)
}

/// A call entering `site` from a caller saying `hz`, answered by `agent`.
pub async fn answered_call(
    site: &Site,
    endpoint: &WebRtcEndpoint,
    agent: &mut Agent,
    ani: &str,
    hz: f64,
) -> (String, SoftPhone) {
    let mut edge = clients(&site.ch, Role::Telephony, "edge");
    let call = edge
        .call
        .start_call(proto::StartCallRequest {
            ani: ani.into(),
            dnis: "100".into(),
            ..Default::default()
        })
        .await
        .expect("start call")
        .into_inner();
    let caller = softphone::connect(
        &mut edge,
        endpoint,
        Party::Caller(&call.call_id),
        tone(hz, 8000),
        true,
    )
    .await
    .expect("caller media");
    assert!(caller.connected(Duration::from_secs(10)).await);
    agent.available().await;
    assert_eq!(agent.expect_offer(SOON).await.call_id, call.call_id);
    agent.accept(&call.call_id).await;
    (call.call_id, caller)
}

pub async fn get_call(site: &Site, id: &str) -> Option<proto::Call> {
    clients(&site.ch, Role::Supervisor, "sup")
        .call
        .get_call(proto::GetCallRequest { call_id: id.into() })
        .await
        .ok()
        .map(|r| r.into_inner())
}

/// The recording of `call_id` as `site` lists it, once `done` says so
/// (within 20 s).
pub async fn recording_when(
    site: &Site,
    call_id: &str,
    done: impl Fn(&proto::Recording) -> bool,
) -> proto::Recording {
    let mut sup = clients(&site.ch, Role::Supervisor, "sup");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rec = sup
            .supervisor
            .list_recordings(proto::ListRecordingsRequest::default())
            .await
            .ok()
            .and_then(|r| {
                r.into_inner()
                    .recordings
                    .into_iter()
                    .find(|r| r.call_id == call_id)
            });
        if let Some(rec) = rec.filter(|r| done(r)) {
            return rec;
        }
        assert!(Instant::now() < deadline, "the recording of {call_id} got there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The finished recording of `call_id`, fetched through `site`, into `out`.
pub async fn fetch_recording(site: &Site, call_id: &str, out: &Path) {
    recording_when(site, call_id, |r| !r.live).await;
    let mut sup = clients(&site.ch, Role::Supervisor, "sup");
    let mut stream = sup
        .supervisor
        .get_recording(proto::GetRecordingRequest {
            recording_id: call_id.into(),
            download: false,
        })
        .await
        .expect("get recording")
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend(chunk.expect("chunk").data);
    }
    std::fs::write(out, bytes).expect("write");
}
