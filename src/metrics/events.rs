//! Typed events -> metrics, in one place. The engine hands every router and
//! callback event here, and once a second a snapshot of the live figures
//! (queues, agents, callbacks) for the gauges.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};

use crate::acd::{AgentState, CallOutcome, Disposition, Event, QueueView, RescindReason};
use crate::callback::{CallbackEvent, CallbackStatus};
use crate::time::Timestamp;

/// The report rules (service-level thresholds, short abandons), so the
/// metrics count as the reports do. Set once, with the recorder.
static RULES: std::sync::OnceLock<hotline_core::report::ReportRules> = std::sync::OnceLock::new();

pub fn set_rules(rules: hotline_core::report::ReportRules) {
    let _ = RULES.set(rules);
}

fn threshold(queue: &crate::ids::QueueName) -> std::time::Duration {
    RULES
        .get()
        .and_then(|r| r.service_level.get(queue).copied())
        .unwrap_or(std::time::Duration::from_secs(20))
}

fn short_abandon() -> std::time::Duration {
    RULES.get().map(|r| r.short_abandon).unwrap_or_default()
}

/// Whether this node serves (health), and whether its store answers.
pub fn health(serving: bool) {
    gauge!("hotline_health_serving").set(if serving { 1.0 } else { 0.0 });
}

pub fn store_reachable(up: bool) {
    gauge!("hotline_store_up").set(if up { 1.0 } else { 0.0 });
}

/// Counters that would otherwise appear only at their first event start at
/// zero, so rates and dashboards have a series from the first scrape.
pub fn initialise() {
    counter!("hotline_callbacks_created_total").absolute(0);
    counter!("hotline_callbacks_warned_total").increment(0);
    counter!("hotline_callbacks_breached_total").increment(0);
    for outcome in ["met", "missed", "cancelled"] {
        counter!("hotline_callbacks_closed_total", "outcome" => outcome).increment(0);
    }
    for on_time in ["true", "false"] {
        counter!("hotline_requests_closed_total", "on_time" => on_time).increment(0);
    }
    counter!("hotline_recording_bytes_total").increment(0);
    counter!("hotline_recordings_failed_total").absolute(0);
    counter!("hotline_prompts_unreadable_total", "prompt" => "keypad_menu").increment(0);
    for result in ["ok", "failed"] {
        counter!("hotline_tls_reloads_total", "result" => result).increment(0);
    }
    for result in ["ok", "failed"] {
        counter!("hotline_oidc_key_fetches_total", "result" => result).increment(0);
    }
    counter!("hotline_revocation_reads_failed_total").increment(0);
    counter!("hotline_sessions_revoked_total").increment(0);
    counter!("hotline_audit_writes_failed_total").increment(0);
    counter!("hotline_srtp_packets_rejected_total").increment(0);
    for result in ["stored", "failed"] {
        counter!("hotline_recordings_archived_total", "result" => result).increment(0);
    }
    for party in ["caller", "agent"] {
        counter!("hotline_calls_lost_with_node_total", "party" => party).increment(0);
        counter!("hotline_call_legs_silent_total", "leg" => party).increment(0);
        gauge!("hotline_calls_with_silent_leg", "leg" => party).increment(0.0);
    }
    for (party, cause) in [
        ("agent", "no_leg"),
        ("agent", "relay_failed"),
        ("supervisor", "relay_failed"),
    ] {
        counter!("hotline_media_unreachable_total", "party" => party, "cause" => cause).increment(0);
    }
}

