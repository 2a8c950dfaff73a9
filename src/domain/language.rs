//! Language codes (`en`, `es`, `pt-BR`): which of the languages we have a code asks for.

/// The code in `available` that `asked` names: the same code in any case, else the first one
/// with the same primary language (`pt` and `pt-PT` find `pt-BR`, `en-GB` finds `en`).
pub fn best_match(available: &[&'static str], asked: &str) -> Option<&'static str> {
    let asked = asked.trim();
    if asked.is_empty() {
        return None;
    }
    let primary = |code: &str| code.split(['-', '_']).next().unwrap_or(code).to_owned();
    available
        .iter()
        .find(|code| code.eq_ignore_ascii_case(asked))
        .or_else(|| {
            available
                .iter()
                .find(|code| primary(code).eq_ignore_ascii_case(&primary(asked)))
        })
        .copied()
}

#[cfg(test)]
mod tests {
    use super::best_match;

    #[test]
    fn exact_codes_win_then_the_primary_language() {
        let have = ["en", "es", "pt-BR"];
        assert_eq!(best_match(&have, "ES"), Some("es"));
        assert_eq!(best_match(&have, "pt-br"), Some("pt-BR"));
        assert_eq!(best_match(&have, "pt"), Some("pt-BR"));
        assert_eq!(best_match(&have, "pt_PT"), Some("pt-BR"));
        assert_eq!(best_match(&have, "en-GB"), Some("en"));
        assert_eq!(best_match(&have, "fr"), None);
        assert_eq!(best_match(&have, " "), None);
    }
}
