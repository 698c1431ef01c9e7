//! Logging and spans: `RUST_LOG` filters (else the caller's default), text or JSON.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The WebRTC stack logs every closed connection's teardown at WARN (a
/// hung-up call is not a warning); only its errors are shown by default.
const QUIET_MEDIA_STACK: &str =
    "webrtc=error,webrtc_ice=error,webrtc_dtls=error,webrtc_srtp=error,webrtc_mdns=error";

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_filter},{QUIET_MEDIA_STACK}")));
    // Colour only for a person at a terminal: a file or a pipe (a log
    // collector, `docker logs`) gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
