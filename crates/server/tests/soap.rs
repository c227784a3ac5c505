//! SOAP web services with a TokenPassport over HTTP (RULES.md §4.3), on both stores: the served
//! operations, the WSDL, and every refusal — each with its fault on the wire and its Detail
//! code in the login audit trail — plus Python's zeep calling `getServerTime` from the WSDL.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::*;
use tessera_core::AccountSettings;
use tessera_core::ids::AccountId;
use tessera_core::store::LoginAttempt;
use tessera_oauth1::{SigningKey, TokenPassport};

on_both_backends!(
    get_server_time_answers_a_good_passport,
    every_refusal_is_a_fault_with_its_detail,
    credentials_mixed_with_a_passport_are_ambiguous,
    hostile_xml_is_refused_before_it_costs_anything,
    get_data_center_urls_and_get_answer_as_documented,
    the_wsdl_describes_the_served_operations,
    the_concurrency_limit_is_a_ws_request_blocked_fault,
    zeep_calls_get_server_time_from_the_wsdl,
);

const PORT: &str = "/services/NetSuitePort_2024_2";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A fresh alphanumeric nonce.
fn nonce() -> String {
    tessera_oauth1::signer::generate_nonce().unwrap()
}

/// A `<tokenPassport>` signed with these secrets; `edit` may change the fields first.
fn passport_with(
    consumer_secret: &str,
    token: &str,
    token_secret: &str,
    nonce: &str,
    timestamp: u64,
) -> String {
    let timestamp = timestamp.to_string();
    let fields = TokenPassport {
        account: ACCOUNT,
        consumer_key: CONSUMER_KEY,
        token,
        nonce,
        timestamp: &timestamp,
    };
    let signature = fields.sign(&SigningKey::new(consumer_secret, token_secret));
    format!(
        "<msg:tokenPassport><core:account>{ACCOUNT}</core:account>\
         <core:consumerKey>{CONSUMER_KEY}</core:consumerKey><core:token>{token}</core:token>\
         <core:nonce>{nonce}</core:nonce><core:timestamp>{timestamp}</core:timestamp>\
         <core:signature algorithm=\"HMAC-SHA256\">{signature}</core:signature></msg:tokenPassport>"
    )
}

fn passport() -> String {
    passport_with(CONSUMER_SECRET, TOKEN_ID, TOKEN_SECRET, &nonce(), now())
}

fn envelope(header: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:msg=\"urn:messages_2024_2.platform.webservices.netsuite.com\" \
         xmlns:core=\"urn:core_2024_2.platform.webservices.netsuite.com\">\
         <soapenv:Header>{header}</soapenv:Header><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    )
}

const GET_SERVER_TIME: &str = "<msg:getServerTime/>";

async fn post(server: &TestServer, xml: &str) -> Reply {
    post_with(server, xml, &[]).await
}

async fn post_with(server: &TestServer, xml: &str, extra: &[(&str, &str)]) -> Reply {
    let mut headers = vec![
        ("content-type", "text/xml; charset=utf-8"),
        ("soapaction", "getServerTime"),
    ];
    headers.extend_from_slice(extra);
    send(server.addr, "POST", PORT, &headers, xml.as_bytes()).await
}

async fn last_soap_row(server: &TestServer) -> LoginAttempt {
    trail(server)
        .await
        .into_iter()
        .find(|r| r.surface == "soap")
        .expect("a SOAP row in the audit trail")
}

/// NetSuite's refused-login fault, and nothing that tells why.
fn assert_invalid_login(reply: &Reply) {
    assert_eq!(reply.status, 500, "{}", reply.text());
    let xml = reply.text();
    assert!(
        xml.contains("<faultcode>soapenv:Server.userException</faultcode>"),
        "{xml}"
    );
    assert!(
        xml.contains("<faultstring>Invalid login attempt.</faultstring>"),
        "{xml}"
    );
    assert!(
        xml.contains("platformFaults:invalidCredentialsFault"),
        "{xml}"
    );
    assert!(
        xml.contains("<platformFaults:code>INVALID_LOGIN_ATTEMPT</platformFaults:code>"),
        "{xml}"
    );
}

