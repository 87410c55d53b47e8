//! Words the reading's rules use beside the per-language lists of
//! [`super::lang`]. The stop words, vague words, months and numbers are the
//! text kernel's (`domain::text`).

/// General words that still count things (in the four languages): "lead 2 projects",
/// "mentor 3 people".
pub(super) const COUNTABLE: &[&str] = &[
    "project",
    "projects",
    "people",
    "person",
    "persons",
    "projekte",
    "projets",
    "proyectos",
    "personas",
    "personnes",
    "personen",
];
