//! The verifier over both stores: a signed request is accepted exactly once, and every change
//! that stops a token stops it for the next request, whatever the grant cache holds.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use support::Env;
use support::world::World;
use tessera_core::credentials::{ConsumerCredentials, TokenCredentials};
use tessera_core::ids::TokenKey;
use tessera_core::model::InstallState;
use tessera_core::store::{AttemptQuery, TokenUse};
use tessera_core::verifier::{
    Outcome, RequestContext, SignedRequest, Verifier, VerifierConfig, nonce_digest,
};
use tessera_core::{InstallationChanges, ResetConfirmation};
use tessera_oauth1::{RequestToSign, RequestUrl, Signer};

on_both_backends!(
    a_request_is_accepted_once_then_nonce_used,
    copies_in_parallel_are_accepted_exactly_once,
    a_new_verifier_on_the_same_store_refuses_the_replay,
    revoke_inactive_block_take_effect_on_the_next_request,
    reset_stops_the_old_pair_and_tokens_work_with_the_new_one,
    wrong_signature_realm_and_unknown_keys_are_refused_with_their_detail,
    expired_nonce_records_are_purged_and_fresh_ones_kept,
    a_change_through_another_service_on_the_same_store_is_seen,
    a_failed_group_writes_nothing_accepts_nothing_and_the_next_one_works,
    use_moves_last_used_at,
    the_cache_is_warmed_with_active_tokens_only,
    administration_writes_succeed_while_claims_are_committed,
    every_audit_field_is_read_back_as_written,
    gap13_audit_rows_past_their_retention_are_purged_in_batches,
    every_detail_code_is_stored_filtered_and_read_back,
    a_hostile_audit_text_never_fails_its_group,
    r16_a_token_stops_at_its_expiry_cached_or_not,
    r18_a_bulk_change_stops_its_tokens_before_it_returns,
    r17_allow_lists_refuse_other_addresses_after_the_signature,
    the_signature_debugger_keeps_what_the_server_computed_while_open,
);

/// R17 across nodes: an allow-list set through another node (SQL beside this node's store, so
/// no change epoch moves here) refuses a request this node's cached grant would let through,
/// in the claim's own statement, with its own Detail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_r17_an_allow_list_set_on_another_node_refuses_here() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    let (w, verifier, _, creds) = setup(&env).await;
    let fresh = || header(&w.app_creds, &creds, "1234567", None);
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "accepted");
    let mut raw = env.raw().await;
    for (sql, allowed) in [
        (
            "UPDATE installations SET ip_allow = '10.0.0.0/8,127.0.0.1/32'",
            true,
        ),
        ("UPDATE installations SET ip_allow = '10.0.0.0/8'", false),
        ("UPDATE installations SET ip_allow = NULL", true),
        ("UPDATE accounts SET ip_allow = '2001:db8::/32'", false),
    ] {
        sqlx::query(sql).execute(&mut raw).await.unwrap();
        let expected = if allowed { "accepted" } else { "IpNotAllowed" };
        assert_eq!(
            detail(&verify(&verifier, &fresh()).await),
            expected,
            "{sql}"
        );
    }
    // A claim without an address passes no list.
    let outcome = verifier
        .verify(
            &signed(&fresh()),
            &RequestContext {
                client_ip: None,
                ..context()
            },
        )
        .await
        .unwrap();
    assert_eq!(detail(&outcome), "IpNotAllowed");
    env.finish().await;
}

/// R18 across nodes: a bulk revoke made through another node (its own store object, so this
/// node's change epoch does not move and its grant stays cached) still stops the token here,
/// in the claim's own statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_r18_a_bulk_revoke_through_another_node_stops_the_token_here() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    let (w, verifier, key, creds) = setup(&env).await;
    let fresh = || header(&w.app_creds, &creds, "1234567", None);
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "accepted");
    let other = tessera_store::SqlStore::connect(
        &env.database_url().unwrap(),
        tessera_store::StoreOptions::default(),
    )
    .await
    .unwrap();
    // A bulk change opens no secret: this node's own keyring would do as well.
    let node2 = tessera_core::Tessera::new(Arc::new(other.clone()), support::keyring());
    let filter = tessera_core::store::TokenFilter {
        user: Some(w.alice.id),
        ..Default::default()
    };
    let done = node2
        .apply_bulk(
            &w.manager.actor,
            filter,
            tessera_core::BulkAction::Revoke,
            1,
        )
        .await
        .unwrap();
    assert_eq!(done.changed, [key]);
    assert_eq!(
        verifier.cached_grants(),
        1,
        "the grant is still cached here"
    );
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "TokenRevoked");
    other.close().await;
    env.finish().await;
}

/// Several nodes on one PostgreSQL: a change made by another node moves no change epoch here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_change_by_another_node_still_stops_the_claim() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    a_change_behind_the_cache_still_stops_the_claim(&env).await;
    env.finish().await;
}

/// Two nodes on one PostgreSQL write groups holding the same nonces in opposite orders, at the
/// same time, round after round: every nonce is accepted by exactly one of them, and no group
/// fails. Before the group statement inserted in digest order, opposite orders deadlocked (in
/// one round of five here) and PostgreSQL aborted one group, refusing all its claims. The
/// groups are large so that the two statements overlap. Each accepted claim has its success row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_claiming_the_same_nonces_in_opposite_orders_never_deadlock() {
    use tessera_core::store::Store;
    let Some(env) = Env::postgres().await else {
        return;
    };
    let w = World::build(&env.svc).await;
    let (key, creds) = w.token(&env.svc, &w.alice, w.token_login_role).await;
    let other = tessera_store::SqlStore::connect(
        &env.database_url().unwrap(),
        tessera_store::StoreOptions::default(),
    )
    .await
    .unwrap();
    let nodes: [Arc<dyn Store>; 2] = [env.svc.store().clone(), Arc::new(other.clone())];
    let now = unix_now();
    let claim =
        |round: usize, i: usize| success_claim(&w, &creds, key, &format!("{round}-{i}"), now);
    const ROUNDS: usize = 10;
    const CLAIMS: usize = 4000;
    for round in 0..ROUNDS {
        let forward: Vec<_> = (0..CLAIMS).map(|i| claim(round, i)).collect();
        let backward: Vec<_> = forward.iter().rev().cloned().collect();
        let (a, b) = tokio::join!(
            nodes[0].record_logins(forward, Vec::new()),
            nodes[1].record_logins(backward, Vec::new()),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        for i in 0..CLAIMS {
            assert!(
                a[i] ^ b[CLAIMS - 1 - i],
                "round {round}, nonce {i}: accepted by both or by neither"
            );
        }
    }
    let mut raw = env.raw().await;
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM nonces) AS nonces, \
         (SELECT COUNT(*) FROM login_audit WHERE success = 1) AS successes",
    )
    .fetch_one(&mut raw)
    .await
    .unwrap();
    let expected = i64::try_from(ROUNDS * CLAIMS).unwrap();
    assert_eq!(sqlx::Row::get::<i64, _>(&row, "nonces"), expected);
    assert_eq!(sqlx::Row::get::<i64, _>(&row, "successes"), expected);
    other.close().await;
    env.finish().await;
}