fn assert_client_fault(reply: &Reply, says: &str) {
    assert_eq!(reply.status, 500, "{}", reply.text());
    let xml = reply.text();
    assert!(
        xml.contains("<faultcode>soapenv:Client</faultcode>"),
        "{xml}"
    );
    assert!(xml.contains(says), "{says:?} not in {xml}");
}

async fn get_server_time_answers_a_good_passport(server: &TestServer) {
    let reply = post(server, &envelope(&passport(), GET_SERVER_TIME)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "text/xml; charset=utf-8");
    let xml = reply.text();
    assert!(
        xml.contains("<platformCore:status isSuccess=\"true\"/>"),
        "{xml}"
    );
    assert!(xml.contains("<platformCore:serverTime>20"), "{xml}");
    assert!(xml.contains("urn:messages_2024_2.platform.webservices.netsuite.com"));
    let row = last_soap_row(server).await;
    assert!(row.success, "{row:?}");
    assert_eq!(row.token_name.as_deref(), Some("alice sync"));
}

async fn every_refusal_is_a_fault_with_its_detail(server: &TestServer) {
    // Tampered: signed with the wrong token secret.
    let tampered = passport_with(CONSUMER_SECRET, TOKEN_ID, "wrong", &nonce(), now());
    assert_invalid_login(&post(server, &envelope(&tampered, GET_SERVER_TIME)).await);
    assert_eq!(last_soap_row(server).await.detail, "InvalidSignature");

    // Replay: the same envelope twice.
    let once = envelope(&passport(), GET_SERVER_TIME);
    assert_eq!(post(server, &once).await.status, 200);
    assert_invalid_login(&post(server, &once).await);
    assert_eq!(last_soap_row(server).await.detail, "nonce_used");

    // A missing field, an empty one.
    for (from, to) in [
        (
            format!("<core:token>{TOKEN_ID}</core:token>"),
            String::new(),
        ),
        (
            "<core:account>1234567</core:account>".to_owned(),
            "<core:account></core:account>".to_owned(),
        ),
    ] {
        let missing = passport().replace(&from, &to);
        assert_invalid_login(&post(server, &envelope(&missing, GET_SERVER_TIME)).await);
        assert_eq!(
            last_soap_row(server).await.detail,
            "MissingTokenPassportRequiredFields"
        );
    }

    // A signature without its algorithm, or none at all.
    let no_algorithm = passport().replace(" algorithm=\"HMAC-SHA256\"", "");
    assert_invalid_login(&post(server, &envelope(&no_algorithm, GET_SERVER_TIME)).await);
    assert_eq!(
        last_soap_row(server).await.detail,
        "MissingTokenPassportRequiredFields"
    );
    let p = passport();
    let start = p.find("<core:signature").unwrap();
    let no_signature = format!("{}</msg:tokenPassport>", &p[..start]);
    assert_invalid_login(&post(server, &envelope(&no_signature, GET_SERVER_TIME)).await);
    assert_eq!(
        last_soap_row(server).await.detail,
        "MissingTokenPassportRequiredFields"
    );

    // The nonce and timestamp rules.
    let short = passport_with(CONSUMER_SECRET, TOKEN_ID, TOKEN_SECRET, "abc", now());
    assert_invalid_login(&post(server, &envelope(&short, GET_SERVER_TIME)).await);
    assert_eq!(last_soap_row(server).await.detail, "nonce_rejected");
    let stale = passport_with(
        CONSUMER_SECRET,
        TOKEN_ID,
        TOKEN_SECRET,
        &nonce(),
        now() - 3600,
    );
    assert_invalid_login(&post(server, &envelope(&stale, GET_SERVER_TIME)).await);
    assert_eq!(last_soap_row(server).await.detail, "InvalidTimestamp");

    // Another algorithm.
    let sha1 = passport().replace("algorithm=\"HMAC-SHA256\"", "algorithm=\"HMAC-SHA1\"");
    assert_invalid_login(&post(server, &envelope(&sha1, GET_SERVER_TIME)).await);
    assert_eq!(
        last_soap_row(server).await.detail,
        "UnsupportedSignatureMethod"
    );

    // Another account than the token's (signed as such).
    let timestamp = now().to_string();
    let n = nonce();
    let other = TokenPassport {
        account: "7654321",
        consumer_key: CONSUMER_KEY,
        token: TOKEN_ID,
        nonce: &n,
        timestamp: &timestamp,
    };
    let signature = other.sign(&SigningKey::new(CONSUMER_SECRET, TOKEN_SECRET));
    let xml = format!(
        "<msg:tokenPassport><core:account>7654321</core:account><core:consumerKey>{CONSUMER_KEY}</core:consumerKey><core:token>{TOKEN_ID}</core:token><core:nonce>{n}</core:nonce><core:timestamp>{timestamp}</core:timestamp><core:signature algorithm=\"HMAC-SHA256\">{signature}</core:signature></msg:tokenPassport>"
    );
    assert_invalid_login(&post(server, &envelope(&xml, GET_SERVER_TIME)).await);
    assert_eq!(last_soap_row(server).await.detail, "InvalidRealm");

    // No passport at all.
    assert_invalid_login(&post(server, &envelope("", GET_SERVER_TIME)).await);
    assert_eq!(
        last_soap_row(server).await.detail,
        "MissingRequiredParameter"
    );

    // A revoked token: refused at once, on every later request.
    let admin = admin_actor();
    let tokens = server
        .tessera()
        .list_tokens(&admin, Default::default(), Default::default(), None, 10)
        .await
        .unwrap();
    let second = tokens
        .items
        .iter()
        .find(|t| t.token.name == "alice second")
        .unwrap();
    let p2 = || passport_with(CONSUMER_SECRET, TOKEN2_ID, TOKEN2_SECRET, &nonce(), now());
    assert_eq!(
        post(server, &envelope(&p2(), GET_SERVER_TIME)).await.status,
        200
    );
    server
        .tessera()
        .revoke_token(&admin, second.token.key)
        .await
        .unwrap();
    assert_invalid_login(&post(server, &envelope(&p2(), GET_SERVER_TIME)).await);
    assert_eq!(last_soap_row(server).await.detail, "TokenRevoked");

    // An operation Tessera does not serve: a fault that says so (nothing verified).
    let reply = post(
        server,
        &envelope(&passport(), "<msg:search><msg:searchRecord/></msg:search>"),
    )
    .await;
    assert_client_fault(
        &reply,
        "Tessera does not provide the operation &quot;search&quot;",
    );

    // No fault or row ever holds a secret or a signature.
    for row in trail(server).await {
        assert!(!row.detail_note.contains(TOKEN_SECRET));
        assert!(!row.detail_note.contains(CONSUMER_SECRET));
    }
}

