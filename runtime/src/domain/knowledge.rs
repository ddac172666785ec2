//! The knowledge base: what the service team learned, written down so the next agent (or
//! customer) finds it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;
use super::validation::{self, ValidationErrors};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Article {
    pub id: Id,
    pub title: String,
    /// Markdown.
    pub body: String,
    pub tags: Vec<String>,
    /// Tickets the article was written from or answers.
    pub ticket_ids: Vec<Id>,
    pub created_by: Option<Id>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub ticket_ids: Vec<Id>,
}

/// A validated article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleFields {
    pub title: String,
    pub body: String,
    /// Lower-case, unique, sorted.
    pub tags: Vec<String>,
    pub ticket_ids: Vec<Id>,
}

const MAX_TAGS: usize = 20;

impl ArticleInput {
    pub fn validate(self) -> Result<ArticleFields, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let title = validation::required_text(&mut errors, "title", &self.title, 200);
        let body = validation::required_text(&mut errors, "body", &self.body, 100_000);
        if self.tags.len() > MAX_TAGS {
            errors.add("tags", "too_many", format!("at most {MAX_TAGS} tags"));
        }
        let mut tags = Vec::new();
        for (index, tag) in self.tags.iter().enumerate() {
            let field = format!("tags[{index}]");
            if let Some(tag) = validation::required_text(&mut errors, &field, tag, 50) {
                tags.push(tag.to_lowercase());
            }
        }
        tags.sort();
        tags.dedup();
        let mut ticket_ids = self.ticket_ids;
        ticket_ids.sort_unstable();
        ticket_ids.dedup();
        if ticket_ids.len() > 100 {
            errors.add("ticket_ids", "too_many", "at most 100 linked tickets");
        }
        errors.into_result(ArticleFields {
            title: title.unwrap_or_default(),
            body: body.unwrap_or_default(),
            tags,
            ticket_ids,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArticleFilter {
    /// Words that must all appear in the title, body or tags (case-insensitive).
    pub words: Vec<String>,
    pub tag: Option<String>,
    pub ticket_id: Option<Id>,
}

impl ArticleFilter {
    pub fn new(q: Option<&str>, tag: Option<&str>, ticket_id: Option<Id>) -> ArticleFilter {
        ArticleFilter {
            words: q
                .unwrap_or_default()
                .split_whitespace()
                .take(10)
                .map(str::to_lowercase)
                .collect(),
            tag: tag
                .map(|tag| tag.trim().to_lowercase())
                .filter(|t| !t.is_empty()),
            ticket_id,
        }
    }
}

/// The draft of an article saved from a resolved ticket: its subject, what was asked and how it
/// was resolved, ready for the author to polish.
pub fn draft_from_ticket(
    subject: &str,
    description: &str,
    resolution_note: Option<&str>,
    public_answers: &[String],
) -> (String, String) {
    let mut body = format!("## Question\n\n{}\n", description.trim());
    if let Some(note) = resolution_note.filter(|note| !note.trim().is_empty()) {
        body.push_str(&format!("\n## Resolution\n\n{}\n", note.trim()));
    }
    if !public_answers.is_empty() {
        body.push_str("\n## What we told the customer\n\n");
        for answer in public_answers {
            body.push_str(&format!("- {}\n", answer.trim().replace('\n', " ")));
        }
    }
    (subject.to_owned(), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised_and_bounded() {
        let input = ArticleInput {
            title: " Reset a password ".into(),
            body: "Steps".into(),
            tags: vec!["Login".into(), "login".into(), "Account".into()],
            ticket_ids: vec![3, 1, 3],
        };
        let fields = input.validate().unwrap();
        assert_eq!(fields.title, "Reset a password");
        assert_eq!(fields.tags, ["account", "login"]);
        assert_eq!(fields.ticket_ids, [1, 3]);
        let too_many = ArticleInput {
            title: "t".into(),
            body: "b".into(),
            tags: (0..21).map(|i| format!("t{i}")).collect(),
            ticket_ids: vec![],
        };
        assert_eq!(too_many.validate().unwrap_err().0[0].code, "too_many");
    }

    #[test]
    fn a_draft_keeps_question_resolution_and_answers() {
        let (title, body) = draft_from_ticket(
            "Invoice missing",
            "Where is my invoice?",
            Some("Re-sent from ERP"),
            &["We re-sent it".into()],
        );
        assert_eq!(title, "Invoice missing");
        assert!(body.contains("## Resolution\n\nRe-sent from ERP"));
        assert!(body.contains("- We re-sent it"));
    }
}
