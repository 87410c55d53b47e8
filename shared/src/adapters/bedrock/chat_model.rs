//! `ChatModel` on the Converse API: the coach through ConverseStream (a
//! collect reply leading with its readiness verdict), refine and score
//! through Converse with JSON answers of capped length.

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamOutput as StreamResponse;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ConversationRole, ConverseOutput, ConverseStreamOutput,
    InferenceConfiguration, Message, StopReason, SystemContentBlock, TokenUsage,
};

use super::errors::{classify_http, stream_error};
use super::{BedrockSettings, is_bedrock_model_id};
use crate::adapters::coach_verdict::lead_with_verdict;
use crate::adapters::resilience::{CallMeter, Failure, Resilience};
use crate::adapters::structured_reply::{self, Ending, REFINE_MAX_TOKENS, SCORE_MAX_TOKENS};
use crate::domain::coaching::PhaseContext;
use crate::domain::message::Usage;
use crate::domain::prompts::{
    PromptMessage, PromptRole, coach_messages, improvement_messages, refine_messages,
    score_messages,
};
use crate::domain::scoring::{Judgement, Rubric};
use crate::ports::chat_model::{
    ChatModel, CoachPurpose, Generated, ModelError, Readiness, StreamPiece, TextStream,
};

const PROVIDER: &str = "bedrock";

/// Converse has no JSON mode: the system prompt asks for bare JSON and
/// `structured_reply` takes the first object from whatever comes back.
const JSON_ONLY: &str =
    "Respond with a single JSON object and nothing else: no prose, no code fences.";

#[derive(Clone)]
pub struct BedrockModel {
    client: Client,
    default_model: String,
    resilience: Resilience,
}

/// A Converse conversation: system blocks, then alternating turns.
struct Conversation {
    system: Vec<SystemContentBlock>,
    messages: Vec<Message>,
}

fn usage(u: Option<&TokenUsage>) -> Usage {
    u.map(|u| Usage {
        input: u.input_tokens.max(0) as u32,
        output: u.output_tokens.max(0) as u32,
    })
    .unwrap_or_default()
}

