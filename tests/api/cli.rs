//! The real binary: `keys create|list|revoke`, the first start on an empty database, and
//! SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{TestDatabase, assert_error, http_client, minimal_body, seed_body, spawn_app};

/// The binary with a clean environment: only the database it is told about.
fn binary(database_url: &str) -> Command {
    let mut command = crate::helpers::clean_binary();
    command
        .env("DATABASE_URL", database_url)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir());
    command
}

struct CliOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `openrails-checkout <args>` to completion off the async runtime.
async fn run_cli(database_url: &str, args: &[&str]) -> CliOutput {
    let mut command = binary(database_url);
    command.args(args);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    CliOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The first word of `text` starting with `prefix`.
fn word_starting_with(text: &str, prefix: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '.')
        .find(|w| w.starts_with(prefix) && w.len() > prefix.len())
        .map(str::to_owned)
}

/// `keys create`; returns (key id, secret).
async fn create_key_with_cli(database_url: &str, args: &[&str]) -> (String, String) {
    let mut full = vec!["keys", "create"];
    full.extend_from_slice(args);
    let out = run_cli(database_url, &full).await;
    assert!(
        out.status.success(),
        "keys create failed: {}{}",
        out.stdout,
        out.stderr
    );
    let id = word_starting_with(&out.stdout, "key_").expect("the output names the key id");
    let secret = word_starting_with(&out.stdout, "sk_").expect("the output shows the secret");
    (id, secret)
}

#[tokio::test]
async fn keys_create_prints_a_key_that_authenticates_against_a_running_server() {
    let app = spawn_app().await;

    let (_, live) = create_key_with_cli(&app.database_url, &["--environment", "production"]).await;
    let (_, test) = create_key_with_cli(&app.database_url, &["--label", "ci"]).await;

    assert!(live.starts_with("sk_live_"), "{live}");
    assert!(test.starts_with("sk_test_"), "{test}");
    let body = app.create_session_with_key(&live, &minimal_body()).await;
    assert_eq!(body["environment"], "production");
    let body = app.create_session_with_key(&test, &minimal_body()).await;
    assert_eq!(body["environment"], "sandbox");
    // The key belongs to the server's merchant: it sees that merchant's sessions.
    let mine = app.create_session(&minimal_body()).await;
    let id = mine["id"].as_str().unwrap();
    let response = app
        .get_with_key(&format!("/api/gateway/sessions/{id}"), &test)
        .await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn keys_create_for_another_merchant_sees_only_that_merchants_records() {
    let app = spawn_app().await;
    let other = app.create_merchant("Other Store").await;
    let (_, key) = create_key_with_cli(
        &app.database_url,
        &["--merchant", other.merchant_id.as_str()],
    )
    .await;
    let mine = app.create_session(&minimal_body()).await;

    let response = app
        .get_with_key(
            &format!("/api/gateway/sessions/{}", mine["id"].as_str().unwrap()),
            &key,
        )
        .await;

    assert_error(response, 404, "resource_missing").await;
    let theirs = app.create_session_with_key(&key, &minimal_body()).await;
    let read = app
        .get_with_key(
            &format!("/api/gateway/sessions/{}", theirs["id"].as_str().unwrap()),
            &other.sandbox_key,
        )
        .await;
    assert_eq!(read.status().as_u16(), 200);
}

#[tokio::test]
async fn keys_create_refuses_an_unknown_environment() {
    let app = spawn_app().await;
    let before = app.scalar("SELECT COUNT(*) FROM api_keys").await;

    let out = run_cli(
        &app.database_url,
        &["keys", "create", "--environment", "live"],
    )
    .await;

    assert!(!out.status.success());
    assert!(out.stderr.contains("environment"), "{}", out.stderr);
    assert!(!out.stdout.contains("sk_"), "{}", out.stdout);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM api_keys").await, before);
}

#[tokio::test]
async fn keys_list_shows_every_key_but_never_a_secret() {
    let app = spawn_app().await;
    let (created_id, created_secret) =
        create_key_with_cli(&app.database_url, &["--label", "listed key"]).await;

    let out = run_cli(&app.database_url, &["keys", "list"]).await;

    assert!(out.status.success(), "{}", out.stderr);
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM api_keys")
        .fetch_all(&app.db.read)
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    for id in &ids {
        assert!(
            out.stdout.contains(id.as_str()),
            "{id} missing from {}",
            out.stdout
        );
    }
    assert!(out.stdout.contains(&created_id));
    assert!(out.stdout.contains("listed key"));
    for secret in [&app.sandbox_key, &app.live_key, &created_secret] {
        let random = &secret[8..];
        assert!(!out.stdout.contains(random), "a secret was printed");
        assert!(!out.stderr.contains(random), "a secret was logged");
        assert!(
            !out.stdout.contains(&random[..12]),
            "part of a secret was printed"
        );
    }
}

#[tokio::test]
async fn keys_revoke_makes_the_key_return_401() {
    let app = spawn_app().await;
    let (id, secret) = create_key_with_cli(&app.database_url, &[]).await;
    app.create_session_with_key(&secret, &minimal_body()).await;

    let out = run_cli(&app.database_url, &["keys", "revoke", &id]).await;

    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    let response = app.post_session_with_key(&secret, &minimal_body()).await;
    assert_error(response, 401, "invalid_api_key").await;
    let list = run_cli(&app.database_url, &["keys", "list"]).await;
    let line = list
        .stdout
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("{id} not listed: {}", list.stdout));
    assert!(line.contains("revoked"), "{line}");
    // Other keys keep working.
    app.create_session(&minimal_body()).await;
    // Revoking twice, or an unknown key, fails.
    let again = run_cli(&app.database_url, &["keys", "revoke", &id]).await;
    assert!(!again.status.success());
    let unknown = run_cli(&app.database_url, &["keys", "revoke", "nonsense"]).await;
    assert!(!unknown.status.success());
}

