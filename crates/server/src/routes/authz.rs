//! The authorization API: Open edX AuthZ checks for resource servers, and role assignments.
//!
//! Every caller authenticates as a confidential client with HTTP Basic; what it may then do is
//! core's decision (`latchkey_core::authz::access`): checks, the change feed, scopes and the
//! assignment list need the `authz:read` permission, assigning and unassigning `authz:write`
//! (audited as `client:<client_id>`). `GET /authz/v1/changes` is the change feed remote caches
//! follow (a long poll, `docs/design/authz-feed.md`). See `docs/design/authz-service.md`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use latchkey_authz::AuthzError;
use latchkey_core::authz::access::{AuthzReader, AuthzWriter};
use latchkey_core::authz::rule::RoleAssignment;
use latchkey_core::authz::AssignmentFilter;
use latchkey_core::store::Store;
use latchkey_proto::authz::{
    Assignment, AssignmentChange, AssignmentList, AssignmentQuery, Changes, ChangesQuery,
    CheckBatchResult, CheckRequest, CheckResult, ScopesQuery, ScopesResponse,
};
use latchkey_proto::ErrorCode;

use crate::clock::now;
use crate::error::ApiError;
use crate::routes::{bad_query, basic_client as caller, feed_wait, refused};
use crate::state::AppState;

/// Checks in one batch, at most.
pub const MAX_BATCH: usize = 1000;
/// A full batch of long keys fits.
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/authz/v1/check", post(check::<S>))
        .route("/authz/v1/changes", get(changes::<S>))
        .route("/authz/v1/scopes", get(scopes::<S>))
        .route(
            "/authz/v1/assignments",
            get(list::<S>).post(assign::<S>).delete(unassign::<S>),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

pub async fn check<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Result<Json<CheckRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let authz = reader(&state, &headers).await?;
    let Json(request) = body.map_err(|e| {
        bad_body(
            e,
            r#"expected {"subject", "action", "scope"} or {"checks": [...]}"#,
        )
    })?;
    metrics::counter!("latchkey_authz_check_requests_total").increment(1);
    match request {
        CheckRequest::Single(c) => {
            let (decision, version) = authz.check_at(&c.subject, &c.action, &c.scope)?;
            Ok(Json(CheckResult {
                allowed: decision.is_allowed(),
                version: Some(version),
            })
            .into_response())
        }
        CheckRequest::Batch(batch) => {
            if batch.checks.len() > MAX_BATCH {
                return Err(ApiError::invalid_request(format!(
                    "at most {MAX_BATCH} checks per batch"
                )));
            }
            let (decisions, version) = authz
                .check_batch(
                    batch
                        .checks
                        .iter()
                        .map(|c| (c.subject.as_str(), c.action.as_str(), c.scope.as_str())),
                )
                .map_err(|(i, e)| match e {
                    AuthzError::Request(e) => {
                        ApiError::invalid_request(format!("checks[{i}]: {e}"))
                    }
                    other => ApiError::from(other),
                })?;
            let results = decisions
                .into_iter()
                .map(|d| CheckResult {
                    allowed: d.is_allowed(),
                    version: None,
                })
                .collect();
            Ok(Json(CheckBatchResult {
                results,
                version: Some(version),
            })
            .into_response())
        }
    }
}

/// The change feed: answers at once when this node's rules version is not `after`, else when it
/// moves (a local change, or the janitor's reload of another node's) or the wait ends.
pub async fn changes<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    query: Result<Query<ChangesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let authz = reader(&state, &headers).await?;
    let Query(q) = query.map_err(|e| bad_query(e, "expected ?after=VERSION[&wait=SECONDS]"))?;
    let wait = feed_wait(q.wait);
    metrics::counter!("latchkey_authz_feed_polls_total").increment(1);
    let version = authz.version_after(q.after, wait).await;
    // A proxy must not answer a later poll with this one's answer.
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(Changes { version }),
    )
        .into_response())
}

pub async fn scopes<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    query: Result<Query<ScopesQuery>, QueryRejection>,
) -> Result<Json<ScopesResponse>, ApiError> {
    let authz = reader(&state, &headers).await?;
    let Query(q) = query.map_err(|e| bad_query(e, "expected ?subject=...&action=..."))?;
    let found = authz
        .scopes_for(&q.subject, &q.action)
        .map_err(AuthzError::from)?;
    Ok(Json(ScopesResponse {
        scopes: found.scopes,
        staff: found.staff,
    }))
}

pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    query: Result<Query<AssignmentQuery>, QueryRejection>,
) -> Result<Json<AssignmentList>, ApiError> {
    let authz = reader(&state, &headers).await?;
    let Query(q) =
        query.map_err(|e| bad_query(e, "expected ?subject=&role=&scope= (each optional)"))?;
    let filter = AssignmentFilter {
        subject: q.subject,
        role: q.role,
        scope: q.scope,
    };
    let assignments = authz
        .assignments(&filter)
        .await?
        .into_iter()
        .map(|a| Assignment {
            subject: a.subject,
            role: a.role,
            scope: a.scope,
        })
        .collect();
    Ok(Json(AssignmentList { assignments }))
}

pub async fn assign<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Result<Json<Assignment>, JsonRejection>,
) -> Result<Response, ApiError> {
    let authz = writer(&state, &headers).await?;
    let Json(a) = body.map_err(|e| bad_body(e, r#"expected {"subject", "role", "scope"}"#))?;
    let assignment = RoleAssignment::new(&a.subject, &a.role, &a.scope)
        .map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let changed = authz.assign(&assignment, now()).await?;
    let status = if changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = AssignmentChange {
        changed,
        version: authz.version(),
    };
    Ok((status, Json(body)).into_response())
}

pub async fn unassign<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    query: Result<Query<Assignment>, QueryRejection>,
) -> Result<Json<AssignmentChange>, ApiError> {
    let authz = writer(&state, &headers).await?;
    let Query(a) = query.map_err(|e| bad_query(e, "expected ?subject=&role=&scope="))?;
    let assignment = RoleAssignment::new(&a.subject, &a.role, &a.scope)
        .map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let changed = authz.unassign(&assignment, now()).await?;
    Ok(Json(AssignmentChange {
        changed,
        version: authz.version(),
    }))
}

/// The caller as a reader of the rules, if core finds it may read them.
async fn reader<'s, S: Store>(
    state: &'s AppState<S>,
    headers: &HeaderMap,
) -> Result<AuthzReader<'s, S>, ApiError> {
    let client = caller(state, headers).await?;
    state.authz.reader(&client).map_err(refused)
}

/// The caller as a writer of assignments, if core finds it may change them.
async fn writer<'s, S: Store>(
    state: &'s AppState<S>,
    headers: &HeaderMap,
) -> Result<AuthzWriter<'s, S>, ApiError> {
    let client = caller(state, headers).await?;
    state.authz.writer(&client).map_err(refused)
}

fn bad_body(e: JsonRejection, expected: &str) -> ApiError {
    if crate::http::timed_out(&e) {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::InvalidRequest,
            "the body did not arrive in time",
        );
    }
    let status = e.status();
    let mut error = ApiError::invalid_request(format!("{}; {expected}", e.body_text()));
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        error = ApiError::new(status, ErrorCode::InvalidRequest, e.body_text());
    }
    error
}
