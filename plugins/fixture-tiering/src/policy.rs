//! The fixture policy's decision logic in plain Rust, with no SDK types: `lib.rs` adapts it to the
//! `tiering-policy` world for the wasm component, and the host's benchmark
//! (`tests/benches/plugin_calls.rs`) includes this same file with `#[path]` to run it natively.

/// Order value over 365 days from which a customer is `high-value`, unless the tenant sets
/// `high_value_threshold`.
pub const DEFAULT_THRESHOLD: f64 = 1_000_000.0;
/// Days without contact from which a customer is a `churn-risk`, whatever its orders.
pub const CHURN_AFTER_SILENT_DAYS: u32 = 90;
/// The tier catalogue as (id, label), in rank order.
pub const TIERS: [(&str, &str); 3] = [
    ("high-value", "High value"),
    ("regular", "Regular"),
    ("churn-risk", "Churn risk"),
];

/// What the policy looks at for one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Facts {
    pub order_value_365d: f64,
    /// `None` when there was never any contact.
    pub days_since_last_contact: Option<u32>,
}

/// The policy's decision for one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// One of the ids of [`TIERS`].
    pub tier: &'static str,
    pub score: f64,
    pub reason: Reason,
}

/// Why the customer got its tier. It is written out only where it is read (`Display`), so a
/// host-side build renders it into its own `String` and the wasm build straight into the
/// answer's shared text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// Days since the last contact; `None` when there was never any.
    Silent(Option<u32>),
    HighValue {
        order_value: f64,
        threshold: f64,
    },
    Regular {
        order_value: f64,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Reason::Silent(Some(days)) => write!(f, "no contact for {days} days"),
            Reason::Silent(None) => f.write_str("no contact for ever days"),
            Reason::HighValue {
                order_value,
                threshold,
            } => write!(
                f,
                "orders {order_value:.0} in 365 days (threshold {threshold:.0})"
            ),
            Reason::Regular { order_value } => write!(f, "orders {order_value:.0} in 365 days"),
        }
    }
}

impl Reason {
    /// The same sentence as a template and its numbers, for a host that writes reasons out
    /// (WIT 0.4.0); `Display` stays for the fixtures built against older versions, and the
    /// host's shim test checks that both read the same.
    pub fn template(&self, write: impl FnOnce(&'static str, &[f64])) {
        // One call of `write`, after the match, so that the caller's closure is inlined once.
        let (template, numbers): (_, &[f64]) = match *self {
            Reason::Silent(Some(days)) => ("no contact for {} days", &[f64::from(days)]),
            Reason::Silent(None) => ("no contact for ever days", &[]),
            Reason::HighValue {
                order_value,
                threshold,
            } => (
                "orders {:.0} in 365 days (threshold {:.0})",
                &[order_value, threshold],
            ),
            Reason::Regular { order_value } => ("orders {:.0} in 365 days", &[order_value]),
        };
        write(template, numbers);
    }
}

/// The threshold from the tenant's `high_value_threshold` setting, or the default when it is
/// unset; the error is the message to report when the setting is not a number.
pub fn threshold(setting: Option<&str>) -> Result<f64, String> {
    match setting {
        None => Ok(DEFAULT_THRESHOLD),
        Some(text) => text
            .parse()
            .map_err(|_| format!("high_value_threshold is not a number: {text}")),
    }
}

/// `churn-risk` after [`CHURN_AFTER_SILENT_DAYS`] without contact (or none ever), else
/// `high-value` from `threshold` of orders in 365 days, else `regular`; scored by that order value.
pub fn decide(facts: Facts, threshold: f64) -> Verdict {
    let silent_days = facts.days_since_last_contact.unwrap_or(u32::MAX);
    let order_value = facts.order_value_365d;
    let (tier, reason) = if silent_days >= CHURN_AFTER_SILENT_DAYS {
        ("churn-risk", Reason::Silent(facts.days_since_last_contact))
    } else if order_value >= threshold {
        (
            "high-value",
            Reason::HighValue {
                order_value,
                threshold,
            },
        )
    } else {
        ("regular", Reason::Regular { order_value })
    };
    Verdict {
        tier,
        score: order_value,
        reason,
    }
}
