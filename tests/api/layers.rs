//! The layer rule of docs/ARCHITECTURE.md, checked: a module imports only layers to its left
//! (`domain`, `crypto` → `config`, `db` → `providers`, `webhooks`, `emails` → `lifecycle` → `state` →
//! `routes` and the HTTP edge → `startup` → `cli`), and the leaves (`metrics`, `i18n`,
//! `assets`) only the first layer. Read from the source: every `crate::…` path outside comments.

use std::collections::BTreeSet;
use std::path::Path;

/// Each top-level module's layer; the leaves are `None`.
fn layer(module: &str) -> Option<u8> {
    Some(match module {
        "domain" | "crypto" => 0,
        "config" | "db" => 1,
        "providers" | "webhooks" | "emails" => 2,
        "lifecycle" | "bootstrap" => 3,
        "state" => 4,
        // The HTTP edge, whose parts use each other.
        "routes" | "auth" | "error" | "telemetry" | "http1" => 5,
        "startup" => 6,
        "cli" => 7,
        "metrics" | "i18n" | "assets" | "rate_limit" => return None,
        other => panic!("module {other} has no layer: add it to docs/ARCHITECTURE.md and here"),
    })
}

fn allowed(from: &str, to: &str) -> bool {
    match (layer(from), layer(to)) {
        // A leaf uses only the first layer.
        (None, Some(to)) => to == 0,
        (_, None) => true,
        (Some(from), Some(to)) => to < from || (to == from && from == 5),
    }
}

/// (file, the top-level module it belongs to) for every source file.
fn sources(dir: &Path, out: &mut Vec<(std::path::PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap();
            let module = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            out.push((path.clone(), module));
        }
    }
}

#[test]
fn every_module_imports_only_the_layers_to_its_left() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut broken = BTreeSet::new();
    for (path, module) in &files {
        if matches!(module.as_str(), "lib" | "main") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let after = &line[i + "crate::".len()..];
                let used: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !used.is_empty() && used != *module && !allowed(module, &used) {
                    broken.insert(format!("{} uses crate::{used}", path.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "against the layer rule:\n{broken:#?}");
}
