use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub customer_id: Option<i64>,
    pub assignee_id: i64,
    pub title: String,
    pub notes: Option<String>,
    pub due_at: DateTimeUtc,
    pub priority: String,
    pub status: String,
    pub source: String,
    pub rule_id: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub due_soon_reminded_at: Option<DateTimeUtc>,
    pub overdue_reminded_at: Option<DateTimeUtc>,
    pub ticket_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
