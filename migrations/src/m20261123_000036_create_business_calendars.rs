use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each tenant's business calendar (time zone, weekly hours, holidays) as validated JSON; a
/// tenant without a row uses office hours (Mon–Fri 09:00–18:00 UTC).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BusinessCalendars::Table)
                    .if_not_exists()
                    .col(big_pk_auto(BusinessCalendars::Id))
                    .col(big_integer(BusinessCalendars::TenantId))
                    .col(text(BusinessCalendars::Spec))
                    .col(timestamp_with_time_zone(BusinessCalendars::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        BusinessCalendars::Table,
                        BusinessCalendars::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_business_calendars_tenant")
                    .table(BusinessCalendars::Table)
                    .col(BusinessCalendars::TenantId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BusinessCalendars::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum BusinessCalendars {
    Table,
    Id,
    TenantId,
    Spec,
    UpdatedAt,
}
