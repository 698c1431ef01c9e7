//! Quality grading and post-call satisfaction (DOMAIN.md "Supervision and
//! quality"). A scorecard is a set of weighted criteria whose weights sum to
//! its total; each criterion is graded A-F (A = 5 points ... F = 0); the
//! call's score is the weighted share of the maximum, 0-100.
//!
//! Invariants: a scorecard is checked before any grade is computed with it
//! (weights positive and summing to the total, names unique), and a grade
//! covers every criterion of its scorecard exactly once.

pub mod signals;
pub mod suggest;

use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, CallId, QueueName};
use crate::time::Timestamp;

/// A grade letter: A = 5 points down to F = 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Letter {
    A,
    B,
    C,
    D,
    E,
    F,
}

impl Letter {
    pub fn points(self) -> u32 {
        match self {
            Letter::A => 5,
            Letter::B => 4,
            Letter::C => 3,
            Letter::D => 2,
            Letter::E => 1,
            Letter::F => 0,
        }
    }

    pub fn parse(s: &str) -> Result<Letter, QualityError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "A" => Ok(Letter::A),
            "B" => Ok(Letter::B),
            "C" => Ok(Letter::C),
            "D" => Ok(Letter::D),
            "E" => Ok(Letter::E),
            "F" => Ok(Letter::F),
            _ => Err(QualityError::BadLetter(s.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Letter::A => "A",
            Letter::B => "B",
            Letter::C => "C",
            Letter::D => "D",
            Letter::E => "E",
            Letter::F => "F",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    pub name: String,
    pub weight: u32,
}

/// Weighted criteria; the weights sum to `total`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scorecard {
    pub name: String,
    pub total: u32,
    pub criteria: Vec<Criterion>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualityError {
    #[error("grade {0:?} is not one of A, B, C, D, E, F")]
    BadLetter(String),
    #[error("scorecard {name}: the weights sum to {sum}, not to its total {total}")]
    WeightsDoNotSum { name: String, sum: u64, total: u32 },
    #[error("scorecard {name}: {reason}")]
    BadScorecard { name: String, reason: String },
    #[error("criterion {0:?} is not on the scorecard")]
    UnknownCriterion(String),
    #[error("criterion {0:?} is graded twice")]
    GradedTwice(String),
    #[error("criterion {0:?} is not graded")]
    NotGraded(String),
    #[error("satisfaction {0} is outside 1-5")]
    BadSatisfaction(i64),
}

impl Scorecard {
    /// The manuals' default (DOMAIN.md): etiquette and skills, total 100.
    pub fn default_call_quality() -> Scorecard {
        let c = |name: &str, weight| Criterion {
            name: name.into(),
            weight,
        };
        Scorecard {
            name: "call-quality".into(),
            total: 100,
            criteria: vec![
                c("greeting", 10),
                c("confirms-customer-details", 10),
                c("polite-language", 10),
                c("hold-apology", 5),
                c("understands-request", 15),
                c("clear-expression", 10),
                c("complaint-handling", 10),
                c("product-knowledge", 10),
                c("first-contact-resolution", 15),
                c("efficiency", 5),
            ],
        }
    }

    pub fn check(&self) -> Result<(), QualityError> {
        let bad = |reason: &str| QualityError::BadScorecard {
            name: self.name.clone(),
            reason: reason.into(),
        };
        if self.name.trim().is_empty() {
            return Err(bad("the name is empty"));
        }
        if self.criteria.is_empty() {
            return Err(bad("it has no criteria"));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.criteria {
            if c.name.trim().is_empty() {
                return Err(bad("a criterion has no name"));
            }
            if c.weight == 0 {
                return Err(bad(&format!("criterion {:?} has weight 0", c.name)));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(bad(&format!("criterion {:?} appears twice", c.name)));
            }
        }
        let sum: u64 = self.criteria.iter().map(|c| u64::from(c.weight)).sum();
        if sum != u64::from(self.total) {
            return Err(QualityError::WeightsDoNotSum {
                name: self.name.clone(),
                sum,
                total: self.total,
            });
        }
        Ok(())
    }

    /// The weighted score 0-100 of `grades`, which must grade every
    /// criterion exactly once.
    pub fn score(&self, grades: &[(String, Letter)]) -> Result<f64, QualityError> {
        self.check()?;
        let mut got: std::collections::HashMap<&str, Letter> = std::collections::HashMap::new();
        for (name, letter) in grades {
            if !self.criteria.iter().any(|c| &c.name == name) {
                return Err(QualityError::UnknownCriterion(name.clone()));
            }
            if got.insert(name.as_str(), *letter).is_some() {
                return Err(QualityError::GradedTwice(name.clone()));
            }
        }
        let mut points = 0u64;
        for c in &self.criteria {
            let letter = got
                .get(c.name.as_str())
                .ok_or_else(|| QualityError::NotGraded(c.name.clone()))?;
            points += u64::from(c.weight) * u64::from(letter.points());
        }
        Ok(points as f64 * 100.0 / (f64::from(self.total) * 5.0))
    }
}

/// A supervisor's grading of one recorded call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradeRecord {
    pub id: String,
    pub call: CallId,
    pub agent: AgentId,
    pub queue: QueueName,
    pub supervisor: String,
    pub graded_at: Timestamp,
    pub scorecard: Scorecard,
    pub grades: Vec<(String, Letter)>,
    /// Weighted score 0-100.
    pub score: f64,
    pub comments: String,
}

/// A customer's post-call rating.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyRecord {
    pub call: CallId,
    pub agent: Option<AgentId>,
    pub queue: QueueName,
    /// 1 (very unhappy) to 5 (very happy).
    pub satisfaction: u8,
    pub at: Timestamp,
}

/// Checks a 1-5 rating.
pub fn satisfaction(value: i64) -> Result<u8, QualityError> {
    u8::try_from(value)
        .ok()
        .filter(|v| (1..=5).contains(v))
        .ok_or(QualityError::BadSatisfaction(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_score_is_the_weighted_share_of_all_a() {
        let card = Scorecard {
            name: "t".into(),
            total: 10,
            criteria: vec![
                Criterion {
                    name: "a".into(),
                    weight: 6,
                },
                Criterion {
                    name: "b".into(),
                    weight: 4,
                },
            ],
        };
        let all_a = [("a".to_string(), Letter::A), ("b".to_string(), Letter::A)];
        assert_eq!(card.score(&all_a).unwrap(), 100.0);
        // 6 x 3 + 4 x 0 = 18 of 50 points.
        let mixed = [("a".to_string(), Letter::C), ("b".to_string(), Letter::F)];
        assert_eq!(card.score(&mixed).unwrap(), 36.0);
        assert_eq!(
            card.score(&[("a".to_string(), Letter::A)]),
            Err(QualityError::NotGraded("b".into()))
        );
    }

    #[test]
    fn weights_must_sum_to_the_total() {
        let mut card = Scorecard::default_call_quality();
        assert_eq!(card.check(), Ok(()));
        card.total = 90;
        assert!(matches!(
            card.check(),
            Err(QualityError::WeightsDoNotSum { sum: 100, .. })
        ));
    }

    #[test]
    fn only_a_to_f_and_one_to_five() {
        assert_eq!(Letter::parse("b"), Ok(Letter::B));
        assert!(Letter::parse("G").is_err());
        assert!(Letter::parse("A+").is_err());
        assert_eq!(satisfaction(5), Ok(5));
        assert!(satisfaction(0).is_err());
        assert!(satisfaction(6).is_err());
    }
}
