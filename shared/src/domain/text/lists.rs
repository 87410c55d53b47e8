//! Lists in free text, however they are typed: numbered or lettered items on
//! one line ("I will: 1. … by March 2. … by May 3. …", "a) … b) …") or on
//! lines, bullets, "; "-separated parts, or comma-separated parts after a
//! colon. All of them read the same way, so a hurried answer on one line
//! drafts the same goal as a tidy one. Pure.

/// A list read from an answer: what came before the first item and the items.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListReading {
    /// The words before the first item, without a closing colon
    /// ("In the next 6 months I will"); empty when the list starts at once.
    pub intro: String,
    /// The items without their markers, trailing punctuation or line breaks.
    pub items: Vec<String>,
}

impl ListReading {
    /// The list with one item a line and no markers: how every form of the
    /// same list is written once read.
    pub fn as_lines(&self) -> String {
        let mut out = String::new();
        if !self.intro.is_empty() {
            out.push_str(&self.intro);
            out.push_str(":\n");
        }
        out.push_str(&self.items.join("\n"));
        out
    }
}

/// The list `text` holds, if it holds one of two items or more.
pub fn read_list(text: &str) -> Option<ListReading> {
    marked_list(text)
        .or_else(|| separated_list(text, ';', 2))
        .or_else(|| line_list(text))
        .or_else(|| after_colon(text).and_then(|_| separated_list(text, ',', 3)))
}

/// `text` with any list in it written one item a line ([`ListReading::as_lines`]);
/// other text unchanged.
pub fn with_lists_on_lines(text: &str) -> String {
    read_list(text).map_or_else(|| text.to_string(), |list| list.as_lines())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Number(u32),
    Letter(u8),
    Bullet(char),
}

/// A list marker in the text: where it starts, where its item's text starts,
/// what it counts and how it is written ("1." and "1)" are not one list).
#[derive(Debug, Clone, Copy)]
struct Found {
    start: usize,
    item_start: usize,
    marker: Marker,
    style: (bool, char),
    line_start: bool,
}

impl Found {
    fn follows(&self, previous: &Found) -> bool {
        self.style == previous.style
            && match (previous.marker, self.marker) {
                (Marker::Number(a), Marker::Number(b)) => b == a + 1,
                (Marker::Letter(a), Marker::Letter(b)) => b == a + 1,
                (Marker::Bullet(a), Marker::Bullet(b)) => a == b,
                _ => false,
            }
    }

    fn starts_a_list(&self) -> bool {
        match self.marker {
            // Inline, only "1." or "a)" starts a list; a line may go on from 4.
            Marker::Number(n) => n == 1 || self.line_start,
            Marker::Letter(c) => c == b'a' || self.line_start,
            // An inline hyphen or asterisk is punctuation, not a bullet.
            Marker::Bullet(c) => c == '•' || self.line_start,
        }
    }
}

