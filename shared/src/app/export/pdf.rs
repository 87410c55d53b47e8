//! The report as a printable A4 PDF. Latin text is set in the standard
//! Helvetica fonts (not embedded); other scripts in fonts that have them
//! (`faces`): subsets of Noto Sans and Noto Sans Arabic embedded, the
//! viewer's own CJK fonts for Chinese, Japanese and Korean. Lines break by
//! the fonts' real widths, so no text runs past the margin.

mod arabic;
mod embedding;
mod faces;
mod helvetica;
mod shape;
mod subset;
mod wrap;

use pdf_writer::types::TextRenderingMode;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use unicode_normalization::UnicodeNormalization;

use super::Block;
use embedding::FontSet;
use faces::{Cjk, Face};
use shape::{Glyph, TextStyle};

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");
const OBLIQUE: Name<'static> = Name(b"F3");
/// Slant of the oblique style where a font has no oblique of its own.
const SLANT: f32 = 0.2;
/// Stroke width, per point of size, that emboldens a font with no bold.
const EMBOLDEN: f32 = 0.035;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weight {
    Regular,
    Bold,
    Oblique,
}

struct Style {
    weight: Weight,
    size: f32,
    space_before: f32,
    indent: f32,
}

fn style(block: &Block) -> (Style, &str) {
    let s = |weight, size, space_before, indent| Style {
        weight,
        size,
        space_before,
        indent,
    };
    match block {
        Block::Title(t) => (s(Weight::Bold, 18.0, 0.0, 0.0), t),
        Block::Heading(t) => (s(Weight::Bold, 13.0, 14.0, 0.0), t),
        Block::Paragraph(t) => (s(Weight::Regular, 11.0, 4.0, 0.0), t),
        Block::Bullet(t) => (s(Weight::Regular, 10.0, 2.0, 12.0), t),
        Block::Note(t) => (s(Weight::Oblique, 9.5, 4.0, 0.0), t),
    }
}

/// One line placed on a page, its glyphs in drawing order.
#[derive(Debug)]
struct Line {
    x: f32,
    y: f32,
    size: f32,
    weight: Weight,
    glyphs: Vec<Glyph>,
}

/// Lays the blocks out on as many pages as they need.
fn layout(blocks: &[Block]) -> Vec<Vec<Line>> {
    let mut pages = Vec::new();
    let mut page = Vec::new();
    let mut y = PAGE_HEIGHT - MARGIN;
    for block in blocks {
        let (style, text) = style(block);
        let leading = style.size * 1.35;
        let text: String = text.nfc().collect();
        let rtl = shape::is_rtl(&text);
        let text = if matches!(block, Block::Bullet(_)) {
            format!("• {text}")
        } else {
            text
        };
        let text_style = TextStyle {
            bold: style.weight == Weight::Bold,
            cjk: Cjk::of(&text),
        };
        let width = PAGE_WIDTH - 2.0 * MARGIN - style.indent;
        y -= style.space_before;
        for line in wrap::wrap(&text, width, style.size, text_style) {
            if y - leading < MARGIN {
                pages.push(std::mem::take(&mut page));
                y = PAGE_HEIGHT - MARGIN;
            }
            y -= leading;
            let glyphs = shape::visual_line(&line, text_style, rtl);
            let slack = if rtl {
                width - shape::width(&glyphs, style.size)
            } else {
                0.0
            };
            page.push(Line {
                x: MARGIN + style.indent + slack,
                y,
                size: style.size,
                weight: style.weight,
                glyphs,
            });
        }
    }
    pages.push(page);
    pages
}

/// Draws a line run by run: each run of one font from its own position.
fn draw(content: &mut Content, line: &Line, fonts: &mut FontSet) {
    let mut x = line.x;
    for run in line.glyphs.chunk_by(|a, b| a.face == b.face) {
        let mut bytes = Vec::with_capacity(run.len() * 2);
        for glyph in run {
            fonts.encode(glyph, &mut bytes);
        }
        let face = run[0].face;
        let (name, synthetic) = match (face, line.weight) {
            (Face::Helvetica, Weight::Regular) => (REGULAR, false),
            (Face::Helvetica, Weight::Bold) => (BOLD, false),
            (Face::Helvetica, Weight::Oblique) => (OBLIQUE, false),
            (other, _) => (FontSet::resource_name(other), true),
        };
        let slant = if synthetic && line.weight == Weight::Oblique {
            SLANT
        } else {
            0.0
        };
        let embolden = synthetic && line.weight == Weight::Bold;
        content.begin_text();
        content
            .set_font(name, line.size)
            .set_text_matrix([1.0, 0.0, slant, 1.0, x, line.y]);
        if embolden {
            content
                .set_line_width(line.size * EMBOLDEN)
                .set_text_rendering_mode(TextRenderingMode::FillStroke);
        } else {
            content.set_text_rendering_mode(TextRenderingMode::Fill);
        }
        content.show(Str(&bytes));
        content.end_text();
        x += shape::width(run, line.size);
    }
}

pub fn render(blocks: &[Block], title: &str) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let mut next = Ref::new(1);
    let catalog = next.bump();
    let tree = next.bump();
    let info = next.bump();
    let standard = [
        (REGULAR, next.bump(), "Helvetica"),
        (BOLD, next.bump(), "Helvetica-Bold"),
        (OBLIQUE, next.bump(), "Helvetica-Oblique"),
    ];
    let pages = layout(blocks);
    let page_refs: Vec<(Ref, Ref)> = pages.iter().map(|_| (next.bump(), next.bump())).collect();

    let mut fonts = FontSet::default();
    let contents: Vec<Vec<u8>> = pages
        .iter()
        .map(|lines| {
            let mut content = Content::new();
            for line in lines {
                draw(&mut content, line, &mut fonts);
            }
            content.finish().to_vec()
        })
        .collect();

    pdf.catalog(catalog).pages(tree);
    pdf.document_info(info)
        .title(pdf_writer::TextStr(title))
        .producer(pdf_writer::TextStr("Petraf"));
    pdf.pages(tree)
        .kids(page_refs.iter().map(|(page, _)| *page))
        .count(pages.len() as i32);
    for (_, id, base) in standard {
        pdf.type1_font(id)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let mut used: Vec<(Name<'static>, Ref)> =
        standard.iter().map(|(name, id, _)| (*name, *id)).collect();
    used.extend(fonts.write(&mut pdf, &mut next));

    for (content, (page_id, content_id)) in contents.into_iter().zip(&page_refs) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .parent(tree)
            .contents(*content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        for (name, id) in &used {
            font_dict.pair(*name, *id);
        }
        drop(font_dict);
        drop(resources);
        page.finish();
        pdf.stream(*content_id, &content);
    }
    pdf.finish()
}

#[cfg(test)]
mod tests;
