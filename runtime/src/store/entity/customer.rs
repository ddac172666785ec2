use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub tax_id: Option<String>,
    pub owner_id: Option<i64>,
    pub stage: String,
    pub needs: Option<String>,
    pub tier: Option<String>,
    pub tier_score: Option<f64>,
    pub tier_reasons: Option<Json>,
    pub tier_evaluated_at: Option<DateTimeUtc>,
    pub custom_fields: Json,
    pub quality_flags: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
