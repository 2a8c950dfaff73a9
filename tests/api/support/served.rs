//! The real binary, serving in a process of its own: for tests that kill it (`kill -9`) and
//! start it again on the same database.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// `openrails-checkout serve` on `database_url`, its output in `log`; killed when dropped.
pub struct Served {
    child: Child,
    log: PathBuf,
}

impl Served {
    /// Starts the binary on 127.0.0.1 (port 0) with only the settings given in `env` (and the
    /// suite's encryption key, if any).
    pub fn start(database_url: &str, log: &Path, env: &[(&str, &str)]) -> Served {
        let out = File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let mut command = crate::helpers::clean_binary();
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("OPENRAILS_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        Served {
            child: command.spawn().unwrap(),
            log: log.to_owned(),
        }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the server exited ({status}):\n{}", self.output());
        }
    }

    /// Waits for the `listening … port=N` line and returns `http://127.0.0.1:N`.
    pub async fn address(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.assert_running();
            let output = self.output();
            let port = output
                .lines()
                .find(|l| l.contains("listening"))
                .and_then(|l| l.split("port=").nth(1))
                .map(|after| {
                    after
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .filter(|digits| !digits.is_empty());
            if let Some(port) = port {
                return format!("http://127.0.0.1:{port}");
            }
            assert!(
                Instant::now() < deadline,
                "the server never said it was listening:\n{output}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `kill -9`: no chance to finish or record anything.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
