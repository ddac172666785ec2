//! Satisfaction records: CSAT, NPS and CES values over time, the customer's satisfaction history.

use chrono::{DateTime, Utc};
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
pub enum SatisfactionKind {
    /// Customer satisfaction, 1–5.
    Csat,
    /// Net promoter score answer, 0–10.
    Nps,
    /// Customer effort score, 1–7.
    Ces,
}

impl SatisfactionKind {
    pub fn range(self) -> (f64, f64) {
        match self {
            SatisfactionKind::Csat => (1.0, 5.0),
            SatisfactionKind::Nps => (0.0, 10.0),
            SatisfactionKind::Ces => (1.0, 7.0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SatisfactionRecord {
    pub id: Id,
    pub customer_id: Id,
    pub kind: SatisfactionKind,
    pub value: f64,
    /// `manual`, `survey`, `import`, …
    pub source: String,
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SatisfactionInput {
    pub kind: SatisfactionKind,
    /// Within the kind's scale; averages such as 4.2 are allowed.
    pub value: f64,
    /// Defaults to `manual`.
    pub source: Option<String>,
    pub note: Option<String>,
    /// Defaults to now.
    pub recorded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SatisfactionPatch {
    pub value: Option<f64>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub note: Option<Option<String>>,
    pub recorded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SatisfactionFields {
    pub kind: SatisfactionKind,
    pub value: f64,
    pub source: String,
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

impl SatisfactionInput {
    pub fn validate(self, now: DateTime<Utc>) -> Result<SatisfactionFields, ValidationErrors> {
        SatisfactionFields {
            kind: self.kind,
            value: self.value,
            source: self.source.unwrap_or_else(|| "manual".to_owned()),
            note: self.note,
            recorded_at: self.recorded_at.unwrap_or(now),
        }
        .validate()
    }
}

impl SatisfactionPatch {
    pub fn apply(
        self,
        current: &SatisfactionRecord,
    ) -> Result<SatisfactionFields, ValidationErrors> {
        SatisfactionFields {
            kind: current.kind,
            value: self.value.unwrap_or(current.value),
            source: current.source.clone(),
            note: self.note.unwrap_or_else(|| current.note.clone()),
            recorded_at: self.recorded_at.unwrap_or(current.recorded_at),
        }
        .validate()
    }
}

impl SatisfactionFields {
    fn validate(self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let (low, high) = self.kind.range();
        if !(low..=high).contains(&self.value) {
            let kind: &'static str = self.kind.into();
            errors.add(
                "value",
                "out_of_range",
                format!("a {kind} value lies between {low} and {high}"),
            );
        }
        let source = validation::identifier(&mut errors, "source", &self.source, 50);
        let note = validation::optional_text(&mut errors, "note", self.note.as_deref(), 4000);
        errors.into_result(SatisfactionFields {
            source: source.unwrap_or_default(),
            note,
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_must_lie_on_the_kind_scale() {
        let now = Utc::now();
        let input = |kind, value| SatisfactionInput {
            kind,
            value,
            source: None,
            note: None,
            recorded_at: None,
        };
        assert!(input(SatisfactionKind::Csat, 4.2).validate(now).is_ok());
        assert!(input(SatisfactionKind::Nps, 0.0).validate(now).is_ok());
        assert!(input(SatisfactionKind::Csat, 0.0).validate(now).is_err());
        assert!(input(SatisfactionKind::Ces, 7.5).validate(now).is_err());
    }
}