/// A refusal's row names what the request named (an email, a user agent): a NUL, which
/// PostgreSQL's text and JSON refuse, failed the whole group before, refusing every claim in it
/// and losing its other rows; a megabyte email was stored whole. Now each text is clipped and its
/// NUL replaced, in the one list both engines bind.
async fn a_hostile_audit_text_never_fails_its_group(env: &Env) {
    let (w, verifier, key, creds) = setup(env).await;
    let store = env.svc.store().clone();
    let claim = success_claim(&w, &creds, key, "hostile-neighbour", unix_now());
    let hostile = tessera_core::store::LoginAttempt {
        email: Some(format!("a\0b{}", "x".repeat(1_000_000))),
        user_agent: "ua\0".into(),
        request_uri: format!("/\0{}", "y".repeat(10_000)),
        detail: tessera_core::Detail::InvalidCredentials,
        at: tessera_core::model::Timestamp::now(),
        ..Default::default()
    };
    let accepted = store
        .record_logins(vec![claim], vec![hostile])
        .await
        .unwrap();
    assert_eq!(accepted, [true]);
    let rows = store
        .login_attempts(&AttemptQuery {
            limit: 10,
            ..AttemptQuery::default()
        })
        .await
        .unwrap();
    let row = rows
        .iter()
        .find(|r| r.detail == tessera_core::Detail::InvalidCredentials)
        .unwrap();
    let email = row.email.as_deref().unwrap();
    assert!(email.starts_with("a\u{FFFD}b"), "{}", &email[..10]);
    assert_eq!(email.chars().count(), 512);
    assert_eq!(row.user_agent, "ua\u{FFFD}");
    assert_eq!(row.request_uri.chars().count(), 2048);
    assert!(rows.iter().any(|r| r.success));
    // The verifier's own requests go on.
    assert_eq!(
        detail(&verify(&verifier, &fresh_header(&w, &creds)).await),
        "accepted"
    );
}

/// The server ends the session the verifier writes its groups on (`pg_terminate_backend`, as an
/// administrator, an idle-session limit or a failover would): the next request is still
/// accepted. The connection is not pinged while busy, so before this the next group failed with
/// "terminating connection due to administrator command" and its requests were answered 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_group_connection_ended_by_the_server_costs_no_request() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    let (w, verifier, _, creds) = setup(&env).await;
    assert_eq!(
        detail(&verify(&verifier, &fresh_header(&w, &creds)).await),
        "accepted"
    );
    let mut raw = env.raw().await;
    let ended = sqlx::query(
        "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE application_name = $1 AND query LIKE 'WITH v AS (%'",
    )
    .bind(env.schema().unwrap())
    .fetch_one(&mut raw)
    .await
    .unwrap();
    assert_eq!(sqlx::Row::get::<i64, _>(&ended, "n"), 1);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        detail(&verify(&verifier, &fresh_header(&w, &creds)).await),
        "accepted"
    );
    env.finish().await;
}

/// A request answered "unavailable" because the store was held up does not have its nonce
/// spent later. A lock holds the claim statements; the store's statements are cancelled after
/// its acquire time-out (3 s), and requests wait 4 s. The group ahead is
/// cancelled; the request queued behind it would stop waiting before its own statement could
/// finish, so its group is not sent. Both requests are accepted when sent again after the lock
/// goes. Before, the queued claim was written once the lock went, and the request sent again
/// was refused as a replay, with a success in the trail that nobody received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_claim_whose_request_gave_up_is_not_written() {
    use sqlx::Executor;
    let Some(env) = Env::postgres().await else {
        return;
    };
    let w = World::build(&env.svc).await;
    let (_, creds) = w.token(&env.svc, &w.alice, w.token_login_role).await;
    let verifier = Verifier::start(
        env.svc.clone(),
        VerifierConfig {
            store_wait: std::time::Duration::from_secs(4),
            ..VerifierConfig::default()
        },
    );
    // The grant in the cache first, so that only the claim waits.
    assert_eq!(
        detail(&verify(&verifier, &fresh_header(&w, &creds)).await),
        "accepted"
    );
    let mut lock = env.raw().await;
    lock.execute("BEGIN").await.unwrap();
    lock.execute("LOCK TABLE nonces IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let ahead = fresh_header(&w, &creds);
    let behind = fresh_header(&w, &creds);
    let request = |h: String| {
        let verifier = verifier.clone();
        tokio::spawn(async move { verifier.verify(&signed(&h), &context()).await.is_err() })
    };
    let first = request(ahead.clone());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = request(behind.clone());
    assert!(
        first.await.unwrap(),
        "the request ahead is answered unavailable"
    );
    assert!(
        second.await.unwrap(),
        "the request behind is answered unavailable"
    );
    // Released before a statement sent behind the first one would be cancelled (3 s + 3 s).
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    lock.execute("COMMIT").await.unwrap();
    verifier.flush().await;
    assert_eq!(detail(&verify(&verifier, &behind).await), "accepted");
    assert_eq!(detail(&verify(&verifier, &ahead).await), "accepted");
    env.finish().await;
}

const URL: &str =
    "https://1234567.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=1&deploy=1";

fn context() -> RequestContext {
    RequestContext {
        surface: "restlet",
        ip: "127.0.0.1".into(),
        client_ip: Some(std::net::IpAddr::from([127, 0, 0, 1])),
        user_agent: "test".into(),
        method: "GET".into(),
        request_uri: "/app/site/hosting/restlet.nl?script=1&deploy=1".into(),
    }
}

