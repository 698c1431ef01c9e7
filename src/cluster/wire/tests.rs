use std::time::Duration;

use super::*;
use crate::acd::{
    AgentRecord, AgentState, CallOutcome, CallRecord, CallStatus, CallbackWork, Disposition, IncomingCall,
    PassedOver, QueueCounters, QueuePosition, QueueView, Requirement, RoutingDecision, SkillLevel, Tier,
};
use crate::callback::{
    Attempt, AttemptOutcome, CallbackCounters, CallbackDetails, CallbackOrigin, CallbackRecord,
    CallbackStatus,
};
use crate::engine::callbacks::{AlertKind, CallbackAlert, CallbackBoard};
use crate::ids::{CustomerId, SkillName};
use crate::time::Timestamp;

fn skills() -> Vec<SkillLevel> {
    vec![SkillLevel {
        skill: SkillName::new("billing"),
        proficiency: 7,
    }]
}

fn reqs() -> Vec<Requirement> {
    vec![
        Requirement {
            skill: SkillName::new("billing"),
            min_proficiency: 5,
            optional: false,
        },
        Requirement {
            skill: SkillName::new("german"),
            min_proficiency: 3,
            optional: true,
        },
    ]
}

fn details() -> CallbackDetails {
    CallbackDetails {
        number: "+4930123".into(),
        customer: Some(CustomerId::new("c-1")),
        customer_key: "c-1".into(),
        tier: Some(Tier::Potential),
        queue: Some(QueueName::new("billing")),
        category: Some("refund".into()),
        notes: None,
        owner: Some(AgentId::new("alice")),
        origin: CallbackOrigin::WrapUp,
        source_call: Some(CallId::new("call-1")),
    }
}

fn callback() -> CallbackRecord {
    CallbackRecord {
        id: CallbackId::new("cb-1"),
        created_at: Timestamp(1_000),
        not_before: Timestamp(2_000),
        deadline: Timestamp(14_402_000),
        status: CallbackStatus::Reached,
        attempts: vec![
            Attempt {
                at: Timestamp(3_000),
                outcome: AttemptOutcome::NoAnswer,
                agent: None,
            },
            Attempt {
                at: Timestamp(9_000),
                outcome: AttemptOutcome::Reached,
                agent: Some(AgentId::new("bob")),
            },
        ],
        max_attempts: 3,
        next_attempt_at: Timestamp(9_000),
        warned: true,
        breached: false,
        met: Some(true),
        details: details(),
        work_done_at: Some(Timestamp(10_000)),
        request_closed_at: None,
        close_warned: false,
        close_breached: false,
        updated_at: Timestamp(10_000),
    }
}

fn call() -> CallRecord {
    CallRecord {
        id: CallId::new("call-1"),
        ani: "+4930123".into(),
        dnis: "100".into(),
        customer: Some(CustomerId::new("c-1")),
        tier: Tier::KeyAccount,
        queue: QueueName::new("billing"),
        requirements: reqs(),
        priority_ms: -30_000,
        status: CallStatus::Ended,
        agent: Some(AgentId::new("alice")),
        enqueued_at: Timestamp(1_000),
        answered_at: Some(Timestamp(5_000)),
        ended_at: Some(Timestamp(65_000)),
        outcome: Some(CallOutcome::Answered),
        end_reason: Some("node lost: b held the agent's audio".into()),
        on_hold: true,
        preferred_agent: None,
        relaxation_step: 2,
        original_position: 4,
        hold_ms: 1_500,
        decisions: vec![RoutingDecision {
            at: Timestamp(4_000),
            agent: AgentId::new("alice"),
            trigger: "agent-available".into(),
            strategy: "longest-idle".into(),
            score: -12,
            relaxation_step: 1,
            requirements: reqs(),
            candidates_considered: 3,
            passed_over: vec![PassedOver {
                agent: AgentId::new("bob"),
                reason: "skill".into(),
            }],
        }],
        node: Some("node-a".into()),
        callback: Some(CallbackWork {
            id: CallbackId::new("cb-1"),
            deadline: Timestamp(14_402_000),
        }),
    }
}

fn agent() -> AgentRecord {
    let mut a = AgentRecord::logged_out(AgentId::new("alice"), "Alice".into(), Timestamp(7), "signed in");
    a.skills = skills();
    a.state = AgentState::NotReady;
    a.not_ready_reason = Some("lunch".into());
    a.current_call = Some(CallId::new("call-1"));
    a.calls_handled = 12;
    a.consecutive_misses = 1;
    a.pending_not_ready = Some("training".into());
    a
}

