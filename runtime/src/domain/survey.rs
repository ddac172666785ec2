//! Satisfaction surveys: templates (CSAT, NPS, CES with optional dimension questions and a
//! comment, in English and Chinese), the tenant's survey settings (throttling, reminder, expiry,
//! low-score thresholds, the after-ticket trigger), campaigns and their audience, deliveries and
//! their states, and the answers a customer gives.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;
use super::satisfaction::SatisfactionKind;
use super::validation::{self, ValidationErrors};

/// The locales every built-in template speaks; a template may carry more.
pub const LOCALES: [&str; 2] = ["en", "zh-CN"];
/// Dimension questions are always rated 1–5.
pub const DIMENSION_SCALE: (i32, i32) = (1, 5);
const MAX_DIMENSIONS: usize = 10;
const MAX_LOCALES: usize = 20;
const MAX_COMMENT_CHARS: usize = 2000;

/// The words of a template in one locale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateTexts {
    /// The message's subject and the page's heading.
    pub title: String,
    /// The main question, e.g. "How satisfied are you with our service?".
    pub question: String,
    /// The prompt above the free-text comment; no comment box without it.
    #[serde(default)]
    pub comment_prompt: Option<String>,
    /// Low and high anchors of the scale, e.g. "Very dissatisfied" / "Very satisfied".
    pub low_label: String,
    pub high_label: String,
    /// The thank-you line after an answer.
    pub thanks: String,
}

/// An extra 1–5 question, e.g. product quality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub key: String,
    /// The question per locale.
    pub labels: BTreeMap<String, String>,
}

/// One version of a survey template. Versions are immutable: a delivery keeps the version it
/// was sent with, and editing a template adds a version.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SurveyTemplate {
    pub id: Id,
    pub key: String,
    pub version: i32,
    pub name: String,
    pub kind: SatisfactionKind,
    pub texts: BTreeMap<String, TemplateTexts>,
    pub dimensions: Vec<Dimension>,
    pub created_at: DateTime<Utc>,
}

impl SurveyTemplate {
    /// The texts in `locale`, else English, else any.
    pub fn texts_for(&self, locale: &str) -> (&str, &TemplateTexts) {
        self.texts
            .get_key_value(locale)
            .or_else(|| self.texts.get_key_value("en"))
            .or_else(|| self.texts.iter().next())
            .map(|(locale, texts)| (locale.as_str(), texts))
            .expect("a template has at least one locale")
    }

    pub fn scale(&self) -> (i32, i32) {
        let (low, high) = self.kind.range();
        (low as i32, high as i32)
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    pub kind: SatisfactionKind,
    pub texts: BTreeMap<String, TemplateTexts>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
}

/// A validated template version to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTemplate {
    pub key: String,
    pub name: String,
    pub kind: SatisfactionKind,
    pub texts: BTreeMap<String, TemplateTexts>,
    pub dimensions: Vec<Dimension>,
}

impl TemplateInput {
    pub fn validate(self, key: &str) -> Result<NewTemplate, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let key = validation::identifier(&mut errors, "key", key, 60).unwrap_or_default();
        let name = validation::required_text(&mut errors, "name", &self.name, 120);
        if self.texts.is_empty() {
            errors.add(
                "texts",
                "required",
                "a template needs the texts of at least one locale",
            );
        }
        if self.texts.len() > MAX_LOCALES {
            errors.add(
                "texts",
                "too_many",
                format!("at most {MAX_LOCALES} locales"),
            );
        }
        for (locale, texts) in &self.texts {
            check_texts(&mut errors, locale, texts);
        }
        if self.dimensions.len() > MAX_DIMENSIONS {
            errors.add(
                "dimensions",
                "too_many",
                format!("at most {MAX_DIMENSIONS} dimensions"),
            );
        }
        let mut seen = Vec::new();
        for (index, dimension) in self.dimensions.iter().enumerate() {
            let field = format!("dimensions[{index}]");
            validation::identifier(&mut errors, &format!("{field}.key"), &dimension.key, 40);
            if seen.contains(&dimension.key) {
                errors.add(
                    format!("{field}.key"),
                    "duplicate",
                    "dimension keys are unique",
                );
            }
            seen.push(dimension.key.clone());
            for locale in self.texts.keys() {
                if dimension
                    .labels
                    .get(locale)
                    .is_none_or(|l| l.trim().is_empty())
                {
                    errors.add(
                        format!("{field}.labels.{locale}"),
                        "required",
                        "every dimension has a question in each of the template's locales",
                    );
                }
            }
        }
        errors.into_result(NewTemplate {
            key,
            name: name.unwrap_or_default(),
            kind: self.kind,
            texts: self.texts,
            dimensions: self.dimensions,
        })
    }
}

