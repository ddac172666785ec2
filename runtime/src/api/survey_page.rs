//! The public survey response page behind a delivery's one-use token: `/s/{token}` renders the
//! questions in the contact's locale (mobile-first, no login, no script), takes exactly one
//! answer, and explains itself for an answered, expired or unknown link. The same flow as JSON
//! lives at `/api/v1/surveys/public/{token}`.

use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use chrono::Utc;
use maud::{DOCTYPE, Markup, html};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use crate::domain::ValidationErrors;
use crate::domain::survey::{AnswerInput, PublicSurvey, SurveyResponse};
use crate::store::surveys::{self, Closed, Opened};
use crate::store::{StoreError, begin_write, commit};

/// The JSON twin, nested under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(public_survey, answer_json))
}

/// The HTML page, at the root.
pub fn page_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(survey_page, submit_page))
        .routes(routes!(opt_out_page))
}

/// The questions behind a token, and whether it still takes an answer (`state`).
#[utoipa::path(get, path = "/surveys/public/{token}", tag = "surveys", params(("token" = String, Path)),
    responses((status = 200, body = PublicSurvey), (status = 404, body = ErrorBody)))]
async fn public_survey(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Response> {
    let opened = surveys::open_token(&state.db, &token, Utc::now()).await?;
    Ok(private(Json(opened.public()?).into_response()))
}

/// Answers a survey once. A second answer gets 409 `already_answered`, an expired link 410
/// `survey_expired`.
#[utoipa::path(post, path = "/surveys/public/{token}", tag = "surveys", params(("token" = String, Path)),
    request_body = AnswerInput,
    responses((status = 201, body = SurveyResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn answer_json(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
    ApiJson(input): ApiJson<AnswerInput>,
) -> ApiResult<Response> {
    let response = store_answer(&state, &token, input).await?;
    Ok(private(
        (StatusCode::CREATED, Json(response)).into_response(),
    ))
}

async fn store_answer(
    state: &AppState,
    token: &str,
    input: AnswerInput,
) -> ApiResult<SurveyResponse> {
    let now = Utc::now();
    let tx = begin_write(&state.db).await?;
    let opened = surveys::open_token(&tx, token, now).await?;
    if let Some(closed) = opened.closed {
        return Err(closed_error(closed));
    }
    let answer = input.validate(&opened.template)?;
    let response = surveys::answer(&tx, &opened, answer, "page", now).await?;
    commit(tx).await?;
    Ok(response)
}

fn closed_error(closed: Closed) -> ApiError {
    match closed {
        Closed::Answered => ApiError::new(
            StatusCode::CONFLICT,
            "already_answered",
            "this survey was already answered",
        ),
        Closed::Expired | Closed::Failed => ApiError::new(
            StatusCode::GONE,
            "survey_expired",
            "this survey link has expired",
        ),
    }
}

/// The response page.
#[utoipa::path(get, path = "/s/{token}", tag = "surveys", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html"), (status = 404, content_type = "text/html"),
        (status = 409, content_type = "text/html"), (status = 410, content_type = "text/html")))]
async fn survey_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let page = match surveys::open_token(&state.db, &token, Utc::now()).await {
        Ok(opened) => match opened.closed {
            Some(closed) => closed_page(&opened, closed),
            None => form_page(&opened, &token, None),
        },
        Err(error) => failure_page(error),
    };
    html_response(page)
}

/// Form fields: `score`, `dim.<key>` for each dimension, `comment`.
#[utoipa::path(post, path = "/s/{token}", tag = "surveys", params(("token" = String, Path)),
    request_body(content_type = "application/x-www-form-urlencoded", content = String),
    responses((status = 200, content_type = "text/html"), (status = 422, content_type = "text/html")))]
