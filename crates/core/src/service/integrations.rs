//! Integration records and their installations: R2–R6, R9, R10, R13, R14.

use super::{Actor, Notes, Principal, Tessera, principal, yes_no};
use crate::credentials::{ConsumerCredentials, generate_secret};
use crate::error::{Error, Result};
use crate::ids::{AccountId, ApplicationId, ConsumerKey, IntegrationId};
use crate::model::{
    AuthSwitches, Context, InstallOrigin, InstallState, Installation, Integration, Permission,
    RecordRef, Revocation, Timestamp,
};
use crate::store::{NewIntegration, StoreTx, StoredIntegration, TxMode};
use crate::vault::SecretSlot;

const NAME_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 4000;

#[derive(Debug, Clone)]
pub struct NewIntegrationInput {
    pub name: String,
    pub description: String,
    pub switches: AuthSwitches,
}

/// Changes to the shared fields (owner account's administrators only, R13).
#[derive(Debug, Clone, Default)]
pub struct IntegrationChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub switches: Option<AuthSwitches>,
}

/// Changes to the installation in the actor's account (R13).
#[derive(Debug, Clone, Default)]
pub struct InstallationChanges {
    pub state: Option<InstallState>,
    pub note: Option<String>,
    /// `Some(None)` clears the limit.
    pub concurrency_limit: Option<Option<u32>>,
    /// The networks this record's requests may come from in this account (R17); an empty
    /// list clears it.
    pub ip_allow: Option<crate::allow::IpAllowList>,
}

/// Reset Credentials asks first (R5): the API and CLI pass an explicit confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetConfirmation {
    Confirmed,
    NotConfirmed,
}

impl From<bool> for ResetConfirmation {
    fn from(confirmed: bool) -> Self {
        if confirmed {
            ResetConfirmation::Confirmed
        } else {
            ResetConfirmation::NotConfirmed
        }
    }
}

/// An integration record as one account sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationView {
    pub integration: Integration,
    pub installation: Installation,
    /// The viewing account created the record: only there are shared fields editable.
    pub is_owner: bool,
}

/// The record, if it exists, is not deleted, and is installed in the principal's account.
pub(crate) async fn visible_integration(
    tx: &mut dyn StoreTx,
    p: &Principal,
    id: IntegrationId,
) -> Result<(StoredIntegration, Installation)> {
    let stored = tx
        .integration(id)
        .await?
        .filter(|s| s.integration.deleted_at.is_none())
        .ok_or(Error::not_found("integration record"))?;
    let installation = tx
        .installation(id, &p.account)
        .await?
        .ok_or(Error::not_found("integration record"))?;
    Ok((stored, installation))
}

fn may_manage_installations(p: &Principal) -> Result<()> {
    if p.is_administrator() || p.has(Permission::IntegrationApplication) {
        Ok(())
    } else {
        Err(Error::not_permitted(
            "managing integration records requires the Administrator role or the Integration Application permission",
        ))
    }
}

fn must_be_owner_administrator(p: &Principal, integration: &Integration) -> Result<()> {
    if p.account != integration.owner {
        return Err(Error::not_permitted(format!(
            "only administrators of account {}, where the record was created, can change its shared fields",
            integration.owner
        )));
    }
    if !p.is_administrator() {
        return Err(Error::not_permitted(
            "only administrators can change an integration record's shared fields",
        ));
    }
    Ok(())
}

fn validate_switches(s: &AuthSwitches) -> Result<AuthSwitches> {
    let mut s = s.clone();
    if !s.token_based_auth && (s.tba_authorization_flow || s.tba_issuetoken_endpoint) {
        return Err(Error::invalid(
            "switches",
            "TBA: Authorization Flow and TBA: issuetoken Endpoint need Token-based Authentication on",
        ));
    }
    s.callback_url = match s.callback_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => Some(super::authorization_flow::validate_callback(url)?),
    };
    if s.tba_authorization_flow && s.callback_url.is_none() {
        return Err(Error::invalid(
            "callback_url",
            "TBA: Authorization Flow needs a callback URL",
        ));
    }
    Ok(s)
}