fn check_texts(errors: &mut ValidationErrors, locale: &str, texts: &TemplateTexts) {
    let valid_locale = !locale.is_empty()
        && locale.len() <= 20
        && locale
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid_locale {
        errors.add(
            format!("texts.{locale}"),
            "invalid_locale",
            "a BCP 47 tag, e.g. en or zh-CN",
        );
    }
    let field = |name: &str| format!("texts.{locale}.{name}");
    validation::required_text(errors, &field("title"), &texts.title, 200);
    validation::required_text(errors, &field("question"), &texts.question, 500);
    validation::required_text(errors, &field("low_label"), &texts.low_label, 60);
    validation::required_text(errors, &field("high_label"), &texts.high_label, 60);
    validation::required_text(errors, &field("thanks"), &texts.thanks, 500);
    if let Some(prompt) = &texts.comment_prompt {
        validation::required_text(errors, &field("comment_prompt"), prompt, 200);
    }
}

fn texts(
    title: &str,
    question: &str,
    comment: &str,
    low: &str,
    high: &str,
    thanks: &str,
) -> TemplateTexts {
    TemplateTexts {
        title: title.to_owned(),
        question: question.to_owned(),
        comment_prompt: Some(comment.to_owned()),
        low_label: low.to_owned(),
        high_label: high.to_owned(),
        thanks: thanks.to_owned(),
    }
}

fn dimension(key: &str, en: &str, zh: &str) -> Dimension {
    Dimension {
        key: key.to_owned(),
        labels: BTreeMap::from([
            ("en".to_owned(), en.to_owned()),
            ("zh-CN".to_owned(), zh.to_owned()),
        ]),
    }
}

