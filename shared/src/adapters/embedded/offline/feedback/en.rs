//! The scorer's notes in English.

use super::{Note, quoted, topics};

fn topic(key: &str) -> &str {
    match key {
        "learn" => "learning",
        "collaborate" => "collaboration",
        "quality" => "quality",
        "respect" => "respect",
        "innovate" => "innovation",
        "impact" => "customer impact",
        "balance" => "balance",
        "mentor" => "mentoring",
        "lead" => "leadership",
        "senior" => "seniority",
        "migration" => "migrations and cloud",
        "certification" => "certification",
        "talks" => "knowledge sharing",
        "delivery" => "delivery and reliability",
        "design" => "system design",
        "review" => "reviews",
        "payment" => "payments",
        other => other,
    }
}

pub(super) fn say(note: &Note) -> String {
    match note {
        Note::Specific(e) => format!("Names concrete work: “{e}”."),
        Note::SomewhatSpecific(e) => format!(
            "Names some concrete work (“{e}”); say more about the role, skill or system."
        ),
        Note::NotSpecific => {
            "Does not yet name a role, skill or system; say exactly what you will do.".into()
        }
        Note::OneAction => "One action is not yet a plan: add two or three more steps.".into(),
        Note::AboutGoals => "Describes what a good goal looks like instead of stating one; replace words such as “measurable” or “aligned” with the work itself.".into(),
        Note::KeywordList => {
            "Reads as a list of keywords; write sentences about what you will do.".into()
        }
        Note::Vague(w) => format!(
            "Vague words ({}) say little; say what will change.",
            quoted(w, 3, "“", "”")
        ),
        Note::Measured(e) => format!("Progress can be checked: “{e}”."),
        Note::MeasuredPartly(e) => format!(
            "One result can be checked (“{e}”); give the rest a number or a clear end state too."
        ),
        Note::NotMeasured => "Nothing says how you will know it is done; add a number, a before-and-after or a clear end state.".into(),
        Note::TimeFrame => "Says by when.".into(),
        Note::TimeWithoutAction => "Has dates, but no concrete action attached to them.".into(),
        Note::TooManyTimeFrames => "Gives several time frames at once; settle on one.".into(),
        Note::VagueTime => {
            "Only a vague sense of when; name a month, a quarter or a number of months.".into()
        }
        Note::NoTime => "No time frame yet; say by when.".into(),
        Note::Leaving(p) => format!(
            "Aims outside the company (“{p}”), so it cannot build on its career paths."
        ),
        Note::NoDocuments => "There were no company documents to compare it with.".into(),
        Note::TooLittleToCompare => {
            "Too little is said to compare it with the company's documents.".into()
        }
        Note::Aligned(k) => format!(
            "Connects to what the company's documents describe ({}).",
            topics(k, topic)
        ),
        Note::PartlyAligned(k) => format!(
            "Touches on the company's documents ({}), but much of it is not connected yet.",
            topics(k, topic)
        ),
        Note::NotAligned => "Little of it connects to the company's documents; link it to the career paths, guidelines or values.".into(),
        Note::Values(v) => format!("Names clear values: {}.", quoted(v, 5, "“", "”")),
        Note::TooFewValues(v) if v.is_empty() => "Names no values yet.".into(),
        Note::TooFewValues(v) => format!(
            "Names too few values ({}); the rubric asks for three to five.",
            quoted(v, 2, "“", "”")
        ),
        Note::TooManyValues => "Names more than five values; keep the three to five that matter most.".into(),
        Note::NoValues => "Does not name any values yet.".into(),
        Note::RepeatedValues => "Repeats the same value; name distinct ones.".into(),
        Note::AllPractised => "Says what each value means in practice.".into(),
        Note::SomePractised => {
            "Says what some values mean in practice; add a habit for the others.".into()
        }
        Note::NonePractised => "Does not say what the values mean in practice; add what you do, for example every week.".into(),
        Note::OwnPractice => "In your own words, with practices of your own.".into(),
        Note::CopiedList => "Repeats the company's list without anything personal.".into(),
        Note::NotPersonal => "Sounds general; say what you yourself do.".into(),
        Note::Scoped => "A time frame and a manageable scope.".into(),
        Note::ScopeUnclear => "The scope or the time frame is unclear.".into(),
        Note::InstructionSetAside => "Text addressed to the scorer was set aside and limits this score; remove it.".into(),
    }
}
