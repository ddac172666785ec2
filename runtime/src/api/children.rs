//! Query parameters shared by the lists of a customer's child records.

use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::access::Access;
use super::error::ApiResult;
use crate::domain::page::PageRequest;
use crate::domain::{Id, ValidationErrors};
use crate::store::customers;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–200, default 50.
    limit: Option<u64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl PageQuery {
    pub fn parse(&self, sort: &str) -> Result<PageRequest, ValidationErrors> {
        PageRequest::parse(self.limit, self.cursor.as_deref(), sort)
    }
}

/// Answers 404 unless the customer exists in the caller's tenant and is within the record scope
/// the route granted: the children of an invisible customer are invisible too.
pub async fn reach(state: &AppState, access: &Access, customer_id: Id) -> ApiResult<()> {
    customers::ensure_visible(
        &state.db,
        access.principal.tenant_id,
        customer_id,
        access.visibility(),
    )
    .await?;
    Ok(())
}