/// A secret chosen by the caller must look like an issued one (64 lower-case hex characters).
pub(crate) fn check_given_secret(
    field: &'static str,
    secret: &tessera_oauth1::SecretString,
) -> Result<()> {
    if !crate::credentials::is_credential_hex(secret.expose()) {
        return Err(Error::invalid(
            field,
            "must be 64 lower-case hexadecimal characters, as issued",
        ));
    }
    Ok(())
}

impl Tessera {
    /// A new consumer key and secret for a record whose key is `previous` when it was read.
    async fn issue_consumer_credentials(
        &self,
        tx: &mut dyn StoreTx,
        integration: &Integration,
        previous: Option<&ConsumerKey>,
        at: Timestamp,
        given: Option<ConsumerCredentials>,
    ) -> Result<ConsumerCredentials> {
        let (consumer_key, consumer_secret) = match given {
            Some(c) => (c.consumer_key, c.consumer_secret),
            None => (ConsumerKey::generate()?, generate_secret()?),
        };
        let sealed = self.keyring.seal(
            &consumer_secret,
            SecretSlot::ConsumerSecret(&integration.application_id),
        )?;
        let replaced = tx
            .set_consumer_credentials(integration.id, previous, &consumer_key, &sealed, at)
            .await?;
        if !replaced {
            // Shown once means the pair shown must be the one that works.
            return Err(Error::Conflict {
                why: "the credentials were changed at the same moment by someone else; nothing was changed by this request".to_owned(),
            });
        }
        Ok(ConsumerCredentials {
            consumer_key,
            consumer_secret,
        })
    }

    /// R6: the consumer key and secret are issued when Token-based Authentication is on and
    /// the record has none yet (on creation, or when the switch is first turned on).
    async fn issue_when_tba_first_on(
        &self,
        tx: &mut dyn StoreTx,
        integration: &mut Integration,
        notes: &mut Notes,
        at: Timestamp,
        given: Option<ConsumerCredentials>,
    ) -> Result<Option<ConsumerCredentials>> {
        if !integration.switches.token_based_auth || integration.has_credentials {
            return Ok(None);
        }
        let credentials = self
            .issue_consumer_credentials(tx, integration, None, at, given)
            .await?;
        integration.has_credentials = true;
        notes.push(
            RecordRef::Integration(integration.id),
            "consumer key and secret",
            None,
            Some("issued".to_owned()),
        );
        Ok(Some(credentials))
    }

    /// Creates an integration record owned by the actor's account and installed there. Returns
    /// the consumer key and secret once, when Token-based Authentication is on (R6).
    pub async fn create_integration(
        &self,
        actor: &Actor,
        input: NewIntegrationInput,
    ) -> Result<(IntegrationView, Option<ConsumerCredentials>)> {
        self.create_integration_with(actor, input, None).await
    }

    /// [`Self::create_integration`] with a consumer key and secret chosen by the caller instead
    /// of drawn from the OS RNG: for fixtures, so a test suite can sign with known credentials.
    /// They must have the issued format (64 lower-case hex characters each).
    pub async fn create_integration_with(
        &self,
        actor: &Actor,
        input: NewIntegrationInput,
        given: Option<ConsumerCredentials>,
    ) -> Result<(IntegrationView, Option<ConsumerCredentials>)> {
        if let Some(c) = &given {
            check_given_secret("consumer_secret", &c.consumer_secret)?;
        }
        let mut tx = self.tx(TxMode::Write).await?;
        let created = self
            .create_integration_in(tx.as_mut(), actor, input, given)
            .await?;
        self.commit(tx).await?;
        Ok(created)
    }

