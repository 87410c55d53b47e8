//! `ChatModel` on chat completions: the coach streamed (a collect reply
//! leading with its readiness verdict), refine and score as JSON-mode
//! completions with capped lengths.

use std::collections::VecDeque;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionResponseStream, ChatCompletionStreamOptions, CompletionUsage,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs, FinishReason, ResponseFormat,
};
use async_trait::async_trait;
use futures::StreamExt;

use super::DEFAULT_CHAT_MODEL;
use super::transport::classify;
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

const PROVIDER: &str = "openai";

#[derive(Clone)]
pub struct OpenAiModel {
    client: Client<OpenAIConfig>,
    resilience: Resilience,
}

impl OpenAiModel {
    pub fn new(client: Client<OpenAIConfig>, resilience: Resilience) -> Self {
        OpenAiModel { client, resilience }
    }

    /// A streamed request, or a JSON-mode one (`json_max_tokens`) capped at
    /// that many output tokens.
    fn request(
        &self,
        model: &str,
        messages: &[PromptMessage],
        json_max_tokens: Option<u32>,
    ) -> Result<CreateChatCompletionRequest, ModelError> {
        let mut args = CreateChatCompletionRequestArgs::default();
        args.model(model).messages(to_openai(messages));
        if let Some(max_tokens) = json_max_tokens {
            // json_object works on every OpenAI-compatible server; the
            // prompts spell out the shape and `structured_reply` checks it.
            // `max_tokens`, not `max_completion_tokens`: every compatible
            // server (Ollama, vLLM, llama.cpp) reads it.
            #[allow(deprecated)]
            args.response_format(ResponseFormat::JsonObject)
                .max_tokens(max_tokens);
        } else {
            args.stream_options(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            });
        }
        args.build()
            .map_err(|e| ModelError::Upstream(format!("could not build the request: {e}")))
    }

    /// One JSON-mode completion, parsed by `parse`; the meter records the
    /// tokens even when the answer is unusable.
    async fn json_call<T>(
        &self,
        operation: &'static str,
        ctx: &PhaseContext,
        messages: Vec<PromptMessage>,
        max_tokens: u32,
        parse: impl FnOnce(&str) -> Result<T, ModelError>,
    ) -> Result<Generated<T>, ModelError> {
        let model = self.model_for(ctx);
        let request = self.request(&model, &messages, Some(max_tokens))?;
        let mut meter = CallMeter::start(PROVIDER, operation, &model);
        let response = self
            .resilience
            .call(&mut meter, || {
                let request = request.clone();
                async move { self.client.chat().create(request).await.map_err(classify) }
            })
            .await?;
        let usage = response.usage.as_ref().map(to_usage).unwrap_or_default();
        meter.add_usage(usage);
        let choice = response.choices.into_iter().next();
        let ending = match choice.as_ref().and_then(|c| c.finish_reason) {
            Some(FinishReason::Length) => Ending::CutOff,
            Some(FinishReason::ContentFilter) => Ending::Filtered,
            _ => Ending::Finished,
        };
        let (text, refusal) = choice
            .map(|c| (c.message.content.unwrap_or_default(), c.message.refusal))
            .unwrap_or_default();
        let value = structured_reply::usable_text(text, refusal.as_deref(), ending)
            .and_then(|text| parse(&text))
            .map_err(|e| meter.failed(e))?;
        meter.succeeded();
        Ok(Generated { value, usage })
    }
}

fn to_usage(u: &CompletionUsage) -> Usage {
    Usage {
        input: u.prompt_tokens,
        output: u.completion_tokens,
    }
}

/// Our prompt as chat messages; empty turns (a failed turn's record) are left out.
fn to_openai(messages: &[PromptMessage]) -> Vec<ChatCompletionRequestMessage> {
    messages
        .iter()
        .filter(|m| !m.content.trim().is_empty())
        .map(|m| match m.role {
            PromptRole::System => {
                ChatCompletionRequestSystemMessage::from(m.content.as_str()).into()
            }
            PromptRole::User => ChatCompletionRequestUserMessage::from(m.content.as_str()).into(),
            PromptRole::Assistant => {
                ChatCompletionRequestAssistantMessage::from(m.content.as_str()).into()
            }
        })
        .collect()
}

/// Chunks to pieces. A stream that ends before any choice finished was cut
/// short (a proxy closing cleanly mid-reply looks like that).
fn pieces(chunks: ChatCompletionResponseStream) -> TextStream {
    struct State {
        chunks: ChatCompletionResponseStream,
        queued: VecDeque<Result<StreamPiece, ModelError>>,
        finished: bool,
        done: bool,
    }
    let state = State {
        chunks,
        queued: VecDeque::new(),
        finished: false,
        done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(piece) = s.queued.pop_front() {
                return Some((piece, s));
            }
            if s.done {
                return None;
            }
            match s.chunks.next().await {
                Some(Ok(chunk)) => {
                    for choice in chunk.choices {
                        if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                            s.queued.push_back(Ok(StreamPiece::Text(text)));
                        }
                        s.finished |= choice.finish_reason.is_some();
                    }
                    if let Some(usage) = &chunk.usage {
                        s.queued.push_back(Ok(StreamPiece::Usage(to_usage(usage))));
                    }
                }
                Some(Err(e)) => {
                    s.done = true;
                    s.queued.push_back(Err(classify(e).error));
                }
                None if s.finished => return None,
                None => {
                    s.done = true;
                    s.queued.push_back(Err(ModelError::Upstream(
                        "the reply stream ended before the reply did".into(),
                    )));
                }
            }
        }
    }))
}

#[async_trait]
impl ChatModel for OpenAiModel {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn model_for(&self, ctx: &PhaseContext) -> String {
        match ctx.model.trim() {
            "" => DEFAULT_CHAT_MODEL.to_string(),
            model => model.to_string(),
        }
    }

    async fn coach(
        &self,
        ctx: &PhaseContext,
        purpose: CoachPurpose,
    ) -> Result<TextStream, ModelError> {
        let messages = match &purpose {
            CoachPurpose::Collect { readiness } => coach_messages(ctx, *readiness),
            CoachPurpose::Improve { goal, card } => improvement_messages(ctx, goal, card),
        };
        let model = self.model_for(ctx);
        let request = self.request(&model, &messages, None)?;
        let meter = CallMeter::start(PROVIDER, "coach", &model);
        let reply = self
            .resilience
            .stream(meter, || {
                let (client, request) = (self.client.clone(), request.clone());
                async move {
                    let chunks = client
                        .chat()
                        .create_stream(request)
                        .await
                        .map_err(classify)?;
                    Ok::<_, Failure>(pieces(chunks))
                }
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