async fn submit_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Response {
    // A body that is not a form is answered like an empty form: with the questions again.
    let fields = form.map(|Form(fields)| fields).unwrap_or_default();
    let now = Utc::now();
    let opened = match surveys::open_token(&state.db, &token, now).await {
        Ok(opened) => opened,
        Err(error) => return html_response(failure_page(error)),
    };
    if let Some(closed) = opened.closed {
        return html_response(closed_page(&opened, closed));
    }
    let checked = answer_from_form(&fields)
        .and_then(|input| input.clone().validate(&opened.template).map(|_| input));
    let input = match checked {
        Ok(input) => input,
        Err(errors) => return html_response(form_page(&opened, &token, Some(errors))),
    };
    match store_answer(&state, &token, input).await {
        Ok(_) => html_response((StatusCode::OK, thanks_page(&opened))),
        Err(error) if error.code == "already_answered" => {
            html_response(closed_page(&opened, Closed::Answered))
        }
        Err(error) if error.code == "survey_expired" => {
            html_response(closed_page(&opened, Closed::Expired))
        }
        Err(error) => {
            tracing::error!(code = error.code, "storing a survey answer failed");
            html_response((
                StatusCode::SERVICE_UNAVAILABLE,
                message_page("en", "unavailable"),
            ))
        }
    }
}

/// The contact asks for no more surveys.
#[utoipa::path(post, path = "/s/{token}/opt-out", tag = "surveys", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html"), (status = 404, content_type = "text/html")))]
async fn opt_out_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let opened = match surveys::open_token(&state.db, &token, Utc::now()).await {
        Ok(opened) => opened,
        Err(error) => return html_response(failure_page(error)),
    };
    let result = async {
        let tx = begin_write(&state.db).await?;
        surveys::opt_out(
            &tx,
            opened.row.tenant_id,
            opened.row.contact_id,
            "survey-page",
        )
        .await?;
        commit(tx).await
    }
    .await;
    let locale = locale_of(&opened);
    match result {
        Ok(()) => html_response((StatusCode::OK, message_page(locale, "opted_out"))),
        Err(error) => {
            tracing::error!(%error, "recording an opt-out failed");
            html_response((
                StatusCode::SERVICE_UNAVAILABLE,
                message_page(locale, "unavailable"),
            ))
        }
    }
}

fn answer_from_form(fields: &[(String, String)]) -> Result<AnswerInput, ValidationErrors> {
    let mut input = AnswerInput::default();
    let mut errors = ValidationErrors::default();
    let mut score = None;
    for (name, value) in fields {
        if name == "score" {
            score = value.trim().parse().ok();
        } else if name == "comment" {
            input.comment = Some(value.clone());
        } else if let Some(key) = name.strip_prefix("dim.")
            && let Ok(rating) = value.trim().parse()
        {
            input.dimensions.insert(key.to_owned(), rating);
        }
    }
    match score {
        Some(score) => input.score = score,
        None => errors.add("score", "required", "choose a score"),
    }
    errors.into_result(input)
}

fn locale_of(opened: &Opened) -> &str {
    opened.template.texts_for(&opened.row.locale).0
}

fn html_response((status, markup): (StatusCode, Markup)) -> Response {
    let mut response = (status, Html(markup.into_string())).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ),
    );
    private(response)
}

/// The token is a credential: keep the page out of caches, referrers and search engines.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex, nofollow"),
    );
    response
}

