use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A tenant's automation rules. The definition (trigger, conditions, actions) is JSON validated
/// by the runtime; `key` names the rules installed from the seeds so they are installed once.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AutomationRules::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AutomationRules::Id))
                    .col(big_integer(AutomationRules::TenantId))
                    .col(string_null(AutomationRules::Key))
                    .col(text(AutomationRules::Definition))
                    .col(timestamp_with_time_zone(AutomationRules::CreatedAt))
                    .col(timestamp_with_time_zone(AutomationRules::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        AutomationRules::Table,
                        AutomationRules::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_automation_rules_tenant_key")
                    .table(AutomationRules::Table)
                    .col(AutomationRules::TenantId)
                    .col(AutomationRules::Key)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AutomationRules::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum AutomationRules {
    Table,
    Id,
    TenantId,
    Key,
    Definition,
    CreatedAt,
    UpdatedAt,
}
