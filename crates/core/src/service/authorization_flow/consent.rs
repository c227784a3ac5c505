//! Step 2, the consent page's request and decision (the page itself is the web UI's).

use super::*;

impl Tessera {
    /// What the consent page shows for a pending request token, to the signed-in `actor`. Reads
    /// only: the record is installed by Allow (R14), never by looking at the page.
    pub async fn consent_request(&self, actor: &Actor, token_id: &str) -> Result<ConsentRequest> {
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (row, stored) = pending(tx.as_mut(), token_id).await?;
        let account = tx
            .account(&p.account)
            .await?
            .ok_or(Error::not_found("account"))?;
        check_realm(&row, &p.account)?;
        if !account.tba_enabled {
            return Err(Error::not_permitted(
                "the Token-based Authentication feature is off in this account",
            ));
        }
        let owner = tx
            .account(&stored.integration.owner)
            .await?
            .map_or_else(String::new, |a| a.name);
        let mut roles = Vec::new();
        for role in &p.user.roles {
            if let Some(r) = tx.role(&p.account, *role).await?
                && !r.inactive
                && r.can_use_tokens()
            {
                roles.push(r);
            }
        }
        let installation = match tx.installation(stored.integration.id, &p.account).await? {
            Some(installed) => installed.state,
            None if account.require_approval_for_auto_install => InstallState::WaitingForApproval,
            None => InstallState::Enabled,
        };
        drop(tx);
        Ok(ConsentRequest {
            token_id: row.token_id,
            application_name: stored.integration.name,
            application_description: stored.integration.description,
            owner_name: owner,
            owner: stored.integration.owner,
            account,
            roles,
            callback: row.callback,
            installation,
        })
    }

    /// The user's answer on the consent page. Returns where to send the browser: the callback
    /// with `oauth_token`, `oauth_verifier`, `company`, `role`, `entity` and `state` when
    /// allowed; with `oauth_token`, `error=access_denied` and `state` when denied. Either way
    /// the request token cannot be decided again.
    pub async fn decide_consent(
        &self,
        actor: &Actor,
        token_id: &str,
        decision: ConsentDecision,
        state: &str,
    ) -> Result<String> {
        check_flow_state(state)?;
        if let ConsentDecision::Allow { role } = decision {
            // R14, before this decision's transaction (the install has its own, with its note).
            let (account, integration) = self.consent_target(actor, token_id, role).await?;
            self.auto_install(&account, integration, Context::Ui)
                .await?;
        }
        let mut tx = self.tx(TxMode::Write).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (mut row, stored) = pending(tx.as_mut(), token_id).await?;
        check_realm(&row, &p.account)?;
        let now = Timestamp::now();
        let mut answer = vec![("oauth_token", row.token_id.as_str().to_owned())];
        match decision {
            ConsentDecision::Deny => {
                row.state = RequestTokenState::Denied;
                answer.push(("error", "access_denied".to_owned()));
            }
            ConsentDecision::Allow { role } => {
                let chosen = allowable(tx.as_mut(), &p, &stored.integration, role).await?;
                let verifier = generate_hex()?;
                row.state = RequestTokenState::Authorized;
                row.consent = Some(Consent {
                    account: p.account.clone(),
                    user: p.user.id,
                    role: chosen.id,
                    verifier_digest: verifier_digest(&verifier),
                });
                answer.push(("oauth_verifier", verifier));
                answer.push(("company", p.account.as_str().to_owned()));
                answer.push(("role", chosen.id.to_string()));
                answer.push(("entity", p.user.id.to_string()));
            }
        }
        if row.expires_at <= now {
            return Err(Error::invalid(
                "oauth_token",
                "the request has expired; start again from the application",
            ));
        }
        if !tx
            .advance_request_token(&row, RequestTokenState::Pending)
            .await?
        {
            return Err(Error::Conflict {
                why: "this request was answered already".to_owned(),
            });
        }
        let mut notes = Notes::by(&p, now);
        notes.push(
            crate::model::RecordRef::Installation(stored.integration.id, p.account.clone()),
            "authorization flow",
            None,
            Some(match decision {
                ConsentDecision::Allow { role } => format!("allowed with role {role}"),
                ConsentDecision::Deny => "denied".to_owned(),
            }),
        );
        notes.write(tx.as_mut()).await?;
        self.commit(tx).await?;
        answer.push(("state", state.to_owned()));
        let answer: Vec<(&str, &str)> = answer.iter().map(|(n, v)| (*n, v.as_str())).collect();
        Ok(redirect_to(&row.callback, &answer))
    }

