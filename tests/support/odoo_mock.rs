//! A loopback Odoo that answers the external JSON-RPC API (`POST /jsonrpc`) as `external-apis.md`
//! ("Odoo external API") documents it: `common.login` and `object.execute_kw` `search_read` on
//! `res.partner` and `sale.order`.
//!
//! The mock checks every request's shape (method, path, content type, JSON-RPC envelope), logs
//! in with [`ODOO_DB`], [`ODOO_LOGIN`] and [`ODOO_KEY`] (anything else gets `false`), refuses an
//! `execute_kw` with other credentials with `AccessDenied`, evaluates the search domain (prefix
//! `|`, `&`, `!` over `write_date`/`id` triples, the remaining terms and-ed), sorts by the
//! `order` asked for (`write_date asc, id asc` or `id asc`), honours `offset` and `limit`, and
//! answers the requested fields only, as Odoo serialises them (`false` for a field a row lacks).
//! Like a real Odoo before 18.4 it can store `write_date` with microseconds while it serialises
//! whole seconds (odoo/odoo#203626), and like saas-18.2 and later it can lack
//! `res.partner.mobile` (odoo/odoo#189739).
//!
//! Rows are kept sorted by (`write_date`, `id`), so the keyset domains the connector sends (the
//! empty domain, the whole-second tie-break after a cursor, the walk of one second by id) are
//! answered from a binary search plus `limit` rows, whatever the number of rows; any other
//! domain, or a model with a row stored with sub-second precision, takes the plain
//! filter-every-row-then-sort path ([`OdooMock::search_read_generic`]), which gives the same
//! answer.
//!
//! A test can change the data while a run goes on ([`OdooMock::upsert_partner`],
//! [`OdooMock::upsert_order`]), inject failures ([`OdooMock::fail_next`]) and slow the answers
//! down ([`OdooMock::set_delay`]).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{Datelike, NaiveDateTime, TimeDelta, Timelike};
use serde_json::{Map, Value, json};

use crate::http_peer::{Received, Server};

/// The database the mock serves.
pub const ODOO_DB: &str = "acme-prod";
/// The login that the mock accepts.
pub const ODOO_LOGIN: &str = "sync@acme.example";
/// That login's API key.
pub const ODOO_KEY: &str = "0d00-api-k3y-5f1c2d3e7a9b4c1d8e2f";
/// The uid `common.login` answers for [`ODOO_LOGIN`].
pub const ODOO_UID: i64 = 7;

/// One record of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct OdooRow {
    pub id: i64,
    /// As stored; Odoo before 18.4 keeps the microseconds of `now()` here, and answers it in
    /// whole seconds.
    pub written: NaiveDateTime,
    /// Every other field, as Odoo serialises it (`id` and `write_date` come from the fields
    /// above).
    pub values: Map<String, Value>,
}

impl OdooRow {
    fn key(&self) -> (NaiveDateTime, i64) {
        (self.written, self.id)
    }
}

/// `"YYYY-MM-DD HH:MM:SS"`, Odoo's datetime form, as a datetime (panics on anything else).
pub fn odoo_time(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|error| panic!("not an Odoo datetime {text:?}: {error}"))
}

/// A datetime as Odoo serialises it: `"YYYY-MM-DD HH:MM:SS"`, any fraction of a second dropped.
pub fn odoo_text(time: NaiveDateTime) -> String {
    String::from_utf8(odoo_text_bytes(time).to_vec()).expect("ASCII")
}

/// [`odoo_text`] without the formatting machinery: the mock writes it for every row it answers.
fn odoo_text_bytes(time: NaiveDateTime) -> [u8; 19] {
    let mut text = *b"0000-00-00 00:00:00";
    let year = u32::try_from(time.year()).expect("a year after 0");
    let parts = [
        (0, 4, year),
        (5, 2, time.month()),
        (8, 2, time.day()),
        (11, 2, time.hour()),
        (14, 2, time.minute()),
        (17, 2, time.second()),
    ];
    for (at, width, value) in parts {
        let mut rest = value;
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
    }
    text
}

/// A JSON-RPC success answer (HTTP 200).
pub fn rpc_result(id: &Value, result: Value) -> (u16, String) {
    (
        200,
        json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string(),
    )
}

