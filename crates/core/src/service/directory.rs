//! Accounts, roles and users. Administered by the operator or by an account's administrators.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tessera_oauth1::SecretString;

use super::{Actor, Notes, Principal, Tessera, principal};
use crate::error::{Error, Result};
use crate::ids::{AccountId, Email, RoleId, UserId};
use crate::model::{AccessToken, Account, PermissionSet, RecordRef, Role, Timestamp, User};
use crate::store::{NewUser, StoreTx, TxMode};

pub(crate) const NAME_MAX: usize = 200;
const PASSWORD_MIN: usize = 12;

#[derive(Debug, Clone)]
pub struct NewAccountInput {
    pub id: AccountId,
    pub name: String,
    pub tba_enabled: bool,
    pub require_approval_for_auto_install: bool,
    pub concurrency_limit: Option<u32>,
}

/// Changes to an account's settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountSettings {
    /// The Token-based Authentication feature (R11).
    pub tba_enabled: Option<bool>,
    /// Require approval during auto-installation of integrations (R14).
    pub require_approval_for_auto_install: Option<bool>,
    /// The account's concurrency limit (RULES.md §5); `Some(None)` returns to the server default.
    pub concurrency_limit: Option<Option<u32>>,
    /// The longest a new token may live, in days (R16); `Some(None)` lets tokens live forever.
    /// Tokens that exist keep their expiry.
    pub token_max_lifetime_days: Option<Option<u32>>,
    /// The networks the account's signed requests may come from (R17); an empty list clears it.
    pub ip_allow: Option<crate::allow::IpAllowList>,
}

#[derive(Debug, Clone)]
pub struct NewRoleInput {
    pub name: String,
    pub permissions: PermissionSet,
    pub web_services_only: bool,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RoleChanges {
    pub name: Option<String>,
    pub permissions: Option<PermissionSet>,
    pub inactive: Option<bool>,
    pub web_services_only: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct NewUserInput {
    pub name: String,
    pub email: Email,
    /// For signing in to the web UI; `None` makes a user that can only use tokens.
    pub password: Option<SecretString>,
    pub roles: Vec<RoleId>,
}

#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub active: Option<bool>,
    /// Replaces the roles held (see [`Tessera::set_user_roles`]).
    pub roles: Option<Vec<RoleId>>,
    /// A new password; the user's web sessions end with the old one.
    pub password: Option<SecretString>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.email.is_none()
            && self.active.is_none()
            && self.roles.is_none()
            && self.password.is_none()
    }
}

/// The operator, or an administrator of `account`.
async fn directory_admin(
    tx: &mut dyn StoreTx,
    actor: &Actor,
    account: &AccountId,
) -> Result<Option<Principal>> {
    match actor {
        Actor::Operator { .. } => {
            if tx.account(account).await?.is_none() {
                return Err(Error::not_found("account"));
            }
            Ok(None)
        }
        Actor::User { .. } => {
            let p = principal(tx, actor).await?;
            if &p.account != account {
                return Err(Error::not_found("account"));
            }
            if !p.is_administrator() {
                return Err(Error::not_permitted(
                    "only an administrator manages users, roles and account settings",
                ));
            }
            Ok(Some(p))
        }
    }
}

/// Argon2 takes tens of milliseconds of CPU by design: off the async workers. Without a hash
/// (no such user, or no password) the dummy hash is checked instead, and the answer is `false`.
async fn verify_password(password: &SecretString, hash: Option<String>) -> bool {
    // At most one check per core at a time: each takes ~19 MiB and tens of milliseconds of a
    // core, and guesses spread over many addresses must not take the machine (the rest wait).
    static CHECKS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    });
    let Ok(_turn) = CHECKS.acquire().await else {
        return false;
    };
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        PASSWORD_HASH_CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let real = hash.is_some();
        let hash = hash.as_deref().unwrap_or_else(|| dummy_hash());
        let matches = Argon2::default()
            .verify_password(password.expose().as_bytes(), hash)
            .is_ok();
        real && matches
    })
    .await
    .unwrap_or(false)
}

static PASSWORD_HASH_CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Argon2 verifications run by this process (real and dummy alike): what a test counts to
/// know that every path of a sign-in pays for one.
pub fn password_hash_checks() -> u64 {
    PASSWORD_HASH_CHECKS.load(std::sync::atomic::Ordering::Relaxed)
}

/// A hash of a random password with the parameters every stored hash has
/// (`Argon2::default()`), made once.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 32];
        let _ = getrandom::fill(&mut random);
        let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Makes the dummy hash now, so the first unknown user does not pay for it.
