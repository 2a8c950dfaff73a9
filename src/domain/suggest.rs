//! "Did you mean …?" for misspelt field names.

/// The candidate closest to `input`, if it is close enough to be a plausible typo: equal
/// ignoring case, underscores and hyphens, or within an edit distance of 2 (1 for short names).
pub fn closest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let folded = fold(input);
    if let Some(hit) = candidates.iter().find(|c| fold(c) == folded) {
        return Some(hit);
    }
    candidates
        .iter()
        .map(|c| (levenshtein(&folded, &fold(c)), *c))
        .filter(|(d, c)| *d <= if c.len() <= 5 { 1 } else { 2 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["product", "amount", "redirectUrl", "metadata", "customer"];

    #[test]
    fn suggests_near_misses() {
        assert_eq!(closest("redirectURL", FIELDS), Some("redirectUrl"));
        assert_eq!(closest("redirect_url", FIELDS), Some("redirectUrl"));
        assert_eq!(closest("ammount", FIELDS), Some("amount"));
        assert_eq!(closest("custmer", FIELDS), Some("customer"));
    }

    #[test]
    fn stays_quiet_for_unrelated_names() {
        assert_eq!(closest("color", FIELDS), None);
        assert_eq!(closest("x", FIELDS), None);
    }
}
