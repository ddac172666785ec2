//! Cursor pagination: opaque cursors that carry the last row's sort key, so pages stay stable
//! while rows are inserted (keyset pagination, no OFFSET).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;
use super::ValidationErrors;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;

/// Where the previous page ended, for one particular sort order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort order the cursor was made for; a cursor is only valid with the same order.
    #[serde(rename = "s")]
    pub sort: String,
    /// The last row's sort value, as text.
    #[serde(rename = "v")]
    pub value: String,
    #[serde(rename = "i")]
    pub id: Id,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a cursor always serialises"))
    }

    pub fn decode(text: &str, expected_sort: &str) -> Result<Cursor, ValidationErrors> {
        let invalid = || {
            ValidationErrors::single(
                "cursor",
                "invalid_cursor",
                "the cursor is malformed or belongs to another sort order",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if cursor.sort == expected_sort {
            Ok(cursor)
        } else {
            Err(invalid())
        }
    }
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub fn parse(
        limit: Option<u64>,
        cursor: Option<&str>,
        sort: &str,
    ) -> Result<Self, ValidationErrors> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ValidationErrors::single(
                "limit",
                "out_of_range",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = cursor.map(|text| Cursor::decode(text, sort)).transpose()?;
        Ok(PageRequest { limit, after })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only tells that more exist.
    pub fn from_rows(mut rows: Vec<T>, limit: u64, cursor_of: impl Fn(&T) -> Cursor) -> Page<T> {
        let has_more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if has_more {
            rows.last().map(|row| cursor_of(row).encode())
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_sort() {
        let cursor = Cursor {
            sort: "-name".into(),
            value: "Acme".into(),
            id: 7,
        };
        let text = cursor.encode();
        assert_eq!(Cursor::decode(&text, "-name").unwrap(), cursor);
        assert!(Cursor::decode(&text, "name").is_err());
        assert!(Cursor::decode("%%%", "name").is_err());
    }

    #[test]
    fn a_page_reports_more_only_when_an_extra_row_was_fetched() {
        let cursor_of = |n: &i64| Cursor {
            sort: "id".into(),
            value: n.to_string(),
            id: *n,
        };
        let page = Page::from_rows(vec![1, 2, 3], 2, cursor_of);
        assert_eq!(page.items, [1, 2]);
        assert!(page.next_cursor.is_some());
        assert!(
            Page::from_rows(vec![1, 2], 2, cursor_of)
                .next_cursor
                .is_none()
        );
    }
}
