//! A TrueType subset for embedding: the used glyphs (and the glyphs they
//! are composed of) keep their outlines and ids, every other glyph is
//! emptied, and the tables a PDF viewer does not read are left out.
//!
//! Small on purpose: the `subsetter` crate would bring skrifa and
//! write-fonts into the goals Lambda (about 1 MB of code, ~380 KB zipped),
//! since pdf_oxide builds it with variable-font support.

use std::collections::BTreeSet;

use ttf_parser::{Face, RawFace, Tag};

/// The tables a CIDFontType2 program needs (PDF 32000-1, 9.9), `name`
/// and `OS/2` for good measure; `post` is cut to its header.
const KEPT: [&[u8; 4]; 12] = [
    b"OS/2", b"cvt ", b"fpgm", b"glyf", b"head", b"hhea", b"hmtx", b"loca", b"maxp", b"name",
    b"post", b"prep",
];

const ARG_1_AND_2_ARE_WORDS: u16 = 0x0001;
const WE_HAVE_A_SCALE: u16 = 0x0008;
const MORE_COMPONENTS: u16 = 0x0020;
const WE_HAVE_AN_X_AND_Y_SCALE: u16 = 0x0040;
const WE_HAVE_A_TWO_BY_TWO: u16 = 0x0080;

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// Each glyph's byte range in `glyf`.
fn locations(loca: &[u8], long: bool, glyphs: usize) -> Option<Vec<(usize, usize)>> {
    let offset = |i: usize| -> Option<usize> {
        if long {
            u32_at(loca, i * 4).map(|o| o as usize)
        } else {
            u16_at(loca, i * 2).map(|o| usize::from(o) * 2)
        }
    };
    (0..glyphs)
        .map(|i| Some((offset(i)?, offset(i + 1)?)))
        .collect()
}

/// The components of a composite glyph.
fn components(glyph: &[u8]) -> Vec<u16> {
    let mut out = Vec::new();
    if glyph.len() < 10 || i16::from_be_bytes([glyph[0], glyph[1]]) >= 0 {
        return out;
    }
    let mut at = 10;
    while let (Some(flags), Some(id)) = (u16_at(glyph, at), u16_at(glyph, at + 2)) {
        out.push(id);
        at += 4;
        at += if flags & ARG_1_AND_2_ARE_WORDS != 0 {
            4
        } else {
            2
        };
        if flags & WE_HAVE_A_SCALE != 0 {
            at += 2;
        } else if flags & WE_HAVE_AN_X_AND_Y_SCALE != 0 {
            at += 4;
        } else if flags & WE_HAVE_A_TWO_BY_TWO != 0 {
            at += 8;
        }
        if flags & MORE_COMPONENTS == 0 {
            break;
        }
    }
    out
}