/// Help texts and units, once at install.
pub fn describe() {
    describe_counter!(
        "hotline_catalog_refresh_failed_total",
        "Polls for admin catalog changes the store did not answer; the node routes by the catalog as last read."
    );
    describe_counter!(
        "hotline_catalog_objects_unreadable_total",
        "Admin catalog objects in the store this node could not read (kept as they were)."
    );
    describe_counter!(
        "hotline_catalog_changes_refused_total",
        "Admin catalog changes the routing core refused (it routes as before); the warning log says why."
    );
    describe_gauge!(
        "hotline_catalog_revision",
        "The admin catalog revision this node has applied; equal on every node once changes have spread."
    );
    describe_gauge!(
        "hotline_health_serving",
        "1 while this node reports SERVING on its health service."
    );
    describe_gauge!(
        "hotline_store_up",
        "1 while the store (Redis) answers this node's heartbeat."
    );
    describe_counter!(
        "hotline_calls_answered_within_threshold_total",
        "Calls answered within their queue's service-level threshold, by queue and tier."
    );
    describe_gauge!("hotline_build_info", "Build information (value 1): version.");
    describe_counter!(
        "hotline_calls_offered_total",
        "Calls offered to a queue (arrived), by queue and tier."
    );
    describe_counter!(
        "hotline_calls_answered_total",
        "Calls answered by an agent, by queue and tier."
    );
    describe_counter!(
        "hotline_calls_ended_total",
        "Calls ended, by queue, tier and outcome (answered, abandoned, abandoned_short, overflowed, rejected)."
    );
    describe_histogram!(
        "hotline_queue_wait_seconds",
        Unit::Seconds,
        "Wait from arrival to answer; bucket edges include each queue's service-level threshold."
    );
    describe_histogram!(
        "hotline_call_talk_seconds",
        Unit::Seconds,
        "Talk time of handled calls, by queue."
    );
    describe_histogram!(
        "hotline_call_handle_seconds",
        Unit::Seconds,
        "Handle time (talk + hold + wrap-up) of handled calls, by queue."
    );
    describe_counter!(
        "hotline_wrap_ups_total",
        "Wrap-ups completed, by queue and disposition."
    );
    describe_counter!(
        "hotline_offers_rescinded_total",
        "Offers withdrawn, by reason (no-answer, declined, ...)."
    );
    describe_gauge!("hotline_calls_waiting", "Calls waiting in the queue now.");
    describe_gauge!(
        "hotline_oldest_wait_seconds",
        Unit::Seconds,
        "Wait of the oldest waiting call."
    );
    describe_gauge!(
        "hotline_calls_ringing",
        "Calls being offered (ringing at an agent) now, by queue."
    );
    describe_gauge!(
        "hotline_queue_agents",
        "Logged-in agents able to serve the queue, by state."
    );
    describe_gauge!("hotline_agents", "Agents by state (each agent once).");
    describe_gauge!(
        "hotline_calls_active",
        "Calls live in the router (waiting, ringing or connected)."
    );
    describe_histogram!(
        "hotline_engine_job_seconds",
        Unit::Seconds,
        "Time the engine took for one job (a routing decision and its consequences)."
    );
    describe_gauge!("hotline_callbacks_pending", "Open callbacks (scheduled or due).");
    describe_gauge!("hotline_callbacks_due", "Callbacks ready to dial now.");
    describe_gauge!(
        "hotline_callbacks_due_soon",
        "Open callbacks within 30 minutes of their deadline (warned)."
    );
    describe_gauge!("hotline_callbacks_overdue", "Open callbacks past their deadline.");
    describe_counter!("hotline_callbacks_created_total", "Callbacks created.");
    describe_counter!(
        "hotline_callbacks_closed_total",
        "Callbacks closed, by outcome: met, missed, cancelled."
    );
    describe_counter!(
        "hotline_callbacks_warned_total",
        "Deadline warnings sent to supervisors."
    );
    describe_counter!(
        "hotline_callbacks_breached_total",
        "Callback deadlines passed unreached."
    );
    describe_counter!(
        "hotline_requests_closed_total",
        "Requests closed after their work, by on_time (true/false)."
    );
    describe_counter!(
        "hotline_grpc_requests_total",
        "gRPC requests by method and status code (a stream counts once, at its start)."
    );
    describe_histogram!(
        "hotline_grpc_request_seconds",
        Unit::Seconds,
        "Time from a gRPC request to its response headers, by method."
    );
    describe_histogram!(
        "hotline_store_operation_seconds",
        Unit::Seconds,
        "Store operations by backend (memory, redis), operation and result (ok, error)."
    );
    describe_counter!(
        "hotline_store_reconnects_total",
        "Times the store answered again after being unreachable, by backend."
    );
    describe_counter!(
        "hotline_media_packets_received_total",
        "Audio packets received from parties, by transport."
    );
    describe_counter!(
        "hotline_media_packets_lost_total",
        "Audio frames that never arrived in time to be played (concealed, or rebuilt from in-band FEC), by transport."
    );
    describe_counter!(
        "hotline_media_frames_recovered_total",
        "Lost Opus frames rebuilt from the copy the next packet carried (in-band FEC) rather than concealed, by transport."
    );
    describe_counter!(
        "hotline_media_packets_late_total",
        "Audio packets that arrived after their frame was played, by transport."
    );
    describe_histogram!(
        "hotline_media_jitter_seconds",
        Unit::Seconds,
        "Interarrival jitter of each party's audio (RFC 3550), sampled once a second, by transport."
    );
    describe_counter!(
        "hotline_recordings_archived_total",
        "Finished recordings moved to the shared recording storage (object storage), by result (stored, failed: left in the spool for the next try)."
    );
    describe_counter!(
        "hotline_calls_lost_with_node_total",
        "Calls ended because the node holding one party's audio was lost, by party (caller: counted by the routing node; agent: by the call's media node)."
    );
    describe_counter!(
        "hotline_tls_reloads_total",
        "Times the TLS certificate files changed, by result: ok (now served) or failed (did not read; the previous certificate still serves)."
    );
    describe_counter!(
        "hotline_oidc_key_fetches_total",
        "Reads of the identity provider's discovery document and signing keys (JWKS), by result: ok, or failed (the keys read before still verify; none before means single sign-on refuses every token)."
    );
    describe_counter!(
        "hotline_revocation_reads_failed_total",
        "Polls of the revoked sign-ins that the store did not answer; while they fail, a revocation made on another node is not yet enforced here."
    );
    describe_counter!(
        "hotline_audit_writes_failed_total",
        "Audit trail events the store refused: a read of sensitive data was refused with it; a change was made but is missing from the trail (its own record still names who made it)."
    );
    describe_counter!(
        "hotline_srtp_packets_rejected_total",
        "SRTP packets from SIP trunks dropped because they failed authentication or replayed an old one (a wrong key, or not SRTP); the first on a call is also logged."
    );
    describe_counter!(
        "hotline_records_pruned_total",
        "Stored records deleted by retention, by kind ([retention]; recordings' metadata by [media] retention_days; audit for the trail)."
    );
    describe_counter!(
        "hotline_retention_failures_total",
        "Retention sweeps that could not delete a kind's old records (the store refused); tried again next sweep."
    );
    describe_counter!(
        "hotline_sessions_revoked_total",
        "Subjects whose sign-ins were revoked (\"sign out everywhere\") through this node."
    );
    describe_counter!(
        "hotline_prompts_unreadable_total",
        "Recordings a caller should have heard that could not be read, by what they were for (keypad_menu); the built-in prompt played instead."
    );
    describe_counter!(
        "hotline_media_unreachable_total",
        "Times a party's audio could not reach a call's bridge, by party (agent, supervisor) and cause (no_leg: no softphone connected anywhere; relay_failed: the node-to-node relay could not be set up)."
    );
    describe_counter!(
        "hotline_media_relays_opened_total",
        "Node-to-node media relays opened from this node, by kind (agent, monitor)."
    );
    describe_counter!(
        "hotline_events_withheld_dropped_total",
        "Events to agents and watchers never sent because the store did not record their change: held past the limit while the store was down, or dropped when another node took over routing."
    );
    describe_counter!(
        "hotline_expired_requests_total",
        "Requests the routing core dropped unexecuted because the client's deadline (grpc-timeout) passed while they waited, by kind (command: answered DEADLINE_EXCEEDED; offer: a call offer that reached the agent's node after it expired, not shown)."
    );
    describe_counter!(
        "hotline_media_relays_broken_total",
        "Node-to-node media streams that broke (the peer vanished or refused), by kind (agent: an agent trunk; every leg on it closed)."
    );
    describe_counter!(
        "hotline_media_relay_batches_dropped_total",
        "Batches of relayed frames dropped because the peer node read too slowly, by direction (up: towards the agents' node, down: towards the calls' node)."
    );
    describe_gauge!(
        "hotline_calls_with_silent_leg",
        "Live calls on this node whose party (leg: caller, agent) has sent no audio for 2 s or more while talking: one-way or silent calls."
    );
    describe_counter!(
        "hotline_call_legs_silent_total",
        "Times a talking call's party (leg: caller, agent) went silent for 2 s or more (each call counted once per silence)."
    );
    describe_counter!(
        "hotline_sip_requests_refused_total",
        "SIP requests turned away by reason: unknown_source and rate_limited (dropped unanswered), over_capacity (503), malformed (400), unauthenticated (401), sdes_not_over_tls (488: SRTP keys offered where they were readable), srtp_required (488: a plain call while [sip] require_srtp)."
    );
    describe_counter!(
        "hotline_recording_bytes_total",
        Unit::Bytes,
        "Audio bytes written to call recordings."
    );
    describe_counter!(
        "hotline_recordings_failed_total",
        "Recordings that could not start or ended before their call (the disk refused a write, or fell 10 s behind); each is also logged as a warning, and the call goes on unrecorded."
    );
    describe_gauge!(
        "hotline_fcr_declared_ratio",
        "Contacts declared resolved at wrap-up over contacts handled, by queue, over the quality window."
    );
    describe_gauge!(
        "hotline_fcr_observed_ratio",
        "Issues with no repeat contact within the FCR window over issues, by queue, over the quality window (provisional while windows are open)."
    );
    describe_gauge!(
        "hotline_satisfaction_mean",
        "Mean caller satisfaction rating (1-5), by queue, over the quality window."
    );
    describe_gauge!(
        "hotline_quality_score_ratio",
        "Mean scorecard grade (0-1), by queue, over the quality window."
    );
}

