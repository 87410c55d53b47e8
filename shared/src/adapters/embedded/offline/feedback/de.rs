//! The scorer's notes in German.

use super::{Note, quoted, topics};

fn topic(key: &str) -> &str {
    match key {
        "learn" => "Lernen",
        "collaborate" => "Zusammenarbeit",
        "quality" => "Qualität",
        "respect" => "Respekt",
        "innovate" => "Innovation",
        "impact" => "Wirkung für Kunden",
        "balance" => "Ausgewogenheit",
        "mentor" => "Mentoring",
        "lead" => "Führung",
        "senior" => "Senioritätsstufen",
        "migration" => "Migrationen und Cloud",
        "certification" => "Zertifizierung",
        "talks" => "Wissensaustausch",
        "delivery" => "Auslieferung und Zuverlässigkeit",
        "design" => "Systemdesign",
        "review" => "Reviews",
        "payment" => "Zahlungen",
        other => other,
    }
}

pub(super) fn say(note: &Note) -> String {
    match note {
        Note::Specific(e) => format!("Nennt konkrete Arbeit: „{e}“."),
        Note::SomewhatSpecific(e) => format!(
            "Nennt etwas konkrete Arbeit („{e}“); sagen Sie mehr über Rolle, Fähigkeit oder System."
        ),
        Note::NotSpecific => "Nennt noch keine Rolle, Fähigkeit und kein System; sagen Sie genau, was Sie tun werden.".into(),
        Note::OneAction => "Eine einzelne Maßnahme ist noch kein Plan: ergänzen Sie zwei oder drei weitere Schritte.".into(),
        Note::AboutGoals => "Beschreibt, wie ein gutes Ziel aussieht, statt eines zu nennen; ersetzen Sie Wörter wie „messbar“ oder „ausgerichtet“ durch die Arbeit selbst.".into(),
        Note::KeywordList => "Liest sich wie eine Liste von Schlagwörtern; schreiben Sie Sätze darüber, was Sie tun werden.".into(),
        Note::Vague(w) => format!(
            "Vage Wörter ({}) sagen wenig; sagen Sie, was sich ändern wird.",
            quoted(w, 3, "„", "“")
        ),
        Note::Measured(e) => format!("Der Fortschritt lässt sich prüfen: „{e}“."),
        Note::MeasuredPartly(e) => format!(
            "Ein Ergebnis lässt sich prüfen („{e}“); geben Sie auch dem Rest eine Zahl oder einen klaren Endzustand."
        ),
        Note::NotMeasured => "Nichts sagt, woran Sie merken, dass es erledigt ist; ergänzen Sie eine Zahl, ein Vorher-Nachher oder einen klaren Endzustand.".into(),
        Note::TimeFrame => "Sagt, bis wann.".into(),
        Note::TimeWithoutAction => "Nennt Termine, aber keine konkrete Maßnahme dazu.".into(),
        Note::TooManyTimeFrames => "Nennt mehrere Zeitrahmen auf einmal; entscheiden Sie sich für einen.".into(),
        Note::VagueTime => "Nur eine vage Vorstellung von wann; nennen Sie einen Monat, ein Quartal oder eine Zahl von Monaten.".into(),
        Note::NoTime => "Noch kein Zeitrahmen; sagen Sie, bis wann.".into(),
        Note::Leaving(p) => format!(
            "Zielt aus dem Unternehmen hinaus („{p}“) und kann so nicht auf dessen Karrierewege aufbauen."
        ),
        Note::NoDocuments => "Es gab keine Unternehmensdokumente zum Vergleich.".into(),
        Note::TooLittleToCompare => "Es steht zu wenig da, um es mit den Unternehmensdokumenten zu vergleichen.".into(),
        Note::Aligned(k) => format!(
            "Knüpft an das an, was die Unternehmensdokumente beschreiben ({}).",
            topics(k, topic)
        ),
        Note::PartlyAligned(k) => format!(
            "Berührt die Unternehmensdokumente ({}), vieles ist aber noch nicht damit verbunden.",
            topics(k, topic)
        ),
        Note::NotAligned => "Wenig davon knüpft an die Unternehmensdokumente an; verbinden Sie es mit Karrierewegen, Richtlinien oder Werten.".into(),
        Note::Values(v) => format!("Nennt klare Werte: {}.", quoted(v, 5, "„", "“")),
        Note::TooFewValues(v) if v.is_empty() => "Nennt noch keine Werte.".into(),
        Note::TooFewValues(v) => format!(
            "Nennt zu wenige Werte ({}); gefragt sind drei bis fünf.",
            quoted(v, 2, "„", "“")
        ),
        Note::TooManyValues => "Nennt mehr als fünf Werte; behalten Sie die drei bis fünf, die am meisten zählen.".into(),
        Note::NoValues => "Nennt noch gar keine Werte.".into(),
        Note::RepeatedValues => "Wiederholt denselben Wert; nennen Sie verschiedene.".into(),
        Note::AllPractised => "Sagt, was jeder Wert im Alltag bedeutet.".into(),
        Note::SomePractised => "Sagt bei einigen Werten, was sie im Alltag bedeuten; ergänzen Sie für die anderen eine Gewohnheit.".into(),
        Note::NonePractised => "Sagt nicht, was die Werte im Alltag bedeuten; ergänzen Sie, was Sie tun, zum Beispiel jede Woche.".into(),
        Note::OwnPractice => "In Ihren eigenen Worten, mit eigenen Gewohnheiten.".into(),
        Note::CopiedList => "Wiederholt die Liste des Unternehmens ohne etwas Persönliches.".into(),
        Note::NotPersonal => "Klingt allgemein; sagen Sie, was Sie selbst tun.".into(),
        Note::Scoped => "Ein Zeitrahmen und ein überschaubarer Umfang.".into(),
        Note::ScopeUnclear => "Umfang oder Zeitrahmen sind unklar.".into(),
        Note::InstructionSetAside => "Text, der sich an die Bewertung richtet, wurde beiseitegelassen und begrenzt diese Note; entfernen Sie ihn.".into(),
    }
}
