//! Tiering policies: the facts of a batch of customers in, a tier with score and reasons out.
//!
//! The WIT types keep a batch in columns (one list per fact, texts laid end to end, so that a
//! batch crosses into the plugin as a few copies); this module gives a policy the view it wants
//! instead: [`Batch::profiles`] yields one [`Profile`] per customer, with its facts as methods
//! and its texts as plain `&str`, and [`Decisions::decide`] records a decision whose reasons
//! are written straight into the answer: as a template and its values, which the host writes
//! out ([`Reasons::template`]), or as finished text ([`Reasons::add`]).
//!
//! A policy declares the facts it reads ([`crate::TieringPolicy::facts`]); the host sends only
//! those columns, and a getter of an undeclared fact panics, naming it.

use std::fmt::{Display, Write};

/// The generated bindings of the `tiering-policy` world, for the export macro.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/rapport-plugin@0.4.0",
        world: "tiering-policy",
        runtime_path: "rapport_sdk::wit_bindgen::rt",
        with: {
            "rapport:plugin/types@0.4.0": crate::host_bindings::rapport::plugin::types,
            "rapport:plugin/log@0.4.0": crate::host_bindings::rapport::plugin::log,
            "rapport:plugin/config@0.4.0": crate::host_bindings::rapport::plugin::config,
            "rapport:plugin/http@0.4.0": crate::host_bindings::rapport::plugin::http,
            "rapport:plugin/clock@0.4.0": crate::host_bindings::rapport::plugin::clock,
        },
        pub_export_macro: true,
        export_macro_name: "__export_tiering_policy_world",
        default_bindings_module: "rapport_sdk::tiering::bindings",
    });
}

use self::bindings::rapport::plugin::tiering_types as wit;
pub use self::bindings::rapport::plugin::tiering_types::{
    ChurnSignalKind, Fact, LifecycleStage, Tier,
};

impl Fact {
    /// Every fact, for a policy that reads them all (the default).
    pub const ALL: [Fact; 18] = [
        Fact::LifecycleStage,
        Fact::TenureDays,
        Fact::OrderValue90d,
        Fact::OrderValue365d,
        Fact::OrderCount90d,
        Fact::OrderCount365d,
        Fact::DaysSinceLastOrder,
        Fact::InteractionCount30d,
        Fact::InteractionCount90d,
        Fact::DaysSinceLastContact,
        Fact::OpenComplaints,
        Fact::Complaints90d,
        Fact::LatestCsat,
        Fact::LatestNps,
        Fact::LatestCes,
        Fact::CustomFieldsJson,
        Fact::Tags,
        Fact::ChurnSignals,
    ];
}

/// The entry of a declared fact's column; an empty column means the policy did not declare it.
fn entry<T: Copy>(column: &[T], index: usize, fact: &str) -> T {
    match column.get(index) {
        Some(&value) => value,
        None => undeclared(fact),
    }
}

/// A policy that reads a fact it did not declare has a bug its vendor must see at once.
#[cold]
#[track_caller]
fn undeclared(fact: &str) -> ! {
    panic!("the policy reads `{fact}` but `TieringPolicy::facts` does not declare it")
}

/// Marks a missing day count in the WIT columns.
const NONE_DAYS: u32 = u32::MAX;

/// The customers of one `evaluate` call.
#[derive(Debug)]
pub struct Batch {
    raw: wit::ProfileBatch,
}

impl Batch {
    #[doc(hidden)]
    pub fn from_wit(raw: wit::ProfileBatch) -> Batch {
        Batch { raw }
    }

    /// How many customers the batch holds.
    pub fn len(&self) -> usize {
        self.raw.customer_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.customer_ids.is_empty()
    }

    /// The customers, in the order their decisions must follow.
    pub fn profiles(&self) -> impl ExactSizeIterator<Item = Profile<'_>> {
        (0..self.len()).map(|index| Profile {
            batch: &self.raw,
            index,
        })
    }
}