fn outcome(o: CallOutcome) -> &'static str {
    match o {
        CallOutcome::Answered => "answered",
        CallOutcome::Abandoned => "abandoned",
        CallOutcome::Overflowed => "overflowed",
        CallOutcome::Rejected => "rejected",
        CallOutcome::Closed => "closed",
    }
}

fn disposition(d: Option<Disposition>) -> &'static str {
    match d {
        Some(Disposition::Resolved) => "resolved",
        Some(Disposition::Unresolved) => "unresolved",
        Some(Disposition::CallbackNeeded) => "callback-needed",
        None => "none",
    }
}

fn rescind(r: RescindReason) -> &'static str {
    match r {
        RescindReason::Declined => "declined",
        RescindReason::NoAnswer => "no-answer",
        RescindReason::CallerHungUp => "caller-hung-up",
        RescindReason::AgentUnavailable => "agent-unavailable",
        RescindReason::Overflowed => "overflowed",
    }
}

/// One router event at `now`. Callback work items are counted as
/// callbacks, not calls.
pub fn router_event(now: Timestamp, event: &Event) {
    match event {
        Event::CallArrived { call } if call.callback.is_none() => {
            counter!("hotline_calls_offered_total", "queue" => call.queue.to_string(), "tier" => call.tier.as_str())
                .increment(1);
        }
        // The first answer only: answered_at is set then and kept after (a
        // transferred call connects again later).
        Event::CallConnected { call, .. } if call.callback.is_none() && call.answered_at == Some(now) => {
            let wait = now.since(call.enqueued_at);
            counter!("hotline_calls_answered_total", "queue" => call.queue.to_string(), "tier" => call.tier.as_str())
                .increment(1);
            if wait <= threshold(&call.queue) {
                counter!(
                    "hotline_calls_answered_within_threshold_total",
                    "queue" => call.queue.to_string(),
                    "tier" => call.tier.as_str()
                )
                .increment(1);
            }
            histogram!("hotline_queue_wait_seconds", "queue" => call.queue.to_string())
                .record(wait.as_secs_f64());
        }
        Event::CallEnded { call } if call.callback.is_none() => {
            if let Some(o) = call.outcome {
                let waited = call.ended_at.unwrap_or(now).since(call.enqueued_at);
                // Short abandons apart, as the reports count them.
                let outcome = match o {
                    CallOutcome::Abandoned if waited < short_abandon() => "abandoned_short",
                    o => outcome(o),
                };
                counter!(
                    "hotline_calls_ended_total",
                    "queue" => call.queue.to_string(),
                    "tier" => call.tier.as_str(),
                    "outcome" => outcome
                )
                .increment(1);
            }
        }
        Event::OfferRescinded { reason, .. } => {
            counter!("hotline_offers_rescinded_total", "reason" => rescind(*reason)).increment(1);
        }
        Event::WrapUpEnded { contact, .. } => {
            let queue = contact.queue.to_string();
            let talk =
                contact.ended_at.since(contact.answered_at).as_secs_f64() - contact.hold_ms as f64 / 1000.0;
            histogram!("hotline_call_talk_seconds", "queue" => queue.clone()).record(talk.max(0.0));
            histogram!("hotline_call_handle_seconds", "queue" => queue.clone())
                .record(contact.wrap_up_ended_at.since(contact.answered_at).as_secs_f64());
            counter!("hotline_wrap_ups_total", "queue" => queue, "disposition" => disposition(contact.disposition))
                .increment(1);
        }
        _ => {}
    }
}

