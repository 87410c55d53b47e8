//! The font objects of a document: which codes its glyphs are drawn with,
//! the embedded subsets (only the glyphs used drawn), the predefined CJK fonts,
//! and ToUnicode maps so that copied or extracted text is the original.

use std::collections::{BTreeMap, HashMap};

use super::faces::{self, Cjk, Embedded, Face};
use super::shape::Glyph;
use super::subset;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Finish, Name, Pdf, Rect, Ref, Str};
use sha2::{Digest, Sha256};

/// The glyphs used of one font, each with its code.
#[derive(Default)]
struct Usage {
    codes: HashMap<(u16, String), u16>,
    /// Embedded fonts: (glyph id, text) of CID `i + 1`. CJK: (code, text).
    entries: Vec<(u16, String)>,
}

impl Usage {
    /// Embedded fonts get CIDs of their own (1, 2, ...), one per glyph and
    /// text, so two characters drawn with one glyph still extract apart.
    fn cid(&mut self, glyph: &Glyph) -> u16 {
        let key = (glyph.id, glyph.text.clone());
        if let Some(&cid) = self.codes.get(&key) {
            return cid;
        }
        self.entries.push(key.clone());
        let cid = self.entries.len() as u16;
        self.codes.insert(key, cid);
        cid
    }

    /// CJK codes are the code points themselves.
    fn code(&mut self, glyph: &Glyph) -> u16 {
        let key = (glyph.id, glyph.text.clone());
        if !self.codes.contains_key(&key) {
            self.entries.push(key.clone());
            self.codes.insert(key, glyph.id);
        }
        glyph.id
    }
}

/// The non-standard fonts a document uses.
#[derive(Default)]
pub(super) struct FontSet {
    used: BTreeMap<Face, Usage>,
}

impl FontSet {
    /// Appends the bytes that draw `glyph` in its font.
    pub fn encode(&mut self, glyph: &Glyph, out: &mut Vec<u8>) {
        match glyph.face {
            Face::Helvetica => out.push(glyph.id as u8),
            Face::Sans | Face::Arabic => {
                let cid = self.used.entry(glyph.face).or_default().cid(glyph);
                out.extend(cid.to_be_bytes());
            }
            Face::Cjk(_) => {
                let code = self.used.entry(glyph.face).or_default().code(glyph);
                out.extend(code.to_be_bytes());
            }
        }
    }

    /// The page resource name of a non-standard font.
    pub fn resource_name(face: Face) -> Name<'static> {
        Name(match face {
            Face::Helvetica => b"F1",
            Face::Sans => b"NotoSans",
            Face::Arabic => b"NotoSansArabic",
            Face::Cjk(Cjk::Chinese) => b"CjkZh",
            Face::Cjk(Cjk::Japanese) => b"CjkJa",
            Face::Cjk(Cjk::Korean) => b"CjkKo",
        })
    }

    /// Writes every used font; returns their resource names and references.
    pub fn write(self, pdf: &mut Pdf, next: &mut Ref) -> Vec<(Name<'static>, Ref)> {
        let mut fonts = Vec::new();
        for (face, usage) in self.used {
            let id = next.bump();
            match face {
                Face::Helvetica => unreachable!("the standard fonts are not recorded"),
                Face::Sans | Face::Arabic => {
                    let font = faces::embedded(face).expect("an embedded face");
                    write_embedded(pdf, next, id, font, &usage);
                }
                Face::Cjk(cjk) => write_cjk(pdf, next, id, cjk, &usage),
            }
            fonts.push((Self::resource_name(face), id));
        }
        fonts
    }
}

fn to_unicode(pdf: &mut Pdf, id: Ref, entries: impl Iterator<Item = (u16, String)>) {
    let info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"UCS"),
        supplement: 0,
    };
    let mut cmap = UnicodeCmap::new(Name(b"Petraf-UCS"), info);
    for (code, text) in entries {
        cmap.pair_with_multiple(code, text.chars());
    }
    pdf.cmap(id, &cmap.finish());
}

/// Six capital letters naming a subset, derived from its glyphs.
fn subset_tag(entries: &[(u16, String)]) -> String {
    let mut hash = Sha256::new();
    for (glyph, _) in entries {
        hash.update(glyph.to_be_bytes());
    }
    hash.finalize()[..6]
        .iter()
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

fn write_embedded(pdf: &mut Pdf, next: &mut Ref, id: Ref, font: &Embedded, usage: &Usage) {
    let (cid_font, descriptor, file, cid_map, cmap) = (
        next.bump(),
        next.bump(),
        next.bump(),
        next.bump(),
        next.bump(),
    );
    let used = usage.entries.iter().map(|(glyph, _)| *glyph);
    let program = subset::subset(font.data, used).unwrap_or_else(|| font.data.to_vec());
    let name = format!("{}+{}", subset_tag(&usage.entries), font.postscript_name);

    pdf.type0_font(id)
        .base_font(Name(name.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_font)
        .to_unicode(cmap);

    let mut cid = pdf.cid_font(cid_font);
    cid.subtype(CidFontType::Type2)
        .base_font(Name(name.as_bytes()))
        .system_info(SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        })
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_stream(cid_map);
    cid.widths()
        .consecutive(1, usage.entries.iter().map(|(g, _)| font.advance(*g)));
    cid.finish();

    // The subset keeps the font's glyph ids.
    let mut map = vec![0, 0];
    for (glyph, _) in &usage.entries {
        map.extend(glyph.to_be_bytes());
    }
    pdf.stream(cid_map, &map);

    let face = &font.face;
    let bbox = face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(Name(name.as_bytes()))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            font.scale(bbox.x_min),
            font.scale(bbox.y_min),
            font.scale(bbox.x_max),
            font.scale(bbox.y_max),
        ))
        .italic_angle(0.0)
        .ascent(font.scale(face.ascender()))
        .descent(font.scale(face.descender()))
        .cap_height(font.scale(face.capital_height().unwrap_or(714)))
        .stem_v(80.0)
        .font_file2(file);
    pdf.stream(file, &program)
        .pair(Name(b"Length1"), program.len() as i32);

    to_unicode(
        pdf,
        cmap,
        usage
            .entries
            .iter()
            .enumerate()
            .map(|(i, (_, text))| (i as u16 + 1, text.clone())),
    );
}

fn write_cjk(pdf: &mut Pdf, next: &mut Ref, id: Ref, cjk: Cjk, usage: &Usage) {
    let (cid_font, descriptor, cmap) = (next.bump(), next.bump(), next.bump());
    let predefined = cjk.predefined();
    let type0_name = format!("{}-{}", predefined.font, predefined.encoding);
    pdf.type0_font(id)
        .base_font(Name(type0_name.as_bytes()))
        .encoding_predefined(Name(predefined.encoding.as_bytes()))
        .descendant_font(cid_font)
        .to_unicode(cmap);
    pdf.cid_font(cid_font)
        .subtype(CidFontType::Type0)
        .base_font(Name(predefined.font.as_bytes()))
        .system_info(SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(predefined.ordering.as_bytes()),
            supplement: predefined.supplement,
        })
        .font_descriptor(descriptor)
        .default_width(1000.0);
    pdf.font_descriptor(descriptor)
        .name(Name(predefined.font.as_bytes()))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(0.0, -200.0, 1000.0, 900.0))
        .italic_angle(0.0)
        .ascent(880.0)
        .descent(-120.0)
        .cap_height(700.0)
        .stem_v(80.0);
    to_unicode(pdf, cmap, usage.entries.iter().cloned());
}
