use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_run_streams")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub run_id: i64,
    pub stream: String,
    pub outcome: String,
    pub pages: i64,
    pub records_read: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub unmatched: i64,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