/// A JSON-RPC success answer whose `result` is already serialised.
fn rpc_result_raw(id: &Value, result: &str) -> (u16, String) {
    (
        200,
        format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#),
    )
}

/// An error as Odoo's JSON-RPC dispatcher serialises an exception (HTTP 200); code 100 is a
/// session expiry, 200 any other exception, `name` its Python class (e.g.
/// `odoo.exceptions.AccessDenied`).
pub fn rpc_fault(id: &Value, code: i64, name: &str, message: &str) -> (u16, String) {
    (
        200,
        json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": code,
            "message": if code == 100 { "Odoo Session Expired" } else { "Odoo Server Error" },
            "data": {"name": name, "message": message, "arguments": [message], "context": {},
                     "debug": format!("Traceback (most recent call last):\n  ...\n{name}: {message}")},
        }})
        .to_string(),
    )
}

/// A partner written at `written` (`"YYYY-MM-DD HH:MM:SS"`) with `values` (a JSON object of
/// `res.partner` fields as Odoo serialises them).
pub fn partner(id: i64, written: &str, values: Value) -> OdooRow {
    OdooRow {
        id,
        written: odoo_time(written),
        values: values
            .as_object()
            .expect("a partner's values are a JSON object")
            .clone(),
    }
}

/// The states a sale order can be in.
const ORDER_STATES: [&str; 5] = ["draft", "sent", "sale", "done", "cancel"];

/// The `res.currency` id of an ISO code, as a fresh Odoo database numbers the usual ones.
fn currency_id(code: &str) -> i64 {
    const KNOWN: [&str; 6] = ["EUR", "USD", "CNY", "GBP", "JPY", "CHF"];
    KNOWN.iter().position(|known| *known == code).map_or_else(
        || 100 + code.bytes().map(i64::from).sum::<i64>(),
        |at| at as i64 + 1,
    )
}

fn order_row(
    id: i64,
    partner_id: i64,
    written: NaiveDateTime,
    amount: f64,
    currency: &str,
    date_order: String,
    state: &str,
) -> OdooRow {
    assert!(ORDER_STATES.contains(&state), "no sale.order state {state}");
    let values = Map::from_iter([
        ("name".to_owned(), json!(format!("S{id:05}"))),
        (
            "partner_id".to_owned(),
            json!([partner_id, format!("Partner {partner_id}")]),
        ),
        ("amount_total".to_owned(), json!(amount)),
        (
            "currency_id".to_owned(),
            json!([currency_id(currency), currency]),
        ),
        ("date_order".to_owned(), json!(date_order)),
        ("state".to_owned(), json!(state)),
    ]);
    OdooRow {
        id,
        written,
        values,
    }
}

/// A `sale.order` as Odoo serialises one: `name` `"S00042"`, `partner_id` `[id, "Partner id"]`,
/// `amount_total` the decimal `amount` as a JSON (float) number, `currency_id`
/// `[currency's id, "EUR"]`, `date_order` `"YYYY-MM-DD HH:MM:SS"`, `state` one of `draft`,
/// `sent`, `sale`, `done`, `cancel`; written at `written`. These are all the fields the connector
/// asks for besides `id` and `write_date`.
pub fn sale_order(
    id: i64,
    partner_id: i64,
    written: &str,
    amount: &str,
    currency: &str,
    date_order: &str,
    state: &str,
) -> OdooRow {
    let amount: f64 = amount
        .parse()
        .unwrap_or_else(|_| panic!("not a decimal amount: {amount:?}"));
    assert!(amount.is_finite(), "not a decimal amount: {amount}");
    order_row(
        id,
        partner_id,
        odoo_time(written),
        amount,
        currency,
        odoo_text(odoo_time(date_order)),
        state,
    )
}

