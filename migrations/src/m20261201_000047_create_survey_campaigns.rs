use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Periodic or one-off survey campaigns; `audience` and `last_report` are JSON. `next_run_at` is
/// null once a one-off campaign ran.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SurveyCampaigns::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SurveyCampaigns::Id))
                    .col(big_integer(SurveyCampaigns::TenantId))
                    .col(string(SurveyCampaigns::Name))
                    .col(string(SurveyCampaigns::TemplateKey))
                    .col(string(SurveyCampaigns::Channel))
                    .col(text(SurveyCampaigns::Audience))
                    .col(integer_null(SurveyCampaigns::EveryMonths))
                    .col(timestamp_with_time_zone_null(SurveyCampaigns::NextRunAt))
                    .col(timestamp_with_time_zone_null(SurveyCampaigns::LastRunAt))
                    .col(text_null(SurveyCampaigns::LastReport))
                    .col(big_integer_null(SurveyCampaigns::CreatedBy))
                    .col(timestamp_with_time_zone(SurveyCampaigns::CreatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SurveyCampaigns::Table,
                        SurveyCampaigns::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_survey_campaigns_due")
                    .table(SurveyCampaigns::Table)
                    .col(SurveyCampaigns::NextRunAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SurveyCampaigns::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyCampaigns {
    Table,
    Id,
    TenantId,
    Name,
    TemplateKey,
    Channel,
    Audience,
    EveryMonths,
    NextRunAt,
    LastRunAt,
    LastReport,
    CreatedBy,
    CreatedAt,
}