fn commands() -> Vec<Command> {
    let (alice, c1) = (AgentId::new("alice"), CallId::new("call-1"));
    let cb = CallbackId::new("cb-1");
    vec![
        Command::Login(AgentLogin {
            id: alice.clone(),
            display_name: "Alice".into(),
            skills: skills(),
            start_available: true,
        }),
        Command::Logout {
            agent: alice.clone(),
            forced_by: Some("sup".into()),
        },
        Command::Logout {
            agent: alice.clone(),
            forced_by: None,
        },
        Command::SetAvailable {
            agent: alice.clone(),
            why: "back".into(),
        },
        Command::SetNotReady {
            agent: alice.clone(),
            reason: "lunch".into(),
            why: "asked".into(),
        },
        Command::Accept {
            agent: alice.clone(),
            call: c1.clone(),
        },
        Command::Decline {
            agent: alice.clone(),
            call: c1.clone(),
        },
        Command::Hangup {
            agent: alice.clone(),
            call: c1.clone(),
        },
        Command::Hold {
            agent: alice.clone(),
            call: c1.clone(),
            hold: true,
        },
        Command::Transfer {
            agent: alice.clone(),
            call: c1.clone(),
            target: TransferTarget::Queue(QueueName::new("sales")),
        },
        Command::Transfer {
            agent: alice.clone(),
            call: c1.clone(),
            target: TransferTarget::Agent(AgentId::new("bob")),
        },
        Command::CompleteWrapUp {
            agent: alice.clone(),
            call: c1.clone(),
            disposition: Some(Disposition::CallbackNeeded),
            category: Some("refund".into()),
            notes: None,
        },
        Command::CompleteWrapUp {
            agent: alice.clone(),
            call: c1.clone(),
            disposition: None,
            category: None,
            notes: Some("n".into()),
        },
        Command::StartCall(IncomingCall {
            id: c1.clone(),
            ani: "+4930123".into(),
            dnis: "100".into(),
            customer: Some(CustomerId::new("c-1")),
            tier: Tier::OneOff,
            queue: QueueName::new("billing"),
            extra_requirements: reqs(),
            preferred_agent: Some(alice.clone()),
            node: Some("node-a".into()),
            callback: None,
        }),
        Command::EndCall { call: c1.clone() },
        Command::MediaLost {
            call: c1.clone(),
            why: "node lost".into(),
        },
        Command::AgentAudioFailed {
            agent: alice.clone(),
            call: c1.clone(),
            reason: "relay".into(),
        },
        Command::NodesAlive {
            nodes: vec!["a".into(), "b".into()],
        },
        Command::GetAgent { agent: alice.clone() },
        Command::QueueViews,
        Command::HasQueue {
            queue: QueueName::new("billing"),
        },
        Command::QueuePosition { call: c1.clone() },
        Command::CreateCallback(Box::new(NewCallback {
            id: cb.clone(),
            details: details(),
            not_before: Some(Timestamp(5)),
            deadline: None,
            max_attempts: Some(4),
        })),
        Command::RequestCallback {
            call: c1.clone(),
            id: cb.clone(),
            number: Some("+4930999".into()),
        },
        Command::RescheduleCallback {
            id: cb.clone(),
            not_before: Timestamp(77),
            deadline: Some(Timestamp(99)),
        },
        Command::CancelCallback { id: cb.clone() },
        Command::RecordAttempt {
            agent: alice,
            id: cb.clone(),
            outcome: AttemptOutcome::WrongNumber,
        },
        Command::MarkWorkDone {
            id: cb.clone(),
            stored: Some(Box::new(callback())),
        },
        Command::MarkWorkDone {
            id: cb.clone(),
            stored: None,
        },
        Command::CloseRequest { id: cb },
        Command::CallbackBoard { after: 42 },
    ]
}

fn replies() -> Vec<Reply> {
    vec![
        Reply::Agent(Some(agent())),
        Reply::Agent(None),
        Reply::Call {
            id: CallId::new("call-1"),
            live: Some(call()),
        },
        Reply::Call {
            id: CallId::new("call-2"),
            live: None,
        },
        Reply::Queues {
            at: Timestamp(9),
            queues: vec![QueueView {
                name: QueueName::new("billing"),
                waiting: 3,
                offering: 1,
                oldest_wait: Duration::from_millis(12_345),
                agents_by_state: vec![(AgentState::Available, 2), (AgentState::WrapUp, 1)],
                counters: QueueCounters {
                    offered: 10,
                    answered: 8,
                    answered_within_threshold: 7,
                    abandoned: 1,
                    short_abandons: 2,
                    overflowed: 1,
                    rejected: 0,
                    closed: 4,
                    handled: 6,
                    handle_ms: 600_000,
                },
                service_level_threshold_secs: 20,
            }],
        },
        Reply::Bool(true),
        Reply::Bool(false),
        Reply::Position(Some(QueuePosition {
            position: 2,
            estimated_wait: Some(Duration::from_secs(90)),
        })),
        Reply::Position(Some(QueuePosition {
            position: 1,
            estimated_wait: None,
        })),
        Reply::Position(None),
        Reply::Callback(Box::new(callback())),
        Reply::Board(Box::new(CallbackBoard {
            at: Timestamp(5),
            pending: 4,
            due_now: 1,
            due_soon: 2,
            overdue: 1,
            counters: CallbackCounters {
                created: 9,
                met: 5,
                missed: 1,
                warned: 2,
                breached: 1,
                closed_on_time: 4,
                closed_late: 1,
            },
            alerts: vec![CallbackAlert {
                seq: 3,
                callback: CallbackId::new("cb-1"),
                kind: AlertKind::CloseLate,
                at: Timestamp(4),
                deadline: Timestamp(3),
                queue: None,
            }],
        })),
    ]
}

