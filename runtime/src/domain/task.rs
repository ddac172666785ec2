//! Follow-up tasks: what someone must do for a customer, by when.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;
use super::validation::{self, ValidationErrors};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TaskPriority {
    Low,
    Normal,
    High,
    Urgent,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Done,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Task {
    pub id: Id,
    pub customer_id: Option<Id>,
    pub assignee_id: Id,
    pub title: String,
    pub notes: Option<String>,
    pub due_at: DateTime<Utc>,
    pub priority: TaskPriority,
    pub status: TaskStatus,
    /// `manual`; `rule` for tasks an automation rule created (see `rule_id`); `ticket` for a
    /// revisit after resolution or a breach to look at, `ticket-follow-up` for the follow-up a
    /// resolution asked for (see `ticket_id`).
    pub source: String,
    pub rule_id: Option<String>,
    pub ticket_id: Option<Id>,
    pub created_by: Option<Id>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    pub title: String,
    pub customer_id: Option<Id>,
    /// Defaults to the caller.
    pub assignee_id: Option<Id>,
    pub due_at: DateTime<Utc>,
    /// Defaults to `normal`.
    pub priority: Option<TaskPriority>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    pub title: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    pub assignee_id: Option<Id>,
    pub due_at: Option<DateTime<Utc>>,
    pub priority: Option<TaskPriority>,
    /// `done` records the completion time; `open` reopens.
    pub status: Option<TaskStatus>,
}

/// A validated task, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFields {
    pub title: String,
    pub customer_id: Option<Id>,
    pub assignee_id: Id,
    pub due_at: DateTime<Utc>,
    pub priority: TaskPriority,
    pub notes: Option<String>,
    pub status: TaskStatus,
}

fn checked(fields: TaskFields) -> Result<TaskFields, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let title = validation::required_text(&mut errors, "title", &fields.title, 200);
    let notes = fields
        .notes
        .as_deref()
        .map(|notes| notes.trim().to_owned())
        .filter(|notes| !notes.is_empty());
    if notes.as_ref().is_some_and(|n| n.chars().count() > 5000) {
        errors.add("notes", "too_long", "notes has at most 5000 characters");
    }
    errors.into_result(TaskFields {
        title: title.unwrap_or_default(),
        notes,
        ..fields
    })
}

impl TaskInput {
    pub fn validate(self, caller: Id) -> Result<TaskFields, ValidationErrors> {
        checked(TaskFields {
            title: self.title,
            customer_id: self.customer_id,
            assignee_id: self.assignee_id.unwrap_or(caller),
            due_at: self.due_at,
            priority: self.priority.unwrap_or(TaskPriority::Normal),
            notes: self.notes,
            status: TaskStatus::Open,
        })
    }
}

impl TaskPatch {
    pub fn apply(self, current: &Task) -> Result<TaskFields, ValidationErrors> {
        checked(TaskFields {
            title: self.title.unwrap_or_else(|| current.title.clone()),
            customer_id: current.customer_id,
            assignee_id: self.assignee_id.unwrap_or(current.assignee_id),
            due_at: self.due_at.unwrap_or(current.due_at),
            priority: self.priority.unwrap_or(current.priority),
            notes: self.notes.unwrap_or_else(|| current.notes.clone()),
            status: self.status.unwrap_or(current.status),
        })
    }
}

/// The "my tasks" views, in the caller's day (UTC until users carry a time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, strum::EnumString)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TaskView {
    /// Open and due before now.
    Overdue,
    /// Open and due between now and the end of today.
    Today,
    /// Open and due after today.
    Upcoming,
}

impl TaskView {
    /// The `[from, until)` due-time window of the view at `now`.
    pub fn window(self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let end_of_today = (now.date_naive() + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        match self {
            TaskView::Overdue => (None, Some(now)),
            TaskView::Today => (Some(now), Some(end_of_today)),
            TaskView::Upcoming => (Some(end_of_today), None),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub assignee_id: Option<Id>,
    pub customer_id: Option<Id>,
    pub status: Option<TaskStatus>,
    pub due_from: Option<DateTime<Utc>>,
    pub due_until: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn views_split_the_timeline_at_now_and_midnight() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap();
        let midnight = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        assert_eq!(TaskView::Overdue.window(now), (None, Some(now)));
        assert_eq!(TaskView::Today.window(now), (Some(now), Some(midnight)));
        assert_eq!(TaskView::Upcoming.window(now), (Some(midnight), None));
    }
}