/// `count` sale orders with ids `1..=count` in write order, spread round-robin over the partners
/// `1..=partners`, `per_second` of them sharing each whole-second `write_date` from
/// `first_second` on (so many records tie on one timestamp); amounts are deterministic with two
/// decimals (from 1.00 to 10,000.99), in EUR, state `sale`, ordered an hour before they were
/// written.
pub fn bulk_orders(count: i64, partners: i64, first_second: &str, per_second: i64) -> Vec<OdooRow> {
    assert!(
        partners > 0 && per_second > 0,
        "partners and per_second > 0"
    );
    let first = odoo_time(first_second);
    (1..=count)
        .map(|id| {
            let written = first + TimeDelta::seconds((id - 1) / per_second);
            let cents = 100 + (id * 7_919) % 1_000_000;
            order_row(
                id,
                (id - 1) % partners + 1,
                written,
                cents as f64 / 100.0,
                "EUR",
                odoo_text(written - TimeDelta::hours(1)),
                "sale",
            )
        })
        .collect()
}

/// How many bulk partners share one whole-second `write_date`.
const PARTNERS_PER_SECOND: i64 = 100;

/// `count` companies with ids `1..=count`, `name` `"Partner N"`, a Belgian `vat`
/// (`"BE"` + 8 digits of the id + 2 check digits) and `email` `"partnerN@example.com"`;
/// 100 of them share each whole-second `write_date` from `first_second` on.
pub fn bulk_partners(count: i64, first_second: &str) -> Vec<OdooRow> {
    let first = odoo_time(first_second);
    (1..=count)
        .map(|id| {
            let base = id % 100_000_000;
            OdooRow {
                id,
                written: first + TimeDelta::seconds((id - 1) / PARTNERS_PER_SECOND),
                values: Map::from_iter([
                    ("name".to_owned(), json!(format!("Partner {id}"))),
                    ("is_company".to_owned(), json!(true)),
                    (
                        "vat".to_owned(),
                        json!(format!("BE{base:08}{:02}", 97 - base % 97)),
                    ),
                    (
                        "email".to_owned(),
                        json!(format!("partner{id}@example.com")),
                    ),
                ]),
            }
        })
        .collect()
}

// ---- domains ------------------------------------------------------------------------------

/// A domain term, parsed from Odoo's prefix notation.
enum Term {
    Or(Box<Term>, Box<Term>),
    And(Box<Term>, Box<Term>),
    Not(Box<Term>),
    /// `[field, operator, value]`, with the value read as an Odoo datetime when it is one.
    Leaf(String, String, Value, Option<NaiveDateTime>),
}

fn parse_term(items: &mut std::slice::Iter<'_, Value>) -> Term {
    match items.next().expect("a complete domain") {
        Value::String(op) if op == "|" => {
            Term::Or(Box::new(parse_term(items)), Box::new(parse_term(items)))
        }
        Value::String(op) if op == "&" => {
            Term::And(Box::new(parse_term(items)), Box::new(parse_term(items)))
        }
        Value::String(op) if op == "!" => Term::Not(Box::new(parse_term(items))),
        Value::Array(leaf) if leaf.len() == 3 => Term::Leaf(
            leaf[0].as_str().unwrap().to_owned(),
            leaf[1].as_str().unwrap().to_owned(),
            leaf[2].clone(),
            leaf[2]
                .as_str()
                .and_then(|text| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()),
        ),
        other => panic!("not a domain item: {other}"),
    }
}

/// A domain: its terms, implicitly and-ed as Odoo does.
fn parse_domain(domain: &[Value]) -> Vec<Term> {
    let mut items = domain.iter();
    let mut terms = Vec::new();
    while items.len() > 0 {
        terms.push(parse_term(&mut items));
    }
    terms
}

/// Whether `ordering` (a stored value compared with a condition's value) satisfies the
/// comparison operator `op` (`=`, `!=`, `>`, `>=`, `<`, `<=`), as Odoo domains and Frappe
/// filters use them.
pub fn compare(ordering: std::cmp::Ordering, op: &str) -> bool {
    use std::cmp::Ordering::*;
    match op {
        "=" => ordering == Equal,
        "!=" => ordering != Equal,
        ">" => ordering == Greater,
        ">=" => ordering != Less,
        "<" => ordering == Less,
        "<=" => ordering != Greater,
        other => panic!("the mock knows no operator {other}"),
    }
}

