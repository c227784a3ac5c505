//! Setup › Access Tokens › bulk changes (R18): what the list's filters select, counted and
//! shown before anything is done, then revoked or made inactive in one change, if the filters
//! still select the count confirmed.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::BulkAction;
use tessera_core::model::Permission;

use super::tokens::{BULK, FILTER_FIELDS, LIST, ListFilters, MINE, TokenRow, section};
use super::{Chrome, Ui, UiError, link, render};
use crate::AppState;

#[derive(Template)]
#[template(path = "tokens_bulk.html")]
struct BulkPage {
    chrome: Chrome,
    /// `revoke` or `inactivate`.
    action: &'static str,
    /// The other action's page, with the same filters.
    other: String,
    count: usize,
    max: usize,
    rows: Vec<TokenRow>,
    /// The filters, carried as hidden fields.
    filters: Vec<(&'static str, String)>,
    narrowed: bool,
    back: String,
    error: Option<String>,
}

/// Refuses a field a bulk page does not take: a link with a misspelt filter must not read as
/// "no filter" and select every token.
fn only_bulk_fields(fields: &crate::form::Fields, also: &[&str]) -> Result<(), UiError> {
    for (name, _) in fields.iter() {
        if !FILTER_FIELDS.contains(&name) && name != "action" && !also.contains(&name) {
            return Err(UiError::bad_request(format!(
                "{name:?} is not a filter of a bulk change (it takes: {})",
                FILTER_FIELDS.join(", ")
            )));
        }
    }
    Ok(())
}

/// The action a bulk page is for, from its `action` field (default revoke).
fn bulk_action(fields: &crate::form::Fields) -> Result<BulkAction, UiError> {
    match fields.value("action").as_str() {
        "" => Ok(BulkAction::Revoke),
        word => BulkAction::from_code(word).ok_or_else(|| {
            UiError::bad_request(format!(
                "{word:?} is not a bulk change (revoke or inactivate)"
            ))
        }),
    }
}

async fn bulk_page(
    state: &AppState,
    ui: &Ui,
    filters: ListFilters,
    action: BulkAction,
    error: Option<String>,
) -> Result<Response, UiError> {
    let mine = !ui.can(Permission::AccessTokenManagement);
    let list = if mine { MINE } else { LIST };
    let other = match action {
        BulkAction::Revoke => BulkAction::Inactivate,
        BulkAction::Inactivate => BulkAction::Revoke,
    };
    let mut with_action = filters.keep.clone();
    with_action.push(("action", other.code().to_owned()));
    let (preview, error) = match filters.error.clone() {
        Some(e) => (None, Some(e)),
        None => match state
            .tessera()
            .preview_bulk(&ui.actor, filters.filter.clone(), action)
            .await
        {
            Ok(p) => (Some(p), error),
            Err(
                e
                @ (tessera_core::Error::Invalid { .. } | tessera_core::Error::NotPermitted { .. }),
            ) => (None, Some(super::sentence(&e))),
            Err(e) => return Err(e.into()),
        },
    };
    let failed = error.is_some();
    let mut response = render(&BulkPage {
        chrome: ui.chrome(section(ui)),
        action: action.code(),
        other: link(BULK, &with_action),
        count: preview.as_ref().map_or(0, |p| p.count),
        max: tessera_core::BULK_MAX,
        rows: preview
            .map(|p| p.sample.iter().map(TokenRow::from).collect())
            .unwrap_or_default(),
        narrowed: filters.narrows(),
        back: link(list, &filters.keep),
        filters: filters.keep,
        error,
    });
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// Bulk changes (R18): what the list's filters select, counted, before anything is done.
pub(crate) async fn bulk_preview(
    State(state): State<AppState>,
    ui: Ui,
) -> Result<Response, UiError> {
    let q = ui.query()?;
    only_bulk_fields(&q, &[])?;
    let action = bulk_action(&q)?;
    let mine = !ui.can(Permission::AccessTokenManagement);
    let filters = ListFilters::read(&q, &ui, mine);
    bulk_page(&state, &ui, filters, action, None).await
}

/// Carries a previewed bulk change out, if the filters still select the count shown.
pub(crate) async fn bulk_apply(State(state): State<AppState>, ui: Ui) -> Result<Response, UiError> {
    let form = ui.form();
    only_bulk_fields(form, &["csrf", "confirm", "expected_count"])?;
    let action = bulk_action(form)?;
    let mine = !ui.can(Permission::AccessTokenManagement);
    let filters = ListFilters::read(form, &ui, mine);
    ui.confirmed(match action {
        BulkAction::Revoke => "Revoking tokens, which is permanent,",
        BulkAction::Inactivate => "Making tokens inactive",
    })?;
    let Ok(expected) = form.value("expected_count").parse::<usize>() else {
        return bulk_page(
            &state,
            &ui,
            filters,
            action,
            Some("The count to confirm is missing; check it and confirm again.".to_owned()),
        )
        .await;
    };
    if let Some(e) = filters.error.clone() {
        return bulk_page(&state, &ui, filters, action, Some(e)).await;
    }
    let list = link(if mine { MINE } else { LIST }, &filters.keep);
    match state
        .tessera()
        .apply_bulk(&ui.actor, filters.filter.clone(), action, expected)
        .await
    {
        Ok(done) => {
            let n = done.changed.len();
            let tokens = if n == 1 { "token" } else { "tokens" };
            let message = match action {
                BulkAction::Revoke => format!(
                    "{n} {tokens} revoked. Requests signed with them are refused from now on."
                ),
                BulkAction::Inactivate => format!(
                    "{n} {tokens} made inactive. Each can be made active again from its Edit page."
                ),
            };
            Ok(ui.done(message, &list).await)
        }
        Err(
            e @ (tessera_core::Error::Conflict { .. }
            | tessera_core::Error::Invalid { .. }
            | tessera_core::Error::NotPermitted { .. }),
        ) => bulk_page(&state, &ui, filters, action, Some(super::sentence(&e))).await,
        Err(e) => Err(e.into()),
    }
}