async fn credentials_mixed_with_a_passport_are_ambiguous(server: &TestServer) {
    let ambiguous = |reply: &Reply| {
        assert_eq!(reply.status, 500, "{}", reply.text());
        let xml = reply.text();
        assert!(
            xml.contains("<faultstring>Ambiguous authentication</faultstring>"),
            "{xml}"
        );
    };
    let two = format!("{}{}", passport(), passport());
    ambiguous(&post(server, &envelope(&two, GET_SERVER_TIME)).await);
    assert!(
        last_soap_row(server)
            .await
            .detail_note
            .contains("2 tokenPassport")
    );
    for other in [
        "<msg:passport><core:email>a@example.com</core:email><core:password>x</core:password><core:account>1234567</core:account></msg:passport>",
        "<msg:applicationInfo><msg:applicationId>X</msg:applicationId></msg:applicationInfo>",
    ] {
        let mixed = format!("{}{other}", passport());
        ambiguous(&post(server, &envelope(&mixed, GET_SERVER_TIME)).await);
    }
    let reply = post_with(
        server,
        &envelope(&passport(), GET_SERVER_TIME),
        &[("cookie", "JSESSIONID=abc")],
    )
    .await;
    ambiguous(&reply);
    let auth = authorization(&signer(), "POST", &server.url(PORT), None);
    let reply = post_with(
        server,
        &envelope(&passport(), GET_SERVER_TIME),
        &[("authorization", &auth)],
    )
    .await;
    ambiguous(&reply);
    assert!(
        last_soap_row(server)
            .await
            .detail_note
            .contains("Authorization header")
    );
    ambiguous(
        &post_with(
            server,
            &envelope(&passport(), GET_SERVER_TIME),
            &[("cookie", "JSESSIONID=abc")],
        )
        .await,
    );
    let row = last_soap_row(server).await;
    assert_eq!(row.detail, "MalformedRequest");
    assert!(
        row.detail_note.contains("session cookie"),
        "{}",
        row.detail_note
    );
}

