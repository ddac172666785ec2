//! Query parameters shared by the lists of a customer's child records.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::ValidationErrors;
use crate::domain::page::PageRequest;

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
