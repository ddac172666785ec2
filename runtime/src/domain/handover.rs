//! Handover: moving a departing or reassigned colleague's customers to another owner in one
//! step, with a checklist of what the new owner inherits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;
use super::validation::ValidationErrors;

/// At most this many customers move in one handover; larger books go in several calls.
pub const MAX_CUSTOMERS: usize = 10_000;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverInput {
    pub from_user_id: Id,
    pub to_user_id: Id,
    /// Only these customers of `from_user_id`; all of them (within your scope) when absent.
    pub customer_ids: Option<Vec<Id>>,
    /// Also deactivate `from_user_id` (they keep authorship of their records).
    #[serde(default)]
    pub deactivate_from_user: bool,
}

impl HandoverInput {
    pub fn validate(self) -> Result<HandoverInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.from_user_id == self.to_user_id {
            errors.add(
                "to_user_id",
                "same_user",
                "to_user_id must differ from from_user_id",
            );
        }
        match &self.customer_ids {
            Some(ids) if ids.is_empty() => errors.add(
                "customer_ids",
                "empty",
                "name at least one customer, or omit the field",
            ),
            Some(ids) if ids.len() > MAX_CUSTOMERS => errors.add(
                "customer_ids",
                "too_many",
                format!("at most {MAX_CUSTOMERS} customers per handover"),
            ),
            _ => {}
        }
        errors.into_result(self)
    }
}

/// What the new owner takes over.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HandoverChecklist {
    pub from_user_id: Id,
    pub to_user_id: Id,
    pub customers: Vec<HandoverItem>,
    /// Open follow-up tasks of the former owner that moved: those on the moved customers, and
    /// when the former owner is deactivated, all of theirs. (Tickets join when they exist.)
    pub open_tasks: Vec<HandoverTask>,
    pub from_user_deactivated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HandoverItem {
    pub customer_id: Id,
    pub code: String,
    pub name: String,
    pub last_interaction_at: Option<DateTime<Utc>>,
    pub last_interaction_summary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HandoverTask {
    pub task_id: Id,
    pub title: String,
    pub customer_id: Option<Id>,
    pub due_at: DateTime<Utc>,
}