/// One callback event.
pub fn callback_event(event: &CallbackEvent) {
    match event {
        CallbackEvent::CallbackWarned { .. } => counter!("hotline_callbacks_warned_total").increment(1),
        CallbackEvent::CallbackBreached { .. } => counter!("hotline_callbacks_breached_total").increment(1),
        CallbackEvent::CallbackClosed { status, met, .. } => {
            let outcome = match (status, met) {
                (CallbackStatus::Cancelled, _) => "cancelled",
                (_, true) => "met",
                (_, false) => "missed",
            };
            counter!("hotline_callbacks_closed_total", "outcome" => outcome).increment(1);
        }
        CallbackEvent::RequestClosed { late, .. } => {
            counter!("hotline_requests_closed_total", "on_time" => if *late { "false" } else { "true" })
                .increment(1);
        }
        _ => {}
    }
}

/// One gRPC request reached its response headers.
pub fn grpc_request(method: &str, code: tonic::Code, seconds: f64) {
    counter!(
        "hotline_grpc_requests_total",
        "method" => method.to_string(),
        "code" => code_label(code)
    )
    .increment(1);
    histogram!("hotline_grpc_request_seconds", "method" => method.to_string()).record(seconds);
}

/// The canonical upper-case code names (as grpc-go and grpc-java label them).
fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// One store operation finished.
pub fn store_operation(backend: &'static str, op: &'static str, ok: bool, seconds: f64) {
    histogram!(
        "hotline_store_operation_seconds",
        "backend" => backend,
        "op" => op,
        "result" => if ok { "ok" } else { "error" }
    )
    .record(seconds);
}

