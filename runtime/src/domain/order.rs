//! Orders: what the customer bought, from our own entry or from an ERP.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;
use super::money::Money;
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
pub enum OrderStatus {
    Pending,
    Confirmed,
    Fulfilled,
    Cancelled,
    Refunded,
}

impl OrderStatus {
    /// Cancelled and refunded orders are kept for history but add nothing to order statistics.
    pub const NOT_COUNTED: [OrderStatus; 2] = [OrderStatus::Cancelled, OrderStatus::Refunded];
}

/// Orders entered through the API without a source come from here.
pub const MANUAL_SOURCE: &str = "manual";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Order {
    pub id: Id,
    pub customer_id: Id,
    /// Where the order comes from (`manual`, `odoo`, …); with `external_id` unique per tenant.
    pub source: String,
    pub external_id: String,
    /// `null` when your role may not read order amounts.
    pub amount: Option<Money>,
    pub product: Option<String>,
    pub category: Option<String>,
    pub ordered_at: DateTime<Utc>,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// Defaults to `manual`.
    pub source: Option<String>,
    /// Generated when absent.
    pub external_id: Option<String>,
    pub amount: Money,
    pub product: Option<String>,
    pub category: Option<String>,
    pub ordered_at: DateTime<Utc>,
    /// Defaults to `confirmed`.
    pub status: Option<OrderStatus>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderPatch {
    pub amount: Option<Money>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub product: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    pub ordered_at: Option<DateTime<Utc>>,
    pub status: Option<OrderStatus>,
}

/// A validated order, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFields {
    pub source: String,
    pub external_id: String,
    pub amount: Money,
    pub product: Option<String>,
    pub category: Option<String>,
    pub ordered_at: DateTime<Utc>,
    pub status: OrderStatus,
}

impl OrderInput {
    pub fn validate(self) -> Result<OrderFields, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let source = validation::identifier(
            &mut errors,
            "source",
            self.source.as_deref().unwrap_or(MANUAL_SOURCE),
            50,
        );
        let external_id = match self.external_id {
            Some(id) => validation::required_text(&mut errors, "external_id", &id, 100),
            None => Some(uuid::Uuid::new_v4().to_string()),
        };
        let fields = OrderFields {
            source: source.unwrap_or_default(),
            external_id: external_id.unwrap_or_default(),
            amount: self.amount,
            product: self.product,
            category: self.category,
            ordered_at: self.ordered_at,
            status: self.status.unwrap_or(OrderStatus::Confirmed),
        };
        fields.validate(errors)
    }
}

impl OrderPatch {
    pub fn apply(self, current: &Order) -> Result<OrderFields, ValidationErrors> {
        OrderFields {
            source: current.source.clone(),
            external_id: current.external_id.clone(),
            amount: match self.amount.or_else(|| current.amount.clone()) {
                Some(amount) => amount,
                None => {
                    return Err(ValidationErrors::single(
                        "amount",
                        "required",
                        "amount is required",
                    ));
                }
            },
            product: self.product.unwrap_or_else(|| current.product.clone()),
            category: self.category.unwrap_or_else(|| current.category.clone()),
            ordered_at: self.ordered_at.unwrap_or(current.ordered_at),
            status: self.status.unwrap_or(current.status),
        }
        .validate(ValidationErrors::default())
    }
}

impl OrderFields {
    fn validate(self, mut errors: ValidationErrors) -> Result<Self, ValidationErrors> {
        let amount = self.amount.validate(&mut errors, "amount");
        let product =
            validation::optional_text(&mut errors, "product", self.product.as_deref(), 200);
        let category =
            validation::optional_text(&mut errors, "category", self.category.as_deref(), 100);
        errors.into_result(())?;
        Ok(OrderFields {
            amount: amount.expect("no errors means the amount is valid"),
            product,
            category,
            ..self
        })
    }
}
