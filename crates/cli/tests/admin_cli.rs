//! The README's newcomer flow with the real binary: start the server, `tessera login`, create
//! an integration record and a token with the CLI, call the echo RESTlet with `tessera sign`,
//! revoke the token, see the 401 and the audit trail entry with its Detail, `tessera logout`.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::{Server, login_as_admin, tessera};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed and returns its stdout.
fn ok(config: &Path, args: &[&str]) -> String {
    let out = tessera(config, args, "");
    assert!(
        out.status.success(),
        "tessera {}: {}\n{}",
        args.join(" "),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn json(config: &Path, args: &[&str]) -> serde_json::Value {
    let stdout = ok(config, &[args, &["--output", "json"]].concat());
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn a_newcomer_logs_in_makes_a_token_signs_with_it_and_revokes_it() {
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let config = config.path();
    let server = Server::start(data.path(), &[]);
    let password = server.admin_password();
    let base = server.base();

    // A wrong password: refused, nothing saved.
    let refused = tessera(
        config,
        &[
            "login",
            "--url",
            &base,
            "--account",
            "1234567",
            "--email",
            "admin@example.com",
            "--password-stdin",
        ],
        "not the password\n",
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("login refused"));
    assert!(!config.join("profiles.toml").exists());

    let login = login_as_admin(config, &base, &password);
    assert!(login.status.success(), "{}", text(&login.stderr));
    assert!(text(&login.stdout).contains("Logged in"));
    let profiles = std::fs::read_to_string(config.join("profiles.toml")).unwrap();
    assert!(!profiles.contains(&password), "the password is not kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(config.join("profiles.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // An integration record: its consumer pair printed once.
    let created = json(config, &["integration", "create", "--name", "Newcomer App"]);
    let application = created["integration"]["id"].as_i64().unwrap().to_string();
    let ck = created["consumer_key"].as_str().unwrap().to_owned();
    let cs = created["consumer_secret"].as_str().unwrap().to_owned();
    let listed = ok(config, &["integration", "list"]);
    assert!(
        listed.contains("Newcomer App") && listed.contains("Tessera CLI"),
        "{listed}"
    );
    assert!(!listed.contains(&cs));
    // Who may install it by its id: nobody else, until the owner says so.
    let installable = ok(config, &["integration", "installable", &application]);
    assert!(installable.contains("(no other account)"), "{installable}");
    let set = json(
        config,
        &[
            "integration",
            "installable",
            &application,
            "--set",
            "7654321,7654321_SB1",
        ],
    );
    assert_eq!(
        set["accounts"],
        serde_json::json!(["7654321", "7654321_SB1"])
    );
    let installable = ok(config, &["integration", "installable", &application]);
    assert!(
        installable.contains("7654321, 7654321_SB1"),
        "{installable}"
    );

    // A token for the administrator itself with the Administrator role.
    let token = json(
        config,
        &[
            "token",
            "create",
            "--application",
            &application,
            "--user",
            "1",
            "--role",
            "3",
            "--name",
            "newcomer token",
        ],
    );
    let token_key = token["token"]["id"].as_i64().unwrap().to_string();
    let tid = token["token_id"].as_str().unwrap().to_owned();
    let ts = token["token_secret"].as_str().unwrap().to_owned();
    let shown = ok(config, &["token", "show", &token_key]);
    assert!(shown.contains("newcomer token") && !shown.contains(&ts));
    let table = ok(config, &["token", "list", "--search", "newcomer"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("newcomer token") && table.contains("active"),
        "{table}"
    );

    // The echo RESTlet with `tessera sign`.
    let restlet = format!("{base}/app/site/hosting/restlet.nl?script=1&deploy=1");
    let sign = |config: &Path| {
        tessera(
            config,
            &[
                "sign",
                "--consumer-key",
                &ck,
                "--consumer-secret",
                &cs,
                "--token",
                &tid,
                "--token-secret",
                &ts,
                "--realm",
                "1234567",
                "GET",
                &restlet,
            ],
            "",
        )
    };
    let echoed = sign(config);
    assert_eq!(echoed.status.code(), Some(0), "{}", text(&echoed.stderr));
    assert!(text(&echoed.stdout).contains("newcomer token"));
    // ... and with the CLI's own profile.
    let own = tessera(
        config,
        &["sign", "--profile", "default", "GET", &restlet],
        "",
    );
    assert_eq!(own.status.code(), Some(0), "{}", text(&own.stderr));

    // Revoke: the next call is a 401, and the trail says why.
    ok(config, &["token", "revoke", &token_key]);
    let refused = sign(config);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stdout).contains("INVALID_LOGIN_ATTEMPT"));
    let trail = ok(
        config,
        &["audit", "--success", "false", "--token-name", "newcomer"],
    );
    assert!(trail.contains("TokenRevoked"), "{trail}");
    let notes = ok(config, &["token", "notes", &token_key]);
    assert!(
        notes.contains("revoked") && notes.contains("API"),
        "{notes}"
    );

    // A refusal of the API: exit status 1 and the server's message.
    let again = tessera(config, &["token", "revoke", &token_key], "");
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("TOKEN_REVOKED"),
        "{}",
        text(&again.stderr)
    );
    let bad = tessera(config, &["token", "list", "--limit", "0"], "");
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("field limit"));

    // Logout revokes the CLI's token and forgets the profile.
    let profile = std::fs::read_to_string(config.join("profiles.toml")).unwrap();
    let logout = ok(config, &["logout"]);
    assert!(logout.contains("Token revoked"));
    let after = tessera(config, &["token", "list"], "");
    assert_eq!(after.status.code(), Some(2));
    assert!(text(&after.stderr).contains("tessera login"));
    let cli_token = profile
        .lines()
        .find_map(|l| l.strip_prefix("token_id = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let cli_secret = profile
        .lines()
        .find_map(|l| l.strip_prefix("token_secret = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let revoked = tessera(
        config,
        &[
            "sign",
            "--consumer-key",
            tessera_core::bootstrap::CLI_CONSUMER_KEY,
            "--consumer-secret",
            tessera_core::bootstrap::CLI_CONSUMER_SECRET,
            "--token",
            &cli_token,
            "--token-secret",
            &cli_secret,
            "--realm",
            "1234567",
            "GET",
            &restlet,
        ],
        "",
    );
    assert_eq!(revoked.status.code(), Some(1), "the CLI's token is revoked");
}

/// A server whose answer no longer fits the contract (a field renamed) makes the CLI fail
/// with the place where it differs, instead of printing a blank where the field was.
#[test]
fn an_answer_with_a_renamed_field_fails_loudly() {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = [0u8; 4096];
        let _ = stream.read(&mut head).unwrap();
        // `tba_enabled` renamed to `tba`: the account as a server of another version sends it.
        let body = r#"{"id":"1234567","name":"Acme","tba":true,"require_approval_for_auto_install":false,"effective_concurrency_limit":5,"created_at":"2026-12-01T00:00:00Z"}"#;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    let config = tempfile::tempdir().unwrap();
    let key = "a".repeat(64);
    std::fs::write(
        config.path().join("profiles.toml"),
        format!(
            "[profiles.default]\nurl = \"{url}\"\naccount = \"1234567\"\nemail = \"a@example.com\"\n\
             consumer_key = \"{key}\"\nconsumer_secret = \"{key}\"\ntoken_id = \"{key}\"\n\
             token_secret = \"{key}\"\n"
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let file = config.path().join("profiles.toml");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = tessera(config.path(), &["account"], "");
    server.join().unwrap();
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("does not match this CLI's API contract") && stderr.contains("tba_enabled"),
        "{stderr}"
    );
}

/// `tessera login --browser` with the consent clicked in headless Chromium
/// (`crates/server/tests/interop/consent.js`): no password in the terminal, the profile saved
/// from the flow's answer and proven with a signed call; a denial saves nothing.
#[test]
fn login_in_the_browser_runs_the_authorization_flow() {
    use std::io::BufRead as _;
    const CHROMIUM: &str = "/usr/bin/chromium";
    assert!(
        Path::new(CHROMIUM).exists(),
        "the consent is clicked in Debian's chromium at {CHROMIUM} (scripts/test installs it)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let consent_js = root.join("crates/server/tests/interop/consent.js");
    let node_modules = root.join("target/interop/node/node_modules");
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let config = config.path();
    let server = Server::start(data.path(), &[]);
    let password = server.admin_password();
    let base = server.base();

    let run = |decision: &str| -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["login", "--browser", "--no-open", "--url", &base])
            .env("TESSERA_CONFIG_DIR", config)
            .env_remove("TESSERA_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The consent page's address is the indented line of what it prints first.
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let url = loop {
            let mut line = String::new();
            assert_ne!(
                stderr.read_line(&mut line).unwrap(),
                0,
                "no consent URL in: {seen}"
            );
            seen.push_str(&line);
            if let Some(url) = line.trim().strip_prefix("http") {
                break format!("http{url}");
            }
        };
        assert!(
            url.contains("/app/login/secure/authorizetoken.nl?oauth_token="),
            "{url}"
        );
        let cfg = serde_json::json!({
            "account": "1234567",
            "email": "admin@example.com",
            "password": password,
            "chromium": CHROMIUM,
            "callback_prefix": "http://localhost:",
        });
        let browser = Command::new("node")
            .arg(&consent_js)
            .arg(cfg.to_string())
            .arg(&url)
            .arg(decision)
            .env("NODE_PATH", &node_modules)
            .output()
            .unwrap();
        assert!(browser.status.success(), "{}", text(&browser.stderr));
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        let out = child.wait_with_output().unwrap();
        Output {
            stderr: format!("{seen}{rest}").into_bytes(),
            ..out
        }
    };

    let denied = run("deny");
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied.stderr));
    assert!(
        text(&denied.stderr).contains("you denied"),
        "{}",
        text(&denied.stderr)
    );
    assert!(!config.join("profiles.toml").exists());

    let allowed = run("allow");
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
    let said = text(&allowed.stdout);
    assert!(
        said.contains("Logged in to")
            && said.contains("<admin@example.com> with role Administrator (account 1234567)"),
        "{said}"
    );
    let profiles = std::fs::read_to_string(config.join("profiles.toml")).unwrap();
    assert!(!profiles.contains(&password), "the password is not kept");
    // The profile works for the admin commands.
    let tokens = json(config, &["token", "list"]);
    assert!(
        tokens["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "Tessera CLI - Administrator - Administrator"),
        "{tokens}"
    );
}

/// `tessera soap` signs a TokenPassport with the profile's credentials and calls the server's
/// SOAP endpoint; a wrong secret is the fault NetSuite sends; --dry-run shows what was signed.
#[test]
fn soap_calls_get_server_time_with_a_profile() {
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let config = config.path();
    let server = Server::start(data.path(), &[]);
    let password = server.admin_password();
    let base = server.base();
    let login = login_as_admin(config, &base, &password);
    assert!(login.status.success(), "{}", text(&login.stderr));
    let endpoint = format!("{base}/services/NetSuitePort_2024_2");

    let answer = ok(config, &["soap", "--profile", "default", &endpoint]);
    assert!(answer.contains("<platformCore:serverTime>"), "{answer}");
    let who = ok(
        config,
        &[
            "soap",
            "--profile",
            "default",
            "--operation",
            "get",
            &endpoint,
        ],
    );
    assert!(
        who.contains("<platformCore:email>admin@example.com</platformCore:email>"),
        "{who}"
    );

    let wrong = tessera(
        config,
        &[
            "soap",
            "--profile",
            "default",
            "--token-secret",
            "0000",
            &endpoint,
        ],
        "",
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        text(&wrong.stdout).contains("Invalid login attempt."),
        "{}",
        text(&wrong.stdout)
    );

    let dry = json(
        config,
        &[
            "soap",
            "--profile",
            "default",
            "--dry-run",
            "--nonce",
            "abcdef123",
            "--timestamp",
            "1700000000",
            &endpoint,
        ],
    );
    let base_string = dry["base_string"].as_str().unwrap();
    assert!(base_string.starts_with("1234567&88ddd7a1"), "{base_string}");
    assert!(
        base_string.ends_with("&abcdef123&1700000000"),
        "{base_string}"
    );
    assert!(
        dry["envelope"]
            .as_str()
            .unwrap()
            .contains("<msg:tokenPassport>")
    );
    assert!(!dry.to_string().contains(&password));
}

/// R16–R18 from the command line: the account's policies, a token with an expiry and the
/// list's time filters, a bulk change that asks for its count (or `--yes` / `--expect`).
#[test]
fn policies_expiry_and_bulk_changes_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let config = config.path();
    let server = Server::start(data.path(), &[]);
    let login = login_as_admin(config, &server.base(), &server.admin_password());
    assert!(login.status.success(), "{}", text(&login.stderr));
    let created = json(config, &["integration", "create", "--name", "Bulk App"]);
    let application = created["integration"]["id"].as_i64().unwrap().to_string();

    let account = json(
        config,
        &["account", "set", "--token-max-lifetime-days", "30"],
    );
    assert_eq!(account["token_max_lifetime_days"], 30);
    let shown = ok(config, &["account"]);
    assert!(shown.contains("30 days"), "{shown}");
    // Bad input is exit status 2; a refusal of the server 1.
    let none = tessera(config, &["account", "set"], "");
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none.stderr).contains("give a setting to change"));
    let set = json(
        config,
        &["account", "set", "--ip-allow", "127.0.0.1, 10.1.0.0/16"],
    );
    assert_eq!(
        set["ip_allow_list"],
        serde_json::json!(["127.0.0.1/32", "10.1.0.0/16"])
    );
    let bad = tessera(config, &["account", "set", "--ip-allow", "10.0.0.0/40"], "");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("ip_allow_list"),
        "{}",
        text(&bad.stderr)
    );
    // Nothing at all is refused before it is sent (an unset variable must not remove a list).
    let empty = tessera(config, &["account", "set", "--ip-allow", " , "], "");
    assert_eq!(empty.status.code(), Some(2));
    assert!(
        text(&empty.stderr).contains("names no network"),
        "{}",
        text(&empty.stderr)
    );
    // A list that leaves out this CLI's own address is refused, saying why.
    let lockout = tessera(config, &["account", "set", "--ip-allow", "10.0.0.0/8"], "");
    assert_eq!(lockout.status.code(), Some(1));
    assert!(
        text(&lockout.stderr).contains("leaves out the address this request comes from"),
        "{}",
        text(&lockout.stderr)
    );

    let make = |name: &str, extra: &[&str]| {
        let args = [
            &[
                "token",
                "create",
                "--application",
                &application,
                "--user",
                "1",
                "--role",
                "3",
                "--name",
                name,
            ][..],
            extra,
        ]
        .concat();
        tessera(config, &[&args[..], &["--output", "json"]].concat(), "")
    };
    let too_long = make("too long", &["--expires-in-days", "40"]);
    assert_eq!(too_long.status.code(), Some(1));
    assert!(
        text(&too_long.stderr).contains("expires_at"),
        "{}",
        text(&too_long.stderr)
    );
    let short = make("short", &["--expires-in-days", "5"]);
    assert!(short.status.success(), "{}", text(&short.stderr));
    let short: serde_json::Value = serde_json::from_slice(&short.stdout).unwrap();
    assert!(short["token"]["expires_at"].is_string(), "{short}");
    let default = make("default", &[]);
    assert!(default.status.success(), "{}", text(&default.stderr));
    let listed = ok(config, &["token", "list", "--expiring-within-days", "10"]);
    assert!(
        listed.contains("short") && !listed.contains("default"),
        "{listed}"
    );
    assert!(listed.contains("EXPIRES"), "{listed}");

    // Bulk: without a terminal the count must be confirmed by a flag.
    let filters = ["--application", application.as_str()];
    let asked = tessera(
        config,
        &[&["token", "bulk", "inactivate"][..], &filters].concat(),
        "",
    );
    assert_eq!(asked.status.code(), Some(2));
    assert!(
        text(&asked.stdout).contains("select 2 token(s)"),
        "{}",
        text(&asked.stdout)
    );
    assert!(
        text(&asked.stderr).contains("--yes"),
        "{}",
        text(&asked.stderr)
    );
    let stale = tessera(
        config,
        &[&["token", "bulk", "revoke", "--expect", "5"][..], &filters].concat(),
        "",
    );
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        text(&stale.stderr).contains("CONFLICT"),
        "{}",
        text(&stale.stderr)
    );
    let done = ok(
        config,
        &[&["token", "bulk", "inactivate", "--yes"][..], &filters].concat(),
    );
    assert!(done.contains("2 token(s) made inactive"), "{done}");
    let done = json(
        config,
        &[&["token", "bulk", "revoke", "--expect", "2"][..], &filters].concat(),
    );
    assert_eq!(done["changed"], 2);
    // The CLI's own token (another application) is untouched: the profile still works.
    let nothing = ok(
        config,
        &[&["token", "bulk", "revoke", "--yes"][..], &filters].concat(),
    );
    assert!(nothing.contains("select 0 token(s)"), "{nothing}");
    // Unfiltered, the selection holds the CLI's own token: the preview says so.
    let all = tessera(config, &["token", "bulk", "inactivate"], "");
    assert!(
        text(&all.stdout).contains("This includes the token this CLI signs with"),
        "{}",
        text(&all.stdout)
    );
}

