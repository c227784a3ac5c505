//! Accounts, roles and users administration, on both backends.

#![allow(clippy::unwrap_used)]

mod support;

use support::Env;
use support::world::{self, OP, World};
use tessera_core::ids::{AccountId, Email, RoleId};
use tessera_core::model::{Context, Permission, PermissionSet};
use tessera_core::{
    AccountSettings, Actor, Error, NewAccountInput, NewRoleInput, NewUserInput, RoleChanges,
    UserChanges,
};

on_both_backends!(
    accounts_are_created_by_the_operator_with_an_administrator_role,
    role_ids_count_per_account_from_1001,
    emails_are_unique_per_account_ignoring_case,
    only_administrators_of_the_account_manage_its_directory,
    administrators_cannot_lock_themselves_out,
    actors_must_be_active_and_hold_their_role,
    administrators_set_and_clear_passwords,
    web_sessions_are_kept_expire_and_end_with_their_user,
    fixtures_leave_an_existing_accounts_settings_as_they_are,
);

fn account_input(id: &str) -> NewAccountInput {
    NewAccountInput {
        id: AccountId::parse(id).unwrap(),
        name: "Acct".to_owned(),
        tba_enabled: true,
        require_approval_for_auto_install: false,
        concurrency_limit: None,
    }
}

fn user_input(name: &str, email: &str, roles: &[RoleId]) -> NewUserInput {
    NewUserInput {
        name: name.to_owned(),
        email: Email::parse(email).unwrap(),
        password: None,
        roles: roles.to_vec(),
    }
}

async fn accounts_are_created_by_the_operator_with_an_administrator_role(env: &Env) {
    let a = env
        .svc
        .create_account(&OP, account_input("1234567_sb2"))
        .await
        .unwrap();
    assert_eq!(a.id.as_str(), "1234567_SB2");
    let admin = env
        .svc
        .role(&OP, &a.id, RoleId::ADMINISTRATOR)
        .await
        .unwrap();
    assert_eq!(admin.name, "Administrator");
    assert_eq!(admin.effective_permissions(), PermissionSet::all());
    assert!(matches!(
        env.svc
            .create_account(&OP, account_input("1234567-SB2"))
            .await,
        Err(Error::Conflict { .. })
    ));
    let w = World::build(&env.svc).await;
    assert!(matches!(
        env.svc
            .create_account(&w.admin.actor, account_input("999"))
            .await,
        Err(Error::NotPermitted { .. })
    ));
    let listed = env.svc.list_accounts(&OP).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(
        env.svc.list_accounts(&w.admin.actor).await.unwrap().len(),
        1
    );
    assert!(matches!(
        env.svc
            .update_role(
                &OP,
                &a.id,
                RoleId::ADMINISTRATOR,
                RoleChanges {
                    inactive: Some(true),
                    ..RoleChanges::default()
                }
            )
            .await,
        Err(Error::NotPermitted { .. })
    ));
}