/// The marker a word of the text starts with, if any: "1.", "2)", "(3)",
/// "a)", "(b)", "c.", "-", "*", "•". A number glued to its item
/// ("1.Complete") counts; "2.5" or "e.g." do not.
fn marker_at(text: &str, start: usize, line_start: bool) -> Option<Found> {
    let word_end = text[start..]
        .find(char::is_whitespace)
        .map_or(text.len(), |i| start + i);
    let word = &text[start..word_end];
    let found = |marker, style, len: usize| Found {
        start,
        item_start: start + len,
        marker,
        style,
        line_start,
    };
    if let Some(bullet) = word.chars().next().filter(|c| matches!(c, '-' | '*' | '•'))
        && word.chars().count() == 1
    {
        return Some(found(Marker::Bullet(bullet), (false, bullet), word.len()));
    }
    let (open, body) = match word.strip_prefix('(') {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    let (marker, rest) = if (1..=2).contains(&digits) {
        (
            Marker::Number(body[..digits].parse().ok()?),
            &body[digits..],
        )
    } else if digits == 0 && body.as_bytes().first().is_some_and(u8::is_ascii_lowercase) {
        (Marker::Letter(body.as_bytes()[0]), &body[1..])
    } else {
        return None;
    };
    let close = rest.chars().next()?;
    let glued = &rest[close.len_utf8()..];
    let allowed = match (open, close) {
        (_, ')') => true,
        // "a." only standing alone: "e.g." is no marker.
        (false, '.') => matches!(marker, Marker::Number(_)) || glued.is_empty(),
        _ => false,
    };
    // Glued text must start a word: "1.Lead" is an item, "2.5" a number.
    let glued_ok = glued.is_empty() || glued.starts_with(char::is_alphabetic);
    if !allowed || !glued_ok {
        return None;
    }
    let len = word.len() - glued.len();
    Some(found(marker, (open, close), len))
}

/// Every marker that begins a word of `text`.
fn markers(text: &str) -> Vec<Found> {
    let mut found = vec![];
    let mut line_start = true;
    let mut previous: Option<char> = None;
    for (i, c) in text.char_indices() {
        let word_starts = !c.is_whitespace() && previous.is_none_or(char::is_whitespace);
        if word_starts && let Some(marker) = marker_at(text, i, line_start) {
            found.push(marker);
        }
        if c == '\n' {
            line_start = true;
        } else if !c.is_whitespace() {
            line_start = false;
        }
        previous = Some(c);
    }
    found
}

/// The longest run of markers that counts on (1, 2, 3 or a, b, c, or one
/// bullet repeated), two at least; the earliest when runs tie.
fn longest_run(found: &[Found]) -> Vec<Found> {
    let mut best: Vec<Found> = vec![];
    for (i, first) in found.iter().enumerate() {
        if !first.starts_a_list() {
            continue;
        }
        let mut run = vec![*first];
        for next in &found[i + 1..] {
            let last = run.last().expect("a run has a first marker");
            // A hyphen bullet on a line does not go on with a hyphen inside one.
            let same_layout = next.line_start == first.line_start
                || !matches!(next.marker, Marker::Bullet('-' | '*'));
            if next.follows(last) && same_layout {
                run.push(*next);
            }
        }
        if run.len() > best.len() {
            best = run;
        }
    }
    if best.len() >= 2 { best } else { vec![] }
}

fn marked_list(text: &str) -> Option<ListReading> {
    let run = longest_run(&markers(text));
    let first = run.first()?;
    let mut items = vec![];
    for (i, marker) in run.iter().enumerate() {
        let end = run.get(i + 1).map_or(text.len(), |next| next.start);
        items.push(&text[marker.item_start..end]);
    }
    reading(&text[..first.start], items)
}

/// The intro and the rest when `text` opens with a few words and a colon.
fn after_colon(text: &str) -> Option<(&str, &str)> {
    let (intro, rest) = text.split_once(':')?;
    (intro.split_whitespace().count() <= 12 && !intro.contains('\n')).then_some((intro, rest))
}

fn separated_list(text: &str, separator: char, at_least: usize) -> Option<ListReading> {
    let (intro, rest) = match after_colon(text) {
        Some((intro, rest)) if rest.contains(separator) => (intro, rest),
        _ => ("", text),
    };
    let parts: Vec<&str> = rest
        .split(separator)
        .filter(|p| !p.trim().is_empty())
        .collect();
    if parts.len() < at_least {
        return None;
    }
    reading(intro, parts)
}

fn line_list(text: &str) -> Option<ListReading> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let (intro, items) = match lines.split_first() {
        Some((first, rest)) if first.trim_end().ends_with(':') => (*first, rest.to_vec()),
        _ => ("", lines),
    };
    if items.len() < 2 {
        return None;
    }
    reading(intro, items)
}

fn reading(intro: &str, items: Vec<&str>) -> Option<ListReading> {
    let items: Vec<String> = items
        .into_iter()
        .map(clean_item)
        .filter(|i| !i.is_empty())
        .collect();
    (items.len() >= 2).then(|| ListReading {
        intro: tidy(intro).trim_end_matches(':').trim_end().to_string(),
        items,
    })
}

