use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_plugins")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub plugin_id: String,
    pub version: String,
    pub previous_version: Option<String>,
    pub enabled: bool,
    /// Non-secret configuration, a JSON object.
    pub config: String,
    /// Secret configuration values, sealed with the data key (see `crate::secrets`).
    pub sealed_secrets: Option<String>,
    /// Host names the tenant granted, a JSON array.
    pub granted_hosts: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