fn header(
    app: &ConsumerCredentials,
    token: &TokenCredentials,
    realm: &str,
    nonce: Option<&str>,
) -> String {
    Signer::new(
        app.consumer_key.as_str(),
        &app.consumer_secret,
        token.token_id.as_str(),
        &token.token_secret,
    )
    .with_realm(realm)
    .sign(&RequestToSign {
        method: "GET",
        url: URL,
        nonce,
        ..RequestToSign::default()
    })
    .unwrap()
    .authorization
}

async fn verify(verifier: &Verifier, authorization: &str) -> Outcome {
    verifier
        .verify(&signed(authorization), &context())
        .await
        .unwrap()
}

fn detail(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Accepted(_) => "accepted",
        Outcome::Refused(r) => r.detail.as_str(),
        Outcome::Malformed { .. } => "malformed",
    }
}

/// The request every test signs, carrying `authorization`.
fn signed(authorization: &str) -> SignedRequest<'_> {
    SignedRequest {
        method: "GET",
        url: RequestUrl::parse(URL).unwrap(),
        authorization: Some(authorization),
        form_body: None,
        body: b"",
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A claim of `creds` with `nonce` at `timestamp`, as the verifier makes one, whose success row
/// (at the current time: the purge takes older rows) names `key`.
fn success_claim(
    w: &World,
    creds: &TokenCredentials,
    key: TokenKey,
    nonce: &str,
    timestamp: i64,
) -> tessera_core::store::NonceClaim {
    tessera_core::store::NonceClaim {
        digest: nonce_digest(
            w.app_creds.consumer_key.as_str(),
            creds.token_id.as_str(),
            nonce,
            timestamp as u64,
        ),
        consumer_key: w.app_creds.consumer_key.clone(),
        token_id: creds.token_id.clone(),
        timestamp,
        touch_last_used: false,
        answer_by: None,
        client_ip: None,
        success: tessera_core::store::LoginAttempt {
            token: Some(key),
            detail: tessera_core::Detail::Success,
            success: true,
            at: tessera_core::model::Timestamp::now(),
            ..Default::default()
        },
    }
}

async fn setup(env: &Env) -> (World, Verifier, TokenKey, TokenCredentials) {
    let w = World::build(&env.svc).await;
    let (key, creds) = w.token(&env.svc, &w.alice, w.token_login_role).await;
    let verifier = Verifier::start(env.svc.clone(), VerifierConfig::default());
    (w, verifier, key, creds)
}

async fn a_request_is_accepted_once_then_nonce_used(env: &Env) {
    let (w, verifier, key, creds) = setup(env).await;
    let h = header(&w.app_creds, &creds, "1234567", None);
    let Outcome::Accepted(identity) = verify(&verifier, &h).await else {
        panic!("first use must be accepted");
    };
    assert_eq!(identity.token, key);
    assert_eq!(identity.user_name, "Alice Able");
    assert_eq!(identity.role_name, "Token Login");
    assert_eq!(identity.application_name, "Acme Sync");
    assert_eq!(detail(&verify(&verifier, &h).await), "nonce_used");
    verifier.flush().await;
    let rows = env
        .svc
        .store()
        .login_attempts(&AttemptQuery {
            limit: 10,
            ..AttemptQuery::default()
        })
        .await
        .unwrap();
    let details: Vec<&str> = rows.iter().map(|r| r.detail.as_str()).collect();
    assert_eq!(details, ["nonce_used", "Success"]);
    let success = &rows[1];
    assert!(success.success);
    assert_eq!(success.token, Some(key));
    assert_eq!(
        success.token_name.as_deref(),
        Some("Acme Sync - Alice Able - Token Login")
    );
    assert_eq!(success.email.as_deref(), Some("alice.able@example.com"));
    assert_eq!(success.surface, "restlet");
    // No secret or signature reaches the audit trail.
    let dump = format!("{rows:?}");
    assert!(!dump.contains(creds.token_secret.expose()));
    assert!(!dump.contains(w.app_creds.consumer_secret.expose()));
    assert!(!dump.contains("oauth_signature"));
}

async fn copies_in_parallel_are_accepted_exactly_once(env: &Env) {
    let (w, verifier, _, creds) = setup(env).await;
    // Warm the grant cache, so the copies race on the claim alone.
    let first = header(&w.app_creds, &creds, "1234567", None);
    assert_eq!(detail(&verify(&verifier, &first).await), "accepted");
    let h = Arc::new(header(&w.app_creds, &creds, "1234567", None));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (v, h) = (verifier.clone(), h.clone());
            tokio::spawn(async move { detail(&verify(&v, &h).await).to_owned() })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap().as_str() {
            "accepted" => accepted += 1,
            "nonce_used" => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(accepted, 1);
}

async fn a_new_verifier_on_the_same_store_refuses_the_replay(env: &Env) {
    let (w, verifier, _, creds) = setup(env).await;
    let h = header(&w.app_creds, &creds, "1234567", None);
    assert_eq!(detail(&verify(&verifier, &h).await), "accepted");
    // Another process (or node) with its own empty cache and its own writer.
    let other = Verifier::start(env.svc.clone(), VerifierConfig::default());
    assert_eq!(detail(&verify(&other, &h).await), "nonce_used");
}

async fn revoke_inactive_block_take_effect_on_the_next_request(env: &Env) {
    let (w, verifier, key, creds) = setup(env).await;
    let fresh = || header(&w.app_creds, &creds, "1234567", None);
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "accepted");

    env.svc
        .set_token_inactive(&w.manager.actor, key, true)
        .await
        .unwrap();
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "TokenInactive");
    env.svc
        .set_token_inactive(&w.manager.actor, key, false)
        .await
        .unwrap();
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "accepted");

    let block = |state| InstallationChanges {
        state: Some(state),
        note: None,
        concurrency_limit: None,
        ip_allow: None,
    };
    env.svc
        .update_installation(&w.admin.actor, w.app, block(InstallState::Blocked))
        .await
        .unwrap();
    assert_eq!(
        detail(&verify(&verifier, &fresh()).await),
        "consumer_key_refused"
    );
    env.svc
        .update_installation(&w.admin.actor, w.app, block(InstallState::Enabled))
        .await
        .unwrap();
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "accepted");

    env.svc.revoke_token(&w.manager.actor, key).await.unwrap();
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "TokenRevoked");
}

