//! The cost benchmark's tables, in Markdown (BENCHMARKS.md takes them as printed).

use std::fmt::Write as _;

use petraf_core::domain::cost::prices::{
    CLAUDE_HAIKU_4_5, GPT_4O_MINI, PRICES_AS_OF, REGION, TEXT_EMBEDDING_3_SMALL,
    TITAN_EMBED_TEXT_V2,
};
use petraf_core::domain::cost::{Line, Models, bill, monthly_fixed, total};

use super::{ASSUMED_CHAT_CALL_MS, ASSUMED_EMBED_CALL_MS, Counts};

/// The template's default models (ModelProvider=bedrock).
pub const BEDROCK: Models = Models {
    chat: CLAUDE_HAIKU_4_5,
    embed: TITAN_EMBED_TEXT_V2,
};
/// ModelProvider=openai with a tenant's default model.
pub const OPENAI: Models = Models {
    chat: GPT_4O_MINI,
    embed: TEXT_EMBEDDING_3_SMALL,
};

/// Hours a month an auto-paused database is assumed awake: working hours
/// (9 h × 22 days) while employees hold sessions.
pub const AWAKE_HOURS: f64 = 198.0;
/// Secrets the template creates: the JWT secret, the platform admin key
/// and the database's master secret.
pub const SECRETS: u32 = 3;
/// The company of the README's estimate, and its documents a month.
pub const EMPLOYEES: u64 = 500;
pub const DOCUMENTS_A_MONTH: u64 = 20;

fn number(n: f64) -> String {
    if n == 0.0 {
        "0".into()
    } else if n >= 100.0 {
        format!("{n:.0}")
    } else if n >= 1.0 {
        format!("{n:.2}")
    } else {
        format!("{n:.4}")
    }
}

fn table(out: &mut String, lines: &[Line], per: &str) {
    let _ = writeln!(out, "| item | per {per} | unit | $ per 1,000 {per}s |");
    let _ = writeln!(out, "| --- | ---: | --- | ---: |");
    for line in lines {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.4} |",
            line.item,
            number(line.per_session),
            line.unit,
            line.per_thousand_sessions
        );
    }
    let _ = writeln!(out, "| **total** | | | **{:.2}** |", total(lines));
}

/// Every table for `sessions` walked sessions and `documents` uploads.
pub fn render(sessions: u64, walked: &Counts, documents: u64, uploads: &Counts) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cost per 1,000 completed sessions: {sessions} sessions of Sarah's journey walked; \
         on-demand prices in {REGION} written down on {PRICES_AS_OF} (shared/src/domain/cost/prices.rs).\n"
    );
    let session_bill = bill(&walked.usage, sessions, BEDROCK);
    let _ = writeln!(
        out,
        "### Per session (ModelProvider=bedrock: {} and {})\n",
        BEDROCK.chat.model, BEDROCK.embed.model
    );
    table(&mut out, &session_bill, "session");
    let openai = bill(&walked.usage, sessions, OPENAI);
    let _ = writeln!(
        out,
        "\nWith ModelProvider=openai ({}, {}): **${:.2}** per 1,000 sessions, of which the model ${:.2}.\n",
        OPENAI.chat.model,
        OPENAI.embed.model,
        total(&openai),
        openai
            .iter()
            .filter(|l| l.unit == "tokens")
            .map(|l| l.per_thousand_sessions)
            .sum::<f64>()
    );

    let _ = writeln!(
        out,
        "### Per document uploaded (admin API, {documents} Markdown documents)\n"
    );
    let upload_bill = bill(&uploads.usage, documents, BEDROCK);
    table(&mut out, &upload_bill, "document");

    let _ = writeln!(out, "\n### Fixed, per month, whatever the sessions\n");
    let _ = writeln!(out, "| item | $ per month |");
    let _ = writeln!(out, "| --- | ---: |");
    let paused = monthly_fixed(0.0, AWAKE_HOURS, SECRETS);
    let always = monthly_fixed(0.5, 0.0, SECRETS);
    for line in paused.iter().chain(&always[..1]) {
        let _ = writeln!(out, "| {} | {:.2} |", line.item, line.per_month);
    }

    let _ = writeln!(out, "\n### Counted per session\n");
    let per = |n: u64| n as f64 / sessions.max(1) as f64;
    let operations: Vec<String> = walked
        .dynamodb_operations
        .iter()
        .map(|(op, n)| format!("{op} {}", number(per(*n))))
        .collect();
    let _ = writeln!(out, "- DynamoDB requests: {}", operations.join(", "));
    for (function, lambda) in &walked.usage.lambda {
        let measured = walked
            .measured_ms
            .get(function)
            .copied()
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "- Lambda {function}: {} invocations, {} ms measured + {} ms assumed model waits",
            number(per(lambda.invocations)),
            number(per(measured)),
            number(per(lambda.billed_ms - measured)),
        );
    }
    let _ = writeln!(
        out,
        "- Assumed waits: {ASSUMED_CHAT_CALL_MS} ms per chat model call, {ASSUMED_EMBED_CALL_MS} ms per embedding call"
    );

    let variable = total(&session_bill) * EMPLOYEES as f64 / 1000.0;
    let documents_cost = total(&upload_bill) * DOCUMENTS_A_MONTH as f64 / 1000.0;
    let fixed_paused: f64 = paused.iter().map(|l| l.per_month).sum();
    let fixed_always: f64 = always.iter().map(|l| l.per_month).sum();
    let _ = writeln!(
        out,
        "\n### A {EMPLOYEES}-employee company\n\n\
         {EMPLOYEES} completed sessions (one review cycle): ${variable:.2}; \
         {DOCUMENTS_A_MONTH} documents uploaded: ${documents_cost:.2}; \
         fixed: ${fixed_paused:.2} a month with the database auto-paused (awake {AWAKE_HOURS} h), \
         ${fixed_always:.2} with VectorMinCapacity 0.5.\n\
         A month with the whole cycle in it: **${:.2}** (auto-pause) to **${:.2}** (0.5 ACU always on).",
        variable + documents_cost + fixed_paused,
        variable + documents_cost + fixed_always,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use petraf_core::domain::cost::Usage;

    #[test]
    fn the_report_prices_the_counted_usage() {
        let mut usage = Usage {
            chat_input_tokens: 2 * 10_000,
            chat_output_tokens: 2 * 1_000,
            ..Usage::default()
        };
        usage.invoke(
            "chat-stream",
            256,
            false,
            std::time::Duration::from_millis(10),
        );
        let walked = Counts {
            usage,
            ..Counts::default()
        };
        let text = render(2, &walked, 1, &Counts::default());
        // 10,000 input tokens a session at $1/M = $10 per 1,000; output 1,000 at $5/M = $5.
        assert!(text.contains("| 10.0000 |"), "{text}");
        assert!(text.contains("| 5.0000 |"), "{text}");
        assert!(text.contains("Lambda chat-stream (256 MB)"), "{text}");
        assert!(text.contains(PRICES_AS_OF));
        assert!(text.contains("500-employee company"));
    }
}