    /// The account the actor answers for and the record a pending request token is for.
    async fn consent_target(
        &self,
        actor: &Actor,
        token_id: &str,
        role: RoleId,
    ) -> Result<(AccountId, IntegrationId)> {
        let mut tx = self.tx(TxMode::Read).await?;
        let p = principal(tx.as_mut(), actor).await?;
        let (row, stored) = pending(tx.as_mut(), token_id).await?;
        check_realm(&row, &p.account)?;
        // Checked before anything is installed: an Allow that cannot succeed installs nothing.
        allowable(tx.as_mut(), &p, &stored.integration, role).await?;
        Ok((p.account, stored.integration.id))
    }
}

/// The pending request token of `token_id` with its integration record; not found unless it
/// is pending, unexpired and its record is live.
async fn pending(
    tx: &mut dyn StoreTx,
    token_id: &str,
) -> Result<(RequestTokenRow, StoredIntegration)> {
    let gone = || Error::not_found("request token");
    let id = TokenId::parse(token_id).map_err(|_| gone())?;
    let row = tx.request_token(&id).await?.ok_or_else(gone)?;
    match row.state {
        RequestTokenState::Pending => {}
        _ => {
            return Err(Error::Conflict {
                why: "this request was answered already; start again from the application"
                    .to_owned(),
            });
        }
    }
    if row.expires_at <= Timestamp::now() {
        return Err(Error::invalid(
            "oauth_token",
            "the request has expired; start again from the application",
        ));
    }
    let stored = tx
        .integration(row.integration)
        .await?
        .filter(|s| s.integration.deleted_at.is_none())
        .ok_or_else(gone)?;
    if let Err((_, why)) = still_allowed(&stored.integration, &row) {
        return Err(Error::not_permitted(format!(
            "{why}; ask the application to start again"
        )));
    }
    Ok((row, stored))
}

/// The role an Allow may choose, in the principal's account: TBA on there, one of the user's
/// active roles that may log in with tokens, the record not blocked there.
async fn allowable(
    tx: &mut dyn StoreTx,
    p: &crate::service::Principal,
    integration: &Integration,
    role: RoleId,
) -> Result<Role> {
    let account = tx
        .account(&p.account)
        .await?
        .ok_or(Error::not_found("account"))?;
    if !account.tba_enabled {
        return Err(Error::not_permitted(
            "the Token-based Authentication feature is off in this account",
        ));
    }
    let chosen = tx.role(&p.account, role).await?;
    let Some(chosen) = chosen.filter(|r| p.user.holds(r.id) && !r.inactive && r.can_use_tokens())
    else {
        return Err(Error::invalid(
            "role",
            "choose one of your active roles that may log in with access tokens",
        ));
    };
    let installation = tx.installation(integration.id, &p.account).await?;
    if installation.is_some_and(|i| i.state == InstallState::Blocked) {
        return Err(Error::not_permitted(format!(
            "{} is blocked in this account",
            integration.name
        )));
    }
    Ok(chosen)
}

/// A request token whose request named an account (its realm) is for that account only.
fn check_realm(row: &RequestTokenRow, account: &AccountId) -> Result<()> {
    match &row.realm {
        Some(realm) if realm != account => Err(Error::not_permitted(format!(
            "this request is for account {realm}; sign in to that account to answer it"
        ))),
        _ => Ok(()),
    }
}