/// Whitespace (line breaks included) collapsed to single spaces.
fn tidy(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An item without the punctuation that only separated it, or an "and"
/// that joined it to the one before.
fn clean_item(item: &str) -> String {
    let item = tidy(item);
    let item = item.trim_end_matches([';', ',', '.', ' ']);
    let item = ["and ", "And "]
        .iter()
        .find_map(|and| item.strip_prefix(and))
        .unwrap_or(item);
    item.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<String> {
        read_list(text).map(|l| l.items).unwrap_or_default()
    }

    const PLAN_ITEMS: [&str; 3] = [
        "Complete AWS certification by March 2025",
        "Lead the payment gateway migration by May",
        "Mentor 2 junior developers",
    ];

    #[test]
    fn an_inline_numbered_plan_reads_like_the_same_plan_on_lines() {
        let on_lines = "In the next 6 months I will:\n1. Complete AWS certification by March 2025\n2. Lead \
                        the payment gateway migration by May\n3. Mentor 2 junior developers";
        let inline = "In the next 6 months I will: 1. Complete AWS certification by March 2025 2. Lead the \
                      payment gateway migration by May 3. Mentor 2 junior developers.";
        let expected = ListReading {
            intro: "In the next 6 months I will".into(),
            items: PLAN_ITEMS.map(String::from).to_vec(),
        };
        assert_eq!(read_list(on_lines), Some(expected.clone()));
        assert_eq!(read_list(inline), Some(expected));
    }

    #[test]
    fn every_way_of_typing_a_list_reads_the_same() {
        for text in [
            "1) Complete AWS certification by March 2025 2) Lead the payment gateway migration by May 3) Mentor 2 junior developers",
            "(1) Complete AWS certification by March 2025 (2) Lead the payment gateway migration by May (3) Mentor 2 junior developers",
            "a) Complete AWS certification by March 2025 b) Lead the payment gateway migration by May c) Mentor 2 junior developers",
            "a. Complete AWS certification by March 2025\nb. Lead the payment gateway migration by May\nc. Mentor 2 junior developers",
            "1.Complete AWS certification by March 2025 2.Lead the payment gateway migration by May 3.Mentor 2 junior developers",
            "Complete AWS certification by March 2025; Lead the payment gateway migration by May; Mentor 2 junior developers",
            "- Complete AWS certification by March 2025\n- Lead the payment gateway migration by May\n- Mentor 2 junior developers",
            "• Complete AWS certification by March 2025 • Lead the payment gateway migration by May • Mentor 2 junior developers",
            "Complete AWS certification by March 2025\nLead the payment gateway migration by May\nMentor 2 junior developers",
        ] {
            assert_eq!(items(text), PLAN_ITEMS, "{text}");
        }
    }

    #[test]
    fn the_issue_s_broken_example_reads_as_three_clean_items() {
        let list = read_list(
            "In the next 6 months I will: 1. get AWS certified by March 2025 2. Lead the payment migration by \
             June 2025 3. mentor 2 juniors (Mike and Jenny) by August",
        )
        .unwrap();
        assert_eq!(list.intro, "In the next 6 months I will");
        assert_eq!(
            list.items,
            [
                "get AWS certified by March 2025",
                "Lead the payment migration by June 2025",
                "mentor 2 juniors (Mike and Jenny) by August"
            ]
        );
    }

    #[test]
    fn numbers_inside_items_are_not_markers() {
        assert_eq!(
            items("1. Mentor 2 juniors 2. Read 3 books 3. Cut downtime by 2.5 hours"),
            [
                "Mentor 2 juniors",
                "Read 3 books",
                "Cut downtime by 2.5 hours"
            ]
        );
        // A lone "2." with no "1." before it starts nothing.
        assert_eq!(read_list("Ship release 2. Then rest."), None);
    }

    #[test]
    fn a_colon_then_commas_is_a_list_but_plain_prose_is_not() {
        assert_eq!(
            items("My values: learning, collaboration with my team, and integrity."),
            ["learning", "collaboration with my team", "integrity"]
        );
        assert_eq!(
            read_list("I want to lead a team, mentor others, and grow."),
            None
        );
        assert_eq!(read_list("I want to lead a team."), None);
        assert_eq!(read_list(""), None);
    }

    #[test]
    fn lists_are_written_one_item_a_line() {
        assert_eq!(
            with_lists_on_lines("I will: a) read b) write"),
            "I will:\nread\nwrite"
        );
        assert_eq!(with_lists_on_lines("Just prose."), "Just prose.");
    }

    #[test]
    fn no_input_makes_it_panic() {
        for tricky in [
            "(",
            "1",
            "1.",
            "(é)",
            "é) ü) ",
            "a)",
            "- -",
            "•",
            ":",
            ";;",
            "1) 2) 3)",
            "İ. 1.x 2.y",
        ] {
            let _ = read_list(tricky);
        }
    }
}
