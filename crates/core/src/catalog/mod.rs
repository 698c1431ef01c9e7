//! The admin catalog: what operators change while the center runs. Skills,
//! agents (their skills and whether they may sign in), queues, entry
//! points and their keypad menus, hours calendars, not-ready reason codes, wrap-up categories and
//! the customer
//! directory (DOMAIN.md: "tiers are data, re-assigned over time").
//!
//! Every object is stored with the [`Revision`] of its last write, which is
//! its etag: the store gives each write the next revision of one counter,
//! so a node that has applied every change up to revision `r` holds exactly
//! the catalog as it stood at `r`. [`Catalog`] is that view, the same on
//! every node once caught up; routing, entry points and customer look-ups
//! read it.
//!
//! Invariants a [`Catalog`] keeps (checked by [`Catalog::check_put`] and
//! [`Catalog::check_delete`] before the store is asked to write):
//! - every skill an agent or a queue names is in the skill catalog, with a
//!   proficiency in 1..=10;
//! - every queue an entry point or an overflow names exists;
//! - every entry point a keypad menu names exists, and no number is both a
//!   menu and an entry point;
//! - a caller number belongs to at most one customer;
//! - an account manager is a known agent;
//! - nothing still named by another object can be deleted.
//!
//! Limits on lengths and counts are the API edge's (`validate.rs` in the
//! server); the catalog checks meaning, not size.

mod calendar;
mod objects;
mod snapshot;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use calendar::{Closure, HoursCalendar, OpenSpan};
pub use objects::{
    is_key, AgentProfile, Contract, Cover, Customer, EntryPoint, KeypadMenu, ReasonCode, Skill,
    WrapUpCategory,
};
pub use snapshot::Catalog;

use crate::acd::QueueSettings;
use crate::Error;

/// What kind of object a catalog entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Skill,
    Agent,
    Calendar,
    Queue,
    EntryPoint,
    KeypadMenu,
    ReasonCode,
    WrapUpCategory,
    Customer,
}

impl Kind {
    /// In dependency order: a kind names only kinds before it (customers
    /// name agents as account managers), so a seed or an import written in
    /// this order never refers forward.
    pub const ALL: [Kind; 9] = [
        Kind::Skill,
        Kind::Agent,
        Kind::Calendar,
        Kind::Queue,
        Kind::EntryPoint,
        Kind::KeypadMenu,
        Kind::ReasonCode,
        Kind::WrapUpCategory,
        Kind::Customer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Skill => "skill",
            Kind::Agent => "agent",
            Kind::Calendar => "calendar",
            Kind::Queue => "queue",
            Kind::EntryPoint => "entry-point",
            Kind::KeypadMenu => "keypad-menu",
            Kind::ReasonCode => "reason-code",
            Kind::WrapUpCategory => "wrap-up-category",
            Kind::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The catalog's write counter; an object's etag is the revision of its
/// last write. Zero: never written (an empty catalog is at revision 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Revision(pub u64);

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An object as the catalog holds it: its value and the revision of its
/// last write (its etag).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Versioned<T> {
    pub revision: Revision,
    pub value: T,
}

/// A kind of catalog object. Its serde form is what the store keeps and
/// what update masks name (field names are the API's).
pub trait Object:
    Clone + std::fmt::Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    const KIND: Kind;
    /// The field that holds its id.
    const ID_FIELD: &'static str;
    /// Its id within its kind.
    fn id(&self) -> &str;
    /// Its meaning checked against the rest of the catalog (nothing to
    /// check by default).
    fn check(&self, _catalog: &Catalog) -> Result<(), Error> {
        Ok(())
    }
    /// What still names object `id` of this kind, if anything (a delete
    /// is refused while something does; nothing names it by default).
    fn used_by(_catalog: &Catalog, _id: &str) -> Option<String> {
        None
    }
    fn table(catalog: &Catalog) -> &std::collections::BTreeMap<String, Versioned<Self>>;
    fn table_mut(catalog: &mut Catalog) -> &mut std::collections::BTreeMap<String, Versioned<Self>>;
    /// Keeps the catalog's look-up indexes in step when an object of this
    /// kind is replaced (`old` -> `new`; none = absent).
    fn reindex(_catalog: &mut Catalog, _old: Option<&Self>, _new: Option<&Self>) {}
}

/// Calls `$body` with `$t` bound to the object type of `$kind`: how code
/// that holds a [`Kind`] at run time reaches the typed catalog.
#[macro_export]
macro_rules! for_kind {
    ($kind:expr, $t:ident => $body:expr) => {{
        use $crate::catalog::*;
        match $kind {
            Kind::Skill => {
                type $t = Skill;
                $body
            }
            Kind::Agent => {
                type $t = AgentProfile;
                $body
            }
            Kind::Calendar => {
                type $t = HoursCalendar;
                $body
            }
            Kind::Queue => {
                type $t = $crate::acd::QueueSettings;
                $body
            }
            Kind::EntryPoint => {
                type $t = EntryPoint;
                $body
            }
            Kind::KeypadMenu => {
                type $t = KeypadMenu;
                $body
            }
            Kind::ReasonCode => {
                type $t = ReasonCode;
                $body
            }
            Kind::WrapUpCategory => {
                type $t = WrapUpCategory;
                $body
            }
            Kind::Customer => {
                type $t = Customer;
                $body
            }
        }
    }};
}

/// The id a queue is stored under.
pub(crate) fn queue_id(q: &QueueSettings) -> &str {
    q.name.as_ref().map(|n| n.as_str()).unwrap_or("")
}

#[cfg(test)]
mod tests;
