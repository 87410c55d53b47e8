//! Identifiers: ULIDs everywhere we mint one.

use std::sync::Mutex;

use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A new ULID, as its canonical 26-character string. Ids minted by one
/// process sort in the order they were minted, even within a millisecond
/// (a plain `Ulid::new()` is random there).
pub fn new_id() -> String {
    static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    generator
        .generate()
        .unwrap_or_else(|_| ulid::Ulid::new())
        .to_string()
}

/// Whether `s` is a ULID as [`new_id`] writes it (what session and message
/// ids look like): 26 upper-case Crockford base-32 characters, the first at
/// most `7` (a larger one would not fit 128 bits). Lower case and the
/// letters Crockford reads as digits are refused rather than normalised:
/// ids are looked up byte for byte.
pub fn is_ulid(s: &str) -> bool {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bytes = s.as_bytes();
    bytes.len() == 26
        && (b'0'..=b'7').contains(&bytes[0])
        && bytes.iter().all(|b| ALPHABET.contains(b))
}

// The ids' OpenAPI schemas: each pattern is the server's own check
// (`http::contract`'s tests hold them together).

/// A ULID as the server mints it: 26 Crockford base-32 characters,
/// upper case, the first at most `7` (128 bits).
pub const ULID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$";
/// A tenant id: 1-64 letters, digits or `-` (minted ones are ULIDs; UUIDs fit).
pub const TENANT_ID_PATTERN: &str = "^[A-Za-z0-9-]{1,64}$";
/// A document id: 26 lower-case hex characters (an upload: derived from its
/// tenant, category and bytes) or a ULID (a presigned drop-folder upload).
pub const DOCUMENT_ID_PATTERN: &str = "^(?:[0-9a-f]{26}|[0-7][0-9A-HJKMNP-TV-Z]{25})$";

/// A string schema: its pattern, its lengths in characters if any, what
/// it is and an example.
pub fn string_schema(
    pattern: &str,
    lengths: Option<(usize, usize)>,
    description: &str,
    example: &str,
) -> RefOr<Schema> {
    let mut schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .examples([json!(example)]);
    if let Some((min, max)) = lengths {
        schema = schema.min_length(Some(min)).max_length(Some(max));
    }
    schema.into()
}

/// A schema-only type (`ToSchema`, named after itself) for a string:
/// `string_schema_type!(Name, pattern, lengths, description, example)`.
macro_rules! string_schema_type {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $lengths:expr, $description:expr, $example:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::domain::ids::string_schema($pattern, $lengths, $description, $example)
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
}
pub(crate) use string_schema_type;

string_schema_type!(
    /// A session's id (a ULID).
    SessionId,
    ULID_PATTERN,
    None,
    "A session's id: a ULID (26 characters, upper case)",
    "01HN8X9QJ5ABCDEF123456789A"
);
string_schema_type!(
    /// A message's id (a ULID): the transcript's cursor.
    MessageId,
    ULID_PATTERN,
    None,
    "A message's id: a ULID (26 characters, upper case)",
    "01HN8X9QJ5ABCDEF123456789B"
);
string_schema_type!(
    /// A tenant's id.
    TenantId,
    TENANT_ID_PATTERN,
    None,
    "A tenant's id: 1-64 letters, digits or `-` (a ULID or a UUID)",
    "550e8400-e29b-41d4-a716-446655440000"
);
string_schema_type!(
    /// A document's id.
    DocumentId,
    DOCUMENT_ID_PATTERN,
    None,
    "A document's id: 26 lower-case hex characters (an upload) or a ULID (a drop-folder upload)",
    "3f1c2a9b8d7e6f5a4b3c2d1e0f"
);

#[cfg(test)]
mod tests {
    #[test]
    fn new_ids_are_ulids_unique_and_ordered() {
        let ids: Vec<String> = (0..1000).map(|_| super::new_id()).collect();
        assert!(ids.iter().all(|id| super::is_ulid(id)));
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids sort in minting order"
        );
        assert!(!super::is_ulid("01HN8X9QJ5ABCDEF123456789"));
        assert!(!super::is_ulid("../../etc/passwd"));
        assert!(super::is_ulid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
        assert!(
            !super::is_ulid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"),
            "over 128 bits"
        );
        assert!(
            !super::is_ulid("01hn8x9qj5abcdef123456789a"),
            "not as minted"
        );
    }
}