fn holds(row: &OdooRow, term: &Term) -> bool {
    match term {
        Term::Or(a, b) => holds(row, a) || holds(row, b),
        Term::And(a, b) => holds(row, a) && holds(row, b),
        Term::Not(a) => !holds(row, a),
        // A datetime condition compares the stored value with the given whole second.
        Term::Leaf(field, op, Value::String(value), time) if field == "write_date" => compare(
            row.written.cmp(&time.unwrap_or_else(|| odoo_time(value))),
            op,
        ),
        Term::Leaf(field, op, Value::Number(value), _) if field == "id" => {
            compare(row.id.cmp(&value.as_i64().unwrap()), op)
        }
        Term::Leaf(field, op, value, _) => {
            panic!("the mock cannot evaluate {field} {op} {value}")
        }
    }
}

// ---- domains as ranges of the (write_date, id) order -------------------------------------
//
// When every stored `write_date` is a whole second, many domains select one contiguous range of
// the rows sorted by (`write_date`, `id`). A position in that order is a key `(second, id)`; a
// range is `[start, end)` between two keys, `None` meaning unbounded.

type Key = (NaiveDateTime, i64);

/// `[start, end)` in (`write_date`, `id`) order; empty when `start >= end`.
#[derive(Clone, Copy, Debug)]
struct Range {
    start: Option<Key>,
    end: Option<Key>,
}

impl Range {
    fn is_empty(self) -> bool {
        matches!((self.start, self.end), (Some(start), Some(end)) if start >= end)
    }

    fn intersect(self, other: Range) -> Range {
        Range {
            start: self.start.max(other.start),
            end: match (self.end, other.end) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// The union, when it is one range: the two overlap or touch, or one is empty.
    fn union(self, other: Range) -> Option<Range> {
        if self.is_empty() {
            return Some(other);
        }
        if other.is_empty() {
            return Some(self);
        }
        let (first, second) = if self.start <= other.start {
            (self, other)
        } else {
            (other, self)
        };
        // `first` starts no later; they join when `second` starts before `first` ends.
        let joined = match first.end {
            None => true,
            Some(end) => second.start.is_none_or(|start| start <= end),
        };
        joined.then(|| Range {
            start: first.start,
            end: match (first.end, second.end) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            },
        })
    }

    /// Whether every key of the range has the same second, so that `id asc` is its order too.
    fn within_one_second(self) -> bool {
        match (self.start, self.end) {
            _ if self.is_empty() => true,
            (Some((first, _)), Some((end, end_id))) => {
                end == first || (end == first + TimeDelta::seconds(1) && end_id == i64::MIN)
            }
            _ => false,
        }
    }
}

/// A conjunction of leaves: `write_date` in `[from, until)` (whole seconds) and `id` in
/// `[low, high]`.
#[derive(Clone, Copy)]
struct Box2 {
    from: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
    low: i64,
    high: i64,
}

impl Box2 {
    const ALL: Box2 = Box2 {
        from: None,
        until: None,
        low: i64::MIN,
        high: i64::MAX,
    };

    /// One leaf, for rows whose `write_date` are whole seconds; `None` when the mock would not
    /// evaluate it as a range (an unknown field or operator, `!=`).
    fn leaf(field: &str, op: &str, value: &Value, time: Option<NaiveDateTime>) -> Option<Box2> {
        let mut found = Box2::ALL;
        match (field, value) {
            ("write_date", Value::String(_)) => {
                let second = time?;
                let next = second + TimeDelta::seconds(1);
                match op {
                    ">=" => found.from = Some(second),
                    ">" => found.from = Some(next),
                    "<" => found.until = Some(second),
                    "<=" => found.until = Some(next),
                    "=" => (found.from, found.until) = (Some(second), Some(next)),
                    _ => return None,
                }
            }
            ("id", Value::Number(number)) => {
                let id = number.as_i64()?;
                match op {
                    ">=" => found.low = id,
                    ">" => found.low = id.checked_add(1)?,
                    "<=" => found.high = id,
                    "<" => found.high = id.checked_sub(1)?,
                    "=" => (found.low, found.high) = (id, id),
                    _ => return None,
                }
            }
            _ => return None,
        }
        Some(found)
    }

