//! Where each paragraph of a document sits: its page (PDF) or the path of
//! headings above it (Markdown, and the Markdown-like text that Word,
//! PowerPoint and HTML extraction give).

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

use super::clean::{clean_markdown_characters, clean_text};

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

/// A heading as the Markdown parser read it: its level, its text and the
/// source lines it takes (a setext heading's underline among them).
struct Heading {
    level: usize,
    title: String,
    lines: Range<usize>,
}

/// The headings of a Markdown text, wherever CommonMark puts them (ATX or
/// setext, in a block quote or a list), and nothing that only looks like
/// one: a `# comment` in a code block, a `#hashtag`.
fn headings(markdown: &str) -> Vec<Heading> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(markdown.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |offset: usize| line_starts.partition_point(|&start| start <= offset) - 1;
    let mut found = vec![];
    let mut open: Option<(usize, String, Range<usize>)> = None;
    for (event, range) in Parser::new_ext(markdown, options).into_offset_iter() {
        match (event, open.as_mut()) {
            (Event::Start(Tag::Heading { level, .. }), _) => {
                open = Some((level as usize, String::new(), range));
            }
            (Event::End(TagEnd::Heading(_)), Some(_)) => {
                let (level, title, range) = open.take().expect("a heading is open");
                let title = clean_text(&title).replace('\n', " ");
                let last = markdown[..range.end].trim_end().len().max(range.start + 1);
                found.push(Heading {
                    level,
                    title,
                    lines: line_of(range.start)..line_of(last - 1) + 1,
                });
            }
            (Event::Text(text) | Event::Code(text), Some((_, title, _))) => title.push_str(&text),
            (Event::SoftBreak | Event::HardBreak, Some((_, title, _))) => title.push(' '),
            _ => {}
        }
    }
    found.retain(|h| !h.title.is_empty());
    found
}