/// A `serve` process whose output lines arrive on a channel.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(database_url: &str) -> Server {
        let mut child = binary(database_url)
            .arg("serve")
            .env("OPENRAILS_BIND", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let out_tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out_tx.send(strip_ansi(&line));
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(strip_ansi(&line));
            }
        });
        Server {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one matches; every line read is kept in `seen`.
    fn wait_for(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "the server never printed {what}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The port from the `listening … port=N` line.
    fn wait_until_listening(&mut self) -> u16 {
        let line = self.wait_for("its listening line", |l| {
            l.contains("listening") && l.contains("port=")
        });
        let after = line.split("port=").nth(1).unwrap();
        after
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    }

    /// Waits for the `listening` line, then for a first answer from `/healthz`: only a server
    /// that answers is known to be running its HTTP loop (and its signal handling).
    fn wait_until_serving(&mut self) -> u16 {
        let port = self.wait_until_listening();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        port
    }

    /// Sends SIGTERM and waits for the exit; returns the status and how long it took.
    fn terminate(&mut self) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(15) {
                panic!("the server did not exit within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_prints_a_sandbox_key_and_a_curl_line_once() {
    let database = TestDatabase::create().await;
    let url = database.url.clone();

    let (key, curl, link, port, first_exit) = tokio::task::spawn_blocking(move || {
        let mut server = Server::start(&url);
        let key_line = server.wait_for("a sandbox key", |l| l.trim().starts_with("sk_test_"));
        let key = key_line.trim().to_owned();
        let curl = server.wait_for("a curl line", |l| l.trim_start().starts_with("curl "));
        let link = server.wait_for("the owner's setup link", |l| {
            l.contains("/dashboard/setup/")
        });
        let port = server.wait_until_serving();
        (key, curl, link.trim().to_owned(), port, server)
    })
    .await
    .unwrap();
    let mut server = first_exit;

    assert!(key.len() > "sk_test_".len() + 16, "{key}");
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        curl.contains(&format!("{base}/api/gateway/sessions")),
        "the curl line names the server: {curl}"
    );
    assert!(
        server
            .seen
            .iter()
            .any(|l| l.contains(&format!("Authorization: Bearer {key}"))),
        "the curl command carries the key"
    );
    assert_eq!(
        server.seen.iter().filter(|l| l.contains(&key)).count(),
        2,
        "the key is printed in the welcome text only: {:?}",
        server.seen
    );

    // The printed link opens the page that creates the owner's account.
    let client = http_client();
    assert!(
        link.starts_with(&format!("{base}/dashboard/setup/")),
        "{link}"
    );
    let setup = client.get(&link).send().await.unwrap();
    assert_eq!(setup.status().as_u16(), 200);
    assert!(setup.text().await.unwrap().contains("with the role owner"));

    // The printed key works against the server.
    let response = client
        .post(format!("{base}/api/gateway/sessions"))
        .bearer_auth(&key)
        .json(&seed_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["status"], "routed");
    assert!(
        session["checkoutUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/checkout/chk_"))
    );
    drop(client);

    let (status, _) = tokio::task::spawn_blocking(move || {
        let result = server.terminate();
        drop(server);
        result
    })
    .await
    .unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");

    // A second start on the same database prints no key.
    let url = database.url.clone();
    let (port, mut second) = tokio::task::spawn_blocking(move || {
        let mut server = Server::start(&url);
        let port = server.wait_until_serving();
        (port, server)
    })
    .await
    .unwrap();
    assert!(
        !second
            .seen
            .iter()
            .any(|l| l.contains("sk_test_") || l.contains("curl ")),
        "a second start printed a key: {:?}",
        second.seen
    );
    let response = http_client()
        .get(format!(
            "http://127.0.0.1:{port}/api/gateway/sessions/{}",
            session["id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "the first key still works");
    let (status, _) = tokio::task::spawn_blocking(move || second.terminate())
        .await
        .unwrap();
    assert!(status.success());
}

/// Starts a server on a fresh database and waits until it listens.
async fn start_server() -> (TestDatabase, u16, Server) {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    let (port, server) = tokio::task::spawn_blocking(move || {
        let mut server = Server::start(&url);
        let port = server.wait_until_serving();
        (port, server)
    })
    .await
    .unwrap();
    (database, port, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_an_idle_server_with_status_0_within_a_few_seconds() {
    let (_database, port, mut server) = start_server().await;
    let client = http_client();
    let response = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    drop(client);

    let (status, took) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();

    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
}

/// An idle keep-alive connection is not an in-flight request: it must not hold the
/// shutdown for long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_an_idle_keep_alive_connection_still_exits_with_status_0() {
    let (_database, port, mut server) = start_server().await;
    let client = http_client();
    let response = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let (status, took) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();

    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    drop(client);
}

#[tokio::test]
async fn keys_create_on_an_empty_database_creates_the_first_merchant() {
    let database = TestDatabase::create().await;

    let (_, secret) = create_key_with_cli(&database.url, &[]).await;

    assert!(secret.starts_with("sk_test_"));
    let db = openrails_checkout::db::Db::connect(&database.url, 1)
        .await
        .unwrap();
    let merchants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM merchants")
        .fetch_one(&db.read)
        .await
        .unwrap();
    assert_eq!(merchants, 1);
    db.close().await;
}

/// Several instances starting together on one empty database: one merchant, one key printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_together_print_exactly_one_key() {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    // Migrated beforehand: this is about the first merchant, not about migrations racing.
    let migrated = run_cli(&url, &["migrate"]).await;
    assert!(migrated.status.success(), "{}", migrated.stderr);

    let outputs = tokio::task::spawn_blocking(move || {
        let mut servers = [Server::start(&url), Server::start(&url)];
        for server in &mut servers {
            server.wait_until_serving();
        }
        servers
            .into_iter()
            .map(|mut server| {
                let (status, _) = server.terminate();
                assert!(status.success(), "{status}");
                server.seen.clone()
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();

    let printed = outputs
        .iter()
        .filter(|lines| lines.iter().any(|l| l.trim().starts_with("sk_test_")))
        .count();
    assert_eq!(printed, 1, "{outputs:#?}");
    let db = openrails_checkout::db::Db::connect(&database.url, 1)
        .await
        .unwrap();
    let merchants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM merchants")
        .fetch_one(&db.read)
        .await
        .unwrap();
    assert_eq!(merchants, 1);
    db.close().await;
}

/// Instances (or a `keys` command and a server) may start together on one database; each
/// applies pending migrations at start, and none may fail because another is doing the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_on_an_empty_database_all_succeed() {
    // A race needs luck to show: a few rounds of a dozen processes, each on a fresh database.
    let mut failures: Vec<String> = Vec::new();
    for _ in 0..3 {
        let database = TestDatabase::create().await;
        let url = database.url.clone();
        let outputs = tokio::task::spawn_blocking(move || {
            let children: Vec<_> = (0..12)
                .map(|_| {
                    binary(&url)
                        .arg("migrate")
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            children
                .into_iter()
                .map(|child| child.wait_with_output().unwrap())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        failures.extend(
            outputs
                .iter()
                .filter(|o| !o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned()),
        );
    }
    assert!(
        failures.is_empty(),
        "{} of 36 `migrate` runs failed: {failures:#?}",
        failures.len()
    );
}

/// Sends raw bytes on a new connection and reads the answer (bounded).
fn raw_exchange(port: u16, request: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_are_logged_below_error() {
    let (_database, port, mut server) = start_server().await;
    let (lines, answers) = tokio::task::spawn_blocking(move || {
        let mut answers = Vec::new();
        let many_headers: String = (0..200).map(|i| format!("X-{i}: a\r\n")).collect();
        for request in [
            b"GARBAGE\x00\x01 / HTTP/9\r\n\r\n".to_vec(),
            format!("GET /api/gateway/sessions HTTP/1.1\r\nHost: a\r\n{many_headers}\r\n")
                .into_bytes(),
            b"POST /api/gateway/sessions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{\"a"
                .to_vec(),
        ] {
            answers.push(raw_exchange(port, &request));
        }
        // A request after them, so that every line they caused has been printed.
        answers.push(raw_exchange(
            port,
            b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ));
        server.wait_for("the last request's line", |l| l.contains("path=/healthz"));
        let _ = server.terminate();
        let mut lines = server.seen.clone();
        lines.extend(server.lines.try_iter());
        (lines, answers)
    })
    .await
    .unwrap();
    assert!(answers[0].starts_with("HTTP/1.1 400"), "{}", answers[0]);
    assert!(answers[1].starts_with("HTTP/1.1 431"), "{}", answers[1]);
    assert!(answers[2].starts_with("HTTP/1.1 "), "{}", answers[2]);
    let errors: Vec<&String> = lines.iter().filter(|l| l.contains("ERROR")).collect();
    assert!(
        errors.is_empty(),
        "client mistakes logged at ERROR: {errors:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("INFO") && l.contains("refused a malformed or broken HTTP request")),
        "the malformed requests are still told: {lines:#?}"
    );
}

/// Runs `openrails-checkout <args>` with `stdin` on its standard input.
async fn run_cli_with_input(database_url: &str, args: &[&str], stdin: &str) -> CliOutput {
    let mut command = binary(database_url);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let input = stdin.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    CliOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn users_are_created_listed_reset_and_disabled_from_the_command_line() {
    use crate::dashboard_support::Browser;
    let app = spawn_app().await;
    let db = app.database_url.clone();

    // Without an e-mail: a one-time link.
    let invite = run_cli(&db, &["users", "create", "--role", "viewer"]).await;
    assert!(
        invite.status.success(),
        "{}{}",
        invite.stdout,
        invite.stderr
    );
    let link = invite
        .stdout
        .split_whitespace()
        .find(|w| w.contains("/dashboard/setup/"))
        .unwrap();
    let path = &link[link.find("/dashboard/").unwrap()..];
    let page = Browser::new(&app).get(path).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("with the role viewer"));

    let made = run_cli_with_input(
        &db,
        &[
            "users",
            "create",
            "Ops@Shop.example",
            "--role",
            "owner",
            "--password-stdin",
        ],
        "correct horse battery\n",
    )
    .await;
    assert!(made.status.success(), "{}{}", made.stdout, made.stderr);
    // Standard output also carries the log; the account is one line of its own.
    assert!(
        made.stdout
            .lines()
            .any(|l| l.starts_with("usr_") && l.ends_with("ops@shop.example  owner")),
        "{}",
        made.stdout
    );
    assert!(
        !made.stdout.contains("correct horse"),
        "no password printed"
    );
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser
            .sign_in("ops@shop.example", "correct horse battery")
            .await
            .status,
        303
    );

    for (args, input, says) in [
        (
            vec![
                "users",
                "create",
                "not-an-address",
                "--role",
                "owner",
                "--password-stdin",
            ],
            "correct horse battery\n",
            "the e-mail",
        ),
        (
            vec![
                "users",
                "create",
                "x@shop.example",
                "--role",
                "owner",
                "--password-stdin",
            ],
            "short\n",
            "at least 10 characters",
        ),
        (
            vec!["users", "create", "x@shop.example", "--role", "boss"],
            "",
            "--role must be",
        ),
        (
            vec!["users", "create", "x@shop.example", "--role", "owner"],
            "",
            "--password-stdin",
        ),
        (
            vec![
                "users",
                "create",
                "ops@shop.example",
                "--role",
                "viewer",
                "--password-stdin",
            ],
            "correct horse battery\n",
            "has an account already",
        ),
    ] {
        let out = run_cli_with_input(&db, &args, input).await;
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }

    let list = run_cli(&db, &["users", "list"]).await;
    assert!(
        list.stdout.contains("ops@shop.example  owner  active"),
        "{}",
        list.stdout
    );

    // A generated password, printed once; every session ends.
    let reset = run_cli(&db, &["users", "reset-password", "ops@shop.example"]).await;
    assert!(reset.status.success(), "{}", reset.stderr);
    let password = reset
        .stdout
        .lines()
        .skip_while(|l| !l.contains("shown only this once"))
        .find(|l| l.starts_with("    ") && !l.trim().is_empty())
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(
        browser.get("/dashboard").await.status,
        303,
        "signed out by the reset"
    );
    assert_eq!(
        Browser::new(&app)
            .sign_in("ops@shop.example", "correct horse battery")
            .await
            .status,
        401
    );
    assert_eq!(
        Browser::new(&app)
            .sign_in("ops@shop.example", &password)
            .await
            .status,
        303
    );

    let disabled = run_cli(&db, &["users", "disable", "ops@shop.example"]).await;
    assert!(
        disabled.stdout.contains("disabled; 1 session(s) ended"),
        "{}",
        disabled.stdout
    );
    assert_eq!(
        Browser::new(&app)
            .sign_in("ops@shop.example", &password)
            .await
            .status,
        401
    );
    let list = run_cli(&db, &["users", "list"]).await;
    assert!(
        list.stdout.contains("ops@shop.example  owner  disabled"),
        "{}",
        list.stdout
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE actor = 'cli'")
            .await,
        4,
        "invite, create, reset, disable"
    );
}
