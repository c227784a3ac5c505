//! The lifecycle rules of RULES.md §2, each test named after the rule it checks, each run on SQLite
//! and on PostgreSQL.

#![allow(clippy::unwrap_used)]

mod support;

use support::Env;
use support::world::{self, OP, World};
use tessera_core::ids::{RoleId, TokenKey};
use tessera_core::model::{Context, InstallOrigin, InstallState, Permission, RecordRef, Timestamp};
use tessera_core::store::{RevokedFilter, TokenFilter, TokenSort, TokenUse};
use tessera_core::{
    AccountSettings, Actor, BulkAction, Error, InstallationChanges, IntegrationChanges,
    LoginRefusal, NewTokenInput, ResetConfirmation, RoleChanges, TimeFilters, UserChanges,
};
use tessera_oauth1::SigningKey;

on_both_backends!(
    r1_list_filters_by_revoked_all_yes_no,
    r1_search_covers_token_application_user_and_role_names,
    r1_keyset_pages_are_stable_and_complete,
    r1_a_common_search_term_pages_in_order,
    r1_view_and_edit_a_token,
    r1_users_without_token_management_see_only_their_own_tokens,
    r2_reset_regenerates_key_and_secret_and_old_pair_stops_at_once,
    r3_tokens_keep_working_with_the_new_consumer_pair_only,
    r4_bundle_install_cannot_reset,
    r4_only_an_administrator_of_the_owner_account_can_reset,
    r5_reset_requires_confirmation_and_shows_the_pair_once,
    r6_credentials_are_shown_once_and_never_again,
    r6_switching_tba_on_the_first_time_issues_credentials,
    r7_token_binds_one_account_integration_user_and_role,
    r8_revoke_is_permanent_and_leaves_the_token_read_only,
    r8_inactive_is_reversible,
    r9_blocked_or_waiting_installation_refuses_the_consumer_key,
    r10_deleting_an_integration_revokes_all_its_tokens,
    r10_uninstalling_revokes_only_that_accounts_tokens,
    r10_deleting_a_user_deletes_its_tokens,
    r10_removing_a_role_keeps_tokens_but_stops_their_login,
    r11_login_needs_feature_installation_token_user_and_role,
    r12_token_managers_create_for_others_not_for_themselves,
    r12_administrator_role_tokens_only_by_that_administrator,
    r12_user_access_tokens_only_for_self_and_current_role,
    r12_log_in_using_access_tokens_alone_creates_nothing,
    r12_revoking_follows_the_same_lines,
    r13_only_owner_administrators_edit_shared_fields,
    r13_installing_accounts_set_state_and_note,
    r14_auto_install_is_enabled_or_waiting_for_approval,
    r15_every_change_writes_system_notes,
    r15_a_change_and_its_notes_commit_together,
    r15_system_notes_are_immutable,
    r16_an_expiry_must_be_ahead_and_within_the_account_maximum,
    r16_the_list_filters_by_expiry_and_disuse,
    r16_an_expired_token_may_not_log_in,
    r18_a_bulk_change_does_what_its_preview_counted_or_nothing,
    r18_a_bulk_change_follows_r12,
    r18_a_bulk_change_is_one_transaction,
);

fn is_not_permitted<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::NotPermitted { .. }))
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::NotFound { .. }))
}

async fn names(env: &Env, actor: &Actor, filter: TokenFilter) -> Vec<String> {
    let page = env
        .svc
        .list_tokens(actor, filter, TokenSort::OldestFirst, None, 1000)
        .await
        .unwrap();
    page.items.into_iter().map(|i| i.token.name).collect()
}

async fn rename(env: &Env, w: &World, key: TokenKey, name: &str) {
    env.svc
        .rename_token(&w.manager.actor, key, name)
        .await
        .unwrap();
}

