//! Follow-up tasks and the "my tasks" views.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::access::Access;
use super::audit;
use super::children::reach;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::domain::Id;
use crate::domain::page::{Page, PageRequest};
use crate::domain::task::{
    Task, TaskFields, TaskFilter, TaskInput, TaskPatch, TaskStatus, TaskView,
};
use crate::store::tasks::{self, Origin};
use crate::store::{begin_write, commit, customers};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task, update_task, delete_task))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// `overdue`, `today` or `upcoming`: open tasks in that window (implies `status=open`).
    #[param(value_type = Option<String>)]
    view: Option<TaskView>,
    /// Only the caller's tasks.
    mine: Option<bool>,
    assignee_id: Option<Id>,
    customer_id: Option<Id>,
    #[param(value_type = Option<String>)]
    status: Option<TaskStatus>,
    /// 1–200, default 50.
    limit: Option<u64>,
    cursor: Option<String>,
}

/// Tasks within your scope (assigned to someone in it, or about a customer in it), soonest
/// due first.
#[utoipa::path(get, path = "/tasks", tag = "tasks", security(("bearer" = [])), params(TaskListQuery),
    responses((status = 200, body = Page<Task>), (status = 422, body = ErrorBody)))]
async fn list_tasks(
    State(state): State<AppState>,
    access: Access,
    ApiQuery(query): ApiQuery<TaskListQuery>,
) -> ApiResult<Json<Page<Task>>> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref(), tasks::SORT)?;
    let (due_from, due_until) = query.view.map(|v| v.window(Utc::now())).unwrap_or_default();
    let filter = TaskFilter {
        assignee_id: match query.mine {
            Some(true) => Some(access.principal.user_id),
            _ => query.assignee_id,
        },
        customer_id: query.customer_id,
        status: query.view.map(|_| TaskStatus::Open).or(query.status),
        due_from,
        due_until,
    };
    let tenant_id = access.principal.tenant_id;
    Ok(Json(
        tasks::list(&state.db, tenant_id, access.visibility(), &filter, &page).await?,
    ))
}

/// Refuses to hand a task to someone outside the caller's scope.
async fn check_assignee(state: &AppState, access: &Access, fields: &TaskFields) -> ApiResult<()> {
    let tenant_id = access.principal.tenant_id;
    let reachable = customers::owner_within(
        &state.db,
        tenant_id,
        Some(fields.assignee_id),
        access.visibility(),
    )
    .await?;
    if reachable {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "assignee_out_of_scope",
            "your scope does not reach that assignee",
        ))
    }
}

/// Create a follow-up task; the assignee defaults to the caller.
#[utoipa::path(post, path = "/tasks", tag = "tasks", security(("bearer" = [])), request_body = TaskInput,
    responses((status = 201, body = Task), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_task(
    State(state): State<AppState>,
    access: Access,
    ApiJson(input): ApiJson<TaskInput>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    let principal = &access.principal;
    let fields = input.validate(principal.user_id)?;
    if let Some(customer_id) = fields.customer_id {
        reach(&state, &access, customer_id).await?;
    }
    check_assignee(&state, &access, &fields).await?;
    let tx = begin_write(&state.db).await?;
    let origin = Origin::Manual {
        created_by: principal.user_id,
    };
    let task = tasks::create(&tx, principal.tenant_id, fields, origin).await?;
    audit::record_change(&tx, principal, "create", "task", task.id, None, Some(&task)).await?;
    commit(tx).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Task), (status = 404, body = ErrorBody)))]
async fn get_task(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Task>> {
    let tenant_id = access.principal.tenant_id;
    Ok(Json(
        tasks::get(&state.db, tenant_id, id, access.visibility()).await?,
    ))
}

/// Edit, reassign, complete (`status: done`), cancel or reopen a task.
#[utoipa::path(patch, path = "/tasks/{id}", tag = "tasks", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = TaskPatch,
    responses((status = 200, body = Task), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_task(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<TaskPatch>,
) -> ApiResult<Json<Task>> {
    let principal = &access.principal;
    let visibility = access.visibility();
    let current = tasks::get(&state.db, principal.tenant_id, id, visibility).await?;
    let fields = patch.apply(&current)?;
    if fields.assignee_id != current.assignee_id {
        check_assignee(&state, &access, &fields).await?;
    }
    let tx = begin_write(&state.db).await?;
    let task = tasks::update(&tx, principal.tenant_id, id, visibility, fields).await?;
    audit::record_change(
        &tx,
        principal,
        "update",
        "task",
        id,
        Some(&current),
        Some(&task),
    )
    .await?;
    commit(tx).await?;
    Ok(Json(task))
}

#[utoipa::path(delete, path = "/tasks/{id}", tag = "tasks", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_task(
    State(state): State<AppState>,
    access: Access,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    let principal = &access.principal;
    let visibility = access.visibility();
    let current = tasks::get(&state.db, principal.tenant_id, id, visibility).await?;
    let tx = begin_write(&state.db).await?;
    tasks::delete(&tx, principal.tenant_id, id, visibility).await?;
    audit::record_change(&tx, principal, "delete", "task", id, Some(&current), None).await?;
    commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
