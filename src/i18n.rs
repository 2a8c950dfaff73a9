//! The pages' texts, one catalog per language in `locales/<code>.toml`: a translator edits a
//! file, not Rust. Catalogs are read from `locales_dir` when that folder exists (edits show on
//! restart) and otherwise from the copies built into the binary.
//!
//! The language of a page is `?lang=`, then the browser's `Accept-Language`, then the
//! merchant's default, then English.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::domain::language::best_match;

/// The built-in catalogs: (code, file content).
const BUILT_IN: &[(&str, &str)] = &[
    ("en", include_str!("../locales/en.toml")),
    ("es", include_str!("../locales/es.toml")),
    ("pt-BR", include_str!("../locales/pt-BR.toml")),
    ("fr", include_str!("../locales/fr.toml")),
    ("de", include_str!("../locales/de.toml")),
    ("it", include_str!("../locales/it.toml")),
    ("nl", include_str!("../locales/nl.toml")),
    ("pl", include_str!("../locales/pl.toml")),
    ("ja", include_str!("../locales/ja.toml")),
    ("zh-CN", include_str!("../locales/zh-CN.toml")),
    ("ko", include_str!("../locales/ko.toml")),
    ("ar", include_str!("../locales/ar.toml")),
];

/// The texts of one language.
#[derive(Debug)]
pub struct Catalog {
    /// The BCP 47 code, as in `<html lang>`.
    pub code: &'static str,
    /// Looked up on every text of every page: hashed, not searched.
    texts: HashMap<String, String>,
    months: Vec<String>,
    rtl: bool,
    /// Money's parts, split once from the `meta.` texts (money is written many times a page).
    money: MoneyFormat,
}

/// How a language writes an amount: `{before}1{thousands}116{decimal}50{after}`.
#[derive(Debug, Default)]
struct MoneyFormat {
    thousands: String,
    decimal: String,
    before: String,
    after: String,
}

impl Catalog {
    fn parse(code: &'static str, source: &str) -> anyhow::Result<Catalog> {
        let table: toml::Table =
            toml::from_str(source).with_context(|| format!("in the {code} catalog"))?;
        let mut flat = BTreeMap::new();
        flatten("", &toml::Value::Table(table), &mut flat)
            .with_context(|| format!("in the {code} catalog"))?;
        let texts: HashMap<String, String> = flat.into_iter().collect();
        let months: Vec<String> = texts
            .get("meta.months")
            .map(|m| m.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default();
        if months.len() != 12 {
            bail!("the {code} catalog must list 12 months in meta.months");
        }
        let rtl = match texts.get("meta.direction").map(String::as_str) {
            Some("rtl") => true,
            Some("ltr") => false,
            _ => bail!("the {code} catalog must give meta.direction as ltr or rtl"),
        };
        let text = |key: &str| texts.get(key).cloned().unwrap_or_default();
        let format = text("meta.money_format");
        let Some((before, after)) = format.split_once("{amount}") else {
            bail!("the {code} catalog's meta.money_format must contain {{amount}}");
        };
        let money = MoneyFormat {
            thousands: text("meta.thousands_separator"),
            decimal: text("meta.decimal_separator"),
            before: before.to_owned(),
            after: after.to_owned(),
        };
        Ok(Catalog {
            code,
            texts,
            months,
            rtl,
            money,
        })
    }

    /// A catalog with no texts (every text shows as missing).
    fn empty(code: &'static str) -> Catalog {
        Catalog {
            code,
            texts: HashMap::new(),
            months: Vec::new(),
            rtl: false,
            money: MoneyFormat::default(),
        }
    }

    /// The text for `key`; `⟦key⟧`, visibly wrong, when the catalog lacks it (loading refuses
    /// catalogs that lack each other's keys, and the gallery test catches a template asking for
    /// a key no catalog has).
    pub fn get(&self, key: &str) -> Cow<'_, str> {
        match self.texts.get(key) {
            Some(text) => Cow::Borrowed(text.as_str()),
            None => {
                tracing::warn!(language = self.code, key, "a catalog lacks a text");
                Cow::Owned(format!("⟦{key}⟧"))
            }
        }
    }

