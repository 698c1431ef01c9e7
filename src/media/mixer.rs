//! Who hears what in one call, for one 20 ms tick: a pure function of the
//! call's phase and the frames each party said. Sans-IO, so the rules are
//! tested without sockets or clocks.
//!
//! Rules: while the caller waits (queued, ringing) or is on hold, they hear
//! the hold audio and the agent hears nothing from them; while talking,
//! caller and agent hear each other. A listening supervisor is heard by
//! nobody; a whispering one by the agent only; a barging one by both. Every
//! supervisor hears caller and agent (and other speaking supervisors). The
//! recording holds the caller left and the agent right, whatever the phase.

use super::record::MonitorMode;

/// Where the call is, as far as audio goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Queued or ringing an agent: hold audio for the caller.
    Waiting,
    /// Caller and agent talk.
    Talking,
    /// The agent put the caller on hold.
    Held,
}

/// What each party said during one tick.
pub struct TickInput<'a> {
    pub caller: &'a [i16],
    /// None when no agent leg is bridged.
    pub agent: Option<&'a [i16]>,
    /// Each supervisor's mode and what they said.
    pub supervisors: &'a [(MonitorMode, &'a [i16])],
    /// The next frame of hold audio.
    pub hold: &'a [i16],
}

/// What each party hears during one tick.
#[derive(Debug, PartialEq)]
pub struct TickOutput {
    pub to_caller: Vec<i16>,
    pub to_agent: Vec<i16>,
    /// One per supervisor, in input order.
    pub to_supervisors: Vec<Vec<i16>>,
    /// (left = caller, right = agent) for the recording and listeners.
    pub recorded: (Vec<i16>, Vec<i16>),
}

fn add(into: &mut [i16], from: &[i16]) {
    for (a, &b) in into.iter_mut().zip(from) {
        *a = a.saturating_add(b);
    }
}

/// Mixes one tick of `frame_len` samples.
pub fn mix(phase: Phase, frame_len: usize, input: &TickInput<'_>) -> TickOutput {
    let silence = vec![0i16; frame_len];
    let caller = input.caller;
    let agent = input.agent.unwrap_or(&silence);
    let mut to_caller = silence.clone();
    let mut to_agent = silence.clone();
    match phase {
        Phase::Waiting | Phase::Held => add(&mut to_caller, input.hold),
        Phase::Talking => {
            add(&mut to_caller, agent);
            add(&mut to_agent, caller);
        }
    }
    for (mode, said) in input.supervisors {
        match mode {
            MonitorMode::Listen => {}
            MonitorMode::Whisper => add(&mut to_agent, said),
            MonitorMode::Barge => {
                add(&mut to_agent, said);
                if phase == Phase::Talking {
                    add(&mut to_caller, said);
                }
            }
        }
    }
    let to_supervisors = (0..input.supervisors.len())
        .map(|me| {
            let mut heard = silence.clone();
            add(&mut heard, caller);
            add(&mut heard, agent);
            for (other, (mode, said)) in input.supervisors.iter().enumerate() {
                if other != me && mode.speaks() {
                    add(&mut heard, said);
                }
            }
            heard
        })
        .collect();
    let mut left = silence.clone();
    add(&mut left, caller);
    let mut right = silence.clone();
    add(&mut right, agent);
    TickOutput {
        to_caller,
        to_agent,
        to_supervisors,
        recorded: (left, right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 4;

    fn run(phase: Phase, sups: &[(MonitorMode, &[i16])]) -> TickOutput {
        mix(
            phase,
            N,
            &TickInput {
                caller: &[1; N],
                agent: Some(&[10; N]),
                supervisors: sups,
                hold: &[100; N],
            },
        )
    }

    #[test]
    fn talking_parties_hear_each_other_and_are_recorded_left_and_right() {
        let out = run(Phase::Talking, &[]);
        assert_eq!(out.to_caller, [10; N]);
        assert_eq!(out.to_agent, [1; N]);
        assert_eq!(out.recorded, (vec![1; N], vec![10; N]));
    }

    #[test]
    fn a_waiting_or_held_caller_hears_hold_audio_and_the_agent_hears_nothing() {
        for phase in [Phase::Waiting, Phase::Held] {
            let out = run(phase, &[]);
            assert_eq!(out.to_caller, [100; N]);
            assert_eq!(out.to_agent, [0; N]);
            assert_eq!(out.recorded, (vec![1; N], vec![10; N]), "recording continues");
        }
    }

    #[test]
    fn whisper_reaches_the_agent_only_barge_reaches_both_listen_nobody() {
        let said: &[i16] = &[1000; N];
        let out = run(Phase::Talking, &[(MonitorMode::Whisper, said)]);
        assert_eq!((out.to_agent[0], out.to_caller[0]), (1001, 10));
        let out = run(Phase::Talking, &[(MonitorMode::Barge, said)]);
        assert_eq!((out.to_agent[0], out.to_caller[0]), (1001, 1010));
        let out = run(Phase::Talking, &[(MonitorMode::Listen, said)]);
        assert_eq!((out.to_agent[0], out.to_caller[0]), (1, 10));
        assert_eq!(
            out.to_supervisors,
            vec![vec![11; N]],
            "a listener hears both parties"
        );
    }

    #[test]
    fn supervisors_hear_each_other_only_when_they_speak() {
        let out = run(
            Phase::Talking,
            &[
                (MonitorMode::Listen, &[1000; N]),
                (MonitorMode::Whisper, &[2000; N]),
            ],
        );
        assert_eq!(out.to_supervisors[0][0], 2011);
        assert_eq!(out.to_supervisors[1][0], 11);
    }

    #[test]
    fn loud_sums_saturate_instead_of_wrapping() {
        let out = mix(
            Phase::Talking,
            1,
            &TickInput {
                caller: &[i16::MAX],
                agent: Some(&[0]),
                supervisors: &[(MonitorMode::Whisper, &[i16::MAX])],
                hold: &[0],
            },
        );
        assert_eq!(out.to_agent, [i16::MAX]);
    }
}
