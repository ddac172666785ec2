//! Contacts: the people at a customer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;
use super::validation::{self, ValidationErrors};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Contact {
    pub id: Id,
    pub customer_id: Id,
    pub name: String,
    pub title: Option<String>,
    /// E.164, e.g. `+8613800138000`.
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wechat_id: Option<String>,
    pub is_primary: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    pub title: Option<String>,
    /// National numbers are read in the tenant's default region.
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wechat_id: Option<String>,
    #[serde(default)]
    pub is_primary: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    pub name: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub wechat_id: Option<Option<String>>,
    pub is_primary: Option<bool>,
}

impl ContactInput {
    /// `region` is the tenant's default phone region (ISO 3166 alpha-2).
    pub fn validate(self, region: &str) -> Result<ContactInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = validation::required_text(&mut errors, "name", &self.name, 200);
        let title = validation::optional_text(&mut errors, "title", self.title.as_deref(), 100);
        let phone = validation::phone(&mut errors, "phone", self.phone.as_deref(), region);
        let email = validation::email(&mut errors, "email", self.email.as_deref());
        let wechat_id = validation::wechat_id(&mut errors, "wechat_id", self.wechat_id.as_deref());
        errors.into_result(ContactInput {
            name: name.unwrap_or_default(),
            title,
            phone,
            email,
            wechat_id,
            is_primary: self.is_primary,
        })
    }
}

impl ContactPatch {
    pub fn apply(self, current: &Contact, region: &str) -> Result<ContactInput, ValidationErrors> {
        ContactInput {
            name: self.name.unwrap_or_else(|| current.name.clone()),
            title: self.title.unwrap_or_else(|| current.title.clone()),
            phone: self.phone.unwrap_or_else(|| current.phone.clone()),
            email: self.email.unwrap_or_else(|| current.email.clone()),
            wechat_id: self.wechat_id.unwrap_or_else(|| current.wechat_id.clone()),
            is_primary: self.is_primary.unwrap_or(current.is_primary),
        }
        .validate(region)
    }
}