    /// [`Self::create_integration_with`] inside the caller's transaction.
    pub(crate) async fn create_integration_in(
        &self,
        tx: &mut dyn StoreTx,
        actor: &Actor,
        input: NewIntegrationInput,
        given: Option<ConsumerCredentials>,
    ) -> Result<(IntegrationView, Option<ConsumerCredentials>)> {
        let name = super::clean_name("name", &input.name, NAME_MAX)?;
        let description = clean_description(&input.description)?;
        let switches = validate_switches(&input.switches)?;
        let p = principal(tx, actor).await?;
        may_manage_installations(&p)?;
        let now = Timestamp::now();
        let new = NewIntegration {
            application_id: ApplicationId::generate()?,
            owner: p.account.clone(),
            name,
            description,
            switches,
            created_at: now,
        };
        let id = tx.insert_integration(&new).await?;
        let installation = new_installation(
            id,
            &p.account,
            InstallState::Enabled,
            InstallOrigin::Created,
            now,
            &p.user.name,
        );
        if !tx.insert_installation(&installation).await? {
            return Err(already_installed(&p.account));
        }
        let mut integration = tx
            .integration(id)
            .await?
            .ok_or(Error::not_found("integration record"))?
            .integration;
        let mut notes = Notes::by(&p, now);
        notes.push(
            RecordRef::Integration(id),
            "created",
            None,
            Some(integration.name.clone()),
        );
        notes.push(
            RecordRef::Installation(id, p.account.clone()),
            "state",
            None,
            Some(InstallState::Enabled.label().to_owned()),
        );
        let credentials = self
            .issue_when_tba_first_on(tx, &mut integration, &mut notes, now, given)
            .await?;
        notes.write(tx).await?;
        Ok((
            IntegrationView {
                integration,
                installation,
                is_owner: true,
            },
            credentials,
        ))
    }

    pub async fn integration(&self, actor: &Actor, id: IntegrationId) -> Result<IntegrationView> {
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (stored, installation) = visible_integration(tx.as_mut(), &p, id).await?;
        Ok(IntegrationView {
            is_owner: stored.integration.owner == p.account,
            integration: stored.integration,
            installation,
        })
    }

    /// The records installed in the actor's account; blocked and waiting ones only with
    /// `include_inactive` ("Show Inactives").
    pub async fn list_integrations(
        &self,
        actor: &Actor,
        include_inactive: bool,
    ) -> Result<Vec<IntegrationView>> {
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let mut views: Vec<IntegrationView> = tx
            .installed_in(&p.account)
            .await?
            .into_iter()
            .filter(|(i, inst)| {
                i.deleted_at.is_none() && (include_inactive || inst.state == InstallState::Enabled)
            })
            .map(|(integration, installation)| IntegrationView {
                is_owner: integration.owner == p.account,
                integration,
                installation,
            })
            .collect();
        views.sort_by(|a, b| {
            a.integration
                .name
                .to_lowercase()
                .cmp(&b.integration.name.to_lowercase())
                .then(a.integration.id.cmp(&b.integration.id))
        });
        Ok(views)
    }

    /// Edits the shared fields (R13). Switching Token-based Authentication on for the first
    /// time issues the consumer key and secret, returned once (R6).
    pub async fn update_integration(
        &self,
        actor: &Actor,
        id: IntegrationId,
        changes: IntegrationChanges,
    ) -> Result<(IntegrationView, Option<ConsumerCredentials>)> {
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (stored, installation) = visible_integration(tx.as_mut(), &p, id).await?;
        must_be_owner_administrator(&p, &stored.integration)?;
        let before = stored.integration;
        let mut after = before.clone();
        if let Some(name) = changes.name {
            after.name = super::clean_name("name", &name, NAME_MAX)?;
        }
        if let Some(description) = changes.description {
            after.description = clean_description(&description)?;
        }
        if let Some(switches) = changes.switches {
            after.switches = validate_switches(&switches)?;
        }
        let now = Timestamp::now();
        let mut notes = Notes::by(&p, now);
        let record = RecordRef::Integration(id);
        notes.change(
            record.clone(),
            "name",
            Some(before.name.clone()),
            Some(after.name.clone()),
        );
        notes.change(
            record.clone(),
            "description",
            Some(before.description.clone()),
            Some(after.description.clone()),
        );
        let (b, a) = (&before.switches, &after.switches);
        notes.change(
            record.clone(),
            "token-based authentication",
            yes_no(b.token_based_auth),
            yes_no(a.token_based_auth),
        );
        notes.change(
            record.clone(),
            "TBA: authorization flow",
            yes_no(b.tba_authorization_flow),
            yes_no(a.tba_authorization_flow),
        );
        notes.change(
            record.clone(),
            "callback URL",
            b.callback_url.clone(),
            a.callback_url.clone(),
        );
        notes.change(
            record.clone(),
            "TBA: issuetoken endpoint",
            yes_no(b.tba_issuetoken_endpoint),
            yes_no(a.tba_issuetoken_endpoint),
        );
        notes.change(
            record.clone(),
            "user credentials",
            yes_no(b.user_credentials),
            yes_no(a.user_credentials),
        );
        if after != before {
            after.modified_at = now;
            tx.update_integration(&after).await?;
        }
        let credentials = self
            .issue_when_tba_first_on(tx.as_mut(), &mut after, &mut notes, now, None)
            .await?;
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        Ok((
            IntegrationView {
                integration: after,
                installation,
                is_owner: true,
            },
            credentials,
        ))
    }

