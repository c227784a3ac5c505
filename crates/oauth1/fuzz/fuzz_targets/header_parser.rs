//! Authorization header parsers: never panic, and what parses rebuilds to the same parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_oauth1::{AuthorizationHeader, NlAuth, Profile, ProtocolParams, build_authorization};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = NlAuth::parse(text);
    let Ok(header) = AuthorizationHeader::parse(text) else {
        return;
    };
    if let Ok(params) = ProtocolParams::from_header(&header) {
        let _ = Profile::default().check(&params, Some(1_700_000_000));
    }
    // Building the parsed parameters back into a header and parsing that gives them again.
    let rebuilt = build_authorization(
        header.realm(),
        header.params().iter().map(|p| (p.name(), p.value())),
    );
    let again = AuthorizationHeader::parse(&rebuilt).expect("a built header parses");
    assert_eq!(again.realm(), header.realm());
    assert_eq!(again.params().len(), header.params().len());
    for (a, b) in again.params().iter().zip(header.params()) {
        assert_eq!((a.name(), a.value()), (b.name(), b.value()));
    }
});