/// The page's own words, in the template's two built-in locales.
fn word(locale: &str, key: &str) -> &'static str {
    let zh = locale.starts_with("zh");
    match (key, zh) {
        ("submit", false) => "Send my answer",
        ("submit", true) => "提交",
        ("comment", false) => "Comment (optional)",
        ("comment", true) => "留言（选填）",
        ("opt_out", false) => "Don't send me surveys",
        ("opt_out", true) => "不再接收调查",
        ("fix", false) => "Please check your answer.",
        ("fix", true) => "请检查您的回答。",
        ("answered", false) => "You have already answered this survey. Thank you!",
        ("answered", true) => "您已提交过本次调查，感谢您的参与！",
        ("expired", false) => "This survey link has expired.",
        ("expired", true) => "本调查链接已过期。",
        ("not_found", false) => "This survey link is not valid.",
        ("not_found", true) => "调查链接无效。",
        ("opted_out", false) => "You will not receive further surveys from us.",
        ("opted_out", true) => "您将不再收到我们的调查。",
        ("unavailable", false) => "We cannot take your answer right now. Please try again later.",
        ("unavailable", true) => "暂时无法提交，请稍后再试。",
        _ => "",
    }
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f5f6f8;color:#1d2330;line-height:1.5}
main{max-width:36rem;margin:0 auto;padding:1rem}
section,header{background:#fff;border-radius:.75rem;padding:1rem 1.25rem;margin:0 0 1rem;box-shadow:0 1px 3px #0002}
h1{font-size:1.25rem;margin:.25rem 0}
fieldset{border:0;margin:0;padding:0}
legend{font-weight:600;margin-bottom:.5rem}
.scale{display:flex;flex-wrap:wrap;gap:.375rem}
.scale label{flex:1 0 2.5rem;text-align:center;border:1px solid #c9cfdb;border-radius:.5rem;padding:.5rem 0;cursor:pointer}
.scale input{display:block;margin:0 auto .25rem}
.anchors{display:flex;justify-content:space-between;color:#5b6475;font-size:.8125rem;margin-top:.25rem}
textarea{width:100%;box-sizing:border-box;min-height:5rem;border:1px solid #c9cfdb;border-radius:.5rem;padding:.5rem;font:inherit}
button{width:100%;padding:.75rem;border:0;border-radius:.5rem;background:#1f4fbf;color:#fff;font:inherit;font-weight:600}
.link{background:none;color:#5b6475;font-size:.8125rem;text-decoration:underline;padding:.5rem}
.errors{color:#b42318;font-weight:600}
";

fn layout(locale: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(locale) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                title { (title) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

/// Radio buttons `low..=high`; only the main score is required, dimensions are optional.
fn scale(name: &str, low: i32, high: i32, required: bool) -> Markup {
    html! {
        div class="scale" {
            @for value in low..=high {
                label { input type="radio" name=(name) value=(value) required[required]; (value) }
            }
        }
    }
}

fn form_page(
    opened: &Opened,
    token: &str,
    errors: Option<ValidationErrors>,
) -> (StatusCode, Markup) {
    let survey = match opened.public() {
        Ok(survey) => survey,
        Err(error) => return failure_page(error),
    };
    let locale = survey.locale.as_str();
    let status = if errors.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let action = format!("/s/{token}");
    let body = html! {
        header { h1 id="title" { (survey.texts.title) } }
        @if let Some(errors) = &errors {
            section id="errors" class="errors" role="alert" {
                p { (word(locale, "fix")) }
                ul { @for error in &errors.0 { li data-field=(error.field) { (error.message) } } }
            }
        }
        form id="survey" method="post" action=(action) {
            section {
                fieldset id="score" {
                    legend { (survey.texts.question) }
                    (scale("score", survey.scale.0, survey.scale.1, true))
                    div class="anchors" { span { (survey.texts.low_label) } span { (survey.texts.high_label) } }
                }
            }
            @for (key, label) in &survey.dimensions {
                section {
                    fieldset class="dimension" data-key=(key) {
                        legend { (label) }
                        (scale(&format!("dim.{key}"), 1, 5, false))
                    }
                }
            }
            @if let Some(prompt) = &survey.texts.comment_prompt {
                section {
                    label for="comment" { (prompt) " " small { (word(locale, "comment")) } }
                    textarea id="comment" name="comment" maxlength="2000" {}
                }
            }
            button id="send" type="submit" { (word(locale, "submit")) }
        }
        form method="post" action=(format!("/s/{token}/opt-out")) {
            button id="opt-out" class="link" type="submit" { (word(locale, "opt_out")) }
        }
    };
    (status, layout(locale, &survey.texts.title, body))
}

fn thanks_page(opened: &Opened) -> Markup {
    let (locale, texts) = opened.template.texts_for(&opened.row.locale);
    layout(
        locale,
        &texts.title,
        html! {
            section id="thanks" { h1 { (texts.thanks) } }
        },
    )
}

fn closed_page(opened: &Opened, closed: Closed) -> (StatusCode, Markup) {
    let locale = locale_of(opened);
    match closed {
        Closed::Answered => (StatusCode::CONFLICT, message_page(locale, "answered")),
        Closed::Expired | Closed::Failed => (StatusCode::GONE, message_page(locale, "expired")),
    }
}

fn failure_page(error: StoreError) -> (StatusCode, Markup) {
    match error {
        StoreError::NotFound(_) => (StatusCode::NOT_FOUND, message_page("en", "not_found")),
        error => {
            tracing::error!(%error, "rendering a survey page failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                message_page("en", "unavailable"),
            )
        }
    }
}

fn message_page(locale: &str, key: &str) -> Markup {
    let text = word(locale, key);
    layout(
        locale,
        text,
        html! {
            section id=(key.replace('_', "-")) class="message" { h1 { (text) } }
        },
    )
}
