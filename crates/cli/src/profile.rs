//! CLI profiles: the server, account and TBA credentials `tessera login` obtained, kept in
//! `profiles.toml` in the user's config directory (`$TESSERA_CONFIG_DIR`, else
//! `$XDG_CONFIG_HOME/tessera`, else `~/.config/tessera`), readable by its owner only.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tessera_oauth1::{SecretString, Signer};

/// The profile used when `--profile` is not given.
pub const DEFAULT_PROFILE: &str = "default";
const FILE_NAME: &str = "profiles.toml";

/// One login. `Debug` masks the secrets.
#[derive(Clone, Serialize, Deserialize)]
pub struct Profile {
    /// The server, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    pub account: String,
    pub email: String,
    /// The role id the token acts with.
    pub role: Option<i64>,
    pub consumer_key: String,
    pub consumer_secret: String,
    pub token_id: String,
    pub token_secret: String,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("url", &self.url)
            .field("account", &self.account)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("consumer_key", &"…")
            .field("token_id", &"…")
            .finish_non_exhaustive()
    }
}

impl Profile {
    /// A signer for requests of this profile: its credentials, the account as realm.
    pub fn signer(&self) -> Signer {
        Signer::new(
            &self.consumer_key,
            &SecretString::from(self.consumer_secret.as_str()),
            &self.token_id,
            &SecretString::from(self.token_secret.as_str()),
        )
        .with_realm(&self.account)
    }

    /// The absolute URL of `path_and_query` on this profile's server.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.url.trim_end_matches('/'))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ProfilesFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// The directory profiles are kept in.
pub fn config_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TESSERA_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("tessera"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("tessera")),
        None => bail!("cannot tell where to keep profiles: set TESSERA_CONFIG_DIR or HOME"),
    }
}

fn path() -> Result<PathBuf> {
    Ok(config_dir()?.join(FILE_NAME))
}

fn read(path: &Path) -> Result<ProfilesFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ProfilesFile::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} can be read by other users (mode {:o}) and holds token secrets; run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid profiles file", path.display()))
}

/// Writes the whole file: a new file of mode 0600 renamed over the old one.
fn write(path: &Path, file: &ProfilesFile) -> Result<()> {
    let dir = path
        .parent()
        .context("the profiles path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let text = toml::to_string(file).context("cannot write the profiles")?;
    let temporary = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut out = options
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.sync_all())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The profile called `name`.
pub fn load(name: &str) -> Result<Profile> {
    let path = path()?;
    read(&path)?.profiles.remove(name).with_context(|| {
        format!(
            "no profile {name:?} in {}; run `tessera login` first",
            path.display()
        )
    })
}

/// Saves `profile` as `name`, replacing one of that name; returns where.
pub fn save(name: &str, profile: Profile) -> Result<PathBuf> {
    let path = path()?;
    let mut file = read(&path)?;
    file.profiles.insert(name.to_owned(), profile);
    write(&path, &file)?;
    Ok(path)
}

/// The names of the saved profiles, with each one's server and account.
pub fn list() -> Result<Vec<(String, Profile)>> {
    Ok(read(&path()?)?.profiles.into_iter().collect())
}

/// `tessera profile`: an integration's own credentials kept under a name, for `sign --profile`
/// and `proxy` — so that no application needs to hold them.
#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ProfileCommand {
    /// Save credentials under a name (mode 0600). The secrets are read from
    /// TESSERA_CONSUMER_SECRET and TESSERA_TOKEN_SECRET, or, with --secrets-stdin, from the
    /// first two lines of stdin (consumer secret, then token secret): never from a flag, which
    /// other users could read in the process list.
    Save {
        name: String,
        /// The server the credentials are for (a NetSuite account's host, or a Tessera server).
        #[arg(long)]
        url: String,
        /// The account id (the realm of every signed request).
        #[arg(long)]
        account: String,
        #[arg(long)]
        consumer_key: String,
        /// The token id.
        #[arg(long)]
        token: String,
        #[arg(long)]
        secrets_stdin: bool,
    },
    /// The saved profiles: name, server, account (never a secret).
    List,
    /// Forget a saved profile (its token stays as it is: `tessera logout` revokes it).
    Remove { name: String },
}

pub fn profile_command(args: &ProfileArgs) -> Result<()> {
    match &args.command {
        ProfileCommand::Save {
            name,
            url,
            account,
            consumer_key,
            token,
            secrets_stdin,
        } => {
            let (consumer_secret, token_secret) = if *secrets_stdin {
                let mut lines = std::io::stdin().lines();
                let mut next = |what: &str| -> Result<String> {
                    Ok(lines
                        .next()
                        .with_context(|| format!("stdin ended before the {what}"))??
                        .trim()
                        .to_owned())
                };
                (next("consumer secret")?, next("token secret")?)
            } else {
                let var = |name: &str| {
                    std::env::var(name).with_context(|| {
                        format!(
                            "set {name}, or pass --secrets-stdin and write the secrets to stdin"
                        )
                    })
                };
                (
                    var("TESSERA_CONSUMER_SECRET")?,
                    var("TESSERA_TOKEN_SECRET")?,
                )
            };
            if consumer_secret.is_empty() || token_secret.is_empty() {
                bail!("the consumer secret and the token secret must not be empty");
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                bail!("a profile name is letters, digits, '-', '_' and '.', not {name:?}");
            }
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                bail!("--url {url:?} must be an http(s) URL");
            }
            let account = tessera_core::ids::AccountId::parse(account)
                .map_err(|e| anyhow::anyhow!("--account {account:?}: {e}"))?;
            let profile = Profile {
                url: url.clone(),
                account: account.as_str().to_owned(),
                email: String::new(),
                role: None,
                consumer_key: consumer_key.clone(),
                consumer_secret,
                token_id: token.clone(),
                token_secret,
            };
            let path = save(name, profile)?;
            println!("Profile {name:?} saved in {}", path.display());
        }
        ProfileCommand::List => {
            for (name, p) in list()? {
                println!("{name}\t{}\t{}", p.url, p.account);
            }
        }
        ProfileCommand::Remove { name } => {
            if !remove(name)? {
                bail!("no profile {name:?}");
            }
            println!("Profile {name:?} forgotten (its token was not revoked).");
        }
    }
    Ok(())
}

/// Removes the profile called `name`; `false` if there was none.
pub fn remove(name: &str) -> Result<bool> {
    let path = path()?;
    let mut file = read(&path)?;
    if file.profiles.remove(name).is_none() {
        return Ok(false);
    }
    write(&path, &file)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Profile {
        Profile {
            url: "http://127.0.0.1:8080/".into(),
            account: "1234567".into(),
            email: "a@example.com".into(),
            role: Some(3),
            consumer_key: "ck".into(),
            consumer_secret: "consumer-secret-value".into(),
            token_id: "tid".into(),
            token_secret: "token-secret-value".into(),
        }
    }

    #[test]
    fn profiles_round_trip_in_a_file_only_the_owner_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        let mut file = ProfilesFile::default();
        file.profiles.insert("default".into(), sample());
        write(&path, &file).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.profiles["default"].token_secret, "token-secret-value");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let refused = read(&path).unwrap_err().to_string();
            assert!(refused.contains("chmod 600"), "{refused}");
        }
    }

    #[test]
    fn debug_shows_no_secret_and_urls_join_once() {
        let p = sample();
        let shown = format!("{p:?}");
        assert!(!shown.contains("secret-value") && !shown.contains("tid"));
        assert_eq!(
            p.url("/api/v1/tokens"),
            "http://127.0.0.1:8080/api/v1/tokens"
        );
    }
}
