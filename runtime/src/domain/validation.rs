//! Field-level validation shared by every input type.

use serde::Serialize;
use utoipa::ToSchema;

/// One rejected field: a stable machine code plus a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

/// All problems found in one input, so a client can fix them in a single round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn add(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError {
            field: field.into(),
            code,
            message: message.into(),
        });
    }

    pub fn single(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        let mut errors = Self::default();
        errors.add(field, code, message);
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, so validators can end with `errors.into_result(v)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields: Vec<&str> = self.0.iter().map(|e| e.field.as_str()).collect();
        write!(f, "invalid fields: {}", fields.join(", "))
    }
}

impl std::error::Error for ValidationErrors {}

/// Trims `value` and checks its length in characters; records an error and returns `None` when
/// it is empty or too long.
pub fn required_text(
    errors: &mut ValidationErrors,
    field: &str,
    value: &str,
    max_chars: usize,
) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.add(field, "required", format!("{field} must not be empty"));
        return None;
    }
    if trimmed.chars().count() > max_chars {
        errors.add(
            field,
            "too_long",
            format!("{field} must be at most {max_chars} characters"),
        );
        return None;
    }
    Some(trimmed.to_owned())
}

/// Like [`required_text`] for optional fields: blank becomes `None`.
pub fn optional_text(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Option<String> {
    match value.map(str::trim) {
        None | Some("") => None,
        Some(text) => required_text(errors, field, text, max_chars),
    }
}

pub fn email(errors: &mut ValidationErrors, field: &str, value: Option<&str>) -> Option<String> {
    let text = optional_text(errors, field, value, 254)?;
    match text.parse::<email_address::EmailAddress>() {
        Ok(address) => Some(address.as_str().to_owned()),
        Err(_) => {
            errors.add(
                field,
                "invalid_email",
                format!("{field} is not a valid e-mail address"),
            );
            None
        }
    }
}

/// Parses a phone number, national numbers being read in the tenant's `region` (ISO 3166 alpha-2),
/// and returns it in E.164 form so that the same number is always stored the same way.
pub fn phone(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    region: &str,
) -> Option<String> {
    let text = optional_text(errors, field, value, 40)?;
    let country = region.parse::<phonenumber::country::Id>().ok();
    match phonenumber::parse(country, &text) {
        Ok(number) if phonenumber::is_valid(&number) => {
            Some(number.format().mode(phonenumber::Mode::E164).to_string())
        }
        _ => {
            errors.add(
                field,
                "invalid_phone",
                format!("{field} is not a valid phone number"),
            );
            None
        }
    }
}

/// WeChat's own rule: 6–20 characters, a letter first, then letters, digits, `_` or `-`.
pub fn wechat_id(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
) -> Option<String> {
    let text = optional_text(errors, field, value, 20)?;
    let mut chars = text.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if starts_with_letter && rest_ok && text.len() >= 6 {
        Some(text)
    } else {
        errors.add(
            field,
            "invalid_wechat_id",
            format!("{field} must be 6-20 letters, digits, '_' or '-', starting with a letter"),
        );
        None
    }
}

/// Codes and slugs: 1–`max` characters of ASCII letters, digits, `-` and `_`.
pub fn identifier(
    errors: &mut ValidationErrors,
    field: &str,
    value: &str,
    max_chars: usize,
) -> Option<String> {
    let text = required_text(errors, field, value, max_chars)?;
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Some(text)
    } else {
        errors.add(
            field,
            "invalid_identifier",
            format!("{field} may contain only ASCII letters, digits, '-' and '_'"),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised_to_e164_in_the_tenant_region() {
        let mut errors = ValidationErrors::default();
        assert_eq!(
            phone(&mut errors, "phone", Some("138 0013 8000"), "CN").as_deref(),
            Some("+8613800138000")
        );
        assert!(phone(&mut errors, "phone", Some("12345"), "CN").is_none());
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].code, "invalid_phone");
    }

    #[test]
    fn emails_and_wechat_ids_are_checked() {
        let mut errors = ValidationErrors::default();
        assert!(email(&mut errors, "email", Some("li@example.com")).is_some());
        assert!(email(&mut errors, "email", Some("not-an-email")).is_none());
        assert!(wechat_id(&mut errors, "wechat_id", Some("zhang_san01")).is_some());
        assert!(wechat_id(&mut errors, "wechat_id", Some("1abcdef")).is_none());
        let codes: Vec<_> = errors.0.iter().map(|e| e.code).collect();
        assert_eq!(codes, ["invalid_email", "invalid_wechat_id"]);
    }
}