async fn r1_list_filters_by_revoked_all_yes_no(env: &Env) {
    let w = World::build(&env.svc).await;
    let (t1, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let (t2, _) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    rename(env, &w, t1, "one").await;
    rename(env, &w, t2, "two").await;
    env.svc.revoke_token(&w.manager.actor, t2).await.unwrap();
    let by = |revoked| TokenFilter {
        revoked,
        ..TokenFilter::default()
    };
    let m = &w.manager.actor;
    assert_eq!(names(env, m, by(RevokedFilter::All)).await, ["one", "two"]);
    assert_eq!(names(env, m, by(RevokedFilter::Yes)).await, ["two"]);
    assert_eq!(names(env, m, by(RevokedFilter::No)).await, ["one"]);
    // The other filters combine with it.
    let f = TokenFilter {
        user: Some(w.alice.id),
        revoked: RevokedFilter::All,
        ..TokenFilter::default()
    };
    assert_eq!(names(env, m, f).await, ["one"]);
    let f = TokenFilter {
        role: Some(w.token_login_role),
        revoked: RevokedFilter::No,
        ..TokenFilter::default()
    };
    assert!(names(env, m, f).await.is_empty());
    env.svc.set_token_inactive(m, t1, true).await.unwrap();
    let f = TokenFilter {
        inactive: Some(true),
        integration: Some(w.app),
        ..TokenFilter::default()
    };
    assert_eq!(names(env, m, f).await, ["one"]);
}

async fn r1_search_covers_token_application_user_and_role_names(env: &Env) {
    let w = World::build(&env.svc).await;
    let (t1, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let (t2, _) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    rename(env, &w, t1, "Warehouse 100% feed").await;
    // Default names contain the user's name; this one does not.
    rename(env, &w, t2, "Nightly export").await;
    let m = &w.manager.actor;
    let search = |s: &str| TokenFilter {
        search: Some(s.to_owned()),
        ..TokenFilter::default()
    };
    // Token name, case-insensitively, with LIKE wildcards taken literally.
    assert_eq!(
        names(env, m, search("warehouse")).await,
        ["Warehouse 100% feed"]
    );
    assert_eq!(names(env, m, search("100%")).await, ["Warehouse 100% feed"]);
    assert!(names(env, m, search("1_0")).await.is_empty());
    // User, role and application names.
    assert_eq!(names(env, m, search("bob bak")).await.len(), 1);
    assert_eq!(names(env, m, search("TOKEN LOGIN")).await.len(), 1);
    assert_eq!(names(env, m, search("acme")).await.len(), 2);
    // Three characters at least; a shorter term is refused, not scanned for.
    assert_eq!(names(env, m, search("Bob")).await.len(), 1);
    let r = env
        .svc
        .list_tokens(m, search("Bo"), TokenSort::NewestFirst, None, 10)
        .await;
    assert!(matches!(
        r,
        Err(Error::Invalid {
            field: "search",
            ..
        })
    ));
    // Blank means no search.
    assert_eq!(names(env, m, search("   ")).await.len(), 2);
    assert!(names(env, m, search("zzzz")).await.is_empty());
    // Renames of what a token binds are found at once.
    env.svc
        .update_user(
            &OP,
            &w.a,
            w.bob.id,
            UserChanges {
                name: Some("Robert Quill".to_owned()),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    env.svc
        .update_role(
            &OP,
            &w.a,
            w.token_user_role,
            RoleChanges {
                name: Some("Partner Feed".to_owned()),
                ..RoleChanges::default()
            },
        )
        .await
        .unwrap();
    env.svc
        .update_integration(
            &w.admin.actor,
            w.app,
            IntegrationChanges {
                name: Some("Zephyr Bridge".to_owned()),
                ..IntegrationChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(env, m, search("quill")).await.len(), 1);
    assert!(names(env, m, search("bob bak")).await.is_empty());
    assert_eq!(
        names(env, m, search("partner feed")).await,
        ["Warehouse 100% feed"]
    );
    assert_eq!(names(env, m, search("zephyr")).await.len(), 2);
    let item = env.svc.token(m, t2).await.unwrap();
    assert_eq!(item.user_name, "Robert Quill");
    assert_eq!(item.application_name, "Zephyr Bridge");
    // Pages of a search hold every hit once, in every order.
    for sort in [
        TokenSort::NewestFirst,
        TokenSort::OldestFirst,
        TokenSort::Name,
    ] {
        let mut keys = Vec::new();
        let mut after = None;
        loop {
            let page = env
                .svc
                .list_tokens(m, search("zephyr"), sort, after, 1)
                .await
                .unwrap();
            keys.extend(page.items.iter().map(|i| i.token.key));
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        keys.sort();
        assert_eq!(keys, [t1, t2], "{sort:?}");
    }
    // Case folds beyond ASCII.
    rename(env, &w, t2, "Zürich Übersicht").await;
    for term in ["zürich übersicht", "ZÜRICH", "übersicht"] {
        assert_eq!(
            names(env, m, search(term)).await,
            ["Zürich Übersicht"],
            "{term}"
        );
    }
    // Search combines with filters.
    let f = TokenFilter {
        search: Some("zephyr".to_owned()),
        revoked: RevokedFilter::Yes,
        ..TokenFilter::default()
    };
    assert!(names(env, m, f).await.is_empty());
}

async fn r1_keyset_pages_are_stable_and_complete(env: &Env) {
    let w = World::build(&env.svc).await;
    let mut keys = Vec::new();
    for i in 0..23 {
        let (k, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
        // Names repeat, so the id must break ties.
        rename(env, &w, k, &format!("Feed {}", i % 5)).await;
        keys.push(k);
    }
    let m = &w.manager.actor;
    for sort in [
        TokenSort::NewestFirst,
        TokenSort::OldestFirst,
        TokenSort::Name,
    ] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = env
                .svc
                .list_tokens(m, TokenFilter::default(), sort, after.clone(), 7)
                .await
                .unwrap();
            assert!(page.items.len() <= 7);
            seen.extend(
                page.items
                    .iter()
                    .map(|i| (i.token.name.to_lowercase(), i.token.key)),
            );
            if seen.len() == 7 {
                // A token created mid-way does not shift later pages.
                w.token(&env.svc, &w.bob, w.token_login_role).await;
            }
            match page.next {
                Some(c) => {
                    after = Some(tessera_core::store::TokenCursor::decode(&c.encode()).unwrap())
                }
                None => break,
            }
        }
        let mut expected = seen.clone();
        match sort {
            TokenSort::NewestFirst => expected.sort_by_key(|x| std::cmp::Reverse(x.1)),
            TokenSort::OldestFirst => expected.sort_by_key(|x| x.1),
            TokenSort::Name => expected.sort(),
        }
        assert_eq!(seen, expected, "{sort:?}");
        let mut unique = seen.iter().map(|x| x.1).collect::<Vec<_>>();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{sort:?}: no row twice");
        for k in &keys {
            assert!(unique.contains(k), "{sort:?}: every row once");
        }
    }
    // A cursor from another sort order is refused.
    let page = env
        .svc
        .list_tokens(m, TokenFilter::default(), TokenSort::Name, None, 2)
        .await
        .unwrap();
    let r = env
        .svc
        .list_tokens(
            m,
            TokenFilter::default(),
            TokenSort::NewestFirst,
            page.next,
            2,
        )
        .await;
    assert!(matches!(
        r,
        Err(Error::Invalid {
            field: "cursor",
            ..
        })
    ));
    for limit in [0, 1001] {
        let r = env
            .svc
            .list_tokens(
                m,
                TokenFilter::default(),
                TokenSort::NewestFirst,
                None,
                limit,
            )
            .await;
        assert!(matches!(r, Err(Error::Invalid { field: "limit", .. })));
    }
}

async fn r1_view_and_edit_a_token(env: &Env) {
    let w = World::build(&env.svc).await;
    let (key, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let item = env.svc.token(&w.manager.actor, key).await.unwrap();
    assert_eq!(item.token.name, "Acme Sync - Alice Able - Token User");
    assert_eq!(
        (item.application_name.as_str(), item.user_name.as_str()),
        ("Acme Sync", "Alice Able")
    );
    assert_eq!(item.role_name, "Token User");
    assert_eq!(item.token.created_by, Some(w.manager.id));
    let renamed = env
        .svc
        .rename_token(&w.alice.actor, key, "  My feed  ")
        .await
        .unwrap();
    assert_eq!(renamed.token.name, "My feed");
    assert_eq!(
        env.svc.token(&w.alice.actor, key).await.unwrap().token.name,
        "My feed"
    );
    for bad in ["", "   ", "a\u{7}b"] {
        assert!(matches!(
            env.svc.rename_token(&w.alice.actor, key, bad).await,
            Err(Error::Invalid {
                field: "token name",
                ..
            })
        ));
    }
    let long = "x".repeat(201);
    assert!(
        env.svc
            .rename_token(&w.alice.actor, key, &long)
            .await
            .is_err()
    );
    assert!(
        env.svc
            .rename_token(&w.alice.actor, key, &long[..200])
            .await
            .is_ok()
    );
}

async fn r1_users_without_token_management_see_only_their_own_tokens(env: &Env) {
    let w = World::build(&env.svc).await;
    let (alices, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let (bobs, _) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    let mine = names(env, &w.alice.actor, TokenFilter::default()).await;
    assert_eq!(mine.len(), 1);
    assert!(env.svc.token(&w.alice.actor, alices).await.is_ok());
    assert!(is_not_found(env.svc.token(&w.alice.actor, bobs).await));
    let theirs = TokenFilter {
        user: Some(w.bob.id),
        ..TokenFilter::default()
    };
    assert!(is_not_permitted(
        env.svc
            .list_tokens(&w.alice.actor, theirs, TokenSort::NewestFirst, None, 10)
            .await
    ));
    assert_eq!(
        names(env, &w.manager.actor, TokenFilter::default())
            .await
            .len(),
        2
    );
    // Another account's administrator sees none of them.
    assert!(
        names(env, &w.b_admin.actor, TokenFilter::default())
            .await
            .is_empty()
    );
    assert!(is_not_found(env.svc.token(&w.b_admin.actor, alices).await));
}

async fn r2_reset_regenerates_key_and_secret_and_old_pair_stops_at_once(env: &Env) {
    let w = World::build(&env.svc).await;
    let (_, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let old = w.app_creds;
    assert!(
        env.svc
            .authorize_token(&old.consumer_key, &token.token_id)
            .await
            .unwrap()
            .is_ok()
    );
    let (_, new) = env
        .svc
        .reset_credentials(&w.admin.actor, w.app, ResetConfirmation::Confirmed)
        .await
        .unwrap();
    assert_ne!(new.consumer_key, old.consumer_key);
    assert_ne!(new.consumer_secret.expose(), old.consumer_secret.expose());
    assert_eq!(new.consumer_key.as_str().len(), 64);
    assert_eq!(
        env.svc
            .authorize_token(&old.consumer_key, &token.token_id)
            .await
            .unwrap()
            .unwrap_err(),
        LoginRefusal::ConsumerKeyUnknown
    );
    let grant = env
        .svc
        .authorize_token(&new.consumer_key, &token.token_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grant.consumer_secret.expose(), new.consumer_secret.expose());
}

async fn r3_tokens_keep_working_with_the_new_consumer_pair_only(env: &Env) {
    let w = World::build(&env.svc).await;
    let (_, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let old = w.app_creds;
    let (_, new) = env
        .svc
        .reset_credentials(&w.admin.actor, w.app, ResetConfirmation::Confirmed)
        .await
        .unwrap();
    let base = b"POST&https%3A%2F%2F1234567.restlets.api.netsuite.com%2Fapp&oauth_nonce%3Dabcdef";
    let grant = env
        .svc
        .authorize_token(&new.consumer_key, &token.token_id)
        .await
        .unwrap()
        .unwrap();
    let server = SigningKey::new(grant.consumer_secret.expose(), grant.token_secret.expose());
    let with_new = SigningKey::new(new.consumer_secret.expose(), token.token_secret.expose());
    let with_old = SigningKey::new(old.consumer_secret.expose(), token.token_secret.expose());
    assert!(server.verify(base, &with_new.sign(base).to_base64()));
    assert!(!server.verify(base, &with_old.sign(base).to_base64()));
    assert_eq!(grant.owner.user, w.alice.id);
}

async fn r4_bundle_install_cannot_reset(env: &Env) {
    let w = World::build(&env.svc).await;
    // The owner makes the record installable by account B (issue 14, gap 6).
    env.svc
        .set_installable_accounts(&w.admin.actor, w.app, vec![w.b.clone()])
        .await
        .unwrap();
    let view = env
        .svc
        .install_from_bundle(&w.b_admin.actor, w.app)
        .await
        .unwrap();
    assert_eq!(view.installation.origin, InstallOrigin::Bundle);
    assert!(!view.is_owner);
    let r = env
        .svc
        .reset_credentials(&w.b_admin.actor, w.app, ResetConfirmation::Confirmed)
        .await;
    assert!(
        matches!(r, Err(Error::ResetNotAllowedForBundleInstall)),
        "{r:?}"
    );
    // The owner still can, and the bundle account's view never shows credentials.
    assert!(
        env.svc
            .reset_credentials(&w.admin.actor, w.app, ResetConfirmation::Confirmed)
            .await
            .is_ok()
    );
    assert!(matches!(
        env.svc.install_from_bundle(&w.b_admin.actor, w.app).await,
        Err(Error::Conflict { .. })
    ));
}

async fn r4_only_an_administrator_of_the_owner_account_can_reset(env: &Env) {
    let w = World::build(&env.svc).await;
    // An auto-installed record in another account: that account's administrator may not.
    env.svc
        .auto_install(&w.b, w.app, Context::Endpoint)
        .await
        .unwrap();
    let r = env
        .svc
        .reset_credentials(&w.b_admin.actor, w.app, ResetConfirmation::Confirmed)
        .await;
    assert!(is_not_permitted(r));
    // In the owner account, only administrators: not the integration manager, not a manager.
    for p in [&w.integrator, &w.manager, &w.alice] {
        let r = env
            .svc
            .reset_credentials(&p.actor, w.app, ResetConfirmation::Confirmed)
            .await;
        assert!(is_not_permitted(r));
    }
    // The administrator acting with another role is not acting as administrator.
    let r = env
        .svc
        .reset_credentials(
            &w.admin.as_role(w.token_user_role),
            w.app,
            ResetConfirmation::Confirmed,
        )
        .await;
    assert!(is_not_permitted(r));
    // Accounts where the record is not installed do not see it at all.
    let c = world::account(&env.svc, "TSTDRV42", "Elsewhere").await;
    let c_admin = world::person(&env.svc, &c, "Cy Admin", &[RoleId::ADMINISTRATOR]).await;
    let r = env
        .svc
        .reset_credentials(&c_admin.actor, w.app, ResetConfirmation::Confirmed)
        .await;
    assert!(is_not_found(r));
    // The old pair still works after all these refusals.
    let (_, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    assert!(
        env.svc
            .authorize_token(&w.app_creds.consumer_key, &token.token_id)
            .await
            .unwrap()
            .is_ok()
    );
}

async fn r5_reset_requires_confirmation_and_shows_the_pair_once(env: &Env) {
    let w = World::build(&env.svc).await;
    let r = env
        .svc
        .reset_credentials(&w.admin.actor, w.app, ResetConfirmation::NotConfirmed)
        .await;
    assert!(matches!(r, Err(Error::ConfirmationRequired)));
    let (_, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    assert!(
        env.svc
            .authorize_token(&w.app_creds.consumer_key, &token.token_id)
            .await
            .unwrap()
            .is_ok()
    );
    let (view, creds) = env
        .svc
        .reset_credentials(&w.admin.actor, w.app, ResetConfirmation::Confirmed)
        .await
        .unwrap();
    // The record comes back in view mode with the new pair, this once.
    assert_eq!(view.integration.id, w.app);
    assert!(view.integration.has_credentials);
    let again = env.svc.integration(&w.admin.actor, w.app).await.unwrap();
    let shown = format!("{again:?}");
    assert!(!shown.contains(creds.consumer_key.as_str()));
    assert!(!shown.contains(creds.consumer_secret.expose()));
}

async fn r6_credentials_are_shown_once_and_never_again(env: &Env) {
    let w = World::build(&env.svc).await;
    let (key, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    assert_eq!(token.token_id.as_str().len(), 64);
    assert_eq!(token.token_secret.expose().len(), 64);
    assert!(
        token
            .token_secret
            .expose()
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let secrets = [
        w.app_creds.consumer_key.as_str().to_owned(),
        w.app_creds.consumer_secret.expose().to_owned(),
        token.token_id.as_str().to_owned(),
        token.token_secret.expose().to_owned(),
    ];
    let mut shown = String::new();
    shown += &format!("{:?}", env.svc.token(&w.manager.actor, key).await.unwrap());
    shown += &format!(
        "{:?}",
        names(env, &w.manager.actor, TokenFilter::default()).await
    );
    shown += &format!(
        "{:?}",
        env.svc.integration(&w.admin.actor, w.app).await.unwrap()
    );
    shown += &format!(
        "{:?}",
        env.svc
            .list_integrations(&w.admin.actor, true)
            .await
            .unwrap()
    );
    shown += &format!(
        "{:?}",
        env.svc
            .system_notes(&w.admin.actor, &RecordRef::Integration(w.app))
            .await
            .unwrap()
    );
    shown += &format!(
        "{:?}",
        env.svc
            .system_notes(&w.manager.actor, &RecordRef::Token(key))
            .await
            .unwrap()
    );
    shown += &format!("{:?}{:?}", w.app_creds, token);
    for s in &secrets {
        assert!(
            !shown.contains(s.as_str()),
            "a credential was displayed again"
        );
    }
}

async fn r6_switching_tba_on_the_first_time_issues_credentials(env: &Env) {
    let w = World::build(&env.svc).await;
    let (view, creds) = env
        .svc
        .create_integration(
            &w.admin.actor,
            tessera_core::NewIntegrationInput {
                name: "Later".to_owned(),
                description: "TBA switched on later".to_owned(),
                switches: Default::default(),
            },
        )
        .await
        .unwrap();
    assert!(creds.is_none());
    assert!(!view.integration.has_credentials);
    let on = IntegrationChanges {
        switches: Some(world::tba()),
        ..IntegrationChanges::default()
    };
    let (view, creds) = env
        .svc
        .update_integration(&w.admin.actor, view.integration.id, on.clone())
        .await
        .unwrap();
    assert!(creds.is_some());
    assert!(view.integration.has_credentials);
    // Off and on again: the pair exists already, nothing is shown.
    let off = IntegrationChanges {
        switches: Some(Default::default()),
        ..IntegrationChanges::default()
    };
    env.svc
        .update_integration(&w.admin.actor, view.integration.id, off)
        .await
        .unwrap();
    let (_, creds) = env
        .svc
        .update_integration(&w.admin.actor, view.integration.id, on)
        .await
        .unwrap();
    assert!(creds.is_none());
}

async fn r7_token_binds_one_account_integration_user_and_role(env: &Env) {
    let w = World::build(&env.svc).await;
    let (key, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let t = env.svc.token(&w.manager.actor, key).await.unwrap().token;
    assert_eq!(
        (t.account, t.integration, t.user, t.role),
        (w.a.clone(), w.app, w.alice.id, w.token_user_role)
    );
    let grant = env
        .svc
        .authorize_token(&w.app_creds.consumer_key, &token.token_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (grant.owner.account, grant.owner.user, grant.owner.role),
        (w.a.clone(), w.alice.id, w.token_user_role)
    );
    let new = |user, role, integration| NewTokenInput {
        integration,
        user,
        role,
        name: None,
        expires_at: None,
    };
    let m = &w.manager.actor;
    // A user of another account, a role of another account, a role the user does not hold.
    assert!(is_not_found(
        env.svc
            .create_token(m, new(w.b_admin.id, w.token_user_role, w.app))
            .await
    ));
    assert!(is_not_found(
        env.svc
            .create_token(m, new(w.alice.id, RoleId::new(9999), w.app))
            .await
    ));
    assert!(matches!(
        env.svc
            .create_token(m, new(w.bob.id, w.token_user_role, w.app))
            .await,
        Err(Error::Invalid { field: "role", .. })
    ));
    // An integration not installed in the account.
    let (other, _) = world::integration(&env.svc, &w.b_admin.actor, "B's app").await;
    assert!(is_not_found(
        env.svc
            .create_token(m, new(w.alice.id, w.token_user_role, other))
            .await
    ));
    // An integration without TBA.
    let (view, _) = env
        .svc
        .create_integration(
            &w.admin.actor,
            tessera_core::NewIntegrationInput {
                name: "No TBA".to_owned(),
                description: String::new(),
                switches: Default::default(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        env.svc
            .create_token(m, new(w.alice.id, w.token_user_role, view.integration.id))
            .await,
        Err(Error::Invalid {
            field: "integration",
            ..
        })
    ));
    // A role that cannot use tokens.
    let clerk_role = w.clerk.role;
    assert!(matches!(
        env.svc
            .create_token(m, new(w.clerk.id, clerk_role, w.app))
            .await,
        Err(Error::Invalid { field: "role", .. })
    ));
}

async fn r8_revoke_is_permanent_and_leaves_the_token_read_only(env: &Env) {
    let w = World::build(&env.svc).await;
    let (key, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let revoked = env.svc.revoke_token(&w.manager.actor, key).await.unwrap();
    let r = revoked.token.revoked.clone().unwrap();
    assert_eq!(r.by, Some(w.manager.id));
    assert_eq!(r.by_name, "Max Manager");
    let kept = env.svc.token(&w.manager.actor, key).await.unwrap();
    assert_eq!(
        kept.token.revoked.as_ref().map(|r| r.by),
        Some(Some(w.manager.id))
    );
    assert!(matches!(
        env.svc.revoke_token(&w.manager.actor, key).await,
        Err(Error::TokenRevoked)
    ));
    assert!(matches!(
        env.svc.rename_token(&w.manager.actor, key, "x").await,
        Err(Error::TokenRevoked)
    ));
    assert!(matches!(
        env.svc
            .set_token_inactive(&w.manager.actor, key, false)
            .await,
        Err(Error::TokenRevoked)
    ));
    assert_eq!(
        env.svc
            .authorize_token(&w.app_creds.consumer_key, &token.token_id)
            .await
            .unwrap()
            .unwrap_err(),
        LoginRefusal::TokenRevoked
    );
}

async fn r8_inactive_is_reversible(env: &Env) {
    let w = World::build(&env.svc).await;
    let (key, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let login = || {
        env.svc
            .authorize_token(&w.app_creds.consumer_key, &token.token_id)
    };
    env.svc
        .set_token_inactive(&w.alice.actor, key, true)
        .await
        .unwrap();
    assert_eq!(
        login().await.unwrap().unwrap_err(),
        LoginRefusal::TokenInactive
    );
    env.svc
        .set_token_inactive(&w.alice.actor, key, false)
        .await
        .unwrap();
    assert!(login().await.unwrap().is_ok());
}

async fn r9_blocked_or_waiting_installation_refuses_the_consumer_key(env: &Env) {
    let w = World::build(&env.svc).await;
    let (key, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let login = || {
        env.svc
            .authorize_token(&w.app_creds.consumer_key, &token.token_id)
    };
    for state in [InstallState::Blocked, InstallState::WaitingForApproval] {
        env.svc
            .update_installation(
                &w.admin.actor,
                w.app,
                InstallationChanges {
                    state: Some(state),
                    ..InstallationChanges::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            login().await.unwrap().unwrap_err(),
            LoginRefusal::ConsumerKeyRefused
        );
        // The token itself is untouched.
        let t = env.svc.token(&w.manager.actor, key).await.unwrap().token;
        assert!(!t.inactive && !t.is_revoked());
    }
    env.svc
        .update_installation(
            &w.admin.actor,
            w.app,
            InstallationChanges {
                state: Some(InstallState::Enabled),
                ..InstallationChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(login().await.unwrap().is_ok());
    // Blocking in another account does not touch this account's tokens.
    env.svc
        .auto_install(&w.b, w.app, Context::Endpoint)
        .await
        .unwrap();
    env.svc
        .update_installation(
            &w.b_admin.actor,
            w.app,
            InstallationChanges {
                state: Some(InstallState::Blocked),
                ..InstallationChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(login().await.unwrap().is_ok());
}

async fn r10_deleting_an_integration_revokes_all_its_tokens(env: &Env) {
    let w = World::build(&env.svc).await;
    let (k1, t1) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let (k2, _) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    env.svc.revoke_token(&w.manager.actor, k2).await.unwrap();
    // A token in another account, through an auto-installation there.
    env.svc
        .auto_install(&w.b, w.app, Context::Endpoint)
        .await
        .unwrap();
    let b_role = world::role(&env.svc, &w.b, "B Tokens", &[Permission::UserAccessTokens]).await;
    let b_user = world::person(&env.svc, &w.b, "Bo Partner", &[b_role]).await;
    let (bk, _) = env
        .svc
        .create_token(
            &b_user.actor,
            NewTokenInput {
                integration: w.app,
                user: b_user.id,
                role: b_role,
                name: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    // Only the owner's administrators delete the record itself.
    assert!(is_not_permitted(
        env.svc.delete_integration(&w.integrator.actor, w.app).await
    ));
    let revoked = env
        .svc
        .delete_integration(&w.admin.actor, w.app)
        .await
        .unwrap();
    assert_eq!(revoked, 2, "the already revoked token is not counted twice");
    for (actor, key) in [
        (&w.manager.actor, k1),
        (&w.manager.actor, k2),
        (&b_user.actor, bk.token.key),
    ] {
        assert!(
            env.svc.token(actor, key).await.unwrap().token.is_revoked(),
            "kept for audit, revoked"
        );
    }
    assert_eq!(
        env.svc
            .authorize_token(&w.app_creds.consumer_key, &t1.token_id)
            .await
            .unwrap()
            .unwrap_err(),
        LoginRefusal::ConsumerKeyUnknown
    );
    assert!(is_not_found(
        env.svc.integration(&w.admin.actor, w.app).await
    ));
    assert!(is_not_found(
        env.svc.integration(&w.b_admin.actor, w.app).await
    ));
}

async fn r10_uninstalling_revokes_only_that_accounts_tokens(env: &Env) {
    let w = World::build(&env.svc).await;
    let (k1, t1) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    env.svc
        .auto_install(&w.b, w.app, Context::Endpoint)
        .await
        .unwrap();
    let b_role = world::role(&env.svc, &w.b, "B Tokens", &[Permission::UserAccessTokens]).await;
    let b_user = world::person(&env.svc, &w.b, "Bo Partner", &[b_role]).await;
    let (bk, bt) = env
        .svc
        .create_token(
            &b_user.actor,
            NewTokenInput {
                integration: w.app,
                user: b_user.id,
                role: b_role,
                name: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        env.svc
            .delete_integration(&w.b_admin.actor, w.app)
            .await
            .unwrap(),
        1
    );
    assert!(
        env.svc
            .token(&b_user.actor, bk.token.key)
            .await
            .unwrap()
            .token
            .is_revoked()
    );
    assert!(
        !env.svc
            .token(&w.manager.actor, k1)
            .await
            .unwrap()
            .token
            .is_revoked()
    );
    let key = &w.app_creds.consumer_key;
    assert!(
        env.svc
            .authorize_token(key, &t1.token_id)
            .await
            .unwrap()
            .is_ok()
    );
    assert_eq!(
        env.svc
            .authorize_token(key, &bt.token_id)
            .await
            .unwrap()
            .unwrap_err(),
        LoginRefusal::ConsumerKeyRefused
    );
    assert!(is_not_found(
        env.svc.integration(&w.b_admin.actor, w.app).await
    ));
}

async fn r10_deleting_a_user_deletes_its_tokens(env: &Env) {
    let w = World::build(&env.svc).await;
    let (k1, t1) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    let (k2, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    assert!(is_not_permitted(
        env.svc.delete_user(&w.manager.actor, &w.a, w.bob.id).await
    ));
    let deleted = env
        .svc
        .delete_user(&w.admin.actor, &w.a, w.bob.id)
        .await
        .unwrap();
    assert_eq!(deleted.iter().map(|t| t.key).collect::<Vec<_>>(), [k1]);
    assert!(is_not_found(env.svc.token(&w.manager.actor, k1).await));
    assert!(env.svc.token(&w.manager.actor, k2).await.is_ok());
    assert_eq!(
        env.svc
            .authorize_token(&w.app_creds.consumer_key, &t1.token_id)
            .await
            .unwrap()
            .unwrap_err(),
        LoginRefusal::InvalidToken
    );
    // The token is gone; its history stays, with the deletion as the last line.
    assert!(is_not_found(
        env.svc
            .system_notes(&w.admin.actor, &RecordRef::Token(k1))
            .await
    ));
    let mut raw = env.raw().await;
    let (field, new): (String, Option<String>) = sqlx::query_as(
        "SELECT field, new_value FROM system_notes WHERE record_type = 'token' AND record_id = $1 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(k1.get())
    .fetch_one(&mut raw)
    .await
    .unwrap();
    assert_eq!(
        (field.as_str(), new.as_deref()),
        ("deleted", Some("deleted with user Bob Baker"))
    );
    assert!(is_not_permitted(
        env.svc.delete_user(&w.admin.actor, &w.a, w.admin.id).await
    ));
}

async fn r10_removing_a_role_keeps_tokens_but_stops_their_login(env: &Env) {
    let w = World::build(&env.svc).await;
    let (key, token) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    let login = || {
        env.svc
            .authorize_token(&w.app_creds.consumer_key, &token.token_id)
    };
    let clerk_role = w.clerk.role;
    env.svc
        .set_user_roles(&w.admin.actor, &w.a, w.bob.id, &[clerk_role])
        .await
        .unwrap();
    assert!(
        env.svc.token(&w.manager.actor, key).await.is_ok(),
        "the token stays"
    );
    assert_eq!(
        login().await.unwrap().unwrap_err(),
        LoginRefusal::EntityOrRoleDisabled
    );
    env.svc
        .set_user_roles(
            &w.admin.actor,
            &w.a,
            w.bob.id,
            &[clerk_role, w.token_login_role],
        )
        .await
        .unwrap();
    assert!(login().await.unwrap().is_ok(), "the role came back");
}

async fn r11_login_needs_feature_installation_token_user_and_role(env: &Env) {
    let w = World::build(&env.svc).await;
    let (_, token) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    let key = &w.app_creds.consumer_key;
    let login = || env.svc.authorize_token(key, &token.token_id);
    assert!(login().await.unwrap().is_ok());

    env.svc
        .update_account_settings(
            &OP,
            &w.a,
            AccountSettings {
                tba_enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        login().await.unwrap().unwrap_err(),
        LoginRefusal::FeatureDisabled
    );
    env.svc
        .update_account_settings(
            &OP,
            &w.a,
            AccountSettings {
                tba_enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let switches = |on| IntegrationChanges {
        switches: Some(if on { world::tba() } else { Default::default() }),
        ..IntegrationChanges::default()
    };
    env.svc
        .update_integration(&w.admin.actor, w.app, switches(false))
        .await
        .unwrap();
    assert_eq!(
        login().await.unwrap().unwrap_err(),
        LoginRefusal::ConsumerKeyRefused
    );
    env.svc
        .update_integration(&w.admin.actor, w.app, switches(true))
        .await
        .unwrap();

    let active = |on| UserChanges {
        active: Some(on),
        ..UserChanges::default()
    };
    env.svc
        .update_user(&OP, &w.a, w.bob.id, active(false))
        .await
        .unwrap();
    assert_eq!(
        login().await.unwrap().unwrap_err(),
        LoginRefusal::EntityOrRoleDisabled
    );
    env.svc
        .update_user(&OP, &w.a, w.bob.id, active(true))
        .await
        .unwrap();

    let role = |changes| env.svc.update_role(&OP, &w.a, w.token_login_role, changes);
    role(RoleChanges {
        inactive: Some(true),
        ..RoleChanges::default()
    })
    .await
    .unwrap();
    assert_eq!(
        login().await.unwrap().unwrap_err(),
        LoginRefusal::EntityOrRoleDisabled
    );
    role(RoleChanges {
        inactive: Some(false),
        permissions: Some(tessera_core::model::PermissionSet::from_iter([
            Permission::RestWebServices,
        ])),
        ..RoleChanges::default()
    })
    .await
    .unwrap();
    assert_eq!(
        login().await.unwrap().unwrap_err(),
        LoginRefusal::RoleNotAllowed
    );
    role(RoleChanges {
        permissions: Some(tessera_core::model::PermissionSet::from_iter([
            Permission::UserAccessTokens,
        ])),
        ..RoleChanges::default()
    })
    .await
    .unwrap();
    assert!(
        login().await.unwrap().is_ok(),
        "User Access Tokens also allows login"
    );

    // Unknown token, and a token of another integration.
    let (_, other_creds) = world::integration(&env.svc, &w.admin.actor, "Other").await;
    assert_eq!(
        env.svc
            .authorize_token(&other_creds.consumer_key, &token.token_id)
            .await
            .unwrap()
            .unwrap_err(),
        LoginRefusal::InvalidToken
    );
    let unknown = tessera_core::ids::TokenId::generate().unwrap();
    assert_eq!(
        env.svc
            .authorize_token(key, &unknown)
            .await
            .unwrap()
            .unwrap_err(),
        LoginRefusal::InvalidToken
    );
    let unknown = tessera_core::ids::ConsumerKey::generate().unwrap();
    assert_eq!(
        env.svc
            .authorize_token(&unknown, &token.token_id)
            .await
            .unwrap()
            .unwrap_err(),
        LoginRefusal::ConsumerKeyUnknown
    );
}

fn new_token(w: &World, user: &world::Person, role: RoleId) -> NewTokenInput {
    NewTokenInput {
        integration: w.app,
        user: user.id,
        role,
        name: None,
        expires_at: None,
    }
}

async fn r12_token_managers_create_for_others_not_for_themselves(env: &Env) {
    let w = World::build(&env.svc).await;
    let m = &w.manager.actor;
    assert!(
        env.svc
            .create_token(m, new_token(&w, &w.bob, w.token_login_role))
            .await
            .is_ok()
    );
    assert!(
        env.svc
            .create_token(m, new_token(&w, &w.alice, w.token_user_role))
            .await
            .is_ok()
    );
    let r = env
        .svc
        .create_token(m, new_token(&w, &w.manager, w.token_manager_role))
        .await;
    assert!(is_not_permitted(r), "not for oneself");
    // The administrator is the exception for its own tokens.
    let r = env
        .svc
        .create_token(&w.admin.actor, new_token(&w, &w.admin, w.token_user_role))
        .await;
    assert!(r.is_ok(), "{r:?}");
    // Users without token permissions create nothing.
    let r = env
        .svc
        .create_token(&w.clerk.actor, new_token(&w, &w.bob, w.token_login_role))
        .await;
    assert!(is_not_permitted(r));
}

async fn r12_administrator_role_tokens_only_by_that_administrator(env: &Env) {
    let w = World::build(&env.svc).await;
    let r = env
        .svc
        .create_token(
            &w.manager.actor,
            new_token(&w, &w.admin, RoleId::ADMINISTRATOR),
        )
        .await;
    assert!(is_not_permitted(r), "a token manager may not");
    let admin2 = world::person(&env.svc, &w.a, "Second Admin", &[RoleId::ADMINISTRATOR]).await;
    let r = env
        .svc
        .create_token(
            &admin2.actor,
            new_token(&w, &w.admin, RoleId::ADMINISTRATOR),
        )
        .await;
    assert!(is_not_permitted(r), "another administrator may not");
    let r = env
        .svc
        .create_token(
            &w.admin.as_role(w.token_user_role),
            new_token(&w, &w.admin, RoleId::ADMINISTRATOR),
        )
        .await;
    assert!(
        is_not_permitted(r),
        "the administrator acting with another role may not"
    );
    let r = env
        .svc
        .create_token(
            &w.admin.actor,
            new_token(&w, &w.admin, RoleId::ADMINISTRATOR),
        )
        .await;
    assert!(r.is_ok(), "{r:?}");
}

async fn r12_user_access_tokens_only_for_self_and_current_role(env: &Env) {
    let w = World::build(&env.svc).await;
    let a = &w.alice.actor;
    assert!(
        env.svc
            .create_token(a, new_token(&w, &w.alice, w.token_user_role))
            .await
            .is_ok()
    );
    let r = env
        .svc
        .create_token(a, new_token(&w, &w.alice, w.token_login_role))
        .await;
    assert!(
        is_not_permitted(r),
        "not for another role, even one it holds"
    );
    let r = env
        .svc
        .create_token(a, new_token(&w, &w.bob, w.token_login_role))
        .await;
    assert!(is_not_permitted(r), "not for another user");
}

async fn r12_log_in_using_access_tokens_alone_creates_nothing(env: &Env) {
    let w = World::build(&env.svc).await;
    let b = &w.bob.actor;
    assert!(is_not_permitted(
        env.svc
            .create_token(b, new_token(&w, &w.bob, w.token_login_role))
            .await
    ));
    assert!(is_not_permitted(
        env.svc
            .create_token(b, new_token(&w, &w.alice, w.token_user_role))
            .await
    ));
}

async fn r12_revoking_follows_the_same_lines(env: &Env) {
    let w = World::build(&env.svc).await;
    let (alices, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let (bobs, _) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    let (bobs2, _) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    // Another user's token: not even visible.
    assert!(is_not_found(
        env.svc.revoke_token(&w.alice.actor, bobs).await
    ));
    assert!(is_not_found(
        env.svc.revoke_token(&w.b_admin.actor, bobs).await
    ));
    // Every user revokes its own, even with Log in using Access Tokens only.
    assert!(env.svc.revoke_token(&w.alice.actor, alices).await.is_ok());
    assert!(env.svc.revoke_token(&w.bob.actor, bobs).await.is_ok());
    // Token managers revoke others'.
    assert!(env.svc.revoke_token(&w.manager.actor, bobs2).await.is_ok());
}

async fn r13_only_owner_administrators_edit_shared_fields(env: &Env) {
    let w = World::build(&env.svc).await;
    let rename = |name: &str| IntegrationChanges {
        name: Some(name.to_owned()),
        ..IntegrationChanges::default()
    };
    assert!(is_not_permitted(
        env.svc
            .update_integration(&w.integrator.actor, w.app, rename("X"))
            .await
    ));
    env.svc
        .auto_install(&w.b, w.app, Context::Endpoint)
        .await
        .unwrap();
    assert!(is_not_permitted(
        env.svc
            .update_integration(&w.b_admin.actor, w.app, rename("X"))
            .await
    ));
    let (view, _) = env
        .svc
        .update_integration(&w.admin.actor, w.app, rename("Acme Sync 2"))
        .await
        .unwrap();
    assert_eq!(view.integration.name, "Acme Sync 2");
    // Other accounts see the change, read-only.
    let theirs = env.svc.integration(&w.b_admin.actor, w.app).await.unwrap();
    assert_eq!(theirs.integration.name, "Acme Sync 2");
    assert!(!theirs.is_owner);
    // Validation of the shared fields.
    let flow = IntegrationChanges {
        switches: Some(tessera_core::model::AuthSwitches {
            token_based_auth: true,
            tba_authorization_flow: true,
            callback_url: Some("http://example.com/cb".to_owned()),
            ..Default::default()
        }),
        ..IntegrationChanges::default()
    };
    assert!(matches!(
        env.svc
            .update_integration(&w.admin.actor, w.app, flow)
            .await,
        Err(Error::Invalid {
            field: "callback_url",
            ..
        })
    ));
}

async fn r13_installing_accounts_set_state_and_note(env: &Env) {
    let w = World::build(&env.svc).await;
    env.svc
        .auto_install(&w.b, w.app, Context::Endpoint)
        .await
        .unwrap();
    let block = InstallationChanges {
        state: Some(InstallState::Blocked),
        note: Some("under review".to_owned()),
        concurrency_limit: Some(Some(3)),
        ip_allow: None,
    };
    let view = env
        .svc
        .update_installation(&w.b_admin.actor, w.app, block.clone())
        .await
        .unwrap();
    assert_eq!(view.installation.state, InstallState::Blocked);
    assert_eq!(view.installation.note, "under review");
    assert_eq!(view.installation.state_changed_by, "Bea Admin");
    // Per account: the owner's installation is unchanged.
    let own = env.svc.integration(&w.admin.actor, w.app).await.unwrap();
    assert_eq!(own.installation.state, InstallState::Enabled);
    // Integration Application permission suffices in the owner account; a clerk's does not.
    assert!(
        env.svc
            .update_installation(&w.integrator.actor, w.app, block.clone())
            .await
            .is_ok()
    );
    assert!(is_not_permitted(
        env.svc
            .update_installation(&w.clerk.actor, w.app, block)
            .await
    ));
    let zero = InstallationChanges {
        concurrency_limit: Some(Some(0)),
        ..InstallationChanges::default()
    };
    assert!(matches!(
        env.svc
            .update_installation(&w.admin.actor, w.app, zero)
            .await,
        Err(Error::Invalid {
            field: "concurrency_limit",
            ..
        })
    ));
    // Show Inactives.
    let active = env
        .svc
        .list_integrations(&w.admin.actor, false)
        .await
        .unwrap();
    assert!(active.is_empty());
    let all = env
        .svc
        .list_integrations(&w.admin.actor, true)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

async fn r14_auto_install_is_enabled_or_waiting_for_approval(env: &Env) {
    let w = World::build(&env.svc).await;
    let inst = env
        .svc
        .auto_install(&w.b, w.app, Context::Endpoint)
        .await
        .unwrap();
    assert_eq!(
        (inst.state, inst.origin),
        (InstallState::Enabled, InstallOrigin::Auto)
    );
    // Again: the existing installation, unchanged.
    let again = env
        .svc
        .auto_install(&w.b, w.app, Context::Endpoint)
        .await
        .unwrap();
    assert_eq!(again, inst);
    let c = world::account(&env.svc, "TSTDRV77", "Careful Co").await;
    env.svc
        .update_account_settings(
            &OP,
            &c,
            AccountSettings {
                require_approval_for_auto_install: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let inst = env
        .svc
        .auto_install(&c, w.app, Context::Endpoint)
        .await
        .unwrap();
    assert_eq!(inst.state, InstallState::WaitingForApproval);
    let c_admin = world::person(&env.svc, &c, "Cy Admin", &[RoleId::ADMINISTRATOR]).await;
    let notes = env
        .svc
        .system_notes(&c_admin.actor, &RecordRef::Installation(w.app, c.clone()))
        .await
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].actor_name, "System");
    assert_eq!(notes[0].context, Context::Endpoint);
}

async fn r15_every_change_writes_system_notes(env: &Env) {
    let w = World::build(&env.svc).await;
    let (key, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    env.svc
        .rename_token(&w.alice.actor, key, "Renamed")
        .await
        .unwrap();
    env.svc
        .set_token_inactive(&w.alice.actor, key, true)
        .await
        .unwrap();
    env.svc.revoke_token(&w.manager.actor, key).await.unwrap();
    let notes = env
        .svc
        .system_notes(&w.manager.actor, &RecordRef::Token(key))
        .await
        .unwrap();
    let fields: Vec<(&str, Option<&str>, Option<&str>, &str)> = notes
        .iter()
        .map(|n| {
            (
                n.field.as_str(),
                n.old_value.as_deref(),
                n.new_value.as_deref(),
                n.actor_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            (
                "created",
                None,
                Some("Acme Sync - Alice Able - Token User"),
                "Max Manager"
            ),
            (
                "name",
                Some("Acme Sync - Alice Able - Token User"),
                Some("Renamed"),
                "Alice Able"
            ),
            ("inactive", Some("No"), Some("Yes"), "Alice Able"),
            ("revoked", Some("No"), Some("Yes"), "Max Manager"),
        ]
    );
    assert!(
        notes
            .iter()
            .all(|n| n.context == Context::Api && n.account == w.a)
    );
    env.svc
        .update_integration(
            &w.admin.actor,
            w.app,
            IntegrationChanges {
                description: Some("Syncs orders".to_owned()),
                ..IntegrationChanges::default()
            },
        )
        .await
        .unwrap();
    env.svc
        .reset_credentials(&w.admin.actor, w.app, ResetConfirmation::Confirmed)
        .await
        .unwrap();
    let notes = env
        .svc
        .system_notes(&w.admin.actor, &RecordRef::Integration(w.app))
        .await
        .unwrap();
    let fields: Vec<&str> = notes.iter().map(|n| n.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "created",
            "consumer key and secret",
            "description",
            "consumer key and secret"
        ]
    );
    env.svc
        .update_installation(
            &w.admin.actor,
            w.app,
            InstallationChanges {
                state: Some(InstallState::Blocked),
                ..InstallationChanges::default()
            },
        )
        .await
        .unwrap();
    let notes = env
        .svc
        .system_notes(&w.admin.actor, &RecordRef::Installation(w.app, w.a.clone()))
        .await
        .unwrap();
    let last = notes.last().unwrap();
    assert_eq!(
        (last.field.as_str(), last.new_value.as_deref()),
        ("state", Some("Blocked"))
    );
    // Another account's installation notes are not this account's to read.
    assert!(is_not_found(
        env.svc
            .system_notes(&w.admin.actor, &RecordRef::Installation(w.app, w.b.clone()))
            .await
    ));
    // An edit that changes nothing writes nothing.
    let before = env
        .svc
        .system_notes(&w.admin.actor, &RecordRef::Integration(w.app))
        .await
        .unwrap();
    env.svc
        .update_integration(&w.admin.actor, w.app, IntegrationChanges::default())
        .await
        .unwrap();
    let after = env
        .svc
        .system_notes(&w.admin.actor, &RecordRef::Integration(w.app))
        .await
        .unwrap();
    assert_eq!(before.len(), after.len());
}

async fn r15_a_change_and_its_notes_commit_together(env: &Env) {
    use sqlx::Executor;
    let w = World::build(&env.svc).await;
    let (key, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    // Make every note insert fail: the change it goes with must not happen either.
    let mut raw = env.raw().await;
    let trigger = match env.backend {
        tessera_store::Backend::Sqlite => {
            "CREATE TRIGGER notes_fail BEFORE INSERT ON system_notes BEGIN \
             SELECT RAISE(ABORT, 'note refused by test'); END"
        }
        tessera_store::Backend::Postgres => {
            "CREATE FUNCTION notes_fail() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'note refused by test'; END; $$; \
             CREATE TRIGGER notes_fail BEFORE INSERT ON system_notes \
             FOR EACH ROW EXECUTE FUNCTION notes_fail()"
        }
    };
    raw.execute(trigger).await.unwrap();
    assert!(matches!(
        env.svc.revoke_token(&w.manager.actor, key).await,
        Err(Error::Storage(_))
    ));
    assert!(matches!(
        env.svc.rename_token(&w.manager.actor, key, "never").await,
        Err(Error::Storage(_))
    ));
    let r = env
        .svc
        .reset_credentials(&w.admin.actor, w.app, ResetConfirmation::Confirmed)
        .await;
    assert!(matches!(r, Err(Error::Storage(_))));
    let r = env
        .svc
        .create_token(&w.manager.actor, new_token(&w, &w.bob, w.token_login_role))
        .await;
    assert!(matches!(r, Err(Error::Storage(_))));
    let t = env.svc.token(&w.manager.actor, key).await.unwrap().token;
    assert!(!t.is_revoked());
    assert_ne!(t.name, "never");
    assert_eq!(
        names(env, &w.manager.actor, TokenFilter::default())
            .await
            .len(),
        1
    );
    // The consumer pair was not replaced.
    let drop = match env.backend {
        tessera_store::Backend::Sqlite => "DROP TRIGGER notes_fail",
        tessera_store::Backend::Postgres => "DROP TRIGGER notes_fail ON system_notes",
    };
    raw.execute(drop).await.unwrap();
    let (_, token) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    assert!(
        env.svc
            .authorize_token(&w.app_creds.consumer_key, &token.token_id)
            .await
            .unwrap()
            .is_ok()
    );
}

async fn r15_system_notes_are_immutable(env: &Env) {
    use sqlx::Executor;
    let w = World::build(&env.svc).await;
    w.token(&env.svc, &w.alice, w.token_user_role).await;
    let mut raw = env.raw().await;
    assert!(
        raw.execute("UPDATE system_notes SET field = 'x'")
            .await
            .is_err()
    );
    assert!(raw.execute("DELETE FROM system_notes").await.is_err());
}

/// More hits (1,100) than the list looks up at once (1,000): the search then walks the list in order
/// (or, on SQLite in id order, follows the trigram index). Every hit still comes exactly once,
/// in order.
async fn r1_a_common_search_term_pages_in_order(env: &Env) {
    let w = World::build(&env.svc).await;
    let (seed, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let t = env.svc.token(&w.manager.actor, seed).await.unwrap().token;
    // Bulk rows beside the service's own, as a large account would have.
    let mut raw = env.raw().await;
    let total = 2200;
    for batch in 0..total / 100 {
        let mut sql = String::from(
            "INSERT INTO access_tokens (account_id, integration_id, user_id, role_id, name, \
             name_key, token_id, token_secret, token_secret_key_id, created_at, created_by_name, \
             search_text) VALUES ",
        );
        for i in 0..100 {
            let n = batch * 100 + i;
            // Every other row holds the term; names interleave hits and misses.
            let name = if n % 2 == 0 {
                format!("Bulk {n:04} common")
            } else {
                format!("Bulk {n:04} other")
            };
            let token_id = tessera_core::ids::TokenId::generate().unwrap();
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{}', {}, {}, {}, '{name}', '{}', '{}', \
                 (SELECT s.token_secret FROM access_tokens s WHERE s.id = {}), 'k', 0, 'Bulk', \
                 '{name}')",
                t.account.as_str(),
                t.integration.get(),
                t.user.get(),
                t.role.get(),
                name.to_lowercase(),
                token_id.as_str(),
                seed.get()
            ));
        }
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut raw)
            .await
            .unwrap();
    }
    let m = &w.manager.actor;
    let search = TokenFilter {
        search: Some("COMMON".to_owned()),
        ..TokenFilter::default()
    };
    for sort in [
        TokenSort::NewestFirst,
        TokenSort::OldestFirst,
        TokenSort::Name,
    ] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = env
                .svc
                .list_tokens(m, search.clone(), sort, after, 200)
                .await
                .unwrap();
            for item in &page.items {
                assert!(item.token.name.ends_with("common"), "{}", item.token.name);
                seen.push((item.token.name.clone(), item.token.key));
            }
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), total / 2, "{sort:?}");
        let mut expected = seen.clone();
        match sort {
            TokenSort::NewestFirst => expected.sort_by_key(|x| std::cmp::Reverse(x.1)),
            TokenSort::OldestFirst => expected.sort_by_key(|x| x.1),
            TokenSort::Name => expected.sort(),
        }
        assert_eq!(seen, expected, "{sort:?}");
    }
}

/// The search tests again, with the trigram index always asked first: the path that large
/// accounts take on PostgreSQL (small test accounts are otherwise walked).
mod index_first {
    use tessera_store::SearchTuning;

    const TUNING: SearchTuning = SearchTuning {
        selective_hits: 1000,
        large_account: 0,
    };

    macro_rules! index_first {
        ($($name:ident),*) => {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let env = crate::support::Env::sqlite_with(super::TUNING).await;
                        crate::$name(&env).await;
                        env.finish().await;
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some(env) = crate::support::Env::postgres_with(super::TUNING).await else {
                            return;
                        };
                        crate::$name(&env).await;
                        env.finish().await;
                    }
                )*
            }
        };
    }

    index_first!(
        r1_search_covers_token_application_user_and_role_names,
        r1_a_common_search_term_pages_in_order,
        r1_list_filters_by_revoked_all_yes_no
    );
}

fn field_of<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
    match r {
        Err(Error::Invalid { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

async fn r16_an_expiry_must_be_ahead_and_within_the_account_maximum(env: &Env) {
    let w = World::build(&env.svc).await;
    let input = |expires_at| NewTokenInput {
        integration: w.app,
        user: w.bob.id,
        role: w.token_login_role,
        name: None,
        expires_at,
    };
    let m = &w.manager.actor;
    let now = Timestamp::now();
    // No maximum: no expiry unless one is asked for; one in the past is refused.
    let (item, _) = env.svc.create_token(m, input(None)).await.unwrap();
    assert_eq!(item.token.expires_at, None);
    let past = env
        .svc
        .create_token(m, input(Some(now.plus_days(-1))))
        .await;
    assert_eq!(field_of(past), "expires_at");
    let far = env
        .svc
        .create_token(m, input(Some(now.plus_days(40_000))))
        .await;
    assert_eq!(field_of(far), "expires_at");
    let at = now.plus_days(400);
    let (item, _) = env.svc.create_token(m, input(Some(at))).await.unwrap();
    assert_eq!(item.token.expires_at, Some(at));
    // The expiry is in the token's system notes.
    let notes = env
        .svc
        .system_notes(m, &RecordRef::Token(item.token.key))
        .await
        .unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.field == "expires_at" && n.new_value == Some(at.to_rfc3339())),
        "{notes:?}"
    );

    // A maximum of 30 days: none asked for is exactly the maximum; beyond it is refused.
    let policy = |days| AccountSettings {
        token_max_lifetime_days: Some(days),
        ..AccountSettings::default()
    };
    // Only administrators set it, within 1–36500 days.
    assert!(is_not_permitted(
        env.svc
            .update_account_settings(m, &w.a, policy(Some(30)))
            .await
    ));
    for bad in [0, 36_501] {
        let r = env
            .svc
            .update_account_settings(&w.admin.actor, &w.a, policy(Some(bad)))
            .await;
        assert_eq!(field_of(r), "token_max_lifetime_days");
    }
    let account = env
        .svc
        .update_account_settings(&w.admin.actor, &w.a, policy(Some(30)))
        .await
        .unwrap();
    assert_eq!(account.token_max_lifetime_days, Some(30));
    let before = Timestamp::now();
    let (item, _) = env.svc.create_token(m, input(None)).await.unwrap();
    let after = Timestamp::now();
    let expiry = item.token.expires_at.unwrap();
    assert!(expiry >= before.plus_days(30) && expiry <= after.plus_days(30));
    let beyond = env
        .svc
        .create_token(m, input(Some(now.plus_days(31))))
        .await;
    assert_eq!(field_of(beyond), "expires_at");
    let within = now.plus_days(7);
    let (item, _) = env.svc.create_token(m, input(Some(within))).await.unwrap();
    assert_eq!(item.token.expires_at, Some(within));
    // Tokens made before keep their expiry (or none); the policy reads back, and clears.
    let listed = env.svc.list_accounts(&OP).await.unwrap();
    let a = listed.iter().find(|a| a.id == w.a).unwrap();
    assert_eq!(a.token_max_lifetime_days, Some(30));
    env.svc
        .update_account_settings(&w.admin.actor, &w.a, policy(None))
        .await
        .unwrap();
    let (item, _) = env.svc.create_token(m, input(None)).await.unwrap();
    assert_eq!(item.token.expires_at, None);
    // Another account's policy is its own.
    let b = env.svc.list_accounts(&OP).await.unwrap();
    assert!(b.iter().all(|a| a.token_max_lifetime_days.is_none()));
}

async fn r16_the_list_filters_by_expiry_and_disuse(env: &Env) {
    let w = World::build(&env.svc).await;
    let now = Timestamp::now();
    let m = &w.manager.actor;
    let (soon, _) = w
        .token_expiring(
            &env.svc,
            &w.alice,
            w.token_login_role,
            Some(now.plus_days(2)),
        )
        .await;
    let (later, _) = w
        .token_expiring(
            &env.svc,
            &w.bob,
            w.token_login_role,
            Some(now.plus_days(20)),
        )
        .await;
    let (never, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    // Expires in a moment: expired by the time the list is asked.
    let (gone, _) = w
        .token_expiring(
            &env.svc,
            &w.bob,
            w.token_login_role,
            Some(Timestamp::from_millis(Timestamp::now().millis() + 300)),
        )
        .await;
    for (key, name) in [
        (soon, "soon"),
        (later, "later"),
        (never, "never"),
        (gone, "gone"),
    ] {
        rename(env, &w, key, name).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let time = |expired, expiring_within_days, unused_for_days| {
        let mut f = TokenFilter::default();
        TimeFilters {
            expired,
            expiring_within_days,
            unused_for_days,
        }
        .apply(&mut f, Timestamp::now())
        .unwrap();
        f
    };
    assert_eq!(names(env, m, time(Some(true), None, None)).await, ["gone"]);
    assert_eq!(
        names(env, m, time(Some(false), None, None)).await,
        ["soon", "later", "never"]
    );
    assert_eq!(names(env, m, time(None, Some(3), None)).await, ["soon"]);
    assert_eq!(
        names(env, m, time(Some(false), Some(30), None)).await,
        ["soon", "later"]
    );
    // They combine with the other filters.
    let mut f = time(None, Some(30), None);
    f.user = Some(w.bob.id);
    assert_eq!(names(env, m, f).await, ["later"]);
    // Refused combinations and ranges name their field.
    for (filters, field) in [
        (
            TimeFilters {
                expired: Some(true),
                expiring_within_days: Some(3),
                unused_for_days: None,
            },
            "expiring_within_days",
        ),
        (
            TimeFilters {
                expired: None,
                expiring_within_days: Some(0),
                unused_for_days: None,
            },
            "expiring_within_days",
        ),
        (
            TimeFilters {
                expired: None,
                expiring_within_days: None,
                unused_for_days: Some(40_000),
            },
            "unused_for_days",
        ),
    ] {
        let r = filters.apply(&mut TokenFilter::default(), Timestamp::now());
        assert_eq!(field_of(r), field);
    }
    // Unused: last used (or, never used, created) that many days ago. Every token here was
    // created a moment ago; `soon` was last used 10 days ago, `later` yesterday.
    env.svc
        .store()
        .record_token_use(vec![
            TokenUse::at(soon, now.plus_days(-10)),
            TokenUse::at(later, now.plus_days(-1)),
        ])
        .await
        .unwrap();
    assert_eq!(names(env, m, time(None, None, Some(5))).await, ["soon"]);
    assert!(names(env, m, time(None, None, Some(30))).await.is_empty());
    let mut f = time(None, None, Some(5));
    f.user = Some(w.bob.id);
    assert!(names(env, m, f).await.is_empty());
    // My Access Tokens: the same filters, own tokens only.
    let mine = env
        .svc
        .list_tokens(
            &w.alice.actor,
            time(None, Some(3), None),
            TokenSort::OldestFirst,
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 1);
}

async fn r16_an_expired_token_may_not_log_in(env: &Env) {
    let w = World::build(&env.svc).await;
    let at = Timestamp::from_millis(Timestamp::now().millis() + 500);
    let (_, token) = w
        .token_expiring(&env.svc, &w.bob, w.token_login_role, Some(at))
        .await;
    let key = &w.app_creds.consumer_key;
    let login = || env.svc.authorize_token(key, &token.token_id);
    assert!(login().await.unwrap().is_ok());
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        login().await.unwrap().unwrap_err(),
        LoginRefusal::TokenExpired
    );
    // Revoked and inactive say more, and come first.
    let (k2, t2) = w
        .token_expiring(
            &env.svc,
            &w.bob,
            w.token_login_role,
            Some(Timestamp::from_millis(Timestamp::now().millis() + 300)),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    env.svc
        .set_token_inactive(&w.manager.actor, k2, true)
        .await
        .unwrap();
    assert_eq!(
        env.svc
            .authorize_token(key, &t2.token_id)
            .await
            .unwrap()
            .unwrap_err(),
        LoginRefusal::TokenInactive
    );
}

async fn r18_a_bulk_change_does_what_its_preview_counted_or_nothing(env: &Env) {
    let w = World::build(&env.svc).await;
    let m = &w.manager.actor;
    let (a1, _) = w.token(&env.svc, &w.alice, w.token_login_role).await;
    let (a2, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let (b1, _) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    let (a3, _) = w.token(&env.svc, &w.alice, w.token_login_role).await;
    env.svc.revoke_token(m, a3).await.unwrap();
    let alice = || TokenFilter {
        user: Some(w.alice.id),
        ..TokenFilter::default()
    };
    // Revoked tokens are not selected: two of Alice's three.
    let preview = env
        .svc
        .preview_bulk(m, alice(), BulkAction::Inactivate)
        .await
        .unwrap();
    assert_eq!(preview.count, 2);
    let keys: Vec<TokenKey> = preview.sample.iter().map(|i| i.token.key).collect();
    assert_eq!(keys, [a1, a2]);
    // A count that is not the selection's does nothing.
    let stale = env
        .svc
        .apply_bulk(m, alice(), BulkAction::Inactivate, 3)
        .await;
    assert!(matches!(stale, Err(Error::Conflict { .. })), "{stale:?}");
    for key in [a1, a2] {
        assert!(!env.svc.token(m, key).await.unwrap().token.inactive);
    }
    let done = env
        .svc
        .apply_bulk(m, alice(), BulkAction::Inactivate, 2)
        .await
        .unwrap();
    assert_eq!(done.changed, [a1, a2]);
    assert!(env.svc.token(m, a1).await.unwrap().token.inactive);
    assert!(!env.svc.token(m, b1).await.unwrap().token.inactive);
    // Inactive ones are not selected again for Inactivate, but are for Revoke.
    let again = env
        .svc
        .preview_bulk(m, alice(), BulkAction::Inactivate)
        .await
        .unwrap();
    assert_eq!(again.count, 0);
    let revoke = env
        .svc
        .preview_bulk(m, alice(), BulkAction::Revoke)
        .await
        .unwrap();
    assert_eq!(revoke.count, 2);
    let done = env
        .svc
        .apply_bulk(m, alice(), BulkAction::Revoke, 2)
        .await
        .unwrap();
    assert_eq!(done.changed, [a1, a2]);
    for key in [a1, a2] {
        let t = env.svc.token(m, key).await.unwrap().token;
        assert_eq!(t.revoked.unwrap().by_name, "Max Manager");
        // One system note per token and change.
        let notes = env
            .svc
            .system_notes(m, &RecordRef::Token(key))
            .await
            .unwrap();
        let fields: Vec<&str> = notes.iter().map(|n| n.field.as_str()).collect();
        assert_eq!(fields, ["created", "inactive", "revoked"], "{notes:?}");
    }
    assert!(env.svc.token(m, b1).await.unwrap().token.revoked.is_none());
    // Nothing selected, nothing to do; revoked=yes is refused, naming the field.
    let none = env
        .svc
        .apply_bulk(m, alice(), BulkAction::Revoke, 0)
        .await
        .unwrap();
    assert!(none.changed.is_empty());
    let f = TokenFilter {
        revoked: RevokedFilter::Yes,
        ..TokenFilter::default()
    };
    assert_eq!(
        field_of(env.svc.preview_bulk(m, f, BulkAction::Revoke).await),
        "revoked"
    );
    // Time filters select too: Bob's token, unused for a day or more.
    env.svc
        .store()
        .record_token_use(vec![TokenUse::at(b1, Timestamp::now().plus_days(-3))])
        .await
        .unwrap();
    let mut unused = TokenFilter::default();
    TimeFilters {
        unused_for_days: Some(1),
        ..TimeFilters::default()
    }
    .apply(&mut unused, Timestamp::now())
    .unwrap();
    let preview = env
        .svc
        .preview_bulk(m, unused.clone(), BulkAction::Revoke)
        .await
        .unwrap();
    assert_eq!(preview.count, 1);
    let done = env
        .svc
        .apply_bulk(m, unused, BulkAction::Revoke, 1)
        .await
        .unwrap();
    assert_eq!(done.changed, [b1]);
}

async fn r18_a_bulk_change_follows_r12(env: &Env) {
    let w = World::build(&env.svc).await;
    let (mine, _) = w.token(&env.svc, &w.alice, w.token_user_role).await;
    let (bobs, _) = w.token(&env.svc, &w.bob, w.token_login_role).await;
    let alice = w.alice.as_role(w.token_user_role);
    // Without Access Token Management: one's own tokens only.
    let others = TokenFilter {
        user: Some(w.bob.id),
        ..TokenFilter::default()
    };
    assert!(is_not_permitted(
        env.svc
            .preview_bulk(&alice, others.clone(), BulkAction::Revoke)
            .await
    ));
    assert!(is_not_permitted(
        env.svc
            .apply_bulk(&alice, others, BulkAction::Revoke, 1)
            .await
    ));
    let all = env
        .svc
        .preview_bulk(&alice, TokenFilter::default(), BulkAction::Revoke)
        .await
        .unwrap();
    assert_eq!(all.count, 1);
    let done = env
        .svc
        .apply_bulk(&alice, TokenFilter::default(), BulkAction::Revoke, 1)
        .await
        .unwrap();
    assert_eq!(done.changed, [mine]);
    let m = &w.manager.actor;
    assert!(
        env.svc
            .token(m, bobs)
            .await
            .unwrap()
            .token
            .revoked
            .is_none()
    );
    // Another account's administrator selects nothing of this account.
    let theirs = env
        .svc
        .preview_bulk(&w.b_admin.actor, TokenFilter::default(), BulkAction::Revoke)
        .await
        .unwrap();
    assert_eq!(theirs.count, 0);
}

/// The revocations and their notes commit together or not at all: a note that cannot be
/// written (a trigger refuses the last one here) leaves every token as it was.
async fn r18_a_bulk_change_is_one_transaction(env: &Env) {
    let w = World::build(&env.svc).await;
    let m = &w.manager.actor;
    let mut keys = Vec::new();
    for _ in 0..3 {
        keys.push(w.token(&env.svc, &w.alice, w.token_login_role).await.0);
    }
    let last = keys[2].get();
    let mut raw = env.raw().await;
    let refuse = if env.database_url().is_some() {
        vec![
            "CREATE FUNCTION refuse_note() RETURNS trigger AS $$ BEGIN \
             RAISE EXCEPTION 'refused for the test'; END $$ LANGUAGE plpgsql"
                .to_owned(),
            format!(
                "CREATE TRIGGER refuse_last BEFORE INSERT ON system_notes FOR EACH ROW \
                 WHEN (NEW.record_id = {last} AND NEW.field = 'revoked') \
                 EXECUTE FUNCTION refuse_note()"
            ),
        ]
    } else {
        vec![format!(
            "CREATE TRIGGER refuse_last BEFORE INSERT ON system_notes \
             WHEN NEW.record_id = {last} AND NEW.field = 'revoked' \
             BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
        )]
    };
    for sql in refuse {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut raw)
            .await
            .unwrap();
    }
    let f = TokenFilter {
        user: Some(w.alice.id),
        ..TokenFilter::default()
    };
    let failed = env
        .svc
        .apply_bulk(m, f.clone(), BulkAction::Revoke, 3)
        .await;
    assert!(failed.is_err());
    for key in &keys {
        assert!(
            env.svc
                .token(m, *key)
                .await
                .unwrap()
                .token
                .revoked
                .is_none()
        );
    }
    let drop = if env.database_url().is_some() {
        "DROP TRIGGER refuse_last ON system_notes"
    } else {
        "DROP TRIGGER refuse_last"
    };
    sqlx::raw_sql(drop).execute(&mut raw).await.unwrap();
    let done = env
        .svc
        .apply_bulk(m, f, BulkAction::Revoke, 3)
        .await
        .unwrap();
    assert_eq!(done.changed, keys);
}
