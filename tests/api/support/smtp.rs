//! A small SMTP server on 127.0.0.1 for tests: it speaks enough of RFC 5321 (EHLO, AUTH PLAIN
//! and LOGIN, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) for a real client, keeps
//! every message it accepts, and can refuse the first messages with a temporary or permanent
//! error, as a real server under load or with a full mailbox does.

use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// `user\0password` of the AUTH the client sent, if it did.
    pub auth: Option<String>,
    /// The message as sent (headers and body), dot-unstuffed.
    pub data: String,
}

impl Received {
    /// The value of header `name` (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }
}

/// How the server answers messages.
#[derive(Clone, Copy)]
pub enum Answer {
    /// `250`: accepted.
    Accept,
    /// `451`: try again later.
    Temporary,
    /// `550`: never.
    Permanent,
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    /// Answers to the next messages, first first; then every message is accepted.
    script: Vec<Answer>,
    /// Every message's answer, accepted or not.
    answered: usize,
}

pub struct SmtpSink {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl SmtpSink {
    /// Starts the server; it answers the next messages as `script` says, then accepts.
    pub async fn start(script: Vec<Answer>) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared {
            script,
            ..Shared::default()
        }));
        let state = shared.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, state.clone()));
            }
        });
        SmtpSink { port, shared }
    }

    /// `smtp://127.0.0.1:<port>?tls=none`, with `user:password` when given.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((u, p)) => format!("smtp://{u}:{p}@127.0.0.1:{}?tls=none", self.port),
            None => format!("smtp://127.0.0.1:{}?tls=none", self.port),
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    /// How many messages were answered, refused ones included.
    pub fn answered(&self) -> usize {
        self.shared.lock().unwrap().answered
    }
}

async fn session(socket: tokio::net::TcpStream, shared: Arc<Mutex<Shared>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let say = |s: &str| format!("{s}\r\n");
    if write
        .write_all(say("220 sink.test ESMTP").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let (mut from, mut to, mut auth) = (String::new(), Vec::new(), None);
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            "250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned()
        } else if upper.starts_with("HELO") {
            "250 sink.test".to_owned()
        } else if upper.starts_with("AUTH PLAIN") {
            let encoded = command[10..].trim().to_owned();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&decoded).into_owned();
            auth = Some(text.trim_start_matches('\0').to_owned());
            "235 2.7.0 Authentication successful".to_owned()
        } else if upper.starts_with("AUTH LOGIN") {
            let mut parts = Vec::new();
            for prompt in ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"] {
                if write.write_all(say(prompt).as_bytes()).await.is_err() {
                    return;
                }
                let mut answer = String::new();
                if lines.read_line(&mut answer).await.unwrap_or(0) == 0 {
                    return;
                }
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(answer.trim())
                    .unwrap_or_default();
                parts.push(String::from_utf8_lossy(&decoded).into_owned());
            }
            auth = Some(parts.join("\0"));
            "235 2.7.0 Authentication successful".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().trim_matches(['<', '>']).to_owned();
            to.clear();
            "250 2.1.0 OK".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().trim_matches(['<', '>']).to_owned());
            "250 2.1.5 OK".to_owned()
        } else if upper == "DATA" {
            if write
                .write_all(say("354 End data with <CR><LF>.<CR><LF>").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if lines.read_line(&mut l).await.unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            let answer = {
                let mut s = shared.lock().unwrap();
                s.answered += 1;
                let answer = if s.script.is_empty() {
                    Answer::Accept
                } else {
                    s.script.remove(0)
                };
                if matches!(answer, Answer::Accept) {
                    s.received.push(Received {
                        from: from.clone(),
                        to: to.clone(),
                        auth: auth.clone(),
                        data,
                    });
                }
                answer
            };
            match answer {
                Answer::Accept => "250 2.0.0 OK queued".to_owned(),
                Answer::Temporary => "451 4.3.0 Try again later".to_owned(),
                Answer::Permanent => "550 5.1.1 Mailbox unavailable".to_owned(),
            }
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK".to_owned()
        } else if upper == "QUIT" {
            let _ = write.write_all(say("221 Bye").as_bytes()).await;
            return;
        } else {
            "502 5.5.2 Command not recognized".to_owned()
        };
        if write.write_all(say(&reply).as_bytes()).await.is_err() {
            return;
        }
    }
}