    fn intersect(self, other: Box2) -> Box2 {
        Box2 {
            from: self.from.max(other.from),
            until: match (self.until, other.until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            low: self.low.max(other.low),
            high: self.high.min(other.high),
        }
    }

    /// The box as a range, when it is one: `id` unbounded, or a single second.
    fn range(self) -> Option<Range> {
        let empty_seconds = matches!((self.from, self.until), (Some(a), Some(b)) if a >= b);
        if empty_seconds || self.low > self.high {
            let key = (NaiveDateTime::MIN, 0);
            return Some(Range {
                start: Some(key),
                end: Some(key),
            });
        }
        if (self.low, self.high) == (i64::MIN, i64::MAX) {
            return Some(Range {
                start: self.from.map(|second| (second, i64::MIN)),
                end: self.until.map(|second| (second, i64::MIN)),
            });
        }
        let (from, until) = (self.from?, self.until?);
        let next = from + TimeDelta::seconds(1);
        if until != next {
            return None;
        }
        Some(Range {
            start: Some((from, self.low)),
            end: Some(match self.high.checked_add(1) {
                Some(after) => (from, after),
                None => (next, i64::MIN),
            }),
        })
    }
}

/// What a term selects, as far as it is known to be a box or a range.
#[derive(Clone, Copy)]
enum Shape {
    Box(Box2),
    Range(Range),
}

impl Shape {
    fn range(self) -> Option<Range> {
        match self {
            Shape::Box(found) => found.range(),
            Shape::Range(range) => Some(range),
        }
    }

    fn and(self, other: Shape) -> Option<Shape> {
        match (self, other) {
            (Shape::Box(a), Shape::Box(b)) => Some(Shape::Box(a.intersect(b))),
            (a, b) => Some(Shape::Range(a.range()?.intersect(b.range()?))),
        }
    }

    fn or(self, other: Shape) -> Option<Shape> {
        Some(Shape::Range(self.range()?.union(other.range()?)?))
    }
}

fn shape(term: &Term) -> Option<Shape> {
    match term {
        Term::Leaf(field, op, value, time) => Box2::leaf(field, op, value, *time).map(Shape::Box),
        Term::And(a, b) => shape(a)?.and(shape(b)?),
        Term::Or(a, b) => shape(a)?.or(shape(b)?),
        Term::Not(_) => None,
    }
}

/// The range of the (`write_date`, `id`) order that `terms` select from rows stored in whole
/// seconds, in the order asked for; `None` when they do not select one range, or `order` is
/// not that range's order.
fn keyset_range(terms: &[Term], order: &str) -> Option<Range> {
    let mut all = Shape::Box(Box2::ALL);
    for term in terms {
        all = all.and(shape(term)?)?;
    }
    let range = all.range()?;
    match order {
        "write_date asc, id asc" => Some(range),
        "id asc" if range.within_one_second() => Some(range),
        _ => None,
    }
}

// ---- the mock -----------------------------------------------------------------------------

/// One model's rows, sorted by (`written`, `id`), ids unique.
#[derive(Default)]
struct Table {
    rows: Vec<OdooRow>,
    /// Where to find a row by id: its stored `write_date`.
    written_of: HashMap<i64, NaiveDateTime>,
    /// How many rows store a `write_date` with a fraction of a second.
    fractional: usize,
}

fn fractional(time: NaiveDateTime) -> bool {
    time.nanosecond() != 0
}

impl Table {
    fn new(model: &str, mut rows: Vec<OdooRow>) -> Table {
        rows.sort_by_key(OdooRow::key);
        let mut written_of = HashMap::with_capacity(rows.len());
        for row in &rows {
            if written_of.insert(row.id, row.written).is_some() {
                panic!("two {model} rows with id {}", row.id);
            }
        }
        let fractional = rows.iter().filter(|row| fractional(row.written)).count();
        Table {
            rows,
            written_of,
            fractional,
        }
    }

