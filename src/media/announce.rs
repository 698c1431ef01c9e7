//! What a waiting caller is told now and then between the hold music: their
//! place in the queue and, once the queue has handled calls today, the
//! estimated wait ("You are caller number three. Your estimated wait is
//! about two minutes."). Phrases are prompts built into the binary
//! (`deploy/prompts/announce/`, spoken by espeak-ng), joined per call.

use std::time::Duration;

use super::prompt::Prompt;
use super::{MediaError, Rate};
use crate::acd::QueuePosition;

/// Positions and whole minutes spoken exactly; beyond, "many" / "more than ten".
const MAX_SPOKEN: usize = 10;

pub struct Announcer {
    caller_number: Prompt,
    many_ahead: Prompt,
    wait_about: Prompt,
    /// "one." .. "ten." (index 0 = one).
    positions: Vec<Prompt>,
    /// "less than one minute." .. "ten minutes." (index = minutes).
    minutes: Vec<Prompt>,
    more_than_ten_minutes: Prompt,
}

macro_rules! builtin {
    ($name:literal, $rate:expr) => {
        Prompt::decode(
            concat!("builtin announcement ", $name),
            std::io::Cursor::new(include_bytes!(concat!(
                "../../deploy/prompts/announce/",
                $name,
                ".wav"
            ))),
            $rate,
        )
    };
}

impl Announcer {
    /// The built-in English phrases.
    pub fn builtin(rate: Rate) -> Result<Announcer, MediaError> {
        Ok(Announcer {
            caller_number: builtin!("caller-number", rate)?,
            many_ahead: builtin!("many-ahead", rate)?,
            wait_about: builtin!("wait-about", rate)?,
            positions: vec![
                builtin!("pos-1", rate)?,
                builtin!("pos-2", rate)?,
                builtin!("pos-3", rate)?,
                builtin!("pos-4", rate)?,
                builtin!("pos-5", rate)?,
                builtin!("pos-6", rate)?,
                builtin!("pos-7", rate)?,
                builtin!("pos-8", rate)?,
                builtin!("pos-9", rate)?,
                builtin!("pos-10", rate)?,
            ],
            minutes: vec![
                builtin!("wait-0", rate)?,
                builtin!("wait-1", rate)?,
                builtin!("wait-2", rate)?,
                builtin!("wait-3", rate)?,
                builtin!("wait-4", rate)?,
                builtin!("wait-5", rate)?,
                builtin!("wait-6", rate)?,
                builtin!("wait-7", rate)?,
                builtin!("wait-8", rate)?,
                builtin!("wait-9", rate)?,
                builtin!("wait-10", rate)?,
            ],
            more_than_ten_minutes: builtin!("wait-more", rate)?,
        })
    }

    /// The announcement for a caller at `at`.
    pub fn announcement(&self, at: &QueuePosition) -> Option<Prompt> {
        let mut parts: Vec<&Prompt> = Vec::new();
        match self.positions.get((at.position as usize).wrapping_sub(1)) {
            Some(n) if at.position as usize <= MAX_SPOKEN => {
                parts.push(&self.caller_number);
                parts.push(n);
            }
            _ => parts.push(&self.many_ahead),
        }
        if let Some(wait) = at.estimated_wait {
            parts.push(&self.wait_about);
            parts.push(self.minutes_phrase(wait));
        }
        Prompt::concat(&parts)
    }

    fn minutes_phrase(&self, wait: Duration) -> &Prompt {
        // Rounded to the nearest minute; under half a minute is "less than one".
        let minutes = ((wait.as_secs() + 30) / 60) as usize;
        self.minutes.get(minutes).unwrap_or(&self.more_than_ten_minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(p: &Prompt) -> f64 {
        p.len() as f64 / 8000.0
    }

    #[test]
    fn announcements_say_position_then_wait_only_when_known() {
        let a = Announcer::builtin(Rate::Narrowband).unwrap();
        let pos_only = a
            .announcement(&QueuePosition {
                position: 3,
                estimated_wait: None,
            })
            .unwrap();
        assert!((secs(&pos_only) - secs(&a.caller_number) - secs(&a.positions[2])).abs() < 0.001);
        let with_wait = a
            .announcement(&QueuePosition {
                position: 3,
                estimated_wait: Some(Duration::from_secs(130)),
            })
            .unwrap();
        let expected = secs(&pos_only) + secs(&a.wait_about) + secs(&a.minutes[2]);
        assert!(
            (secs(&with_wait) - expected).abs() < 0.001,
            "two minutes, rounded"
        );
        let many = a
            .announcement(&QueuePosition {
                position: 42,
                estimated_wait: Some(Duration::from_secs(3600)),
            })
            .unwrap();
        let expected = secs(&a.many_ahead) + secs(&a.wait_about) + secs(&a.more_than_ten_minutes);
        assert!((secs(&many) - expected).abs() < 0.001);
    }
}
