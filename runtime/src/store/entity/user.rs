use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub email: String,
    pub display_name: String,
    pub active: bool,
    /// argon2id PHC string; `None` until a password is set (API tokens only).
    pub password_hash: Option<String>,
    pub failed_logins: i32,
    pub locked_until: Option<DateTimeUtc>,
    /// The department whose records `team` scope covers.
    pub department_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