/// The signature debugger from the command line: opened for a token, a request signed with a
/// wrong secret is refused and its row keeps the server's base string; `check-signature
/// --audit-id` compares the client's with it (the same string: the key is wrong).
#[test]
fn the_signature_debugger_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let config = config.path();
    let server = Server::start(data.path(), &[]);
    let base = server.base();
    let login = login_as_admin(config, &base, &server.admin_password());
    assert!(login.status.success(), "{}", text(&login.stderr));
    let created = json(config, &["integration", "create", "--name", "Debugged App"]);
    let application = created["integration"]["id"].as_i64().unwrap().to_string();
    let ck = created["consumer_key"].as_str().unwrap().to_owned();
    let cs = created["consumer_secret"].as_str().unwrap().to_owned();
    let token = json(
        config,
        &[
            "token",
            "create",
            "--application",
            &application,
            "--user",
            "1",
            "--role",
            "3",
        ],
    );
    let key = token["token"]["id"].as_i64().unwrap().to_string();
    let tid = token["token_id"].as_str().unwrap().to_owned();
    let opened = ok(config, &["token", "debug", &key, "--minutes", "10"]);
    assert!(opened.contains("open until"), "{opened}");
    let wrong = "0".repeat(64);
    let restlet = format!("{base}/app/site/hosting/restlet.nl?script=1&deploy=1");
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let signing = |dry: bool| {
        let mut args = vec![
            "sign",
            "--consumer-key",
            &ck,
            "--consumer-secret",
            &cs,
            "--token",
            &tid,
            "--token-secret",
            &wrong,
            "--realm",
            "1234567",
            "--nonce",
            "debugme123",
            "--timestamp",
            &timestamp,
        ];
        if dry {
            args.extend(["--dry-run", "--output", "json"]);
        }
        args.extend(["GET", &restlet]);
        tessera(config, &args, "")
    };
    let refused = signing(false);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let trail = json(config, &["audit", "--detail", "InvalidSignature"]);
    let row = trail["items"][0]["id"].as_i64().unwrap().to_string();
    assert_eq!(trail["items"][0]["signature_capture"], true, "{trail}");
    let shown = ok(config, &["audit", "--signature", &row]);
    assert!(
        shown.contains("Base string") && shown.contains("GET&"),
        "{shown}"
    );
    assert!(!shown.contains(&tid), "the token id is masked: {shown}");
    let dry: serde_json::Value = serde_json::from_slice(&signing(true).stdout).unwrap();
    let header = dry["authorization"].as_str().unwrap();
    let check = tessera(
        config,
        &[
            "check-signature",
            "--consumer-secret",
            &cs,
            "--token-secret",
            &wrong,
            "--authorization",
            header,
            "--audit-id",
            &row,
            "GET",
            &restlet,
        ],
        "",
    );
    let out = text(&check.stdout);
    assert!(
        out.contains("The server's base string"),
        "{out}\n{}",
        text(&check.stderr)
    );
    assert!(out.contains("The same as the one recomputed here"), "{out}");
    // The base string the client's code signed, given: where it parts from the server's.
    let signed_by_code = format!("{}%26status%3Dopen", dry["base_string"].as_str().unwrap());
    let given = tessera(
        config,
        &[
            "check-signature",
            "--consumer-secret",
            &cs,
            "--token-secret",
            &wrong,
            "--authorization",
            header,
            "--audit-id",
            &row,
            "--base-string",
            &signed_by_code,
            "--output",
            "json",
            "GET",
            &restlet,
        ],
        "",
    );
    let given: serde_json::Value = serde_json::from_slice(&given.stdout).unwrap();
    assert_eq!(
        given["server"]["causes"][0]["code"], "extra_parameters",
        "{given}"
    );
    // Another request (another nonce): named as such.
    let other = tessera(
        config,
        &[
            "check-signature",
            "--consumer-secret",
            &cs,
            "--token-secret",
            &wrong,
            "--authorization",
            &header.replace("debugme123", "otherone99"),
            "--audit-id",
            &row,
            "--output",
            "json",
            "GET",
            &restlet,
        ],
        "",
    );
    let other: serde_json::Value = serde_json::from_slice(&other.stdout).unwrap();
    assert_eq!(
        other["server"]["causes"][0]["code"], "other_request",
        "{other}"
    );
    let closed = ok(config, &["token", "debug", &key, "--minutes", "0"]);
    assert!(closed.contains("closed"), "{closed}");
}