/// Our prompt in Converse's shape: system messages become system blocks;
/// consecutive turns of one role merge (Converse wants them alternating,
/// starting with the user); empty turns are left out.
fn conversation(prompt: &[PromptMessage], json: bool) -> Result<Conversation, ModelError> {
    let mut system: Vec<SystemContentBlock> = vec![];
    let mut turns: Vec<(ConversationRole, String)> = vec![];
    for m in prompt.iter().filter(|m| !m.content.trim().is_empty()) {
        let role = match m.role {
            PromptRole::System => {
                system.push(SystemContentBlock::Text(m.content.clone()));
                continue;
            }
            PromptRole::User => ConversationRole::User,
            PromptRole::Assistant => ConversationRole::Assistant,
        };
        match turns.last_mut() {
            Some((last, text)) if *last == role => {
                text.push_str("\n\n");
                text.push_str(&m.content);
            }
            _ => turns.push((role, m.content.clone())),
        }
    }
    if turns
        .first()
        .is_none_or(|(role, _)| *role != ConversationRole::User)
    {
        turns.insert(0, (ConversationRole::User, "(conversation start)".into()));
    }
    if json {
        system.push(SystemContentBlock::Text(JSON_ONLY.into()));
    }
    let messages = turns
        .into_iter()
        .map(|(role, text)| {
            Message::builder()
                .role(role)
                .content(ContentBlock::Text(text))
                .build()
                .map_err(|e| ModelError::Upstream(format!("could not build the request: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Conversation { system, messages })
}

/// Text pieces and usage from ConverseStream events; the receiver is owned
/// by the stream, so dropping the stream closes the connection.
fn pieces(response: StreamResponse) -> TextStream {
    struct State {
        response: StreamResponse,
        stopped: bool,
        done: bool,
    }
    let state = State {
        response,
        stopped: false,
        done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        loop {
            if s.done {
                return None;
            }
            let event = match s.response.stream.recv().await {
                Ok(Some(event)) => event,
                Ok(None) if s.stopped => return None,
                Ok(None) => {
                    s.done = true;
                    let cut =
                        ModelError::Upstream("the reply stream ended before the reply did".into());
                    return Some((Err(cut), s));
                }
                Err(e) => {
                    s.done = true;
                    return Some((Err(stream_error(e)), s));
                }
            };
            match event {
                ConverseStreamOutput::ContentBlockDelta(d) => {
                    if let Some(ContentBlockDelta::Text(text)) = d.delta
                        && !text.is_empty()
                    {
                        return Some((Ok(StreamPiece::Text(text)), s));
                    }
                }
                ConverseStreamOutput::MessageStop(_) => s.stopped = true,
                ConverseStreamOutput::Metadata(m) => {
                    return Some((Ok(StreamPiece::Usage(usage(m.usage.as_ref()))), s));
                }
                _ => {}
            }
        }
    }))
}

impl BedrockModel {
    pub fn new(client: Client, settings: &BedrockSettings) -> Self {
        BedrockModel {
            client,
            default_model: settings.chat_model.clone(),
            resilience: settings.resilience.clone(),
        }
    }

    async fn json_call<T>(
        &self,
        operation: &'static str,
        ctx: &PhaseContext,
        prompt: Vec<PromptMessage>,
        max_tokens: u32,
        parse: impl FnOnce(&str) -> Result<T, ModelError>,
    ) -> Result<Generated<T>, ModelError> {
        let model = self.model_for(ctx);
        let Conversation { system, messages } = conversation(&prompt, true)?;
        let limits = InferenceConfiguration::builder()
            .max_tokens(max_tokens as i32)
            .build();
        let mut meter = CallMeter::start(PROVIDER, operation, &model);
        let output = self
            .resilience
            .call(&mut meter, || {
                let sent = self
                    .client
                    .converse()
                    .model_id(&model)
                    .set_system(Some(system.clone()))
                    .set_messages(Some(messages.clone()))
                    .inference_config(limits.clone())
                    .send();
                async move { sent.await.map_err(classify_http) }
            })
            .await?;
        let used = usage(output.usage.as_ref());
        meter.add_usage(used);
        let ending = match output.stop_reason {
            StopReason::MaxTokens => Ending::CutOff,
            StopReason::GuardrailIntervened | StopReason::ContentFiltered => Ending::Filtered,
            _ => Ending::Finished,
        };
        let text: String = match output.output {
            Some(ConverseOutput::Message(message)) => message
                .content
                .into_iter()
                .filter_map(|block| match block {
                    ContentBlock::Text(t) => Some(t),
                    _ => None,
                })
                .collect(),
            _ => String::new(),
        };
        let value = structured_reply::usable_text(text, None, ending)
            .and_then(|text| parse(&text))
            .map_err(|e| meter.failed(e))?;
        meter.succeeded();
        Ok(Generated { value, usage: used })
    }
}

#[async_trait]
impl ChatModel for BedrockModel {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn model_for(&self, ctx: &PhaseContext) -> String {
        if is_bedrock_model_id(&ctx.model) {
            ctx.model.trim().to_string()
        } else {
            self.default_model.clone()
        }
    }

    async fn coach(
        &self,
        ctx: &PhaseContext,
        purpose: CoachPurpose,
    ) -> Result<TextStream, ModelError> {
        let prompt = match &purpose {
            CoachPurpose::Collect { readiness } => coach_messages(ctx, *readiness),
            CoachPurpose::Improve { goal, card } => improvement_messages(ctx, goal, card),
        };
        let model = self.model_for(ctx);
        let Conversation { system, messages } = conversation(&prompt, false)?;
        let meter = CallMeter::start(PROVIDER, "coach", &model);
        let reply = self
            .resilience
            .stream(meter, || {
                let sent = self
                    .client
                    .converse_stream()
                    .model_id(&model)
                    .set_system(Some(system.clone()))
                    .set_messages(Some(messages.clone()))
                    .send();
                async move { Ok::<_, Failure>(pieces(sent.await.map_err(classify_http)?)) }
            })
            .await?;
        Ok(match purpose {
            CoachPurpose::Collect {
                readiness: Readiness::Judge,
            } => lead_with_verdict(reply),
            _ => reply,
        })
    }

    async fn refine(
        &self,
        ctx: &PhaseContext,
        draft: Option<&str>,
    ) -> Result<Generated<String>, ModelError> {
        self.json_call(
            "refine",
            ctx,
            refine_messages(ctx, draft),
            REFINE_MAX_TOKENS,
            structured_reply::refined_goal,
        )
        .await
    }

    async fn score(
        &self,
        ctx: &PhaseContext,
        goal: &str,
        rubric: &Rubric,
    ) -> Result<Generated<Judgement>, ModelError> {
        self.json_call(
            "score",
            ctx,
            score_messages(ctx, goal, rubric),
            SCORE_MAX_TOKENS,
            |text| structured_reply::judgement(text, rubric),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(role: PromptRole, content: &str) -> PromptMessage {
        PromptMessage {
            role,
            content: content.into(),
        }
    }

    #[test]
    fn turns_alternate_and_start_with_the_user() {
        let c = conversation(
            &[
                m(PromptRole::System, "rules"),
                m(PromptRole::Assistant, "Hello"),
                m(PromptRole::User, "a"),
                m(PromptRole::User, "b"),
                m(PromptRole::Assistant, ""),
                m(PromptRole::User, "c"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(c.system.len(), 2, "the rules and the JSON instruction");
        let roles: Vec<_> = c.messages.iter().map(|m| m.role.clone()).collect();
        assert_eq!(
            roles,
            vec![
                ConversationRole::User,
                ConversationRole::Assistant,
                ConversationRole::User
            ]
        );
        assert_eq!(
            c.messages[2].content,
            vec![ContentBlock::Text("a\n\nb\n\nc".into())]
        );
    }
}
