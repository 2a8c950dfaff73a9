//! The pages' CSS and script, and their versions (the handler that serves them is
//! `routes::assets`). Served from `static_dir` when that folder exists, so a designer's
//! edit shows on the next reload; otherwise from the copies built into the binary, so one
//! binary is enough to run the product.
//!
//! Caching: pages link `/static/<name>?v=<hash of the content>`. The hash is computed from the
//! file as it is *now* (re-read whenever its modification time or size changes), both when a
//! page builds its link and when the asset is served. A response is marked `immutable` for a
//! year only when the `v` it was asked for is the hash of the content it carries; any other
//! URL (no `v`, or a `v` of an older edit) gets `no-cache`. So an edit on disk changes the
//! page's link at once, and no browser can keep an old content under a new URL, or a new content
//! under an old one. The `ETag` is the same hash (the same on every instance behind a load
//! balancer), and `If-None-Match` answers 304. Compression (gzip, `Vary: Accept-Encoding`) is
//! the `Compress` middleware on the `/static` scope, which is why the `ETag` is weak.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use sha2::Digest;

/// (name, content type, built-in content)
const EMBEDDED: &[(&str, &str, &str)] = &[
    (
        "checkout.css",
        "text/css; charset=utf-8",
        include_str!("../static/checkout.css"),
    ),
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_str!("../static/dashboard.css"),
    ),
    (
        "checkout.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/checkout.js"),
    ),
];

/// The bytes of a static asset: from disk when `static_dir` exists, else built in.
pub fn asset_bytes(static_dir: &str, name: &str) -> Option<Vec<u8>> {
    let dir = Path::new(static_dir);
    if dir.is_dir() {
        return std::fs::read(dir.join(name)).ok();
    }
    EMBEDDED
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, content)| content.as_bytes().to_vec())
}

