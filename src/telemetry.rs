//! Logging and spans: `RUST_LOG` filters (else the caller's default), text or JSON.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The WebRTC stack logs 5 to 7 WARN lines on every normal call (each
/// closed connection's teardown: a hung-up call is not a warning); only its
/// errors are shown, unless RUST_LOG names one of its targets.
const QUIET_MEDIA_STACK: &str = "rtc=error,rtc_ice=error,rtc_dtls=error,rtc_srtp=error,rtc_stun=error,rtc_mdns=error,rtc_sctp=error,rtc_datachannel=error,rtc_interceptor=error,rtc_rtp=error,rtc_rtcp=error,rtc_sdp=error,rtc_shared=error,rtc_turn=error";

/// The filter directives: RUST_LOG if set, else `default_filter`, with the
/// media stack held to errors unless RUST_LOG asks for it by name (for
/// example `RUST_LOG=info,rtc_ice=debug`).
fn directives(rust_log: Option<&str>, default_filter: &str) -> String {
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        Some(user) if names_media_stack(user) => user.to_string(),
        Some(user) => format!("{user},{QUIET_MEDIA_STACK}"),
        None => format!("{default_filter},{QUIET_MEDIA_STACK}"),
    }
}

/// Whether a filter names one of the WebRTC stack's targets (`rtc`,
/// `rtc_ice`, ...).
fn names_media_stack(filter: &str) -> bool {
    filter.split(',').any(|d| {
        d.trim() == "rtc"
            || d.trim().starts_with("rtc=")
            || d.trim().starts_with("rtc_")
            || d.trim().starts_with("rtc::")
    })
}

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(format: LogFormat, default_filter: &str) {
    let rust_log = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    let filter = EnvFilter::try_new(directives(rust_log.as_deref(), default_filter)).unwrap_or_else(|e| {
        eprintln!("RUST_LOG is not a valid filter ({e}); using {default_filter}");
        EnvFilter::new(directives(None, default_filter))
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What a subscriber with these directives writes for a WARN from the
    /// WebRTC stack and one from hotline.
    fn written(rust_log: Option<&str>) -> String {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(directives(rust_log, "info")))
            .with_ansi(false)
            .with_writer(move || Writer(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "rtc_ice::agent::agent_internal", "teardown of a normal call");
            tracing::warn!(target: "rtc::peer_connection", "closed");
            tracing::warn!(target: "hotline::media", "audio could not reach the agent");
        });
        let bytes = out.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_media_stacks_warnings_stay_below_warn_with_or_without_rust_log() {
        for rust_log in [None, Some("info"), Some("warn,hotline=debug")] {
            let out = written(rust_log);
            assert!(
                out.contains("audio could not reach the agent"),
                "{rust_log:?}: {out}"
            );
            assert!(!out.contains("teardown of a normal call"), "{rust_log:?}: {out}");
            assert!(!out.contains("closed"), "{rust_log:?}: {out}");
        }
    }

    #[test]
    fn rust_log_naming_the_media_stack_shows_it() {
        let out = written(Some("info,rtc_ice=warn"));
        assert!(out.contains("teardown of a normal call"), "{out}");
    }
}
