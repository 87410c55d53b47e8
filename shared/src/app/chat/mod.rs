//! One chat turn, streamed as events, in steps:
//!
//! 1. `admission`: the request parsed, the limits checked, the session's
//!    lease taken with the user's message stored → an admitted turn;
//! 2. `grounding`: the company passages the coach's reply draws on;
//! 3. `drafting`: the model calls — the coach's streamed reply, the goal
//!    refined and scored, advice on a goal that falls short;
//! 4. `commit`: everything the turn produced, stored in one atomic change
//!    that releases the lease.
//!
//! `driver` runs them in that order while `lease_keeper` renews the lease;
//! `events` are what the client receives, `outbox` sends them in order.

mod admission;
pub(crate) mod commit;
mod drafting;
mod driver;
pub mod events;
mod grounding;
mod halt;
mod lease_keeper;
mod outbox;
#[cfg(test)]
mod test_support;
mod turn_metrics;

pub use admission::{StepName, TurnRequest};
pub use driver::start_turn;
pub use events::{ChatEvent, TokensUsed};
