//! Field-level security applied to outgoing records and incoming writes.
//!
//! Reading: a sensitive field the caller may not read is masked (contact phone, e-mail, WeChat
//! id) or omitted (order amounts, sensitive custom fields). Writing: a write that sets such a
//! field without the write permission is refused, and a replacement of `custom_fields` keeps the
//! hidden values the caller could not see, so nothing stored is lost by a partial view.

use serde_json::{Map, Value};

use super::access::{
    FieldAccess, FieldForbidden, SensitiveField, mask_email, mask_phone, mask_text,
};
use super::contact::{Contact, ContactInput, ContactPatch};
use super::customer::Customer;
use super::customer360::Customer360;
use super::order::Order;

/// Names of the custom fields a tenant schema marks `"x-sensitive": true`.
pub fn sensitive_custom_fields(schema: Option<&Value>) -> Vec<String> {
    schema
        .and_then(|schema| schema.get("properties"))
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter(|(_, property)| property.get("x-sensitive") == Some(&Value::Bool(true)))
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

pub fn contact(contact: &mut Contact, access: &FieldAccess) {
    mask_value(
        access,
        SensitiveField::ContactPhone,
        &mut contact.phone,
        mask_phone,
    );
    mask_value(
        access,
        SensitiveField::ContactEmail,
        &mut contact.email,
        mask_email,
    );
    mask_value(
        access,
        SensitiveField::ContactWechatId,
        &mut contact.wechat_id,
        mask_text,
    );
}

fn mask_value(
    access: &FieldAccess,
    field: SensitiveField,
    value: &mut Option<String>,
    mask: fn(&str) -> String,
) {
    if !access.can_read(field)
        && let Some(text) = value.as_deref()
    {
        *value = Some(mask(text));
    }
}

pub fn order(order: &mut Order, access: &FieldAccess) {
    if !access.can_read(SensitiveField::OrderAmount) {
        order.amount = None;
    }
}

pub fn customer(customer: &mut Customer, access: &FieldAccess, sensitive: &[String]) {
    if access.can_read(SensitiveField::CustomerSensitiveFields) {
        return;
    }
    if let Some(fields) = customer.custom_fields.as_object_mut() {
        fields.retain(|name, _| !sensitive.contains(name));
    }
}

/// Omits sensitive custom fields from an audit entry's `custom_fields` change, as [`customer`]
/// omits them from the record: the log keeps every value, and a reader sees what they could
/// see of the customer itself.
pub fn audit_changes(changes: &mut Value, access: &FieldAccess, sensitive: &[String]) {
    if access.can_read(SensitiveField::CustomerSensitiveFields) {
        return;
    }
    let Some(change) = changes.get_mut("custom_fields") else {
        return;
    };
    for side in ["before", "after"] {
        if let Some(fields) = change.get_mut(side).and_then(Value::as_object_mut) {
            fields.retain(|name, _| !sensitive.contains(name));
        }
    }
    // A change of hidden fields only would still show that they changed.
    if change.get("before") == change.get("after")
        && let Some(changes) = changes.as_object_mut()
    {
        changes.remove("custom_fields");
    }
}

pub fn customer_360(view: &mut Customer360, access: &FieldAccess, sensitive: &[String]) {
    customer(&mut view.profile, access, sensitive);
    for one in &mut view.contacts {
        contact(one, access);
    }
    if let Some(last) = &mut view.order_stats.last_order {
        order(last, access);
    }
    if !access.can_read(SensitiveField::OrderAmount) {
        view.order_stats.total_value = None;
        view.order_stats.value_last_90_days = None;
    }
}

/// Refuses a new contact that sets a field the caller may not write.
pub fn check_contact_input(
    input: &ContactInput,
    access: &FieldAccess,
) -> Result<(), FieldForbidden> {
    check_set(access, SensitiveField::ContactPhone, input.phone.is_some())?;
    check_set(access, SensitiveField::ContactEmail, input.email.is_some())?;
    check_set(
        access,
        SensitiveField::ContactWechatId,
        input.wechat_id.is_some(),
    )
}

pub fn check_contact_patch(
    patch: &ContactPatch,
    access: &FieldAccess,
) -> Result<(), FieldForbidden> {
    check_set(access, SensitiveField::ContactPhone, patch.phone.is_some())?;
    check_set(access, SensitiveField::ContactEmail, patch.email.is_some())?;
    check_set(
        access,
        SensitiveField::ContactWechatId,
        patch.wechat_id.is_some(),
    )
}

fn check_set(
    access: &FieldAccess,
    field: SensitiveField,
    touched: bool,
) -> Result<(), FieldForbidden> {
    if touched {
        access.check_write(field)
    } else {
        Ok(())
    }
}

/// Prepares a new `custom_fields` object for storage. Without write permission it may not
/// carry sensitive fields; without read permission the stored (hidden) sensitive values are
/// kept, since the caller never saw them and cannot have meant to remove them.
pub fn merge_custom_fields(
    new: Value,
    current: &Value,
    access: &FieldAccess,
    sensitive: &[String],
) -> Result<Value, FieldForbidden> {
    let Value::Object(mut new) = new else {
        return Ok(new);
    };
    let writable = access
        .check_write(SensitiveField::CustomerSensitiveFields)
        .is_ok();
    let empty = Map::new();
    let current = current.as_object().unwrap_or(&empty);
    for name in sensitive {
        let changed = new.get(name) != current.get(name);
        let hidden = !access.can_read(SensitiveField::CustomerSensitiveFields);
        if hidden && !new.contains_key(name) {
            if let Some(value) = current.get(name) {
                new.insert(name.clone(), value.clone());
            }
        } else if changed && !writable {
            return Err(FieldForbidden(
                SensitiveField::CustomerSensitiveFields.resource(),
            ));
        }
    }
    Ok(Value::Object(new))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hidden_sensitive_custom_fields_survive_a_replacement() {
        let sensitive = vec!["credit_limit".to_owned()];
        let current = json!({"seats": 3, "credit_limit": 5000});
        let reader = FieldAccess::default();
        let merged =
            merge_custom_fields(json!({"seats": 4}), &current, &reader, &sensitive).unwrap();
        assert_eq!(merged, json!({"seats": 4, "credit_limit": 5000}));
        let refused =
            merge_custom_fields(json!({"credit_limit": 1}), &current, &reader, &sensitive);
        assert!(refused.is_err());
        let admin = FieldAccess::everything();
        let cleared =
            merge_custom_fields(json!({"seats": 4}), &current, &admin, &sensitive).unwrap();
        assert_eq!(cleared, json!({"seats": 4}));
    }

    #[test]
    fn schema_marks_sensitive_fields() {
        let schema = json!({"properties": {"a": {"type": "string", "x-sensitive": true}, "b": {}}});
        assert_eq!(sensitive_custom_fields(Some(&schema)), vec!["a".to_owned()]);
    }
}