/// The seeds' three surveys, installed for every tenant: CSAT after service with the three
/// dimensions the seeds name, the quarterly NPS, and CES after service.
pub fn default_templates() -> Vec<NewTemplate> {
    let csat = NewTemplate {
        key: "csat-after-service".to_owned(),
        name: "CSAT after service".to_owned(),
        kind: SatisfactionKind::Csat,
        texts: BTreeMap::from([
            (
                "en".to_owned(),
                texts(
                    "How did we do?",
                    "How satisfied are you with our service?",
                    "Anything we could do better?",
                    "Very dissatisfied",
                    "Very satisfied",
                    "Thank you for your feedback.",
                ),
            ),
            (
                "zh-CN".to_owned(),
                texts(
                    "服务满意度调查",
                    "您对本次服务是否满意？",
                    "您还有什么建议？",
                    "非常不满意",
                    "非常满意",
                    "感谢您的反馈！",
                ),
            ),
        ]),
        dimensions: vec![
            dimension("product_quality", "Product quality", "产品质量"),
            dimension("service_response", "Speed of our response", "服务响应速度"),
            dimension("communication", "Communication", "沟通效率"),
        ],
    };
    let nps = NewTemplate {
        key: "nps-quarterly".to_owned(),
        name: "Quarterly NPS".to_owned(),
        kind: SatisfactionKind::Nps,
        texts: BTreeMap::from([
            (
                "en".to_owned(),
                texts(
                    "A quick question",
                    "How likely are you to recommend us to a friend or colleague?",
                    "What is the main reason for your score?",
                    "Not at all likely",
                    "Extremely likely",
                    "Thank you for your feedback.",
                ),
            ),
            (
                "zh-CN".to_owned(),
                texts(
                    "客户推荐度调查",
                    "您有多大可能向朋友或同事推荐我们？",
                    "您打出这个分数的主要原因是？",
                    "完全不可能",
                    "非常可能",
                    "感谢您的反馈！",
                ),
            ),
        ]),
        dimensions: Vec::new(),
    };
    let ces = NewTemplate {
        key: "ces-after-service".to_owned(),
        name: "Customer effort after service".to_owned(),
        kind: SatisfactionKind::Ces,
        texts: BTreeMap::from([
            (
                "en".to_owned(),
                texts(
                    "How easy was it?",
                    "How much effort did it take to get your issue handled?",
                    "What made it hard or easy?",
                    "Very little effort",
                    "A great deal of effort",
                    "Thank you for your feedback.",
                ),
            ),
            (
                "zh-CN".to_owned(),
                texts(
                    "服务便捷度调查",
                    "解决您的问题需要花费多少精力？",
                    "哪些地方让您觉得费力或省心？",
                    "非常省力",
                    "非常费力",
                    "感谢您的反馈！",
                ),
            ),
        ]),
        dimensions: Vec::new(),
    };
    vec![csat, nps, ces]
}

/// Scores that open a recovery ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LowScoreThresholds {
    pub csat_at_most: i32,
    pub nps_at_most: i32,
    pub ces_at_least: i32,
}

impl Default for LowScoreThresholds {
    fn default() -> Self {
        LowScoreThresholds {
            csat_at_most: 2,
            nps_at_most: 6,
            ces_at_least: 5,
        }
    }
}

impl LowScoreThresholds {
    pub fn is_low(&self, kind: SatisfactionKind, score: i32) -> bool {
        match kind {
            SatisfactionKind::Csat => score <= self.csat_at_most,
            SatisfactionKind::Nps => score <= self.nps_at_most,
            // More effort is worse.
            SatisfactionKind::Ces => score >= self.ces_at_least,
        }
    }
}

/// Surveys after a ticket is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AfterTicketTrigger {
    pub template_key: String,
    /// The survey-channel plugin enabled for the tenant, e.g. `rapport.webhook-channel`.
    pub channel: String,
    /// How long after the resolution the survey goes out.
    #[serde(default)]
    pub delay_minutes: u32,
}

/// A tenant's survey rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveySettings {
    /// A contact gets at most one survey in this many days.
    pub throttle_days: u32,
    /// One reminder after this many hours without an answer; 0 sends none.
    pub reminder_after_hours: u32,
    /// The link stops working after this many days.
    pub expire_after_days: u32,
    pub low_score: LowScoreThresholds,
    /// The locale of contacts whose own is unknown.
    pub default_locale: String,
    /// The base of response links, e.g. `https://crm.example.com`; the server's address when
    /// unset.
    #[serde(default)]
    pub public_base_url: Option<String>,
    #[serde(default)]
    pub after_ticket_resolved: Option<AfterTicketTrigger>,
}

impl Default for SurveySettings {
    fn default() -> Self {
        SurveySettings {
            throttle_days: 30,
            reminder_after_hours: 48,
            expire_after_days: 14,
            low_score: LowScoreThresholds::default(),
            default_locale: "zh-CN".to_owned(),
            public_base_url: None,
            after_ticket_resolved: None,
        }
    }
}