/// Text `index` of `texts`; the host lays texts out on character boundaries and within bounds,
/// so a bad one reads as empty rather than trapping.
fn text_at(texts: &wit::Texts, index: usize) -> &str {
    let (start, end) = range_at(&texts.ends, index);
    texts.text.get(start..end).unwrap_or_default()
}

/// Entries `ends[index - 1] .. ends[index]` (from 0 for the first) as a range.
fn range_at(ends: &[u32], index: usize) -> (usize, usize) {
    let start = match index {
        0 => 0,
        _ => ends.get(index - 1).copied().unwrap_or(0) as usize,
    };
    let end = ends.get(index).copied().unwrap_or(0) as usize;
    (start, end.max(start))
}

/// One customer's facts, read from the batch's columns.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    batch: &'a wit::ProfileBatch,
    index: usize,
}

/// A getter of the profile's entry in the batch's column of the same name.
macro_rules! column {
    ($(#[$doc:meta])* $name:ident: $type:ty) => {
        $(#[$doc])*
        pub fn $name(&self) -> $type {
            entry(&self.batch.$name, self.index, stringify!($name))
        }
    };
}

impl<'a> Profile<'a> {
    column!(
        /// Days since the customer was created.
        tenure_days: u32
    );
    column!(order_value_90d: f64);
    column!(order_value_365d: f64);
    column!(order_count_90d: u32);
    column!(order_count_365d: u32);
    column!(interaction_count_30d: u32);
    column!(interaction_count_90d: u32);
    column!(open_complaints: u32);
    column!(complaints_90d: u32);

    /// The customer's id.
    pub fn customer_id(&self) -> i64 {
        self.batch.customer_ids[self.index]
    }

    pub fn lifecycle_stage(&self) -> LifecycleStage {
        entry(&self.batch.lifecycle_stages, self.index, "lifecycle_stage")
    }

    /// Days since the last order, `None` when there was none.
    pub fn days_since_last_order(&self) -> Option<u32> {
        days(entry(
            &self.batch.days_since_last_order,
            self.index,
            "days_since_last_order",
        ))
    }

    /// Days since the last interaction, `None` when there was none.
    pub fn days_since_last_contact(&self) -> Option<u32> {
        days(entry(
            &self.batch.days_since_last_contact,
            self.index,
            "days_since_last_contact",
        ))
    }

    /// The latest CSAT (1–5), `None` when never measured.
    pub fn latest_csat(&self) -> Option<f64> {
        measured(entry(&self.batch.latest_csat, self.index, "latest_csat"))
    }

    /// The latest NPS (0–10), `None` when never measured.
    pub fn latest_nps(&self) -> Option<f64> {
        measured(entry(&self.batch.latest_nps, self.index, "latest_nps"))
    }

    /// The latest CES (1–7), `None` when never measured.
    pub fn latest_ces(&self) -> Option<f64> {
        measured(entry(&self.batch.latest_ces, self.index, "latest_ces"))
    }

    /// The customer's custom fields, a JSON object.
    pub fn custom_fields_json(&self) -> &'a str {
        let texts = &self.batch.custom_fields_json;
        entry(&texts.ends, self.index, "custom_fields_json");
        text_at(texts, self.index)
    }

    /// The customer's tags.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = &'a str> + use<'a> {
        let tags = &self.batch.tags;
        entry(&self.batch.tag_ends, self.index, "tags");
        let (start, end) = range_at(&self.batch.tag_ends, self.index);
        (start..end).map(move |tag| text_at(tags, tag))
    }

    /// Whether the customer carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags().any(|own| own == tag)
    }

    /// The churn-risk signals the host found in the customer's own history.
    pub fn churn_signals(&self) -> impl ExactSizeIterator<Item = ChurnSignal<'a>> + use<'a> {
        let batch = self.batch;
        entry(&batch.signal_ends, self.index, "churn_signals");
        let (start, end) = range_at(&batch.signal_ends, self.index);
        let end = end.min(batch.signal_kinds.len()).max(start);
        (start..end).map(move |signal| ChurnSignal {
            kind: batch.signal_kinds[signal],
            detail: text_at(&batch.signal_details, signal),
        })
    }
}

