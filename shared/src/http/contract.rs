//! The precise parts of the OpenAPI document that many operations share, so
//! that every annotation states what the server enforces the same way.
//!
//! For a new endpoint:
//! - an id in the path or the query names its schema, never a bare `String`:
//!   `params(("id" = SessionId, Path, description = "…"))`, or in an
//!   `IntoParams` struct `#[param(value_type = Option<TenantId>)]`; in a body
//!   `#[schema(value_type = SessionId)]`. Each schema's pattern is the very
//!   check the server runs (see the tests below).
//! - a closed set is an enum with `ToSchema` (`ChatPhase`, `StepName`, …);
//!   lengths and ranges are `min_length`/`max_length`/`minimum`/`maximum`;
//!   a body whose type has `#[serde(deny_unknown_fields)]` says so with
//!   `#[schema(additional_properties = false)]` (the `strict_bodies` test in
//!   `openapi.rs` holds the two together).
//! - every error response lists each `code` it may carry in backticks in its
//!   description (`` `invalid_limits`: a field out of range ``); the document
//!   turns them, with the codes the security and body imply, into that
//!   response's `error.code` enum ([`error_codes`]), so schemathesis holds
//!   the server to the list. Write other words without backticks.

use std::borrow::Cow;

use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};

pub use crate::domain::hygiene::{FIELD_TEXT_PATTERN, MESSAGE_TEXT_PATTERN};
pub use crate::domain::ids::{
    DOCUMENT_ID_PATTERN, DocumentId, MessageId, SessionId, TENANT_ID_PATTERN, TenantId,
    ULID_PATTERN,
};

/// A bound of a time range: an RFC 3339 instant or a day (`2026-12-06`).
pub struct InstantOrDay;

impl utoipa::PartialSchema for InstantOrDay {
    fn schema() -> RefOr<Schema> {
        let of = |format: KnownFormat| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        OneOfBuilder::new()
            .item(of(KnownFormat::DateTime))
            .item(of(KnownFormat::Date))
            .description(Some("An RFC 3339 instant or a day (UTC)"))
            .examples([json!("2026-12-06T09:30:00Z"), json!("2026-12-06")])
            .into()
    }
}

impl utoipa::ToSchema for InstantOrDay {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("InstantOrDay")
    }
}

/// The upload-url request's `filename`, as an OpenAPI pattern: text as an
/// optional field may hold it, ending in an extension of
/// [`NAME_EXTENSIONS`] in any case (the checks of
/// `validation::clean_filename` and `detect::format_of_name`).
///
/// [`NAME_EXTENSIONS`]: crate::extraction::detect::NAME_EXTENSIONS
pub fn upload_filename_pattern() -> String {
    use crate::domain::hygiene::OPTIONAL_FIELD_TEXT_PATTERN;
    let text = OPTIONAL_FIELD_TEXT_PATTERN
        .strip_suffix('$')
        .expect("an anchored pattern");
    let any_case = |extension: &str| -> String {
        extension
            .chars()
            .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c))
            .collect()
    };
    let extensions: Vec<String> = crate::extraction::detect::NAME_EXTENSIONS
        .iter()
        .map(|(extension, _)| any_case(extension))
        .collect();
    format!("{text}\\.(?:{})\\s*$", extensions.join("|"))
}