impl SurveySettings {
    pub fn validate(self) -> Result<SurveySettings, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.throttle_days > 365 {
            errors.add("throttle_days", "out_of_range", "0–365 days");
        }
        if self.reminder_after_hours > 24 * 30 {
            errors.add("reminder_after_hours", "out_of_range", "0–720 hours");
        }
        if !(1..=90).contains(&self.expire_after_days) {
            errors.add("expire_after_days", "out_of_range", "1–90 days");
        }
        let thresholds = self.low_score;
        if !(1..=5).contains(&thresholds.csat_at_most) {
            errors.add("low_score.csat_at_most", "out_of_range", "CSAT is 1–5");
        }
        if !(0..=10).contains(&thresholds.nps_at_most) {
            errors.add("low_score.nps_at_most", "out_of_range", "NPS is 0–10");
        }
        if !(1..=7).contains(&thresholds.ces_at_least) {
            errors.add("low_score.ces_at_least", "out_of_range", "CES is 1–7");
        }
        if !LOCALES.contains(&self.default_locale.as_str()) {
            errors.add("default_locale", "unsupported_locale", "en or zh-CN");
        }
        if let Some(base) = &self.public_base_url
            && !(base.starts_with("https://") || base.starts_with("http://"))
        {
            errors.add("public_base_url", "invalid_url", "an absolute http(s) URL");
        }
        if let Some(trigger) = &self.after_ticket_resolved
            && trigger.delay_minutes > 60 * 24 * 30
        {
            errors.add(
                "after_ticket_resolved.delay_minutes",
                "out_of_range",
                "at most 30 days",
            );
        }
        errors.into_result(self)
    }

    pub fn reminder_after(&self) -> Option<Duration> {
        (self.reminder_after_hours > 0).then(|| Duration::hours(self.reminder_after_hours.into()))
    }
}

/// Where a delivery stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its send time, or for a retry after a retryable failure.
    Queued,
    Sent,
    /// Given up: a fatal channel error, or retries exhausted.
    Failed,
    Answered,
    /// The link ran out unanswered.
    Expired,
}

/// Sends before a retryable failure becomes final.
pub const MAX_SEND_ATTEMPTS: i32 = 5;

/// Whether a retryable failure of send number `attempt` (1-based) is tried again.
pub fn retries_after(attempt: i32) -> bool {
    attempt < MAX_SEND_ATTEMPTS
}

/// The wait before retry number `attempt` (1-based): 30 s doubling, at most an hour.
pub fn retry_backoff(attempt: i32) -> Duration {
    let doublings = attempt.clamp(1, 8) - 1;
    Duration::seconds((30i64 << doublings).min(3600))
}

/// What caused a delivery.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DeliveryCause {
    TicketResolved,
    Campaign,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SurveyDelivery {
    pub id: Id,
    pub template_id: Id,
    pub template_key: String,
    pub kind: SatisfactionKind,
    pub channel: String,
    pub customer_id: Id,
    pub contact_id: Id,
    pub ticket_id: Option<Id>,
    pub campaign_id: Option<Id>,
    pub cause: DeliveryCause,
    pub state: DeliveryState,
    pub locale: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub external_id: Option<String>,
    pub send_after: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub reminded_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Who a campaign goes to: customers matching any listed tier and all listed tags, or the listed
/// customers. Each customer's primary contact (else its first) receives the survey.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    #[serde(default)]
    pub tiers: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub customer_ids: Vec<Id>,
}

impl Audience {
    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty() && self.tags.is_empty() && self.customer_ids.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub name: String,
    pub template_key: String,
    pub channel: String,
    pub audience: Audience,
    /// Repeats every this many months (3 for quarterly); runs once when absent.
    #[serde(default)]
    pub every_months: Option<u32>,
    /// The first run; now when absent.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
}

const MAX_LISTED_CUSTOMERS: usize = 10_000;

