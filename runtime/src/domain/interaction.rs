//! Interactions: every touch point with a customer, by whom and how.

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
pub enum Channel {
    Phone,
    Email,
    Wechat,
    Visit,
    Meeting,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Interaction {
    pub id: Id,
    pub customer_id: Id,
    pub channel: Channel,
    pub occurred_at: DateTime<Utc>,
    pub summary: String,
    pub feedback: Option<String>,
    /// The user who logged it; kept when that user is deactivated.
    pub logged_by: Option<Id>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionInput {
    pub channel: Channel,
    /// Defaults to now; may not lie more than an hour in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    pub summary: String,
    pub feedback: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionPatch {
    pub channel: Option<Channel>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub feedback: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionFields {
    pub channel: Channel,
    pub occurred_at: DateTime<Utc>,
    pub summary: String,
    pub feedback: Option<String>,
}

/// Interactions are logged after the fact; a little slack absorbs clock skew between devices.
const FUTURE_TOLERANCE: Duration = Duration::hours(1);

impl InteractionInput {
    pub fn validate(self, now: DateTime<Utc>) -> Result<InteractionFields, ValidationErrors> {
        InteractionFields {
            channel: self.channel,
            occurred_at: self.occurred_at.unwrap_or(now),
            summary: self.summary,
            feedback: self.feedback,
        }
        .validate(now)
    }
}

impl InteractionPatch {
    pub fn apply(
        self,
        current: &Interaction,
        now: DateTime<Utc>,
    ) -> Result<InteractionFields, ValidationErrors> {
        InteractionFields {
            channel: self.channel.unwrap_or(current.channel),
            occurred_at: self.occurred_at.unwrap_or(current.occurred_at),
            summary: self.summary.unwrap_or_else(|| current.summary.clone()),
            feedback: self.feedback.unwrap_or_else(|| current.feedback.clone()),
        }
        .validate(now)
    }
}

impl InteractionFields {
    fn validate(self, now: DateTime<Utc>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let summary = validation::required_text(&mut errors, "summary", &self.summary, 4000);
        let feedback =
            validation::optional_text(&mut errors, "feedback", self.feedback.as_deref(), 4000);
        if self.occurred_at > now + FUTURE_TOLERANCE {
            errors.add(
                "occurred_at",
                "in_future",
                "occurred_at must not be in the future",
            );
        }
        errors.into_result(InteractionFields {
            summary: summary.unwrap_or_default(),
            feedback,
            ..self
        })
    }
}
