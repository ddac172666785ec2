//! `rapport-migrations`: sea-orm-migration's standard CLI over the Rapport schema.
//! Reads `DATABASE_URL` (e.g. `sqlite://rapport-data/rapport.db?mode=rwc` or `postgres://…`).

#[tokio::main]
async fn main() {
    sea_orm_migration::cli::run_cli(rapport_migrations::Migrator).await;
}
