use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Sign-in sessions live beside API tokens: `kind` is `api`, `access` or `refresh`, and the
/// tokens of one sign-in share a `session`, so that sign-out and refresh-token reuse revoke
/// them together.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            string(ApiTokens::Kind).default("api").take(),
            string_null(ApiTokens::Session),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiTokens::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_api_tokens_session")
                    .table(ApiTokens::Table)
                    .col(ApiTokens::Session)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_api_tokens_session")
                    .table(ApiTokens::Table)
                    .to_owned(),
            )
            .await?;
        for column in [ApiTokens::Session, ApiTokens::Kind] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiTokens::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Kind,
    Session,
}
