use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_reviews")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub connector_id: i64,
    pub source: String,
    pub kind: String,
    pub external_id: String,
    pub customer_external_id: Option<String>,
    /// The record as read, JSON text.
    pub record: String,
    pub reason: String,
    pub detail: String,
    pub status: String,
    pub customer_id: Option<i64>,
    pub resolved_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
