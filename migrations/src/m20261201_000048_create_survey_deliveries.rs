use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One survey to one contact. `token` is the one-use response link's secret; `next_check_at` is when
/// the worker should next look at the row (send, retry, remind or expire), null when nothing is
/// left to do.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SurveyDeliveries::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SurveyDeliveries::Id))
                    .col(big_integer(SurveyDeliveries::TenantId))
                    .col(big_integer(SurveyDeliveries::TemplateId))
                    .col(big_integer(SurveyDeliveries::CustomerId))
                    .col(big_integer(SurveyDeliveries::ContactId))
                    .col(big_integer_null(SurveyDeliveries::TicketId))
                    .col(big_integer_null(SurveyDeliveries::CampaignId))
                    .col(string(SurveyDeliveries::Cause))
                    .col(string(SurveyDeliveries::Channel))
                    .col(string(SurveyDeliveries::Locale))
                    .col(string(SurveyDeliveries::Token).unique_key())
                    .col(string(SurveyDeliveries::State))
                    .col(integer(SurveyDeliveries::Attempts))
                    .col(text_null(SurveyDeliveries::LastError))
                    .col(string_null(SurveyDeliveries::ExternalId))
                    .col(timestamp_with_time_zone(SurveyDeliveries::SendAfter))
                    .col(timestamp_with_time_zone_null(SurveyDeliveries::NextCheckAt))
                    .col(timestamp_with_time_zone_null(SurveyDeliveries::SentAt))
                    .col(timestamp_with_time_zone_null(SurveyDeliveries::RemindedAt))
                    .col(timestamp_with_time_zone_null(SurveyDeliveries::AnsweredAt))
                    .col(timestamp_with_time_zone(SurveyDeliveries::ExpiresAt))
                    .col(timestamp_with_time_zone(SurveyDeliveries::CreatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SurveyDeliveries::Table,
                        SurveyDeliveries::TenantId,
                    ))
                    .foreign_key(&mut crate::customer_fk(
                        SurveyDeliveries::Table,
                        SurveyDeliveries::CustomerId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_survey_deliveries_due")
                    .table(SurveyDeliveries::Table)
                    .col(SurveyDeliveries::NextCheckAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_survey_deliveries_contact")
                    .table(SurveyDeliveries::Table)
                    .col(SurveyDeliveries::TenantId)
                    .col(SurveyDeliveries::ContactId)
                    .col(SurveyDeliveries::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_survey_deliveries_sent")
                    .table(SurveyDeliveries::Table)
                    .col(SurveyDeliveries::TenantId)
                    .col(SurveyDeliveries::SentAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SurveyDeliveries::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyDeliveries {
    Table,
    Id,
    TenantId,
    TemplateId,
    CustomerId,
    ContactId,
    TicketId,
    CampaignId,
    Cause,
    Channel,
    Locale,
    Token,
    State,
    Attempts,
    LastError,
    ExternalId,
    SendAfter,
    NextCheckAt,
    SentAt,
    RemindedAt,
    AnsweredAt,
    ExpiresAt,
    CreatedAt,
}
