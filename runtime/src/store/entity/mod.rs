//! sea-orm entities: one per table, row shapes only. Conversions to domain types live in the
//! service modules next door.

pub mod api_token;
pub mod audit_entry;
pub mod automation_rule;
pub mod business_calendar;
pub mod casbin_rule;
pub mod contact;
pub mod customer;
pub mod customer_tag;
pub mod department;
pub mod event;
pub mod interaction;
pub mod knowledge_article;
pub mod knowledge_article_ticket;
pub mod order;
pub mod plugin_component;
pub mod plugin_run;
pub mod plugin_version;
pub mod role;
pub mod routing_rule;
pub mod rule_firing;
pub mod satisfaction_record;
pub mod schedule;
pub mod sla_policy;
pub mod task;
pub mod tenant;
pub mod tenant_plugin;
pub mod ticket;
pub mod ticket_change;
pub mod ticket_comment;
pub mod tier_history;
pub mod tier_request;
pub mod tier_service_policy;
pub mod user;