pub fn prepare_password_checks() {
    let _ = dummy_hash();
}

pub(crate) fn hash_password(password: &SecretString) -> Result<String> {
    if password.expose().chars().count() < PASSWORD_MIN {
        return Err(Error::invalid(
            "password",
            format!("must be at least {PASSWORD_MIN} characters"),
        ));
    }
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| Error::invalid("password", "could not be hashed"))
}

async fn roles_exist(
    tx: &mut dyn StoreTx,
    account: &AccountId,
    roles: &[RoleId],
) -> Result<Vec<RoleId>> {
    let mut sorted = roles.to_vec();
    sorted.sort();
    sorted.dedup();
    for id in &sorted {
        if tx.role(account, *id).await?.is_none() {
            return Err(Error::invalid(
                "roles",
                format!("role {id} does not exist in account {account}"),
            ));
        }
    }
    Ok(sorted)
}

fn check_limit(limit: Option<u32>) -> Result<Option<u32>> {
    if limit == Some(0) {
        return Err(Error::invalid(
            "concurrency_limit",
            "must be at least 1, or empty for the server default",
        ));
    }
    Ok(limit)
}

fn check_lifetime(days: Option<u32>) -> Result<Option<u32>> {
    use super::tokens::LIFETIME_MAX_DAYS;
    match days {
        Some(d) if d == 0 || d > LIFETIME_MAX_DAYS => Err(Error::invalid(
            "token_max_lifetime_days",
            format!(
                "must be between 1 and {LIFETIME_MAX_DAYS} days (none — null in the API, \"none\" \
                 in the CLI, empty in the web UI — for no maximum)"
            ),
        )),
        _ => Ok(days),
    }
}

/// The sum of the per-installation concurrency limits in an account, leaving out one record.
pub(crate) async fn allocated_concurrency(
    tx: &mut dyn StoreTx,
    account: &AccountId,
    except: Option<crate::ids::IntegrationId>,
) -> Result<u64> {
    Ok(tx
        .installed_in(account)
        .await?
        .iter()
        .filter(|(i, _)| Some(i.id) != except)
        .filter_map(|(_, inst)| inst.concurrency_limit)
        .map(u64::from)
        .sum())
}

/// An account with its built-in Administrator role, inside the caller's transaction.
pub(crate) async fn create_account_in(
    tx: &mut dyn StoreTx,
    input: NewAccountInput,
) -> Result<Account> {
    let name = super::clean_name("account name", &input.name, NAME_MAX)?;
    if tx.account(&input.id).await?.is_some() {
        return Err(Error::Conflict {
            why: format!("account {} already exists", input.id),
        });
    }
    let account = Account {
        id: input.id,
        name,
        tba_enabled: input.tba_enabled,
        require_approval_for_auto_install: input.require_approval_for_auto_install,
        concurrency_limit: check_limit(input.concurrency_limit)?,
        token_max_lifetime_days: None,
        ip_allow: crate::allow::IpAllowList::any(),
        created_at: Timestamp::now(),
    };
    tx.insert_account(&account).await?;
    tx.insert_role(&administrator_role(&account.id)).await?;
    Ok(account)
}

/// The built-in Administrator role (internal id 3) of an account: every permission.
pub(crate) fn administrator_role(account: &AccountId) -> Role {
    Role {
        account: account.clone(),
        id: RoleId::ADMINISTRATOR,
        name: "Administrator".to_owned(),
        permissions: PermissionSet::all(),
        inactive: false,
        web_services_only: false,
    }
}

/// A user, inside the caller's transaction; the password is hashed by the caller (Argon2
/// takes tens of milliseconds, not to be spent holding a transaction).
pub(crate) async fn create_user_in(
    tx: &mut dyn StoreTx,
    actor: &Actor,
    account: &AccountId,
    input: NewUserInput,
    password_hash: Option<String>,
) -> Result<User> {
    let name = super::clean_name("user name", &input.name, NAME_MAX)?;
    directory_admin(tx, actor, account).await?;
    if tx.user_by_email(account, &input.email).await?.is_some() {
        return Err(email_taken(&input.email, account));
    }
    let roles = roles_exist(tx, account, &input.roles).await?;
    let new = NewUser {
        account: account.clone(),
        name,
        email: input.email,
        active: true,
        password_hash,
        created_at: Timestamp::now(),
    };
    let id = tx.insert_user(&new).await.map_err(|e| match e {
        crate::store::StoreError::Duplicate(_) => email_taken(&new.email, account),
        e => e.into(),
    })?;
    tx.set_user_roles(account, id, &roles).await?;
    tx.user(account, id).await?.ok_or(Error::not_found("user"))
}