/// What buyers download: the source without its comments and indentation (the files are
/// written to be read; their comments are for designers, not for every buyer's phone). CSS
/// loses `/* … */` comments, script its whole-line `//` comments; every line its leading
/// white space, and blank lines go. Anything else, and a file that is not UTF-8, is unchanged.
pub fn compact(content_type: &str, source: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(source) else {
        return source.to_vec();
    };
    let css = content_type.starts_with("text/css");
    let js = content_type.starts_with("text/javascript");
    if !css && !js {
        return source.to_vec();
    }
    let mut text = text.to_owned();
    if css {
        while let Some(start) = text.find("/*") {
            let Some(len) = text[start..].find("*/") else {
                break;
            };
            text.replace_range(start..start + len + 2, "");
        }
    }
    let mut out = String::with_capacity(text.len());
    for line in text.lines().map(str::trim) {
        if line.is_empty() || (js && line.starts_with("//")) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// One asset's current content and its version (the first 10 hex digits of its SHA-256).
#[derive(Clone)]
pub struct Asset {
    pub content_type: &'static str,
    pub version: String,
    /// `/static/<name>?v=<version>`, what pages link to.
    pub href: String,
    pub bytes: Bytes,
}

/// Where an asset's content came from, to tell whether the cached copy is still current.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stamp {
    BuiltIn,
    /// The file's modification time and length when it was read.
    Disk(Option<SystemTime>, u64),
}

/// The static assets with their versions, re-read from disk only when a file changes.
pub struct StaticAssets {
    dir: PathBuf,
    /// Whether `dir` existed at start: then it is the only source, else the built-in copies
    /// are (looked for once, not on every page).
    on_disk: bool,
    cache: Mutex<HashMap<&'static str, (Stamp, Arc<Asset>)>>,
}

impl StaticAssets {
    pub fn new(static_dir: &str) -> StaticAssets {
        let dir = PathBuf::from(static_dir);
        let assets = StaticAssets {
            on_disk: dir.is_dir(),
            dir,
            cache: Mutex::new(HashMap::new()),
        };
        for (name, _, _) in EMBEDDED {
            if assets.current(name).is_none() {
                tracing::warn!(
                    static_dir,
                    name,
                    "asset not found in static_dir; pages will be unstyled"
                );
            }
        }
        assets
    }

    /// The asset as it is now, or `None` for an unknown name or a file missing from
    /// `static_dir` (when that folder exists, it is the only source).
    pub fn current(&self, name: &str) -> Option<Arc<Asset>> {
        let (name, content_type, built_in) = *EMBEDDED.iter().find(|(n, _, _)| *n == name)?;
        let stamp = if self.on_disk {
            let meta = std::fs::metadata(self.dir.join(name)).ok()?;
            Stamp::Disk(meta.modified().ok(), meta.len())
        } else {
            Stamp::BuiltIn
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached, asset)) = cache.get(name)
            && *cached == stamp
        {
            return Some(asset.clone());
        }
        let source = match stamp {
            Stamp::BuiltIn => built_in.as_bytes().to_vec(),
            Stamp::Disk(..) => std::fs::read(self.dir.join(name)).ok()?,
        };
        let bytes = Bytes::from(compact(content_type, &source));
        let digest = sha2::Sha256::digest(&bytes);
        let version = const_hex::encode(&digest[..5]);
        let asset = Arc::new(Asset {
            content_type,
            href: format!("/static/{name}?v={version}"),
            version,
            bytes,
        });
        cache.insert(name, (stamp, asset.clone()));
        Some(asset)
    }

    /// `/static/<name>?v=<version>`: the URL pages link to, changed by every edit.
    pub fn href(&self, name: &str) -> String {
        match self.current(name) {
            Some(asset) => asset.href.clone(),
            None => format!("/static/{name}"),
        }
    }

    pub fn css_href(&self) -> String {
        self.href("checkout.css")
    }

    pub fn js_href(&self) -> String {
        self.href("checkout.js")
    }
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn compacting_drops_comments_and_indentation_only() {
        let css = "/* Tokens. */\n:root {\n  --a: 1px; /* why */\n}\n\n.b { content: \"x\"; }\n";
        assert_eq!(
            String::from_utf8(compact("text/css; charset=utf-8", css.as_bytes())).unwrap(),
            ":root {\n--a: 1px;\n}\n.b { content: \"x\"; }\n"
        );
        let js =
            "// Header.\n(function () {\n  // inside\n  var u = \"http://x\"; // kept\n})();\n";
        assert_eq!(
            String::from_utf8(compact("text/javascript", js.as_bytes())).unwrap(),
            "(function () {\nvar u = \"http://x\"; // kept\n})();\n"
        );
        assert_eq!(compact("image/svg+xml", b"  <svg/>"), b"  <svg/>");
    }

    /// The colour tokens of `static/checkout.css`, light then dark.
    type Tokens = Vec<(String, String)>;

    fn tokens() -> (Tokens, Tokens) {
        let css = include_str!("../static/checkout.css");
        let block = |start: usize| -> Vec<(String, String)> {
            let open = css[start..]
                .find('{')
                .map(|i| start + i + 1)
                .expect("block");
            let close = css[open..].find('}').map(|i| open + i).expect("block end");
            css[open..close]
                .lines()
                .filter_map(|l| {
                    let (name, value) = l.trim().trim_end_matches(';').split_once(':')?;
                    let value = value.trim();
                    (name.starts_with("--color-") && value.starts_with('#'))
                        .then(|| (name.to_owned(), value.to_owned()))
                })
                .collect()
        };
        let light = block(css.find(":root").expect(":root"));
        let dark_media = css.find("prefers-color-scheme: dark").expect("dark scheme");
        let dark = block(dark_media + css[dark_media..].find(":root").expect("dark :root"));
        (light, dark)
    }

    #[test]
    fn the_design_tokens_keep_aa_contrast_in_both_schemes() {
        use crate::domain::branding::Color;
        for (scheme, tokens) in [("light", tokens().0), ("dark", tokens().1)] {
            let get = |name: &str| {
                let hex = &tokens
                    .iter()
                    .find(|(n, _)| n == name)
                    .unwrap_or_else(|| panic!("{scheme} lacks {name}"))
                    .1;
                Color::parse(hex).expect("colour")
            };
            let text_pairs = [
                ("--color-text", "--color-bg"),
                ("--color-text", "--color-surface"),
                ("--color-muted", "--color-surface"),
                ("--color-muted", "--color-bg"),
                ("--color-accent", "--color-surface"),
                ("--color-accent-text", "--color-accent"),
                ("--color-error", "--color-surface"),
                ("--color-ok", "--color-surface"),
            ];
            for (fg, bg) in text_pairs {
                let ratio = get(fg).contrast(get(bg));
                assert!(ratio >= 4.5, "{scheme}: {fg} on {bg} is {ratio:.2}:1");
            }
            // Focus rings and input borders are not text: 3:1.
            for (fg, bg) in [
                ("--color-focus", "--color-bg"),
                ("--color-focus", "--color-surface"),
            ] {
                let ratio = get(fg).contrast(get(bg));
                assert!(ratio >= 3.0, "{scheme}: {fg} on {bg} is {ratio:.2}:1");
            }
        }
    }
}
