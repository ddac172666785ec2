use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "survey_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub template_id: i64,
    pub customer_id: i64,
    pub contact_id: i64,
    pub ticket_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub cause: String,
    pub channel: String,
    pub locale: String,
    /// The response link's secret.
    pub token: String,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub external_id: Option<String>,
    pub send_after: DateTimeUtc,
    /// When the worker should look at the row next; null when nothing is left to do.
    pub next_check_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub reminded_at: Option<DateTimeUtc>,
    pub answered_at: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