fn checksum(table: &[u8]) -> u32 {
    table.chunks(4).fold(0u32, |sum, chunk| {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

/// The font with only `used` glyphs drawn; `None` if it is not a TrueType
/// font this can read.
pub(super) fn subset(data: &[u8], used: impl IntoIterator<Item = u16>) -> Option<Vec<u8>> {
    let face = Face::parse(data, 0).ok()?;
    let raw = RawFace::parse(data, 0).ok()?;
    let glyph_count = usize::from(face.number_of_glyphs());
    let long = matches!(
        face.tables().head.index_to_location_format,
        ttf_parser::head::IndexToLocationFormat::Long
    );
    let glyf = raw.table(Tag::from_bytes(b"glyf"))?;
    let places = locations(raw.table(Tag::from_bytes(b"loca"))?, long, glyph_count)?;
    let glyph = |id: u16| -> &[u8] {
        places
            .get(usize::from(id))
            .and_then(|&(start, end)| glyf.get(start..end))
            .unwrap_or(&[])
    };

    let mut kept = BTreeSet::from([0u16]);
    let mut pending: Vec<u16> = used.into_iter().collect();
    while let Some(id) = pending.pop() {
        if usize::from(id) < glyph_count && kept.insert(id) {
            pending.extend(components(glyph(id)));
        }
    }
    let mut new_glyf = Vec::new();
    let mut new_loca = Vec::with_capacity((glyph_count + 1) * 4);
    for id in 0..glyph_count as u16 {
        new_loca.extend((new_glyf.len() as u32).to_be_bytes());
        if kept.contains(&id) {
            new_glyf.extend_from_slice(glyph(id));
            new_glyf.resize(new_glyf.len().next_multiple_of(4), 0);
        }
    }
    new_loca.extend((new_glyf.len() as u32).to_be_bytes());

    let mut tables: Vec<(&[u8; 4], Vec<u8>)> = Vec::new();
    for tag in KEPT {
        let Some(table) = raw.table(Tag::from_bytes(tag)) else {
            continue;
        };
        let table = match tag {
            b"glyf" => std::mem::take(&mut new_glyf),
            b"loca" => std::mem::take(&mut new_loca),
            b"head" => {
                let mut head = table.to_vec();
                head.get_mut(8..12)?.fill(0); // checkSumAdjustment, set below
                head.get_mut(50..52)?.copy_from_slice(&1u16.to_be_bytes()); // long loca
                head
            }
            b"post" => {
                let mut post = table.get(..32)?.to_vec();
                post[..4].copy_from_slice(&0x0003_0000u32.to_be_bytes()); // no glyph names
                post
            }
            _ => table.to_vec(),
        };
        tables.push((tag, table));
    }
    Some(write_font(tables))
}

/// An sfnt: the table directory (tags in order), then the tables, each
/// padded to four bytes, with head's whole-font checksum adjustment.
fn write_font(tables: Vec<(&[u8; 4], Vec<u8>)>) -> Vec<u8> {
    let count = tables.len() as u16;
    let power = if count == 0 {
        0
    } else {
        1u16 << (15 - count.leading_zeros())
    };
    let search_range = power * 16;
    let mut font = Vec::new();
    font.extend(0x0001_0000u32.to_be_bytes());
    font.extend(count.to_be_bytes());
    font.extend(search_range.to_be_bytes());
    font.extend((power.max(1).trailing_zeros() as u16).to_be_bytes());
    font.extend((count * 16 - search_range).to_be_bytes());
    let mut offset = 12 + 16 * tables.len();
    let mut head_at = None;
    for (tag, table) in &tables {
        font.extend_from_slice(*tag);
        font.extend(checksum(table).to_be_bytes());
        font.extend((offset as u32).to_be_bytes());
        font.extend((table.len() as u32).to_be_bytes());
        if *tag == b"head" {
            head_at = Some(offset);
        }
        offset += table.len().next_multiple_of(4);
    }
    for (_, table) in &tables {
        font.extend_from_slice(table);
        font.resize(font.len().next_multiple_of(4), 0);
    }
    if let Some(at) = head_at {
        let adjustment = 0xB1B0_AFBAu32.wrapping_sub(checksum(&font));
        font[at + 8..at + 12].copy_from_slice(&adjustment.to_be_bytes());
    }
    font
}

#[cfg(test)]
mod tests {
    use super::super::faces;
    use super::*;

    #[test]
    fn keeps_the_used_glyphs_and_their_ids_and_empties_the_rest() {
        let font = faces::sans();
        let (a, _) = font.glyph('a').unwrap();
        // 'ǻ' is a composite of other glyphs in Noto Sans.
        let (ring_acute, _) = font.glyph('ǻ').unwrap();
        let (z, _) = font.glyph('z').unwrap();
        let out = subset(font.data, [a, ring_acute]).unwrap();
        assert!(out.len() < font.data.len() / 2, "{} bytes", out.len());
        let parsed = Face::parse(&out, 0).unwrap();
        assert_eq!(parsed.number_of_glyphs(), font.face.number_of_glyphs());
        let outline = |id: u16| parsed.glyph_bounding_box(ttf_parser::GlyphId(id));
        assert_eq!(
            outline(a),
            font.face.glyph_bounding_box(ttf_parser::GlyphId(a))
        );
        assert!(outline(ring_acute).is_some(), "composites keep their parts");
        assert!(outline(z).is_none(), "unused glyphs are empty");
        assert_eq!(
            parsed.glyph_hor_advance(ttf_parser::GlyphId(a)),
            font.face.glyph_hor_advance(ttf_parser::GlyphId(a))
        );
        assert_eq!(checksum(&out), 0xB1B0_AFBA, "whole-font checksum");
    }
}
