//! What the emulation takes from template.yaml itself, so it cannot drift
//! from what is deployed: each function's binary, memory size and the
//! names of its environment variables (Globals included).

use std::collections::BTreeSet;

pub fn template_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml")
}

/// One `AWS::Serverless::Function` of the template.
#[derive(Debug, Clone)]
pub struct TemplateFunction {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: the bootstrap's binary name.
    pub binary: String,
    pub memory_mb: u32,
    pub variables: BTreeSet<String>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The lines nested under the line at `start` (more indented than it).
fn block(lines: &[&str], start: usize) -> Vec<String> {
    let own = indent(lines[start]);
    lines[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > own)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| l.to_string())
        .collect()
}

fn value_of(lines: &[String], key: &str) -> Option<String> {
    lines.iter().find_map(|l| {
        l.trim()
            .strip_prefix(&format!("{key}:"))
            .map(|v| v.trim().to_string())
    })
}

/// The variable names under the first `Variables:` of `lines`.
fn variables(lines: &[String]) -> BTreeSet<String> {
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let Some(at) = refs.iter().position(|l| l.trim() == "Variables:") else {
        return BTreeSet::new();
    };
    let own = indent(refs[at]);
    block(&refs, at)
        .iter()
        .filter(|l| indent(l) == own + 2)
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

/// The template's functions, with Globals applied.
pub fn functions() -> Vec<TemplateFunction> {
    let text = template_text();
    let lines: Vec<&str> = text.lines().collect();
    let top = |name: &str| {
        lines
            .iter()
            .position(|l| *l == format!("{name}:"))
            .unwrap_or_else(|| panic!("template.yaml has no {name}"))
    };
    let globals = block(&lines, top("Globals"));
    let global_memory: u32 = value_of(&globals, "MemorySize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let global_variables = variables(&globals);
    let resources = block(&lines, top("Resources"));
    let refs: Vec<&str> = resources.iter().map(String::as_str).collect();
    let mut found = vec![];
    for (i, line) in refs.iter().enumerate() {
        if indent(line) != 2 || !line.trim_end().ends_with(':') {
            continue;
        }
        let body = block(&refs, i);
        if value_of(&body, "Type").as_deref() != Some("AWS::Serverless::Function") {
            continue;
        }
        let mut variables_here = global_variables.clone();
        variables_here.extend(variables(&body));
        found.push(TemplateFunction {
            logical_id: line.trim().trim_end_matches(':').to_string(),
            binary: value_of(&body, "Binary").expect("BuildProperties.Binary"),
            memory_mb: value_of(&body, "MemorySize")
                .and_then(|v| v.parse().ok())
                .unwrap_or(global_memory),
            variables: variables_here,
        });
    }
    found
}

pub fn function(binary: &str) -> TemplateFunction {
    functions()
        .into_iter()
        .find(|f| f.binary == binary)
        .unwrap_or_else(|| panic!("template.yaml builds no binary {binary}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_six_functions_and_their_variables() {
        let all = functions();
        let binaries: Vec<&str> = all.iter().map(|f| f.binary.as_str()).collect();
        assert_eq!(
            binaries,
            [
                "session",
                "goals",
                "admin",
                "chat-stream",
                "rag-upload",
                "extract"
            ]
        );
        let session = function("session");
        assert!(session.variables.contains("PETRAF_TABLE_NAME"), "a Global");
        assert!(session.variables.contains("PETRAF_JWT_SECRET_ARN"));
        assert!(!session.variables.contains("PETRAF_PLATFORM_ADMIN_KEY_ARN"));
        assert!(
            session.variables.contains("PETRAF_MODEL_PROVIDER"),
            "a saved profile embeds"
        );
        assert!(
            !function("goals")
                .variables
                .contains("PETRAF_MODEL_PROVIDER")
        );
        assert!(
            function("admin")
                .variables
                .contains("PETRAF_PLATFORM_ADMIN_KEY_ARN")
        );
        assert!(function("admin").memory_mb > session.memory_mb);
        // The extraction worker's room.
        assert!(function("extract").memory_mb > function("admin").memory_mb);
        assert!(
            function("admin")
                .variables
                .contains("PETRAF_EXTRACT_FUNCTION")
        );
    }
}
