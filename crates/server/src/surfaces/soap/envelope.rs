//! Reading a SOAP 1.1 request envelope with quick-xml's streaming reader, bounded before and
//! while it reads: the size (checked by the caller), the depth, the number of elements and the
//! length of each value. No DTD is accepted (so no entity can be declared), no processing
//! instruction, and no entity reference but XML's five predefined ones and character
//! references: nothing in an envelope can make the parser fetch, expand or recurse.
//!
//! What is kept is what the surface needs: the `tokenPassport` headers (their fields, as
//! text), the names of other credential headers, and the one operation in the body with the
//! text of its direct children.

use std::borrow::Cow;

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

/// SOAP 1.1's envelope namespace.
pub(crate) const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2's, answered with a VersionMismatch fault.
const SOAP12_ENV: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Deeper than any envelope the served operations need (Envelope/Body/op/child/grandchild).
const MAX_DEPTH: usize = 12;
/// Elements in one envelope at most.
const MAX_ELEMENTS: usize = 256;
/// Characters of one element's text, or one attribute's value, at most.
const MAX_TEXT: usize = 2048;
/// Attributes of one element at most (namespace declarations included).
const MAX_ATTRIBUTES: usize = 32;

/// Credential headers NetSuite accepts besides `tokenPassport`: any of them with a
/// `tokenPassport` is ambiguous.
const OTHER_CREDENTIALS: &[&str] = &["passport", "applicationInfo", "ssoPassport", "partnerInfo"];

/// A `<tokenPassport>`'s fields as sent (absent fields empty).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct PassportFields {
    pub account: String,
    pub consumer_key: String,
    pub token: String,
    pub nonce: String,
    pub timestamp: String,
    pub signature: String,
    pub algorithm: Option<String>,
}

/// What a request envelope holds.
#[derive(Debug, Default)]
pub(crate) struct Envelope {
    pub passports: Vec<PassportFields>,
    /// Local names of other credential headers found.
    pub other_credentials: Vec<&'static str>,
    /// The body's operation: its local name.
    pub operation: String,
    /// The operation's direct children: local name and text.
    pub arguments: Vec<(String, String)>,
    /// The operation's direct children's attributes (local name → value), in order.
    pub argument_attributes: Vec<Vec<(String, String)>>,
}