/// A store is in use: its reconnect counter starts at zero.
pub fn store_opened(backend: &'static str) {
    counter!("hotline_store_reconnects_total", "backend" => backend).increment(0);
}

/// The store answered again after being unreachable.
pub fn store_reconnected(backend: &'static str) {
    counter!("hotline_store_reconnects_total", "backend" => backend).increment(1);
}

/// What one party's audio did since the last report (about a second).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MediaReport {
    /// `webrtc` or `rtp`.
    pub transport: &'static str,
    pub received: u64,
    pub lost: u64,
    pub late: u64,
    /// Of the lost, those rebuilt from the next packet's in-band FEC.
    pub recovered: u64,
    /// The RFC 3550 interarrival jitter now, if packets arrived.
    pub jitter_seconds: Option<f64>,
}

pub fn media(report: &MediaReport) {
    let t = report.transport;
    counter!("hotline_media_packets_received_total", "transport" => t).increment(report.received);
    counter!("hotline_media_packets_lost_total", "transport" => t).increment(report.lost);
    counter!("hotline_media_packets_late_total", "transport" => t).increment(report.late);
    counter!("hotline_media_frames_recovered_total", "transport" => t).increment(report.recovered);
    if let Some(j) = report.jitter_seconds {
        histogram!("hotline_media_jitter_seconds", "transport" => t).record(j);
    }
}

/// What the SIP trunk's guard and parser turned away.
pub fn sip_refused(s: &hotline_sip::trunk::TrunkStats) {
    for (reason, n) in [
        ("unknown_source", s.unknown_source),
        ("rate_limited", s.rate_limited),
        ("over_capacity", s.over_capacity),
        ("malformed", s.malformed),
        ("unauthenticated", s.unauthenticated),
        ("sdes_not_over_tls", s.sdes_not_over_tls),
        ("srtp_required", s.srtp_required),
    ] {
        if n > 0 {
            counter!("hotline_sip_requests_refused_total", "reason" => reason).increment(n);
        }
    }
}

/// Retention's series for `kind`, at zero until a sweep counts (the
/// sweeper lists its kinds: the labels are bounded by them).
pub fn retention_series(kind: &'static str) {
    counter!("hotline_records_pruned_total", "kind" => kind).increment(0);
    counter!("hotline_retention_failures_total", "kind" => kind).increment(0);
}

