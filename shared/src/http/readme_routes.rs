//! The README and the OpenAPI document agree: every `METHOD /api/…` the
//! README names (its API table and its prose) is a documented operation.

use std::collections::BTreeSet;

use super::openapi::document;

/// A path template with every `{parameter}` as `{}`: the README may call
/// a tenant `{id}` where the document says `{tenant_id}`.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out.trim_end_matches('/').to_string()
}

/// Every `METHOD /api/path` in `text`, the path cut at its query or options.
fn named_routes(text: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let needle = format!("{method} /api/");
        for (at, _) in text.match_indices(&needle) {
            let path: String = text[at + method.len() + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/{}_.-".contains(*c))
                .collect();
            found.insert((method.to_lowercase(), shape(&path)));
        }
    }
    found
}

#[test]
fn every_route_the_readme_names_is_in_the_openapi_document() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), shape(path)))
        })
        .collect();
    let readme = include_str!("../../../README.md");
    let named = named_routes(readme);
    assert!(
        named.len() > 20,
        "the README's API table is read: {named:?}"
    );
    let missing: Vec<_> = named.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "the README names routes the OpenAPI document does not have: {missing:?}"
    );
}

#[test]
fn routes_are_read_with_their_parameters_and_without_their_queries() {
    let named = named_routes(
        "| `GET /api/goals/session/{id}?final_only=true` | x |\n`PUT /api/admin/tenants/{id}/limits` is gone",
    );
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        [
            ("get".to_string(), "/api/goals/session/{}".to_string()),
            (
                "put".to_string(),
                "/api/admin/tenants/{}/limits".to_string()
            ),
        ]
    );
}