async fn hostile_xml_is_refused_before_it_costs_anything(server: &TestServer) {
    // The billion laughs: a DTD declaring entities.
    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>{}",
        envelope("", "<msg:get><msg:baseRef>&lol2;</msg:baseRef></msg:get>")
            .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
    );
    assert_client_fault(&post(server, &laughs).await, "DTDs are not accepted");
    // An external entity.
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        envelope("", "<msg:get><msg:baseRef>&xxe;</msg:baseRef></msg:get>")
            .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
    );
    let reply = post(server, &xxe).await;
    assert_client_fault(&reply, "DTDs are not accepted");
    assert!(!reply.text().contains("root:"));
    // An undeclared entity without a DTD.
    let entity = envelope("", "<msg:get><msg:baseRef>&xxe;</msg:baseRef></msg:get>");
    assert_client_fault(&post(server, &entity).await, "entity &amp;xxe");
    // Deep nesting, many elements, a huge value, an oversized envelope.
    let deep = envelope(
        "",
        &format!(
            "<msg:get>{}{}</msg:get>",
            "<a>".repeat(64),
            "</a>".repeat(64)
        ),
    );
    assert_client_fault(&post(server, &deep).await, "nests deeper");
    let wide = envelope("", &format!("<msg:get>{}</msg:get>", "<a/>".repeat(5000)));
    assert_client_fault(&post(server, &wide).await, "more than");
    let big = envelope(
        "",
        &format!("<msg:get><a>{}</a></msg:get>", "x".repeat(300_000)),
    );
    assert_client_fault(&post(server, &big).await, "larger than 256 KiB");
    // Not XML, not SOAP 1.1.
    assert_client_fault(&post(server, "{\"json\":true}").await, "not");
    let v12 = "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Body><x/></e:Body></e:Envelope>";
    let reply = post(server, v12).await;
    assert!(
        reply.text().contains("soapenv:VersionMismatch"),
        "{}",
        reply.text()
    );
    assert_eq!(last_soap_row(server).await.detail, "MalformedRequest");
    // A port that is not NetSuite's form is no endpoint at all.
    let reply = send(server.addr, "POST", "/services/NetSuitePort_x", &[], b"").await;
    assert_eq!(reply.status, 404);
}