    /// The text for `key` with `{name}` replaced by `value`.
    pub fn with(&self, key: &str, name: &str, value: &str) -> String {
        self.get(key).replace(&format!("{{{name}}}"), value)
    }

    /// The text for `key` with two placeholders filled.
    pub fn with2(&self, key: &str, a: (&str, &str), b: (&str, &str)) -> String {
        self.with(key, a.0, a.1)
            .replace(&format!("{{{}}}", b.0), b.1)
    }

    /// `rtl` for a language written right to left (`<html dir>`), else `ltr`.
    pub fn dir(&self) -> &'static str {
        if self.rtl { "rtl" } else { "ltr" }
    }

    /// Dollars written the language's way: `$1,116.50`, `1.116,50 US$`, `US$ 1.116,50`. In a
    /// right-to-left language the amount is a left-to-right isolate, so its digits and sign
    /// keep their order inside a sentence.
    pub fn money(&self, cents: i64) -> String {
        let format = &self.money;
        let dollars = (cents.unsigned_abs() / 100).to_string();
        let mut written = String::with_capacity(32);
        if self.rtl {
            written.push('\u{2066}');
        }
        if cents < 0 {
            written.push('-');
        }
        written.push_str(&format.before);
        for (i, ch) in dollars.chars().enumerate() {
            if i > 0 && (dollars.len() - i).is_multiple_of(3) {
                written.push_str(&format.thousands);
            }
            written.push(ch);
        }
        written.push_str(&format.decimal);
        let rest = cents.unsigned_abs() % 100;
        written.push(char::from(b'0' + (rest / 10) as u8));
        written.push(char::from(b'0' + (rest % 10) as u8));
        written.push_str(&format.after);
        if self.rtl {
            written.push('\u{2069}');
        }
        written
    }

    /// A UTC date and time written the language's way.
    pub fn date(&self, ms: i64) -> String {
        let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else {
            return String::new();
        };
        let month = self
            .months
            .get(usize::from(u8::from(dt.month())) - 1)
            .cloned()
            .unwrap_or_default();
        self.get("meta.date_format")
            .replace("{day}", &dt.day().to_string())
            .replace("{month}", &month)
            .replace("{year}", &dt.year().to_string())
            .replace("{time}", &format!("{:02}:{:02}", dt.hour(), dt.minute()))
    }

    /// How long something stays open, in words and in no time zone: "about 23 hours".
    pub fn open_for(&self, ms_left: i64) -> String {
        let minutes = ms_left.max(0) / 60_000;
        let (key, n) = match minutes {
            0..=1 => return self.get("layout.open_for_moment").into_owned(),
            2..=119 => ("layout.open_for_minutes", minutes),
            120..=2_879 => ("layout.open_for_hours", minutes / 60),
            _ => ("layout.open_for_days", minutes / 1_440),
        };
        self.with(key, "n", &n.to_string())
    }

    /// Whether the catalog has a text for `key`.
    pub fn has(&self, key: &str) -> bool {
        self.texts.contains_key(key)
    }

    /// Every key, for completeness checks.
    pub fn keys(&self) -> BTreeSet<&str> {
        self.texts.keys().map(String::as_str).collect()
    }
}

fn flatten(
    prefix: &str,
    value: &toml::Value,
    out: &mut BTreeMap<String, String>,
) -> anyhow::Result<()> {
    match value {
        toml::Value::Table(table) => {
            for (key, inner) in table {
                let full = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&full, inner, out)?;
            }
            Ok(())
        }
        toml::Value::String(text) => {
            out.insert(prefix.to_owned(), text.clone());
            Ok(())
        }
        _ => bail!("{prefix} must be a text"),
    }
}

