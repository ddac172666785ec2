use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Survey template versions: immutable once stored, so a delivery keeps the questions it was sent with.
/// `texts` and `dimensions` are JSON.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SurveyTemplates::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SurveyTemplates::Id))
                    .col(big_integer(SurveyTemplates::TenantId))
                    .col(string(SurveyTemplates::Key))
                    .col(integer(SurveyTemplates::Version))
                    .col(string(SurveyTemplates::Name))
                    .col(string(SurveyTemplates::Kind))
                    .col(text(SurveyTemplates::Texts))
                    .col(text(SurveyTemplates::Dimensions))
                    .col(big_integer_null(SurveyTemplates::CreatedBy))
                    .col(timestamp_with_time_zone(SurveyTemplates::CreatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        SurveyTemplates::Table,
                        SurveyTemplates::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_survey_templates_key_version")
                    .table(SurveyTemplates::Table)
                    .col(SurveyTemplates::TenantId)
                    .col(SurveyTemplates::Key)
                    .col(SurveyTemplates::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SurveyTemplates::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyTemplates {
    Table,
    Id,
    TenantId,
    Key,
    Version,
    Name,
    Kind,
    Texts,
    Dimensions,
    CreatedBy,
    CreatedAt,
}
