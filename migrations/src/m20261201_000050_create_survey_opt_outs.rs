use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Contacts who asked for no more surveys.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SurveyOptOuts::Table)
                    .if_not_exists()
                    .col(big_integer(SurveyOptOuts::TenantId))
                    .col(big_integer(SurveyOptOuts::ContactId))
                    .col(string(SurveyOptOuts::Source))
                    .col(timestamp_with_time_zone(SurveyOptOuts::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(SurveyOptOuts::TenantId)
                            .col(SurveyOptOuts::ContactId),
                    )
                    .foreign_key(&mut crate::tenant_fk(
                        SurveyOptOuts::Table,
                        SurveyOptOuts::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SurveyOptOuts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyOptOuts {
    Table,
    TenantId,
    ContactId,
    Source,
    CreatedAt,
}
