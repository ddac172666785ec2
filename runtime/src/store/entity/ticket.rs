use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub customer_id: i64,
    pub contact_id: Option<i64>,
    pub ticket_type: String,
    pub priority: String,
    pub category: Option<String>,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub department_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub sla_policy_id: Option<i64>,
    pub sla_state: String,
    pub sla_consumed_seconds: i64,
    pub sla_running_since: Option<DateTimeUtc>,
    pub first_response_due_at: Option<DateTimeUtc>,
    pub resolution_due_at: Option<DateTimeUtc>,
    pub next_sla_check_at: Option<DateTimeUtc>,
    pub first_responded_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub escalated_at: Option<DateTimeUtc>,
    pub resolution_result: Option<String>,
    pub resolution_note: Option<String>,
    pub public_token: String,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
