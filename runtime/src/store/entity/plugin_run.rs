use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plugin_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub plugin_id: String,
    pub version: String,
    pub export: String,
    pub started_at: DateTimeUtc,
    pub duration_us: i64,
    /// `ok`, or the plugin error's stable code.
    pub outcome: String,
    pub error: Option<String>,
    pub fuel_used: Option<i64>,
    /// The run log (records, stdout, stderr) as JSON, secrets redacted.
    pub log: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
