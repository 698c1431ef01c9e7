//! The supervisor's command-line console: `hotline monitor` listens to a
//! live call, `hotline play` fetches a recording. Either plays on the local
//! sound device (the `playback` cargo feature, so servers build without
//! ALSA) or writes a WAV file.

pub mod admin;

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;

use crate::auth::{Role, TokenKeys};
use crate::config::Config;
use crate::time::Timestamp;

use crate::client::Clients;
use crate::error::Error;
use crate::proto;
use crate::proto::monitor_event::Event as MonEv;

/// How the console commands reach a server.
#[derive(clap::Args)]
pub struct Connection {
    /// The server (default: server.grpc_listen of the configuration).
    #[arg(long)]
    pub server: Option<std::net::SocketAddr>,
    /// Bearer token of a supervisor; default: one minted from the configured
    /// secret for subject `console`.
    #[arg(long, env = "HOTLINE_TOKEN")]
    pub token: Option<String>,
}

impl Connection {
    pub async fn clients(&self, config: &Config) -> Result<Clients, Error> {
        self.clients_as(config, Role::Supervisor).await
    }

    /// Clients with the token given, or one minted for `role`.
    pub async fn clients_as(&self, config: &Config, role: Role) -> Result<Clients, Error> {
        let addr = self.server.unwrap_or(config.server.grpc_listen);
        let token = match &self.token {
            Some(t) => t.clone(),
            None => TokenKeys::new(config.auth.secret.as_bytes()).mint(
                role,
                "console",
                Duration::from_secs(3600),
                Timestamp::now_wall(),
            )?,
        };
        // TLS as the configured server serves it.
        let tls = config.tls.peers();
        let channel = crate::client::channel_with(addr, &tls).await?;
        Clients::new(channel, &token)
    }
}

/// Where audio goes.
pub enum Output<'a> {
    /// A stereo WAV file (caller left, agent right for live calls).
    File(&'a Path),
    /// The local sound device.
    Speakers,
}

fn remote(s: tonic::Status) -> Error {
    crate::status::from_remote(&s)
}

fn pcm(bytes: &[u8]) -> impl Iterator<Item = i16> + '_ {
    bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]))
}

/// Listens to a live call until it ends (or `limit` frames of 20 ms), and
/// returns how many frames were heard.
pub async fn monitor(
    c: &mut Clients,
    call_id: &str,
    out: Output<'_>,
    limit: Option<u64>,
) -> Result<u64, Error> {
    let mut stream = c
        .supervisor
        .monitor(proto::MonitorRequest {
            call_id: call_id.to_string(),
            mode: proto::MonitorMode::Listen as i32,
            offer: None,
        })
        .await
        .map_err(remote)?
        .into_inner();
    let mut sink = match out {
        Output::File(path) => FrameSink::file(path)?,
        Output::Speakers => FrameSink::speakers()?,
    };
    let mut frames = 0u64;
    while let Some(event) = stream.next().await {
        match event.map_err(remote)?.event {
            Some(MonEv::Frame(f)) => {
                sink.write(&f)?;
                frames += 1;
                if limit.is_some_and(|l| frames >= l) {
                    break;
                }
            }
            Some(MonEv::Started(_)) | None => {}
        }
    }
    sink.finish()?;
    Ok(frames)
}

/// Fetches a recording; writes it to `out` or plays it. Returns its metadata.
pub async fn play(c: &mut Clients, recording_id: &str, out: Output<'_>) -> Result<proto::Recording, Error> {
    let mut stream = c
        .supervisor
        .get_recording(proto::GetRecordingRequest {
            recording_id: recording_id.to_string(),
            // Written to a file: the supervisor keeps a copy.
            download: matches!(out, Output::File(_)),
        })
        .await
        .map_err(remote)?
        .into_inner();
    let mut bytes = Vec::new();
    let mut meta = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(remote)?;
        if chunk.recording.is_some() {
            meta = chunk.recording;
        }
        bytes.extend(chunk.data);
    }
    let meta = meta.ok_or_else(|| Error::Internal("recording came without its metadata".into()))?;
    match out {
        Output::File(path) => std::fs::write(path, &bytes)
            .map_err(|e| Error::invalid("out", format!("writing {}: {e}", path.display())))?,
        Output::Speakers => speakers::play_wav(bytes)?,
    }
    Ok(meta)
}

