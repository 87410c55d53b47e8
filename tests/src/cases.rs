//! Table-driven request cases: each case names itself, so a failure says
//! which request got the wrong answer.

use std::fmt::Display;

use crate::{Call, Reply};

/// What a case's reply must be.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// This status and this JSON error code.
    Refused(u16, &'static str),
    /// This status; the body is not checked.
    Status(u16),
}

impl Reply {
    /// Asserts that this reply is what `case` expects.
    #[track_caller]
    pub fn check(&self, case: impl Display, expect: Expect) {
        match expect {
            Expect::Refused(status, code) => assert_eq!(
                (self.status.as_u16(), self.error_code()),
                (status, code.to_string()),
                "case '{case}': {}",
                self.text
            ),
            Expect::Status(status) => {
                assert_eq!(self.status.as_u16(), status, "case '{case}': {}", self.text)
            }
        }
    }

    /// The error code of a JSON error body; empty for any other body, so
    /// that the failure names its case instead of failing to parse.
    fn error_code(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.text)
            .ok()
            .and_then(|body| body["error"]["code"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// Sends each case's request in order and checks its reply.
pub async fn run<N: Display>(cases: impl IntoIterator<Item = (N, Call, Expect)>) {
    for (name, call, expect) in cases {
        call.send().await.check(name, expect);
    }
}