async fn get_data_center_urls_and_get_answer_as_documented(server: &TestServer) {
    let origin = server.url("");
    // Like NetSuite's: no credentials needed.
    let body = "<msg:getDataCenterUrls><msg:account>1234567</msg:account></msg:getDataCenterUrls>";
    let reply = post(server, &envelope("", body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let xml = reply.text();
    for domain in ["restDomain", "webservicesDomain", "systemDomain"] {
        assert!(
            xml.contains(&format!(
                "<platformCore:{domain}>{origin}</platformCore:{domain}>"
            )),
            "{domain} in {xml}"
        );
    }
    let reply = post(
        server,
        &envelope(
            "",
            "<msg:getDataCenterUrls><msg:account>no!</msg:account></msg:getDataCenterUrls>",
        ),
    )
    .await;
    assert_client_fault(&reply, "is not an account id");
    // `get` answers who is calling.
    let reply = post(
        server,
        &envelope(
            &passport(),
            "<msg:get><msg:baseRef internalId=\"2\" type=\"employee\"/></msg:get>",
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let xml = reply.text();
    assert!(
        xml.contains("<platformCore:entityId>Alice Able</platformCore:entityId>"),
        "{xml}"
    );
    assert!(xml.contains("<platformCore:email>alice@example.com</platformCore:email>"));
    assert!(xml.contains("<platformCore:tokenName>alice sync</platformCore:tokenName>"));
}

async fn the_wsdl_describes_the_served_operations(server: &TestServer) {
    let reply = send(server.addr, "GET", "/wsdl/v2024_2/netsuite.wsdl", &[], b"").await;
    assert_eq!(reply.status, 200);
    let wsdl = reply.text();
    let address = format!("location=\"{}{PORT}\"", server.url(""));
    assert!(wsdl.contains(&address), "{wsdl}");
    for op in ["getServerTime", "getDataCenterUrls", "get"] {
        assert!(wsdl.contains(&format!("<operation name=\"{op}\">")), "{op}");
    }
    assert!(wsdl.contains("urn:messages_2024_2.platform.webservices.netsuite.com"));
    assert_eq!(
        send(server.addr, "GET", "/wsdl/vnope/netsuite.wsdl", &[], b"")
            .await
            .status,
        404
    );
    // NetSuite's documented form of the path, and the toolkits' `?wsdl`.
    for path in [
        "/wsdl/v2024_2_0/netsuite.wsdl",
        "/services/NetSuitePort_2024_2?wsdl",
    ] {
        let reply = send(server.addr, "GET", path, &[], b"").await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.text(), wsdl, "{path}");
    }
}

async fn the_concurrency_limit_is_a_ws_request_blocked_fault(server: &TestServer) {
    let a = AccountId::parse(ACCOUNT).unwrap();
    let limit = AccountSettings {
        concurrency_limit: Some(Some(1)),
        ..AccountSettings::default()
    };
    server
        .tessera()
        .update_account_settings(&tessera_core::bootstrap::OPERATOR, &a, limit)
        .await
        .unwrap();
    let slow = "/app/site/hosting/restlet.nl?script=1&deploy=1&tessera_delay_ms=800";
    let auth = authorization(&signer(), "GET", &server.url(slow), None);
    let addr = server.addr;
    let holder =
        tokio::spawn(
            async move { send(addr, "GET", slow, &[("authorization", &auth)], b"").await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = post(server, &envelope(&passport(), GET_SERVER_TIME)).await;
    assert_eq!(reply.status, 500, "{}", reply.text());
    let xml = reply.text();
    assert!(
        xml.contains("platformFaults:exceededConcurrentRequestLimitFault"),
        "{xml}"
    );
    assert!(xml.contains("<platformFaults:code>WS_REQUEST_BLOCKED</platformFaults:code>"));
    assert_eq!(holder.await.unwrap().status, 200);
    assert_eq!(
        last_soap_row(server).await.detail,
        "ConcurrencyLimitExceeded"
    );
}

/// Python's zeep reads the WSDL and calls `getServerTime` with a TokenPassport header.
async fn zeep_calls_get_server_time_from_the_wsdl(server: &TestServer) {
    let config = serde_json::json!({
        "wsdl": server.url("/wsdl/v2024_2/netsuite.wsdl"),
        "account": ACCOUNT,
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "token_id": TOKEN_ID,
        "token_secret": TOKEN_SECRET,
    });
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/soap.py");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(&script)
            .arg(config.to_string())
            .env("PYTHONPATH", interop_dir().join("python"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "zeep: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"], true, "{answer}");
    assert!(
        answer["server_time"].as_str().unwrap().starts_with("20"),
        "{answer}"
    );
    assert_eq!(answer["data_center_rest_domain"], server.url(""));
    assert_eq!(answer["replay"], "Invalid login attempt.");
    assert!(last_soap_row(server).await.detail == "nonce_used");
}
