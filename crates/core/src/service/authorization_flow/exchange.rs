//! Step 3, `POST /rest/accesstoken`.

use super::*;

impl Tessera {
    /// `POST /rest/accesstoken`: the access token for an authorized request token, for the
    /// user that consented and the role it chose, created with its system note.
    pub async fn exchange_request_token(
        &self,
        request: &SignedRequest<'_>,
        profile: &Profile,
    ) -> Result<FlowOutcome<ExchangedToken>> {
        let required = [OAuthParam::Token, OAuthParam::Verifier];
        let signed = match read_flow(request, profile, &required, true) {
            Ok(s) => s,
            Err(outcome) => return Ok(outcome),
        };
        let params = signed.params();
        let token_id = params.token.unwrap_or("");
        let verifier = signed.header.get(OAuthParam::Verifier).unwrap_or("");
        let stored = self.integration_for_flow(params.consumer_key).await?;
        let row = match TokenId::parse(token_id) {
            Ok(id) => {
                let mut tx = self.tx(TxMode::Read).await?;
                tx.request_token(&id).await?
            }
            Err(_) => None,
        };
        // The request token must be this record's.
        let row = row.filter(|r| {
            stored
                .as_ref()
                .is_some_and(|(s, _)| s.integration.id == r.integration)
        });
        let key = match (&stored, &row) {
            (Some((_, Some(cs))), Some(row)) => {
                let secret = self.keyring.open(
                    &row.token_secret,
                    SecretSlot::RequestTokenSecret(&row.token_id),
                )?;
                Some(SigningKey::new(cs.expose(), secret.expose()))
            }
            _ => None,
        };
        let matches = self.check_signature(key.as_ref(), &signed.base_string, params.signature)?;
        let Some((stored, Some(_))) = stored else {
            return Ok(FlowOutcome::Refused(FlowRefusal::new(
                Detail::UnknownIntegration,
                "no integration record has this consumer key",
            )));
        };
        let integration = stored.integration;
        let realm_of_row = row.as_ref().and_then(|r| r.realm.clone());
        let refuse = |detail, note: &str, consent: Option<&Consent>| {
            let mut r = FlowRefusal::new(detail, note).of(&integration);
            if let Some(realm) = &realm_of_row {
                r.account = Some(realm.clone());
            }
            if let Some(c) = consent {
                r.account = Some(c.account.clone());
                r.user = Some(c.user);
                r.role = Some(c.role);
            }
            Ok(FlowOutcome::Refused(r))
        };
        let Some(row) = row else {
            return refuse(
                Detail::InvalidToken,
                "no request token of this integration record has this oauth_token",
                None,
            );
        };
        if !matches {
            return refuse(
                Detail::InvalidSignature,
                "the signature does not match the request (key: consumer secret and the request token secret)",
                None,
            );
        }
        let consent = row.consent.as_ref();
        if row.expires_at <= Timestamp::now() {
            return refuse(
                Detail::RequestTokenExpired,
                "the request token expired; run the flow again",
                consent,
            );
        }
        let consent = match row.state {
            RequestTokenState::Denied => {
                return refuse(
                    Detail::RequestTokenDenied,
                    "the user denied this request",
                    consent,
                );
            }
            RequestTokenState::Exchanged => {
                return refuse(
                    Detail::RequestTokenUsed,
                    "this request token was exchanged already",
                    consent,
                );
            }
            RequestTokenState::Pending => {
                return refuse(
                    Detail::InvalidVerifier,
                    "no user has allowed this request yet",
                    None,
                );
            }
            RequestTokenState::Authorized => match consent {
                Some(c) => c.clone(),
                None => {
                    return Err(crate::store::StoreError::Corrupt(
                        "an authorized request token without its consent".to_owned(),
                    )
                    .into());
                }
            },
        };
        let expected = consent.verifier_digest;
        let given = verifier_digest(verifier);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &given[..])) {
            return refuse(
                Detail::InvalidVerifier,
                "oauth_verifier is not the one this request token's consent gave",
                Some(&consent),
            );
        }
        if let Some(realm) = signed.header.realm().filter(|r| !r.is_empty())
            && realm != consent.account.as_str()
        {
            return refuse(
                Detail::InvalidRealm,
                &format!(
                    "realm {:?} is not the consenting account; expected {:?}",
                    clip(realm),
                    consent.account.as_str()
                ),
                Some(&consent),
            );
        }
        if let Err((detail, why)) = still_allowed(&integration, &row) {
            return refuse(detail, why, Some(&consent));
        }
        let mut tx = self.tx(TxMode::Write).await?;
        if !self.claim_nonce(tx.as_mut(), &signed, &params).await? {
            return refuse(Detail::NonceUsed, NONCE_USED, Some(&consent));
        }
        let mut exchanged = row.clone();
        exchanged.state = RequestTokenState::Exchanged;
        if !tx
            .advance_request_token(&exchanged, RequestTokenState::Authorized)
            .await?
        {
            return refuse(
                Detail::RequestTokenUsed,
                "this request token was exchanged already",
                Some(&consent),
            );
        }
        let actor = Actor::user(
            &consent.account,
            consent.user,
            consent.role,
            Context::Endpoint,
        );
        let created = match principal(tx.as_mut(), &actor).await {
            Ok(p) => {
                let input = NewTokenInput {
                    integration: integration.id,
                    user: consent.user,
                    role: consent.role,
                    name: None,
                    // The account's maximum lifetime, if it sets one (R16).
                    expires_at: None,
                };
                self.create_token_in(tx.as_mut(), &p, input, None, MayCreate::ByConsent)
                    .await
            }
            Err(e) => Err(e),
        };
        let (token, credentials) = match created {
            Ok(created) => created,
            // The consent no longer holds: the user, the role, the record or the account
            // changed since. Nothing is written; the request token stays authorized.
            Err(Error::NotPermitted { why }) | Err(Error::Invalid { why, .. }) => {
                let installed = tx.installation(integration.id, &consent.account).await?;
                let detail = if installed.is_some_and(|i| i.state != InstallState::Enabled) {
                    Detail::IntegrationBlocked
                } else {
                    Detail::EntityOrRoleDisabled
                };
                return refuse(detail, &why, Some(&consent));
            }
            Err(Error::NotFound { what }) => {
                return refuse(
                    Detail::EntityOrRoleDisabled,
                    &format!("{what} not found"),
                    Some(&consent),
                );
            }
            Err(e) => return Err(e),
        };
        self.commit(tx).await?;
        Ok(FlowOutcome::Granted(ExchangedToken { token, credentials }))
    }
}
