use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Follow-up tasks: something someone must do for a customer by a date, made by hand or by an
/// automation rule (`source`, `rule_id`).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Tasks::Id))
                    .col(big_integer(Tasks::TenantId))
                    .col(big_integer_null(Tasks::CustomerId))
                    .col(big_integer(Tasks::AssigneeId))
                    .col(string(Tasks::Title))
                    .col(text_null(Tasks::Notes))
                    .col(timestamp_with_time_zone(Tasks::DueAt))
                    .col(string(Tasks::Priority))
                    .col(string(Tasks::Status))
                    .col(string(Tasks::Source))
                    .col(string_null(Tasks::RuleId))
                    .col(big_integer_null(Tasks::CreatedBy))
                    .col(timestamp_with_time_zone(Tasks::CreatedAt))
                    .col(timestamp_with_time_zone(Tasks::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Tasks::CompletedAt))
                    .foreign_key(&mut crate::tenant_fk(Tasks::Table, Tasks::TenantId))
                    .foreign_key(&mut crate::customer_fk(Tasks::Table, Tasks::CustomerId))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "ix_tasks_assignee_due",
                vec![
                    Tasks::TenantId,
                    Tasks::AssigneeId,
                    Tasks::Status,
                    Tasks::DueAt,
                ],
            ),
            (
                "ix_tasks_customer",
                vec![Tasks::TenantId, Tasks::CustomerId],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Tasks::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tasks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Tasks {
    Table,
    Id,
    TenantId,
    CustomerId,
    AssigneeId,
    Title,
    Notes,
    DueAt,
    Priority,
    Status,
    Source,
    RuleId,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}
