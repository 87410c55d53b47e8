//! Where each paragraph of a document sits: its page (PDF) or the path of
//! headings above it (Markdown, and the Markdown-like text that Word,
//! PowerPoint and HTML extraction give).

use serde::{Deserialize, Serialize};

/// A paragraph of cleaned text and where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub text: String,
    pub place: Place,
}

/// Where a passage is in its document, as a citation names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// 1-based page number (PDF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Headings above the passage, outermost first, joined by " > ".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

/// The paragraphs of one page.
pub fn page_blocks(text: &str, page: u32) -> Vec<Block> {
    paragraphs(text)
        .map(|p| Block {
            text: p.to_string(),
            place: Place {
                page: Some(page),
                section: None,
            },
        })
        .collect()
}

fn paragraphs(text: &str) -> impl Iterator<Item = &str> {
    text.split("\n\n").map(str::trim).filter(|p| !p.is_empty())
}

/// An ATX heading line ("## Benefits") as (level, text).
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|&c| c == '#').count();
    let rest = &line[level..];
    let ok = (1..=6).contains(&level) && (rest.is_empty() || rest.starts_with(' '));
    ok.then(|| (level, rest.trim().trim_end_matches('#').trim()))
        .filter(|(_, text)| !text.is_empty())
}

/// Markdown paragraphs with their heading paths. Heading lines stay in the
/// text (without the '#' marks) so a chunk shows its own heading.
pub fn markdown_blocks(text: &str) -> Vec<Block> {
    let mut path: Vec<(usize, String)> = vec![];
    let mut blocks = vec![];
    let mut current: Vec<String> = vec![];
    let mut current_section: Option<String> = None;
    let flush = |current: &mut Vec<String>, section: &Option<String>, blocks: &mut Vec<Block>| {
        let text = current.join("\n").trim().to_string();
        current.clear();
        if !text.is_empty() {
            blocks.push(Block {
                text,
                place: Place {
                    page: None,
                    section: section.clone(),
                },
            });
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            flush(&mut current, &current_section, &mut blocks);
            continue;
        }
        if let Some((level, title)) = heading(trimmed) {
            flush(&mut current, &current_section, &mut blocks);
            path.retain(|(l, _)| *l < level);
            path.push((level, title.to_string()));
            current_section = Some(
                path.iter()
                    .map(|(_, t)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(" > "),
            );
            current.push(title.to_string());
            flush(&mut current, &current_section, &mut blocks);
            continue;
        }
        current.push(line.trim_end().to_string());
    }
    flush(&mut current, &current_section, &mut blocks);
    blocks
}

/// The first level-1 heading, else the first heading, as a title.
pub fn markdown_title(blocks: &[Block]) -> Option<String> {
    blocks
        .iter()
        .find_map(|b| b.place.section.as_ref().filter(|s| !s.contains(" > ")))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_give_each_paragraph_its_path() {
        let md = "# Handbook\n\nIntro text.\n\n## Leave\n\nTwenty days.\nMore.\n\n### Parental\n\nSixteen weeks.\n\n## Pay\n\nMonthly.";
        let blocks = markdown_blocks(md);
        let got: Vec<(&str, Option<&str>)> = blocks
            .iter()
            .map(|b| (b.text.as_str(), b.place.section.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Handbook", Some("Handbook")),
                ("Intro text.", Some("Handbook")),
                ("Leave", Some("Handbook > Leave")),
                ("Twenty days.\nMore.", Some("Handbook > Leave")),
                ("Parental", Some("Handbook > Leave > Parental")),
                ("Sixteen weeks.", Some("Handbook > Leave > Parental")),
                ("Pay", Some("Handbook > Pay")),
                ("Monthly.", Some("Handbook > Pay")),
            ]
        );
        assert_eq!(markdown_title(&blocks).as_deref(), Some("Handbook"));
    }

    #[test]
    fn text_before_any_heading_and_hash_words_have_no_section() {
        let blocks = markdown_blocks("#hashtag is not a heading\n\n####### nor this");
        assert!(blocks.iter().all(|b| b.place.section.is_none()));
        assert_eq!(markdown_title(&blocks), None);
    }

    #[test]
    fn pages_split_into_paragraphs() {
        let blocks = page_blocks("First.\n\n\nSecond.\n", 7);
        assert_eq!(blocks.len(), 2);
        assert!(blocks.iter().all(|b| b.place.page == Some(7)));
    }
}