impl CampaignInput {
    pub fn validate(self, now: DateTime<Utc>) -> Result<NewCampaign, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = validation::required_text(&mut errors, "name", &self.name, 120);
        validation::identifier(&mut errors, "template_key", &self.template_key, 60);
        validation::required_text(&mut errors, "channel", &self.channel, 120);
        if self.audience.is_empty() {
            errors.add("audience", "required", "name tiers, tags or customers");
        }
        if self.audience.customer_ids.len() > MAX_LISTED_CUSTOMERS {
            errors.add(
                "audience.customer_ids",
                "too_many",
                format!("at most {MAX_LISTED_CUSTOMERS}"),
            );
        }
        if let Some(months) = self.every_months
            && !(1..=24).contains(&months)
        {
            errors.add("every_months", "out_of_range", "1–24 months");
        }
        errors.into_result(NewCampaign {
            name: name.unwrap_or_default(),
            template_key: self.template_key,
            channel: self.channel,
            audience: self.audience,
            every_months: self.every_months,
            next_run_at: self.starts_at.unwrap_or(now),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    pub name: String,
    pub template_key: String,
    pub channel: String,
    pub audience: Audience,
    pub every_months: Option<u32>,
    pub next_run_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Campaign {
    pub id: Id,
    pub name: String,
    pub template_key: String,
    pub channel: String,
    pub audience: Audience,
    pub every_months: Option<u32>,
    /// `null` once a one-off campaign ran.
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_report: Option<CampaignReport>,
    pub created_at: DateTime<Utc>,
}

/// What one run of a campaign did with each customer of its audience.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CampaignReport {
    pub queued: u64,
    /// The contact had a survey within the throttle window.
    pub throttled: u64,
    pub opted_out: u64,
    /// No contact to send to.
    pub no_contact: u64,
}

/// A customer's answer, as the response page or an inbound channel gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    pub score: i32,
    #[serde(default)]
    pub dimensions: BTreeMap<String, i32>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A checked answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub score: i32,
    pub dimensions: BTreeMap<String, i32>,
    pub comment: Option<String>,
}

impl AnswerInput {
    pub fn validate(self, template: &SurveyTemplate) -> Result<Answer, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let (low, high) = template.scale();
        if !(low..=high).contains(&self.score) {
            errors.add(
                "score",
                "out_of_range",
                format!("the score is {low}–{high}"),
            );
        }
        for (key, value) in &self.dimensions {
            let field = format!("dimensions.{key}");
            if !template.dimensions.iter().any(|d| &d.key == key) {
                errors.add(
                    field,
                    "unknown_dimension",
                    "the survey has no such question",
                );
            } else if !(DIMENSION_SCALE.0..=DIMENSION_SCALE.1).contains(value) {
                errors.add(field, "out_of_range", "dimension ratings are 1–5");
            }
        }
        let comment = self
            .comment
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        if comment
            .as_ref()
            .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
        {
            errors.add(
                "comment",
                "too_long",
                format!("at most {MAX_COMMENT_CHARS} characters"),
            );
        }
        errors.into_result(Answer {
            score: self.score,
            dimensions: self.dimensions,
            comment,
        })
    }
}

/// The score in a channel's raw answer text, e.g. `"9"`, `"9 great service"` or `"I'd say 4"`:
/// the first whole number in it.
pub fn score_in_text(text: &str) -> Option<i32> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(3)
        .collect();
    digits.parse().ok()
}

/// One stored response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SurveyResponse {
    pub id: Id,
    pub delivery_id: Id,
    pub customer_id: Id,
    pub kind: SatisfactionKind,
    pub score: i32,
    pub dimensions: BTreeMap<String, i32>,
    pub comment: Option<String>,
    /// `page` or the channel that collected it.
    pub via: String,
    /// The recovery ticket a low score opened.
    pub recovery_ticket_id: Option<Id>,
    pub created_at: DateTime<Utc>,
}

