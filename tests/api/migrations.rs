//! The two migration folders are twins: the same files, each naming the other, and the same
//! statements but for PostgreSQL's `COLLATE "C"` on ids. Where SQLite cannot say what
//! PostgreSQL says (it cannot drop a constraint, so it rebuilds the table), its file says so.

use std::collections::BTreeSet;
use std::path::Path;

fn folder(backend: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend)
}

fn names(backend: &str) -> BTreeSet<String> {
    std::fs::read_dir(folder(backend))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql"))
        .collect()
}

/// The statements of a migration: no comments, no blank lines, no `COLLATE "C"`.
fn statements(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split("--").next().unwrap().replace(" COLLATE \"C\"", ""))
        .map(|l| l.trim_end().to_owned())
        .filter(|l| !l.trim().is_empty())
        .collect()
}

#[test]
fn the_migration_folders_are_twins() {
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite,
        names("postgres"),
        "the same migrations on both sides"
    );
    for name in &sqlite {
        let lite = std::fs::read_to_string(folder("sqlite").join(name)).unwrap();
        let pg = std::fs::read_to_string(folder("postgres").join(name)).unwrap();
        assert!(
            lite.contains(&format!("Twin of migrations/postgres/{name}")),
            "sqlite/{name} names its twin"
        );
        assert!(
            pg.contains(&format!("Twin of migrations/sqlite/{name}")),
            "postgres/{name} names its twin"
        );
        if lite.contains("-- SQLite cannot") {
            continue;
        }
        assert_eq!(
            statements(&lite),
            statements(&pg),
            "{name}: the same statements on both sides (or the SQLite file says why not)"
        );
    }
}
