//! Arabic contextual shaping through the presentation-form code points:
//! each letter takes its isolated, initial, medial or final form from its
//! neighbours' joining types (Unicode's ArabicShaping rules), and lam
//! followed by alef becomes the mandatory lam-alef ligature. Small enough
//! for the Lambda, and every form it picks is in the embedded Noto Sans
//! Arabic's character map.

use unicode_normalization::char::is_combining_mark;

// Generated from UnicodeData.txt (Unicode 14.0.0): each Arabic letter's
// presentation forms (isolated, final, initial, medial; 0 where the letter
// has none), from the <isolated>/<final>/<initial>/<medial> decompositions.
pub(super) const FORMS: [(u16, u16, u16, u16, u16); 76] = [
    (0x0621, 0xFE80, 0, 0, 0),
    (0x0622, 0xFE81, 0xFE82, 0, 0),
    (0x0623, 0xFE83, 0xFE84, 0, 0),
    (0x0624, 0xFE85, 0xFE86, 0, 0),
    (0x0625, 0xFE87, 0xFE88, 0, 0),
    (0x0626, 0xFE89, 0xFE8A, 0xFE8B, 0xFE8C),
    (0x0627, 0xFE8D, 0xFE8E, 0, 0),
    (0x0628, 0xFE8F, 0xFE90, 0xFE91, 0xFE92),
    (0x0629, 0xFE93, 0xFE94, 0, 0),
    (0x062A, 0xFE95, 0xFE96, 0xFE97, 0xFE98),
    (0x062B, 0xFE99, 0xFE9A, 0xFE9B, 0xFE9C),
    (0x062C, 0xFE9D, 0xFE9E, 0xFE9F, 0xFEA0),
    (0x062D, 0xFEA1, 0xFEA2, 0xFEA3, 0xFEA4),
    (0x062E, 0xFEA5, 0xFEA6, 0xFEA7, 0xFEA8),
    (0x062F, 0xFEA9, 0xFEAA, 0, 0),
    (0x0630, 0xFEAB, 0xFEAC, 0, 0),
    (0x0631, 0xFEAD, 0xFEAE, 0, 0),
    (0x0632, 0xFEAF, 0xFEB0, 0, 0),
    (0x0633, 0xFEB1, 0xFEB2, 0xFEB3, 0xFEB4),
    (0x0634, 0xFEB5, 0xFEB6, 0xFEB7, 0xFEB8),
    (0x0635, 0xFEB9, 0xFEBA, 0xFEBB, 0xFEBC),
    (0x0636, 0xFEBD, 0xFEBE, 0xFEBF, 0xFEC0),
    (0x0637, 0xFEC1, 0xFEC2, 0xFEC3, 0xFEC4),
    (0x0638, 0xFEC5, 0xFEC6, 0xFEC7, 0xFEC8),
    (0x0639, 0xFEC9, 0xFECA, 0xFECB, 0xFECC),
    (0x063A, 0xFECD, 0xFECE, 0xFECF, 0xFED0),
    (0x0641, 0xFED1, 0xFED2, 0xFED3, 0xFED4),
    (0x0642, 0xFED5, 0xFED6, 0xFED7, 0xFED8),
    (0x0643, 0xFED9, 0xFEDA, 0xFEDB, 0xFEDC),
    (0x0644, 0xFEDD, 0xFEDE, 0xFEDF, 0xFEE0),
    (0x0645, 0xFEE1, 0xFEE2, 0xFEE3, 0xFEE4),
    (0x0646, 0xFEE5, 0xFEE6, 0xFEE7, 0xFEE8),
    (0x0647, 0xFEE9, 0xFEEA, 0xFEEB, 0xFEEC),
    (0x0648, 0xFEED, 0xFEEE, 0, 0),
    (0x0649, 0xFEEF, 0xFEF0, 0xFBE8, 0xFBE9),
    (0x064A, 0xFEF1, 0xFEF2, 0xFEF3, 0xFEF4),
    (0x0671, 0xFB50, 0xFB51, 0, 0),
    (0x0677, 0xFBDD, 0, 0, 0),
    (0x0679, 0xFB66, 0xFB67, 0xFB68, 0xFB69),
    (0x067A, 0xFB5E, 0xFB5F, 0xFB60, 0xFB61),
    (0x067B, 0xFB52, 0xFB53, 0xFB54, 0xFB55),
    (0x067E, 0xFB56, 0xFB57, 0xFB58, 0xFB59),
    (0x067F, 0xFB62, 0xFB63, 0xFB64, 0xFB65),
    (0x0680, 0xFB5A, 0xFB5B, 0xFB5C, 0xFB5D),
    (0x0683, 0xFB76, 0xFB77, 0xFB78, 0xFB79),
    (0x0684, 0xFB72, 0xFB73, 0xFB74, 0xFB75),
    (0x0686, 0xFB7A, 0xFB7B, 0xFB7C, 0xFB7D),
    (0x0687, 0xFB7E, 0xFB7F, 0xFB80, 0xFB81),
    (0x0688, 0xFB88, 0xFB89, 0, 0),
    (0x068C, 0xFB84, 0xFB85, 0, 0),
    (0x068D, 0xFB82, 0xFB83, 0, 0),
    (0x068E, 0xFB86, 0xFB87, 0, 0),
    (0x0691, 0xFB8C, 0xFB8D, 0, 0),
    (0x0698, 0xFB8A, 0xFB8B, 0, 0),
    (0x06A4, 0xFB6A, 0xFB6B, 0xFB6C, 0xFB6D),
    (0x06A6, 0xFB6E, 0xFB6F, 0xFB70, 0xFB71),
    (0x06A9, 0xFB8E, 0xFB8F, 0xFB90, 0xFB91),
    (0x06AD, 0xFBD3, 0xFBD4, 0xFBD5, 0xFBD6),
    (0x06AF, 0xFB92, 0xFB93, 0xFB94, 0xFB95),
    (0x06B1, 0xFB9A, 0xFB9B, 0xFB9C, 0xFB9D),
    (0x06B3, 0xFB96, 0xFB97, 0xFB98, 0xFB99),
    (0x06BA, 0xFB9E, 0xFB9F, 0, 0),
    (0x06BB, 0xFBA0, 0xFBA1, 0xFBA2, 0xFBA3),
    (0x06BE, 0xFBAA, 0xFBAB, 0xFBAC, 0xFBAD),
    (0x06C0, 0xFBA4, 0xFBA5, 0, 0),
    (0x06C1, 0xFBA6, 0xFBA7, 0xFBA8, 0xFBA9),
    (0x06C5, 0xFBE0, 0xFBE1, 0, 0),
    (0x06C6, 0xFBD9, 0xFBDA, 0, 0),
    (0x06C7, 0xFBD7, 0xFBD8, 0, 0),
    (0x06C8, 0xFBDB, 0xFBDC, 0, 0),
    (0x06C9, 0xFBE2, 0xFBE3, 0, 0),
    (0x06CB, 0xFBDE, 0xFBDF, 0, 0),
    (0x06CC, 0xFBFC, 0xFBFD, 0xFBFE, 0xFBFF),
    (0x06D0, 0xFBE4, 0xFBE5, 0xFBE6, 0xFBE7),
    (0x06D2, 0xFBAE, 0xFBAF, 0, 0),
    (0x06D3, 0xFBB0, 0xFBB1, 0, 0),
];

