//! The report as a printable A4 PDF with the standard Helvetica fonts (no
//! embedded font files, so the file stays small and any viewer shows it).

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use super::Block;

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");
const OBLIQUE: Name<'static> = Name(b"F3");

struct Style {
    font: Name<'static>,
    size: f32,
    space_before: f32,
    indent: f32,
}

fn style(block: &Block) -> (Style, &str) {
    let s = |font, size, space_before, indent| Style {
        font,
        size,
        space_before,
        indent,
    };
    match block {
        Block::Title(t) => (s(BOLD, 18.0, 0.0, 0.0), t),
        Block::Heading(t) => (s(BOLD, 13.0, 14.0, 0.0), t),
        Block::Paragraph(t) => (s(REGULAR, 11.0, 4.0, 0.0), t),
        Block::Bullet(t) => (s(REGULAR, 10.0, 2.0, 12.0), t),
        Block::Note(t) => (s(OBLIQUE, 9.5, 4.0, 0.0), t),
    }
}

/// Helvetica's characters average about half an em; a little more keeps
/// wide (capital) lines inside the margin.
fn wrap(text: &str, width: f32, size: f32) -> Vec<String> {
    let max_chars = (width / (size * 0.53)).floor().max(10.0) as usize;
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if needed > max_chars && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The standard fonts use WinAnsiEncoding: Latin-1 plus typographic
/// punctuation; anything else becomes '?'.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            _ => b'?',
        })
        .collect()
}

/// Lays the blocks out on as many pages as they need.
fn layout(blocks: &[Block]) -> Vec<Content> {
    let mut pages = Vec::new();
    let mut content = Content::new();
    let mut y = PAGE_HEIGHT - MARGIN;
    for block in blocks {
        let (style, text) = style(block);
        let leading = style.size * 1.35;
        let text = if matches!(block, Block::Bullet(_)) {
            format!("• {text}")
        } else {
            text.to_string()
        };
        y -= style.space_before;
        for line in wrap(&text, PAGE_WIDTH - 2.0 * MARGIN - style.indent, style.size) {
            if y - leading < MARGIN {
                pages.push(std::mem::replace(&mut content, Content::new()));
                y = PAGE_HEIGHT - MARGIN;
            }
            y -= leading;
            content
                .begin_text()
                .set_font(style.font, style.size)
                .next_line(MARGIN + style.indent, y);
            content.show(Str(&win_ansi(&line)));
            content.end_text();
        }
    }
    pages.push(content);
    pages
}

pub fn render(blocks: &[Block], title: &str) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let info = Ref::new(3);
    let fonts = [
        (REGULAR, Ref::new(4), "Helvetica"),
        (BOLD, Ref::new(5), "Helvetica-Bold"),
        (OBLIQUE, Ref::new(6), "Helvetica-Oblique"),
    ];
    let pages = layout(blocks);
    let page_refs: Vec<(Ref, Ref)> = (0..pages.len() as i32)
        .map(|i| (Ref::new(10 + 2 * i), Ref::new(11 + 2 * i)))
        .collect();

    pdf.catalog(catalog).pages(tree);
    pdf.document_info(info)
        .title(pdf_writer::TextStr(title))
        .producer(pdf_writer::TextStr("Petraf"));
    pdf.pages(tree)
        .kids(page_refs.iter().map(|(page, _)| *page))
        .count(pages.len() as i32);
    for (_, id, base) in fonts {
        pdf.type1_font(id)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (content, (page_id, content_id)) in pages.into_iter().zip(&page_refs) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .parent(tree)
            .contents(*content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        for (name, id, _) in fonts {
            font_dict.pair(name, id);
        }
        drop(font_dict);
        drop(resources);
        page.finish();
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_long_text_within_the_width_and_keeps_every_word() {
        let text = "word ".repeat(60);
        let lines = wrap(&text, 200.0, 10.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= 37));
        assert_eq!(lines.join(" ").split(' ').count(), 60);
    }

    #[test]
    fn encodes_typographic_punctuation_and_replaces_the_rest() {
        assert_eq!(win_ansi("a–b’é✓"), vec![b'a', 0x96, b'b', 0x92, 0xe9, b'?']);
    }

    #[test]
    fn long_reports_flow_onto_more_pages() {
        let blocks: Vec<Block> = (0..200)
            .map(|i| Block::Paragraph(format!("Paragraph {i}")))
            .collect();
        let bytes = render(&blocks, "t");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("%PDF-"));
        assert!(layout(&blocks).len() >= 4);
    }
}
