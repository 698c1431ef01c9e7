//! Suggested grades from a recording's signals, for the scorecard's
//! criteria the signals speak to. The grader hears the call and confirms
//! or changes each: a suggestion is a starting point, never a grade.
//!
//! Rules (criteria matched by name; a scorecard without one gets no
//! suggestion for it):
//! - `hold-apology` (etiquette: a hold over 6 s needs an apology): no such
//!   hold, A; each followed by the agent speaking within 3 s, B (listen for
//!   the apology where it was flagged); one with no word soon after, D;
//!   two or more, F;
//! - `efficiency`: the longest silence outside holds, up to 10 s A, 20 s
//!   B, 40 s C, longer D;
//! - `polite-language` (etiquette: not talking over the customer): both
//!   talking at once under 5% of the talk A, under 10% B, under 20% C,
//!   more D.

use super::signals::{HoldFlag, QualitySignals};
use super::{Letter, Scorecard};

/// One criterion's suggested grade and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    pub criterion: String,
    pub grade: Letter,
    pub reason: String,
}

/// `m:ss` of a recording offset.
fn at(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn hold_apology(s: &QualitySignals) -> (Letter, String) {
    let check: Vec<String> = s
        .holds
        .iter()
        .filter(|h| h.flag == HoldFlag::ApologyToCheck)
        .map(|h| at(h.end_ms))
        .collect();
    let none: Vec<String> = s
        .holds
        .iter()
        .filter(|h| h.flag == HoldFlag::NoApology)
        .map(|h| at(h.end_ms))
        .collect();
    match (none.len(), check.len()) {
        (0, 0) => (Letter::A, "no hold over 6 s".into()),
        (0, n) => (
            Letter::B,
            format!(
                "{n} hold(s) over 6 s, the agent spoke soon after: listen for the apology at {}",
                check.join(", ")
            ),
        ),
        (n, _) => (
            if n == 1 { Letter::D } else { Letter::F },
            format!(
                "{n} hold(s) over 6 s with no word within 3 s of resuming (at {})",
                none.join(", ")
            ),
        ),
    }
}

fn efficiency(s: &QualitySignals) -> (Letter, String) {
    let grade = match s.longest_silence_ms {
        0..=10_000 => Letter::A,
        10_001..=20_000 => Letter::B,
        20_001..=40_000 => Letter::C,
        _ => Letter::D,
    };
    let reason = if s.longest_silence_ms == 0 {
        "no silence outside holds".into()
    } else {
        format!(
            "longest silence outside holds {} at {}",
            secs(s.longest_silence_ms),
            at(s.longest_silence_at_ms)
        )
    };
    (grade, reason)
}

fn polite_language(s: &QualitySignals) -> (Letter, String) {
    let talk = s.caller_talk_ms + s.agent_talk_ms;
    let share = if talk == 0 {
        0.0
    } else {
        s.overtalk_ms as f64 / talk as f64
    };
    let grade = match share {
        x if x < 0.05 => Letter::A,
        x if x < 0.10 => Letter::B,
        x if x < 0.20 => Letter::C,
        _ => Letter::D,
    };
    (
        grade,
        format!(
            "both talked at once for {} ({:.0}% of the talk)",
            secs(s.overtalk_ms),
            share * 100.0
        ),
    )
}

/// The suggestions for `card`'s criteria that `signals` speak to, in the
/// scorecard's order.
pub fn suggest(card: &Scorecard, signals: &QualitySignals) -> Vec<Suggestion> {
    card.criteria
        .iter()
        .filter_map(|c| {
            let (grade, reason) = match c.name.as_str() {
                "hold-apology" => hold_apology(signals),
                "efficiency" => efficiency(signals),
                "polite-language" => polite_language(signals),
                _ => return None,
            };
            Some(Suggestion {
                criterion: c.name.clone(),
                grade,
                reason,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::signals::HoldSignal;
    use super::*;

    fn hold(end_ms: u64, flag: HoldFlag) -> HoldSignal {
        HoldSignal {
            start_ms: end_ms - 8_000,
            end_ms,
            agent_spoke_after_ms: None,
            flag,
        }
    }

    fn grades(s: &QualitySignals) -> Vec<(String, Letter)> {
        suggest(&Scorecard::default_call_quality(), s)
            .into_iter()
            .map(|x| (x.criterion, x.grade))
            .collect()
    }

    #[test]
    fn a_clean_call_suggests_a_for_what_the_signals_speak_to_and_nothing_else() {
        let s = QualitySignals {
            caller_talk_ms: 60_000,
            agent_talk_ms: 60_000,
            overtalk_ms: 1_000,
            longest_silence_ms: 4_000,
            ..Default::default()
        };
        let g = grades(&s);
        assert_eq!(
            g,
            vec![
                ("polite-language".to_string(), Letter::A),
                ("hold-apology".to_string(), Letter::A),
                ("efficiency".to_string(), Letter::A),
            ]
        );
    }

    #[test]
    fn long_holds_silences_and_overtalk_lower_the_suggestions() {
        let s = QualitySignals {
            caller_talk_ms: 50_000,
            agent_talk_ms: 50_000,
            overtalk_ms: 15_000,
            longest_silence_ms: 25_000,
            longest_silence_at_ms: 83_000,
            holds: vec![hold(30_000, HoldFlag::ApologyToCheck)],
            ..Default::default()
        };
        let all = suggest(&Scorecard::default_call_quality(), &s);
        let of = |name: &str| all.iter().find(|x| x.criterion == name).cloned();
        let apology = of("hold-apology").unwrap_or_else(|| panic!("hold-apology"));
        assert_eq!(apology.grade, Letter::B);
        assert!(
            apology.reason.contains("listen for the apology at 0:30"),
            "{}",
            apology.reason
        );
        let efficiency = of("efficiency").unwrap_or_else(|| panic!("efficiency"));
        assert_eq!(efficiency.grade, Letter::C);
        assert!(
            efficiency.reason.contains("25.0 s at 1:23"),
            "{}",
            efficiency.reason
        );
        assert_eq!(of("polite-language").map(|x| x.grade), Some(Letter::C));
        let worse = QualitySignals {
            holds: vec![
                hold(30_000, HoldFlag::NoApology),
                hold(60_000, HoldFlag::NoApology),
            ],
            ..s
        };
        assert!(grades(&worse).contains(&("hold-apology".to_string(), Letter::F)));
    }
}
