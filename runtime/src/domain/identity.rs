//! Tenants, users and API tokens: who is calling, and on whose data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use std::collections::BTreeSet;
use std::sync::Arc;

use super::Id;
use super::access::{DEFAULT_ROLE, Permission, parse_permissions};
use super::validation::{self, ValidationErrors};

/// The authenticated caller. The tenant of every read and write comes from here, never from input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Id,
    pub tenant_id: Id,
    /// The caller's department: the reach of `team` scope.
    pub department_id: Option<Id>,
    pub token_id: Id,
    /// An integration token's scopes, which narrow the user's permissions; `None` for sessions
    /// and unrestricted tokens.
    pub token_scopes: Option<Arc<BTreeSet<Permission>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Tenant {
    pub id: Id,
    pub slug: String,
    pub name: String,
    /// ISO 3166 alpha-2 region used to read national phone numbers, e.g. `CN`.
    pub default_region: String,
    pub default_currency: String,
    #[schema(value_type = Option<Object>)]
    pub custom_field_schema: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantInput {
    pub slug: String,
    pub name: String,
    /// Defaults to `CN`.
    pub default_region: Option<String>,
    /// Defaults to `CNY`.
    pub default_currency: Option<String>,
    /// The tenant's first administrator.
    pub admin: UserInput,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettingsPatch {
    pub name: Option<String>,
    pub default_region: Option<String>,
    pub default_currency: Option<String>,
    /// A JSON Schema for customers' `custom_fields`; `null` removes it.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<Object>)]
    pub custom_field_schema: Option<Option<Value>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantFields {
    pub slug: String,
    pub name: String,
    pub default_region: String,
    pub default_currency: String,
    pub custom_field_schema: Option<Value>,
}

impl TenantInput {
    pub fn validate(self) -> Result<(TenantFields, UserInput), ValidationErrors> {
        let fields = TenantFields {
            slug: self.slug.trim().to_ascii_lowercase(),
            name: self.name,
            default_region: self.default_region.unwrap_or_else(|| "CN".to_owned()),
            default_currency: self.default_currency.unwrap_or_else(|| "CNY".to_owned()),
            custom_field_schema: None,
        };
        let mut errors = ValidationErrors::default();
        let fields = fields.validate(&mut errors);
        let admin = self.admin.validate().map_err(|admin_errors| {
            for error in admin_errors.0 {
                errors.add(format!("admin.{}", error.field), error.code, error.message);
            }
        });
        errors.into_result(())?;
        Ok((fields.expect("no errors"), admin.expect("no errors")))
    }
}

impl TenantSettingsPatch {
    pub fn apply(self, current: &Tenant) -> Result<TenantFields, ValidationErrors> {
        let fields = TenantFields {
            slug: current.slug.clone(),
            name: self.name.unwrap_or_else(|| current.name.clone()),
            default_region: self
                .default_region
                .unwrap_or_else(|| current.default_region.clone()),
            default_currency: self
                .default_currency
                .unwrap_or_else(|| current.default_currency.clone()),
            custom_field_schema: self
                .custom_field_schema
                .unwrap_or_else(|| current.custom_field_schema.clone()),
        };
        let mut errors = ValidationErrors::default();
        let fields = fields.validate(&mut errors);
        errors.into_result(())?;
        Ok(fields.expect("no errors"))
    }
}

impl TenantFields {
    fn validate(self, errors: &mut ValidationErrors) -> Option<Self> {
        let slug = validation::identifier(errors, "slug", &self.slug, 50);
        let name = validation::required_text(errors, "name", &self.name, 200);
        let region = self.default_region.trim().to_ascii_uppercase();
        if region.parse::<phonenumber::country::Id>().is_err() {
            errors.add(
                "default_region",
                "invalid_region",
                "default_region must be an ISO 3166 alpha-2 code such as CN",
            );
        }
        let currency = super::money::currency(errors, "default_currency", &self.default_currency);
        if let Some(schema) = &self.custom_field_schema
            && let Err(schema_errors) = super::customer::validate_custom_field_schema(schema)
        {
            errors.0.extend(schema_errors.0);
        }
        Some(TenantFields {
            slug: slug?,
            name: name?,
            default_region: region,
            default_currency: currency?,
            custom_field_schema: self.custom_field_schema,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    pub id: Id,
    pub email: String,
    pub display_name: String,
    /// Role names in this tenant; see `GET /roles`.
    pub roles: Vec<String>,
    pub department_id: Option<Id>,
    /// A deactivated user keeps authorship of records but can no longer sign in.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub email: String,
    pub display_name: String,
    /// A role of the tenant; defaults to `account-manager`. More roles: `PUT /users/{id}/roles/{role}`.
    pub role: Option<String>,
    pub department_id: Option<Id>,
}

impl UserInput {
    pub fn validate(self) -> Result<UserInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let email = validation::email(&mut errors, "email", Some(&self.email));
        if email.is_none() && errors.is_empty() {
            errors.add("email", "required", "email must not be empty");
        }
        let display_name =
            validation::required_text(&mut errors, "display_name", &self.display_name, 100);
        let role = self.role.unwrap_or_else(|| DEFAULT_ROLE.to_owned());
        let role = validation::identifier(&mut errors, "role", &role, 50);
        errors.into_result(UserInput {
            email: email.unwrap_or_default().to_lowercase(),
            display_name: display_name.unwrap_or_default(),
            role,
            department_id: self.department_id,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub display_name: Option<String>,
    /// `null` takes the user out of any department.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<i64>)]
    pub department_id: Option<Option<Id>>,
    pub active: Option<bool>,
}

impl UserPatch {
    /// `is_self`: admins may not lock themselves out by deactivating their own user.
    pub fn validate(self, is_self: bool) -> Result<UserPatch, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let display_name = self
            .display_name
            .as_deref()
            .and_then(|name| validation::required_text(&mut errors, "display_name", name, 100));
        if is_self && self.active == Some(false) {
            errors.add("user", "self_lockout", "you cannot deactivate yourself");
        }
        errors.into_result(UserPatch {
            display_name,
            ..self
        })
    }
}

/// A token's metadata; the secret itself is shown once, at creation, and stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiToken {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    /// The first characters of the secret, to recognise it in a list.
    pub prefix: String,
    /// The permissions this token is limited to; absent: all of its user's.
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenInput {
    pub name: String,
    /// Another user of the tenant (tenant admins only); defaults to the caller.
    pub user_id: Option<Id>,
    /// 1–3650 days; no expiry when absent.
    pub expires_in_days: Option<u32>,
    /// Limit the token to these permissions (each also needs the user's), e.g.
    /// `["customers:read:all", "orders:read:all"]`; absent: all of the user's permissions.
    pub scopes: Option<Vec<String>>,
}

impl ApiTokenInput {
    pub fn validate(self) -> Result<ApiTokenInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = validation::required_text(&mut errors, "name", &self.name, 100);
        if self
            .expires_in_days
            .is_some_and(|days| !(1..=3650).contains(&days))
        {
            errors.add(
                "expires_in_days",
                "out_of_range",
                "expires_in_days must be between 1 and 3650",
            );
        }
        let scopes = self.scopes.as_deref().map(|texts| {
            parse_permissions("scopes", texts)
                .map_err(|scope_errors| errors.0.extend(scope_errors.0))
                .map(|parsed| parsed.iter().map(ToString::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        });
        errors.into_result(ApiTokenInput {
            name: name.unwrap_or_default(),
            scopes,
            ..self
        })
    }
}

/// The answer to a token creation: the only time the secret is ever visible.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedToken {
    pub token: ApiToken,
    /// Send as `Authorization: Bearer <secret>`. Store it now: it cannot be shown again.
    pub secret: String,
}

/// Password sign-in. The tenant is named by its slug, since e-mails are unique per tenant only.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub tenant: String,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    pub refresh_token: String,
}

/// A new password; `current_password` is required when changing one's own existing password.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    pub current_password: Option<String>,
    pub new_password: String,
}

/// Shortest and longest accepted passwords, in characters.
pub const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 12..=128;

impl PasswordInput {
    pub fn validate(self) -> Result<PasswordInput, ValidationErrors> {
        let length = self.new_password.chars().count();
        if PASSWORD_LENGTH.contains(&length) {
            Ok(self)
        } else {
            Err(ValidationErrors::single(
                "new_password",
                "invalid_length",
                format!(
                    "a password has {} to {} characters",
                    PASSWORD_LENGTH.start(),
                    PASSWORD_LENGTH.end()
                ),
            ))
        }
    }
}

/// The tokens of a sign-in session: a short-lived access token for `Authorization: Bearer`, and
/// a refresh token that trades itself for a new pair once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionTokens {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub user: User,
}

/// A department of the tenant, e.g. sales or service. Users in one department form the `team`
/// of record-level scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Department {
    pub id: Id,
    /// Unique in the tenant, e.g. `sales-east`.
    pub code: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentInput {
    pub code: String,
    pub name: String,
}

impl DepartmentInput {
    pub fn validate(self) -> Result<DepartmentInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let code = validation::identifier(&mut errors, "code", &self.code, 50);
        let name = validation::required_text(&mut errors, "name", &self.name, 100);
        errors.into_result(DepartmentInput {
            code: code.unwrap_or_default().to_ascii_lowercase(),
            name: name.unwrap_or_default(),
        })
    }
}
