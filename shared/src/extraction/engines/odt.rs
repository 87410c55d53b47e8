//! OpenDocument text (.odt): the archive checked like an Office file, then
//! one linear walk over `content.xml` that writes Markdown-like text —
//! headings with their outline level, list items, table rows, footnotes,
//! text boxes — and leaves out tracked deletions and comments.

use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::office::check_archive;
use super::{from_markdown, plausible_title, too_many_chars};
use crate::extraction::{DocumentFormat, ExtractFailure, Extracted, Limits};

pub fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractFailure> {
    check_archive(DocumentFormat::Odt, bytes, limits)?;
    let content = part(bytes, "content.xml")?.unwrap_or_default();
    let markdown = content_markdown(&content, limits.max_chars)?;
    let title = part(bytes, "meta.xml")?
        .and_then(|meta| meta_title(&meta))
        .and_then(|t| plausible_title(&t));
    Ok(from_markdown(&markdown, title))
}

/// A part of the archive as text (its size was checked by `check_archive`).
fn part(bytes: &[u8], name: &str) -> Result<Option<String>, ExtractFailure> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ExtractFailure::Corrupt(format!("not a readable ZIP archive: {e}")))?;
    let Ok(mut file) = archive.by_name(name) else {
        return Ok(None);
    };
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| ExtractFailure::Corrupt(format!("{name} could not be read: {e}")))?;
    Ok(Some(text))
}

/// Elements whose content is not the document's text: tracked deletions
/// (kept in `text:tracked-changes`), comments, footnote numbers, and
/// declarations.
const SKIPPED: [&str; 6] = [
    "text:tracked-changes",
    "office:annotation",
    "text:note-citation",
    "text:sequence-decls",
    "office:automatic-styles",
    "office:font-face-decls",
];

/// What is being written.
#[derive(Default)]
struct Writer {
    out: String,
    /// Paragraphs open, innermost last (a footnote sits inside one).
    paragraphs: Vec<String>,
    /// Cells of the table row being read, when one is.
    row: Option<Vec<String>>,
    list_depth: usize,
    /// A list item's first paragraph gets its bullet.
    bullet_pending: bool,
    chars: usize,
}

impl Writer {
    fn open_paragraph(&mut self, heading_level: Option<usize>) {
        let mut text = String::new();
        if let Some(level) = heading_level {
            text.push_str(&"#".repeat(level.clamp(1, 6)));
            text.push(' ');
        } else if self.bullet_pending && self.row.is_none() {
            text.push_str(&"  ".repeat(self.list_depth.saturating_sub(1)));
            text.push_str("- ");
        }
        self.bullet_pending = false;
        self.paragraphs.push(text);
    }

    fn close_paragraph(&mut self) {
        let Some(text) = self.paragraphs.pop() else {
            return;
        };
        let text = text.trim_end();
        if let Some(cells) = self.row.as_mut().filter(|_| self.paragraphs.is_empty()) {
            match cells.last_mut() {
                Some(cell) if !cell.is_empty() => {
                    cell.push(' ');
                    cell.push_str(text.trim());
                }
                Some(cell) => cell.push_str(text.trim()),
                None => cells.push(text.trim().to_string()),
            }
        } else if !text.trim().is_empty() {
            self.out.push_str(text);
            self.out.push_str("\n\n");
        }
    }

    fn text(&mut self, text: &str) {
        self.chars += text.len();
        if let Some(paragraph) = self.paragraphs.last_mut() {
            paragraph.push_str(text);
        }
    }

    fn close_row(&mut self) {
        if let Some(cells) = self.row.take()
            && cells.iter().any(|c| !c.is_empty())
        {
            // Rows stay together (one line each), a table is one passage.
            self.out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
}

/// `content.xml` as Markdown-like text.
fn content_markdown(xml: &str, max_chars: usize) -> Result<String, ExtractFailure> {
    let mut reader = Reader::from_str(xml);
    let mut writer = Writer::default();
    let mut skipping = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| ExtractFailure::Corrupt(format!("content.xml is not well-formed: {e}")))?;
        if writer.chars > max_chars * 4 {
            return Err(too_many_chars_of(max_chars));
        }
        match event {
            Event::Eof => break,
            Event::Start(e) if skipping > 0 || SKIPPED.contains(&name(&e).as_str()) => {
                skipping += 1;
            }
            Event::End(_) if skipping > 0 => skipping -= 1,
            _ if skipping > 0 => {}
            Event::DocType(_) => {
                return Err(ExtractFailure::Corrupt(
                    "content.xml declares a DTD, which OpenDocument files never do".into(),
                ));
            }
            Event::Start(e) => match name(&e).as_str() {
                "text:h" => writer.open_paragraph(Some(outline_level(&e))),
                "text:p" => writer.open_paragraph(None),
                "text:list" => writer.list_depth += 1,
                "text:list-item" => writer.bullet_pending = true,
                "table:table-row" => writer.row = Some(vec![]),
                "table:table-cell" => {
                    if let Some(cells) = writer.row.as_mut() {
                        cells.push(String::new());
                    }
                }
                _ => {}
            },
            Event::Empty(e) => match name(&e).as_str() {
                "text:s" => writer.text(&" ".repeat(space_count(&e))),
                "text:tab" => writer.text(" "),
                "text:line-break" => writer.text("\n"),
                _ => {}
            },
            Event::End(e) => match e.name().as_ref() {
                "text:h" | "text:p" => writer.close_paragraph(),
                "text:list" => writer.list_depth = writer.list_depth.saturating_sub(1),
                "table:table-row" => writer.close_row(),
                "table:table" => writer.out.push('\n'),
                _ => {}
            },
            Event::Text(t) => writer.text(&t.xml10_content()),
            Event::CData(t) => writer.text(&t),
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => quick_xml::escape::resolve_predefined_entity(&name)
                        .unwrap_or_default()
                        .to_string(),
                };
                writer.text(&resolved);
            }
            _ => {}
        }
    }
    if writer.out.chars().count() > max_chars {
        return Err(too_many_chars_of(max_chars));
    }
    Ok(writer.out)
}

