use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_policies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub key: Option<String>,
    pub name: String,
    pub ticket_type: Option<String>,
    pub priority: Option<String>,
    pub tier: Option<String>,
    pub clock: String,
    pub first_response_minutes: Option<i32>,
    pub resolution_minutes: Option<i32>,
    pub at_risk_percent: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
