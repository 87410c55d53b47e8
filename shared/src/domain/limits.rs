//! Usage limits per tenant: how many sessions and chat turns one client
//! address may start, how many turns a session may take in a phase, and the
//! monthly token budget. Pure: windows, caps and budget states from numbers
//! the caller reads.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::settings_error::SettingsError;

/// A tenant's limits; every new tenant starts with [`UsageLimits::default`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UsageLimits {
    /// Sessions one client address may create per clock hour; 0: no limit.
    #[schema(maximum = 1_000_000)]
    pub sessions_per_address_per_hour: u32,
    /// Chat turns one client address may send per clock minute; 0: no limit.
    #[schema(maximum = 1_000_000)]
    pub turns_per_address_per_minute: u32,
    /// Turns a session may take in one phase beyond `max_collect_turns`
    /// (edited goals and retries after low scores included).
    #[schema(maximum = 1000)]
    pub extra_turns_per_phase: u32,
    /// Scored attempts below the threshold in one phase after which the
    /// employee may keep their best draft or start the step over (as when
    /// the phase's turn cap is reached); 0: only the cap.
    #[schema(maximum = 100)]
    pub keep_best_after_attempts: u32,
    /// Model tokens (input + output, every call of a turn) the tenant may
    /// spend per calendar month (UTC); 0: no budget.
    #[schema(maximum = 1_000_000_000_000_u64)]
    pub monthly_token_budget: u64,
    /// The share of the budget (percent) from which stats and the audit log warn.
    #[schema(minimum = 1, maximum = 100)]
    pub budget_warning_percent: u8,
}

impl Default for UsageLimits {
    fn default() -> Self {
        UsageLimits {
            sessions_per_address_per_hour: 50,
            turns_per_address_per_minute: 60,
            extra_turns_per_phase: 10,
            keep_best_after_attempts: 3,
            monthly_token_budget: 5_000_000,
            budget_warning_percent: 80,
        }
    }
}

/// Why a request was refused by a limit; `code` is the API's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    RateLimited,
    TurnLimitReached,
    TokenBudgetExhausted,
}

impl Refusal {
    pub const ALL: [Refusal; 3] = [
        Refusal::RateLimited,
        Refusal::TurnLimitReached,
        Refusal::TokenBudgetExhausted,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Refusal::RateLimited => "rate_limited",
            Refusal::TurnLimitReached => "turn_limit_reached",
            Refusal::TokenBudgetExhausted => "token_budget_exhausted",
        }
    }
}

/// Where a tenant's month stands against its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    Unlimited,
    Ok,
    Warning,
    Exhausted,
}

impl UsageLimits {
    pub fn validate(&self) -> Result<(), SettingsError> {
        let within = |value: u64, max: u64, name: &str| {
            (value <= max)
                .then_some(())
                .ok_or_else(|| SettingsError(format!("limits.{name} must be within 0-{max}")))
        };
        within(
            self.sessions_per_address_per_hour.into(),
            1_000_000,
            "sessions_per_address_per_hour",
        )?;
        within(
            self.turns_per_address_per_minute.into(),
            1_000_000,
            "turns_per_address_per_minute",
        )?;
        within(
            self.extra_turns_per_phase.into(),
            1000,
            "extra_turns_per_phase",
        )?;
        within(
            self.keep_best_after_attempts.into(),
            100,
            "keep_best_after_attempts",
        )?;
        within(
            self.monthly_token_budget,
            1_000_000_000_000,
            "monthly_token_budget",
        )?;
        if !(1..=100).contains(&self.budget_warning_percent) {
            return Err(SettingsError(
                "limits.budget_warning_percent must be within 1-100".into(),
            ));
        }
        Ok(())
    }

    /// The most turns a session may take in one phase.
    pub fn turns_per_phase(&self, max_collect_turns: u32) -> u32 {
        max_collect_turns + self.extra_turns_per_phase
    }

    /// The month's standing after `used` tokens.
    pub fn budget_state(&self, used: i64) -> BudgetState {
        let budget = self.monthly_token_budget as i64;
        if budget == 0 {
            BudgetState::Unlimited
        } else if used >= budget {
            BudgetState::Exhausted
        } else if used.saturating_mul(100) >= budget * i64::from(self.budget_warning_percent) {
            BudgetState::Warning
        } else {
            BudgetState::Ok
        }
    }

    /// The state a turn moved the month into when it spent `after - before`
    /// tokens, if it crossed into a worse one.
    pub fn crossed(&self, before: i64, after: i64) -> Option<BudgetState> {
        let (was, is) = (self.budget_state(before), self.budget_state(after));
        (was != is && matches!(is, BudgetState::Warning | BudgetState::Exhausted)).then_some(is)
    }
}

/// The windows of the per-address counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Minute,
    Hour,
}