/// Whether `c` belongs to the Arabic blocks this shaper and the Arabic font
/// handle.
pub(super) fn is_arabic(c: char) -> bool {
    matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joining {
    /// Joins on both sides (beh, seen, lam...).
    Dual,
    /// Joins only to the letter before it (alef, dal, reh, waw...).
    Right,
    /// Tatweel: joins on both sides, shows no letter.
    Causing,
    /// Marks (harakat) are skipped when looking for neighbours.
    Transparent,
    None,
}

fn forms(c: char) -> Option<&'static (u16, u16, u16, u16, u16)> {
    let code = u16::try_from(u32::from(c)).ok()?;
    FORMS
        .binary_search_by_key(&code, |f| f.0)
        .ok()
        .map(|i| &FORMS[i])
}

fn joining(c: char) -> Joining {
    if c == '\u{0640}' {
        return Joining::Causing;
    }
    if is_combining_mark(c) {
        return Joining::Transparent;
    }
    match forms(c) {
        Some(&(_, _, _, init, medi)) if init != 0 || medi != 0 => Joining::Dual,
        Some(&(_, _, fina, _, _)) if fina != 0 => Joining::Right,
        _ => Joining::None,
    }
}

fn joins_forward(j: Joining) -> bool {
    matches!(j, Joining::Dual | Joining::Causing)
}