fn too_many_chars_of(max_chars: usize) -> ExtractFailure {
    too_many_chars(&Limits {
        max_chars,
        ..Limits::default()
    })
}

fn name(e: &BytesStart) -> String {
    e.name().as_ref().to_string()
}

/// An attribute's raw value (the numbers read here need no unescaping).
fn attribute(e: &BytesStart, key: &str) -> Option<String> {
    Some(e.try_get_attribute(key).ok()??.value.into_owned())
}

fn outline_level(e: &BytesStart) -> usize {
    attribute(e, "text:outline-level")
        .and_then(|l| l.parse().ok())
        .unwrap_or(1)
}

/// `<text:s text:c="3"/>`: that many spaces (a few at most matter).
fn space_count(e: &BytesStart) -> usize {
    attribute(e, "text:c")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1usize)
        .min(8)
}

/// The `<dc:title>` of `meta.xml`.
fn meta_title(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut inside = false;
    let mut title = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Eof => return None,
            Event::Start(e) if e.name().as_ref() == "dc:title" => inside = true,
            Event::End(e) if e.name().as_ref() == "dc:title" => return Some(title),
            Event::Text(t) if inside => title.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if inside => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    title.push(c);
                } else if let Some(s) =
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                {
                    title.push_str(s);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="o" xmlns:text="t" xmlns:table="tb" xmlns:draw="d">
<office:automatic-styles><style:style/></office:automatic-styles>
<office:body><office:text>
<text:tracked-changes><text:changed-region><text:deletion><text:p>DELETEDMARK</text:p></text:deletion></text:changed-region></text:tracked-changes>
<text:h text:outline-level="1">Leave</text:h>
<text:p>Twenty&#160;five days<text:note><text:note-citation>1</text:note-citation><text:note-body><text:p>FOOTNOTEMARK</text:p></text:note-body></text:note> of&amp;leave.<text:s text:c="3"/>Booked online.</text:p>
<text:h text:outline-level="2">Parental leave</text:h>
<text:list><text:list-item><text:p>Sixteen weeks</text:p></text:list-item><text:list-item><text:p>Paid</text:p></text:list-item></text:list>
<table:table><table:table-row><table:table-cell><text:p>Grade</text:p></table:table-cell><table:table-cell><text:p>Days</text:p></table:table-cell></table:table-row>
<table:table-row><table:table-cell><text:p>L3</text:p></table:table-cell><table:table-cell><text:p>25</text:p></table:table-cell></table:table-row></table:table>
<text:p><draw:frame><draw:text-box><text:p>BOXMARK</text:p></draw:text-box></draw:frame></text:p>
<office:annotation><text:p>COMMENTMARK</text:p></office:annotation>
</office:text></office:body></office:document-content>"#;

    #[test]
    fn headings_lists_tables_notes_and_boxes_are_read_deletions_are_not() {
        let text = content_markdown(CONTENT, 10_000).unwrap();
        assert!(text.contains("# Leave\n\n"), "{text}");
        assert!(text.contains("## Parental leave"), "{text}");
        assert!(
            text.contains("Twenty\u{A0}five days of&leave.   Booked online."),
            "{text}"
        );
        assert!(text.contains("FOOTNOTEMARK"), "{text}");
        assert!(text.contains("- Sixteen weeks\n\n- Paid"), "{text}");
        assert!(text.contains("| Grade | Days |\n| L3 | 25 |"), "{text}");
        assert!(text.contains("BOXMARK"), "{text}");
        assert!(!text.contains("DELETEDMARK"), "{text}");
        assert!(!text.contains("COMMENTMARK"), "{text}");
        let doc = from_markdown(&text, None);
        let paid = doc.blocks.iter().find(|b| b.text.contains("Paid")).unwrap();
        assert_eq!(
            paid.place.section.as_deref(),
            Some("Leave > Parental leave")
        );
    }

    #[test]
    fn limits_and_bad_xml_are_refused() {
        assert!(matches!(
            content_markdown(CONTENT, 10),
            Err(ExtractFailure::TooLarge(_))
        ));
        assert!(matches!(
            content_markdown("<!DOCTYPE x [<!ENTITY a 'b'>]><text:p>&a;</text:p>", 100),
            Err(ExtractFailure::Corrupt(_))
        ));
    }

    #[test]
    fn the_title_comes_from_meta_xml() {
        let meta = r#"<office:document-meta><office:meta><dc:title>Staff &amp; Leave</dc:title></office:meta></office:document-meta>"#;
        assert_eq!(meta_title(meta).as_deref(), Some("Staff & Leave"));
        assert_eq!(meta_title("<office:meta/>"), None);
    }
}
