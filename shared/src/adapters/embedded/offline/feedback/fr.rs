//! The scorer's notes in French.

use super::{Note, quoted, topics};

fn topic(key: &str) -> &str {
    match key {
        "learn" => "apprentissage",
        "collaborate" => "collaboration",
        "quality" => "qualité",
        "respect" => "respect",
        "innovate" => "innovation",
        "impact" => "impact client",
        "balance" => "équilibre",
        "mentor" => "mentorat",
        "lead" => "leadership",
        "senior" => "niveaux de séniorité",
        "migration" => "migrations et cloud",
        "certification" => "certification",
        "talks" => "partage de connaissances",
        "delivery" => "livraison et fiabilité",
        "design" => "conception de systèmes",
        "review" => "revues",
        "payment" => "paiements",
        other => other,
    }
}

pub(super) fn say(note: &Note) -> String {
    match note {
        Note::Specific(e) => format!("Nomme un travail concret : « {e} »."),
        Note::SomewhatSpecific(e) => format!(
            "Nomme un peu de travail concret (« {e} ») ; précisez le rôle, la compétence ou le système."
        ),
        Note::NotSpecific => "Ne nomme pas encore de rôle, de compétence ni de système ; dites exactement ce que vous ferez.".into(),
        Note::OneAction => "Une seule action n'est pas encore un plan : ajoutez deux ou trois étapes.".into(),
        Note::AboutGoals => "Décrit à quoi ressemble un bon objectif au lieu d'en formuler un ; remplacez des mots comme « mesurable » ou « aligné » par le travail lui-même.".into(),
        Note::KeywordList => "Se lit comme une liste de mots-clés ; écrivez des phrases sur ce que vous ferez.".into(),
        Note::Vague(w) => format!(
            "Des mots vagues ({}) disent peu de chose ; dites ce qui va changer.",
            quoted(w, 3, "« ", " »")
        ),
        Note::Measured(e) => format!("Les progrès sont vérifiables : « {e} »."),
        Note::MeasuredPartly(e) => format!(
            "Un résultat est vérifiable (« {e} ») ; donnez aussi aux autres un chiffre ou un état final clair."
        ),
        Note::NotMeasured => "Rien n'indique comment vous saurez que c'est fait ; ajoutez un chiffre, un avant-après ou un état final clair.".into(),
        Note::TimeFrame => "Dit pour quand.".into(),
        Note::TimeWithoutAction => "Donne des dates, mais sans action concrète qui s'y rattache.".into(),
        Note::TooManyTimeFrames => "Donne plusieurs délais à la fois ; choisissez-en un.".into(),
        Note::VagueTime => "Seulement une idée vague du moment ; nommez un mois, un trimestre ou un nombre de mois.".into(),
        Note::NoTime => "Pas encore de délai ; dites pour quand.".into(),
        Note::Leaving(p) => format!(
            "Vise l'extérieur de l'entreprise (« {p} ») et ne peut donc pas s'appuyer sur ses parcours de carrière."
        ),
        Note::NoDocuments => "Il n'y avait aucun document de l'entreprise pour comparer.".into(),
        Note::TooLittleToCompare => "Trop peu est dit pour comparer avec les documents de l'entreprise.".into(),
        Note::Aligned(k) => format!(
            "Rejoint ce que décrivent les documents de l'entreprise ({}).",
            topics(k, topic)
        ),
        Note::PartlyAligned(k) => format!(
            "Touche aux documents de l'entreprise ({}), mais une grande partie n'y est pas encore reliée.",
            topics(k, topic)
        ),
        Note::NotAligned => "Peu de choses se rattachent aux documents de l'entreprise ; reliez-le aux parcours de carrière, aux lignes directrices ou aux valeurs.".into(),
        Note::Values(v) => format!("Nomme des valeurs claires : {}.", quoted(v, 5, "« ", " »")),
        Note::TooFewValues(v) if v.is_empty() => "Ne nomme encore aucune valeur.".into(),
        Note::TooFewValues(v) => format!(
            "Nomme trop peu de valeurs ({}) ; il en faut de trois à cinq.",
            quoted(v, 2, "« ", " »")
        ),
        Note::TooManyValues => "Nomme plus de cinq valeurs ; gardez les trois à cinq qui comptent le plus.".into(),
        Note::NoValues => "Ne nomme aucune valeur pour l'instant.".into(),
        Note::RepeatedValues => "Répète la même valeur ; nommez-en des différentes.".into(),
        Note::AllPractised => "Dit ce que chaque valeur signifie au quotidien.".into(),
        Note::SomePractised => "Dit ce que certaines valeurs signifient au quotidien ; ajoutez une habitude pour les autres.".into(),
        Note::NonePractised => "Ne dit pas ce que les valeurs signifient au quotidien ; ajoutez ce que vous faites, par exemple chaque semaine.".into(),
        Note::OwnPractice => "Avec vos propres mots et vos propres habitudes.".into(),
        Note::CopiedList => "Reprend la liste de l'entreprise sans rien de personnel.".into(),
        Note::NotPersonal => "Reste général ; dites ce que vous faites, vous.".into(),
        Note::Scoped => "Un délai et une ampleur raisonnable.".into(),
        Note::ScopeUnclear => "L'ampleur ou le délai n'est pas clair.".into(),
        Note::InstructionSetAside => "Un texte adressé à l'évaluation a été écarté et limite cette note ; supprimez-le.".into(),
    }
}