fn days(value: u32) -> Option<u32> {
    (value != NONE_DAYS).then_some(value)
}

fn measured(value: f64) -> Option<f64> {
    (!value.is_nan()).then_some(value)
}

/// A churn-risk signal the host found, with its evidence for a manager to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChurnSignal<'a> {
    pub kind: ChurnSignalKind,
    pub detail: &'a str,
}

/// The answer to one `evaluate` call, filled one decision at a time.
#[derive(Debug)]
pub struct Decisions {
    raw: wit::Decisions,
    /// The tier ids and templates already in the answer, by the address of the policy's
    /// `&'static str`: found without comparing text, and never stale, as statics never move.
    tier_keys: Interner,
    template_keys: Interner,
}

/// The template of a reason given as finished text.
const TEXT_TEMPLATE: &str = "{text}";

impl Decisions {
    /// An empty answer with room for `capacity` decisions.
    #[doc(hidden)]
    pub fn new(capacity: usize) -> Decisions {
        Decisions {
            raw: wit::Decisions {
                customer_ids: Vec::with_capacity(capacity),
                tiers: Vec::with_capacity(capacity),
                tier_ids: Vec::new(),
                scores: Vec::with_capacity(capacity),
                templates: Vec::new(),
                reasons: Vec::with_capacity(capacity * 2),
                reason_ends: Vec::with_capacity(capacity),
                numbers: Vec::with_capacity(capacity * 2),
                texts: wit::Texts {
                    text: String::new(),
                    ends: Vec::new(),
                },
            },
            tier_keys: Interner::default(),
            template_keys: Interner::default(),
        }
    }

    #[doc(hidden)]
    pub fn into_wit(mut self) -> wit::Decisions {
        self.close_last_decision();
        self.raw
    }

    /// Ends the reasons of the decision before the next one (or the answer) starts: written once
    /// per decision rather than counted up by every reason.
    #[inline]
    fn close_last_decision(&mut self) {
        if !self.raw.customer_ids.is_empty() {
            self.raw.reason_ends.push(self.raw.reasons.len() as u32);
        }
    }

    /// How many decisions were made so far.
    pub fn len(&self) -> usize {
        self.raw.customer_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.customer_ids.is_empty()
    }

    /// Decides `tier` (an id of the policy's catalogue) with `score` for the customer; add the
    /// decision's reasons to what this returns. Decide for every profile, in the batch's order.
    /// The host refuses an answer naming a tier outside [`crate::TieringPolicy::tiers`].
    #[inline]
    pub fn decide(&mut self, customer_id: i64, tier: &'static str, score: f64) -> Reasons<'_> {
        let tier = self.tier_keys.index_of(&mut self.raw.tier_ids, tier);
        self.close_last_decision();
        let raw = &mut self.raw;
        raw.customer_ids.push(customer_id);
        raw.tiers.push(tier);
        raw.scores.push(score);
        Reasons { answer: self }
    }

    #[inline]
    fn add_reason(&mut self, template: &'static str) {
        let template = self
            .template_keys
            .index_of(&mut self.raw.templates, template);
        self.raw.reasons.push(template);
    }
}

/// Finds the index of a `&'static str` in an answer's list (tier ids, templates) by its address
/// and length, without comparing text. Called for every decision and reason, so the common case
/// is one probe of a small direct-mapped table; a miss (a new text, or two texts sharing a slot)
/// falls back to the full list.
#[derive(Debug)]
struct Interner {
    /// Address and length of each entry's static source, in the list's order.
    keys: Vec<(usize, usize)>,
    /// Index + 1 into `keys` of the text last seen in each slot; 0 when none.
    slots: [u32; INTERNER_SLOTS],
}

const INTERNER_SLOTS: usize = 64;

impl Default for Interner {
    fn default() -> Interner {
        Interner {
            keys: Vec::new(),
            slots: [0; INTERNER_SLOTS],
        }
    }
}

impl Interner {
    /// The index of `text` in `list`, added when new.
    #[inline]
    fn index_of(&mut self, list: &mut Vec<String>, text: &'static str) -> u32 {
        let key = (text.as_ptr() as usize, text.len());
        // Fibonacci hashing: texts that sit side by side in memory land in different slots.
        let slot = ((key.0 ^ (key.1 << 20)) as u32).wrapping_mul(0x9E37_79B9) as usize
            >> (32 - INTERNER_SLOTS.trailing_zeros());
        let hint = self.slots[slot] as usize;
        match self.keys.get(hint.wrapping_sub(1)) {
            Some(&known) if known == key => (hint - 1) as u32,
            _ => self.index_of_missed(list, key, text, slot),
        }
    }

