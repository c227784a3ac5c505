//! Step 1, `POST /rest/requesttoken`.

use super::*;

impl Tessera {
    /// `POST /rest/requesttoken`: a request token for an integration record with the
    /// authorization flow on, bound to the callback the request names. The outer `Result` is a
    /// failure of the server; the outcome is the answer.
    pub async fn issue_request_token(
        &self,
        request: &SignedRequest<'_>,
        profile: &Profile,
    ) -> Result<FlowOutcome<IssuedRequestToken>> {
        let signed = match read_flow(request, profile, &[OAuthParam::Callback], false) {
            Ok(s) => s,
            Err(outcome) => return Ok(outcome),
        };
        let params = signed.params();
        let stored = self.integration_for_flow(params.consumer_key).await?;
        let key = stored
            .as_ref()
            .and_then(|(_, secret)| secret.as_ref())
            .map(|cs| SigningKey::consumer_only(cs.expose()));
        // The HMAC is computed on every path, with a throwaway key when there is no real one.
        let matches = self.check_signature(key.as_ref(), &signed.base_string, params.signature)?;
        let Some((stored, Some(_))) = stored else {
            return Ok(FlowOutcome::Refused(FlowRefusal::new(
                Detail::UnknownIntegration,
                "no integration record has this consumer key",
            )));
        };
        let integration = stored.integration;
        let refuse = |detail, note: String| {
            Ok(FlowOutcome::Refused(
                FlowRefusal::new(detail, note).of(&integration),
            ))
        };
        if !matches {
            return refuse(
                Detail::InvalidSignature,
                "the signature does not match the request (key: consumer secret and an empty token secret)".to_owned(),
            );
        }
        let switches = &integration.switches;
        if !switches.token_based_auth || !switches.tba_authorization_flow {
            return refuse(
                Detail::AuthorizationFlowRequired,
                "the integration record does not have TBA: Authorization Flow on".to_owned(),
            );
        }
        // A realm, when sent, is an account id exactly as §3 wants it (canonical form).
        let realm = match signed.header.realm().filter(|r| !r.is_empty()) {
            None => None,
            Some(realm) => match AccountId::parse(realm) {
                Ok(account) if account.as_str() == realm => Some(account),
                _ => {
                    return refuse(
                        Detail::InvalidRealm,
                        format!(
                            "realm {:?} is not an account id as written (e.g. 1234567_SB1)",
                            clip(realm)
                        ),
                    );
                }
            },
        };
        // From here on, a refusal concerns the account the realm named, when it named one.
        let refuse = |detail, note: String| {
            let refusal = FlowRefusal::new(detail, note).of(&integration);
            Ok(FlowOutcome::Refused(match &realm {
                Some(account) => refusal.in_account(account),
                None => refusal,
            }))
        };
        if let Some(account) = &realm {
            let mut tx = self.tx(TxMode::Read).await?;
            let installation = tx.installation(integration.id, account).await?;
            drop(tx);
            if installation.is_some_and(|i| i.state == InstallState::Blocked) {
                return refuse(
                    Detail::IntegrationBlocked,
                    format!("the integration record is blocked in account {account}"),
                );
            }
        }
        let callback = signed.header.get(OAuthParam::Callback).unwrap_or("");
        let registered = switches.callback_url.as_deref().unwrap_or("");
        if !callback_matches(registered, callback) {
            return refuse(
                Detail::InvalidCallback,
                format!(
                    "oauth_callback {:?} is not the record's callback URL {registered:?}",
                    clip(callback)
                ),
            );
        }
        let token_id = TokenId::generate()?;
        let token_secret = generate_secret()?;
        let sealed = self
            .keyring
            .seal(&token_secret, SecretSlot::RequestTokenSecret(&token_id))?;
        let now = Timestamp::now();
        let row = RequestTokenRow {
            token_id: token_id.clone(),
            integration: integration.id,
            token_secret: sealed,
            callback: callback.to_owned(),
            realm: realm.clone(),
            created_at: now,
            expires_at: later(now, REQUEST_TOKEN_LIFETIME),
            state: RequestTokenState::Pending,
            consent: None,
        };
        let mut tx = self.tx(TxMode::Write).await?;
        if !self.claim_nonce(tx.as_mut(), &signed, &params).await? {
            return refuse(Detail::NonceUsed, NONCE_USED.to_owned());
        }
        tx.insert_request_token(&row).await?;
        self.commit(tx).await?;
        Ok(FlowOutcome::Granted(IssuedRequestToken {
            token_id,
            token_secret,
            account: row
                .realm
                .clone()
                .unwrap_or_else(|| integration.owner.clone()),
            integration: (integration.id, integration.name),
        }))
    }
}
