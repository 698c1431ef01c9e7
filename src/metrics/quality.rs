//! Quality signals of finished recordings, per queue (bounded by the
//! catalog's queues): talk by party and overtalk, holds by what they ask
//! of the grader, and recordings whose signals could not be read. Per
//! agent they are in the reports (agents are too many for labels).

use metrics::{counter, describe_counter};

use hotline_core::quality::signals::QualitySignals;

pub fn describe() {
    describe_counter!(
        "hotline_recordings_analysed_total",
        "Finished recordings whose quality signals were read (talk, overtalk, silence, holds), by queue."
    );
    describe_counter!(
        "hotline_recording_talk_seconds_total",
        "Seconds of voice activity in analysed recordings, by queue and party (caller, agent, overtalk: both at once)."
    );
    describe_counter!(
        "hotline_recording_holds_total",
        "Holds in analysed recordings, by queue and flag: fine (6 s or less), apology-to-check (longer, the agent spoke within 3 s of resuming), no-apology (longer, the agent did not)."
    );
    describe_counter!(
        "hotline_recording_signals_failed_total",
        "Finished recordings whose quality signals could not be read (audio lost on the way to the extractor, or it did not finish)."
    );
}

pub fn initialise() {
    counter!("hotline_recording_signals_failed_total").absolute(0);
}

/// A recording of `queue` was analysed.
pub fn recording_analysed(queue: &str, s: &QualitySignals) {
    let queue = queue.to_string();
    counter!("hotline_recordings_analysed_total", "queue" => queue.clone()).increment(1);
    for (party, ms) in [
        ("caller", s.caller_talk_ms),
        ("agent", s.agent_talk_ms),
        ("overtalk", s.overtalk_ms),
    ] {
        counter!("hotline_recording_talk_seconds_total", "queue" => queue.clone(), "party" => party)
            .increment((ms + 500) / 1000);
    }
    for h in &s.holds {
        counter!("hotline_recording_holds_total", "queue" => queue.clone(), "flag" => h.flag.as_str())
            .increment(1);
    }
}

/// A recording's signals could not be read.
pub fn signals_failed() {
    counter!("hotline_recording_signals_failed_total").increment(1);
}