    /// Replaces the row with `row`'s id or adds it, keeping the order: only the rows between its
    /// old and new place move.
    fn upsert(&mut self, row: OdooRow) {
        let key = row.key();
        self.fractional += usize::from(fractional(row.written));
        let Some(written) = self.written_of.insert(row.id, row.written) else {
            let at = self.rows.partition_point(|stored| stored.key() < key);
            self.rows.insert(at, row);
            return;
        };
        let at = self
            .rows
            .binary_search_by_key(&(written, row.id), OdooRow::key)
            .expect("an indexed row is stored");
        let old = std::mem::replace(&mut self.rows[at], row);
        self.fractional -= usize::from(fractional(old.written));
        if key > old.key() {
            let later = self.rows[at + 1..].partition_point(|stored| stored.key() < key);
            self.rows[at..=at + later].rotate_left(1);
        } else {
            let to = self.rows[..at].partition_point(|stored| stored.key() < key);
            self.rows[to..=at].rotate_right(1);
        }
    }

    /// The range of the rows `terms` select in `order`, when the rows can be searched for it.
    fn indexed_range(&self, terms: &[Term], order: &str) -> Option<Range> {
        if self.fractional > 0 {
            return None;
        }
        keyset_range(terms, order)
    }

    /// The rows `terms` select in `order`, from `offset` on, at most `limit`: from a binary
    /// search when the domain is a keyset range and every row is stored in whole seconds (unless
    /// `generic`), else by testing every row and sorting the matches.
    fn select(
        &self,
        terms: &[Term],
        order: &str,
        offset: usize,
        limit: usize,
        generic: bool,
    ) -> Vec<&OdooRow> {
        let range = if generic {
            None
        } else {
            self.indexed_range(terms, order)
        };
        if let Some(range) = range {
            let first = range.start.map_or(0, |start| {
                self.rows.partition_point(|row| row.key() < start)
            });
            return self.rows[first..]
                .iter()
                .take_while(|row| range.end.is_none_or(|end| row.key() < end))
                .skip(offset)
                .take(limit)
                .collect();
        }
        let mut found: Vec<&OdooRow> = self
            .rows
            .iter()
            .filter(|row| terms.iter().all(|term| holds(row, term)))
            .collect();
        match order {
            "write_date asc, id asc" => found.sort_by_key(|row| row.key()),
            "id asc" => found.sort_by_key(|row| row.id),
            other => panic!("the mock knows no order {other}"),
        }
        found.into_iter().skip(offset).take(limit).collect()
    }
}

/// A `search_read` call's arguments.
struct Search<'a> {
    terms: Vec<Term>,
    fields: Vec<&'a str>,
    order: &'a str,
    offset: usize,
    limit: usize,
}

/// A field of a row as Odoo serialises it: `false` when the row has none.
fn field_value<'r>(row: &'r OdooRow, field: &str) -> Cow<'r, Value> {
    match field {
        "id" => Cow::Owned(json!(row.id)),
        "write_date" => Cow::Owned(Value::String(odoo_text(row.written))),
        other => row
            .values
            .get(other)
            .map_or(Cow::Owned(Value::Bool(false)), Cow::Borrowed),
    }
}

/// An Odoo serving `res.partner` and `sale.order` over JSON-RPC; see the module documentation.
pub struct OdooMock {
    partners: RwLock<Table>,
    orders: RwLock<Table>,
    /// False for Odoo 18.2 and later, which dropped `res.partner.mobile`.
    has_mobile: bool,
    /// Answers that replace the next requests' own, in order.
    failures: Mutex<VecDeque<(u16, String)>>,
    /// How long every answer waits, in nanoseconds.
    delay_nanos: AtomicU64,
    search_reads: AtomicUsize,
}

impl OdooMock {
    /// A mock holding `partners` (`res.partner`) and `orders` (`sale.order`), in any order (ids
    /// unique per model); `has_mobile: false` is an Odoo 18.2+ without `res.partner.mobile`.
    pub fn new(partners: Vec<OdooRow>, orders: Vec<OdooRow>, has_mobile: bool) -> Arc<OdooMock> {
        Arc::new(OdooMock {
            partners: RwLock::new(Table::new("res.partner", partners)),
            orders: RwLock::new(Table::new("sale.order", orders)),
            has_mobile,
            failures: Mutex::new(VecDeque::new()),
            delay_nanos: AtomicU64::new(0),
            search_reads: AtomicUsize::new(0),
        })
    }

