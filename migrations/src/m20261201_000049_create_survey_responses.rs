use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Exactly one response per delivery (unique `delivery_id`); `dimensions` is JSON.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SurveyResponses::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SurveyResponses::Id))
                    .col(big_integer(SurveyResponses::TenantId))
                    .col(big_integer(SurveyResponses::DeliveryId).unique_key())
                    .col(big_integer(SurveyResponses::CustomerId))
                    .col(string(SurveyResponses::Kind))
                    .col(integer(SurveyResponses::Score))
                    .col(text(SurveyResponses::Dimensions))
                    .col(text_null(SurveyResponses::Comment))
                    .col(string(SurveyResponses::Via))
                    .col(big_integer_null(SurveyResponses::RecoveryTicketId))
                    .col(timestamp_with_time_zone(SurveyResponses::CreatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SurveyResponses::Table,
                        SurveyResponses::TenantId,
                    ))
                    .foreign_key(&mut crate::customer_fk(
                        SurveyResponses::Table,
                        SurveyResponses::CustomerId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_survey_responses_tenant")
                    .table(SurveyResponses::Table)
                    .col(SurveyResponses::TenantId)
                    .col(SurveyResponses::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SurveyResponses::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyResponses {
    Table,
    Id,
    TenantId,
    DeliveryId,
    CustomerId,
    Kind,
    Score,
    Dimensions,
    Comment,
    Via,
    RecoveryTicketId,
    CreatedAt,
}
