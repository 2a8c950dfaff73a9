//! Faults of the machine under the server: a disk that fills up and frees again, a database
//! that disappears. The server must refuse what it cannot store (503, `Retry-After`), say so
//! on `/readyz`, and recover by itself as soon as the fault is gone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use openrails_checkout::db::Db;
use serde_json::Value;

use crate::helpers::{TestDatabase, assert_error, minimal_body, spawn_app_on};

/// A small tmpfs of its own, unmounted on drop: a disk that really fills up.
struct SmallDisk {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed (this test needs root, as in CI)"
        );
        SmallDisk { path, _dir: dir }
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}/test.db", dir.display())
}

#[tokio::test]
async fn sqlite_syncs_each_commit_to_disk_before_it_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&sqlite_url(dir.path()), 2).await.unwrap();
    // 2 = FULL: the WAL is fsynced at every commit, so an acknowledged write survives a power
    // loss or a disk that turns read-only, not only a crash of the process (NORMAL = 1).
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&db.write)
        .await
        .unwrap();
    assert_eq!(synchronous, 2);
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&db.write)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn a_full_disk_fails_writes_with_503_and_the_server_recovers_when_space_returns() {
    if !is_root() {
        eprintln!("mounting a small tmpfs needs root, as CI runs: skipped");
        return;
    }
    let disk = SmallDisk::mount("3m");
    let app = spawn_app_on(TestDatabase::sqlite_at(sqlite_url(&disk.path)), |_| {}).await;
    let stored = app.create_session(&minimal_body()).await;
    let filler = disk.fill();

    // Each new session grows the WAL until a commit cannot be written.
    let mut refused = None;
    for _ in 0..500 {
        let response = app.post_session(&minimal_body()).await;
        if response.status().as_u16() != 200 {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("500 sessions fitted on a full disk: the test proves nothing");
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert_error(refused, 503, "service_unavailable").await;

    let ready = app.get_anonymous("/readyz").await;
    assert_eq!(ready.status().as_u16(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["writes"], "failing", "{body}");
    assert_eq!(body["database"], "reachable", "{body}");
    // What was stored before stays readable.
    let id = stored["id"].as_str().unwrap();
    let read = app.get(&format!("/api/gateway/sessions/{id}")).await;
    assert_eq!(read.status().as_u16(), 200);

    // Space returns: without a restart, writes work again and readiness says so.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = app.get_anonymous("/readyz").await.status().as_u16();
        let created = app.post_session(&minimal_body()).await.status().as_u16();
        if ready == 200 && created == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still refusing writes after space returned: readyz {ready}, create {created}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And keep working: a wedged connection would refuse the next transaction.
    for _ in 0..5 {
        app.create_session(&minimal_body()).await;
    }
}

/// A TCP proxy in front of PostgreSQL that can cut the line: open connections are dropped and
/// new ones are accepted but never answered, as when the database host vanishes.
struct Line {
    port: u16,
    down: tokio::sync::watch::Sender<bool>,
}

impl Line {
    async fn to(upstream: String) -> Line {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (down, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut parked = Vec::new();
            while let Ok((mut client, _)) = listener.accept().await {
                if *watch.borrow() {
                    parked.push(client); // accepted, never answered
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|down| *down) => {}
                    }
                });
            }
        });
        Line { port, down }
    }

    fn cut(&self) {
        self.down.send_replace(true);
    }

    fn restore(&self) {
        self.down.send_replace(false);
    }
}

/// `postgres://user@host:port/db` → (`host:port`, the URL with `127.0.0.1:<port>` instead).
fn through_port(url: &str, port: u16) -> (String, String) {
    let after_scheme = url.find("://").unwrap() + 3;
    let rest = &url[after_scheme..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = authority.rsplit('@').next().unwrap();
    let user = authority.strip_suffix(host_port).unwrap_or("");
    let proxied = format!(
        "{}{user}127.0.0.1:{port}{}",
        &url[..after_scheme],
        &rest[authority_end..]
    );
    (host_port.to_owned(), proxied)
}

#[tokio::test]
async fn an_unreachable_database_fails_requests_fast_with_503_and_readiness_within_a_second() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        eprintln!("runs on PostgreSQL only (TEST_DATABASE_URL), as CI does");
        return;
    }
    let database = TestDatabase::create().await;
    let upstream = through_port(&database.url, 0).0;
    let line = Line::to(upstream).await;
    let proxied = through_port(&database.url, line.port).1;
    let app = spawn_app_on(database.reached_at(proxied), |_| {}).await;
    app.create_session(&minimal_body()).await;

    line.cut();
    let started = Instant::now();
    let ready = app.get_anonymous("/readyz").await;
    let took = started.elapsed();
    assert_eq!(ready.status().as_u16(), 503);
    assert!(
        took < Duration::from_millis(1500),
        "readiness took {took:?}"
    );

    let started = Instant::now();
    let refused = app.post_session(&minimal_body()).await;
    let took = started.elapsed();
    assert!(
        refused.headers().get("retry-after").is_some(),
        "{:?}",
        refused.headers()
    );
    assert_error(refused, 503, "service_unavailable").await;
    // The default acquire time-out is 2 s; 10 s (the old one) would fail this.
    assert!(took < Duration::from_secs(4), "the request took {took:?}");

    line.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let created = app.post_session(&minimal_body()).await.status().as_u16();
        let ready = app.get_anonymous("/readyz").await.status().as_u16();
        if created == 200 && ready == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not back after the database returned: create {created}, readyz {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
