use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A tenant's survey rules (throttle, reminder, expiry, low-score thresholds, triggers) as JSON.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SurveySettings::Table)
                    .if_not_exists()
                    .col(big_integer(SurveySettings::TenantId).primary_key())
                    .col(text(SurveySettings::Settings))
                    .col(timestamp_with_time_zone(SurveySettings::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SurveySettings::Table,
                        SurveySettings::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SurveySettings::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveySettings {
    Table,
    TenantId,
    Settings,
    UpdatedAt,
}