async fn role_ids_count_per_account_from_1001(env: &Env) {
    let a = world::account(&env.svc, "111", "A").await;
    let b = world::account(&env.svc, "222", "B").await;
    let r1 = world::role(&env.svc, &a, "One", &[]).await;
    let r2 = world::role(&env.svc, &a, "Two", &[]).await;
    let rb = world::role(&env.svc, &b, "Other", &[]).await;
    assert_eq!((r1.get(), r2.get(), rb.get()), (1001, 1002, 1001));
    let roles = env.svc.list_roles(&OP, &a).await.unwrap();
    let ids: Vec<i64> = roles.iter().map(|r| r.id.get()).collect();
    assert_eq!(ids, [3, 1001, 1002]);
    let changed = env
        .svc
        .update_role(
            &OP,
            &a,
            r1,
            RoleChanges {
                permissions: Some(PermissionSet::from_iter([Permission::LoginAuditTrail])),
                web_services_only: Some(true),
                ..RoleChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(changed.has(Permission::LoginAuditTrail) && changed.web_services_only);
    assert_eq!(env.svc.role(&OP, &a, r1).await.unwrap(), changed);
}

async fn emails_are_unique_per_account_ignoring_case(env: &Env) {
    let a = world::account(&env.svc, "111", "A").await;
    let b = world::account(&env.svc, "222", "B").await;
    env.svc
        .create_user(&OP, &a, user_input("Jo", "jo@example.com", &[]))
        .await
        .unwrap();
    assert!(matches!(
        env.svc
            .create_user(&OP, &a, user_input("Jo 2", "JO@Example.com", &[]))
            .await,
        Err(Error::Conflict { .. })
    ));
    let other = env
        .svc
        .create_user(&OP, &b, user_input("Jo", "jo@example.com", &[]))
        .await
        .unwrap();
    let second = env
        .svc
        .create_user(&OP, &a, user_input("Kim", "kim@example.com", &[]))
        .await
        .unwrap();
    assert!(matches!(
        env.svc
            .update_user(
                &OP,
                &a,
                second.id,
                UserChanges {
                    email: Some(Email::parse("jo@example.com").unwrap()),
                    ..UserChanges::default()
                }
            )
            .await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(other.account, b);
    // Roles must exist in the user's own account.
    let rb = world::role(&env.svc, &b, "B only", &[]).await;
    let rb2 = world::role(&env.svc, &b, "B two", &[]).await;
    assert!(matches!(
        env.svc
            .create_user(&OP, &a, user_input("Lee", "lee@example.com", &[rb2]))
            .await,
        Err(Error::Invalid { field: "roles", .. })
    ));
    let users = env.svc.list_users(&OP, &b).await.unwrap();
    assert_eq!(users.len(), 1);
    let with_roles = env
        .svc
        .set_user_roles(&OP, &b, other.id, &[rb2, rb, rb])
        .await
        .unwrap();
    assert_eq!(with_roles.roles, [rb, rb2]);
}

async fn only_administrators_of_the_account_manage_its_directory(env: &Env) {
    let w = World::build(&env.svc).await;
    let new = || user_input("New", "new@example.com", &[]);
    assert!(matches!(
        env.svc.create_user(&w.manager.actor, &w.a, new()).await,
        Err(Error::NotPermitted { .. })
    ));
    assert!(matches!(
        env.svc.create_user(&w.b_admin.actor, &w.a, new()).await,
        Err(Error::NotFound { .. })
    ));
    let role = NewRoleInput {
        name: "R".to_owned(),
        permissions: PermissionSet::empty(),
        web_services_only: false,
    };
    assert!(matches!(
        env.svc
            .create_role(&w.alice.actor, &w.a, role.clone())
            .await,
        Err(Error::NotPermitted { .. })
    ));
    assert!(
        env.svc
            .create_user(&w.admin.actor, &w.a, new())
            .await
            .is_ok()
    );
    assert!(
        env.svc
            .create_role(&w.admin.actor, &w.a, role)
            .await
            .is_ok()
    );
    // Any active user of the account can read it; other accounts cannot.
    assert!(env.svc.list_users(&w.clerk.actor, &w.a).await.is_ok());
    assert!(matches!(
        env.svc.list_users(&w.b_admin.actor, &w.a).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        env.svc
            .update_account_settings(
                &w.manager.actor,
                &w.a,
                AccountSettings {
                    tba_enabled: Some(false),
                    ..Default::default()
                }
            )
            .await,
        Err(Error::NotPermitted { .. })
    ));
    let a = env
        .svc
        .update_account_settings(
            &w.admin.actor,
            &w.a,
            AccountSettings {
                require_approval_for_auto_install: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(a.tba_enabled && a.require_approval_for_auto_install);
}

async fn administrators_cannot_lock_themselves_out(env: &Env) {
    let w = World::build(&env.svc).await;
    let me = &w.admin;
    assert!(matches!(
        env.svc
            .update_user(
                &me.actor,
                &w.a,
                me.id,
                UserChanges {
                    active: Some(false),
                    ..UserChanges::default()
                }
            )
            .await,
        Err(Error::NotPermitted { .. })
    ));
    assert!(matches!(
        env.svc
            .set_user_roles(&me.actor, &w.a, me.id, &[w.token_user_role])
            .await,
        Err(Error::NotPermitted { .. })
    ));
    assert!(matches!(
        env.svc.delete_user(&me.actor, &w.a, me.id).await,
        Err(Error::NotPermitted { .. })
    ));
}

async fn actors_must_be_active_and_hold_their_role(env: &Env) {
    let w = World::build(&env.svc).await;
    // Acting with a role not held.
    let pretender = Actor::user(&w.a, w.clerk.id, RoleId::ADMINISTRATOR, Context::Ui);
    assert!(matches!(
        env.svc.list_users(&pretender, &w.a).await,
        Err(Error::NotPermitted { .. })
    ));
    // An inactive user.
    env.svc
        .update_user(
            &OP,
            &w.a,
            w.manager.id,
            UserChanges {
                active: Some(false),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    let r = env
        .svc
        .list_tokens(
            &w.manager.actor,
            Default::default(),
            Default::default(),
            None,
            10,
        )
        .await;
    assert!(matches!(r, Err(Error::NotPermitted { .. })));
    // An inactive role.
    env.svc
        .update_role(
            &OP,
            &w.a,
            w.token_user_role,
            RoleChanges {
                inactive: Some(true),
                ..RoleChanges::default()
            },
        )
        .await
        .unwrap();
    let r = env
        .svc
        .list_tokens(
            &w.alice.actor,
            Default::default(),
            Default::default(),
            None,
            10,
        )
        .await;
    assert!(matches!(r, Err(Error::NotPermitted { .. })));
    // The operator does not act inside an account's token rules.
    let r = env
        .svc
        .list_tokens(&OP, Default::default(), Default::default(), None, 10)
        .await;
    assert!(matches!(r, Err(Error::NotPermitted { .. })));
}

async fn administrators_set_and_clear_passwords(env: &Env) {
    use tessera_core::SecretString;
    let w = World::build(&env.svc).await;
    let email = Email::parse("alice.able@example.com").unwrap();
    let password = SecretString::from("a long enough passphrase");
    let check = async |p: SecretString| env.svc.check_password(&w.a, &email, &p).await.unwrap();
    assert!(check(password.clone()).await.is_none(), "no password yet");
    assert!(matches!(
        env.svc
            .set_password(&w.manager.actor, &w.a, w.alice.id, Some(&password))
            .await,
        Err(Error::NotPermitted { .. })
    ));
    env.svc
        .set_password(&w.admin.actor, &w.a, w.alice.id, Some(&password))
        .await
        .unwrap();
    assert_eq!(check(password.clone()).await.unwrap().id, w.alice.id);
    assert!(
        check(SecretString::from("a long enough passphrasE"))
            .await
            .is_none()
    );
    // Another account's user with the same email is another user.
    assert!(
        env.svc
            .check_password(&w.b, &email, &password)
            .await
            .unwrap()
            .is_none()
    );
    // An inactive user cannot sign in, whatever the password.
    env.svc
        .update_user(
            &OP,
            &w.a,
            w.alice.id,
            UserChanges {
                active: Some(false),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(check(password.clone()).await.is_none());
    env.svc
        .set_password(&OP, &w.a, w.alice.id, None)
        .await
        .unwrap();
    env.svc
        .update_user(
            &OP,
            &w.a,
            w.alice.id,
            UserChanges {
                active: Some(true),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(check(password).await.is_none(), "cleared");
}

async fn web_sessions_are_kept_expire_and_end_with_their_user(env: &Env) {
    use tessera_core::SecretString;
    use tessera_core::store::WebSession;
    let w = World::build(&env.svc).await;
    let session =
        |digest: &str, owner: Option<(AccountId, tessera_core::ids::UserId)>, expires_at| {
            WebSession {
                id_digest: digest.to_owned(),
                owner,
                data: format!("{{\"of\":\"{digest}\"}}"),
                expires_at,
            }
        };
    let alice = Some((w.a.clone(), w.alice.id));
    let now = 1_800_000_000;
    env.svc
        .save_web_session(&session("one", alice.clone(), now + 60))
        .await
        .unwrap();
    env.svc
        .save_web_session(&session("two", alice.clone(), now + 60))
        .await
        .unwrap();
    env.svc
        .save_web_session(&session("anonymous", None, now - 1))
        .await
        .unwrap();
    let one = env.svc.web_session("one", now).await.unwrap().unwrap();
    assert_eq!(one, session("one", alice.clone(), now + 60));
    assert!(
        !format!("{one:?}").contains("\"of\""),
        "the data is never printed"
    );
    // Saving again replaces (the idle timeout moves on).
    env.svc
        .save_web_session(&session("one", alice.clone(), now + 120))
        .await
        .unwrap();
    assert_eq!(
        env.svc
            .web_session("one", now)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        now + 120
    );
    // An expired session does not load, and the purge removes it.
    assert!(
        env.svc
            .web_session("anonymous", now)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(env.svc.purge_web_sessions(now).await.unwrap(), 1);
    env.svc.delete_web_session("two").await.unwrap();
    assert!(env.svc.web_session("two", now).await.unwrap().is_none());
    // A password set by an administrator ends the user's sessions.
    env.svc
        .set_password(
            &w.admin.actor,
            &w.a,
            w.alice.id,
            Some(&SecretString::from("a long enough passphrase")),
        )
        .await
        .unwrap();
    assert!(env.svc.web_session("one", now).await.unwrap().is_none());
    // Deleting the user deletes its sessions with it.
    env.svc
        .save_web_session(&session("three", alice.clone(), now + 60))
        .await
        .unwrap();
    env.svc
        .delete_user(&w.admin.actor, &w.a, w.alice.id)
        .await
        .unwrap();
    assert!(env.svc.web_session("three", now).await.unwrap().is_none());
}

/// Restarting with the same fixtures file changes nothing: an account that exists keeps the
/// settings its administrators gave it (before, TBA switched off, an IP allow-list and a
/// maximum token lifetime came back to the file's values at every start). Only the account
/// the first start just made takes the file's settings.
async fn fixtures_leave_an_existing_accounts_settings_as_they_are(env: &Env) {
    use tessera_core::allow::IpAllowList;
    use tessera_core::fixtures::{Fixtures, apply, apply_at_first_start};
    let f = Fixtures::parse(
        "[[accounts]]\nid = \"1234567\"\nname = \"Wolfe\"\ntba = true\n\
         token_max_lifetime_days = 30\n",
    )
    .unwrap();
    apply(&env.svc, &f).await.unwrap();
    let id = AccountId::parse("1234567").unwrap();
    let read = || async {
        env.svc
            .list_accounts(&OP)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.id == id)
            .unwrap()
    };
    assert_eq!(read().await.token_max_lifetime_days, Some(30));
    let changed = AccountSettings {
        tba_enabled: Some(false),
        token_max_lifetime_days: Some(Some(7)),
        ip_allow: Some(IpAllowList::parse("ip_allow", "10.0.0.0/8").unwrap()),
        ..AccountSettings::default()
    };
    env.svc
        .update_account_settings(&OP, &id, changed)
        .await
        .unwrap();
    let report = apply(&env.svc, &f).await.unwrap();
    assert_eq!(report.existing.len(), 1);
    let after = read().await;
    assert!(!after.tba_enabled);
    assert_eq!(after.token_max_lifetime_days, Some(7));
    assert_eq!(after.ip_allow.to_string(), "10.0.0.0/8");
    // The account a first start just made takes the file's settings.
    apply_at_first_start(&env.svc, &f, Some(&id)).await.unwrap();
    let first = read().await;
    assert!(first.tba_enabled);
    assert_eq!(first.token_max_lifetime_days, Some(30));
}
