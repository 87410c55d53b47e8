use super::*;

const STYLE: TextStyle = TextStyle {
    bold: false,
    cjk: Cjk::Chinese,
};

const NAMES: [&str; 7] = [
    "王小明",
    "田中さくら",
    "김민준",
    "محمد علي",
    "Zoë Ñúñez",
    "Дмитрий",
    "Γιώργος Παπαδόπουλος",
];

/// A 120-character URL with no break opportunity.
fn long_url() -> String {
    let url = format!("https://example.com/{}", "a1b2c3d4e5".repeat(10));
    assert_eq!(url.chars().count(), 120);
    url
}

fn line_width(line: &Line) -> f32 {
    shape::width(&line.glyphs, line.size)
}

fn sorted_chars(text: &str) -> Vec<char> {
    let mut chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    chars.sort_unstable();
    chars
}

#[test]
fn wraps_long_text_within_the_width_and_keeps_every_word() {
    let text = "word ".repeat(60);
    let lines = wrap::wrap(&text, 200.0, 10.0, STYLE);
    assert!(lines.len() > 1);
    assert!(
        lines
            .iter()
            .all(|l| shape::measure(l, STYLE, 10.0) <= 200.0)
    );
    assert_eq!(lines.join(" ").split(' ').count(), 60);
}

#[test]
fn encodes_typographic_punctuation_and_replaces_the_rest() {
    let codes: Vec<u8> = shape::shape("a–b’é✓", STYLE)
        .iter()
        .map(|g| {
            assert_eq!(g.face, Face::Helvetica);
            g.id as u8
        })
        .collect();
    assert_eq!(codes, vec![b'a', 0x96, b'b', 0x92, 0xe9, b'?']);
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

fn multilingual() -> Vec<Block> {
    let mut blocks = vec![
        Block::Title(format!("{}: development goals", NAMES[0])),
        Block::Heading(NAMES[5].into()),
    ];
    for name in NAMES {
        blocks.push(Block::Bullet(format!("Employee: {name}")));
        blocks.push(Block::Note(format!("Mentor {name}")));
    }
    blocks.push(Block::Paragraph(format!("Read {} first", long_url())));
    blocks.push(Block::Bullet(long_url()));
    blocks.push(Block::Paragraph(
        "أن أصبح مهندسا أول خلال سنتين وأن أقود فريقا صغيرا في مشروع جديد للعملاء ".repeat(3),
    ));
    blocks.push(Block::Paragraph(
        "在两年内成为高级工程师，并带领一个新的客户项目团队。".repeat(4),
    ));
    blocks.push(Block::Heading("Ünïcödé Łódź Ελληνικά Русский".into()));
    blocks
}

#[test]
fn every_line_fits_inside_the_margins_and_no_character_is_lost() {
    let blocks = multilingual();
    let pages = layout(&blocks);
    let lines: Vec<&Line> = pages.iter().flatten().collect();
    for line in &lines {
        let right = line.x + line_width(line);
        assert!(line.x >= MARGIN - 0.01, "{line:?}");
        assert!(right <= PAGE_WIDTH - MARGIN + 0.01, "{right}: {line:?}");
    }
    // Every character of the report is drawn (right-to-left lines in
    // another order, so compared as sorted characters).
    let drawn: String = lines
        .iter()
        .flat_map(|l| l.glyphs.iter().map(|g| g.text.as_str()))
        .collect();
    let expected: String = blocks
        .iter()
        .map(|b| {
            let (_, text) = style(b);
            let bullet = if matches!(b, Block::Bullet(_)) {
                "•"
            } else {
                ""
            };
            format!("{bullet}{}", text.nfc().collect::<String>())
        })
        .collect();
    assert_eq!(sorted_chars(&drawn), sorted_chars(&expected));
    assert!(!drawn.contains('?'), "every script has a font");
}

#[test]
fn right_to_left_paragraphs_are_aligned_right() {
    let blocks = vec![Block::Paragraph("أن أصبح مهندسا أول خلال سنتين ".repeat(6))];
    let pages = layout(&blocks);
    assert!(pages[0].len() > 1);
    for line in &pages[0] {
        let right = line.x + line_width(line);
        assert!((right - (PAGE_WIDTH - MARGIN)).abs() < 0.01, "{line:?}");
        assert!(
            line.glyphs
                .iter()
                .all(|g| g.face != Face::Helvetica || g.text == " ")
        );
    }
}

#[test]
fn only_the_glyphs_used_are_embedded_with_a_map_back_to_the_text() {
    let latin = render(&[Block::Paragraph("Plain Latin text".into())], "t");
    let latin_text = String::from_utf8_lossy(&latin);
    assert!(
        !latin_text.contains("FontFile2"),
        "Latin needs no embedded font"
    );

    let blocks = multilingual();
    let bytes = render(&blocks, "t");
    let text = String::from_utf8_lossy(&bytes);
    for name in [
        "+NotoSans-Regular",
        "+NotoSansArabic-Regular",
        "/STSong-Light",
        "/HeiseiKakuGo-W5",
        "/HYGoThic-Medium",
        "/UniGB-UCS2-H",
        "/ToUnicode",
        "/FontFile2",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
    assert!(
        bytes.len() < 120_000,
        "subsets, not whole fonts: {} bytes",
        bytes.len()
    );
}
