//! What each Lambda function wires (`config::Uses`, in its `main.rs`)
//! decides both what its role may call and what its build links:
//! - every AWS operation the adapters' source calls is granted, in
//!   `template.yaml`, to each function that wires that adapter, and nothing
//!   to one that does not (an operation this test does not know yet fails
//!   it too, so a new call cannot slip in without its IAM action);
//! - each function's `Cargo.toml` turns on exactly the adapter features its
//!   wiring needs (it is built from its own directory, so nothing else
//!   turns them on for it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use petraf_core::config::Uses;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The Rust sources under `relative` (a file or a folder), without their
/// `#[cfg(test)]` modules.
fn sources(relative: &str) -> String {
    let path = repo().join(relative);
    let mut files = vec![];
    if path.is_dir() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    } else {
        files.push(path);
    }
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An SDK operation (as its fluent-builder method) and the IAM actions it
/// needs; `None` for operations no function may call (migrate-only or
/// never used).
struct Operation {
    method: &'static str,
    actions: Option<&'static [&'static str]>,
}

const fn op(method: &'static str, actions: &'static [&'static str]) -> Operation {
    Operation {
        method,
        actions: Some(actions),
    }
}

const fn forbidden(method: &'static str) -> Operation {
    Operation {
        method,
        actions: None,
    }
}

const DYNAMODB: &[Operation] = &[
    op(".get_item()", &["dynamodb:GetItem"]),
    op(".batch_get_item()", &["dynamodb:BatchGetItem"]),
    op(".query()", &["dynamodb:Query"]),
    op(".put_item()", &["dynamodb:PutItem"]),
    op(".update_item()", &["dynamodb:UpdateItem"]),
    op(".delete_item()", &["dynamodb:DeleteItem"]),
    // TransactWriteItems needs the action of every kind of item it writes.
    op("Put::builder()", &["dynamodb:PutItem"]),
    op("Update::builder()", &["dynamodb:UpdateItem"]),
    op("Delete::builder()", &["dynamodb:DeleteItem"]),
    op(
        "ConditionCheck::builder()",
        &["dynamodb:ConditionCheckItem"],
    ),
    op(".transact_get_items()", &["dynamodb:GetItem"]),
    forbidden(".scan()"),
    forbidden(".batch_write_item()"),
    forbidden(".execute_statement()"),
    forbidden(".delete_table()"),
];
/// `petraf migrate` only, run with an operator's credentials.
const DYNAMODB_MIGRATE: &[&str] = &[
    ".create_table()",
    ".describe_table()",
    ".update_time_to_live()",
    ".describe_time_to_live()",
];

const S3: &[Operation] = &[
    op(".get_object()", &["s3:GetObject"]),
    op(".head_object()", &["s3:GetObject"]),
    op(".put_object()", &["s3:PutObject"]),
    op(".delete_object()", &["s3:DeleteObject"]),
    forbidden(".list_objects_v2()"),
    forbidden(".copy_object()"),
    forbidden(".delete_objects()"),
    forbidden(".put_bucket_policy()"),
];
/// What rag-upload does with the bucket: it only reads the dropped object.
const S3_DROP_FOLDER: &[&str] = &["s3:GetObject"];

const RDS_DATA: &[Operation] = &[
    op(".execute_statement()", &["rds-data:ExecuteStatement"]),
    op(
        ".batch_execute_statement()",
        &["rds-data:BatchExecuteStatement"],
    ),
    op(".begin_transaction()", &["rds-data:BeginTransaction"]),
    op(".commit_transaction()", &["rds-data:CommitTransaction"]),
    op(".rollback_transaction()", &["rds-data:RollbackTransaction"]),
];

const BEDROCK: &[Operation] = &[
    op(".converse()", &["bedrock:InvokeModel"]),
    op(
        ".converse_stream()",
        &["bedrock:InvokeModelWithResponseStream"],
    ),
    op(".invoke_model()", &["bedrock:InvokeModel"]),
    op(
        ".invoke_model_with_response_stream()",
        &["bedrock:InvokeModelWithResponseStream"],
    ),
];

/// The IAM actions `source` needs from one service's operations.
fn needed(source: &str, service: &[Operation], ignore: &[&str]) -> BTreeSet<&'static str> {
    let mut actions = BTreeSet::new();
    for operation in service {
        if !source.contains(operation.method) || ignore.contains(&operation.method) {
            continue;
        }
        match operation.actions {
            Some(list) => actions.extend(list.iter().copied()),
            None => panic!(
                "the adapters call {}, which no function is granted: add its IAM action here and in template.yaml",
                operation.method
            ),
        }
    }
    actions
}