    /// Reset Credentials (R2–R5): a new consumer key and secret, the old pair invalid from the
    /// commit on; tokens keep working with the new pair (they are bound to the record, not to
    /// its key). Only an administrator of the owner account may reset, never where the record
    /// was installed through a bundle; the caller must confirm. The new pair is returned once.
    pub async fn reset_credentials(
        &self,
        actor: &Actor,
        id: IntegrationId,
        confirmation: ResetConfirmation,
    ) -> Result<(IntegrationView, ConsumerCredentials)> {
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (stored, installation) = visible_integration(tx.as_mut(), &p, id).await?;
        if installation.origin == InstallOrigin::Bundle {
            return Err(Error::ResetNotAllowedForBundleInstall);
        }
        if p.account != stored.integration.owner {
            return Err(Error::not_permitted(format!(
                "credentials can be reset only in account {}, where the record was created",
                stored.integration.owner
            )));
        }
        if !p.is_administrator() {
            return Err(Error::not_permitted(
                "only an administrator can reset credentials",
            ));
        }
        if confirmation != ResetConfirmation::Confirmed {
            return Err(Error::ConfirmationRequired);
        }
        let now = Timestamp::now();
        let mut integration = stored.integration;
        let credentials = self
            .issue_consumer_credentials(
                tx.as_mut(),
                &integration,
                stored.consumer_key.as_ref(),
                now,
                None,
            )
            .await?;
        integration.has_credentials = true;
        integration.modified_at = now;
        let mut notes = Notes::by(&p, now);
        notes.push(
            RecordRef::Integration(id),
            "consumer key and secret",
            Some("previous pair".to_owned()),
            Some("reset: new pair issued, previous pair invalid".to_owned()),
        );
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        Ok((
            IntegrationView {
                integration,
                installation,
                is_owner: true,
            },
            credentials,
        ))
    }

    /// State, note and concurrency limit of the installation in the actor's account (R9, R13).
    pub async fn update_installation(
        &self,
        actor: &Actor,
        id: IntegrationId,
        changes: InstallationChanges,
    ) -> Result<IntegrationView> {
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (stored, before) = visible_integration(tx.as_mut(), &p, id).await?;
        may_manage_installations(&p)?;
        let now = Timestamp::now();
        let mut after = before.clone();
        if let Some(state) = changes.state
            && state != before.state
        {
            after.state = state;
            after.state_changed_at = now;
            after.state_changed_by = p.user.name.clone();
        }
        if let Some(note) = changes.note {
            after.note = clean_description(&note)?;
        }
        if let Some(limit) = changes.concurrency_limit {
            if limit == Some(0) {
                return Err(Error::invalid(
                    "concurrency_limit",
                    "must be at least 1, or empty for none",
                ));
            }
            after.concurrency_limit = limit;
            if let Some(own) = limit {
                let account = tx
                    .account(&p.account)
                    .await?
                    .ok_or(Error::not_found("account"))?;
                let others =
                    super::directory::allocated_concurrency(tx.as_mut(), &p.account, Some(id))
                        .await?;
                super::check_unallocated(self.effective_limit(&account), others + u64::from(own))?;
            }
        }
        let record = RecordRef::Installation(id, p.account.clone());
        let mut notes = Notes::by(&p, now);
        notes.change(
            record.clone(),
            "state",
            Some(before.state.label().to_owned()),
            Some(after.state.label().to_owned()),
        );
        notes.change(
            record.clone(),
            "note",
            Some(before.note.clone()),
            Some(after.note.clone()),
        );
        if let Some(list) = changes.ip_allow {
            after.ip_allow = list;
        }
        notes.change(
            record.clone(),
            "concurrency limit",
            before.concurrency_limit.map(|l| l.to_string()),
            after.concurrency_limit.map(|l| l.to_string()),
        );
        notes.change(
            record,
            "IP allow-list",
            before.ip_allow.to_stored(),
            after.ip_allow.to_stored(),
        );
        if after != before {
            tx.update_installation(&after).await?;
        }
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        Ok(IntegrationView {
            is_owner: stored.integration.owner == p.account,
            integration: stored.integration,
            installation: after,
        })
    }

