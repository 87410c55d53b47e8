//! The scorer's notes in Spanish.

use super::{Note, quoted, topics};

fn topic(key: &str) -> &str {
    match key {
        "learn" => "aprendizaje",
        "collaborate" => "colaboración",
        "quality" => "calidad",
        "respect" => "respeto",
        "innovate" => "innovación",
        "impact" => "impacto en el cliente",
        "balance" => "equilibrio",
        "mentor" => "mentoría",
        "lead" => "liderazgo",
        "senior" => "niveles de seniority",
        "migration" => "migraciones y nube",
        "certification" => "certificación",
        "talks" => "compartir conocimiento",
        "delivery" => "entrega y fiabilidad",
        "design" => "diseño de sistemas",
        "review" => "revisiones",
        "payment" => "pagos",
        other => other,
    }
}

pub(super) fn say(note: &Note) -> String {
    match note {
        Note::Specific(e) => format!("Nombra trabajo concreto: «{e}»."),
        Note::SomewhatSpecific(e) => format!(
            "Nombra algo de trabajo concreto («{e}»); di más sobre el rol, la habilidad o el sistema."
        ),
        Note::NotSpecific => "Todavía no nombra un rol, una habilidad ni un sistema; di exactamente qué harás.".into(),
        Note::OneAction => "Una sola acción todavía no es un plan: añade dos o tres pasos más.".into(),
        Note::AboutGoals => "Describe cómo es un buen objetivo en lugar de plantear uno; cambia palabras como «medible» o «alineado» por el trabajo en sí.".into(),
        Note::KeywordList => "Se lee como una lista de palabras clave; escribe frases sobre lo que harás.".into(),
        Note::Vague(w) => format!(
            "Las palabras vagas ({}) dicen poco; di qué va a cambiar.",
            quoted(w, 3, "«", "»")
        ),
        Note::Measured(e) => format!("El avance se puede comprobar: «{e}»."),
        Note::MeasuredPartly(e) => format!(
            "Un resultado se puede comprobar («{e}»); da también al resto un número o un estado final claro."
        ),
        Note::NotMeasured => "Nada indica cómo sabrás que está hecho; añade un número, un antes y un después o un estado final claro.".into(),
        Note::TimeFrame => "Dice para cuándo.".into(),
        Note::TimeWithoutAction => "Tiene fechas, pero ninguna acción concreta ligada a ellas.".into(),
        Note::TooManyTimeFrames => "Da varios plazos a la vez; quédate con uno.".into(),
        Note::VagueTime => "Solo una idea vaga de cuándo; nombra un mes, un trimestre o un número de meses.".into(),
        Note::NoTime => "Todavía no hay plazo; di para cuándo.".into(),
        Note::Leaving(p) => format!(
            "Apunta fuera de la empresa («{p}»), así que no puede apoyarse en sus trayectorias profesionales."
        ),
        Note::NoDocuments => "No había documentos de la empresa con los que comparar.".into(),
        Note::TooLittleToCompare => "Se dice demasiado poco para compararlo con los documentos de la empresa.".into(),
        Note::Aligned(k) => format!(
            "Conecta con lo que describen los documentos de la empresa ({}).",
            topics(k, topic)
        ),
        Note::PartlyAligned(k) => format!(
            "Toca los documentos de la empresa ({}), pero gran parte aún no está conectada.",
            topics(k, topic)
        ),
        Note::NotAligned => "Poco de ello conecta con los documentos de la empresa; relaciónalo con las trayectorias, las directrices o los valores.".into(),
        Note::Values(v) => format!("Nombra valores claros: {}.", quoted(v, 5, "«", "»")),
        Note::TooFewValues(v) if v.is_empty() => "Todavía no nombra valores.".into(),
        Note::TooFewValues(v) => format!(
            "Nombra muy pocos valores ({}); se piden de tres a cinco.",
            quoted(v, 2, "«", "»")
        ),
        Note::TooManyValues => "Nombra más de cinco valores; quédate con los tres a cinco que más importan.".into(),
        Note::NoValues => "No nombra ningún valor por ahora.".into(),
        Note::RepeatedValues => "Repite el mismo valor; nombra valores distintos.".into(),
        Note::AllPractised => "Dice qué significa cada valor en la práctica.".into(),
        Note::SomePractised => "Dice qué significan algunos valores en la práctica; añade un hábito para los demás.".into(),
        Note::NonePractised => "No dice qué significan los valores en la práctica; añade lo que haces, por ejemplo cada semana.".into(),
        Note::OwnPractice => "Con tus propias palabras y tus propios hábitos.".into(),
        Note::CopiedList => "Repite la lista de la empresa sin nada personal.".into(),
        Note::NotPersonal => "Suena general; di qué haces tú.".into(),
        Note::Scoped => "Un plazo y un alcance asumible.".into(),
        Note::ScopeUnclear => "El alcance o el plazo no están claros.".into(),
        Note::InstructionSetAside => "Se apartó un texto dirigido a la evaluación y limita esta nota; elimínalo.".into(),
    }
}
