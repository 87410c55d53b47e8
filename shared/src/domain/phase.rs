//! The phases and steps of a goal-setting conversation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a session stands in the goal-setting journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The employee profile (filled through `PUT /api/session/{id}/info`).
    G2Basic,
    /// Where the employee sees themselves in two years.
    G4Future,
    /// The employee's core values.
    G6Values,
    /// A six-month action plan.
    G8Actions,
    /// Every phase has a final goal.
    Completed,
}

/// Where a phase's conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Collect,
    Refine,
    Score,
}

/// The kind of goal each conversational phase produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalType {
    Future,
    Values,
    Actions,
}

impl Phase {
    /// The three phases that end in a scored goal, in order.
    pub const CONVERSATIONAL: [Phase; 3] = [Phase::G4Future, Phase::G6Values, Phase::G8Actions];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::G2Basic => "g2_basic",
            Phase::G4Future => "g4_future",
            Phase::G6Values => "g6_values",
            Phase::G8Actions => "g8_actions",
            Phase::Completed => "completed",
        }
    }

    pub fn is_conversational(self) -> bool {
        self.goal_type().is_some()
    }

    pub fn goal_type(self) -> Option<GoalType> {
        match self {
            Phase::G4Future => Some(GoalType::Future),
            Phase::G6Values => Some(GoalType::Values),
            Phase::G8Actions => Some(GoalType::Actions),
            Phase::G2Basic | Phase::Completed => None,
        }
    }

    /// The phase that follows this one.
    pub fn next(self) -> Phase {
        match self {
            Phase::G2Basic => Phase::G4Future,
            Phase::G4Future => Phase::G6Values,
            Phase::G6Values => Phase::G8Actions,
            Phase::G8Actions | Phase::Completed => Phase::Completed,
        }
    }

    /// The session's completion percentage once this phase is done.
    pub fn completion_when_done(self) -> u8 {
        match self {
            Phase::G2Basic => 10,
            Phase::G4Future => 33,
            Phase::G6Values => 66,
            Phase::G8Actions | Phase::Completed => 100,
        }
    }
}

impl GoalType {
    pub fn as_str(self) -> &'static str {
        match self {
            GoalType::Future => "future",
            GoalType::Values => "values",
            GoalType::Actions => "actions",
        }
    }

    pub fn phase(self) -> Phase {
        match self {
            GoalType::Future => Phase::G4Future,
            GoalType::Values => Phase::G6Values,
            GoalType::Actions => Phase::G8Actions,
        }
    }

    pub const ALL: [GoalType; 3] = [GoalType::Future, GoalType::Values, GoalType::Actions];
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Collect => "collect",
            Step::Refine => "refine",
            Step::Score => "score",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for GoalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A phase or step name that is not part of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}'")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
}

impl FromStr for Phase {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Phase::G2Basic,
            Phase::G4Future,
            Phase::G6Values,
            Phase::G8Actions,
            Phase::Completed,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| UnknownName {
            kind: "phase",
            value: s.to_string(),
        })
    }
}

impl FromStr for Step {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Step::Collect, Step::Refine, Step::Score]
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "step",
                value: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_advance_in_order_and_report_completion() {
        let mut phase = Phase::G2Basic;
        let mut seen = vec![];
        while phase != Phase::Completed {
            seen.push((phase.as_str(), phase.completion_when_done()));
            phase = phase.next();
        }
        assert_eq!(
            seen,
            vec![
                ("g2_basic", 10),
                ("g4_future", 33),
                ("g6_values", 66),
                ("g8_actions", 100)
            ]
        );
        assert_eq!(Phase::Completed.next(), Phase::Completed);
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_rejected() {
        for p in [
            Phase::G2Basic,
            Phase::G4Future,
            Phase::G6Values,
            Phase::G8Actions,
            Phase::Completed,
        ] {
            assert_eq!(p.as_str().parse::<Phase>().unwrap(), p);
        }
        assert_eq!("score".parse::<Step>().unwrap(), Step::Score);
        assert!("g5_other".parse::<Phase>().is_err());
        assert!("write".parse::<Step>().is_err());
        assert_eq!(
            serde_json::to_string(&Phase::G4Future).unwrap(),
            "\"g4_future\""
        );
    }

    #[test]
    fn only_the_three_conversational_phases_produce_goals() {
        assert_eq!(Phase::G4Future.goal_type(), Some(GoalType::Future));
        assert_eq!(Phase::G6Values.goal_type(), Some(GoalType::Values));
        assert_eq!(Phase::G8Actions.goal_type(), Some(GoalType::Actions));
        assert!(!Phase::G2Basic.is_conversational());
        assert!(!Phase::Completed.is_conversational());
        for t in GoalType::ALL {
            assert_eq!(t.phase().goal_type(), Some(t));
        }
    }
}