/// What the public response page knows of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PublicSurvey {
    pub locale: String,
    pub kind: SatisfactionKind,
    pub scale: (i32, i32),
    pub texts: TemplateTexts,
    /// Dimension key and its question in the page's locale.
    pub dimensions: Vec<(String, String)>,
    pub state: DeliveryState,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(kind: SatisfactionKind) -> SurveyTemplate {
        let new = default_templates()
            .into_iter()
            .find(|t| t.kind == kind)
            .unwrap();
        SurveyTemplate {
            id: 1,
            key: new.key,
            version: 1,
            name: new.name,
            kind,
            texts: new.texts,
            dimensions: new.dimensions,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn the_default_templates_are_valid_in_both_locales() {
        for new in default_templates() {
            let input = TemplateInput {
                name: new.name.clone(),
                kind: new.kind,
                texts: new.texts.clone(),
                dimensions: new.dimensions.clone(),
            };
            assert_eq!(input.validate(&new.key).unwrap(), new);
            for locale in LOCALES {
                assert!(new.texts.contains_key(locale), "{} lacks {locale}", new.key);
            }
        }
    }

    #[test]
    fn answers_are_checked_against_the_template() {
        let csat = template(SatisfactionKind::Csat);
        let ok = AnswerInput {
            score: 4,
            dimensions: BTreeMap::from([("product_quality".to_owned(), 5)]),
            comment: Some("  fine  ".to_owned()),
        };
        assert_eq!(ok.validate(&csat).unwrap().comment.as_deref(), Some("fine"));
        let bad = AnswerInput {
            score: 6,
            dimensions: BTreeMap::from([("colour".to_owned(), 3), ("communication".to_owned(), 0)]),
            comment: None,
        };
        let codes: Vec<&str> = bad
            .validate(&csat)
            .unwrap_err()
            .0
            .iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, ["out_of_range", "unknown_dimension", "out_of_range"]);
        let nps = template(SatisfactionKind::Nps);
        assert!(
            AnswerInput {
                score: 0,
                ..Default::default()
            }
            .validate(&nps)
            .is_ok()
        );
        assert!(
            AnswerInput {
                score: 11,
                ..Default::default()
            }
            .validate(&nps)
            .is_err()
        );
    }

    #[test]
    fn low_scores_follow_each_scale() {
        let thresholds = LowScoreThresholds::default();
        assert!(thresholds.is_low(SatisfactionKind::Csat, 2));
        assert!(!thresholds.is_low(SatisfactionKind::Csat, 3));
        assert!(thresholds.is_low(SatisfactionKind::Nps, 6));
        assert!(!thresholds.is_low(SatisfactionKind::Nps, 7));
        assert!(thresholds.is_low(SatisfactionKind::Ces, 5));
        assert!(!thresholds.is_low(SatisfactionKind::Ces, 4));
    }

    #[test]
    fn scores_are_read_from_reply_texts() {
        assert_eq!(score_in_text("9"), Some(9));
        assert_eq!(score_in_text(" 10 thanks"), Some(10));
        assert_eq!(score_in_text("I'd say 4."), Some(4));
        assert_eq!(score_in_text("great"), None);
    }

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(retry_backoff(1), Duration::seconds(30));
        assert_eq!(retry_backoff(2), Duration::seconds(60));
        assert_eq!(retry_backoff(20), Duration::seconds(3600));
    }

    #[test]
    fn settings_and_campaigns_refuse_nonsense() {
        let settings = SurveySettings {
            expire_after_days: 0,
            default_locale: "fr".to_owned(),
            ..SurveySettings::default()
        };
        let codes: Vec<&str> = settings
            .validate()
            .unwrap_err()
            .0
            .iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, ["out_of_range", "unsupported_locale"]);
        let campaign = CampaignInput {
            name: "Q1".to_owned(),
            template_key: "nps-quarterly".to_owned(),
            channel: "rapport.webhook-channel".to_owned(),
            audience: Audience::default(),
            every_months: Some(0),
            starts_at: None,
        };
        let fields: Vec<String> = campaign
            .validate(Utc::now())
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["audience", "every_months"]);
    }
}