/// Another node (here: SQL run beside the service, which moves no change epoch) revokes the
/// token while this verifier holds its grant in cache: the claim still refuses. (SQLite has no
/// other node: its data directory is locked by the one process.)
async fn a_change_behind_the_cache_still_stops_the_claim(env: &Env) {
    let (w, verifier, key, creds) = setup(env).await;
    let fresh = || header(&w.app_creds, &creds, "1234567", None);
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "accepted");
    assert_eq!(verifier.cached_grants(), 1);
    let mut raw = env.raw().await;
    for sql in [
        "UPDATE access_tokens SET revoked = 1, revoked_at = 1 WHERE id = $1",
        "UPDATE access_tokens SET revoked = 0, revoked_at = NULL, inactive = 1 WHERE id = $1",
    ] {
        sqlx::query(sql)
            .bind(key.get())
            .execute(&mut raw)
            .await
            .unwrap();
        let outcome = verify(&verifier, &fresh()).await;
        assert!(matches!(outcome, Outcome::Refused(_)), "{sql}: {outcome:?}");
    }
    let role = w.token_login_role.get();
    sqlx::query("UPDATE access_tokens SET inactive = 0 WHERE id = $1")
        .bind(key.get())
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "accepted");
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2")
        .bind(w.alice.id.get())
        .bind(role)
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        detail(&verify(&verifier, &fresh()).await),
        "EntityOrRoleDisabled"
    );
}

async fn reset_stops_the_old_pair_and_tokens_work_with_the_new_one(env: &Env) {
    let (w, verifier, _, creds) = setup(env).await;
    assert_eq!(
        detail(&verify(&verifier, &header(&w.app_creds, &creds, "1234567", None)).await),
        "accepted"
    );
    let (_, new_pair) = env
        .svc
        .reset_credentials(&w.admin.actor, w.app, ResetConfirmation::Confirmed)
        .await
        .unwrap();
    assert_eq!(
        detail(&verify(&verifier, &header(&w.app_creds, &creds, "1234567", None)).await),
        "consumer_key_unknown"
    );
    assert_eq!(
        detail(&verify(&verifier, &header(&new_pair, &creds, "1234567", None)).await),
        "accepted"
    );
}

async fn wrong_signature_realm_and_unknown_keys_are_refused_with_their_detail(env: &Env) {
    let (w, verifier, _, creds) = setup(env).await;
    let wrong_secret = TokenCredentials {
        token_id: creds.token_id.clone(),
        token_secret: tessera_core::SecretString::new("0".repeat(64)),
    };
    assert_eq!(
        detail(
            &verify(
                &verifier,
                &header(&w.app_creds, &wrong_secret, "1234567", None)
            )
            .await
        ),
        "InvalidSignature"
    );
    let Outcome::Refused(r) = verify(
        &verifier,
        &header(&w.app_creds, &creds, "1234567_SB1", None),
    )
    .await
    else {
        panic!("a wrong realm must be refused");
    };
    assert_eq!(r.detail, "InvalidRealm");
    assert!(r.note.contains("expected \"1234567\""), "{}", r.note);
    let unknown_token = TokenCredentials {
        token_id: tessera_core::ids::TokenId::parse(&"ab".repeat(32)).unwrap(),
        token_secret: creds.token_secret.clone(),
    };
    assert_eq!(
        detail(
            &verify(
                &verifier,
                &header(&w.app_creds, &unknown_token, "1234567", None)
            )
            .await
        ),
        "InvalidToken"
    );
    let unknown_app = ConsumerCredentials {
        consumer_key: tessera_core::ids::ConsumerKey::parse(&"cd".repeat(32)).unwrap(),
        consumer_secret: w.app_creds.consumer_secret.clone(),
    };
    assert_eq!(
        detail(&verify(&verifier, &header(&unknown_app, &creds, "1234567", None)).await),
        "consumer_key_unknown"
    );
    // Refusals never wrote a nonce record: the same nonce still works when signed right.
    let h = header(&w.app_creds, &creds, "1234567", Some("same-nonce-1"));
    assert_eq!(detail(&verify(&verifier, &h).await), "accepted");
}

async fn expired_nonce_records_are_purged_and_fresh_ones_kept(env: &Env) {
    let (w, verifier, key, creds) = setup(env).await;
    let h = header(&w.app_creds, &creds, "1234567", None);
    assert_eq!(detail(&verify(&verifier, &h).await), "accepted");
    let store = env.svc.store().clone();
    let now = unix_now();
    // Older than this test's purge (before now - 300) but newer than the verifier's own purge,
    // which may run meanwhile (it takes records older than the window and margin, 600 s).
    let claim = success_claim(&w, &creds, key, "c", now - 400);
    let old = claim.digest;
    assert_eq!(
        store
            .record_logins(vec![claim.clone()], Vec::new())
            .await
            .unwrap(),
        [true]
    );
    assert_eq!(
        store.record_logins(vec![claim], Vec::new()).await.unwrap(),
        [false]
    );
    assert!(store.nonce_exists(&old, now - 400).await.unwrap());
    let purged = store.purge_nonces(now - 300, 100).await.unwrap();
    assert_eq!(purged, 1);
    assert!(!store.nonce_exists(&old, now - 400).await.unwrap());
    // The record inside the window stays.
    assert_eq!(detail(&verify(&verifier, &h).await), "nonce_used");
}

/// A second service value over the same store (as every handler of one server holds) shares
/// its change epoch: its revocation is seen at once by a verifier holding a cached grant.
async fn a_change_through_another_service_on_the_same_store_is_seen(env: &Env) {
    let (w, verifier, key, creds) = setup(env).await;
    let fresh = || header(&w.app_creds, &creds, "1234567", None);
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "accepted");
    let other = tessera_core::Tessera::new(env.svc.store().clone(), support::keyring());
    other.revoke_token(&w.manager.actor, key).await.unwrap();
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "TokenRevoked");
}