/// All languages.
#[derive(Debug, Clone)]
pub struct Catalogs {
    all: Vec<Arc<Catalog>>,
    codes: Vec<&'static str>,
    /// (code, name in its own language) of each, for the pages' language links.
    names: Arc<[(&'static str, String)]>,
}

impl Catalogs {
    /// From `dir` when it exists, else the built-in copies. Fails when a catalog is
    /// malformed or lacks a key another has.
    pub fn load(dir: &str) -> anyhow::Result<Catalogs> {
        let dir = std::path::Path::new(dir);
        let mut all = Vec::new();
        for (code, built_in) in BUILT_IN {
            let source = if dir.is_dir() {
                std::fs::read_to_string(dir.join(format!("{code}.toml")))
                    .with_context(|| format!("reading the {code} catalog from {}", dir.display()))?
            } else {
                (*built_in).to_owned()
            };
            all.push(Arc::new(Catalog::parse(code, &source)?));
        }
        let codes = all.iter().map(|c| c.code).collect();
        let names = all
            .iter()
            .map(|c| (c.code, c.get("meta.language_name").into_owned()))
            .collect();
        let catalogs = Catalogs { all, codes, names };
        if let Some((code, key)) = catalogs.missing_keys().first() {
            bail!("the {code} catalog lacks {key}, which another catalog has");
        }
        Ok(catalogs)
    }

    /// The built-in catalogs.
    pub fn built_in() -> anyhow::Result<Catalogs> {
        Self::load("")
    }

    /// (language, key) for every key some catalog has and another lacks.
    pub fn missing_keys(&self) -> Vec<(&'static str, String)> {
        let every: BTreeSet<&str> = self.all.iter().flat_map(|c| c.keys()).collect();
        self.all
            .iter()
            .flat_map(|c| {
                let have = c.keys();
                every
                    .iter()
                    .filter(move |k| !have.contains(*k))
                    .map(move |k| (c.code, (*k).to_owned()))
            })
            .collect()
    }

    pub fn codes(&self) -> Vec<&'static str> {
        self.codes.clone()
    }

    /// (code, name in its own language) of every language, in the catalogs' order.
    pub fn names(&self) -> Arc<[(&'static str, String)]> {
        self.names.clone()
    }

    /// The catalog for a code such as `es`, `pt-BR`, `pt`, `en-GB`.
    pub fn find(&self, code: &str) -> Option<Arc<Catalog>> {
        let found = best_match(&self.codes, code)?;
        self.all.iter().find(|c| c.code == found).cloned()
    }

    /// `?lang=`, then `Accept-Language` (by quality), then `default`, then English.
    pub fn negotiate(
        &self,
        query_lang: Option<&str>,
        accept_language: Option<&str>,
        default: Option<&str>,
    ) -> Arc<Catalog> {
        if let Some(found) = query_lang.and_then(|l| self.find(l)) {
            return found;
        }
        if let Some(header) = accept_language {
            let mut ranges: Vec<(f32, &str)> = header
                .split(',')
                .filter_map(|part| {
                    let mut pieces = part.split(';');
                    let tag = pieces.next()?.trim();
                    let q = pieces
                        .find_map(|p| p.trim().strip_prefix("q="))
                        .and_then(|q| q.parse::<f32>().ok())
                        .unwrap_or(1.0);
                    (q > 0.0 && tag != "*").then_some((q, tag))
                })
                .collect();
            ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
            if let Some(found) = ranges.iter().find_map(|(_, tag)| self.find(tag)) {
                return found;
            }
        }
        default
            .and_then(|d| self.find(d))
            .or_else(|| self.all.first().cloned())
            .unwrap_or_else(|| Arc::new(Catalog::empty("en")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_has_every_key() {
        let catalogs = Catalogs::built_in().expect("catalogs load");
        assert_eq!(catalogs.missing_keys(), Vec::<(&str, String)>::new());
        assert_eq!(
            catalogs.codes(),
            [
                "en", "es", "pt-BR", "fr", "de", "it", "nl", "pl", "ja", "zh-CN", "ko", "ar"
            ]
        );
    }

    #[test]
    fn a_catalog_lacking_a_key_is_reported() {
        let mut catalogs = Catalogs::built_in().expect("catalogs load");
        let mut es = Catalog::parse("es", BUILT_IN[1].1).expect("parses");
        es.texts.remove("card.pay");
        catalogs.all[1] = Arc::new(es);
        assert_eq!(catalogs.missing_keys(), vec![("es", "card.pay".to_owned())]);
    }

    #[test]
    fn money_and_dates_follow_the_language() {
        let c = Catalogs::built_in().expect("catalogs load");
        let en = c.find("en").expect("en");
        let es = c.find("es").expect("es");
        let pt = c.find("pt-BR").expect("pt");
        assert_eq!(en.money(111_650), "$1,116.50");
        assert_eq!(es.money(111_650), "1.116,50 US$");
        assert_eq!(pt.money(111_650), "US$ 1.116,50");
        assert_eq!(en.date(1_779_900_000_000), "27 May 2026, 16:40 UTC");
        assert_eq!(es.date(1_779_900_000_000), "27 de mayo de 2026, 16:40 UTC");
        // Each language's own grouping, decimal mark and currency position (CLDR's).
        let each = |code: &str| c.find(code).expect(code);
        assert_eq!(each("fr").money(111_650), "1\u{202F}116,50\u{A0}$US");
        assert_eq!(each("de").money(111_650), "1.116,50\u{A0}$");
        assert_eq!(each("it").money(111_650), "1.116,50\u{A0}USD");
        assert_eq!(each("nl").money(111_650), "US$\u{A0}1.116,50");
        assert_eq!(each("pl").money(111_650), "1\u{A0}116,50\u{A0}USD");
        assert_eq!(each("ja").money(111_650), "$1,116.50");
        assert_eq!(each("zh-CN").money(111_650), "US$1,116.50");
        assert_eq!(each("ko").money(111_650), "US$1,116.50");
        // Right to left: the amount is a left-to-right isolate.
        assert_eq!(
            each("ar").money(111_650),
            "\u{2066}1,116.50\u{A0}US$\u{2069}"
        );
        assert_eq!(each("ar").dir(), "rtl");
        assert_eq!(each("en").dir(), "ltr");
        assert_eq!(
            each("de").date(1_779_900_000_000),
            "27. Mai 2026, 16:40 UTC"
        );
        assert_eq!(
            each("ja").date(1_779_900_000_000),
            "2026年5月27日 16:40 UTC"
        );
        assert_eq!(
            each("ko").date(1_779_900_000_000),
            "2026년 5월 27일 16:40 UTC"
        );
        assert_eq!(
            each("pl").date(1_779_900_000_000),
            "27 maja 2026 o 16:40 UTC"
        );
        assert_eq!(
            each("ar").date(1_779_900_000_000),
            "27 مايو 2026، 16:40 UTC"
        );
        assert_eq!(
            en.open_for(23 * 3_600_000 + 59 * 60_000),
            "This checkout stays open for about 23 hours."
        );
        assert_eq!(
            en.open_for(90 * 60_000),
            "This checkout stays open for about 90 minutes."
        );
        assert_eq!(
            en.open_for(7 * 86_400_000),
            "This checkout stays open for about 7 days."
        );
        assert_eq!(
            pt.with("result.return_to", "merchant", "Loja"),
            "Voltar para Loja"
        );
    }

    #[test]
    fn the_language_comes_from_the_query_then_the_browser_then_the_merchant() {
        let c = Catalogs::built_in().expect("catalogs load");
        assert_eq!(c.negotiate(Some("es"), Some("pt-BR"), None).code, "es");
        assert_eq!(
            c.negotiate(Some("xx"), Some("sv;q=0.9, pt;q=0.8, en;q=0.5"), None)
                .code,
            "pt-BR"
        );
        assert_eq!(
            c.negotiate(None, Some("es-MX,es;q=0.9"), Some("pt-BR"))
                .code,
            "es"
        );
        assert_eq!(
            c.negotiate(None, Some("sv, fi"), Some("pt-BR")).code,
            "pt-BR"
        );
        assert_eq!(
            c.negotiate(None, Some("fr-CA, de"), Some("pt-BR")).code,
            "fr"
        );
        assert_eq!(c.negotiate(None, Some("zh-Hans-CN"), None).code, "zh-CN");
        assert_eq!(c.negotiate(None, None, None).code, "en");
    }
}