/// Retention deleted `n` records of `kind` (a `RecordKind` label or
/// `audit`).
pub fn records_pruned(kind: &'static str, n: u64) {
    counter!("hotline_records_pruned_total", "kind" => kind).increment(n);
}

/// Retention could not delete the old records of `kind` this sweep.
pub fn retention_failed(kind: &'static str) {
    counter!("hotline_retention_failures_total", "kind" => kind).increment(1);
}

/// An SRTP packet failed authentication (or replayed an old one) and was
/// dropped.
pub fn srtp_packet_rejected() {
    counter!("hotline_srtp_packets_rejected_total").increment(1);
}

/// The TLS certificate files changed and were read (`ok`) or did not read
/// (`failed`: the previous certificate still serves).
pub fn tls_reloaded(ok: bool) {
    counter!("hotline_tls_reloads_total", "result" => if ok { "ok" } else { "failed" }).increment(1);
}

/// The identity provider's keys were read (`ok`) or could not be.
pub fn oidc_keys_fetched(ok: bool) {
    counter!("hotline_oidc_key_fetches_total", "result" => if ok { "ok" } else { "failed" }).increment(1);
}

/// A poll of the revoked sign-ins failed.
pub fn revocation_read_failed() {
    counter!("hotline_revocation_reads_failed_total").increment(1);
}

/// An audit trail event could not be written.
pub fn audit_write_failed() {
    counter!("hotline_audit_writes_failed_total").increment(1);
}

/// A subject's sign-ins were revoked through this node.
pub fn sessions_revoked() {
    counter!("hotline_sessions_revoked_total").increment(1);
}

/// A recording a caller should have heard could not be read, by what it
/// was for (bounded: `keypad_menu`); a built-in prompt played instead.
pub fn prompt_unreadable(what: &'static str) {
    counter!("hotline_prompts_unreadable_total", "prompt" => what).increment(1);
}

/// Calls ended because the node holding `party`'s audio was lost.
pub fn calls_lost_with_node(party: &'static str, calls: u64) {
    counter!("hotline_calls_lost_with_node_total", "party" => party).increment(calls);
}

/// Why a party's audio could not reach a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// No leg connected anywhere.
    NoLeg,
    /// The node-to-node relay could not be set up.
    RelayFailed,
}

pub fn media_unreachable(party: &'static str, cause: Unreachable) {
    let cause = match cause {
        Unreachable::NoLeg => "no_leg",
        Unreachable::RelayFailed => "relay_failed",
    };
    counter!("hotline_media_unreachable_total", "party" => party, "cause" => cause).increment(1);
}

pub fn relay_opened(kind: &'static str) {
    counter!("hotline_media_relays_opened_total", "kind" => kind).increment(1);
}

/// Events of changes the store did not hold, never sent (held too long, or
/// the engine was fenced).
/// An offer rang without the customer's history (the store failed or was slow).
pub fn offer_history_missing() {
    counter!("hotline_offer_history_missing_total").increment(1);
}

/// A poll for catalog changes failed (the store did not answer).
pub fn catalog_refresh_failed() {
    counter!("hotline_catalog_refresh_failed_total").increment(1);
}

/// A stored catalog object did not decode.
pub fn catalog_object_unreadable() {
    counter!("hotline_catalog_objects_unreadable_total").increment(1);
}

/// The routing core refused a catalog change (it routes as before).
pub fn catalog_not_applied() {
    counter!("hotline_catalog_changes_refused_total").increment(1);
}

/// The catalog revision this node applied.
pub fn catalog_revision(revision: u64) {
    gauge!("hotline_catalog_revision").set(revision as f64);
}

/// A caller's last contact could not be read, so the call was routed
/// without first-contact ownership (its issue's owner is not preferred).
pub fn owner_lookup_failed() {
    counter!("hotline_owner_lookup_failed_total").increment(1);
}

/// An accepted callback the SIP gateway could not be asked to dial (gone,
/// or its queue full): the agent dials by hand.
pub fn callback_dial_refused() {
    counter!("hotline_callback_dials_refused_total").increment(1);
}

pub fn notes_dropped(n: u64) {
    counter!("hotline_events_withheld_dropped_total").increment(n);
}

/// A job whose client's deadline passed while it waited; not carried out.
pub fn expired_job() {
    counter!("hotline_expired_requests_total", "kind" => "command").increment(1);
}