/// The group's transaction fails (an audit insert refused by a trigger): its claims are refused,
/// none of its rows stay, and the next group, on the same connection, commits.
async fn a_failed_group_writes_nothing_accepts_nothing_and_the_next_one_works(env: &Env) {
    use sqlx::Executor;
    let (w, verifier, _, creds) = setup(env).await;
    let mut raw = env.raw().await;
    let trigger = match env.backend {
        tessera_store::Backend::Sqlite => {
            "CREATE TRIGGER audit_fail BEFORE INSERT ON login_audit BEGIN \
             SELECT RAISE(ABORT, 'audit refused by test'); END"
        }
        tessera_store::Backend::Postgres => {
            "CREATE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'audit refused by test'; END; $$; \
             CREATE TRIGGER audit_fail BEFORE INSERT ON login_audit \
             FOR EACH ROW EXECUTE FUNCTION audit_fail()"
        }
    };
    raw.execute(trigger).await.unwrap();
    let h = header(&w.app_creds, &creds, "1234567", None);
    assert!(verifier.verify(&signed(&h), &context()).await.is_err());
    let count = |table: &'static str| {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        async move {
            let mut raw = env.raw().await;
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut raw)
                .await
                .unwrap();
            sqlx::Row::get::<i64, _>(&row, "n")
        }
    };
    assert_eq!(count("nonces").await, 0);
    let drop = match env.backend {
        tessera_store::Backend::Sqlite => "DROP TRIGGER audit_fail",
        tessera_store::Backend::Postgres => "DROP TRIGGER audit_fail ON login_audit",
    };
    raw.execute(drop).await.unwrap();
    // A new request works; the refused one stays refused (the safe side) or works again on
    // PostgreSQL, where its record was rolled back with the rest.
    assert_eq!(
        detail(&verify(&verifier, &fresh_header(&w, &creds)).await),
        "accepted"
    );
    assert_eq!(count("nonces").await, 1);
    assert_eq!(count("login_audit").await, 1);
}

fn fresh_header(w: &World, creds: &TokenCredentials) -> String {
    header(&w.app_creds, creds, "1234567", None)
}

async fn use_moves_last_used_at(env: &Env) {
    let (w, verifier, key, creds) = setup(env).await;
    let before = env.svc.token(&w.manager.actor, key).await.unwrap().token;
    assert_eq!(before.last_used_at, None);
    // Directly: a move forward is kept, a move back is not, a gone token is skipped.
    let store = env.svc.store();
    let t = |ms| tessera_core::model::Timestamp::from_millis(ms);
    let from = |token, ms, ip: &str| TokenUse {
        token,
        at: t(ms),
        ip: Some(ip.to_owned()),
    };
    store
        .record_token_use(vec![from(key, 2_000, "192.0.2.2")])
        .await
        .unwrap();
    // The address moves with the time only: an older use keeps neither.
    store
        .record_token_use(vec![
            from(key, 1_000, "192.0.2.1"),
            TokenUse::at(TokenKey::new(999_999), t(5)),
        ])
        .await
        .unwrap();
    let mid = env.svc.token(&w.manager.actor, key).await.unwrap().token;
    assert_eq!(mid.last_used_at, Some(t(2_000)));
    assert_eq!(mid.last_used_from.as_deref(), Some("192.0.2.2"));
    store
        .record_token_use(vec![from(key, 3_000, "2001:db8::3")])
        .await
        .unwrap();
    let mid = env.svc.token(&w.manager.actor, key).await.unwrap().token;
    assert_eq!(mid.last_used_at, Some(t(3_000)));
    assert_eq!(mid.last_used_from.as_deref(), Some("2001:db8::3"));
    assert_eq!(
        detail(&verify(&verifier, &fresh_header(&w, &creds)).await),
        "accepted"
    );
    // Written from memory every few seconds, and by a flush (as at shutdown).
    verifier.flush().await;
    let after = env.svc.token(&w.manager.actor, key).await.unwrap().token;
    let used = after
        .last_used_at
        .expect("last_used_at is set by a successful request");
    // R17: with the address the request came from, shown on the token's page.
    assert_eq!(after.last_used_from.as_deref(), Some("127.0.0.1"));
    assert!(
        used.millis() > before.created_at.millis() - 1000,
        "{used:?} vs created {:?}",
        before.created_at
    );
}

/// At start the verifier reads every active token's grant in the background; revoked and
/// inactive tokens are not among them, and a warmed grant still obeys a later revocation.
async fn the_cache_is_warmed_with_active_tokens_only(env: &Env) {
    let w = World::build(&env.svc).await;
    let (alice_key, creds) = w.token(&env.svc, &w.alice, w.token_login_role).await;
    let (bob_key, _) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    let (revoked, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    env.svc
        .revoke_token(&w.manager.actor, revoked)
        .await
        .unwrap();
    env.svc
        .set_token_inactive(&w.manager.actor, bob_key, true)
        .await
        .unwrap();
    let verifier = Verifier::start(env.svc.clone(), VerifierConfig::default());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while verifier.cached_grants() < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(verifier.cached_grants(), 1, "only Alice's active token");
    assert_eq!(
        detail(&verify(&verifier, &fresh_header(&w, &creds)).await),
        "accepted"
    );
    env.svc
        .revoke_token(&w.manager.actor, alice_key)
        .await
        .unwrap();
    assert_eq!(
        detail(&verify(&verifier, &fresh_header(&w, &creds)).await),
        "TokenRevoked"
    );
}

/// The hot path commits claims continuously while administrators change things: every change
/// goes through (on SQLite the two writers take turns; a change that reads, then writes, must
/// not find its snapshot overtaken by a claim's commit).
async fn administration_writes_succeed_while_claims_are_committed(env: &Env) {
    let (w, verifier, _, creds) = setup(env).await;
    let (other, _) = w.token(&env.svc, &w.alice, w.token_login_role).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (verifier, stop) = (verifier.clone(), stop.clone());
        let signer = Signer::new(
            w.app_creds.consumer_key.as_str(),
            &w.app_creds.consumer_secret,
            creds.token_id.as_str(),
            &creds.token_secret,
        )
        .with_realm("1234567");
        load.push(tokio::spawn(async move {
            let mut accepted = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let to_sign = RequestToSign {
                    method: "GET",
                    url: URL,
                    ..RequestToSign::default()
                };
                let h = signer.sign(&to_sign).unwrap().authorization;
                if detail(&verify(&verifier, &h).await) == "accepted" {
                    accepted += 1;
                }
            }
            accepted
        }));
    }
    for i in 0..40 {
        env.svc
            .set_token_inactive(&w.manager.actor, other, i % 2 == 0)
            .await
            .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut accepted = 0;
    for task in load {
        accepted += task.await.unwrap();
    }
    assert!(accepted > 0, "the load ran alongside the changes");
    verifier.flush().await;
}