impl Tessera {
    /// Creates an account with its built-in Administrator role (internal id 3). Operator only.
    pub async fn create_account(&self, actor: &Actor, input: NewAccountInput) -> Result<Account> {
        if !matches!(actor, Actor::Operator { .. }) {
            return Err(Error::not_permitted("only the operator creates accounts"));
        }
        let mut tx = self.tx(TxMode::Write).await?;
        let account = create_account_in(tx.as_mut(), input).await?;
        self.commit(tx).await?;
        Ok(account)
    }

    pub async fn list_accounts(&self, actor: &Actor) -> Result<Vec<Account>> {
        let mut tx = self.tx(TxMode::Read).await?;
        match actor {
            Actor::Operator { .. } => Ok(tx.list_accounts().await?),
            Actor::User { .. } => {
                let p = principal(tx.as_mut(), actor).await?;
                Ok(tx.account(&p.account).await?.into_iter().collect())
            }
        }
    }

    /// Switches the TBA feature (R11) and the auto-installation approval preference (R14),
    /// and sets the concurrency limit (RULES.md §5: at least one unit is left unallocated by the
    /// installations' own limits).
    pub async fn update_account_settings(
        &self,
        actor: &Actor,
        account: &AccountId,
        settings: AccountSettings,
    ) -> Result<Account> {
        let AccountSettings {
            tba_enabled,
            require_approval_for_auto_install,
            concurrency_limit,
            token_max_lifetime_days,
            ip_allow,
        } = settings;
        let mut tx = self.tx(TxMode::Write).await?;
        directory_admin(tx.as_mut(), actor, account).await?;
        let mut a = tx
            .account(account)
            .await?
            .ok_or(Error::not_found("account"))?;
        if let Some(v) = tba_enabled {
            a.tba_enabled = v;
        }
        if let Some(v) = require_approval_for_auto_install {
            a.require_approval_for_auto_install = v;
        }
        if let Some(limit) = concurrency_limit {
            a.concurrency_limit = check_limit(limit)?;
            let allocated = allocated_concurrency(tx.as_mut(), account, None).await?;
            super::check_unallocated(self.effective_limit(&a), allocated)?;
        }
        if let Some(days) = token_max_lifetime_days {
            a.token_max_lifetime_days = check_lifetime(days)?;
        }
        if let Some(list) = ip_allow {
            a.ip_allow = list;
        }
        tx.update_account(&a).await?;
        self.commit(tx).await?;
        Ok(a)
    }

    pub async fn create_role(
        &self,
        actor: &Actor,
        account: &AccountId,
        input: NewRoleInput,
    ) -> Result<Role> {
        let name = super::clean_name("role name", &input.name, NAME_MAX)?;
        let mut tx = self.tx(TxMode::Write).await?;
        directory_admin(tx.as_mut(), actor, account).await?;
        let role = Role {
            account: account.clone(),
            id: tx.next_role_id(account).await?,
            name,
            permissions: input.permissions,
            inactive: false,
            web_services_only: input.web_services_only,
        };
        tx.insert_role(&role).await?;
        self.commit(tx).await?;
        Ok(role)
    }

    pub async fn update_role(
        &self,
        actor: &Actor,
        account: &AccountId,
        id: RoleId,
        changes: RoleChanges,
    ) -> Result<Role> {
        if id == RoleId::ADMINISTRATOR {
            return Err(Error::not_permitted(
                "the built-in Administrator role cannot be changed",
            ));
        }
        let mut tx = self.tx(TxMode::Write).await?;
        directory_admin(tx.as_mut(), actor, account).await?;
        let mut role = tx
            .role(account, id)
            .await?
            .ok_or(Error::not_found("role"))?;
        if let Some(name) = changes.name {
            role.name = super::clean_name("role name", &name, NAME_MAX)?;
        }
        if let Some(p) = changes.permissions {
            role.permissions = p;
        }
        if let Some(v) = changes.inactive {
            role.inactive = v;
        }
        if let Some(v) = changes.web_services_only {
            role.web_services_only = v;
        }
        tx.update_role(&role).await?;
        self.commit(tx).await?;
        Ok(role)
    }

    pub async fn list_roles(&self, actor: &Actor, account: &AccountId) -> Result<Vec<Role>> {
        let mut tx = self.tx(TxMode::Read).await?;
        readable_directory(tx.as_mut(), actor, account).await?;
        Ok(tx.list_roles(account).await?)
    }