    fn table(&self, model: &str) -> Result<&RwLock<Table>, String> {
        match model {
            "res.partner" => Ok(&self.partners),
            "sale.order" => Ok(&self.orders),
            other => Err(format!("Object {other} doesn't exist")),
        }
    }

    /// Replaces the partner with `row`'s id, or adds it; later reads see it at its new
    /// `write_date`.
    pub fn upsert_partner(&self, row: OdooRow) {
        self.partners.write().unwrap().upsert(row);
    }

    /// Replaces the sale order with `row`'s id, or adds it.
    pub fn upsert_order(&self, row: OdooRow) {
        self.orders.write().unwrap().upsert(row);
    }

    /// The next `answers.len()` requests, of any kind (login included), get these
    /// `(HTTP status, body)` answers, in order, instead of their own: for 5xx, 429 or garbage.
    /// Requests are still checked for their shape.
    pub fn fail_next(&self, answers: Vec<(u16, String)>) {
        self.failures.lock().unwrap().extend(answers);
    }

    /// Every answer from now on waits `delay` before it is written (see
    /// [`Server::start_with_delay`]); `Duration::ZERO` for none.
    pub fn set_delay(&self, delay: Duration) {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.delay_nanos.store(nanos, AtomicOrdering::SeqCst);
    }

    /// The delay [`OdooMock::set_delay`] set.
    pub fn delay(&self) -> Duration {
        Duration::from_nanos(self.delay_nanos.load(AtomicOrdering::SeqCst))
    }

    /// How many `search_read` calls the mock answered with records so far (not counting faults,
    /// injected answers or direct [`OdooMock::search_read`] calls).
    pub fn search_reads(&self) -> usize {
        self.search_reads.load(AtomicOrdering::SeqCst)
    }