/// The text of one resource of the template: from its name to the next
/// resource at the same indentation.
fn resource<'a>(template: &'a str, name: &str) -> &'a str {
    let header = format!("\n  {name}:\n");
    let start = template
        .find(&header)
        .unwrap_or_else(|| panic!("template.yaml has no resource {name}"))
        + 1;
    let rest = &template[start + header.len() - 1..];
    let end = rest
        .match_indices("\n  ")
        .find(|(i, _)| {
            let line = rest[i + 3..].lines().next().unwrap_or_default();
            !line.starts_with(' ') && !line.starts_with('#') && line.ends_with(':')
        })
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    &template[start..start + header.len() - 1 + end]
}

/// Everything a function's role grants: its own statements and those of
/// the managed policies it references.
fn grants(template: &str, function: &str) -> String {
    let body = resource(template, function);
    let mut all = body.to_string();
    for policy in [
        "StateTableAccess",
        "VectorAccess",
        "JwtSecretAccess",
        "ModelAccess",
    ] {
        if body.contains(&format!("!Ref {policy}")) {
            all.push_str(resource(template, policy));
        }
    }
    // Comments grant nothing.
    all.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_granted(template: &str, function: &str, actions: &BTreeSet<&str>) {
    let granted = grants(template, function);
    for action in actions {
        assert!(
            granted.contains(action),
            "{function} calls {action} but its role does not grant it"
        );
    }
}

/// The five functions that serve routes and events: template resource, binary (`functions/<binary>`)
/// and what its `main.rs` wires.
const FUNCTIONS: [(&str, &str, Uses); 5] = [
    ("SessionFunction", "session", Uses::SESSIONS),
    ("GoalsFunction", "goals", Uses::GOALS),
    ("ChatStreamFunction", "chat-stream", Uses::CHAT),
    ("AdminFunction", "admin", Uses::ADMIN),
    ("RagUploadFunction", "rag-upload", Uses::DROP_FOLDER),
];

#[test]
fn each_function_wires_what_its_main_names() {
    for (_, binary, uses) in FUNCTIONS {
        let main = read(&format!("functions/{binary}/src/main.rs"));
        let named = [
            ("Uses::SESSIONS", Uses::SESSIONS),
            ("Uses::GOALS", Uses::GOALS),
            ("Uses::CHAT", Uses::CHAT),
            ("Uses::ADMIN", Uses::ADMIN),
            ("Uses::DROP_FOLDER", Uses::DROP_FOLDER),
        ]
        .into_iter()
        .filter(|(name, _)| main.contains(name))
        .map(|(_, u)| u)
        .collect::<Vec<_>>();
        assert_eq!(named, [uses], "functions/{binary}/src/main.rs");
    }
}

#[test]
fn iam_every_aws_call_of_a_functions_adapters_is_granted_to_it() {
    let template = read("template.yaml");
    let dynamodb = needed(&sources("shared/src/adapters/dynamodb"), DYNAMODB, &[]);
    for migrate_only in DYNAMODB_MIGRATE {
        assert!(
            !sources("shared/src/adapters/dynamodb")
                .replace(&sources("shared/src/adapters/dynamodb/table.rs"), "")
                .contains(migrate_only),
            "{migrate_only} is for `petraf migrate` (table.rs) only"
        );
    }
    let s3 = needed(&sources("shared/src/adapters/s3.rs"), S3, &[]);
    // A presigned PUT is signed with the admin role's credentials.
    let mut s3_admin = s3.clone();
    s3_admin.insert("s3:PutObject");
    let rds_data = needed(&sources("shared/src/adapters/pgvector"), RDS_DATA, &[]);
    let chat_model = needed(
        &sources("shared/src/adapters/bedrock/chat_model.rs"),
        BEDROCK,
        &[],
    );
    let embedder = needed(
        &sources("shared/src/adapters/bedrock/embedder.rs"),
        BEDROCK,
        &[],
    );
    assert!(dynamodb.contains("dynamodb:GetItem") && rds_data.len() == 5);
    assert!(chat_model.contains("bedrock:InvokeModelWithResponseStream"));

    for (function, _, uses) in FUNCTIONS {
        assert_granted(&template, function, &dynamodb);
        if uses.vectors {
            assert_granted(&template, function, &rds_data);
        }
        if uses.embedder {
            assert_granted(&template, function, &embedder);
        }
        if uses.chat_model {
            assert_granted(&template, function, &chat_model);
        }
    }
    assert_granted(&template, "AdminFunction", &s3_admin);
    assert_granted(
        &template,
        "RagUploadFunction",
        &S3_DROP_FOLDER.iter().copied().collect(),
    );
}

#[test]
fn iam_no_role_is_granted_what_the_code_never_calls() {
    let template = read("template.yaml");
    for never in [
        "dynamodb:Scan",
        "dynamodb:BatchWriteItem",
        "DynamoDBCrudPolicy",
        "S3CrudPolicy",
    ] {
        assert!(!template.contains(never), "template.yaml grants {never}");
    }
    for line in template.lines().filter(|l| l.contains("Action")) {
        let wildcard = line
            .split(|c: char| c.is_whitespace() || "[],\"".contains(c))
            .any(|token| token.ends_with(":*") || token == "*");
        assert!(!wildcard, "a wildcard action: {line}");
    }
    // A function holds a right only when it wires the adapter that uses it.
    for (function, _, uses) in FUNCTIONS {
        let granted = grants(&template, function);
        let model = uses.embedder || uses.chat_model;
        assert_eq!(granted.contains("bedrock:"), model, "{function}: bedrock");
        assert_eq!(
            granted.contains("InvokeModelWithResponseStream"),
            uses.chat_model,
            "{function}: the streamed coach"
        );
        assert_eq!(granted.contains("rds-data:"), uses.vectors, "{function}");
        assert_eq!(granted.contains("s3:"), uses.objects, "{function}");
        assert_eq!(
            granted.contains("PlatformAdminKey"),
            uses.platform_key,
            "{function}: the platform key"
        );
        assert_eq!(
            granted.contains("JwtSecretAccess"),
            uses.tokens,
            "{function}: the JWT secret"
        );
    }
}

/// The extract function (no `Uses`): the parsers, and the presigned URLs
/// its invokers hand it; no grant, no AWS SDK.
#[test]
fn the_extract_function_alone_links_the_parsers_and_is_invoked_by_whoever_stores_documents() {
    let template = read("template.yaml");
    let features = core_features("extract");
    assert_eq!(
        features,
        ["extraction", "lambda", "staging-transfer"]
            .map(String::from)
            .into(),
        "functions/extract/Cargo.toml"
    );
    for (function, binary, uses) in FUNCTIONS {
        assert!(
            !core_features(binary).contains("extraction"),
            "{binary} links the parsers"
        );
        let granted = grants(&template, function);
        assert_eq!(
            granted.contains("lambda:InvokeFunction"),
            uses.objects,
            "{function}: invoking the extract function"
        );
        // The invoker stages, and its role signs the extract function's URLs.
        assert_eq!(
            granted.contains("/extraction/*"),
            uses.objects,
            "{function}: staging for the extract function"
        );
        assert_eq!(
            granted.contains("PETRAF_EXTRACT_FUNCTION: !Ref ExtractFunction"),
            uses.objects,
            "{function}: naming the extract function"
        );
    }
    let extract = grants(&template, "ExtractFunction");
    // The bucket's name, not a grant: the URLs it accepts are its.
    assert!(
        extract.contains(
            "PETRAF_DOCUMENT_BUCKET: !Sub \"petraf-documents-${AWS::AccountId}-${AWS::Region}\""
        ),
        "{extract}"
    );
    for foreign in [
        "Policies",
        "s3:",
        "dynamodb:",
        "rds-data:",
        "bedrock:",
        "secretsmanager:",
        "lambda:",
    ] {
        assert!(
            !extract.contains(foreign),
            "the extract function is granted or told {foreign}: {extract}"
        );
    }
}

/// The `petraf-core` features a function's Cargo.toml turns on.
fn core_features(binary: &str) -> BTreeSet<String> {
    let manifest = read(&format!("functions/{binary}/Cargo.toml"));
    let line = manifest
        .lines()
        .find(|l| l.starts_with("petraf-core"))
        .unwrap_or_else(|| panic!("functions/{binary}/Cargo.toml has no petraf-core"));
    let list = line
        .split_once("features = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .unwrap_or_default();
    list.split(',')
        .map(|f| f.trim().trim_matches('"').to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

#[test]
fn each_function_is_built_with_exactly_the_adapters_it_wires() {
    for (_, binary, uses) in FUNCTIONS {
        let model = uses.embedder || uses.chat_model;
        let mut wanted = vec!["lambda", "dynamodb"];
        // Secrets Manager: the JWT secret, the platform key, the OpenAI key.
        if uses.tokens || uses.platform_key || model {
            wanted.push("secrets-manager");
        }
        if uses.vectors {
            wanted.push("pgvector");
        }
        // What stores documents also reads them: through the extract function.
        if uses.objects {
            wanted.extend(["s3", "extract-function"]);
        }
        // The provider is a deployment parameter: both are built in.
        if model {
            wanted.extend(["openai", "bedrock"]);
        }
        let wanted: BTreeSet<String> = wanted.into_iter().map(String::from).collect();
        assert_eq!(
            core_features(binary),
            wanted,
            "functions/{binary}/Cargo.toml"
        );
    }
}