/// Markdown paragraphs, cleaned, with their heading paths. Headings are
/// what CommonMark says they are; paragraphs end at blank lines as in plain
/// text, and keep their Markdown (list bullets, table pipes, code fences).
/// Heading lines stay in the text as their bare title, so a chunk shows its
/// own heading.
pub fn markdown_blocks(markdown: &str) -> Vec<Block> {
    let markdown = clean_markdown_characters(markdown);
    let mut headings = headings(&markdown).into_iter().peekable();
    let mut path: Vec<(usize, String)> = vec![];
    let mut blocks = vec![];
    let mut current: Vec<&str> = vec![];
    let mut current_section: Option<String> = None;
    let flush = |current: &mut Vec<&str>, section: &Option<String>, blocks: &mut Vec<Block>| {
        let text = clean_text(&current.join("\n"));
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
    let mut lines = markdown.split('\n').enumerate();
    while let Some((number, line)) = lines.next() {
        if line.trim().is_empty() {
            flush(&mut current, &current_section, &mut blocks);
            continue;
        }
        while headings.next_if(|h| h.lines.start < number).is_some() {}
        let Some(heading) = headings.next_if(|h| h.lines.start == number) else {
            current.push(line);
            continue;
        };
        flush(&mut current, &current_section, &mut blocks);
        for _ in number + 1..heading.lines.end {
            lines.next();
        }
        path.retain(|(level, _)| *level < heading.level);
        path.push((heading.level, heading.title.clone()));
        current_section = Some(
            path.iter()
                .map(|(_, title)| title.as_str())
                .collect::<Vec<_>>()
                .join(" > "),
        );
        blocks.push(Block {
            text: heading.title,
            place: Place {
                page: None,
                section: current_section.clone(),
            },
        });
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

    /// Each block as (text, section).
    fn read(md: &str) -> Vec<(String, Option<String>)> {
        markdown_blocks(md)
            .into_iter()
            .map(|b| (b.text, b.place.section))
            .collect()
    }

    fn sections(md: &str) -> Vec<String> {
        let mut found: Vec<String> = vec![];
        for (_, section) in read(md) {
            if let Some(s) = section.filter(|s| found.last() != Some(s)) {
                found.push(s);
            }
        }
        found
    }

    #[test]
    fn comments_in_code_blocks_are_not_headings() {
        for code in [
            "```bash\n# install the tools\napt-get install jq\n\n# then run it\n./run.sh\n```",
            "~~~\n# install the tools\napt-get install jq\n\n# then run it\n./run.sh\n~~~",
            "    # install the tools\n    apt-get install jq\n\n    # then run it\n    ./run.sh",
            "\t# install the tools\n\tapt-get install jq\n\n\t# then run it\n\t./run.sh",
        ] {
            let md = format!("# Setup\n\nFirst:\n\n{code}\n\n## Use\n\nDone.");
            let blocks = read(&md);
            assert_eq!(sections(&md), ["Setup", "Setup > Use"], "{code}");
            for line in ["# install the tools", "# then run it", "./run.sh"] {
                let (_, section) = blocks
                    .iter()
                    .find(|(text, _)| text.contains(line))
                    .unwrap_or_else(|| panic!("{line} kept: {blocks:?}"));
                assert_eq!(section.as_deref(), Some("Setup"), "{code}");
            }
        }
    }

    #[test]
    fn setext_headings_are_sections() {
        let md = "Handbook\n========\n\nIntro.\n\nLeave\n-----\n\nTwenty days.\n\n### Parental\n\nSixteen weeks.";
        assert_eq!(
            read(md),
            [
                ("Handbook", Some("Handbook")),
                ("Intro.", Some("Handbook")),
                ("Leave", Some("Handbook > Leave")),
                ("Twenty days.", Some("Handbook > Leave")),
                ("Parental", Some("Handbook > Leave > Parental")),
                ("Sixteen weeks.", Some("Handbook > Leave > Parental")),
            ]
            .map(|(t, s)| (t.to_string(), s.map(str::to_string)))
        );
        assert_eq!(
            markdown_title(&markdown_blocks(md)).as_deref(),
            Some("Handbook")
        );
    }

    #[test]
    fn closing_hashes_and_inline_marks_leave_the_title() {
        let md = "# Staff *handbook* ##\n\n## Leave `2026` #\n\nTwenty days.";
        assert_eq!(
            read(md).last().unwrap(),
            &(
                "Twenty days.".to_string(),
                Some("Staff handbook > Leave 2026".to_string())
            )
        );
    }

    #[test]
    fn a_heading_in_a_block_quote_is_a_section() {
        let md = "# Policies\n\n> ## Note\n> Ask your manager first.\n\nMore text.";
        assert_eq!(
            read(md),
            [
                ("Policies", Some("Policies")),
                ("Note", Some("Policies > Note")),
                ("> Ask your manager first.", Some("Policies > Note")),
                ("More text.", Some("Policies > Note")),
            ]
            .map(|(t, s)| (t.to_string(), s.map(str::to_string)))
        );
    }

    #[test]
    fn nested_lists_and_tables_keep_their_text() {
        let list = "- Leave\n  - Annual: 25 days\n    - carried over: 5\n  - Parental, booked with\n    ```sh\n    # book it\n    leave book\n    ```\n1. First\n   1. Sub-step";
        let table = "| Grade | Days |\n|---|---|\n| L3 | 25 |\n| L4 | 27 |";
        let md = format!("# Benefits\n\n{list}\n\n{table}\n\nAfter.");
        let blocks = read(&md);
        let clean_list = "- Leave\n- Annual: 25 days\n- carried over: 5\n- Parental, booked with\n```sh\n# book it\nleave book\n```\n1. First\n1. Sub-step";
        assert_eq!(
            blocks,
            [
                ("Benefits", Some("Benefits")),
                (clean_list, Some("Benefits")),
                (table, Some("Benefits")),
                ("After.", Some("Benefits")),
            ]
            .map(|(t, s)| (t.to_string(), s.map(str::to_string)))
        );
    }

    #[test]
    fn front_matter_is_not_a_heading() {
        let md = "---\ntitle: Handbook\n---\n\nIntro.";
        assert!(read(md).iter().all(|(_, section)| section.is_none()));
    }

    #[test]
    fn pages_split_into_paragraphs() {
        let blocks = page_blocks("First.\n\n\nSecond.\n", 7);
        assert_eq!(blocks.len(), 2);
        assert!(blocks.iter().all(|b| b.place.page == Some(7)));
    }
}
