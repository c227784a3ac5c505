//! `tessera sign` and `tessera check-signature`, run as the real binary.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output};

use serde_json::Value;

const CK: &str = "ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4";
const CS: &str = "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5";
const TK: &str = "2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc";
const TS: &str = "c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295";
const REST_URL: &str =
    "https://123456.suitetalk.api.netsuite.com/services/rest/record/v1/employee/40";
/// The header Oracle publishes for the REST web services example (section_1534941295).
const REST_HEADER: &str = r#"OAuth realm="123456", oauth_token="2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc", oauth_consumer_key="ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4", oauth_nonce="fjaLirsIcCGVZWzBX0pg", oauth_timestamp="1508242306", oauth_signature_method="HMAC-SHA256", oauth_version="1.0", oauth_signature="B5OIWznZ2YP0OB7VrJrGkYsTh%2B8H%2B5T9Hag%2Bo92q0zY%3D""#;
const LOCAL_URL: &str = "http://localhost:8080/app/site/hosting/restlet.nl?script=7&deploy=1";

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env_remove("TESSERA_CONSUMER_SECRET")
        .env_remove("TESSERA_TOKEN_SECRET")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

fn sign(extra: &[&str], method: &str, url: &str) -> Value {
    let mut args = vec![
        "sign",
        "--dry-run",
        "--consumer-key",
        "ck",
        "--consumer-secret",
        "cs-secret",
        "--token",
        "tk",
        "--token-secret",
        "ts-secret",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[method, url]);
    let out = tessera(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out)
}

fn check(authorization: &str, extra: &[&str], method: &str, url: &str) -> (i32, Value, String) {
    let mut args = vec![
        "check-signature",
        "--consumer-secret",
        "cs-secret",
        "--token-secret",
        "ts-secret",
        "--authorization",
        authorization,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[method, url]);
    let out = tessera(&args);
    let code = out.status.code().unwrap();
    let value = if code == 2 { Value::Null } else { json(&out) };
    (code, value, stderr(&out))
}

/// `tessera sign --dry-run` with the credentials, nonce and timestamp of NetSuite's examples.
fn sign_netsuite_example(rest: &[&str]) -> Output {
    let mut args = vec![
        "sign",
        "--dry-run",
        "--consumer-key",
        CK,
        "--consumer-secret",
        CS,
        "--token",
        TK,
        "--token-secret",
        TS,
        "--realm",
        "123456",
        "--nonce",
        "fjaLirsIcCGVZWzBX0pg",
        "--timestamp",
        "1508242306",
    ];
    args.extend_from_slice(rest);
    tessera(&args)
}

fn authorization(v: &Value) -> String {
    v["authorization"].as_str().unwrap().to_owned()
}

