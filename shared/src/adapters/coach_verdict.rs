//! The verdict a judging coach reply leads with (`READY: yes` / `READY: no`,
//! asked for by `domain::prompts::coach_messages`), read off the stream and
//! stripped before any text is shown. It never fails a turn: a reply without
//! a usable verdict says "not ready", so the turn keeps collecting, and its
//! text is shown as it came.

use std::collections::VecDeque;

use futures::StreamExt;

use crate::domain::prompts::VERDICT_KEY;
use crate::ports::chat_model::{ModelError, StreamPiece, TextStream};

/// A verdict line longer than this is not waited on any further.
const MAX_VERDICT_CHARS: usize = 48;

/// Markdown a model may wrap the verdict in.
fn is_markup(c: char) -> bool {
    matches!(c, '*' | '_' | '`' | '#' | '>' | '[' | ']' | '(' | ')' | '"')
}

/// What the start of a reply says about its verdict.
#[derive(Debug, PartialEq, Eq)]
enum Lead {
    /// Too little text to tell yet.
    Undecided,
    /// A verdict line; the reply's own text starts at byte `text_from`.
    Verdict { ready: bool, text_from: usize },
    /// No verdict line: all of it is the reply's text.
    Absent,
}

/// Reads the verdict at the start of `reply` (`ended`: no more text comes).
fn read_lead(reply: &str, ended: bool) -> Lead {
    // Every slice below is a suffix of `reply`, so its offset is the
    // difference in length.
    let offset = |rest: &str| reply.len() - rest.len();
    let body = reply.trim_start_matches(|c: char| c.is_whitespace() || is_markup(c));
    if body.len() < VERDICT_KEY.len() {
        let could_be = VERDICT_KEY
            .to_ascii_lowercase()
            .starts_with(&body.to_ascii_lowercase());
        return if could_be && !ended && !body.contains('\n') {
            Lead::Undecided
        } else {
            Lead::Absent
        };
    }
    // `get`: the reply may start with any character, not only ASCII.
    if !body
        .get(..VERDICT_KEY.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(VERDICT_KEY))
    {
        return Lead::Absent;
    }
    let after_key = &body[VERDICT_KEY.len()..];
    let value = after_key.trim_start_matches(|c: char| {
        c == ' ' || c == '\t' || c == ':' || c == '=' || c == '-' || is_markup(c)
    });
    let separated = after_key[..after_key.len() - value.len()].contains([':', '=']);
    let word_len = value
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(value.len());
    let word_complete = word_len < value.len() || ended;
    let long = body.len() >= MAX_VERDICT_CHARS;
    if !word_complete && !long {
        return Lead::Undecided;
    }
    let ready = match value[..word_len].to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    };
    match ready {
        Some(ready) => {
            // The rest of the verdict's line, then the blank lines after it.
            let rest = value[word_len..].trim_start_matches(|c: char| {
                is_markup(c) || c == '.' || c == '!' || c == ' ' || c == '\t'
            });
            Lead::Verdict {
                ready,
                text_from: offset(rest.trim_start()),
            }
        }
        // `READY: maybe`: a verdict line, garbled. Drop the line.
        None if separated => match value.find('\n') {
            Some(end) => Lead::Verdict {
                ready: false,
                text_from: offset(value[end..].trim_start()),
            },
            None if ended || long => Lead::Verdict {
                ready: false,
                text_from: reply.len(),
            },
            None => Lead::Undecided,
        },
        // "Ready to lead a team? …": prose, not a verdict.
        None => Lead::Absent,
    }
}

struct Reading {
    inner: TextStream,
    held: String,
    decided: bool,
    /// Whether the reply's text has begun (blank lines after the verdict
    /// line, which may come in later chunks, are no part of it).
    text_started: bool,
    ended: bool,
    queued: VecDeque<Result<StreamPiece, ModelError>>,
}

impl Reading {
    /// Decides on what is held, if it can, and queues the verdict first.
    fn decide(&mut self) {
        let (ready, text) = match read_lead(&self.held, self.ended) {
            Lead::Undecided => return,
            Lead::Verdict { ready, text_from } => (ready, &self.held[text_from..]),
            Lead::Absent => {
                tracing::warn!("the coach's reply gave no readiness verdict; it keeps collecting");
                self.text_started = true;
                (false, self.held.as_str())
            }
        };
        self.queued.push_back(Ok(StreamPiece::Verdict { ready }));
        if !text.is_empty() {
            self.text_started = true;
            self.queued
                .push_back(Ok(StreamPiece::Text(text.to_string())));
        }
        self.decided = true;
        self.held.clear();
    }

    async fn next(mut self) -> Option<(Result<StreamPiece, ModelError>, Self)> {
        loop {
            if let Some(piece) = self.queued.pop_front() {
                return Some((piece, self));
            }
            if self.decided {
                let piece = match self.inner.next().await? {
                    Ok(StreamPiece::Text(text)) if !self.text_started => {
                        let text = text.trim_start();
                        if text.is_empty() {
                            continue;
                        }
                        self.text_started = true;
                        Ok(StreamPiece::Text(text.to_string()))
                    }
                    other => other,
                };
                return Some((piece, self));
            }
            if self.ended {
                return None;
            }
            match self.inner.next().await {
                Some(Ok(StreamPiece::Text(text))) => {
                    self.held.push_str(&text);
                    self.decide();
                }
                Some(Ok(other)) => self.queued.push_back(Ok(other)),
                Some(Err(e)) => {
                    self.ended = true;
                    self.decide();
                    self.queued.push_back(Err(e));
                }
                None => {
                    self.ended = true;
                    self.decide();
                }
            }
        }
    }
}