/// The error codes an error response's description names: every
/// backticked `snake_case` word, in order, once.
pub fn error_codes(description: &str) -> Vec<String> {
    let mut codes: Vec<String> = vec![];
    for (i, part) in description.split('`').enumerate() {
        let quoted = i % 2 == 1;
        let is_code = !part.is_empty()
            && part.starts_with(|c: char| c.is_ascii_lowercase())
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if quoted && is_code && !codes.iter().any(|c| c == part) {
            codes.push(part.to_string());
        }
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, value: &str) -> bool {
        regex::Regex::new(pattern).unwrap().is_match(value)
    }

    #[test]
    fn the_ulid_pattern_is_the_server_s_check() {
        let minted: Vec<String> = (0..200).map(|_| crate::domain::ids::new_id()).collect();
        for id in &minted {
            assert!(matches(ULID_PATTERN, id), "{id}");
            assert!(crate::domain::ids::is_ulid(id));
        }
        for (value, valid) in [
            ("01HN8X9QJ5ABCDEF123456789A", true),
            ("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", true),
            ("8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false),
            ("01hn8x9qj5abcdef123456789a", false),
            ("01HN8X9QJ5ABCDEF123456789", false),
            ("01HN8X9QJ5ABCDEF123456789AB", false),
            ("01HN8X9QJ5ABCDEF12345678IL", false),
            ("01HN8X9QJ5ABCDEF12345678OU", false),
            ("", false),
        ] {
            assert_eq!(matches(ULID_PATTERN, value), valid, "{value}");
            assert_eq!(crate::domain::ids::is_ulid(value), valid, "{value}");
        }
    }

    #[test]
    fn the_category_pattern_is_the_server_s_check() {
        use crate::app::validation::{CATEGORY_PATTERN, validate_category};
        let longest = "a".repeat(64);
        let too_long = "a".repeat(65);
        for value in [
            "career_framework",
            "0",
            longest.as_str(),
            too_long.as_str(),
            "",
            "Career",
            "career-framework",
            "a b",
            "é",
        ] {
            assert_eq!(
                matches(CATEGORY_PATTERN, value),
                validate_category(value).is_ok(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn the_filename_pattern_takes_every_extension_the_reader_knows() {
        use crate::app::validation::clean_filename;
        use crate::extraction::detect::{NAME_EXTENSIONS, format_of_name};
        let pattern = upload_filename_pattern();
        let server = |name: &str| clean_filename(name).is_ok() && format_of_name(name).is_ok();
        for (extension, _) in NAME_EXTENSIONS {
            for name in [
                format!("Career framework.{extension}"),
                format!("HANDBOOK.{}", extension.to_ascii_uppercase()),
            ] {
                assert!(matches(&pattern, &name), "{name} against {pattern}");
                assert!(server(&name), "{name}");
            }
        }
        for name in [
            "handbook.doc",
            "handbook.exe",
            "handbook.pdf.exe",
            "handbook",
            "handbook.",
            "hand\u{202E}fdp.exe",
            "line\nbreak.pdf",
        ] {
            assert!(!matches(&pattern, name), "{name:?} against {pattern}");
            assert!(!server(name), "{name:?}");
        }
    }

    #[test]
    fn the_tenant_id_pattern_is_the_server_s_check() {
        let long = "a".repeat(64);
        let too_long = "a".repeat(65);
        for value in [
            "550e8400-e29b-41d4-a716-446655440000",
            "01HN8X9QJ5ABCDEF123456789A",
            "t",
            long.as_str(),
            "",
            too_long.as_str(),
            "a b",
            "a/b",
            "ä",
            "a_b",
        ] {
            assert_eq!(
                matches(TENANT_ID_PATTERN, value),
                crate::app::tenants::valid_tenant_id(value),
                "{value}"
            );
        }
    }

    #[test]
    fn the_document_id_pattern_takes_both_kinds_of_id() {
        let uploaded = crate::domain::document::upload_document_id("t", "values", "abc");
        let dropped = crate::domain::ids::new_id();
        assert!(matches(DOCUMENT_ID_PATTERN, &uploaded), "{uploaded}");
        assert!(matches(DOCUMENT_ID_PATTERN, &dropped), "{dropped}");
        for value in [
            "",
            "../etc",
            "3F1C2A9B8D7E6F5A4B3C2D1E0U",
            "3f1c2a9b8d7e6f5a4b3c2d1e0",
        ] {
            assert!(!matches(DOCUMENT_ID_PATTERN, value), "{value}");
            assert!(!crate::app::documents::valid_document_id(value), "{value}");
        }
        assert!(crate::app::documents::valid_document_id(&uploaded));
        assert!(crate::app::documents::valid_document_id(&dropped));
    }

    #[test]
    fn codes_are_the_backticked_snake_case_words() {
        assert_eq!(
            error_codes(
                "`invalid_limits`: a field out of range; `missing_token`, `invalid_token` (`Retry-After`), `invalid_limits`"
            ),
            ["invalid_limits", "missing_token", "invalid_token"]
        );
        assert!(error_codes("The state store does not answer").is_empty());
    }
}