fn joins_backward(j: Joining) -> bool {
    matches!(j, Joining::Dual | Joining::Right | Joining::Causing)
}

/// Lam-alef ligatures: (alef variant, isolated, final).
const LAM_ALEF: [(char, char, char); 4] = [
    ('\u{0622}', '\u{FEF5}', '\u{FEF6}'),
    ('\u{0623}', '\u{FEF7}', '\u{FEF8}'),
    ('\u{0625}', '\u{FEF9}', '\u{FEFA}'),
    ('\u{0627}', '\u{FEFB}', '\u{FEFC}'),
];

/// One shaped unit: the character to draw and the characters it stands
/// for, in logical order, with the index of the first of them in `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shaped {
    pub form: char,
    pub text: String,
    pub source: usize,
}

/// Shapes a run of Arabic characters (in logical order); joining stops at
/// the run's ends.
pub(super) fn shape(text: &[char]) -> Vec<Shaped> {
    let kinds: Vec<Joining> = text.iter().map(|&c| joining(c)).collect();
    let neighbour = |from: usize, forward: bool| -> Option<usize> {
        let mut i = from;
        loop {
            i = if forward {
                i.checked_add(1).filter(|&n| n < text.len())?
            } else {
                i.checked_sub(1)?
            };
            if kinds[i] != Joining::Transparent {
                return Some(i);
            }
        }
    };
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        let joins_previous = joins_backward(kinds[i])
            && neighbour(i, false).is_some_and(|p| joins_forward(kinds[p]));
        if c == '\u{0644}'
            && let Some(&(alef, isolated, last)) = text
                .get(i + 1)
                .and_then(|next| LAM_ALEF.iter().find(|l| l.0 == *next))
        {
            out.push(Shaped {
                form: if joins_previous { last } else { isolated },
                text: ['\u{0644}', alef].iter().collect(),
                source: i,
            });
            i += 2;
            continue;
        }
        let joins_next =
            joins_forward(kinds[i]) && neighbour(i, true).is_some_and(|n| joins_backward(kinds[n]));
        let form = forms(c).and_then(|&(_, isol, fina, init, medi)| {
            let wanted = match (joins_previous, joins_next) {
                (true, true) => [medi, fina],
                (true, false) => [fina, isol],
                (false, true) => [init, isol],
                (false, false) => [isol, 0],
            };
            wanted
                .into_iter()
                .find(|&f| f != 0)
                .and_then(|f| char::from_u32(u32::from(f)))
        });
        out.push(Shaped {
            form: form.unwrap_or(c),
            text: c.to_string(),
            source: i,
        });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms_of(word: &str) -> Vec<char> {
        let chars: Vec<char> = word.chars().collect();
        shape(&chars).into_iter().map(|s| s.form).collect()
    }

    #[test]
    fn letters_take_their_initial_medial_and_final_forms() {
        // meem (initial), hah (medial), meem (medial), dal (final).
        assert_eq!(
            forms_of("محمد"),
            vec!['\u{FEE3}', '\u{FEA4}', '\u{FEE4}', '\u{FEAA}']
        );
        // ain (initial), lam (medial), yeh (final).
        assert_eq!(forms_of("علي"), vec!['\u{FECB}', '\u{FEE0}', '\u{FEF2}']);
    }

    #[test]
    fn right_joining_letters_break_the_word_and_marks_are_skipped() {
        // dal joins only backwards, so the following reh stands alone.
        assert_eq!(forms_of("در"), vec!['\u{FEA9}', '\u{FEAD}']);
        // beh + fatha + teh: the mark does not stop the joining.
        assert_eq!(forms_of("بَت"), vec!['\u{FE91}', '\u{064E}', '\u{FE96}']);
    }

    #[test]
    fn lam_alef_is_one_ligature_that_keeps_both_letters() {
        let chars: Vec<char> = "سلام".chars().collect();
        let shaped = shape(&chars);
        assert_eq!(shaped.len(), 3);
        assert_eq!(shaped[1].form, '\u{FEFC}', "final lam-alef after seen");
        assert_eq!(shaped[1].text, "لا");
        assert_eq!(forms_of("لا"), vec!['\u{FEFB}']);
    }
}
