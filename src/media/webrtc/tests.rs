//! The media shards against real peers on loopback: many connections
//! share a shard's socket, audio flows each way on every one, and a
//! stranger's datagrams reach none of them.

use std::collections::HashSet;
use std::time::Duration;

use super::*;

fn loopback(codec: AudioCodec) -> WebRtcSettings {
    WebRtcSettings {
        udp_ports: None,
        ips: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        include_loopback: true,
        jitter_frames: 3,
        codecs: vec![codec],
    }
}

/// The port of every host candidate in an SDP.
fn candidate_ports(sdp: &str) -> Vec<u16> {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .filter_map(|l| l.split_whitespace().nth(5)?.parse().ok())
        .collect()
}

/// Sends `frame` on `from` until `to` has taken in `frames` that are not
/// silence, or gives up after five seconds.
async fn carries(from: &Leg, to: &Leg, frame: &[i16]) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut heard = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        from.send_frame(frame.to_vec());
        if to.pop_frame().iter().any(|s| s.unsigned_abs() > 1000) {
            heard += 1;
            if heard >= 5 {
                return true;
            }
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_share_a_shards_socket_and_each_carries_audio_both_ways() {
    let server = WebRtcEndpoint::new(&loopback(AudioCodec::Pcmu)).expect("server");
    let client = WebRtcEndpoint::new(&loopback(AudioCodec::Pcmu)).expect("client");
    let mut ports = HashSet::new();
    let mut pairs = Vec::new();
    for i in 0..8 {
        let (phone, offer) = client.offer(format!("phone-{i}")).await.expect("offer");
        let (leg, answer) = server.answer(format!("leg-{i}"), &offer).await.expect("answer");
        ports.extend(candidate_ports(&answer));
        phone.accept_answer(&answer).await.expect("accept");
        assert!(
            phone.connected(Duration::from_secs(10)).await,
            "connection {i} comes up"
        );
        assert!(
            leg.connected(Duration::from_secs(10)).await,
            "connection {i} comes up"
        );
        pairs.push((phone, leg));
    }
    assert!(
        ports.len() <= server.shards.len(),
        "8 connections on {} ports, one per shard at most: {ports:?}",
        ports.len()
    );
    let loud: Vec<i16> = (0..160).map(|i| if i % 2 == 0 { 8000 } else { -8000 }).collect();
    for (i, (phone, leg)) in pairs.iter().enumerate() {
        assert!(
            carries(&phone.leg, &leg.leg, &loud).await,
            "the server hears phone {i}"
        );
        assert!(
            carries(&leg.leg, &phone.leg, &loud).await,
            "phone {i} hears the server"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_datagrams_reach_no_connection() {
    let server = WebRtcEndpoint::new(&loopback(AudioCodec::Pcmu)).expect("server");
    let client = WebRtcEndpoint::new(&loopback(AudioCodec::Pcmu)).expect("client");
    let (phone, offer) = client.offer("phone".into()).await.expect("offer");
    let (leg, answer) = server.answer("leg".into(), &offer).await.expect("answer");
    phone.accept_answer(&answer).await.expect("accept");
    assert!(phone.connected(Duration::from_secs(10)).await);
    // A stranger sends what looks like RTP, and an ICE check naming no
    // connection, to every port the server offered.
    let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut check = vec![0u8, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42];
    check.extend([7u8; 12]);
    for port in candidate_ports(&answer) {
        for _ in 0..50 {
            let mut rtp = vec![0x80u8, 0, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4];
            rtp.extend([0x7Fu8; 160]);
            stranger.send_to(&rtp, ("127.0.0.1", port)).await.expect("send");
            stranger.send_to(&check, ("127.0.0.1", port)).await.expect("send");
        }
    }
    let quiet = vec![0i16; 160];
    let loud: Vec<i16> = (0..160).map(|i| if i % 2 == 0 { 8000 } else { -8000 }).collect();
    // The connection still carries its own party, and nothing else: while
    // the phone sends silence, the leg hears silence.
    assert!(carries(&phone.leg, &leg.leg, &loud).await);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for _ in 0..25 {
        tick.tick().await;
        phone.leg.send_frame(quiet.clone());
    }
    for _ in 0..10 {
        tick.tick().await;
        phone.leg.send_frame(quiet.clone());
        assert!(
            leg.leg.pop_frame().iter().all(|s| s.unsigned_abs() < 100),
            "only the party's silence"
        );
    }
    assert!(!leg.leg.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_whose_certificate_is_not_the_offers_fingerprint_never_connects() {
    let server = WebRtcEndpoint::new(&loopback(AudioCodec::Pcmu)).expect("server");
    let client = WebRtcEndpoint::new(&loopback(AudioCodec::Pcmu)).expect("client");
    let (phone, offer) = client.offer("phone".into()).await.expect("offer");
    // Someone rewrote the offer's fingerprint on its way (or the DTLS peer
    // is not the one that offered).
    let forged: String = offer
        .lines()
        .map(|l| match l.strip_prefix("a=fingerprint:sha-256 ") {
            Some(fp) => format!(
                "a=fingerprint:sha-256 {}\r\n",
                fp.replace(|c: char| c.is_ascii_hexdigit(), "0")
            ),
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(forged, offer);
    let (leg, answer) = server.answer("leg".into(), &forged).await.expect("answer");
    phone.accept_answer(&answer).await.expect("accept");
    assert!(
        !leg.connected(Duration::from_secs(5)).await,
        "no media with a certificate the offer did not name"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_that_asks_to_be_the_dtls_server_gets_us_as_its_client() {
    let server = WebRtcEndpoint::new(&loopback(AudioCodec::Opus)).expect("server");
    let client = WebRtcEndpoint::new(&loopback(AudioCodec::Opus)).expect("client");
    let (phone, offer) = client.offer("phone".into()).await.expect("offer");
    let passive = offer.replace("a=setup:actpass", "a=setup:passive");
    assert_ne!(passive, offer);
    let (leg, answer) = server.answer("leg".into(), &passive).await.expect("answer");
    assert!(answer.contains("a=setup:active"), "{answer}");
    phone.accept_answer(&answer).await.expect("accept");
    assert!(
        leg.connected(Duration::from_secs(10)).await,
        "the server side comes up"
    );
    assert!(
        phone.connected(Duration::from_secs(10)).await,
        "the phone side comes up"
    );
    let loud: Vec<i16> = (0..320)
        .map(|i| ((i as f32 * 0.2).sin() * 8000.0) as i16)
        .collect();
    assert!(
        carries(&phone.leg, &leg.leg, &loud).await,
        "the server hears the phone"
    );
    assert!(
        carries(&leg.leg, &phone.leg, &loud).await,
        "the phone hears the server"
    );
}

/// Relays datagrams between a phone and `server` (the phone talks to the
/// relay's port instead), dropping every tenth Opus packet the phone sends.
/// Returns the relay's port.
async fn lossy_relay(server: SocketAddr) -> u16 {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let port = socket.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut phone = None;
        let mut opus = 0u64;
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let to = if from == server {
                match phone {
                    Some(p) => p,
                    None => continue,
                }
            } else {
                phone = Some(from);
                // RTP (version 2) with our Opus payload type: SRTP keeps
                // the header in the clear.
                if n > 12 && buf[0] >> 6 == 2 && buf[1] & 0x7f == AudioCodec::Opus.payload_type() {
                    opus += 1;
                    if opus % 10 == 5 {
                        continue;
                    }
                }
                server
            };
            let _ = socket.send_to(&buf[..n], to).await;
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_lost_on_the_way_is_rebuilt_from_the_next_packets_fec() {
    let server = WebRtcEndpoint::new(&loopback(AudioCodec::Opus)).expect("server");
    let client = WebRtcEndpoint::new(&loopback(AudioCodec::Opus)).expect("client");
    let (phone, offer) = client.offer("phone".into()).await.expect("offer");
    assert!(offer.contains("useinbandfec=1"), "{offer}");
    let (leg, answer) = server.answer("leg".into(), &offer).await.expect("answer");
    assert!(answer.contains("useinbandfec=1"), "{answer}");
    // The phone reaches the server only through the relay.
    let mut relayed = answer.clone();
    for port in candidate_ports(&answer) {
        let relay = lossy_relay(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await;
        relayed = relayed.replace(&format!(" {port} typ host"), &format!(" {relay} typ host"));
    }
    assert_ne!(relayed, answer);
    phone.accept_answer(&relayed).await.expect("accept");
    assert!(leg.connected(Duration::from_secs(10)).await);
    assert!(phone.connected(Duration::from_secs(10)).await);
    // Three seconds of speech: the phone's encoder adds FEC because the
    // answer said the server uses it; the server's leg rebuilds the lost.
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut heard = 0;
    for f in 0..150 {
        tick.tick().await;
        phone.leg.send_frame(crate::media::tone::voice_frame(f));
        if leg.leg.pop_frame().iter().any(|s| s.unsigned_abs() > 1000) {
            heard += 1;
        }
    }
    let stats = leg.leg.inbound_stats();
    assert!(heard > 100, "the server hears the phone ({heard} frames)");
    assert!(stats.lost >= 5, "the relay lost packets: {stats:?}");
    assert!(
        stats.recovered > 0 && stats.recovered <= stats.lost,
        "lost frames rebuilt from FEC: {stats:?}"
    );
    assert!(
        leg.leg.take_report().recovered > 0,
        "and reported for the metrics"
    );
}
