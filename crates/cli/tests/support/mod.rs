//! The real `tessera` binary, started for a test: `tessera serve` on port 0 with the example
//! fixtures, and the CLI's own commands.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: this build's, or the one `TESSERA_TEST_BIN` names (to run a test
/// against another build, e.g. to see a regression test fail on the build before a fix).
pub fn bin() -> String {
    std::env::var("TESSERA_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tessera").to_owned())
}

/// The example fixtures' integration record and token (fixtures.example.toml).
pub const CK: &str = "e133adc2871bc19a63362a2dd75101df935716cfbfd7b04a3555a63e9356cff4";
pub const CS: &str = "b7f962ea6fb978b771bbb4c8e7583a29bd9ba71843b789d2c5bff114ed1330e8";
pub const TID: &str = "eec0d2aea0e562a245abacb6fe5a60db7891cafa9488ef1ccf1ca1db7d1a9c22";
pub const TS: &str = "b5f07efc4cabab965a220784c7fd59439b0a6d4baf951283d3425f5cf15d2721";
pub const RESTLET: &str = "/app/site/hosting/restlet.nl?script=7&deploy=1";

/// `tessera sign` with the fixture token, this token secret, and `GET url`.
pub fn sign_with(token_secret: &str, extra: &[&str], url: &str) -> std::process::Output {
    Command::new(bin())
        .args([
            "sign",
            "--consumer-key",
            CK,
            "--token",
            TID,
            "--realm",
            "1234567",
        ])
        .env("TESSERA_CONSUMER_SECRET", CS)
        .env("TESSERA_TOKEN_SECRET", token_secret)
        .args(extra)
        .args(["GET", url])
        .output()
        .unwrap()
}

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
        let mut args: Vec<&str> = vec!["--fixtures", FIXTURES];
        args.extend_from_slice(extra);
        Self::try_start(data_dir, &args, &[])
            .unwrap_or_else(|(out, err)| panic!("tessera serve did not start:\n{out}\n{err}"))
    }

    /// `tessera serve` on port 0 with `args` and `env`; its stdout and stderr if it exits (or
    /// prints nothing for a minute) before it listens.
    pub fn try_start(
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, (String, String)> {
        let mut command = Command::new(bin());
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env_remove("TESSERA_MASTER_KEY")
            .env_remove("TESSERA_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap_or(0) == 0 || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                return Err((banner, err));
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
        Ok(Server {
            child,
            port,
            banner,
        })
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stderr so far is not readable without blocking; this takes the pipe to read it in a
    /// thread, line by line, into the returned buffer.
    pub fn capture_stderr(&mut self) -> std::sync::Arc<std::sync::Mutex<String>> {
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut err = BufReader::new(self.child.stderr.take().unwrap());
        let into = log.clone();
        std::thread::spawn(move || {
            loop {
                let mut line = String::new();
                match err.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => into.lock().unwrap().push_str(&line),
                }
            }
        });
        log
    }

    /// Waits for the process to exit, up to `within`; `None` if it is still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
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

/// `tessera ARGS` with its profiles in `config`; `stdin` fed to it.
pub fn tessera(config: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(bin())
        .args(args)
        .env("TESSERA_CONFIG_DIR", config)
        .env_remove("TESSERA_PROFILE")
        .env_remove("TESSERA_CONSUMER_SECRET")
        .env_remove("TESSERA_TOKEN_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `tessera login` as the bootstrap administrator, with the Administrator role, the password
/// on stdin.
pub fn login_as_admin(config: &Path, base: &str, password: &str) -> std::process::Output {
    tessera(
        config,
        &[
            "login",
            "--url",
            base,
            "--account",
            "1234567",
            "--email",
            "admin@example.com",
            "--role",
            "3",
            "--password-stdin",
        ],
        &format!("{password}\n"),
    )
}