#[test]
fn sign_reproduces_netsuite_published_header_exactly() {
    let out = sign_netsuite_example(&["GET", REST_URL]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("Authorization: {REST_HEADER}\n")),
        "{text}"
    );
    assert!(text.contains(
        "Signature (HMAC-SHA256, Base64):\nB5OIWznZ2YP0OB7VrJrGkYsTh+8H+5T9Hag+o92q0zY=\n"
    ));
    assert!(text.contains("Base string:\nGET&https%3A%2F%2F123456.suitetalk.api.netsuite.com%2Fservices%2Frest%2Frecord%2Fv1%2Femployee%2F40&oauth_consumer_key%3D"));
    assert!(text.starts_with("Normalized parameters:\noauth_consumer_key=ef40afdd"));
    // The documented timestamp is years old: the tool says a server would refuse it.
    assert!(
        stderr(&out).contains("a server would refuse this request now"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sign_json_has_the_documented_keys() {
    let out = sign_netsuite_example(&[
        "--output",
        "json",
        "POST",
        "https://123456.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=6&deploy=1&customParam=someValue&testParam=someOtherValue",
    ]);
    let v = json(&out);
    assert_eq!(
        v["signature"],
        "+KK4SKNgz4ZiILGLwOMtfYlgcXSy1eis8ldE9X90azQ="
    );
    assert!(
        v["base_string"]
            .as_str()
            .unwrap()
            .starts_with("POST&https%3A%2F%2F123456.restlets")
    );
    assert!(authorization(&v).starts_with(r#"OAuth realm="123456", oauth_token=""#));
    assert!(
        authorization(&v)
            .ends_with(r#"oauth_signature="%2BKK4SKNgz4ZiILGLwOMtfYlgcXSy1eis8ldE9X90azQ%3D""#)
    );
}

#[test]
fn sign_draws_a_fresh_nonce_and_uses_the_clock() {
    let a = sign(&[], "GET", LOCAL_URL);
    let b = sign(&[], "GET", LOCAL_URL);
    assert_ne!(a["nonce"], b["nonce"]);
    let nonce = a["nonce"].as_str().unwrap();
    assert!(
        nonce.len() >= 20 && nonce.bytes().all(|c| c.is_ascii_alphanumeric()),
        "{nonce}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(a["timestamp"].as_u64().unwrap().abs_diff(now) < 60);
    assert!(
        authorization(&a).contains(r#"oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#)
    );
}

#[test]
fn secrets_are_never_printed() {
    let out = tessera(&[
        "sign",
        "--dry-run",
        "--consumer-key",
        "ck",
        "--consumer-secret",
        "SUPERSECRET-C",
        "--token",
        "tk",
        "--token-secret",
        "SUPERSECRET-T",
        "GET",
        LOCAL_URL,
    ]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("SUPERSECRET"), "{all}");
}

#[test]
fn secrets_can_come_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "sign",
            "--dry-run",
            "--consumer-key",
            "ck",
            "--token",
            "tk",
            "--nonce",
            "abcdefgh",
            "--timestamp",
            "1700000000",
            "--output",
            "json",
            "GET",
            LOCAL_URL,
        ])
        .env("TESSERA_CONSUMER_SECRET", "cs-secret")
        .env("TESSERA_TOKEN_SECRET", "ts-secret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let from_env = json(&out);
    let from_args = sign(
        &["--nonce", "abcdefgh", "--timestamp", "1700000000"],
        "GET",
        LOCAL_URL,
    );
    assert_eq!(from_env["signature"], from_args["signature"]);
}

#[test]
fn check_accepts_what_sign_produced() {
    let signed = sign(&["--realm", "1234567_SB1"], "GET", LOCAL_URL);
    let (code, v, _) = check(&authorization(&signed), &[], "GET", LOCAL_URL);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["valid"], true);
    assert_eq!(v["detail"], Value::Null);
    assert_eq!(v["base_string"], signed["base_string"]);
}

#[test]
fn check_accepts_the_published_header_and_names_the_stale_timestamp() {
    let out = tessera(&[
        "check-signature",
        "--consumer-secret",
        CS,
        "--token-secret",
        TS,
        "--authorization",
        &format!("Authorization: {REST_HEADER}"),
        "GET",
        REST_URL,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("VALID"));
    assert!(stderr(&out).contains("behind server time"));
}

#[test]
fn check_reports_a_wrong_secret_with_exit_1() {
    let signed = sign(&[], "GET", LOCAL_URL);
    let out = tessera(&[
        "check-signature",
        "--consumer-secret",
        "cs-secret",
        "--token-secret",
        "wrong",
        "--authorization",
        &authorization(&signed),
        "GET",
        LOCAL_URL,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("INVALID (InvalidSignature): the signature does not match"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "Received signature: {}",
        signed["signature"].as_str().unwrap()
    )));
}

#[test]
fn check_hints_at_swapped_secrets_and_wrong_scheme() {
    let signed = sign(&[], "GET", LOCAL_URL);
    let out = tessera(&[
        "check-signature",
        "--consumer-secret",
        "ts-secret",
        "--token-secret",
        "cs-secret",
        "--authorization",
        &authorization(&signed),
        "--output",
        "json",
        "GET",
        LOCAL_URL,
    ]);
    let v = json(&out);
    assert!(
        v["message"].as_str().unwrap().contains("secrets swapped"),
        "{v}"
    );
    let https = LOCAL_URL.replace("http://", "https://");
    let (code, v, _) = check(&authorization(&signed), &[], "GET", &https);
    assert_eq!(code, 1);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("matches an http URL"),
        "{v}"
    );
}

#[test]
fn check_detects_any_changed_part() {
    let signed = sign(&["--form-body", "a=1&b=two+words"], "POST", LOCAL_URL);
    let header = authorization(&signed);
    let ok = check(
        &header,
        &["--form-body", "a=1&b=two+words"],
        "POST",
        LOCAL_URL,
    );
    assert_eq!(ok.0, 0, "{}", ok.1);
    for (extra, method, url) in [
        (vec!["--form-body", "a=1&b=two+wordz"], "POST", LOCAL_URL),
        (vec!["--form-body", "a=1&b=two+words"], "PUT", LOCAL_URL),
        (
            vec!["--form-body", "a=1&b=two+words"],
            "POST",
            "http://localhost:8081/app/site/hosting/restlet.nl?script=7&deploy=1",
        ),
        (
            vec!["--form-body", "a=1&b=two+words"],
            "POST",
            "http://localhost:8080/app/site/hosting/restlet.nl?script=8&deploy=1",
        ),
        (vec![], "POST", LOCAL_URL),
    ] {
        let (code, v, _) = check(&header, &extra, method, url);
        assert_eq!(code, 1, "{extra:?} {method} {url}");
        assert_eq!(v["detail"], "InvalidSignature");
    }
}

#[test]
fn body_hash_is_signed_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::File::create(&body)
        .unwrap()
        .write_all(br#"{"name":"Ada"}"#)
        .unwrap();
    let body_arg = body.to_str().unwrap();
    for alg in ["sha1", "sha256"] {
        let signed = sign(
            &["--body-file", body_arg, "--body-hash", alg],
            "POST",
            LOCAL_URL,
        );
        let header = authorization(&signed);
        assert!(header.contains("oauth_body_hash="), "{header}");
        let (code, v, _) = check(
            &header,
            &[
                "--body-file",
                body_arg,
                "--content-type",
                "application/json",
            ],
            "POST",
            LOCAL_URL,
        );
        assert_eq!(code, 0, "{alg}: {v}");
        let other = dir.path().join("other.json");
        std::fs::write(&other, br#"{"name":"Bob"}"#).unwrap();
        let (code, v, _) = check(
            &header,
            &["--body-file", other.to_str().unwrap()],
            "POST",
            LOCAL_URL,
        );
        assert_eq!(code, 1);
        assert_eq!(v["detail"], "InvalidSignature");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("oauth_body_hash does not match"),
            "{v}"
        );
    }
}

#[test]
fn form_body_from_a_file_with_its_content_type() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("form.txt");
    std::fs::write(&body, "x=%C3%A9&y=a+b").unwrap();
    let signed = sign(&["--form-body", "x=%C3%A9&y=a+b"], "POST", LOCAL_URL);
    let path = body.to_str().unwrap();
    let form_ct = "application/x-www-form-urlencoded; charset=UTF-8";
    let (code, _, _) = check(
        &authorization(&signed),
        &["--body-file", path, "--content-type", form_ct],
        "POST",
        LOCAL_URL,
    );
    assert_eq!(code, 0);
    let (code, v, _) = check(
        &authorization(&signed),
        &["--body-file", path],
        "POST",
        LOCAL_URL,
    );
    assert_eq!(code, 1);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("--content-type application/x-www-form-urlencoded"),
        "{v}"
    );
}

#[test]
fn hmac_sha1_is_invalid_with_its_own_detail() {
    let signed = sign(&[], "GET", LOCAL_URL);
    let header = authorization(&signed).replace("HMAC-SHA256", "HMAC-SHA1");
    let (code, v, _) = check(&header, &[], "GET", LOCAL_URL);
    assert_eq!(code, 1);
    assert_eq!(v["detail"], "UnsupportedSignatureMethod");
}

#[test]
fn rule_violations_are_invalid_even_with_a_matching_signature() {
    let short = sign(&["--nonce", "abc"], "GET", LOCAL_URL);
    let (code, v, _) = check(&authorization(&short), &[], "GET", LOCAL_URL);
    assert_eq!((code, v["detail"].as_str()), (1, Some("nonce_rejected")));
    assert_eq!(v["signature_matches"], true);
}

#[test]
fn unusable_input_exits_2_with_a_specific_error() {
    let signed = sign(&[], "GET", LOCAL_URL);
    let header = authorization(&signed);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--authorization", "OAuth oauth_nonce=abc", "GET", LOCAL_URL],
            "must be double-quoted",
        ),
        (
            vec!["--authorization", "Bearer xyz", "GET", LOCAL_URL],
            "does not use the OAuth scheme",
        ),
        (
            vec!["--authorization", &header, "GET", "/relative"],
            "must be absolute",
        ),
        (
            vec!["--authorization", &header, "GET", "ftp://h/"],
            "only http and https",
        ),
        (
            vec![
                "--authorization",
                &header,
                "--body-file",
                "/nonexistent/body",
                "GET",
                LOCAL_URL,
            ],
            "cannot read --body-file",
        ),
        (
            vec![
                "--authorization",
                r#"OAuth oauth_consumer_key="ck""#,
                "GET",
                LOCAL_URL,
            ],
            "oauth_signature_method is missing",
        ),
        (
            vec!["--authorization", &header, "G T", LOCAL_URL],
            "invalid HTTP method",
        ),
        (
            vec!["--authorization", &header, "GET", "http://h/?q=%zz"],
            "query parameter #1",
        ),
        (
            vec![
                "--authorization",
                &header,
                "--form-body",
                "a=1",
                "--content-type",
                "application/json",
                "POST",
                LOCAL_URL,
            ],
            "--content-type says",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec![
            "check-signature",
            "--consumer-secret",
            "c",
            "--token-secret",
            "t",
        ];
        full.extend_from_slice(&args);
        let out = tessera(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn url_with_spaces_and_unicode_is_signed_as_sent() {
    let signed = sign(&[], "GET", "http://localhost:8080/app/café?q=a b");
    assert_eq!(signed["url"], "http://localhost:8080/app/caf%C3%A9?q=a%20b");
    let (code, _, _) = check(
        &authorization(&signed),
        &[],
        "GET",
        "http://localhost:8080/app/caf%C3%A9?q=a%20b",
    );
    assert_eq!(code, 0);
}

#[test]
fn rotate_master_key_replaces_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let rotate = || {
        let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["rotate-master-key", "--output", "json", "--data-dir"])
            .arg(dir.path())
            .env_remove("TESSERA_MASTER_KEY")
            .env_remove("TESSERA_DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        json(&out)
    };
    let first = rotate();
    assert_eq!(first["resealed"], 0);
    let key_file = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    let second = rotate();
    assert_ne!(first["active_key_id"], second["active_key_id"]);
    let rotated = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    assert_ne!(key_file, rotated);
    assert_eq!(rotated.lines().filter(|l| !l.starts_with('#')).count(), 1);
    assert!(dir.path().join("tessera.db").exists());
}

/// The README's settings table is the one `tessera config --reference` prints from the
/// settings' definition: a setting added, renamed or re-described there shows up here.
#[test]
fn the_readme_settings_table_is_generated_from_the_settings() {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["config", "--reference"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let table = readme
        .split_once("<!-- settings:start -->\n")
        .and_then(|(_, rest)| rest.split_once("<!-- settings:end -->"))
        .map(|(table, _)| table)
        .unwrap();
    assert_eq!(
        table,
        stdout(&out),
        "README.md's settings table differs: paste `tessera config --reference` between its markers"
    );
}

/// Every setting works from the config file, a flag and a variable, and `tessera config` says
/// which one it came from.
#[test]
fn tessera_config_tells_where_each_setting_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera.toml");
    std::fs::write(
        &file,
        "ui_idle_minutes = 5\nrefusal_floor_ms = 4\ndatabase_url = \"postgres://t:hunter2@db/t\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["config", "--config"])
        .arg(&file)
        .args(["--refusal-floor-ms", "6"])
        .env("TESSERA_UI_SESSION_HOURS", "2")
        .env_remove("TESSERA_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("ui_idle_minutes").contains("5") && line("ui_idle_minutes").contains("(file "));
    assert!(line("refusal_floor_ms").contains("6") && line("refusal_floor_ms").ends_with("(flag)"));
    assert!(line("ui_session_hours").contains("(environment TESSERA_UI_SESSION_HOURS)"));
    assert!(line("log").ends_with("(default)"));
    assert!(!text.contains("hunter2"), "{text}");
    // A value out of range is named, as `serve` would name it.
    let bad = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["config", "--ui-idle-minutes", "0"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("ui_idle_minutes"), "{}", stderr(&bad));
}

/// A reader that closes the pipe early (`tessera config --reference | head -1`) ends the
/// command quietly with 141, as SIGPIPE would, not with a panic about printing (exit 101).
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["config", "--reference"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the command (still starting) prints.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    // 0 only if the command printed before the pipe closed (a slow start of the test).
    assert!(
        matches!(out.status.code(), Some(141 | 0)),
        "{:?}",
        out.status
    );
}