/// Through the wire as bytes, as a peer would read them.
fn through_bytes<M: prost::Message + Default>(m: M) -> M {
    M::decode(m.encode_to_vec().as_slice()).expect("decodes")
}

#[test]
fn every_command_crosses_the_wire_unchanged() {
    let all = commands();
    // One case per command kind at least.
    let kinds: std::collections::HashSet<&str> = all.iter().map(|c| c.name()).collect();
    assert_eq!(kinds.len(), 27);
    for cmd in all {
        let back = command_from_wire(through_bytes(command_to_wire(&cmd))).expect("reads");
        assert_eq!(back, cmd);
    }
}

#[test]
fn every_reply_crosses_the_wire_unchanged() {
    for reply in replies() {
        let back = reply_from_wire(through_bytes(reply_to_wire(&reply))).expect("reads");
        assert_eq!(back, reply);
    }
}

#[test]
fn a_message_this_node_cannot_read_is_refused_naming_the_field() {
    assert_eq!(
        command_from_wire(pb::Command { command: None }),
        Err(WireError {
            field: "command",
            reason: "is missing"
        })
    );
    let mut wire = command_to_wire(&Command::RecordAttempt {
        agent: AgentId::new("a"),
        id: CallbackId::new("cb"),
        outcome: AttemptOutcome::Busy,
    });
    if let Some(C::RecordAttempt(r)) = wire.command.as_mut() {
        r.outcome = 99;
    }
    assert_eq!(command_from_wire(wire).map_err(|e| e.field), Err("outcome"));
    let mut wire = command_to_wire(&Command::Login(AgentLogin {
        id: AgentId::new("a"),
        display_name: String::new(),
        skills: skills(),
        start_available: false,
    }));
    if let Some(C::Login(l)) = wire.command.as_mut() {
        l.skills[0].proficiency = 300;
    }
    assert_eq!(command_from_wire(wire).map_err(|e| e.field), Err("proficiency"));
    let err = Error::from(WireError {
        field: "tier",
        reason: "has a value this node does not know",
    });
    assert!(err.to_string().contains("tier"), "{err}");
}

#[test]
fn every_agent_event_and_call_record_crosses_the_wire_unchanged() {
    use crate::acd::{ContactRecord, RescindReason};
    use hotline_core::agent_event::{AgentEvent, AgentEventKind as K};
    let contact = ContactRecord {
        call: CallId::new("c0"),
        customer_key: "cust-1".into(),
        agent: AgentId::new("a1"),
        queue: QueueName::new("billing"),
        tier: Tier::KeyAccount,
        disposition: Some(Disposition::Unresolved),
        category: Some("refund".into()),
        notes: None,
        enqueued_at: Timestamp(1),
        answered_at: Timestamp(2),
        ended_at: Timestamp(3),
        wrap_up_ended_at: Timestamp(4),
        hold_ms: 5,
        callback: Some(CallbackId::new("cb-1")),
    };
    let kinds = vec![
        K::StateChanged(agent()),
        K::CallOffered {
            call: call(),
            expires_at: Timestamp(9_000),
            previous_contacts: vec![
                contact.clone(),
                ContactRecord {
                    disposition: None,
                    ..contact
                },
            ],
        },
        K::OfferRescinded {
            call: CallId::new("c1"),
            reason: RescindReason::CallerHungUp,
        },
        K::CallConnected(call()),
        K::CallEnded(call()),
        K::WrapUpStarted {
            call: CallId::new("c1"),
            deadline: Timestamp(10_000),
        },
        K::WrapUpEnded {
            call: CallId::new("c1"),
            disposition: None,
        },
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        let event = AgentEvent {
            sequence: i as u64 + 1,
            at: Timestamp(1_000 + i as u64),
            kind,
        };
        let back = agent_event_from_wire(through_bytes(agent_event_to_wire(&event))).expect("reads");
        assert_eq!(back, event);
    }
    let record = call();
    assert_eq!(call_from_wire(through_bytes(call_to_wire(&record))), Ok(record));
    let unknown = pb::AgentEvent {
        sequence: 1,
        at: 1,
        kind: Some(pb::agent_event::Kind::OfferRescinded(pb::OfferWithdrawn {
            call: "c1".into(),
            reason: 99,
        })),
    };
    assert_eq!(
        agent_event_from_wire(unknown),
        Err(WireError {
            field: "offer_rescinded.reason",
            reason: "has a value this node does not know",
        })
    );
}