/// Each of the audit fields lands in its own column, with and without values; a signature
/// capture is read on its own.
async fn every_audit_field_is_read_back_as_written(env: &Env) {
    use tessera_core::ids::{AccountId, IntegrationId, RoleId, UserId};
    use tessera_core::model::Timestamp;
    use tessera_core::store::LoginAttempt;
    let store = env.svc.store();
    let full = LoginAttempt {
        id: None,
        at: Timestamp::from_millis(1_790_000_000_123),
        account: Some(AccountId::parse("TSTDRV42").unwrap()),
        user: Some(UserId::new(11)),
        user_name: Some("Ann Ö'Neil".into()),
        email: Some("ann@example.com".into()),
        role: Some(RoleId::new(12)),
        role_name: Some("Role \"quoted\"".into()),
        ip: "2001:db8::1".into(),
        user_agent: "agent/1.0".into(),
        method: "PATCH".into(),
        request_uri: "/services/rest/x?a=1&oauth_token=***".into(),
        surface: "rest".into(),
        success: false,
        detail: tessera_core::Detail::InvalidSignature,
        detail_note: "a note".into(),
        integration: Some(IntegrationId::new(13)),
        application_name: Some("App".into()),
        token: Some(TokenKey::new(14)),
        token_name: Some("Token".into()),
        signature_capture: Some("{\"base_string\":\"GET&x&y\",\"scheme\":\"oauth\"}".into()),
        has_signature_capture: false,
    };
    let bare = LoginAttempt {
        at: Timestamp::from_millis(1_790_000_000_456),
        ip: "127.0.0.1".into(),
        method: "GET".into(),
        request_uri: "/".into(),
        surface: "restlet".into(),
        detail: tessera_core::Detail::MissingRequiredParameter,
        ..LoginAttempt::default()
    };
    store
        .record_logins(Vec::new(), vec![full.clone(), bare.clone()])
        .await
        .unwrap();
    let mut rows = store
        .login_attempts(&AttemptQuery {
            limit: 10,
            ..AttemptQuery::default()
        })
        .await
        .unwrap();
    let id = rows[1].id.unwrap();
    let (account, capture) = store.signature_capture(id).await.unwrap().unwrap();
    assert_eq!(account, full.account);
    assert_eq!(Some(capture), full.signature_capture);
    assert_eq!(
        store.signature_capture(rows[0].id.unwrap()).await.unwrap(),
        None
    );
    for row in &mut rows {
        assert!(row.id.is_some());
        row.id = None;
    }
    // A list says whether a row has a capture, and leaves the capture out.
    let listed_full = LoginAttempt {
        signature_capture: None,
        has_signature_capture: true,
        ..full
    };
    assert_eq!(rows, [bare, listed_full]);
}

/// Issue 14, gap 13: audit rows older than the retention go, in batches of the given size; a
/// batch that comes back short means none that old is left; newer rows stay.
async fn gap13_audit_rows_past_their_retention_are_purged_in_batches(env: &Env) {
    use tessera_core::model::Timestamp;
    use tessera_core::store::LoginAttempt;
    let store = env.svc.store();
    let row = |at_ms: i64, note: &str| LoginAttempt {
        at: Timestamp::from_millis(at_ms),
        ip: "192.0.2.1".into(),
        method: "GET".into(),
        request_uri: "/".into(),
        surface: "restlet".into(),
        detail: tessera_core::Detail::ConsumerKeyUnknown,
        detail_note: note.into(),
        ..LoginAttempt::default()
    };
    let horizon = 1_800_000_000_000;
    let old: Vec<_> = (0..5).map(|i| row(horizon - 10_000 + i, "old")).collect();
    let new: Vec<_> = (0..3).map(|i| row(horizon + i, "new")).collect();
    store.record_logins(Vec::new(), old).await.unwrap();
    store.record_logins(Vec::new(), new).await.unwrap();
    assert_eq!(store.purge_login_attempts(horizon, 2).await.unwrap(), 2);
    assert_eq!(store.purge_login_attempts(horizon, 2).await.unwrap(), 2);
    assert_eq!(store.purge_login_attempts(horizon, 2).await.unwrap(), 1);
    assert_eq!(store.purge_login_attempts(horizon, 2).await.unwrap(), 0);
    let left = store
        .login_attempts(&AttemptQuery {
            limit: 100,
            ..AttemptQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|r| r.detail_note == "new"));
}

