//! Splitting documents into retrieval chunks of 500–800 characters, cut at
//! paragraph and sentence boundaries wherever the text allows.

pub const MIN_CHUNK_CHARS: usize = 500;
pub const MAX_CHUNK_CHARS: usize = 800;

fn len(s: &str) -> usize {
    s.chars().count()
}

/// Sentences of a paragraph, each keeping its closing punctuation.
fn sentences(paragraph: &str) -> Vec<String> {
    let mut out = vec![];
    let mut current = String::new();
    let mut chars = paragraph.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        let ends =
            matches!(c, '.' | '!' | '?' | '\n') && chars.peek().is_none_or(|n| n.is_whitespace());
        if ends {
            let s = current.split_whitespace().collect::<Vec<_>>().join(" ");
            if !s.is_empty() {
                out.push(s);
            }
            current.clear();
        }
    }
    let s = current.split_whitespace().collect::<Vec<_>>().join(" ");
    if !s.is_empty() {
        out.push(s);
    }
    out
}

/// Splits text at word boundaries into pieces of at most `max` characters.
fn split_words(text: &str, max: usize) -> Vec<String> {
    let mut out = vec![];
    let mut current = String::new();
    let pieces = text.split_whitespace().flat_map(|word| {
        let chars: Vec<char> = word.chars().collect();
        chars
            .chunks(max)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
    });
    for word in pieces {
        let extra = if current.is_empty() {
            len(&word)
        } else {
            len(&word) + 1
        };
        if len(&current) + extra > max {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A chunk and where its first words were found.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedChunk<L> {
    pub text: String,
    pub place: L,
}

struct Packer<L> {
    chunks: Vec<LocatedChunk<L>>,
    current: String,
    place: Option<L>,
}

impl<L: Clone> Packer<L> {
    fn add(&mut self, piece: &str, separator: &str, place: &L) {
        let extra = if self.current.is_empty() {
            len(piece)
        } else {
            len(piece) + len(separator)
        };
        if len(&self.current) + extra > MAX_CHUNK_CHARS {
            if len(&self.current) >= MIN_CHUNK_CHARS {
                self.flush();
            } else {
                // Too short to stand alone: fill up to the limit at a word boundary.
                let room = MAX_CHUNK_CHARS.saturating_sub(len(&self.current) + len(separator));
                let mut head = String::new();
                let mut rest = piece;
                for word in piece.split_whitespace() {
                    let add = if head.is_empty() {
                        len(word)
                    } else {
                        len(word) + 1
                    };
                    if len(&head) + add > room {
                        break;
                    }
                    if !head.is_empty() {
                        head.push(' ');
                    }
                    head.push_str(word);
                    rest = rest.trim_start().strip_prefix(word).unwrap_or(rest);
                }
                if !head.is_empty() {
                    self.current.push_str(separator);
                    self.current.push_str(&head);
                }
                self.flush();
                let rest = rest.trim();
                if !rest.is_empty() {
                    self.add(rest, " ", place);
                }
                return;
            }
        }
        if self.current.is_empty() {
            self.place = Some(place.clone());
        } else {
            self.current.push_str(separator);
        }
        self.current.push_str(piece);
    }

    fn flush(&mut self) {
        let chunk = std::mem::take(&mut self.current);
        let place = self.place.take();
        if let (false, Some(place)) = (chunk.trim().is_empty(), place) {
            self.chunks.push(LocatedChunk { text: chunk, place });
        }
    }
}

/// Chunks a document. Every chunk is at most 800 characters; every chunk but
/// the last is at least 500.
pub fn chunk_text(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    let paragraphs = text.split("\n\n").map(|p| (p, ()));
    chunk_paragraphs(paragraphs)
        .into_iter()
        .map(|c| c.text)
        .collect()
}

/// Chunks paragraphs that each carry a place (a page, a section); a chunk
/// carries the place of its first words. Same bounds as [`chunk_text`].
pub fn chunk_paragraphs<'a, L: Clone + 'a>(
    paragraphs: impl IntoIterator<Item = (&'a str, L)>,
) -> Vec<LocatedChunk<L>> {
    let mut packer = Packer {
        chunks: vec![],
        current: String::new(),
        place: None,
    };
    for (paragraph, place) in paragraphs {
        let paragraph = paragraph.trim();
        if paragraph.is_empty() {
            continue;
        }
        // Prefer to end a chunk at a paragraph once it is long enough.
        if len(&packer.current) >= MIN_CHUNK_CHARS {
            packer.flush();
        }
        let mut separator = "\n\n";
        for sentence in sentences(paragraph) {
            for piece in split_words(&sentence, MAX_CHUNK_CHARS) {
                packer.add(&piece, separator, &place);
                separator = " ";
            }
        }
    }
    packer.flush();
    packer.chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(i: usize) -> String {
        format!("Sentence number {i} explains one part of the career framework in plain words.")
    }

    fn check_bounds(chunks: &[String]) {
        for (i, c) in chunks.iter().enumerate() {
            assert!(len(c) <= MAX_CHUNK_CHARS, "chunk {i} has {} chars", len(c));
            if i + 1 < chunks.len() {
                assert!(
                    len(c) >= MIN_CHUNK_CHARS,
                    "chunk {i} has only {} chars",
                    len(c)
                );
            }
        }
    }

    #[test]
    fn short_documents_are_one_chunk() {
        assert_eq!(
            chunk_text("Be kind.\n\nShip often."),
            vec!["Be kind.\n\nShip often."]
        );
        assert!(chunk_text("  \n\n ").is_empty());
    }

    #[test]
    fn long_documents_are_cut_at_sentence_ends_within_bounds() {
        let paragraphs: Vec<String> = (0..8)
            .map(|p| {
                (0..6)
                    .map(|s| sentence(p * 10 + s))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let text = paragraphs.join("\n\n");
        let chunks = chunk_text(&text);
        assert!(chunks.len() >= 4);
        check_bounds(&chunks);
        for c in &chunks {
            assert!(c.ends_with('.'), "chunk should end at a sentence: {c:?}");
            assert!(
                c.starts_with("Sentence"),
                "chunk should start at a sentence: {c:?}"
            );
        }
        // Nothing is lost or duplicated.
        let words: usize = chunks.iter().map(|c| c.split_whitespace().count()).sum();
        assert_eq!(words, text.split_whitespace().count());
    }

    #[test]
    fn a_chunk_ends_at_a_paragraph_once_long_enough() {
        let para_a = (0..7).map(sentence).collect::<Vec<_>>().join(" ");
        let para_b = (10..13).map(sentence).collect::<Vec<_>>().join(" ");
        assert!(len(&para_a) >= MIN_CHUNK_CHARS && len(&para_a) <= MAX_CHUNK_CHARS);
        let chunks = chunk_text(&format!("{para_a}\n\n{para_b}"));
        assert_eq!(chunks, vec![para_a, para_b]);
    }

    #[test]
    fn text_without_punctuation_is_cut_at_words() {
        let text = "word ".repeat(700);
        let chunks = chunk_text(&text);
        check_bounds(&chunks);
        assert!(chunks.iter().all(|c| c.split(' ').all(|w| w == "word")));
        let words: usize = chunks.iter().map(|c| c.split_whitespace().count()).sum();
        assert_eq!(words, 700);
    }

    #[test]
    fn a_huge_token_is_split_rather_than_dropped_or_oversized() {
        let text = format!("{} tail.", "x".repeat(2000));
        let chunks = chunk_text(&text);
        check_bounds(&chunks);
        assert!(chunks.last().unwrap().ends_with("tail."));
        let xs: usize = chunks.iter().map(|c| c.matches('x').count()).sum();
        assert_eq!(xs, 2000);
    }

    #[test]
    fn chunks_carry_the_place_of_their_first_words() {
        let page = |p: u32| {
            (0..5)
                .map(|s| sentence(p as usize * 10 + s))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let pages: Vec<(String, u32)> = (1..=4).map(|p| (page(p), p)).collect();
        let chunks = chunk_paragraphs(pages.iter().map(|(t, p)| (t.as_str(), *p)));
        check_bounds(&chunks.iter().map(|c| c.text.clone()).collect::<Vec<_>>());
        assert!(chunks.len() >= 2);
        assert_eq!(chunks[0].place, 1);
        for c in &chunks {
            let first = c.text.split('.').next().unwrap();
            let n: usize = first.split_whitespace().nth(2).unwrap().parse().unwrap();
            assert_eq!(
                c.place as usize,
                n / 10,
                "chunk starts on the page of its first sentence"
            );
        }
    }

    #[test]
    fn multibyte_text_is_counted_in_characters() {
        let text = (0..40)
            .map(|_| "Über die Werte: Offenheit, Qualität, Verantwortung.")
            .collect::<Vec<_>>()
            .join(" ");
        check_bounds(&chunk_text(&text));
    }
}
