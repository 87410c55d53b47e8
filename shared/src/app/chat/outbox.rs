//! The turn's side of the event stream: sends events in order, holds back
//! those the client may only see once the turn is stored, and keeps what
//! the turn streamed (its text, what the model calls cost, its sources).

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