/// Every Detail code (the one list, `Detail::ALL`) is written, found by the trail's Detail
/// filter, and read back as itself.
async fn every_detail_code_is_stored_filtered_and_read_back(env: &Env) {
    use tessera_core::Detail;
    use tessera_core::model::Timestamp;
    use tessera_core::store::LoginAttempt;
    let store = env.svc.store();
    let rows: Vec<LoginAttempt> = Detail::ALL
        .iter()
        .enumerate()
        .map(|(i, detail)| LoginAttempt {
            at: Timestamp::from_millis(1_800_000_000_000 + i as i64),
            ip: "192.0.2.7".into(),
            method: "GET".into(),
            request_uri: "/".into(),
            surface: "restlet".into(),
            success: *detail == Detail::Success,
            detail: *detail,
            ..LoginAttempt::default()
        })
        .collect();
    store.record_logins(Vec::new(), rows).await.unwrap();
    for detail in Detail::ALL {
        let found = store
            .login_attempts(&AttemptQuery {
                detail: Some(detail),
                limit: 10,
                ..AttemptQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{detail}");
        assert_eq!(found[0].detail, detail);
    }
}

/// R16: a grant read while the token was live stops at its expiry, in the cache of the
/// verifier that read it as in a new one; the refusal has its own Detail, and the claim
/// statement of a shared database refuses it too (another node's cache is not this one's).
async fn r16_a_token_stops_at_its_expiry_cached_or_not(env: &Env) {
    use tessera_core::model::Timestamp;
    let w = World::build(&env.svc).await;
    let expires = Timestamp::from_millis(Timestamp::now().millis() + 1_500);
    let (key, creds) = w
        .token_expiring(&env.svc, &w.alice, w.token_login_role, Some(expires))
        .await;
    let verifier = Verifier::start(env.svc.clone(), VerifierConfig::default());
    let fresh = || header(&w.app_creds, &creds, "1234567", None);
    let Outcome::Accepted(identity) = verify(&verifier, &fresh()).await else {
        panic!("a token before its expiry is accepted");
    };
    assert_eq!(identity.expires_at, Some(expires));
    assert_eq!(verifier.cached_grants(), 1);
    let late = success_claim(&w, &creds, key, "after-expiry", unix_now() + 2);
    tokio::time::sleep_until(
        tokio::time::Instant::now()
            + std::time::Duration::from_millis(
                u64::try_from(expires.millis() - Timestamp::now().millis()).unwrap_or(0) + 100,
            ),
    )
    .await;
    assert_eq!(detail(&verify(&verifier, &fresh()).await), "TokenExpired");
    let other = Verifier::start(env.svc.clone(), VerifierConfig::default());
    assert_eq!(detail(&verify(&other, &fresh()).await), "TokenExpired");
    verifier.flush().await;
    other.flush().await;
    let rows = env
        .svc
        .store()
        .login_attempts(&AttemptQuery {
            detail: Some(tessera_core::Detail::TokenExpired),
            limit: 10,
            ..AttemptQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.token == Some(key) && !r.success));
    // A shared database checks the expiry in the claim's own statement; SQLite's one process
    // checked it above, before claiming.
    if env.database_url().is_some() {
        let accepted = env
            .svc
            .store()
            .record_logins(vec![late], Vec::new())
            .await
            .unwrap();
        assert_eq!(accepted, [false], "an expired token's claim is refused");
    }
}

/// R18: like a single revoke, a bulk change stops every token it changed for the next
/// request, though their grants are cached.
async fn r18_a_bulk_change_stops_its_tokens_before_it_returns(env: &Env) {
    let (w, verifier, key, creds) = setup(env).await;
    let (key2, creds2) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let fresh = |c: &TokenCredentials| header(&w.app_creds, c, "1234567", None);
    for c in [&creds, &creds2] {
        assert_eq!(detail(&verify(&verifier, &fresh(c)).await), "accepted");
    }
    assert_eq!(verifier.cached_grants(), 2);
    let filter = tessera_core::store::TokenFilter {
        user: Some(w.alice.id),
        ..Default::default()
    };
    let done = env
        .svc
        .apply_bulk(
            &w.manager.actor,
            filter.clone(),
            tessera_core::BulkAction::Inactivate,
            2,
        )
        .await
        .unwrap();
    assert_eq!(done.changed, [key, key2]);
    for c in [&creds, &creds2] {
        assert_eq!(detail(&verify(&verifier, &fresh(c)).await), "TokenInactive");
    }
    env.svc
        .apply_bulk(
            &w.manager.actor,
            filter,
            tessera_core::BulkAction::Revoke,
            2,
        )
        .await
        .unwrap();
    for c in [&creds, &creds2] {
        assert_eq!(detail(&verify(&verifier, &fresh(c)).await), "TokenRevoked");
    }
}

async fn verify_from(verifier: &Verifier, authorization: &str, ip: &str) -> Outcome {
    let client: std::net::IpAddr = ip.parse().unwrap();
    let context = RequestContext {
        ip: ip.to_owned(),
        client_ip: Some(client),
        ..context()
    };
    verifier
        .verify(&signed(authorization), &context)
        .await
        .unwrap()
}

/// R17: an account's list and an installation's both hold the client address, or the request
/// is refused — after the signature (a wrong signature is still `InvalidSignature`), with its
/// own Detail and the address in the note; the next request sees a change of either list.
async fn r17_allow_lists_refuse_other_addresses_after_the_signature(env: &Env) {
    use tessera_core::allow::IpAllowList;
    use tessera_core::{AccountSettings, InstallationChanges};
    let (w, verifier, _, creds) = setup(env).await;
    let fresh = || header(&w.app_creds, &creds, "1234567", None);
    let list = |text: &str| IpAllowList::parse("ip_allow", text).unwrap();
    let account_list = |text: &str| AccountSettings {
        ip_allow: Some(list(text)),
        ..AccountSettings::default()
    };
    env.svc
        .update_account_settings(
            &w.admin.actor,
            &w.a,
            account_list("10.0.0.0/8, 192.0.2.0/24"),
        )
        .await
        .unwrap();
    assert_eq!(
        detail(&verify_from(&verifier, &fresh(), "203.0.113.9").await),
        "IpNotAllowed"
    );
    assert_eq!(
        detail(&verify_from(&verifier, &fresh(), "10.20.30.40").await),
        "accepted"
    );
    // IPv4 seen through a dual-stack socket is the IPv4 address.
    assert_eq!(
        detail(&verify_from(&verifier, &fresh(), "::ffff:10.0.0.1").await),
        "accepted"
    );
    // After the signature: a wrong one from outside the list says so, not the list's verdict.
    let wrong = TokenCredentials {
        token_id: creds.token_id.clone(),
        token_secret: "0".repeat(64).as_str().into(),
    };
    let bad = header(&w.app_creds, &wrong, "1234567", None);
    assert_eq!(
        detail(&verify_from(&verifier, &bad, "203.0.113.9").await),
        "InvalidSignature"
    );
    // The installation's list narrows the account's: both must hold the address.
    let install_list = |text: &str| InstallationChanges {
        state: None,
        note: None,
        concurrency_limit: None,
        ip_allow: Some(list(text)),
    };
    env.svc
        .update_installation(&w.admin.actor, w.app, install_list("192.0.2.0/25"))
        .await
        .unwrap();
    assert_eq!(
        detail(&verify_from(&verifier, &fresh(), "10.20.30.40").await),
        "IpNotAllowed"
    );
    assert_eq!(
        detail(&verify_from(&verifier, &fresh(), "192.0.2.200").await),
        "IpNotAllowed"
    );
    assert_eq!(
        detail(&verify_from(&verifier, &fresh(), "192.0.2.100").await),
        "accepted"
    );
    verifier.flush().await;
    let refused = env
        .svc
        .store()
        .login_attempts(&AttemptQuery {
            detail: Some(tessera_core::Detail::IpNotAllowed),
            limit: 10,
            ..AttemptQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(refused.len(), 3);
    assert_eq!(
        refused[0].detail_note,
        "192.0.2.200 is not in the integration record's IP allow-list"
    );
    assert_eq!(
        refused[2].detail_note,
        "203.0.113.9 is not in the account's IP allow-list"
    );
    assert_eq!(refused[0].ip, "192.0.2.200");
    // The change is noted on the installation (R15).
    let notes = env
        .svc
        .system_notes(
            &w.admin.actor,
            &tessera_core::model::RecordRef::Installation(w.app, w.a.clone()),
        )
        .await
        .unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.field == "IP allow-list" && n.new_value.as_deref() == Some("192.0.2.0/25")),
        "{notes:?}"
    );
    // Cleared, any address again; no known address passes no list.
    env.svc
        .update_installation(&w.admin.actor, w.app, install_list(""))
        .await
        .unwrap();
    env.svc
        .update_account_settings(&w.admin.actor, &w.a, account_list(""))
        .await
        .unwrap();
    assert_eq!(
        detail(&verify_from(&verifier, &fresh(), "203.0.113.9").await),
        "accepted"
    );
    env.svc
        .update_account_settings(&w.admin.actor, &w.a, account_list("10.0.0.0/8"))
        .await
        .unwrap();
    let unknown = verifier
        .verify(
            &signed(&fresh()),
            &RequestContext {
                ip: "unknown".into(),
                client_ip: None,
                ..context()
            },
        )
        .await
        .unwrap();
    assert_eq!(detail(&unknown), "IpNotAllowed");
}

/// The signature debugger: while a window is open for a token (or its record), a refused
/// signature's row keeps the base string the server computed — credentials masked, no secret,
/// no signature — for those who read the account's trail; closed, nothing is kept.
async fn the_signature_debugger_keeps_what_the_server_computed_while_open(env: &Env) {
    use tessera_core::DebugTarget;
    use tessera_oauth1::debug::compare;
    let (w, verifier, key, creds) = setup(env).await;
    let wrong = TokenCredentials {
        token_id: creds.token_id.clone(),
        token_secret: "0".repeat(64).as_str().into(),
    };
    let signer = Signer::new(
        w.app_creds.consumer_key.as_str(),
        &w.app_creds.consumer_secret,
        wrong.token_id.as_str(),
        &wrong.token_secret,
    )
    .with_realm("1234567");
    let mis_signed = || {
        signer
            .sign(&RequestToSign {
                method: "GET",
                url: URL,
                ..RequestToSign::default()
            })
            .unwrap()
    };
    let captured = || async {
        verifier.flush().await;
        env.svc
            .store()
            .login_attempts(&AttemptQuery {
                detail: Some(tessera_core::Detail::InvalidSignature),
                limit: 1,
                ..AttemptQuery::default()
            })
            .await
            .unwrap()
            .remove(0)
    };
    // Closed: nothing kept.
    let first = mis_signed();
    assert_eq!(
        detail(&verify(&verifier, &first.authorization).await),
        "InvalidSignature"
    );
    assert!(!captured().await.has_signature_capture);
    // Only administrators and token managers open it, for at most a day.
    let refused = env
        .svc
        .set_signature_debug(&w.alice.actor, DebugTarget::Token(key), 60)
        .await;
    assert!(
        matches!(refused, Err(tessera_core::Error::NotPermitted { .. })),
        "{refused:?}"
    );
    let too_long = env
        .svc
        .set_signature_debug(&w.manager.actor, DebugTarget::Token(key), 1441)
        .await;
    assert!(matches!(
        too_long,
        Err(tessera_core::Error::Invalid {
            field: "minutes",
            ..
        })
    ));
    let until = env
        .svc
        .set_signature_debug(&w.manager.actor, DebugTarget::Token(key), 60)
        .await
        .unwrap()
        .unwrap();
    assert!(until > tessera_core::model::Timestamp::now());
    let second = mis_signed();
    assert_eq!(
        detail(&verify(&verifier, &second.authorization).await),
        "InvalidSignature"
    );
    let row = captured().await;
    assert!(row.has_signature_capture);
    let capture = env
        .svc
        .signature_capture(&w.admin.actor, row.id.unwrap())
        .await
        .unwrap();
    // Masked: neither credential, nor any secret or signature.
    assert!(
        !capture
            .base_string
            .contains(w.app_creds.consumer_key.as_str())
    );
    assert!(!capture.base_string.contains(creds.token_id.as_str()));
    assert!(!capture.base_string.contains(&second.signature));
    assert!(capture.realm_sent);
    assert_eq!(capture.query_params, ["script", "deploy"]);
    // The client computed the same base string (only its secret was wrong).
    let same = compare(&capture.server_side(), &second.base_string);
    assert_eq!(same.first_difference, None, "{}", capture.base_string);
    // Another account's administrator does not find it; a reader of this one's trail does.
    let other = env
        .svc
        .signature_capture(&w.b_admin.actor, row.id.unwrap())
        .await;
    assert!(
        matches!(other, Err(tessera_core::Error::NotFound { .. })),
        "{other:?}"
    );
    // Closed again: nothing kept.
    env.svc
        .set_signature_debug(&w.manager.actor, DebugTarget::Token(key), 0)
        .await
        .unwrap();
    let third = mis_signed();
    assert_eq!(
        detail(&verify(&verifier, &third.authorization).await),
        "InvalidSignature"
    );
    assert!(!captured().await.has_signature_capture);
    // Opened for the integration record (in this account): every token of it.
    env.svc
        .set_signature_debug(&w.admin.actor, DebugTarget::Integration(w.app), 5)
        .await
        .unwrap();
    let fourth = mis_signed();
    assert_eq!(
        detail(&verify(&verifier, &fourth.authorization).await),
        "InvalidSignature"
    );
    assert!(captured().await.has_signature_capture);
    let notes = env
        .svc
        .system_notes(&w.admin.actor, &tessera_core::model::RecordRef::Token(key))
        .await
        .unwrap();
    assert!(
        notes.iter().any(|n| n.field == "signature debugger"),
        "{notes:?}"
    );
}