    #[cold]
    #[inline(never)]
    fn index_of_missed(
        &mut self,
        list: &mut Vec<String>,
        key: (usize, usize),
        text: &'static str,
        slot: usize,
    ) -> u32 {
        let index = match self.keys.iter().position(|&known| known == key) {
            Some(index) => index,
            None => {
                self.keys.push(key);
                list.push(text.to_owned());
                list.len() - 1
            }
        };
        self.slots[slot] = index as u32 + 1;
        index as u32
    }
}

/// The reasons of the decision just made: sentences a manager can read.
#[derive(Debug)]
pub struct Reasons<'a> {
    answer: &'a mut Decisions,
}

impl Reasons<'_> {
    /// Adds a reason the host writes out: `template` with `numbers` in its placeholders, e.g.
    /// `reasons.template("orders {:.0} in 365 days", &[value])`. `{}` writes a number as Rust
    /// displays an `f64`, `{:.N}` with N decimals (N ≤ 9), `{:,}` to the nearest whole grouped by
    /// thousands; `{{` and `}}` are braces. The cheapest kind of reason: nothing is formatted
    /// inside the plugin.
    #[inline]
    pub fn template(&mut self, template: &'static str, numbers: &[f64]) -> &mut Self {
        self.answer.add_reason(template);
        // A reason has a few numbers. Copying a slice of unknown length is a call out of the
        // sandbox (`memory.copy`), and a loop of pushes checks fuel, the deadline and the
        // capacity for every number; a copy of known length is a few loads and stores.
        let answer = &mut self.answer.raw.numbers;
        match *numbers {
            [] => {}
            [one] => answer.push(one),
            [one, two] => answer.extend_from_slice(&[one, two]),
            [one, two, three] => answer.extend_from_slice(&[one, two, three]),
            _ => answer.extend_from_slice(numbers),
        }
        self
    }

    /// As [`Reasons::template`], with texts for the template's `{text}` placeholders too.
    #[inline]
    pub fn template_with_texts(
        &mut self,
        template: &'static str,
        numbers: &[f64],
        texts: &[&str],
    ) -> &mut Self {
        self.template(template, numbers);
        for text in texts {
            self.push_text(|written| written.push_str(text));
        }
        self
    }

    /// Adds a reason as finished text, e.g. `reasons.add(format_args!("no contact for {days}
    /// days"))`; it is written straight into the answer, without a `String` of its own.
    pub fn add(&mut self, reason: impl Display) -> &mut Self {
        self.answer.add_reason(TEXT_TEMPLATE);
        // Writing into a `String` cannot fail.
        self.push_text(|written| {
            let _ = write!(written, "{reason}");
        });
        self
    }

    fn push_text(&mut self, write: impl FnOnce(&mut String)) {
        let texts = &mut self.answer.raw.texts;
        write(&mut texts.text);
        texts.ends.push(texts.text.len() as u32);
    }
}
