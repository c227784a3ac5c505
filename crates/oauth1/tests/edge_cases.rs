//! Hand-written edge cases of the base string, the header and verification.
//!
//! Expected base strings in `CASES` were produced by Python's oauthlib 4.0.1 (the reference
//! provider) from the same inputs and read through by hand; `utf8_form_body_raw` is ours alone
//! (oauthlib ignores a form body with raw non-ASCII bytes, while Tessera decodes it as UTF-8).

#![allow(clippy::unwrap_used)]

use tessera_oauth1::{
    AuthorizationHeader, HeaderError, OAuthParam, Profile, Rejection, RequestParts, RequestToSign,
    RequestUrl, Scheme, SecretString, Signer, SigningKey, VerifyError, find_authorization,
};

struct Case {
    name: &'static str,
    method: &'static str,
    url: &'static str,
    form_body: Option<&'static str>,
    header: &'static str,
    base_string: &'static str,
}

/// The header every case without extras uses; the signer reproduces it from these values.
const PLAIN_HEADER: &str = r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#;

fn base_string_of(method: &str, url: &str, form_body: Option<&str>, header: &str) -> String {
    let header = AuthorizationHeader::parse(header).unwrap();
    let parts = RequestParts {
        method,
        url: RequestUrl::parse(url).unwrap(),
        form_body: form_body.map(str::as_bytes),
        body: form_body.unwrap_or("").as_bytes(),
    };
    parts.base_string(&header).unwrap()
}

