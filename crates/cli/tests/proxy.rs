//! `tessera proxy` with Tessera itself as the upstream and real clients (curl, Python's urllib,
//! Node's fetch) sending plain, unsigned requests through it: each arrives signed with the
//! profile's credentials — a query with a space, a form body, a streamed JSON body, a body hash
//! for the admin API — and the proxy's own refusals and the upstream's are clear.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use support::{CK, CS, RESTLET, Server, TID, TS, bin};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running `tessera proxy`, with the address it printed; killed when dropped.
struct Proxy {
    child: Child,
    base: String,
}

impl Proxy {
    fn start(config: &Path, upstream: &str, extra: &[&str]) -> Proxy {
        let mut child = Command::new(bin())
            .args([
                "proxy",
                "--profile",
                "fixture",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
            ])
            .arg(upstream)
            .args(extra)
            .env("TESSERA_CONFIG_DIR", config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        // Warnings may come first (a profile saved for another host).
        let first = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.contains("listening on"))
            .unwrap();
        let base = first
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        // Keep reading what it says, so a full pipe never blocks it; the lines are kept for
        // the test that looks at them.
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push_str(&line);
                kept.lock().unwrap().push('\n');
            }
        });
        LOGS.with(|l| *l.borrow_mut() = Some(log));
        Proxy { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

thread_local! {
    static LOGS: std::cell::RefCell<Option<std::sync::Arc<std::sync::Mutex<String>>>> =
        const { std::cell::RefCell::new(None) };
}

fn last_log() -> String {
    LOGS.with(|l| {
        l.borrow()
            .as_ref()
            .map(|log| log.lock().unwrap().clone())
            .unwrap_or_default()
    })
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// curl, quiet, the status code on the last line.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl: {}", text(&out.stderr));
    let all = text(&out.stdout);
    let (body, code) = all.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

#[test]
fn real_clients_send_unsigned_requests_through_the_proxy_and_get_200() {
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let config = config.path();
    let server = Server::start(data.path(), &[]);
    let upstream = server.base();
    // The integration's credentials go into a profile, the secrets through the environment.
    let saved = Command::new(bin())
        .args([
            "profile",
            "save",
            "fixture",
            "--url",
            &upstream,
            "--account",
            "1234567",
            "--consumer-key",
            CK,
            "--token",
            TID,
        ])
        .env("TESSERA_CONFIG_DIR", config)
        .env("TESSERA_CONSUMER_SECRET", CS)
        .env("TESSERA_TOKEN_SECRET", TS)
        .output()
        .unwrap();
    assert!(saved.status.success(), "{}", text(&saved.stderr));
    let listed = Command::new(bin())
        .args(["profile", "list"])
        .env("TESSERA_CONFIG_DIR", config)
        .output()
        .unwrap();
    assert!(
        text(&listed.stdout).contains("fixture"),
        "{}",
        text(&listed.stdout)
    );
    assert!(!text(&listed.stdout).contains(CS));

    let proxy = Proxy::start(config, &upstream, &[]);

    // curl: a GET with a space in the query, signed as %20.
    let (status, body) = curl(&[&proxy.url(&format!("{RESTLET}&q=a%20b"))]);
    assert_eq!(status, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["token"]["name"], "Alice - Acme Sync", "{echo}");
    assert_eq!(echo["query"]["q"], "a b", "{echo}");

    // Python's urllib: a form body, its parameters signed.
    let script = format!(
        "import urllib.request\n\
         r = urllib.request.Request('{}', data=b'name=Jane+Doe&city=Z%C3%BCrich', method='POST',\n\
             headers={{'Content-Type': 'application/x-www-form-urlencoded'}})\n\
         with urllib.request.urlopen(r) as resp:\n    print(resp.status)\n    print(resp.read().decode())\n",
        proxy.url(RESTLET)
    );
    let py = run("python3", &["-c", &script]);
    let out = text(&py.stdout);
    assert!(py.status.success(), "{out}\n{}", text(&py.stderr));
    assert!(out.starts_with("200"), "{out}");
    // Accepted: the form's parameters were signed; the echo shows the body as sent.
    assert!(out.contains("name=Jane+Doe&city=Z%C3%BCrich"), "{out}");

    // Node's fetch: a JSON body, not signed, streamed through.
    let script = format!(
        "fetch('{}', {{ method: 'PUT', headers: {{ 'content-type': 'application/json' }}, \
         body: JSON.stringify({{ big: 'x'.repeat(200000) }}) }}).then(async r => {{ \
         const t = await r.text(); console.log(r.status, t.length); }})",
        proxy.url(RESTLET)
    );
    let node = run("node", &["-e", &script]);
    let out = text(&node.stdout);
    assert!(node.status.success(), "{out}\n{}", text(&node.stderr));
    assert!(out.starts_with("200 "), "{out}");
    let echoed: usize = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(echoed > 200_000, "the body came back whole: {out}");

    // The admin API asks for a body hash on a body: without --body-hash it is refused, and
    // the refusal passes through as the upstream said it; with it, the change is made.
    let (status, tokens) = curl(&[&proxy.url("/api/v1/tokens")]);
    assert_eq!(status, 200, "{tokens}");
    let tokens: serde_json::Value = serde_json::from_str(&tokens).unwrap();
    let id = tokens["items"][0]["id"].as_i64().unwrap();
    let rename = |proxy: &Proxy| {
        curl(&[
            "-X",
            "PATCH",
            "-H",
            "content-type: application/json",
            "--data",
            r#"{"name":"via proxy"}"#,
            &proxy.url(&format!("/api/v1/tokens/{id}")),
        ])
    };
    let (status, body) = rename(&proxy);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("oauth_body_hash") || body.contains("body hash"),
        "{body}"
    );
    let hashing = Proxy::start(config, &upstream, &["--body-hash"]);
    let (status, body) = rename(&hashing);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("via proxy"), "{body}");

    // A web page must not drive it: a browser's request (Origin, Sec-Fetch-Site) or a name
    // other than localhost (DNS rebinding) is refused before anything is signed.
    let echo = proxy.url(RESTLET);
    for (header, code) in [
        ("Origin: https://attacker.example", "BROWSER_REQUEST"),
        ("Sec-Fetch-Site: cross-site", "BROWSER_REQUEST"),
        ("Host: rebind.attacker.example", "UNKNOWN_HOST"),
    ] {
        let (status, body) = curl(&["-H", header, &echo]);
        assert_eq!(status, 403, "{header}: {body}");
        assert!(body.contains(code), "{header}: {body}");
    }
    let localhost = echo.replace("127.0.0.1", "localhost");
    assert_eq!(curl(&[&localhost]).0, 200);
    // TRACE would echo the signature; a target that climbs out of the upstream's path is not
    // a plain path.
    let (status, body) = curl(&["-X", "TRACE", &echo]);
    assert_eq!(status, 405, "{body}");
    let (status, body) = curl(&["--path-as-is", &proxy.url("/app/../api/v1/tokens")]);
    assert_eq!(status, 400, "{body}");

    // Not an open proxy: an absolute-form target is refused, by the proxy itself.
    let (status, body) = curl(&["-x", &proxy.base, "http://example.com/"]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("NOT_A_FORWARD_PROXY"), "{body}");

    // The upstream refuses a revoked token: its 401 passes through, and the proxy says why.
    let (status, _) = curl(&[
        "-X",
        "POST",
        &hashing.url(&format!("/api/v1/tokens/{id}/revoke")),
    ]);
    assert_eq!(status, 200);
    let (status, body) = curl(&[&hashing.url(RESTLET)]);
    assert_eq!(status, 401, "{body}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        last_log().contains("the upstream refused"),
        "{}",
        last_log()
    );
    drop(hashing);
    drop(proxy);

    // An upstream that does not answer: the proxy's own 502, naming it.
    let nowhere = Proxy::start(config, "http://127.0.0.1:9", &[]);
    let (status, body) = curl(&[&nowhere.url(RESTLET)]);
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("UPSTREAM_UNREACHABLE") && body.contains("127.0.0.1:9"),
        "{body}"
    );
    drop(nowhere);

    // Listening beyond loopback needs to be asked for.
    let refused = Command::new(bin())
        .args([
            "proxy",
            "--profile",
            "fixture",
            "--listen",
            "0.0.0.0:0",
            "--upstream",
            &upstream,
        ])
        .env("TESSERA_CONFIG_DIR", config)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("--allow-remote"),
        "{}",
        text(&refused.stderr)
    );
    drop(server);
}
