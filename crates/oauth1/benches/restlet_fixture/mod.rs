//! The request both speed measurements use: NetSuite's RESTlet example (published vector
//! `netsuite-restlet-post-script6`), as a server receives it.

use std::hint::black_box;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tessera_oauth1::{AuthorizationHeader, Profile, RequestParts, RequestUrl, Scheme, SigningKey};

pub const HOST: &str = "123456.restlets.api.netsuite.com";
pub const TARGET: &str =
    "/app/site/hosting/restlet.nl?script=6&deploy=1&customParam=someValue&testParam=someOtherValue";
pub const HEADER: &str = r#"OAuth realm="123456", oauth_token="2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc", oauth_consumer_key="ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4", oauth_nonce="fjaLirsIcCGVZWzBX0pg", oauth_timestamp="1508242306", oauth_signature_method="HMAC-SHA256", oauth_version="1.0", oauth_signature="%2BKK4SKNgz4ZiILGLwOMtfYlgcXSy1eis8ldE9X90azQ%3D""#;
pub const CONSUMER_SECRET: &str =
    "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5";
pub const TOKEN_SECRET: &str = "c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295";
pub const NOW: u64 = 1_508_242_306;

/// What a server does per request: URL from the Host header and request target, header parse,
/// profile rules, base string, constant-time HMAC check.
pub fn full_verify(key: &SigningKey) -> bool {
    let Ok(url) = RequestUrl::from_parts(Scheme::Https, black_box(HOST), black_box(TARGET)) else {
        return false;
    };
    let Ok(header) = AuthorizationHeader::parse(black_box(HEADER)) else {
        return false;
    };
    let parts = RequestParts {
        method: "POST",
        url,
        form_body: None,
        body: b"",
    };
    parts.verify(&header, key, &Profile::default(), NOW).is_ok()
}

/// The signature base string of the request.
pub fn base_string() -> String {
    let url = RequestUrl::from_parts(Scheme::Https, HOST, TARGET).expect("fixture URL");
    let header = AuthorizationHeader::parse(HEADER).expect("fixture header");
    let parts = RequestParts {
        method: "POST",
        url,
        form_body: None,
        body: b"",
    };
    parts.base_string(&header).expect("fixture base string")
}

/// HMAC-SHA256 with the RustCrypto crates directly, key set up per call.
pub fn bare_hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(black_box(key)).expect("any key length");
    mac.update(black_box(message));
    mac.finalize().into_bytes().into()
}