/// Slots a window is cut into (see [`SlidingWindow`]).
pub const SLOTS_PER_WINDOW: u32 = 4;

impl Window {
    pub fn seconds(self) -> i64 {
        match self {
            Window::Minute => 60,
            Window::Hour => 3600,
        }
    }

    /// The sliding window that holds a limit per this window.
    pub fn sliding(self) -> SlidingWindow {
        SlidingWindow {
            slot_seconds: self.seconds() / i64::from(SLOTS_PER_WINDOW),
            slots: SLOTS_PER_WINDOW + 1,
        }
    }
}

/// A sliding window over clock-aligned slots: a charge is refused when the
/// `slots` latest slots (its own included) already hold the limit. With a
/// window cut into k slots and k + 1 of them counted, any window-long
/// stretch of time, wherever it starts, lies within the counted slots of
/// the last charge in it, so it never holds more than the limit (a fixed
/// window lets twice the limit through across its boundary). The price: a
/// client that spent its limit at once waits up to one slot longer than
/// the window, and a steady client gets k/(k + 1) of the limit per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindow {
    /// The length of one slot.
    pub slot_seconds: i64,
    /// The slots a charge counts, its own included.
    pub slots: u32,
}

impl SlidingWindow {
    /// The end of the slot `now` falls in (its first instant belongs to it).
    pub fn slot_end(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let length = self.slot_seconds;
        let end = (now.timestamp().div_euclid(length) + 1) * length;
        Utc.timestamp_opt(end, 0).single().unwrap_or(now)
    }

    /// The ends of the slots whose charges count against a charge in the
    /// slot ending at `slot_end`: that one and the `slots - 1` before it.
    pub fn counted_slots(self, slot_end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        self.steps(slot_end, -1)
    }

    /// The ends of the slots whose counted slots include the one ending at
    /// `slot_end`: that one and the `slots - 1` after it. A store that
    /// keeps each slot's window total (not its own charges) adds a charge
    /// to each of these and checks the first alone.
    pub fn covering_slots(self, slot_end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        self.steps(slot_end, 1)
    }

    fn steps(self, from: DateTime<Utc>, direction: i64) -> Vec<DateTime<Utc>> {
        (0..i64::from(self.slots))
            .map(|i| from + chrono::Duration::seconds(direction * i * self.slot_seconds))
            .collect()
    }
}

/// Whole seconds until `until` (at least 1): a `Retry-After` value.
pub fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let millis = (until - now).num_milliseconds().max(0);
    (millis.div_euclid(1000) + i64::from(millis % 1000 != 0)).max(1) as u64
}

/// The first instant of the month after `now`'s (UTC).
pub fn next_month(now: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = match now.month() {
        12 => (now.year() + 1, 1),
        m => (now.year(), m + 1),
    };
    NaiveDate::from_ymd_opt(year, month, 1)
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .unwrap_or(now)
}

