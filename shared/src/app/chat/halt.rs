//! Why a turn stopped before its end, and what it tells the client.

use super::events::{ChatEvent, StreamErrorData};
use crate::app::AppError;
use crate::ports::chat_model::ModelError;

/// Why a turn stopped early.
#[derive(Debug)]
pub(super) enum Halt {
    Model(ModelError),
    Disconnected,
    ShuttingDown,
    Storage(AppError),
}

impl From<ModelError> for Halt {
    fn from(e: ModelError) -> Self {
        Halt::Model(e)
    }
}

impl From<AppError> for Halt {
    fn from(e: AppError) -> Self {
        Halt::Storage(e)
    }
}

impl Halt {
    /// The `error` event the client is sent; `None` when it left.
    pub(super) fn event(&self) -> Option<ChatEvent> {
        let data = match self {
            Halt::Model(e) => StreamErrorData::new(e.code(), e.to_string()),
            Halt::Storage(e) => StreamErrorData::new(e.code, e.message.clone()),
            Halt::ShuttingDown => StreamErrorData::new(
                "shutting_down",
                "the server is restarting; send the message again in a moment",
            ),
            Halt::Disconnected => return None,
        };
        Some(ChatEvent::Error(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_halt_but_a_disconnect_reports_its_own_code() {
        let code = |halt: Halt| match halt.event() {
            Some(ChatEvent::Error(data)) => Some(data.code),
            _ => None,
        };
        let model = ModelError::Upstream("down".into());
        assert_eq!(code(Halt::Model(model.clone())).unwrap(), model.code());
        assert_eq!(
            code(Halt::Storage(AppError::internal(
                "rubric_missing",
                "no rubric"
            )))
            .unwrap(),
            "rubric_missing"
        );
        assert_eq!(code(Halt::ShuttingDown).unwrap(), "shutting_down");
        assert_eq!(code(Halt::Disconnected), None);
    }
}
