//! `GET /oauth2/revocations?after=CURSOR[&wait=SECONDS]`: the revocation feed resource servers
//! follow (`latchkey-guard` does), a long poll for a confidential client granted
//! `revocations:read` (HTTP Basic). Why a long poll and not server-sent events:
//! docs/design/revocation-feed.md.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::store::Store;
use latchkey_proto::RevocationsQuery;

use crate::error::ApiError;
use crate::routes::{bad_query, basic_client, feed_wait, no_store};
use crate::state::AppState;

pub async fn revocations<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    query: Result<Query<RevocationsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let client = basic_client(&state, &headers).await?;
    let Query(q) = query.map_err(|e| bad_query(e, "expected [?after=CURSOR][&wait=SECONDS]"))?;
    metrics::counter!("latchkey_revocation_feed_polls_total").increment(1);
    let answer = state
        .feed
        .read(&client, q.after, feed_wait(q.wait))
        .await
        .map_err(|e| ApiError::from(e).with_basic_challenge(true))?;
    Ok(no_store(Json(answer).into_response()))
}