    /// The accounts that may install the record by its id (`install_from_bundle`): the owner's
    /// choice, seen and set by the owner account's administrators only.
    pub async fn installable_accounts(
        &self,
        actor: &Actor,
        id: IntegrationId,
    ) -> Result<Vec<AccountId>> {
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (stored, _) = visible_integration(tx.as_mut(), &p, id).await?;
        must_be_owner_administrator(&p, &stored.integration)?;
        Ok(tx.installable_accounts(id).await?)
    }

    /// Replaces the accounts that may install the record by its id. An account need not
    /// exist yet; the owner account itself is left out (it has the record). Installations
    /// already made stay. Returns the list as stored.
    pub async fn set_installable_accounts(
        &self,
        actor: &Actor,
        id: IntegrationId,
        accounts: Vec<AccountId>,
    ) -> Result<Vec<AccountId>> {
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (stored, _) = visible_integration(tx.as_mut(), &p, id).await?;
        must_be_owner_administrator(&p, &stored.integration)?;
        let mut accounts = accounts;
        accounts.retain(|a| a != &stored.integration.owner);
        accounts.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        accounts.dedup();
        let before = tx.installable_accounts(id).await?;
        if before == accounts {
            return Ok(accounts);
        }
        tx.set_installable_accounts(id, &accounts).await?;
        let list = |a: &[AccountId]| {
            (!a.is_empty()).then(|| {
                a.iter()
                    .map(AccountId::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
        let mut notes = Notes::by(&p, Timestamp::now());
        notes.push(
            RecordRef::Integration(id),
            "installable by",
            list(&before),
            list(&accounts),
        );
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        Ok(accounts)
    }

    /// Installs another account's record into the actor's account as a bundle would — only
    /// when the record's owner made it installable there (`set_installable_accounts`). Such an
    /// installation can never reset the record's credentials (R4).
    pub async fn install_from_bundle(
        &self,
        actor: &Actor,
        id: IntegrationId,
    ) -> Result<IntegrationView> {
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        if !p.is_administrator() {
            return Err(Error::not_permitted(
                "only an administrator installs bundles",
            ));
        }
        let stored = tx
            .integration(id)
            .await?
            .filter(|s| s.integration.deleted_at.is_none())
            .ok_or(Error::not_found("integration record"))?;
        if tx.installation(id, &p.account).await?.is_some() {
            return Err(already_installed(&p.account));
        }
        // Only where the owner said so; anywhere else the record does not exist, exactly as
        // a missing one (no oracle of internal ids).
        if !tx.installable_accounts(id).await?.contains(&p.account) {
            return Err(Error::not_found("integration record"));
        }
        let now = Timestamp::now();
        let installation = new_installation(
            id,
            &p.account,
            InstallState::Enabled,
            InstallOrigin::Bundle,
            now,
            &p.user.name,
        );
        if !tx.insert_installation(&installation).await? {
            return Err(already_installed(&p.account));
        }
        let mut notes = Notes::by(&p, now);
        notes.push(
            RecordRef::Installation(id, p.account.clone()),
            "installed",
            None,
            Some(format!(
                "from a bundle; state {}",
                InstallState::Enabled.label()
            )),
        );
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        Ok(IntegrationView {
            is_owner: false,
            integration: stored.integration,
            installation,
        })
    }

    /// R14: the authorization flow or issuetoken reaching an account where the record is not
    /// installed installs it: Enabled, or Waiting for Approval when the account requires
    /// approval. An existing installation is returned as it is.
    pub async fn auto_install(
        &self,
        account: &AccountId,
        id: IntegrationId,
        context: Context,
    ) -> Result<Installation> {
        let mut tx = self.tx(TxMode::Write).await?;
        let acct = tx
            .account(account)
            .await?
            .ok_or(Error::not_found("account"))?;
        tx.integration(id)
            .await?
            .filter(|s| s.integration.deleted_at.is_none())
            .ok_or(Error::not_found("integration record"))?;
        if let Some(existing) = tx.installation(id, account).await? {
            return Ok(existing);
        }
        let now = Timestamp::now();
        let state = if acct.require_approval_for_auto_install {
            InstallState::WaitingForApproval
        } else {
            InstallState::Enabled
        };
        let installation = new_installation(id, account, state, InstallOrigin::Auto, now, "System");
        if !tx.insert_installation(&installation).await? {
            // Installed by a concurrent request a moment ago: that installation stands.
            return tx
                .installation(id, account)
                .await?
                .ok_or(Error::not_found("installation"));
        }
        let mut notes = Notes::system(account, context, now);
        notes.push(
            RecordRef::Installation(id, account.clone()),
            "installed",
            None,
            Some(format!("automatically; state {}", state.label())),
        );
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        Ok(installation)
    }

    /// R10. In the owner account (administrators only) this deletes the record: every
    /// installation goes and every token of it is revoked, in every account. Elsewhere it
    /// uninstalls the record from the actor's account and revokes that account's tokens for it.
    /// Returns how many tokens were revoked.
    pub async fn delete_integration(&self, actor: &Actor, id: IntegrationId) -> Result<usize> {
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (stored, _) = visible_integration(tx.as_mut(), &p, id).await?;
        let owner = stored.integration.owner == p.account;
        if owner {
            must_be_owner_administrator(&p, &stored.integration)?;
        } else {
            may_manage_installations(&p)?;
        }
        let now = Timestamp::now();
        let mut notes = Notes::by(&p, now);
        let revocation = Revocation {
            at: now,
            by: Some(p.user.id),
            by_name: p.user.name.clone(),
        };
        let scope = if owner { None } else { Some(&p.account) };
        let revoked = tx
            .revoke_tokens_of_integration(id, scope, &revocation)
            .await?;
        for token in &revoked {
            notes.push(
                RecordRef::Token(token.key),
                "revoked",
                yes_no(false),
                Some("Yes (integration record deleted)".to_owned()),
            );
        }
        let installations = if owner {
            tx.installations_of(id).await?
        } else {
            tx.installation(id, &p.account).await?.into_iter().collect()
        };
        for inst in &installations {
            tx.delete_installation(id, &inst.account).await?;
            notes.push(
                RecordRef::Installation(id, inst.account.clone()),
                "uninstalled",
                Some(inst.state.label().to_owned()),
                None,
            );
        }
        if owner {
            let mut integration = stored.integration;
            integration.deleted_at = Some(now);
            integration.modified_at = now;
            tx.update_integration(&integration).await?;
            notes.push(
                RecordRef::Integration(id),
                "deleted",
                Some(integration.name.clone()),
                None,
            );
        }
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        Ok(revoked.len())
    }
}

/// A fresh installation: no note, no concurrency limit of its own.
fn new_installation(
    integration: IntegrationId,
    account: &AccountId,
    state: InstallState,
    origin: InstallOrigin,
    at: Timestamp,
    by: &str,
) -> Installation {
    Installation {
        integration,
        account: account.clone(),
        state,
        note: String::new(),
        concurrency_limit: None,
        ip_allow: crate::allow::IpAllowList::any(),
        signature_debug_until: None,
        origin,
        installed_at: at,
        state_changed_at: at,
        state_changed_by: by.to_owned(),
    }
}

fn already_installed(account: &AccountId) -> Error {
    Error::Conflict {
        why: format!("the integration record is already installed in account {account}"),
    }
}

fn clean_description(input: &str) -> Result<String> {
    let s = input.trim();
    if s.chars().count() > DESCRIPTION_MAX {
        return Err(Error::invalid(
            "description",
            format!("must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Error::invalid(
            "description",
            "must not contain control characters",
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_switches_need_tba() {
        let s = AuthSwitches {
            tba_issuetoken_endpoint: true,
            ..AuthSwitches::default()
        };
        assert!(validate_switches(&s).is_err());
        let s = AuthSwitches {
            token_based_auth: true,
            tba_authorization_flow: true,
            ..AuthSwitches::default()
        };
        assert!(validate_switches(&s).is_err(), "flow without callback");
    }
}