/// Where monitored frames go.
enum FrameSink {
    File(hound::WavWriter<std::io::BufWriter<std::fs::File>>, String),
    #[cfg_attr(not(feature = "playback"), allow(dead_code))]
    Speakers(speakers::Live),
}

impl FrameSink {
    fn file(path: &Path) -> Result<Self, Error> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let w = hound::WavWriter::create(path, spec)
            .map_err(|e| Error::invalid("out", format!("{}: {e}", path.display())))?;
        Ok(FrameSink::File(w, path.display().to_string()))
    }

    fn speakers() -> Result<Self, Error> {
        Ok(FrameSink::Speakers(speakers::Live::open()?))
    }

    fn write(&mut self, f: &proto::AudioFrame) -> Result<(), Error> {
        match self {
            FrameSink::File(w, path) => {
                for (l, r) in pcm(&f.caller_pcm).zip(pcm(&f.agent_pcm)) {
                    w.write_sample(l)
                        .and_then(|_| w.write_sample(r))
                        .map_err(|e| Error::invalid("out", format!("{path}: {e}")))?;
                }
                Ok(())
            }
            FrameSink::Speakers(live) => {
                live.play(f);
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<(), Error> {
        match self {
            FrameSink::File(w, path) => w
                .finalize()
                .map_err(|e| Error::invalid("out", format!("{path}: {e}"))),
            FrameSink::Speakers(live) => {
                live.drain();
                Ok(())
            }
        }
    }
}

#[cfg(feature = "playback")]
mod speakers {
    use std::num::NonZero;

    use rodio::buffer::SamplesBuffer;
    use rodio::{DeviceSinkBuilder, MixerDeviceSink, Player};

    use super::pcm;
    use crate::error::Error;
    use crate::proto;

    fn device() -> Result<MixerDeviceSink, Error> {
        DeviceSinkBuilder::open_default_sink()
            .map_err(|e| Error::Unavailable(format!("no sound device: {e}")))
    }

    /// Live frames to the default sound device.
    pub struct Live {
        _device: MixerDeviceSink,
        player: Player,
    }

    impl Live {
        pub fn open() -> Result<Live, Error> {
            let device = device()?;
            let player = Player::connect_new(device.mixer());
            Ok(Live {
                _device: device,
                player,
            })
        }

        pub fn play(&self, f: &proto::AudioFrame) {
            let samples: Vec<f32> = pcm(&f.caller_pcm)
                .zip(pcm(&f.agent_pcm))
                .flat_map(|(l, r)| [f32::from(l) / 32768.0, f32::from(r) / 32768.0])
                .collect();
            if let (Some(ch), Some(rate)) = (NonZero::new(2u16), NonZero::new(f.sample_rate.max(1))) {
                self.player.append(SamplesBuffer::new(ch, rate, samples));
            }
        }

        pub fn drain(self) {
            self.player.sleep_until_end();
        }
    }

    pub fn play_wav(bytes: Vec<u8>) -> Result<(), Error> {
        let device = device()?;
        let player = Player::connect_new(device.mixer());
        let source = rodio::Decoder::new(std::io::Cursor::new(bytes))
            .map_err(|e| Error::Internal(format!("decoding the recording: {e}")))?;
        player.append(source);
        player.sleep_until_end();
        Ok(())
    }
}

#[cfg(not(feature = "playback"))]
mod speakers {
    use crate::error::Error;
    use crate::proto;

    fn unavailable() -> Error {
        Error::FailedPrecondition(
            "this hotline was built without the `playback` feature (no sound device support); \
             use --out FILE.wav, or build with --features playback"
                .into(),
        )
    }

    pub struct Live;

    impl Live {
        pub fn open() -> Result<Live, Error> {
            Err(unavailable())
        }
        pub fn play(&self, _: &proto::AudioFrame) {}
        pub fn drain(self) {}
    }

    pub fn play_wav(_: Vec<u8>) -> Result<(), Error> {
        Err(unavailable())
    }
}
