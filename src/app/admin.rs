//! The admin catalog's operations: list, get, create, update (with field
//! masks) and delete every kind of object, and read the audit. Admins
//! write, supervisors read. Each write is bounded, checked against the
//! catalog, written to the store with its etag expectation and audited
//! there, then applied to this node before the reply (so the caller reads
//! its own write here at once; other nodes within a poll).

use hotline_core::catalog::{
    AgentProfile, Customer, EntryPoint, Kind, Object, ReasonCode, Revision, Skill, Versioned, WrapUpCategory,
};
use serde_json::Value;

use super::App;
use crate::acd::QueueSettings;
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::store::catalog::{AuditFilter, AuditRecord, CatalogWrite, Expect};
use crate::time::Timestamp;
use crate::validate::{self, Bounded};

/// Largest list page, and the page when none is asked for.
pub const MAX_PAGE: usize = 1000;
pub const DEFAULT_PAGE: usize = 50;

/// What a search (a list's filter) looks in, besides the id; and who may
/// list the kind.
pub trait Searchable {
    fn words(&self) -> Vec<&str>;
    /// Admins and supervisors read the catalog; agents also read the
    /// choices their softphone offers (reason codes, wrap-up categories).
    fn readers() -> &'static [Role] {
        &[Role::Admin, Role::Supervisor]
    }
}

impl Searchable for Skill {
    fn words(&self) -> Vec<&str> {
        vec![&self.description]
    }
}
impl Searchable for AgentProfile {
    fn words(&self) -> Vec<&str> {
        vec![&self.display_name]
    }
}
impl Searchable for hotline_core::catalog::HoursCalendar {
    fn words(&self) -> Vec<&str> {
        vec![&self.description, &self.time_zone]
    }
}
impl Searchable for QueueSettings {
    fn words(&self) -> Vec<&str> {
        Vec::new()
    }
}
impl Searchable for EntryPoint {
    fn words(&self) -> Vec<&str> {
        vec![&self.queue, &self.description]
    }
}
impl Searchable for hotline_core::catalog::KeypadMenu {
    fn words(&self) -> Vec<&str> {
        vec![&self.description]
    }
}
impl Searchable for ReasonCode {
    fn words(&self) -> Vec<&str> {
        vec![&self.label]
    }
    fn readers() -> &'static [Role] {
        &[Role::Admin, Role::Supervisor, Role::Agent]
    }
}
impl Searchable for WrapUpCategory {
    fn words(&self) -> Vec<&str> {
        vec![&self.label]
    }
    fn readers() -> &'static [Role] {
        &[Role::Admin, Role::Supervisor, Role::Agent]
    }
}
impl Searchable for Customer {
    fn words(&self) -> Vec<&str> {
        let mut w: Vec<&str> = vec![&self.name];
        w.extend(self.numbers.iter().map(String::as_str));
        w
    }
}

/// A page of a list.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<Versioned<T>>,
    /// Empty on the last page.
    pub next_page_token: String,
    /// Objects matching the filter, on every page.
    pub total_size: usize,
}

/// An etag as sent: empty for none, else a revision.
pub fn etag(field: &str, value: &str) -> Result<Option<Revision>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .trim_matches('"')
        .parse()
        .map(|r| Some(Revision(r)))
        .map_err(|_| Error::invalid(field, "not an etag this service gave"))
}

/// `patch`'s fields named by `mask` (and its id) on `current`, as JSON.
/// An empty mask names every field where `patch` differs from `blank`,
/// the request's object with nothing set (AIP-134: the populated fields).
fn merge<O: Object>(current: &O, patch: &O, blank: &O, mask: &[String]) -> Result<O, Error> {
    let encode = |o: &O| serde_json::to_value(o).map_err(|e| Error::Internal(format!("encoding: {e}")));
    let (mut out, new, blank) = (encode(current)?, encode(patch)?, encode(blank)?);
    let mut paths: Vec<String> = if mask.is_empty() {
        match (&new, &blank) {
            (Value::Object(n), Value::Object(b)) => n
                .iter()
                .filter(|(k, v)| b.get(*k) != Some(*v))
                .map(|(k, _)| k.clone())
                .collect(),
            _ => Vec::new(),
        }
    } else {
        mask.to_vec()
    };
    paths.push(O::ID_FIELD.to_string());
    for path in &paths {
        let unknown = || {
            Error::invalid(
                "update_mask",
                format!("{} has no field {}", O::KIND, hotline_core::error::quote(path)),
            )
        };
        let parts: Vec<&str> = path.split('.').collect();
        let mut from = &new;
        for p in &parts {
            from = from.get(p).ok_or_else(unknown)?;
        }
        let (last, parents) = parts.split_last().ok_or_else(unknown)?;
        let mut to = &mut out;
        for p in parents {
            to = to.get_mut(p).ok_or_else(unknown)?;
        }
        // A field the current object leaves out (an absent optional id)
        // is set all the same: `patch` has it, so the kind has it.
        let object = to.as_object_mut().ok_or_else(unknown)?;
        object.insert(last.to_string(), from.clone());
    }
    serde_json::from_value(out).map_err(|e| Error::invalid("update_mask", e.to_string()))
}

