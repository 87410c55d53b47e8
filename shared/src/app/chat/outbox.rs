//! The turn's side of the event stream: sends events in order, holds back
//! those the client may only see once the turn is stored, and keeps what
//! the turn streamed (its text, what the model calls cost, its sources).

use std::time::Instant;

use tokio::sync::mpsc;

use super::events::{ChatEvent, MessageData};
use crate::domain::message::{Source, Usage};
use crate::domain::phase::{Phase, Step};

/// Sends events and keeps what the turn streamed.
pub(super) struct Outbox {
    tx: mpsc::Sender<ChatEvent>,
    pub(super) phase: Phase,
    pub(super) chunk_index: u32,
    pub(super) full_response: String,
    pub(super) usage: Usage,
    pub(super) disconnected: bool,
    held: Option<Vec<ChatEvent>>,
    /// The passages retrieval gave this turn, cited in `complete`.
    pub(super) sources: Vec<Source>,
    started: Instant,
    /// Milliseconds from the turn's start to its first streamed text.
    pub(super) first_text_ms: Option<u64>,
}

impl Outbox {
    pub(super) fn new(tx: mpsc::Sender<ChatEvent>, phase: Phase) -> Self {
        Outbox {
            tx,
            phase,
            chunk_index: 0,
            full_response: String::new(),
            usage: Usage::default(),
            disconnected: false,
            held: None,
            sources: vec![],
            started: Instant::now(),
            first_text_ms: None,
        }
    }

    /// A handle that tells when the client stopped listening.
    pub(super) fn listener(&self) -> mpsc::Sender<ChatEvent> {
        self.tx.clone()
    }

    pub(super) async fn send(&mut self, event: ChatEvent) {
        if let Some(held) = &mut self.held {
            held.push(event);
            return;
        }
        if !self.disconnected && self.tx.send(event).await.is_err() {
            self.disconnected = true;
        }
    }

    /// Holds back every later event until [`Outbox::release_held`]: what
    /// follows is a result the client may only see once it is stored.
    pub(super) fn hold(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    pub(super) async fn release_held(&mut self) {
        for event in self.held.take().unwrap_or_default() {
            self.send(event).await;
        }
    }

    pub(super) fn discard_held(&mut self) {
        self.held = None;
    }

    /// Streams one piece of the coach's reply.
    pub(super) async fn text(&mut self, content: String, step: Step) {
        if self.first_text_ms.is_none() {
            self.first_text_ms = Some(self.started.elapsed().as_millis() as u64);
        }
        self.chunk_index += 1;
        self.full_response.push_str(&content);
        let event = ChatEvent::Message(MessageData {
            content,
            phase: self.phase,
            step,
            chunk_index: self.chunk_index,
        });
        self.send(event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::chat::events::StreamErrorData;

    fn names(rx: &mut mpsc::Receiver<ChatEvent>) -> Vec<&'static str> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| e.name())
            .collect()
    }

    #[tokio::test]
    async fn held_events_wait_for_the_release_and_a_discard_drops_them() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut out = Outbox::new(tx, Phase::G4Future);
        out.text("Hel".into(), Step::Collect).await;
        out.hold();
        out.text("lo".into(), Step::Collect).await;
        assert_eq!(names(&mut rx), ["message"], "the second piece is held");
        out.release_held().await;
        assert_eq!(names(&mut rx), ["message"]);
        assert_eq!((out.full_response.as_str(), out.chunk_index), ("Hello", 2));
        out.hold();
        out.send(ChatEvent::Error(StreamErrorData::new("x", "y")))
            .await;
        out.discard_held();
        out.release_held().await;
        assert!(names(&mut rx).is_empty());
    }

    #[tokio::test]
    async fn a_closed_stream_marks_the_client_gone() {
        let (tx, rx) = mpsc::channel(8);
        let mut out = Outbox::new(tx, Phase::G4Future);
        drop(rx);
        out.text("Hi".into(), Step::Collect).await;
        assert!(out.disconnected);
    }
}
