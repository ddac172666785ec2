use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub customer_id: i64,
    pub source: String,
    pub external_id: String,
    /// Amount in 1/10,000 of the currency unit (see `domain::money::STORAGE_SCALE`).
    pub amount_e4: i64,
    pub currency: String,
    pub product: Option<String>,
    pub category: Option<String>,
    pub ordered_at: DateTimeUtc,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