fn body<O: Object>(value: &O) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::Internal(format!("encoding {}: {e}", O::KIND)))
}

impl App {
    fn admin_reader(p: &Principal) -> Result<(), Error> {
        p.require(&[Role::Admin, Role::Supervisor])
    }

    fn admin_writer(p: &Principal) -> Result<(), Error> {
        p.require(&[Role::Admin])
    }

    /// A page of a kind's objects in id order, those whose id or words
    /// contain `filter` (case-insensitive).
    pub fn list_objects<O: Object + Searchable>(
        &self,
        p: &Principal,
        page_size: u32,
        page_token: &str,
        filter: &str,
    ) -> Result<Page<O>, Error> {
        p.require(O::readers())?;
        let size = match page_size as usize {
            0 => DEFAULT_PAGE,
            n if n > MAX_PAGE => return Err(Error::invalid("page_size", format!("at most {MAX_PAGE}"))),
            n => n,
        };
        let after = validate::after_token(page_token)?;
        let needle = validate::label("filter", filter, validate::MAX_LABEL_LEN)?.to_lowercase();
        let matches = |o: &Versioned<O>| {
            needle.is_empty()
                || o.value.id().to_lowercase().contains(&needle)
                || o.value.words().iter().any(|w| w.to_lowercase().contains(&needle))
        };
        let catalog = self.catalog.read();
        let total_size = if needle.is_empty() {
            catalog.count::<O>()
        } else {
            catalog.list::<O>().filter(|o| matches(o)).count()
        };
        let items: Vec<Versioned<O>> = catalog
            .list_after::<O>(after)
            .filter(|o| matches(o))
            .take(size + 1)
            .cloned()
            .collect();
        let (items, next_page_token) = if items.len() > size {
            let items: Vec<_> = items.into_iter().take(size).collect();
            let token = items
                .last()
                .map(|o| format!("after:{}", o.value.id()))
                .unwrap_or_default();
            (items, token)
        } else {
            (items, String::new())
        };
        Ok(Page {
            items,
            next_page_token,
            total_size,
        })
    }

    /// One object as the store holds it now (its etag current).
    pub async fn get_object<O: Object>(&self, p: &Principal, id: &str) -> Result<Versioned<O>, Error> {
        Self::admin_reader(p)?;
        let id = validate::id("id", id)?;
        let stored = self.catalog.store().catalog_get(O::KIND, id).await?;
        let not_found = || Error::NotFound {
            what: O::KIND.as_str(),
            id: id.to_string(),
        };
        let stored = stored.ok_or_else(not_found)?;
        let body = stored.body.ok_or_else(not_found)?;
        let value = serde_json::from_str(&body)
            .map_err(|e| Error::Internal(format!("{} {id} does not read: {e}", O::KIND)))?;
        Ok(Versioned {
            revision: stored.revision,
            value,
        })
    }

    /// Writes one object (or deletes it) with `expect`, as `p`, and
    /// applies the change here before returning its revision.
    async fn write_object(
        &self,
        p: &Principal,
        kind: Kind,
        id: &str,
        expect: Expect,
        body: Option<String>,
    ) -> Result<Revision, Error> {
        let deleted = body.is_none();
        let write = CatalogWrite {
            kind,
            id: id.to_string(),
            expect,
            body,
        };
        let revs = self
            .catalog
            .store()
            .catalog_write(&p.sub, Timestamp::now_wall(), &[write])
            .await?;
        self.catalog.refresh().await?;
        let revision = revs
            .first()
            .copied()
            .ok_or_else(|| Error::Internal("the store answered no revision".into()))?;
        let what = match (expect, deleted) {
            (_, true) => "deleted",
            (Expect::Absent, _) => "created",
            _ => "updated",
        };
        self.audit_after(
            p,
            crate::store::audit::AuditAction::CatalogChanged,
            format!("{kind}:{id}"),
            format!("{what} (revision {revision})"),
        )
        .await;
        Ok(revision)
    }