/// An offer that had expired by the time it reached the agent's node.
pub fn expired_offer() {
    counter!("hotline_expired_requests_total", "kind" => "offer").increment(1);
}

pub fn relay_broken(kind: &'static str) {
    counter!("hotline_media_relays_broken_total", "kind" => kind).increment(1);
}

pub fn relay_batch_dropped(direction: &'static str) {
    counter!("hotline_media_relay_batches_dropped_total", "direction" => direction).increment(1);
}

/// A talking call's party went silent (`true`) or was heard again.
pub fn leg_silent(leg: &'static str, silent: bool) {
    if silent {
        counter!("hotline_call_legs_silent_total", "leg" => leg).increment(1);
        gauge!("hotline_calls_with_silent_leg", "leg" => leg).increment(1.0);
    } else {
        gauge!("hotline_calls_with_silent_leg", "leg" => leg).decrement(1.0);
    }
}

/// A finished recording went to the shared archive (or failed to).
pub fn recording_archived(stored: bool) {
    let result = if stored { "stored" } else { "failed" };
    counter!("hotline_recordings_archived_total", "result" => result).increment(1);
}

/// A recording could not start, or ended before its call.
pub fn recording_failed() {
    counter!("hotline_recordings_failed_total").increment(1);
}

/// Bytes appended to recordings.
pub fn recording_written(bytes: u64) {
    counter!("hotline_recording_bytes_total").increment(bytes);
}

/// One queue's quality figures over the quality window; a figure with
/// nothing to count is left out (absent, not zero).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueQuality {
    pub queue: String,
    pub fcr_declared: Option<f64>,
    pub fcr_observed: Option<f64>,
    pub satisfaction: Option<f64>,
    pub quality_score: Option<f64>,
}

pub fn quality(rows: &[QueueQuality]) {
    for r in rows {
        let set = |name: &'static str, v: Option<f64>| {
            if let Some(v) = v {
                gauge!(name, "queue" => r.queue.clone()).set(v);
            }
        };
        set("hotline_fcr_declared_ratio", r.fcr_declared);
        set("hotline_fcr_observed_ratio", r.fcr_observed);
        set("hotline_satisfaction_mean", r.satisfaction);
        set("hotline_quality_score_ratio", r.quality_score);
    }
}

/// How long one engine job took.
pub fn engine_job(seconds: f64) {
    histogram!("hotline_engine_job_seconds").record(seconds);
}

/// The live figures, once a second.
pub struct Snapshot<'a> {
    pub queues: &'a [QueueView],
    /// Agents by state, each once.
    pub agents: &'a [(AgentState, u32)],
    pub active_calls: usize,
    /// (pending, due now, due soon, overdue).
    pub callbacks: (u32, u32, u32, u32),
    /// Callbacks created since this routing node started.
    pub callbacks_created: u64,
}

pub fn snapshot(s: &Snapshot<'_>) {
    for q in s.queues {
        let name = q.name.to_string();
        gauge!("hotline_calls_waiting", "queue" => name.clone()).set(f64::from(q.waiting));
        gauge!("hotline_calls_ringing", "queue" => name.clone()).set(f64::from(q.offering));
        gauge!("hotline_oldest_wait_seconds", "queue" => name.clone()).set(q.oldest_wait.as_secs_f64());
        for state in AgentState::ALL {
            let n = q
                .agents_by_state
                .iter()
                .find(|(st, _)| *st == state)
                .map_or(0, |(_, n)| *n);
            gauge!("hotline_queue_agents", "queue" => name.clone(), "state" => state.as_str())
                .set(f64::from(n));
        }
    }
    for state in AgentState::ALL {
        let n = s
            .agents
            .iter()
            .find(|(st, _)| *st == state)
            .map_or(0, |(_, n)| *n);
        gauge!("hotline_agents", "state" => state.as_str()).set(f64::from(n));
    }
    gauge!("hotline_calls_active").set(s.active_calls as f64);
    let (pending, due, soon, overdue) = s.callbacks;
    gauge!("hotline_callbacks_pending").set(f64::from(pending));
    gauge!("hotline_callbacks_due").set(f64::from(due));
    gauge!("hotline_callbacks_due_soon").set(f64::from(soon));
    gauge!("hotline_callbacks_overdue").set(f64::from(overdue));
    counter!("hotline_callbacks_created_total").absolute(s.callbacks_created);
}
