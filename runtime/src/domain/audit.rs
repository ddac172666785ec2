//! The audit log: who did what to which record, and which fields changed. Sensitive values are
//! masked before they are written, so the log itself leaks nothing a viewer could not see.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::Id;
use super::access::{mask_email, mask_phone, mask_text};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Id,
    /// The user who acted; `null` for failed sign-ins of unknown users and system actions.
    pub actor_id: Option<Id>,
    /// `create`, `update`, `delete`, `login`, `login_failed`, `grant`, `revoke`, `assign`,
    /// `unassign`, `handover`…
    pub action: String,
    /// `customer`, `contact`, `order`, `user`, `role`, `session`…
    pub entity: String,
    pub entity_id: Option<String>,
    /// Changed fields as `{"field": {"before": …, "after": …}}`, or details of the action.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<Value>,
    pub occurred_at: DateTime<Utc>,
}

/// An entry about to be appended.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub actor_id: Option<Id>,
    pub action: &'static str,
    pub entity: &'static str,
    pub entity_id: Option<String>,
    pub changes: Option<Value>,
}

impl NewAuditEntry {
    pub fn new(actor_id: Option<Id>, action: &'static str, entity: &'static str) -> Self {
        NewAuditEntry {
            actor_id,
            action,
            entity,
            entity_id: None,
            changes: None,
        }
    }

    pub fn on(mut self, entity_id: impl ToString) -> Self {
        self.entity_id = Some(entity_id.to_string());
        self
    }

    pub fn with(mut self, changes: Value) -> Self {
        self.changes = Some(changes);
        self
    }
}

/// Filters of the audit log query; all optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub actor_id: Option<Id>,
    pub action: Option<String>,
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Masks a value of a field named `key` if the field is sensitive.
fn mask_field(key: &str, value: &Value) -> Value {
    let Some(text) = value.as_str() else {
        return match key {
            "amount" if !value.is_null() => Value::String("***".into()),
            _ => value.clone(),
        };
    };
    Value::String(match key {
        "phone" => mask_phone(text),
        "email" => mask_email(text),
        "wechat_id" => mask_text(text),
        "amount" | "password" | "password_hash" => "***".to_owned(),
        _ => return value.clone(),
    })
}

/// The top-level fields that differ between two serialised records, sensitive ones masked.
/// `before` is `None` for a creation and `after` for a deletion. Bookkeeping fields are skipped.
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Value {
    const IGNORED: &[&str] = &["id", "created_at", "updated_at"];
    let empty = Map::new();
    let before = before.and_then(Value::as_object).unwrap_or(&empty);
    let after = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut changed = Map::new();
    for key in keys
        .into_iter()
        .filter(|key| !IGNORED.contains(&key.as_str()))
    {
        let old = before.get(key).unwrap_or(&Value::Null);
        let new = after.get(key).unwrap_or(&Value::Null);
        if old != new {
            changed.insert(
                key.clone(),
                serde_json::json!({"before": mask_field(key, old), "after": mask_field(key, new)}),
            );
        }
    }
    Value::Object(changed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_changed_fields_are_kept_and_sensitive_ones_are_masked() {
        let before = json!({"id": 1, "name": "Li", "phone": "13812341234", "title": "CEO", "updated_at": "x"});
        let after = json!({"id": 1, "name": "Li", "phone": "13912345678", "title": null, "updated_at": "y"});
        assert_eq!(
            changes(Some(&before), Some(&after)),
            json!({
                "phone": {"before": "138****1234", "after": "139****5678"},
                "title": {"before": "CEO", "after": null},
            })
        );
        let created = changes(None, Some(&json!({"email": "li@example.com"})));
        assert_eq!(created["email"]["after"], "l***@example.com");
    }
}
