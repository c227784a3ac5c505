//! The real `tessera` binary, started for a test: `tessera serve` on port 0 with the example
//! fixtures, and the CLI's own commands.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures.example.toml");

/// A running `tessera serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    /// Everything printed on stdout up to the listening line.
    pub banner: String,
}

impl Server {
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--listen", "127.0.0.1:0", "--fixtures", FIXTURES])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env_remove("TESSERA_MASTER_KEY")
            .env_remove("TESSERA_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 || Instant::now() > deadline {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("tessera serve did not start:\n{banner}\n{err}");
            }
            banner.push_str(&line);
            if let Some(addr) = line.trim().strip_prefix("tessera listening on http://") {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
        });
        Server {
            child,
            port,
            banner,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `kill -9`: no chance to flush or clean up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status and everything written to stderr.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status, err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The administrator's password printed on first start.
    pub fn admin_password(&self) -> String {
        self.banner
            .lines()
            .find_map(|l| l.strip_prefix("Password (shown once; store it now): "))
            .expect("a first start prints the password")
            .to_owned()
    }

    /// The server's base URL.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