    /// Creates the object `patch` describes: the fields it sets (those
    /// that differ from `blank`), defaults for the rest.
    pub async fn create_object<O: Object + Bounded + Default>(
        &self,
        p: &Principal,
        patch: O,
        blank: O,
    ) -> Result<Versioned<O>, Error> {
        Self::admin_writer(p)?;
        let value = merge(&O::default(), &patch, &blank, &[])?;
        value.bounded()?;
        {
            let catalog = self.catalog.read();
            if catalog.get::<O>(value.id()).is_some() {
                return Err(Error::AlreadyExists {
                    what: O::KIND.as_str(),
                    id: value.id().to_string(),
                });
            }
            if catalog.count::<O>() >= validate::max_objects(O::KIND) {
                return Err(Error::FailedPrecondition(format!(
                    "the catalog holds the most {} objects it may ({})",
                    O::KIND,
                    validate::max_objects(O::KIND)
                )));
            }
            catalog.check_put(&value)?;
        }
        let revision = self
            .write_object(p, O::KIND, value.id(), Expect::Absent, Some(body(&value)?))
            .await?;
        Ok(Versioned { revision, value })
    }

    /// Changes the fields `mask` names (see [`merge`]) of the object
    /// `patch` names, if it is at `etag` (when given).
    pub async fn update_object<O: Object + Bounded>(
        &self,
        p: &Principal,
        patch: O,
        blank: O,
        mask: &[String],
        etag: Option<Revision>,
    ) -> Result<Versioned<O>, Error> {
        Self::admin_writer(p)?;
        if mask.len() > 64 {
            return Err(Error::invalid("update_mask", "at most 64 paths"));
        }
        let current = self.get_object::<O>(p, patch.id()).await?;
        if let Some(e) = etag.filter(|e| *e != current.revision) {
            return Err(Error::Aborted(format!(
                "{} {} changed since etag {e} (now {}); read it again",
                O::KIND,
                hotline_core::error::quote(patch.id()),
                current.revision
            )));
        }
        let value = merge(&current.value, &patch, &blank, mask)?;
        value.bounded()?;
        self.catalog.read().check_put(&value)?;
        let revision = self
            .write_object(
                p,
                O::KIND,
                value.id(),
                Expect::At(current.revision),
                Some(body(&value)?),
            )
            .await?;
        Ok(Versioned { revision, value })
    }

    pub async fn delete_object<O: Object>(
        &self,
        p: &Principal,
        id: &str,
        etag: Option<Revision>,
    ) -> Result<(), Error> {
        Self::admin_writer(p)?;
        let id = validate::id("id", id)?;
        self.catalog.read().check_delete::<O>(id)?;
        let expect = match etag {
            Some(r) => Expect::At(r),
            None => Expect::At(self.get_object::<O>(p, id).await?.revision),
        };
        self.write_object(p, O::KIND, id, expect, None).await.map(|_| ())
    }

    /// Audit records, newest first, of one kind (and object) or all.
    pub async fn audit(
        &self,
        p: &Principal,
        kind: &str,
        id: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<(Vec<AuditRecord>, String), Error> {
        Self::admin_reader(p)?;
        let filter = AuditFilter {
            kind: match kind {
                "" => None,
                k => Some(Kind::parse(k).ok_or_else(|| {
                    Error::invalid("kind", format!("{} is not a kind", hotline_core::error::quote(k)))
                })?),
            },
            id: (!id.is_empty())
                .then(|| validate::id("id", id).map(str::to_string))
                .transpose()?,
        };
        let size = validate::page_size(page_size)?;
        let before = match page_token {
            "" => None,
            t => Some(etag("page_token", t)?.unwrap_or_default()),
        };
        let (records, more) = self.catalog.store().catalog_audit(&filter, before, size).await?;
        Ok((records, more.map(|r| r.0.to_string()).unwrap_or_default()))
    }
}
