//! HTML through html2text, after size and nesting checks: its tree builder
//! slows to a crawl on pathological nesting, so that is refused first.

use super::{from_markdown, plausible_title};
use crate::extraction::{ExtractFailure, Extracted, Limits};

/// Elements that never hold others.
const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

pub fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractFailure> {
    if bytes.len() > limits.max_html_bytes {
        return Err(ExtractFailure::TooLarge(format!(
            "HTML pages may be at most {} MiB",
            limits.max_html_bytes >> 20
        )));
    }
    let html = String::from_utf8_lossy(bytes);
    let depth = nesting_depth(&html);
    if depth > limits.max_html_depth {
        return Err(ExtractFailure::TooLarge(format!(
            "its elements nest {depth} deep (or are left open); at most {} is read",
            limits.max_html_depth
        )));
    }
    let text = html2text::config::plain()
        .link_footnotes(false)
        .string_from_read(html.as_bytes(), 100_000)
        .map_err(|e| ExtractFailure::Corrupt(e.to_string()))?;
    Ok(from_markdown(&text, page_title(&html)))
}

/// How deep elements nest, counting unclosed ones as open; a linear scan
/// that is enough to refuse pathological input before parsing it.
pub fn nesting_depth(html: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'<') {
        let start = i + offset + 1;
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(bytes.len(), |e| start + e);
        let tag = &html[start..end];
        i = (end + 1).min(bytes.len());
        if let Some(name) = tag.strip_prefix('/') {
            if !is_void(name) {
                depth = depth.saturating_sub(1);
            }
        } else if tag.starts_with(|c: char| c.is_ascii_alphabetic())
            && !tag.ends_with('/')
            && !is_void(tag)
        {
            depth += 1;
            deepest = deepest.max(depth);
        }
        if i >= bytes.len() {
            break;
        }
    }
    deepest
}

fn is_void(tag: &str) -> bool {
    let name: String = tag
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    VOID.contains(&name.as_str())
}

/// The page's `<title>`.
fn page_title(html: &str) -> Option<String> {
    let head = &html[..floor_char_boundary(html, 64 * 1024)];
    let lower = head.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    plausible_title(&head[open_end..close])
}

fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_open_elements_and_skips_void_ones() {
        assert_eq!(
            nesting_depth("<html><body><p>a<br>b</p><img src=x></body></html>"),
            3
        );
        assert_eq!(nesting_depth(&"<div>".repeat(1000)), 1000);
        assert_eq!(nesting_depth(&"<b>x</b>".repeat(1000)), 1);
        assert_eq!(nesting_depth("a < b and <br/> <!-- c -->"), 0);
    }

    #[test]
    fn headings_lists_and_title_survive() {
        let html = "<html><head><title>Staff Handbook</title><style>p{color:red}</style></head><body><h1>Leave</h1><p>Twenty days of leave.</p><ul><li>Parental leave</li></ul><h2>Pay</h2><p>Paid monthly.</p></body></html>";
        let doc = extract(html.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Staff Handbook"));
        let text = doc.text();
        assert!(text.contains("Twenty days of leave."), "{text}");
        assert!(text.contains("Parental leave"), "{text}");
        assert!(!text.contains("color"), "{text}");
        let pay = doc
            .blocks
            .iter()
            .find(|b| b.text.contains("Paid monthly"))
            .unwrap();
        assert_eq!(pay.place.section.as_deref(), Some("Leave > Pay"));
    }

    #[test]
    fn pathological_nesting_is_refused_before_parsing() {
        let html = "<div>".repeat(10_000);
        assert!(matches!(
            extract(html.as_bytes(), &Limits::default()),
            Err(ExtractFailure::TooLarge(_))
        ));
    }
}
