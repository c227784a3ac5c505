//! A browser in miniature for tests of the web UI over HTTP: a cookie jar, form posts with
//! the page's form token from the server's own origin.

use std::collections::HashMap;

use super::{ACCOUNT, Reply, TestServer, send};

/// A browser in miniature: a cookie jar, and posts from the server's own origin.
pub struct Browser<'a> {
    pub server: &'a TestServer,
    pub cookies: HashMap<String, String>,
    pub origin: String,
    pub host: String,
}

impl<'a> Browser<'a> {
    pub fn new(server: &'a TestServer) -> Self {
        Self {
            server,
            cookies: HashMap::new(),
            origin: server.url(""),
            host: server.addr.to_string(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn keep(&mut self, reply: &Reply) {
        for value in reply.headers.get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let (name, v) = pair.split_once('=').unwrap();
            if v.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), v.to_owned());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        let cookie = self.cookie_header();
        let reply = send(
            self.server.addr,
            "GET",
            path,
            &[("cookie", &cookie), ("host", &self.host)],
            b"",
        )
        .await;
        self.keep(&reply);
        reply
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Reply {
        let body = form
            .iter()
            .map(|(n, v)| {
                format!(
                    "{}={}",
                    tessera_oauth1::encode::encode(n),
                    tessera_oauth1::encode::encode(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let cookie = self.cookie_header();
        let mut headers = vec![
            ("cookie", cookie.as_str()),
            ("host", self.host.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        if let Some(origin) = origin {
            headers.push(("origin", origin));
        }
        let reply = send(self.server.addr, "POST", path, &headers, body.as_bytes()).await;
        self.keep(&reply);
        reply
    }

    /// Posts a page's form: with its form token, from our origin.
    pub async fn submit(&mut self, page: &str, action: &str, form: &[(&str, &str)]) -> Reply {
        let html = self.get(page).await.text();
        let csrf = csrf_in(&html);
        let intent = value_of(&html, "intent");
        let mut fields = form.to_vec();
        fields.push(("csrf", &csrf));
        if let Some(intent) = &intent {
            fields.push(("intent", intent));
        }
        let origin = self.origin.clone();
        self.post(action, &fields, Some(&origin)).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Reply {
        self.submit(
            "/app/login",
            "/app/login",
            &[
                ("account", ACCOUNT),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    pub fn session(&self) -> Option<String> {
        self.cookies
            .iter()
            .find(|(n, _)| n.ends_with("tessera-session"))
            .map(|(_, v)| v.clone())
    }
}

pub fn csrf_in(html: &str) -> String {
    value_of(html, "csrf").expect("the page has a form token")
}

/// The value of the first hidden field with this name.
pub fn value_of(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker)?;
    let rest = &html[at + marker.len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

pub fn location(reply: &Reply) -> &str {
    reply.headers["location"].to_str().unwrap()
}
