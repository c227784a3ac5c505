//! The `tessera` binary.

/// The server allocates small, short-lived buffers per request on several threads; glibc's
/// allocator spent a fifth of the hot path on them (measured with perf, BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod api;
mod bench;
mod check;
mod common;
mod keys;
mod profile;
mod proxy;
mod recover;
mod render;
mod serve;
mod settings;
mod sign;
mod soap;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};

/// Tessera: a self-hostable NetSuite-compatible token-based authentication server.
#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: NetSuite-compatible token-based authentication (OAuth 1.0a, HMAC-SHA256)",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: NetSuite-compatible endpoints, the verification API, health and metrics.
    /// First start on an empty database creates account 1234567 and an administrator whose
    /// password is printed once.
    Serve(Box<serve::ServeArgs>),
    /// Print the settings `serve` would run with (the same flags, variables and --config
    /// file), each with where it came from; secrets masked. With --reference, every setting's
    /// flag, variable, file key and default.
    Config(Box<serve::ConfigArgs>),
    /// Sign a request with TBA credentials (HMAC-SHA256) and send it, curl-like: the body goes
    /// to stdout, the status line to stderr (with -i, status and headers to stdout first).
    /// Exit status 0 for a 2xx/3xx answer, 1 otherwise. With --dry-run, print the base string,
    /// signature and Authorization header instead.
    Sign(sign::SignArgs),
    /// Call SOAP web services with a TokenPassport header signed as NetSuite documents it
    /// (getServerTime, getDataCenterUrls, get). Exit status 0 for an answer, 1 for a fault.
    /// With --dry-run, print the passport's base string, signature and the envelope instead.
    Soap(Box<soap::SoapArgs>),
    /// Check the Authorization header of a request against its secrets and say why it is or is
    /// not valid. Exit status: 0 valid, 1 invalid, 2 unusable input.
    CheckSignature(check::CheckArgs),
    /// Generate a new master key and re-seal every stored consumer and token secret with it.
    /// With the key in the data directory's master.key, the file ends up holding only the new
    /// key. With TESSERA_MASTER_KEY, put the new key first (`new,old`), run this, then drop the
    /// old key from the variable. Safe to interrupt and run again.
    RotateMasterKey(keys::RotateArgs),
    /// Give an account an administrator again (the operator's repair when none is left): the
    /// user with --email is reactivated, made administrator and given a new password, printed
    /// once; created if missing. SQLite: run it with the server stopped.
    RecoverAdmin(recover::RecoverAdminArgs),
    /// Load a running server with freshly signed requests (a new nonce each) over many
    /// connections and report throughput and latency percentiles, optionally against an
    /// unauthenticated endpoint of the same server first.
    Bench(Box<bench::BenchArgs>),
    /// Write N benchmark tokens (credentials derived from --seed) for `bench --seeded N`.
    /// For load tests only: the tokens skip system notes. Run it with the server stopped.
    BenchSeed(bench::BenchSeedArgs),
    /// Sign in to a server with your email and password: obtains a token through issuetoken
    /// with the built-in "Tessera CLI" integration record and saves it in a profile (mode 0600).
    Login(admin::LoginArgs),
    /// Revoke the profile's token and forget the profile.
    Logout(admin::LogoutArgs),
    /// Access tokens: list, show, create, rename, inactivate, activate, revoke, notes.
    Token(admin::TokenArgs),
    /// Integration records: list, show, create, edit, block, enable, approve, reset, install,
    /// delete, notes.
    Integration(admin::IntegrationArgs),
    /// Users of your account: list, show, create, edit, delete.
    User(admin::UserArgs),
    /// Roles of your account: list, show, create, edit.
    Role(admin::RoleArgs),
    /// The login audit trail of your account, newest first.
    Audit(admin::AuditArgs),
    /// Your account and its settings.
    Account(admin::AccountArgs),
    /// Forward plain, unsigned HTTP to an upstream, each request signed with a profile's
    /// credentials (a fresh nonce, the form body or a body hash signed): the application never
    /// holds a secret. Listens on loopback.
    Proxy(proxy::ProxyArgs),
    /// Credentials kept under a name (mode 0600) for `sign --profile` and `proxy`: save, list.
    Profile(profile::ProfileArgs),
}

/// How results are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Labelled text for people.
    #[default]
    Text,
    /// One JSON object on stdout, for scripts.
    Json,
}

/// Exit status for input that cannot be used (bad URL, malformed header, unreadable file).
const EXIT_UNUSABLE: u8 = 2;

/// Exit status of a command whose reader closed its output early, as a shell reports a
/// program ended by SIGPIPE (128 + 13).
const EXIT_CLOSED_PIPE: i32 = 141;

/// `tessera audit | head` closes the pipe before everything is printed, and std's printing
/// then panics. End quietly instead, as a command ended by SIGPIPE would. Not for `serve`,
/// whose stdout is a log a service manager keeps.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(EXIT_CLOSED_PIPE);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    // The matches are kept: `serve` and `config` tell a flag from a variable by them.
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    let sub = |name: &str| matches.subcommand_matches(name);
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args, sub("serve")).map(|()| ExitCode::SUCCESS),
        Command::Config(args) => serve::config(&args, sub("config")).map(|()| ExitCode::SUCCESS),
        Command::Sign(args) => sign::run(&args).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
        Command::Soap(args) => soap::run(&args).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
        Command::RotateMasterKey(args) => keys::run(&args).map(|()| ExitCode::SUCCESS),
        Command::RecoverAdmin(args) => recover::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Bench(args) => bench::run(&args).map(|()| ExitCode::SUCCESS),
        Command::BenchSeed(args) => bench::seed(&args).map(|()| ExitCode::SUCCESS),
        Command::Login(args) => admin::login(&args).map(|()| ExitCode::SUCCESS),
        Command::Logout(args) => admin::logout(&args).map(|()| ExitCode::SUCCESS),
        Command::Token(args) => admin::token(&args).map(|()| ExitCode::SUCCESS),
        Command::Integration(args) => admin::integration(&args).map(|()| ExitCode::SUCCESS),
        Command::User(args) => admin::user(&args).map(|()| ExitCode::SUCCESS),
        Command::Role(args) => admin::role(&args).map(|()| ExitCode::SUCCESS),
        Command::Audit(args) => admin::audit(&args).map(|()| ExitCode::SUCCESS),
        Command::Account(args) => admin::account(&args).map(|()| ExitCode::SUCCESS),
        Command::Proxy(args) => proxy::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Profile(args) => profile::profile_command(&args).map(|()| ExitCode::SUCCESS),
        Command::CheckSignature(args) => check::run(&args).map(|valid| {
            if valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
    };
    result.unwrap_or_else(|err| {
        // Every cause once: libraries often repeat their source in their own message.
        eprintln!("error: {}", tessera_core::Chain(err.as_ref()));
        // The server (or the user, on the consent page) said no: a failure, not bad input.
        if err.downcast_ref::<api::Refused>().is_some()
            || err.downcast_ref::<admin::Denied>().is_some()
        {
            ExitCode::FAILURE
        } else {
            ExitCode::from(EXIT_UNUSABLE)
        }
    })
}