    pub async fn role(&self, actor: &Actor, account: &AccountId, id: RoleId) -> Result<Role> {
        let mut tx = self.tx(TxMode::Read).await?;
        readable_directory(tx.as_mut(), actor, account).await?;
        tx.role(account, id).await?.ok_or(Error::not_found("role"))
    }

    pub async fn create_user(
        &self,
        actor: &Actor,
        account: &AccountId,
        input: NewUserInput,
    ) -> Result<User> {
        super::clean_name("user name", &input.name, NAME_MAX)?;
        let password_hash = input.password.as_ref().map(hash_password).transpose()?;
        let mut tx = self.tx(TxMode::Write).await?;
        let user = create_user_in(tx.as_mut(), actor, account, input, password_hash).await?;
        self.commit(tx).await?;
        Ok(user)
    }

    /// Changes a user: every given field at once, in one transaction, or none of them.
    pub async fn update_user(
        &self,
        actor: &Actor,
        account: &AccountId,
        id: UserId,
        changes: UserChanges,
    ) -> Result<User> {
        let name = changes
            .name
            .as_deref()
            .map(|n| super::clean_name("user name", n, NAME_MAX))
            .transpose()?;
        // Argon2 before the transaction: it takes tens of milliseconds by design.
        let password_hash = changes.password.as_ref().map(hash_password).transpose()?;
        let mut tx = self.tx(TxMode::Write).await?;
        let admin = directory_admin(tx.as_mut(), actor, account).await?;
        let mut user = tx
            .user(account, id)
            .await?
            .ok_or(Error::not_found("user"))?;
        let acting_on_itself = admin.as_ref().is_some_and(|p| p.user.id == id);
        if let Some(name) = name {
            user.name = name;
        }
        if let Some(email) = changes.email {
            if email != user.email && tx.user_by_email(account, &email).await?.is_some() {
                return Err(email_taken(&email, account));
            }
            user.email = email;
        }
        if let Some(active) = changes.active {
            if !active && acting_on_itself {
                return Err(Error::not_permitted(
                    "an administrator cannot deactivate itself",
                ));
            }
            user.active = active;
        }
        tx.update_user(&user).await?;
        if let Some(roles) = changes.roles {
            let roles = roles_exist(tx.as_mut(), account, &roles).await?;
            if let Some(p) = admin.as_ref().filter(|_| acting_on_itself)
                && !roles.contains(&p.role.id)
            {
                return Err(Error::not_permitted(
                    "an administrator cannot remove the role it is acting with",
                ));
            }
            tx.set_user_roles(account, id, &roles).await?;
        }
        if let Some(hash) = password_hash {
            tx.set_password_hash(account, id, Some(&hash)).await?;
            // A password set by an administrator signs the user out of every browser.
            tx.delete_web_sessions_of(account, id).await?;
        }
        let user = tx
            .user(account, id)
            .await?
            .ok_or(Error::not_found("user"))?;
        self.commit(tx).await?;
        Ok(user)
    }

    /// Replaces the roles a user holds. Tokens for a removed role stay, but cannot log in until
    /// the role returns (R10, R11).
    pub async fn set_user_roles(
        &self,
        actor: &Actor,
        account: &AccountId,
        id: UserId,
        roles: &[RoleId],
    ) -> Result<User> {
        let mut tx = self.tx(TxMode::Write).await?;
        let admin = directory_admin(tx.as_mut(), actor, account).await?;
        let user = tx
            .user(account, id)
            .await?
            .ok_or(Error::not_found("user"))?;
        let roles = roles_exist(tx.as_mut(), account, roles).await?;
        if admin
            .as_ref()
            .is_some_and(|p| p.user.id == id && !roles.contains(&p.role.id))
        {
            return Err(Error::not_permitted(
                "an administrator cannot remove the role it is acting with",
            ));
        }
        tx.set_user_roles(account, user.id, &roles).await?;
        let user = tx
            .user(account, id)
            .await?
            .ok_or(Error::not_found("user"))?;
        self.commit(tx).await?;
        Ok(user)
    }

