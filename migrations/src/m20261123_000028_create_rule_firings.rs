use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// When a rule fired for a customer: what keeps a rule from firing twice for the same customer
/// within its repeat window (or ever, for once-per-customer rules).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RuleFirings::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RuleFirings::Id))
                    .col(big_integer(RuleFirings::TenantId))
                    .col(big_integer(RuleFirings::RuleId))
                    .col(big_integer(RuleFirings::CustomerId))
                    .col(timestamp_with_time_zone(RuleFirings::FiredAt))
                    .foreign_key(&mut crate::tenant_fk(
                        RuleFirings::Table,
                        RuleFirings::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RuleFirings::Table, RuleFirings::RuleId)
                            .to(AutomationRules::Table, AutomationRules::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut crate::customer_fk(
                        RuleFirings::Table,
                        RuleFirings::CustomerId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_rule_firings_rule_customer")
                    .table(RuleFirings::Table)
                    .col(RuleFirings::RuleId)
                    .col(RuleFirings::CustomerId)
                    .col(RuleFirings::FiredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RuleFirings::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum RuleFirings {
    Table,
    Id,
    TenantId,
    RuleId,
    CustomerId,
    FiredAt,
}

#[derive(DeriveIden)]
enum AutomationRules {
    Table,
    Id,
}
