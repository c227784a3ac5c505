//! The settings shown to people: `tessera config`'s effective values with their sources (a
//! database password masked), and the reference table the README carries.

use clap::Args as _;
use serde_json::Value;

use super::{COMPUTED_DEFAULTS, Effective, Settings, field_name, to_map};

/// Settings that may hold a secret, shown masked: a database URL's password, in its user
/// information (up to the last `@` of the authority) or in a query parameter named like one.
pub(super) fn masked(name: &str, value: &str) -> String {
    if name != "database_url" {
        return value.to_owned();
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return "***".to_owned();
    };
    // The user information ends at the last `@` (a password may hold `@`, `/` or `?` written
    // raw); the host part ends at the first `/` or `?` after it. Masking too much is the safe
    // side of a doubt.
    let host_from = rest.rfind('@').map_or(0, |at| at + 1);
    let end = rest[host_from..]
        .find(['/', '?'])
        .map_or(rest.len(), |at| host_from + at);
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if secret_like(key) => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// A parameter name that may carry a secret (`password`, `sslpassword`, `passwd`, keys).
fn secret_like(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "pwd", "secret", "key", "token", "%"]
        .iter()
        .any(|s| key.contains(s))
}

/// One row per setting: its file key, flag, variable, default and description.
struct Row {
    name: &'static str,
    flag: String,
    env: String,
    default: DefaultValue,
    help: String,
}

/// A default: a value, or what it is when it depends on others (`COMPUTED_DEFAULTS`).
enum DefaultValue {
    Fixed(String),
    Described(&'static str),
}

fn rows() -> anyhow::Result<Vec<Row>> {
    let defaults = to_map(&Settings::defaults())?;
    let command = Settings::augment_args(clap::Command::new("serve"));
    Ok(command
        .get_arguments()
        .map(|arg| {
            let name = field_name(arg.get_id().as_str());
            let default = match defaults.get(name) {
                Some(Value::String(s)) => DefaultValue::Fixed(s.clone()),
                Some(other) => DefaultValue::Fixed(other.to_string()),
                None => DefaultValue::Described(
                    COMPUTED_DEFAULTS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or("", |(_, d)| *d),
                ),
            };
            Row {
                name,
                flag: arg.get_long().map(|l| format!("--{l}")).unwrap_or_default(),
                env: arg
                    .get_env()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                default,
                help: arg
                    .get_help()
                    .map(|h| h.to_string().replace('\n', " "))
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// The Markdown table of every setting, as the README carries it.
pub fn reference() -> anyhow::Result<String> {
    let mut out = String::from(
        "| File key | Flag | Variable | Default | What it is |\n|---|---|---|---|---|\n",
    );
    for r in rows()? {
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} | {} |\n",
            r.name,
            r.flag,
            r.env,
            match &r.default {
                DefaultValue::Fixed(v) => format!("`{}`", v.replace('|', "\\|")),
                DefaultValue::Described(d) => (*d).to_owned(),
            },
            r.help.replace('|', "\\|")
        ));
    }
    Ok(out)
}

/// The effective settings, one per line: name, value (secrets masked), where it came from.
pub fn describe(effective: &Effective) -> anyhow::Result<String> {
    let values = to_map(&effective.settings)?;
    let lines: Vec<(&str, String, String)> = effective
        .sources
        .iter()
        .map(|(name, source)| {
            let computed = COMPUTED_DEFAULTS.iter().find(|(n, _)| n == name);
            let value = match values.get(*name) {
                Some(Value::String(s)) => masked(name, s),
                // An empty list means the default, as `serve` reads it.
                Some(Value::Array(list)) if list.is_empty() && computed.is_some() => {
                    format!("[] = {}", computed.map_or("", |(_, d)| *d))
                }
                Some(other) => other.to_string(),
                None => COMPUTED_DEFAULTS
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, d)| format!("({d})"))
                    .unwrap_or_default(),
            };
            (*name, value, source.to_string())
        })
        .collect();
    let width = lines.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
    Ok(lines
        .iter()
        .map(|(name, value, source)| format!("{name:<width$}  {value}  ({source})\n"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_flag_a_variable_and_a_default_or_says_what_it_is() {
        let rows = rows().unwrap_or_default();
        assert_eq!(rows.len(), Settings::names().len());
        for r in &rows {
            assert!(r.flag.starts_with("--"), "{} has no flag", r.name);
            assert_eq!(
                r.env,
                format!("TESSERA_{}", r.name.to_uppercase()),
                "{}",
                r.name
            );
            assert!(
                !matches!(r.default, DefaultValue::Described("")),
                "{} has no default and no word on it",
                r.name
            );
            assert!(!r.help.is_empty(), "{} is not described", r.name);
        }
    }

    #[test]
    fn a_password_in_the_database_url_is_masked() {
        assert_eq!(
            masked("database_url", "postgres://tessera:s3cret@db:5432/tessera"),
            "postgres://tessera:***@db:5432/tessera"
        );
        assert_eq!(masked("database_url", "postgres://db/t"), "postgres://db/t");
        assert_eq!(
            masked("database_url", "postgres://u:s3cret@PW@127.0.0.1/test"),
            "postgres://u:***@127.0.0.1/test"
        );
        for raw in [
            "postgres://u:ab?cdSECRET@h/db",
            "postgres://u:ab/cdSECRET@h/db",
        ] {
            assert_eq!(
                masked("database_url", raw),
                "postgres://u:***@h/db",
                "{raw}"
            );
        }
        assert_eq!(
            masked(
                "database_url",
                "postgres://127.0.0.1/test?user=u&password=s3cretPW&sslpassword=k&sslmode=require"
            ),
            "postgres://127.0.0.1/test?user=u&password=***&sslpassword=***&sslmode=require"
        );
        assert_eq!(masked("log", "debug"), "debug");
    }
}