fn check(case: &Case) {
    let ours = base_string_of(case.method, case.url, case.form_body, case.header);
    assert_eq!(ours, case.base_string, "case {}", case.name);
    if case.header == PLAIN_HEADER {
        // The client side must produce the very same base string.
        let signer = Signer::new("ck", &"cs".into(), "tk", &"ts".into());
        let signed = signer
            .sign(&RequestToSign {
                method: case.method,
                url: case.url,
                form_body: case.form_body.map(str::as_bytes),
                nonce: Some("abcdef"),
                timestamp: Some(1_700_000_000),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            signed.base_string, case.base_string,
            "signer, case {}",
            case.name
        );
    }
}

#[test]
fn base_string_edge_cases() {
    assert!(CASES.len() >= 50);
    for case in CASES {
        check(case);
    }
}

const CASES: &[Case] = &[
    Case {
        name: "empty_query_value",
        method: "GET",
        url: r#"http://h/p?a="#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&a%3D%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "query_name_without_equals",
        method: "GET",
        url: r#"http://h/p?a"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&a%3D%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "repeated_names_sorted_by_value",
        method: "GET",
        url: r#"http://h/p?a=2&a=1&a=10&a="#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&a%3D%26a%3D1%26a%3D10%26a%3D2%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "plus_in_query_is_space",
        method: "GET",
        url: r#"http://h/p?q=a+b"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3Da%2520b"#,
    },
    Case {
        name: "encoded_plus_in_query_stays_plus",
        method: "GET",
        url: r#"http://h/p?q=a%2Bb"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3Da%252Bb"#,
    },
    Case {
        name: "tilde_is_unreserved",
        method: "GET",
        url: r#"http://h/~user/p?q=~x"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2F~user%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3D~x"#,
    },
    Case {
        name: "encoded_tilde_normalised",
        method: "GET",
        url: r#"http://h/p?q=%7Ex"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3D~x"#,
    },
    Case {
        name: "sub_delims_are_encoded",
        method: "GET",
        url: r#"http://h/p?q=!*'()"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3D%2521%252A%2527%2528%2529"#,
    },
    Case {
        name: "utf8_path_percent_encoded",
        method: "GET",
        url: r#"http://h/caf%C3%A9"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fcaf%25C3%25A9&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "utf8_query",
        method: "GET",
        url: r#"http://h/p?q=%C3%A9&%E6%97%A5=1"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&%25E6%2597%25A5%3D1%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3D%25C3%25A9"#,
    },
    Case {
        name: "utf8_form_body_raw",
        method: "POST",
        url: r#"http://h/p"#,
        form_body: Some(r#"q=é&x=日本"#),
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"POST&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3D%25C3%25A9%26x%3D%25E6%2597%25A5%25E6%259C%25AC"#,
    },
    Case {
        name: "encoded_slash_in_path_survives",
        method: "GET",
        url: r#"http://h/a%2Fb/c"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fa%252Fb%2Fc&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "lower_hex_in_path_survives",
        method: "GET",
        url: r#"http://h/caf%c3%a9"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fcaf%25c3%25a9&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "lower_hex_in_query_normalised",
        method: "GET",
        url: r#"http://h/p?q=caf%c3%a9"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3Dcaf%25C3%25A9"#,
    },
    Case {
        name: "http_default_port_dropped",
        method: "GET",
        url: r#"http://h:80/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "https_default_port_dropped",
        method: "GET",
        url: r#"https://h:443/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&https%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "non_default_port_kept",
        method: "GET",
        url: r#"http://localhost:8080/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Flocalhost%3A8080%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "https_on_port_80_kept",
        method: "GET",
        url: r#"https://h:80/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&https%3A%2F%2Fh%3A80%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "upper_case_scheme_lowered",
        method: "GET",
        url: r#"HTTPS://h/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&https%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "upper_case_host_lowered",
        method: "GET",
        url: r#"http://API.Example.COM/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fapi.example.com%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "path_case_kept",
        method: "GET",
        url: r#"http://h/App/Site"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2FApp%2FSite&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "ipv6_host",
        method: "GET",
        url: r#"http://[::1]/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2F%5B%3A%3A1%5D%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "ipv6_host_with_port",
        method: "GET",
        url: r#"http://[2001:DB8::1]:8443/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2F%5B2001%3Adb8%3A%3A1%5D%3A8443%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "empty_path_is_slash",
        method: "GET",
        url: r#"http://h"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2F&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "empty_path_with_query",
        method: "GET",
        url: r#"http://h?a=1"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2F&a%3D1%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "fragment_ignored",
        method: "GET",
        url: r#"http://h/p?a=1#frag"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&a%3D1%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "lower_case_method_upper_cased",
        method: "get",
        url: r#"http://h/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "patch_method",
        method: "PATCH",
        url: r#"http://h/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"PATCH&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "empty_query_segments_skipped",
        method: "GET",
        url: r#"http://h/p?a=1&&b=2&"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&a%3D1%26b%3D2%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "equals_in_value",
        method: "GET",
        url: r#"http://h/p?a=b=c"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&a%3Db%253Dc%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "empty_name",
        method: "GET",
        url: r#"http://h/p?=x"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&%3Dx%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "encoded_ampersand_and_equals",
        method: "GET",
        url: r#"http://h/p?q=%26%3D"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3D%2526%253D"#,
    },
    Case {
        name: "space_in_path",
        method: "GET",
        url: r#"http://h/a%20b"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fa%2520b&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "query_and_form_same_name",
        method: "POST",
        url: r#"http://h/p?a=2"#,
        form_body: Some(r#"a=1&b=3"#),
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"POST&http%3A%2F%2Fh%2Fp&a%3D1%26a%3D2%26b%3D3%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "form_plus_is_space",
        method: "POST",
        url: r#"http://h/p"#,
        form_body: Some(r#"q=a+b&r=a%2Bb"#),
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"POST&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3Da%2520b%26r%3Da%252Bb"#,
    },
    Case {
        name: "form_name_without_equals",
        method: "POST",
        url: r#"http://h/p"#,
        form_body: Some(r#"flag&x="#),
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"POST&http%3A%2F%2Fh%2Fp&flag%3D%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26x%3D"#,
    },
    Case {
        name: "sort_by_encoded_bytes_dot_vs_slash",
        method: "GET",
        url: r#"http://h/p?a.=1&a%2F=2"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&a%252F%3D2%26a.%3D1%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "sort_upper_before_lower",
        method: "GET",
        url: r#"http://h/p?b=1&B=2&a=3&A=4"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&A%3D4%26B%3D2%26a%3D3%26b%3D1%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "sort_encoded_non_ascii_before_letters",
        method: "GET",
        url: r#"http://h/p?x=a&x=%C3%A9"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26x%3D%25C3%25A9%26x%3Da"#,
    },
    Case {
        name: "double_encoded_value_preserved",
        method: "GET",
        url: r#"http://h/p?b5=%3D%253D"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&b5%3D%253D%25253D%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "asterisk_encoded",
        method: "GET",
        url: r#"http://h/p?q=a*b"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3Da%252Ab"#,
    },
    Case {
        name: "body_hash_is_signed",
        method: "POST",
        url: r#"http://h/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0", oauth_body_hash="47DEQpj8HBSa%2B%2FTImW%2B5JCeuQeRkm5NMpJWZG3hSuFU%3D""#,
        base_string: r#"POST&http%3A%2F%2Fh%2Fp&oauth_body_hash%3D47DEQpj8HBSa%252B%252FTImW%252B5JCeuQeRkm5NMpJWZG3hSuFU%253D%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "callback_with_url_value",
        method: "POST",
        url: r#"http://h/rest/requesttoken"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0", oauth_callback="http%3A%2F%2Flocalhost%3A8000%2Fcb%3Fx%3D1%26y%3D%C3%A9""#,
        base_string: r#"POST&http%3A%2F%2Fh%2Frest%2Frequesttoken&oauth_callback%3Dhttp%253A%252F%252Flocalhost%253A8000%252Fcb%253Fx%253D1%2526y%253D%25C3%25A9%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "empty_header_value_kept",
        method: "GET",
        url: r#"http://h/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0", oauth_verifier="""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_verifier%3D%26oauth_version%3D1.0"#,
    },
    Case {
        name: "non_oauth_header_param_signed",
        method: "GET",
        url: r#"http://h/p"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0", custom="v""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&custom%3Dv%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "realm_with_sandbox_id_not_signed",
        method: "GET",
        url: r#"http://h/p"#,
        form_body: None,
        header: r#"OAuth realm="1234567_SB1", oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "long_value",
        method: "GET",
        url: r#"http://h/p?q=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fp&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26q%3Dxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"#,
    },
    Case {
        name: "netsuite_restlet_params_in_query",
        method: "POST",
        url: r#"https://1234567.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=customscript_x&deploy=1"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"POST&https%3A%2F%2F1234567.restlets.api.netsuite.com%2Fapp%2Fsite%2Fhosting%2Frestlet.nl&deploy%3D1%26oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26script%3Dcustomscript_x"#,
    },
    Case {
        name: "reserved_chars_in_path",
        method: "GET",
        url: r#"http://h/a;b=c/d,e@f:g"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2Fa%3Bb%3Dc%2Fd%2Ce%40f%3Ag&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
    Case {
        name: "percent_25_in_path",
        method: "GET",
        url: r#"http://h/100%25"#,
        form_body: None,
        header: r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#,
        base_string: r#"GET&http%3A%2F%2Fh%2F100%2525&oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0"#,
    },
];

// ---- Header syntax ------------------------------------------------------------------------

const SIGNED_SUFFIX: &str = "oauth_consumer_key%3Dck%26oauth_nonce%3Dabcdef%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0";

fn header_base(header: &str) -> String {
    base_string_of("GET", "http://h/p", None, header)
}

#[test]
fn realm_first_last_or_absent_gives_the_same_base_string() {
    let expected = format!("GET&http%3A%2F%2Fh%2Fp&{SIGNED_SUFFIX}");
    let first = r#"OAuth realm="1234567", oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0""#;
    let last = r#"OAuth oauth_consumer_key="ck", oauth_token="tk", oauth_nonce="abcdef", oauth_timestamp="1700000000", oauth_signature_method="HMAC-SHA256", oauth_version="1.0", realm="1234567""#;
    assert_eq!(header_base(first), expected);
    assert_eq!(header_base(last), expected);
    assert_eq!(header_base(PLAIN_HEADER), expected);
    assert_eq!(
        AuthorizationHeader::parse(last).unwrap().realm(),
        Some("1234567")
    );
}

#[test]
fn separators_with_and_without_spaces_and_tabs() {
    let expected = header_base(PLAIN_HEADER);
    let tight = r#"OAuth oauth_consumer_key="ck",oauth_token="tk",oauth_nonce="abcdef",oauth_timestamp="1700000000",oauth_signature_method="HMAC-SHA256",oauth_version="1.0""#;
    let loose = "OAuth\toauth_consumer_key=\"ck\" ,\toauth_token=\"tk\"  ,oauth_nonce=\"abcdef\", oauth_timestamp=\"1700000000\",\toauth_signature_method=\"HMAC-SHA256\" , oauth_version=\"1.0\" ";
    assert_eq!(header_base(tight), expected);
    assert_eq!(header_base(loose), expected);
}

#[test]
fn parameter_order_does_not_matter() {
    let shuffled = r#"OAuth oauth_version="1.0", oauth_timestamp="1700000000", oauth_token="tk", oauth_signature_method="HMAC-SHA256", oauth_nonce="abcdef", oauth_consumer_key="ck""#;
    assert_eq!(header_base(shuffled), header_base(PLAIN_HEADER));
}

#[test]
fn scheme_name_is_case_insensitive() {
    for scheme in ["oauth", "OAUTH", "oAuth"] {
        let header = PLAIN_HEADER.replacen("OAuth", scheme, 1);
        assert_eq!(header_base(&header), header_base(PLAIN_HEADER), "{scheme}");
    }
}

#[test]
fn header_name_is_found_case_insensitively() {
    for name in [
        "Authorization",
        "authorization",
        "AUTHORIZATION",
        "aUtHoRiZaTiOn",
    ] {
        let headers = [("Content-Type", "application/json"), (name, PLAIN_HEADER)];
        assert_eq!(
            find_authorization(headers),
            Ok(Some(PLAIN_HEADER)),
            "{name}"
        );
    }
}

#[test]
fn header_values_are_canonicalised_before_signing() {
    // %41 is 'A', lower-case hex and needless escapes must not change the base string.
    let odd = PLAIN_HEADER
        .replace(
            r#"oauth_consumer_key="ck""#,
            r#"oauth_consumer_key="%63%6b""#,
        )
        .replace(r#"oauth_version="1.0""#, r#"oauth_version="1%2e0""#);
    assert_eq!(header_base(&odd), header_base(PLAIN_HEADER));
    let parsed = AuthorizationHeader::parse(&odd).unwrap();
    assert_eq!(parsed.get(OAuthParam::ConsumerKey), Some("ck"));
}

#[test]
fn unicode_header_value_is_encoded_upper_case() {
    let header = format!(r#"{PLAIN_HEADER}, oauth_callback="http%3a%2f%2fh%2f%c3%a9""#);
    let base = header_base(&header);
    assert!(
        base.contains("oauth_callback%3Dhttp%253A%252F%252Fh%252F%25C3%25A9"),
        "{base}"
    );
}

#[test]
fn oauth_signature_is_never_signed() {
    let with_sig = format!(r#"{PLAIN_HEADER}, oauth_signature="abc%3D""#);
    assert_eq!(header_base(&with_sig), header_base(PLAIN_HEADER));
}

#[test]
fn duplicate_protocol_parameters_are_malformed() {
    for dup in [
        r#"oauth_nonce="zzzzzz""#,
        r#"oauth_consumer_key="ck""#,
        r#"oauth_signature="a", oauth_signature="b""#,
        r#"realm="a", realm="b""#,
        r#"oauth_custom="1", oauth_custom="1""#,
    ] {
        let header = format!("{PLAIN_HEADER}, {dup}");
        assert!(
            matches!(
                AuthorizationHeader::parse(&header),
                Err(HeaderError::DuplicateParameter { .. })
            ),
            "{dup}"
        );
    }
}

#[test]
fn malformed_header_syntax_names_the_problem() {
    let cases: &[(&str, &str)] = &[
        (
            "OAuth oauth_nonce=abcdef",
            "the value of parameter \"oauth_nonce\" must be double-quoted",
        ),
        (
            r#"OAuth oauth_nonce="abcdef"#,
            "malformed Authorization header at byte 18: expected a closing '\"' for the value opened here (values cannot hold control characters)",
        ),
        (
            r#"OAuth oauth_nonce="abc" oauth_token="t""#,
            "malformed Authorization header at byte 24: expected ',' between parameters",
        ),
        (
            r#"OAuth oauth_nonce="ab%G1""#,
            "parameter \"oauth_nonce\": malformed percent-escape at byte 2: '%' must be followed by two hex digits",
        ),
        (
            r#"OAuth oauth_nonce="%FF""#,
            "parameter \"oauth_nonce\": decoded value is not valid UTF-8 (byte 0 of the decoded value)",
        ),
        (
            "Basic dXNlcjpwYXNz",
            "the Authorization header does not use the OAuth scheme",
        ),
    ];
    for (header, message) in cases {
        let err = AuthorizationHeader::parse(header).unwrap_err();
        assert_eq!(&err.to_string(), message, "{header}");
    }
}

// ---- Errors in the signed parameters ------------------------------------------------------

fn base_string_error(url: &str, form_body: Option<&[u8]>) -> String {
    let header = AuthorizationHeader::parse(PLAIN_HEADER).unwrap();
    let parts = RequestParts {
        method: "POST",
        url: RequestUrl::parse(url).unwrap(),
        form_body,
        body: b"",
    };
    parts.base_string(&header).unwrap_err().to_string()
}

#[test]
fn malformed_escape_in_form_body_is_an_error() {
    assert_eq!(
        base_string_error("http://h/p", Some(b"a=1&b%2=2")),
        "form body parameter #2 (\"b%2\"), name: malformed percent-escape at byte 1: '%' must be followed by two hex digits"
    );
}

#[test]
fn invalid_utf8_in_query_is_an_error() {
    assert_eq!(
        base_string_error("http://h/p?q=%C3%28", None),
        "query parameter #1 (\"q\"), value: decoded value is not valid UTF-8 (byte 0 of the decoded value)"
    );
}

#[test]
fn invalid_utf8_raw_in_form_body_is_an_error() {
    assert_eq!(
        base_string_error("http://h/p", Some(b"a=1&&b=x\xff")),
        "form body parameter #2 (\"b\"), value: decoded value is not valid UTF-8 (byte 1 of the decoded value)"
    );
    assert_eq!(
        base_string_error("http://h/p", Some(b"a=1&\xfe=2")),
        "form body parameter #2 (\"\u{fffd}\"), name: decoded value is not valid UTF-8 (byte 0 of the decoded value)"
    );
}

// ---- Server-side URL from the Host header -------------------------------------------------

#[test]
fn server_side_url_matches_client_url() {
    let server = RequestUrl::from_parts(
        Scheme::Http,
        "LocalHost:8080",
        "/app/site/hosting/restlet.nl?script=1&deploy=1",
    )
    .unwrap();
    let client =
        RequestUrl::parse("http://localhost:8080/app/site/hosting/restlet.nl?script=1&deploy=1")
            .unwrap();
    assert_eq!(server.base_uri(), client.base_uri());
    assert_eq!(server.query(), client.query());
}

// ---- Verification -------------------------------------------------------------------------

const NOW: u64 = 1_700_000_000;

fn sign(url: &str, form_body: Option<&str>) -> String {
    Signer::new(
        "ck",
        &SecretString::from("c s"),
        "tk",
        &SecretString::from("t&s"),
    )
    .with_realm("1234567_SB1")
    .sign(&RequestToSign {
        method: "POST",
        url,
        form_body: form_body.map(str::as_bytes),
        nonce: Some("n0nce-1"),
        timestamp: Some(NOW),
        ..Default::default()
    })
    .unwrap()
    .authorization
}

fn verify(
    header: &str,
    url: &str,
    form_body: Option<&str>,
    key: &SigningKey,
    now: u64,
) -> Result<(), VerifyError> {
    let header = AuthorizationHeader::parse(header)?;
    let parts = RequestParts {
        method: "POST",
        url: RequestUrl::parse(url).unwrap(),
        form_body: form_body.map(str::as_bytes),
        body: form_body.unwrap_or("").as_bytes(),
    };
    parts
        .verify(&header, key, &Profile::default(), now)
        .map(|_| ())
}

fn right_key() -> SigningKey {
    SigningKey::new("c s", "t&s")
}

const URL: &str = "http://localhost:8080/app/site/hosting/restlet.nl?script=7&deploy=1";

#[test]
fn signed_request_verifies() {
    let header = sign(URL, Some("a=1&b=x+y"));
    assert_eq!(
        verify(&header, URL, Some("a=1&b=x+y"), &right_key(), NOW),
        Ok(())
    );
}

#[test]
fn wrong_secret_is_invalid_signature() {
    let header = sign(URL, None);
    let err = verify(&header, URL, None, &SigningKey::new("c s", "t&S"), NOW).unwrap_err();
    assert_eq!(err, VerifyError::Rejected(Rejection::InvalidSignature));
}

#[test]
fn tampered_form_body_is_invalid_signature() {
    let header = sign(URL, Some("amount=10"));
    let err = verify(&header, URL, Some("amount=1000"), &right_key(), NOW).unwrap_err();
    assert_eq!(err, VerifyError::Rejected(Rejection::InvalidSignature));
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    let header = sign(URL, None);
    assert!(verify(&header, URL, None, &right_key(), NOW + 300).is_ok());
    for now in [NOW + 301, NOW - 301] {
        let err = verify(&header, URL, None, &right_key(), now).unwrap_err();
        assert!(
            matches!(&err, VerifyError::Rejected(r) if r.detail() == "InvalidTimestamp"),
            "{err:?}"
        );
    }
}

#[test]
fn realm_change_does_not_break_the_signature() {
    let header = sign(URL, None).replace("1234567_SB1", "1234567-sb1");
    assert_eq!(verify(&header, URL, None, &right_key(), NOW), Ok(()));
}

#[test]
fn hmac_sha1_is_refused_even_when_correctly_signed() {
    let header = sign(URL, None).replace("HMAC-SHA256", "HMAC-SHA1");
    let err = verify(&header, URL, None, &right_key(), NOW).unwrap_err();
    assert_eq!(
        err.to_string(),
        "signature method \"HMAC-SHA1\" is not accepted: only HMAC-SHA256 is (names are case-sensitive)"
    );
}

#[test]
fn missing_signature_is_malformed() {
    let header = sign(URL, None);
    let without: Vec<&str> = header
        .split(", ")
        .filter(|p| !p.starts_with("oauth_signature="))
        .collect();
    let err = verify(&without.join(", "), URL, None, &right_key(), NOW).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Malformed(HeaderError::MissingParameter {
            name: "oauth_signature"
        })
    );
}

#[test]
fn short_nonce_is_rejected() {
    let header = sign(URL, None).replace("n0nce-1", "n0nce");
    let err = verify(&header, URL, None, &right_key(), NOW).unwrap_err();
    assert!(
        matches!(&err, VerifyError::Rejected(r) if r.detail() == "nonce_rejected"),
        "{err:?}"
    );
}

#[test]
fn wrong_version_is_rejected() {
    let header = sign(URL, None).replace(r#"oauth_version="1.0""#, r#"oauth_version="2.0""#);
    let err = verify(&header, URL, None, &right_key(), NOW).unwrap_err();
    assert!(
        matches!(&err, VerifyError::Rejected(r) if r.detail() == "InvalidVersion"),
        "{err:?}"
    );
}

#[test]
fn body_hash_must_match_the_body() {
    use tessera_oauth1::BodyHashAlgorithm;
    let body = br#"{"id":1}"#;
    let signed = Signer::new("ck", &"c s".into(), "tk", &"t&s".into())
        .sign(&RequestToSign {
            method: "POST",
            url: URL,
            body_hash: Some((BodyHashAlgorithm::Sha256, body)),
            nonce: Some("abcdefg"),
            timestamp: Some(NOW),
            ..Default::default()
        })
        .unwrap();
    let header = AuthorizationHeader::parse(&signed.authorization).unwrap();
    let parts = |body: &'static [u8]| RequestParts {
        method: "POST",
        url: RequestUrl::parse(URL).unwrap(),
        form_body: None,
        body,
    };
    assert!(
        parts(body)
            .verify(&header, &right_key(), &Profile::default(), NOW)
            .is_ok()
    );
    let err = parts(br#"{"id":2}"#)
        .verify(&header, &right_key(), &Profile::default(), NOW)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "oauth_body_hash does not match the sha256 of the request body"
    );
}