/// The month a day belongs to, as counters name it (`2026-11`).
pub fn month_of(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_validate_and_bad_values_do_not() {
        UsageLimits::default().validate().unwrap();
        for percent in [0, 101] {
            let limits = UsageLimits {
                budget_warning_percent: percent,
                ..UsageLimits::default()
            };
            assert!(limits.validate().is_err(), "{percent}");
        }
        let limits = UsageLimits {
            extra_turns_per_phase: 1001,
            ..UsageLimits::default()
        };
        assert!(limits.validate().is_err());
        let limits = UsageLimits {
            keep_best_after_attempts: 101,
            ..UsageLimits::default()
        };
        assert!(limits.validate().is_err());
        assert_eq!(UsageLimits::default().keep_best_after_attempts, 3);
    }

    #[test]
    fn a_missing_field_takes_its_default_and_an_unknown_one_is_refused() {
        let parsed: UsageLimits =
            serde_json::from_str(r#"{"monthly_token_budget": 1000}"#).unwrap();
        assert_eq!(parsed.monthly_token_budget, 1000);
        assert_eq!(parsed.turns_per_address_per_minute, 60);
        assert!(serde_json::from_str::<UsageLimits>(r#"{"budget": 1}"#).is_err());
    }

    #[test]
    fn budget_states_and_crossings() {
        let limits = UsageLimits {
            monthly_token_budget: 1000,
            budget_warning_percent: 80,
            ..UsageLimits::default()
        };
        assert_eq!(limits.budget_state(0), BudgetState::Ok);
        assert_eq!(limits.budget_state(799), BudgetState::Ok);
        assert_eq!(limits.budget_state(800), BudgetState::Warning);
        assert_eq!(limits.budget_state(1000), BudgetState::Exhausted);
        assert_eq!(limits.crossed(700, 850), Some(BudgetState::Warning));
        assert_eq!(limits.crossed(850, 1200), Some(BudgetState::Exhausted));
        assert_eq!(limits.crossed(100, 1200), Some(BudgetState::Exhausted));
        assert_eq!(limits.crossed(850, 900), None);
        assert_eq!(limits.crossed(1200, 1300), None);
        let unlimited = UsageLimits {
            monthly_token_budget: 0,
            ..limits
        };
        assert_eq!(
            unlimited.budget_state(i64::MAX / 200),
            BudgetState::Unlimited
        );
        assert_eq!(unlimited.crossed(0, 1 << 40), None);
    }

    #[test]
    fn slots_are_clock_aligned() {
        let now = at("2026-11-26T08:15:42.500Z");
        let minute = Window::Minute.sliding();
        assert_eq!((minute.slot_seconds, minute.slots), (15, 5));
        assert_eq!(minute.slot_end(now), at("2026-11-26T08:15:45Z"));
        assert_eq!(
            Window::Hour.sliding().slot_end(now),
            at("2026-11-26T08:30:00Z")
        );
        // The first instant of a slot belongs to it, not to the one before.
        assert_eq!(
            minute.slot_end(at("2026-11-26T08:16:00Z")),
            at("2026-11-26T08:16:15Z")
        );
        let end = at("2026-11-26T08:16:00Z");
        assert_eq!(
            minute.counted_slots(end),
            ["08:16:00", "08:15:45", "08:15:30", "08:15:15", "08:15:00"]
                .map(|t| at(&format!("2026-11-26T{t}Z")))
        );
        assert_eq!(
            minute.covering_slots(end),
            ["08:16:00", "08:16:15", "08:16:30", "08:16:45", "08:17:00"]
                .map(|t| at(&format!("2026-11-26T{t}Z")))
        );
        assert_eq!(seconds_until(at("2026-11-26T08:16:00Z"), now), 18);
        assert_eq!(seconds_until(now, now), 1);
    }

    /// Charges at the given instants (seconds) against `limit`, decided the
    /// two ways a store may keep them: each slot's own charges, summed over
    /// the counted slots; or each slot's window total, added to by the
    /// covering slots. Both must decide alike. Returns the admitted instants.
    fn admitted(window: SlidingWindow, limit: u32, instants: &[i64]) -> Vec<i64> {
        use std::collections::HashMap;
        let (mut own, mut totals) = (HashMap::new(), HashMap::new());
        let mut admitted = vec![];
        for &t in instants {
            let end = window.slot_end(Utc.timestamp_opt(t, 0).unwrap());
            let summed: u32 = window
                .counted_slots(end)
                .iter()
                .map(|e| own.get(e).copied().unwrap_or(0))
                .sum();
            let total = totals.get(&end).copied().unwrap_or(0);
            assert_eq!(summed, total, "both ways agree at {t}");
            if summed < limit {
                *own.entry(end).or_insert(0) += 1;
                for e in window.covering_slots(end) {
                    *totals.entry(e).or_insert(0) += 1;
                }
                admitted.push(t);
            }
        }
        admitted
    }

    #[test]
    fn a_burst_across_a_boundary_is_held_to_the_limit() {
        let window = Window::Minute.sliding();
        // 60 at the end of a minute, 60 more just after: a fixed window
        // takes all 120 within 10 s.
        let start = at("2026-11-26T08:00:00Z").timestamp();
        let burst: Vec<i64> = (0..120).map(|i| start + 55 + i / 12).collect();
        assert_eq!(admitted(window, 60, &burst).len(), 60);
        // One per second for ten minutes: no 60 s stretch holds over 60.
        let steady: Vec<i64> = (0..600).map(|i| start + i).collect();
        let taken = admitted(window, 60, &steady);
        for (i, t) in taken.iter().enumerate() {
            let within = taken[i..].iter().take_while(|u| **u < t + 60).count();
            assert!(within <= 60, "{within} in the minute from {t}");
        }
        // A steady client still gets about k/(k + 1) of the limit.
        assert!(taken.len() >= 420, "{}", taken.len());
        // A window after the burst its slot still counts; a slot later the
        // whole limit is back.
        let minute_later = start + 55 + 60;
        let after: Vec<i64> = burst.iter().copied().chain([minute_later]).collect();
        assert_eq!(admitted(window, 60, &after).len(), 60);
        let later = minute_later + 15;
        let again: Vec<i64> = burst
            .iter()
            .copied()
            .chain((0..60).map(|_| later))
            .collect();
        assert_eq!(admitted(window, 60, &again).len(), 120);
    }

    #[test]
    fn months_roll_over_at_year_end() {
        assert_eq!(
            next_month(at("2026-12-31T23:59:59Z")),
            at("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            next_month(at("2026-11-26T08:00:00Z")),
            at("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            month_of(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()),
            "2026-01"
        );
    }

    #[test]
    fn the_phase_cap_adds_to_the_collect_cap() {
        let limits = UsageLimits::default();
        assert_eq!(limits.turns_per_phase(3), 13);
    }
}
