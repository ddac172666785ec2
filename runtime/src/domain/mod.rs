//! The customer data model and its rules, free of any web, database or plugin concern.
//!
//! Everything here is plain data plus validation: the store persists these types and the API
//! serialises them. Only `serde`, `utoipa` (schema derives), `chrono`, `rust_decimal` and
//! validation crates are imported.

pub mod access;
pub mod audit;
pub mod automation;
pub mod contact;
pub mod customer;
pub mod customer360;
pub mod erp_records;
pub mod handover;
pub mod identity;
pub mod interaction;
pub mod knowledge;
pub mod masking;
pub mod money;
pub mod order;
pub mod page;
pub mod plugin;
pub mod reason_template;
pub mod satisfaction;
pub mod service_kpi;
pub mod sla;
pub mod survey;
pub mod survey_delivery;
pub mod survey_kpi;
pub mod sync;
pub mod task;
pub mod ticket;
pub mod tiering;
pub mod validation;

pub use validation::{FieldError, ValidationErrors};

/// Identifiers are database-assigned 64-bit integers, always read together with a tenant id.
pub type Id = i64;
