//! Checks on what users send before anything is read or stored: metadata
//! objects (sessions and documents), document categories and file names.

use serde_json::Value;

use super::{AppError, AppResult};
use crate::domain::hygiene;

/// The largest `metadata` object a session or a document may carry,
/// serialised.
pub const MAX_METADATA_BYTES: usize = 2048;

/// `invalid_metadata` unless `metadata` is a JSON object of at most
/// [`MAX_METADATA_BYTES`].
pub fn check_metadata_size(metadata: &Value) -> AppResult<()> {
    if !metadata.is_object() {
        return Err(AppError::bad_request(
            "invalid_metadata",
            "metadata must be a JSON object",
        ));
    }
    if metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err(AppError::bad_request(
            "invalid_metadata",
            format!("metadata must be at most {MAX_METADATA_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A document's metadata: an object within [`MAX_METADATA_BYTES`] whose
/// text holds to the rules of user text ([`clean_metadata`]).
pub fn validate_metadata(metadata: &Value) -> AppResult<()> {
    check_metadata_size(metadata)?;
    check_metadata_text(metadata, None)
}

/// Metadata with its text held to the rules of user text ([`hygiene`]):
/// invisible characters stripped from every key and string, and
/// `invalid_metadata` for characters user text may not hold. The title is
/// a one-line field; other strings may span lines.
pub fn clean_metadata(metadata: Value) -> AppResult<Value> {
    let cleaned = strip_metadata_text(metadata);
    check_metadata_text(&cleaned, None)?;
    Ok(cleaned)
}

fn strip_metadata_text(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(hygiene::strip_invisible(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_metadata_text).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (hygiene::strip_invisible(&k), strip_metadata_text(v)))
                .collect(),
        ),
        other => other,
    }
}

fn check_metadata_text(value: &Value, key: Option<&str>) -> AppResult<()> {
    let refused = |what: &str, c: char| {
        AppError::bad_request(
            "invalid_metadata",
            format!(
                "metadata {what} contains U+{:04X}: control characters, bidirectional overrides, tag characters, interlinear annotations, noncharacters, runs of variation selectors and more than 8 combining marks on one character are not accepted (nor line breaks in the title)",
                c as u32
            ),
        )
    };
    match value {
        Value::String(s) => {
            let bad = if key == Some("title") {
                hygiene::forbidden_in_field(s)
            } else {
                hygiene::forbidden_in_message(s)
            };
            match bad {
                Some(c) => Err(refused(&format!("'{}'", key.unwrap_or("value")), c)),
                None => Ok(()),
            }
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_metadata_text(v, key)),
        Value::Object(map) => {
            map.iter()
                .try_for_each(|(k, v)| match hygiene::forbidden_in_field(k) {
                    Some(c) => Err(refused("key", c)),
                    None => check_metadata_text(v, Some(k)),
                })
        }
        _ => Ok(()),
    }
}

/// A document category, as an OpenAPI pattern: [`validate_category`]'s check.
pub const CATEGORY_PATTERN: &str = "^[a-z0-9_]{1,64}$";

pub fn validate_category(category: &str) -> AppResult<()> {
    let ok = !category.is_empty()
        && category.len() <= 64
        && category
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    ok.then_some(()).ok_or_else(|| {
        AppError::bad_request(
            "invalid_category",
            "category must be 1-64 of a-z, 0-9 and '_'",
        )
    })
}

/// A safe file name: the last path component, printable, at most 200
/// characters, invisible characters stripped (it is a document's title when
/// nothing else names it; [`hygiene`]).
pub fn clean_filename(name: &str) -> AppResult<String> {
    let name = hygiene::strip_invisible(name);
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let ok = !base.is_empty()
        && base != "."
        && base != ".."
        && base.chars().count() <= 200
        && hygiene::forbidden_in_field(base).is_none();
    ok.then(|| base.to_string()).ok_or_else(|| {
        AppError::bad_request(
            "invalid_filename",
            "the file needs a plain name of at most 200 characters",
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_and_categories_are_checked() {
        assert_eq!(clean_filename("../../etc/passwd").unwrap(), "passwd");
        assert!(clean_filename("..").is_err());
        assert!(validate_category("career_framework").is_ok());
        assert!(validate_category("Career Framework").is_err());
    }

    #[test]
    fn metadata_is_an_object_within_its_size() {
        assert!(check_metadata_size(&json!({"team": "sales"})).is_ok());
        assert_eq!(
            check_metadata_size(&json!([1])).unwrap_err().code,
            "invalid_metadata"
        );
        let big = json!({ "notes": "x".repeat(MAX_METADATA_BYTES) });
        let e = check_metadata_size(&big).unwrap_err();
        assert_eq!(e.message, "metadata must be at most 2048 bytes");
    }

    #[test]
    fn metadata_text_follows_the_rules_of_user_text() {
        assert!(validate_metadata(&json!({"title": "Plan\u{202E}"})).is_err());
        assert!(validate_metadata(&json!({"title": "two\nlines"})).is_err());
        assert!(validate_metadata(&json!({"notes": "two\nlines"})).is_ok());
        let cleaned = clean_metadata(json!({"ti\u{200B}tle": "Pl\u{200B}an"})).unwrap();
        assert_eq!(cleaned, json!({"title": "Plan"}));
    }
}