impl Envelope {
    /// The text of the operation's first child of this local name.
    pub(crate) fn argument(&self, name: &str) -> Option<&str> {
        self.arguments
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why an envelope cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EnvelopeError {
    #[error("the request is not well-formed XML: {0}")]
    NotXml(String),
    #[error("the request is a SOAP 1.2 envelope; this endpoint speaks SOAP 1.1")]
    VersionMismatch,
    #[error("the request is not a SOAP 1.1 envelope: {0}")]
    NotSoap(&'static str),
    #[error("the request has a document type declaration; DTDs are not accepted")]
    Dtd,
    #[error("the request has a processing instruction; none is accepted")]
    ProcessingInstruction,
    #[error("the request refers to entity &{0}; only XML's predefined entities are accepted")]
    Entity(String),
    #[error("the envelope nests deeper than {MAX_DEPTH} elements")]
    TooDeep,
    #[error("the envelope has more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("a value in the envelope is longer than {MAX_TEXT} characters")]
    TextTooLong,
    #[error("an element of the envelope has more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error("the tokenPassport has {0} twice")]
    DuplicateField(&'static str),
    #[error("the SOAP body must hold exactly one operation")]
    NotOneOperation,
}

/// Where the reader is, by the local names of the open elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Envelope,
    Header,
    /// Inside a `tokenPassport` header.
    Passport,
    /// A field of the passport being read.
    PassportField(Field),
    Body,
    Operation,
    /// A direct child of the operation.
    Argument,
    /// Anything else: skipped (its text is still bounded).
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Account,
    ConsumerKey,
    Token,
    Nonce,
    Timestamp,
    Signature,
}

impl Field {
    fn of(local: &str) -> Option<Self> {
        Some(match local {
            "account" => Self::Account,
            "consumerKey" => Self::ConsumerKey,
            "token" => Self::Token,
            "nonce" => Self::Nonce,
            "timestamp" => Self::Timestamp,
            "signature" => Self::Signature,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::ConsumerKey => "consumerKey",
            Self::Token => "token",
            Self::Nonce => "nonce",
            Self::Timestamp => "timestamp",
            Self::Signature => "signature",
        }
    }

    fn slot(self, p: &mut PassportFields) -> &mut String {
        match self {
            Self::Account => &mut p.account,
            Self::ConsumerKey => &mut p.consumer_key,
            Self::Token => &mut p.token,
            Self::Nonce => &mut p.nonce,
            Self::Timestamp => &mut p.timestamp,
            Self::Signature => &mut p.signature,
        }
    }
}

fn ill(e: impl std::fmt::Display) -> EnvelopeError {
    let text: String = e.to_string().chars().take(200).collect();
    EnvelopeError::NotXml(text)
}

/// NetSuite's namespaces of a version: the messages (headers, operations and their arguments)
/// and the core types (the passport's fields).
struct Namespaces {
    messages: String,
    core: String,
}

impl Namespaces {
    fn of(version: &str) -> Self {
        Self {
            messages: format!("urn:messages_{version}.platform.webservices.netsuite.com"),
            core: format!("urn:core_{version}.platform.webservices.netsuite.com"),
        }
    }
}

/// An element's namespace, owned (the reader is used again before the element is done with).
fn is(ns: &Option<Vec<u8>>, expected: &str) -> bool {
    ns.as_deref() == Some(expected.as_bytes())
}

/// Reads an envelope (already bounded in size) for the endpoint of `version` (`2024_2`): the
/// passport, the operation and its arguments are recognised in that version's namespaces only.
pub(crate) fn read(xml: &[u8], version: &str) -> Result<Envelope, EnvelopeError> {
    let names = Namespaces::of(version);
    let text = std::str::from_utf8(xml).map_err(|_| EnvelopeError::NotXml("not UTF-8".into()))?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(true);
    reader.config_mut().expand_empty_elements = true;
    let mut envelope = Envelope::default();
    let mut stack: Vec<Place> = Vec::new();
    let mut elements = 0usize;
    let mut seen_body = false;
    let mut operations = 0usize;
    let mut text_buf = String::new();
    // Fields already given in the passport being read.
    let mut given: Vec<Field> = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(ill)?;
        let ns = match ns {
            ResolveResult::Unknown(prefix) => {
                return Err(ill(format!(
                    "the namespace prefix {:?} is not declared",
                    String::from_utf8_lossy(&prefix)
                )));
            }
            ResolveResult::Bound(n) => Some(n.as_ref().to_vec()),
            ResolveResult::Unbound => None,
        };
        match event {
            Event::Start(start) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(EnvelopeError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(EnvelopeError::TooDeep);
                }
                let local = local_name(&start)?;
                // Every element's attributes are read, so they are bounded and unique too.
                let element_attributes = attributes(&reader, &start)?;
                let parent = stack.last().copied();
                let place = match parent {
                    None => {
                        match &ns {
                            n if is(n, SOAP12_ENV) => {
                                return Err(EnvelopeError::VersionMismatch);
                            }
                            n if is(n, SOAP_ENV) && local == "Envelope" => {}
                            _ => {
                                return Err(EnvelopeError::NotSoap(
                                    "the root must be Envelope in http://schemas.xmlsoap.org/soap/envelope/",
                                ));
                            }
                        }
                        Place::Envelope
                    }
                    Some(Place::Envelope) => {
                        let soap = is(&ns, SOAP_ENV);
                        match (soap, local.as_ref()) {
                            (true, "Header") if !seen_body => Place::Header,
                            (true, "Body") if !seen_body => {
                                seen_body = true;
                                Place::Body
                            }
                            _ => {
                                return Err(EnvelopeError::NotSoap(
                                    "an Envelope holds an optional Header and one Body",
                                ));
                            }
                        }
                    }
                    Some(Place::Header) if !is(&ns, &names.messages) => Place::Other,
                    Some(Place::Header) => {
                        if local == "tokenPassport" {
                            envelope.passports.push(PassportFields::default());
                            given.clear();
                            Place::Passport
                        } else {
                            if let Some(name) = OTHER_CREDENTIALS.iter().find(|n| **n == local) {
                                envelope.other_credentials.push(name);
                            }
                            Place::Other
                        }
                    }
                    Some(Place::Passport) if !is(&ns, &names.core) => Place::Other,
                    Some(Place::Passport) => match Field::of(&local) {
                        Some(field) => {
                            if given.contains(&field) {
                                return Err(EnvelopeError::DuplicateField(field.name()));
                            }
                            given.push(field);
                            if field == Field::Signature
                                && let Some(passport) = envelope.passports.last_mut()
                            {
                                passport.algorithm = element_attributes
                                    .iter()
                                    .find(|(n, _)| n == "algorithm")
                                    .map(|(_, v)| v.clone());
                            }
                            Place::PassportField(field)
                        }
                        None => Place::Other,
                    },
                    Some(Place::Body) if !is(&ns, &names.messages) => {
                        return Err(EnvelopeError::NotSoap(
                            "the operation must be in the messages namespace of the endpoint's version",
                        ));
                    }
                    Some(Place::Body) => {
                        operations += 1;
                        if operations > 1 {
                            return Err(EnvelopeError::NotOneOperation);
                        }
                        envelope.operation = local.into_owned();
                        Place::Operation
                    }
                    Some(Place::Operation) => {
                        envelope.arguments.push((local.into_owned(), String::new()));
                        envelope.argument_attributes.push(element_attributes);
                        Place::Argument
                    }
                    Some(_) => Place::Other,
                };
                stack.push(place);
                text_buf.clear();
            }
            Event::End(_) => {
                let Some(place) = stack.pop() else {
                    return Err(ill("an end tag without its start"));
                };
                let value = std::mem::take(&mut text_buf);
                match place {
                    Place::PassportField(field) => {
                        if let Some(passport) = envelope.passports.last_mut() {
                            *field.slot(passport) = value;
                        }
                    }
                    Place::Argument => {
                        if let Some((_, text)) = envelope.arguments.last_mut() {
                            *text = value;
                        }
                    }
                    _ => {}
                }
                if stack.is_empty() {
                    break;
                }
            }
            Event::Text(t) => {
                if stack.is_empty() {
                    if t.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Err(ill("text outside the envelope"));
                }
                let decoded = t.decode().map_err(ill)?;
                push_text(&mut text_buf, &decoded)?;
            }
            Event::CData(c) => {
                let decoded = c.decode().map_err(ill)?;
                push_text(&mut text_buf, &decoded)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(ill)? {
                    Some(c) => c,
                    None => match r.decode().map_err(ill)?.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(EnvelopeError::Entity(other.chars().take(40).collect()));
                        }
                    },
                };
                push_text(&mut text_buf, resolved.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => return Err(EnvelopeError::Dtd),
            Event::PI(_) => return Err(EnvelopeError::ProcessingInstruction),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Empty(_) => return Err(ill("an empty element was not expanded")),
            Event::Eof => {
                return Err(if stack.is_empty() {
                    EnvelopeError::NotSoap("the request is empty")
                } else {
                    ill("the document ends inside an element")
                });
            }
        }
    }
    // Nothing but whitespace and comments may follow the root.
    loop {
        match reader.read_event().map_err(ill)? {
            Event::Eof => break,
            Event::Comment(_) => {}
            Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
            _ => return Err(ill("content after the envelope")),
        }
    }
    if !seen_body || operations != 1 {
        return Err(EnvelopeError::NotOneOperation);
    }
    Ok(envelope)
}

fn push_text(buf: &mut String, more: &str) -> Result<(), EnvelopeError> {
    if buf.len() + more.len() > MAX_TEXT {
        return Err(EnvelopeError::TextTooLong);
    }
    buf.push_str(more);
    Ok(())
}

fn local_name<'a>(start: &'a BytesStart<'_>) -> Result<Cow<'a, str>, EnvelopeError> {
    let local = start.local_name();
    std::str::from_utf8(local.into_inner())
        .map(|s| Cow::Owned(s.to_owned()))
        .map_err(|_| ill("a name is not UTF-8"))
}

/// The element's attributes without a namespace (those NetSuite's elements have: `algorithm`,
/// `internalId`, `type`), as (local name, value). Every attribute is read all the same, so all
/// are bounded like text: its prefix declared, its expanded name not repeated, a declared
/// prefix not bound to the empty name.
fn attributes(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
) -> Result<Vec<(String, String)>, EnvelopeError> {
    let mut out = Vec::new();
    let mut seen: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(ill)?;
        if seen.len() >= MAX_ATTRIBUTES {
            return Err(EnvelopeError::TooManyAttributes);
        }
        let value = attribute.unescape_value().map_err(|e| match e {
            quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
                _,
                name,
            )) => EnvelopeError::Entity(name.chars().take(40).collect()),
            e => ill(e),
        })?;
        if value.len() > MAX_TEXT {
            return Err(EnvelopeError::TextTooLong);
        }
        let key = attribute.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            if key.starts_with(b"xmlns:") && value.is_empty() {
                return Err(ill("a namespace prefix is declared with an empty name"));
            }
            seen.push((b"xmlns".to_vec(), key.to_vec()));
            continue;
        }
        let (ns, local) = reader.resolve_attribute(attribute.key);
        let ns = match ns {
            ResolveResult::Unknown(prefix) => {
                return Err(ill(format!(
                    "the namespace prefix {:?} is not declared",
                    String::from_utf8_lossy(&prefix)
                )));
            }
            ResolveResult::Bound(n) => Some(n.as_ref().to_vec()),
            ResolveResult::Unbound => None,
        };
        let expanded = (ns.clone().unwrap_or_default(), local.as_ref().to_vec());
        if seen.contains(&expanded) {
            return Err(ill("an attribute is given twice"));
        }
        seen.push(expanded);
        if ns.is_none() {
            let name = std::str::from_utf8(local.as_ref())
                .map_err(|_| ill("a name is not UTF-8"))?
                .to_owned();
            out.push((name, value.into_owned()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_v(xml: &[u8]) -> Result<Envelope, EnvelopeError> {
        read(xml, "2024_2")
    }

    fn envelope(header: &str, body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:msg="urn:messages_2024_2.platform.webservices.netsuite.com" xmlns:core="urn:core_2024_2.platform.webservices.netsuite.com">
<soapenv:Header>{header}</soapenv:Header>
<soapenv:Body>{body}</soapenv:Body>
</soapenv:Envelope>"#
        )
    }

    const PASSPORT: &str = r#"<msg:tokenPassport><core:account>1234567</core:account><core:consumerKey>ck</core:consumerKey><core:token>tk</core:token><core:nonce>abcdef12</core:nonce><core:timestamp>1700000000</core:timestamp><core:signature algorithm="HMAC-SHA256">c2ln&#x3D;</core:signature></msg:tokenPassport>"#;

    #[test]
    fn reads_the_passport_and_the_operation() {
        let e = read_v(
            envelope(
                PASSPORT,
                "<msg:getDataCenterUrls><msg:account>1234567</msg:account></msg:getDataCenterUrls>",
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(e.passports.len(), 1);
        let p = &e.passports[0];
        assert_eq!(p.account, "1234567");
        assert_eq!(p.signature, "c2ln=");
        assert_eq!(p.algorithm.as_deref(), Some("HMAC-SHA256"));
        assert_eq!(e.operation, "getDataCenterUrls");
        assert_eq!(e.argument("account"), Some("1234567"));
    }

    #[test]
    fn refuses_what_could_make_the_parser_work_for_an_attacker() {
        let dtd = format!(
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>{}",
            envelope("", "<msg:getServerTime/>")
        );
        assert_eq!(read_v(dtd.as_bytes()).unwrap_err(), EnvelopeError::Dtd);
        let entity = envelope("", "<msg:get><msg:x>&a;</msg:x></msg:get>");
        assert_eq!(
            read_v(entity.as_bytes()).unwrap_err(),
            EnvelopeError::Entity("a".into())
        );
        let deep = envelope(
            "",
            &format!(
                "<msg:get>{}{}</msg:get>",
                "<a>".repeat(20),
                "</a>".repeat(20)
            ),
        );
        assert_eq!(read_v(deep.as_bytes()).unwrap_err(), EnvelopeError::TooDeep);
        let many = envelope("", &format!("<msg:get>{}</msg:get>", "<a/>".repeat(300)));
        assert_eq!(
            read_v(many.as_bytes()).unwrap_err(),
            EnvelopeError::TooManyElements
        );
        let long = envelope(
            "",
            &format!("<msg:get><a>{}</a></msg:get>", "x".repeat(3000)),
        );
        assert_eq!(
            read_v(long.as_bytes()).unwrap_err(),
            EnvelopeError::TextTooLong
        );
        let pi = envelope("<?evil x?>", "<msg:getServerTime/>");
        assert_eq!(
            read_v(pi.as_bytes()).unwrap_err(),
            EnvelopeError::ProcessingInstruction
        );
    }

    #[test]
    fn refuses_what_is_not_one_soap_11_operation() {
        let v12 = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><x/></e:Body></e:Envelope>"#;
        assert_eq!(
            read_v(v12.as_bytes()).unwrap_err(),
            EnvelopeError::VersionMismatch
        );
        assert!(matches!(
            read_v(b"<x/>").unwrap_err(),
            EnvelopeError::NotSoap(_)
        ));
        assert!(matches!(
            read_v(b"not xml").unwrap_err(),
            EnvelopeError::NotSoap(_) | EnvelopeError::NotXml(_)
        ));
        let two = envelope("", "<msg:getServerTime/><msg:getServerTime/>");
        assert_eq!(
            read_v(two.as_bytes()).unwrap_err(),
            EnvelopeError::NotOneOperation
        );
        let none = envelope("", "");
        assert_eq!(
            read_v(none.as_bytes()).unwrap_err(),
            EnvelopeError::NotOneOperation
        );
        let twice = envelope(
            &PASSPORT.replace(
                "<core:token>tk</core:token>",
                "<core:token>tk</core:token><core:token>t2</core:token>",
            ),
            "<msg:getServerTime/>",
        );
        assert_eq!(
            read_v(twice.as_bytes()).unwrap_err(),
            EnvelopeError::DuplicateField("token")
        );
        let trailing = format!("{}<x/>", envelope("", "<msg:getServerTime/>"));
        assert!(matches!(
            read_v(trailing.as_bytes()).unwrap_err(),
            EnvelopeError::NotXml(_)
        ));
    }

    #[test]
    fn namespaces_attributes_and_stray_text_are_checked() {
        // A passport of another namespace is not a passport; an operation of another is refused.
        let foreign = envelope(
            &PASSPORT.replace("msg:tokenPassport", "core:tokenPassport"),
            "<msg:getServerTime/>",
        );
        assert!(read_v(foreign.as_bytes()).unwrap().passports.is_empty());
        let other_version = envelope(
            "",
            "<x:getServerTime xmlns:x=\"urn:messages_2019_1.platform.webservices.netsuite.com\"/>",
        );
        assert!(matches!(
            read_v(other_version.as_bytes()).unwrap_err(),
            EnvelopeError::NotSoap(_)
        ));
        let undeclared = envelope("", "<nope:getServerTime/>");
        assert!(matches!(
            read_v(undeclared.as_bytes()).unwrap_err(),
            EnvelopeError::NotXml(_)
        ));
        let long_attribute = envelope(
            &format!("<x a=\"{}\"/>", "v".repeat(3000)),
            "<msg:getServerTime/>",
        );
        assert_eq!(
            read_v(long_attribute.as_bytes()).unwrap_err(),
            EnvelopeError::TextTooLong
        );
        let repeated = envelope("<x a=\"1\" a=\"2\"/>", "<msg:getServerTime/>");
        assert!(matches!(
            read_v(repeated.as_bytes()).unwrap_err(),
            EnvelopeError::NotXml(_)
        ));
        let many: String = (0..40).map(|i| format!(" a{i}=\"x\"")).collect();
        let many = envelope(&format!("<x{many}/>"), "<msg:getServerTime/>");
        assert_eq!(
            read_v(many.as_bytes()).unwrap_err(),
            EnvelopeError::TooManyAttributes
        );
        assert!(matches!(
            read_v(b"hello").unwrap_err(),
            EnvelopeError::NotXml(_)
        ));
    }

    /// Every truncation and every one-byte change of a real envelope is answered (an envelope
    /// or an error), never a panic.
    #[test]
    fn damaged_envelopes_never_panic() {
        let good = envelope(
            PASSPORT,
            "<msg:get><msg:baseRef internalId=\"2\" type=\"employee\"/></msg:get>",
        );
        let bytes = good.as_bytes();
        for end in 0..bytes.len() {
            let _ = read_v(&bytes[..end]);
        }
        for at in 0..bytes.len() {
            for replacement in [b'<', b'>', b'&', b'"', b'/', b':', b'x', 0u8, 0xff] {
                let mut damaged = bytes.to_vec();
                damaged[at] = replacement;
                let _ = read_v(&damaged);
            }
        }
    }

    #[test]
    fn notes_other_credentials_and_every_passport() {
        let both = envelope(
            &format!(
                "{PASSPORT}<msg:passport><core:email>a@b.c</core:email></msg:passport>{PASSPORT}"
            ),
            "<msg:getServerTime/>",
        );
        let e = read_v(both.as_bytes()).unwrap();
        assert_eq!(e.passports.len(), 2);
        assert_eq!(e.other_credentials, ["passport"]);
    }
}
