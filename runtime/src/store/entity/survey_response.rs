use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "survey_responses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub delivery_id: i64,
    pub customer_id: i64,
    pub kind: String,
    pub score: i32,
    /// JSON object: dimension → rating.
    pub dimensions: String,
    pub comment: Option<String>,
    pub via: String,
    pub recovery_ticket_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