/// `reply` with its leading verdict turned into one [`StreamPiece::Verdict`]
/// before any text. Text is held back only while it may still be the
/// verdict line.
pub fn lead_with_verdict(reply: TextStream) -> TextStream {
    let reading = Reading {
        inner: reply,
        held: String::new(),
        decided: false,
        text_started: false,
        ended: false,
        queued: VecDeque::new(),
    };
    Box::pin(futures::stream::unfold(reading, Reading::next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::Usage;

    fn verdict(reply: &str) -> (bool, &str) {
        match read_lead(reply, true) {
            Lead::Verdict { ready, text_from } => (ready, &reply[text_from..]),
            other => panic!("{reply:?}: {other:?}"),
        }
    }

    #[test]
    fn verdict_lines_are_read_in_the_forms_models_write_them() {
        assert_eq!(verdict("READY: yes\n\nGreat goal."), (true, "Great goal."));
        assert_eq!(verdict("READY: no\nHow many?"), (false, "How many?"));
        assert_eq!(verdict("**Ready:** Yes.\nGreat."), (true, "Great."));
        assert_eq!(verdict("  `READY: true`\n\nOk"), (true, "Ok"));
        assert_eq!(verdict("ready=false How many?"), (false, "How many?"));
        assert_eq!(verdict("READY: yes"), (true, ""));
    }

    #[test]
    fn a_garbled_verdict_is_dropped_and_means_not_ready() {
        assert_eq!(
            verdict("READY: maybe\nTell me more."),
            (false, "Tell me more.")
        );
        assert_eq!(verdict("READY: \nTell me more."), (false, "Tell me more."));
        assert_eq!(verdict("READY:"), (false, ""));
    }

    #[test]
    fn replies_without_a_verdict_are_all_text() {
        for reply in [
            "That's a clear direction.",
            "Ready to lead? Tell me more.",
            "Привет, отличная цель.",
            "Re",
            "",
        ] {
            assert_eq!(read_lead(reply, true), Lead::Absent, "{reply:?}");
        }
        assert_eq!(read_lead("That", false), Lead::Absent, "decided at once");
        assert_eq!(read_lead("Пр", false), Lead::Absent);
        assert_eq!(read_lead("😀 Great", false), Lead::Absent);
    }

    #[test]
    fn text_is_held_only_while_it_may_be_the_verdict() {
        for partial in [
            "",
            " ",
            "**",
            "RE",
            "READY",
            "READY:",
            "READY: y",
            "READY: ye",
        ] {
            assert_eq!(read_lead(partial, false), Lead::Undecided, "{partial:?}");
        }
        assert!(matches!(
            read_lead("READY: yes\n", false),
            Lead::Verdict { ready: true, .. }
        ));
        assert!(matches!(
            read_lead(&format!("READY: {}", "x".repeat(60)), false),
            Lead::Verdict { ready: false, .. }
        ));
    }

    fn stream(pieces: Vec<Result<StreamPiece, ModelError>>) -> TextStream {
        Box::pin(futures::stream::iter(pieces))
    }

    fn text(t: &str) -> Result<StreamPiece, ModelError> {
        Ok(StreamPiece::Text(t.into()))
    }

    async fn collect(
        pieces: Vec<Result<StreamPiece, ModelError>>,
    ) -> Vec<Result<StreamPiece, ModelError>> {
        lead_with_verdict(stream(pieces)).collect().await
    }

    #[tokio::test]
    async fn a_verdict_split_over_chunks_comes_first_and_the_text_follows_unchanged() {
        let usage = Ok(StreamPiece::Usage(Usage {
            input: 3,
            output: 4,
        }));
        let got = collect(vec![
            text("READY"),
            text(": y"),
            text("es\n"),
            text("\nThat's "),
            text("clear."),
            usage.clone(),
        ])
        .await;
        assert_eq!(
            got,
            vec![
                Ok(StreamPiece::Verdict { ready: true }),
                text("That's "),
                text("clear."),
                usage
            ]
        );
    }

    #[tokio::test]
    async fn a_reply_without_a_verdict_is_not_ready_and_keeps_all_its_text() {
        let got = collect(vec![text("That's "), text("clear.")]).await;
        assert_eq!(
            got,
            vec![
                Ok(StreamPiece::Verdict { ready: false }),
                text("That's "),
                text("clear.")
            ]
        );
    }

    #[tokio::test]
    async fn an_error_while_reading_the_verdict_is_passed_on() {
        let cut = Err(ModelError::Upstream("cut".into()));
        let got = collect(vec![text("READY: y"), cut.clone()]).await;
        assert_eq!(got, vec![Ok(StreamPiece::Verdict { ready: false }), cut]);
    }
}
