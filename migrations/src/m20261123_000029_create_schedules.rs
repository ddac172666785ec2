use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Recurring jobs per tenant (`tiering`, `task-reminders`, `rule:<id>`): when each runs next,
/// and the lease a runtime process holds while it runs one, so that several processes on one
/// database run each occurrence once.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Schedules::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Schedules::Id))
                    .col(big_integer(Schedules::TenantId))
                    .col(string(Schedules::Job))
                    .col(boolean(Schedules::Enabled).default(true))
                    .col(integer(Schedules::IntervalMinutes))
                    .col(timestamp_with_time_zone(Schedules::NextRunAt))
                    .col(string_null(Schedules::LeaseOwner))
                    .col(timestamp_with_time_zone_null(Schedules::LeaseUntil))
                    .col(big_integer(Schedules::Runs).default(0))
                    .col(timestamp_with_time_zone_null(Schedules::LastStartedAt))
                    .col(timestamp_with_time_zone_null(Schedules::LastFinishedAt))
                    .col(string_null(Schedules::LastRunBy))
                    .col(text_null(Schedules::LastOutcome))
                    .foreign_key(&mut crate::tenant_fk(Schedules::Table, Schedules::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_schedules_tenant_job")
                    .table(Schedules::Table)
                    .col(Schedules::TenantId)
                    .col(Schedules::Job)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_schedules_next_run_at")
                    .table(Schedules::Table)
                    .col(Schedules::NextRunAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Schedules::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Schedules {
    Table,
    Id,
    TenantId,
    Job,
    Enabled,
    IntervalMinutes,
    NextRunAt,
    LeaseOwner,
    LeaseUntil,
    Runs,
    LastStartedAt,
    LastFinishedAt,
    LastRunBy,
    LastOutcome,
}
