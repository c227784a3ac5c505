//! Base string construction from arbitrary requests: never panics; the client and the server
//! sides agree on every request the client can sign.
//!
//! Input layout: lines `METHOD`, `URL`, `form body`, then the Authorization header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_oauth1::{
    AuthorizationHeader, RequestParts, RequestToSign, RequestUrl, Scheme, SecretString, Signer,
    SigningKey, normalized_params,
};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let (Some(method), Some(url), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let header = parts.next().unwrap_or_default();
    let (Ok(method), Ok(url_text), Ok(header_text)) = (
        std::str::from_utf8(method),
        std::str::from_utf8(url),
        std::str::from_utf8(header),
    ) else {
        return;
    };
    let form_body = (!body.is_empty()).then_some(body);

    // Server side, from a Host header and a request target.
    if let Some((authority, target)) = url_text.split_once(' ') {
        let _ = RequestUrl::from_parts(Scheme::Https, authority, target);
    }
    let Ok(url) = RequestUrl::parse(url_text) else {
        return;
    };
    if let Ok(header) = AuthorizationHeader::parse(header_text) {
        let request = RequestParts { method, url: url.clone(), form_body, body };
        if let Ok(base) = request.base_string(&header) {
            let _ = normalized_params(&url, form_body, &header);
            let _ = SigningKey::new("cs", "ts").verify(base.as_bytes(), "x");
        }
    }

    // Client side: what the signer signs, the verifier's base string reproduces.
    let signer = Signer::new("ck", &SecretString::from("cs"), "tk", &SecretString::from("ts"));
    let Ok(signed) = signer.sign(&RequestToSign {
        method,
        url: url_text,
        form_body,
        nonce: Some("fuzznonce"),
        timestamp: Some(1_700_000_000),
        ..Default::default()
    }) else {
        return;
    };
    let header = AuthorizationHeader::parse(&signed.authorization).expect("signer header parses");
    let request = RequestParts { method, url, form_body, body };
    let base = request.base_string(&header).expect("signed request has a base string");
    assert_eq!(base, signed.base_string);
});