    /// The arguments of `search_read(model, [domain], kwargs)`, or the `ValueError` message Odoo
    /// would raise.
    fn search<'a>(
        &self,
        model: &'a str,
        domain: &[Value],
        kwargs: &'a Value,
    ) -> Result<Search<'a>, String> {
        self.table(model)?;
        let fields: Vec<&str> = kwargs["fields"]
            .as_array()
            .expect("search_read fields")
            .iter()
            .map(|field| field.as_str().expect("a field name"))
            .collect();
        if model == "res.partner" && !self.has_mobile && fields.contains(&"mobile") {
            return Err("Invalid field 'mobile' on model 'res.partner'".into());
        }
        Ok(Search {
            terms: parse_domain(domain),
            fields,
            order: kwargs["order"].as_str().expect("search_read order"),
            offset: kwargs["offset"].as_u64().expect("search_read offset") as usize,
            limit: kwargs["limit"].as_u64().expect("search_read limit") as usize,
        })
    }

    fn search_read_with(
        &self,
        model: &str,
        domain: &[Value],
        kwargs: &Value,
        generic: bool,
    ) -> Result<Value, String> {
        let search = self.search(model, domain, kwargs)?;
        let table = self.table(model)?.read().unwrap();
        let rows = table.select(
            &search.terms,
            search.order,
            search.offset,
            search.limit,
            generic,
        );
        let records = rows
            .into_iter()
            .map(|row| {
                let record = search
                    .fields
                    .iter()
                    .map(|field| ((*field).to_owned(), field_value(row, field).into_owned()));
                Value::Object(record.collect())
            })
            .collect();
        Ok(records)
    }

    /// `model.search_read([domain], kwargs)` (`kwargs` holding `fields`, `order`, `limit` and
    /// `offset`) as the mock answers it: the records, or the message of the `ValueError` Odoo
    /// raises (unknown model, `mobile` on an Odoo without it).
    pub fn search_read(
        &self,
        model: &str,
        domain: &[Value],
        kwargs: &Value,
    ) -> Result<Value, String> {
        self.search_read_with(model, domain, kwargs, false)
    }

    /// [`OdooMock::search_read`] by testing every row against the domain and sorting what
    /// matches, never from the sorted rows: the reference the fast path must agree with.
    pub fn search_read_generic(
        &self,
        model: &str,
        domain: &[Value],
        kwargs: &Value,
    ) -> Result<Value, String> {
        self.search_read_with(model, domain, kwargs, true)
    }

    /// Whether [`OdooMock::search_read`] answers `domain` in `order` from a binary search over
    /// the sorted rows (a keyset range of (`write_date`, `id`) in that order, and no row of the
    /// model stored with a fraction of a second) rather than by testing every row.
    pub fn indexed(&self, model: &str, domain: &[Value], order: &str) -> bool {
        let table = self.table(model).unwrap().read().unwrap();
        table.indexed_range(&parse_domain(domain), order).is_some()
    }

    /// The `search_read` result as the JSON text of its records, written straight from the rows.
    fn search_read_text(
        &self,
        model: &str,
        domain: &[Value],
        kwargs: &Value,
    ) -> Result<String, String> {
        let search = self.search(model, domain, kwargs)?;
        let table = self.table(model)?.read().unwrap();
        let rows = table.select(
            &search.terms,
            search.order,
            search.offset,
            search.limit,
            false,
        );
        // `"field":` once per field, then each row's values.
        let names: Vec<String> = search
            .fields
            .iter()
            .map(|field| format!("{}:", Value::from(*field)))
            .collect();
        let mut out: Vec<u8> = Vec::with_capacity(64 + rows.len() * 32 * search.fields.len());
        out.push(b'[');
        for (n, row) in rows.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.push(b'{');
            for (at, (field, name)) in search.fields.iter().zip(&names).enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(name.as_bytes());
                match *field {
                    "id" => write!(out, "{}", row.id).expect("writes to memory"),
                    "write_date" => {
                        out.push(b'"');
                        out.extend_from_slice(&odoo_text_bytes(row.written));
                        out.push(b'"');
                    }
                    other => match row.values.get(other) {
                        Some(value) => {
                            serde_json::to_writer(&mut out, value).expect("writes to memory");
                        }
                        None => out.extend_from_slice(b"false"),
                    },
                }
            }
            out.push(b'}');
        }
        out.push(b']');
        Ok(String::from_utf8(out).expect("JSON is UTF-8"))
    }

    /// The answer to one request; the server built by [`odoo_server`] calls it. Panics (the
    /// connection then drops) when the request is not the JSON-RPC Odoo expects.
    pub fn answer(&self, request: &Received) -> (u16, String) {
        assert_eq!(
            (request.method.as_str(), request.target.as_str()),
            ("POST", "/jsonrpc")
        );
        assert_eq!(
            request.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(
            (&body["jsonrpc"], &body["method"]),
            (&json!("2.0"), &json!("call"))
        );
        if let Some(injected) = self.failures.lock().unwrap().pop_front() {
            return injected;
        }
        let id = &body["id"];
        let params = &body["params"];
        let args = params["args"].as_array().unwrap();
        match (
            params["service"].as_str().unwrap(),
            params["method"].as_str().unwrap(),
        ) {
            ("common", "login") => {
                let good = args == &[json!(ODOO_DB), json!(ODOO_LOGIN), json!(ODOO_KEY)];
                rpc_result(id, if good { json!(ODOO_UID) } else { json!(false) })
            }
            ("object", "execute_kw") => {
                if args[..3] != [json!(ODOO_DB), json!(ODOO_UID), json!(ODOO_KEY)] {
                    return rpc_fault(id, 200, "odoo.exceptions.AccessDenied", "Access Denied");
                }
                assert_eq!(args[4], "search_read");
                let positional = args[5].as_array().unwrap();
                match self.search_read_text(
                    args[3].as_str().unwrap(),
                    positional[0].as_array().unwrap(),
                    &args[6],
                ) {
                    Ok(result) => {
                        self.search_reads.fetch_add(1, AtomicOrdering::SeqCst);
                        rpc_result_raw(id, &result)
                    }
                    Err(message) => rpc_fault(id, 200, "builtins.ValueError", &message),
                }
            }
            other => panic!("the mock knows no {other:?}"),
        }
    }
}

/// A loopback server answering as `mock` does, after `mock`'s current delay.
pub async fn odoo_server(mock: Arc<OdooMock>) -> Server {
    let delays = mock.clone();
    Server::start_with_delay(move |request| mock.answer(request), move || delays.delay()).await
}