    pub async fn set_password(
        &self,
        actor: &Actor,
        account: &AccountId,
        id: UserId,
        password: Option<&SecretString>,
    ) -> Result<()> {
        let hash = password.map(hash_password).transpose()?;
        let mut tx = self.tx(TxMode::Write).await?;
        directory_admin(tx.as_mut(), actor, account).await?;
        tx.user(account, id)
            .await?
            .ok_or(Error::not_found("user"))?;
        tx.set_password_hash(account, id, hash.as_deref()).await?;
        // A password set by an administrator signs the user out of every browser.
        tx.delete_web_sessions_of(account, id).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Checks a password (web UI sign-in, issuetoken). `None` for an unknown account or
    /// email, a user without a password, an inactive user or a wrong password alike — and
    /// each takes the same time: where there is no real hash, a dummy one with the same
    /// Argon2 parameters is checked, so the answer's timing does not tell who exists.
    pub async fn check_password(
        &self,
        account: &AccountId,
        email: &Email,
        password: &SecretString,
    ) -> Result<Option<User>> {
        let mut tx = self.tx(TxMode::Read).await?;
        let user = tx.user_by_email(account, email).await?;
        let hash = match &user {
            Some(user) => tx.password_hash(account, user.id).await?,
            None => None,
        };
        drop(tx);
        let ok = verify_password(password, hash).await;
        Ok(user.filter(|u| ok && u.active))
    }

    /// A signed-in user changes its own password: the current one must be given, and every
    /// web session of the user ends (the caller starts a fresh one for the browser it uses).
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<()> {
        let (account, user) = {
            let mut tx = self.tx(TxMode::Read).await?;
            let p = principal(tx.as_mut(), actor).await?;
            (p.account, p.user.id)
        };
        let stored = self
            .tx(TxMode::Read)
            .await?
            .password_hash(&account, user)
            .await?;
        let ok = match stored {
            Some(hash) => verify_password(current, Some(hash)).await,
            None => false,
        };
        if !ok {
            return Err(Error::invalid(
                "current_password",
                "is not the current password",
            ));
        }
        if current.expose() == new.expose() {
            return Err(Error::invalid(
                "new_password",
                "must differ from the current one",
            ));
        }
        let hash = hash_password(new).map_err(|_| {
            Error::invalid(
                "new_password",
                format!("must be at least {PASSWORD_MIN} characters"),
            )
        })?;
        let mut tx = self.tx(TxMode::Write).await?;
        principal(tx.as_mut(), actor).await?;
        tx.set_password_hash(&account, user, Some(&hash)).await?;
        tx.delete_web_sessions_of(&account, user).await?;
        self.commit(tx).await
    }

    /// Deletes a user and, with it, its tokens (R10).
    pub async fn delete_user(
        &self,
        actor: &Actor,
        account: &AccountId,
        id: UserId,
    ) -> Result<Vec<AccessToken>> {
        let mut tx = self.tx(TxMode::Write).await?;
        let admin = directory_admin(tx.as_mut(), actor, account).await?;
        if admin.as_ref().is_some_and(|p| p.user.id == id) {
            return Err(Error::not_permitted(
                "an administrator cannot delete itself",
            ));
        }
        let user = tx
            .user(account, id)
            .await?
            .ok_or(Error::not_found("user"))?;
        let deleted = tx.delete_user(account, id).await?;
        let now = Timestamp::now();
        let mut notes = match &admin {
            Some(p) => Notes::by(p, now),
            None => Notes::operator(account, actor.context(), now),
        };
        for token in &deleted {
            notes.push(
                RecordRef::Token(token.key),
                "deleted",
                Some(token.name.clone()),
                Some(format!("deleted with user {}", user.name)),
            );
        }
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        Ok(deleted)
    }

    pub async fn user(&self, actor: &Actor, account: &AccountId, id: UserId) -> Result<User> {
        let mut tx = self.tx(TxMode::Read).await?;
        readable_directory(tx.as_mut(), actor, account).await?;
        tx.user(account, id).await?.ok_or(Error::not_found("user"))
    }

    pub async fn list_users(&self, actor: &Actor, account: &AccountId) -> Result<Vec<User>> {
        let mut tx = self.tx(TxMode::Read).await?;
        readable_directory(tx.as_mut(), actor, account).await?;
        Ok(tx.list_users(account).await?)
    }
}

/// Any active user of the account may read its users and roles (the token form needs them);
/// the operator may read every account.
async fn readable_directory(
    tx: &mut dyn StoreTx,
    actor: &Actor,
    account: &AccountId,
) -> Result<()> {
    match actor {
        Actor::Operator { .. } => {
            tx.account(account)
                .await?
                .ok_or(Error::not_found("account"))?;
        }
        Actor::User { .. } => {
            let p = principal(tx, actor).await?;
            if &p.account != account {
                return Err(Error::not_found("account"));
            }
        }
    }
    Ok(())
}

fn email_taken(email: &Email, account: &AccountId) -> Error {
    Error::Conflict {
        why: format!("a user with email {email} already exists in account {account}"),
    }
}
