//! The catalog as a document, for backups, moves between deployments and
//! bulk edits: every object as JSON Lines, or the customer directory as
//! CSV. An import is checked whole before anything is written: each line
//! is read, bounded and checked against the catalog as the import would
//! leave it, so a bad line fails the import naming its line and field and
//! nothing is stored.

use hotline_core::catalog::{AgentProfile, Catalog, Contract, Customer, Kind, Object, Revision};
use hotline_core::for_kind;
use serde::{Deserialize, Serialize};
use tracing::info;

use super::App;
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::store::catalog::{CatalogWrite, Expect};
use crate::time::Timestamp;
use crate::validate::Bounded;

/// The largest document an import takes (100,000 customers are ~15 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// Objects written to the store per atomic write.
const WRITE_CHUNK: usize = 2_000;

/// The CSV columns of the customer directory, in order.
pub const CUSTOMER_COLUMNS: [&str; 7] = [
    "id",
    "name",
    "tier",
    "numbers",
    "account_manager",
    "contract",
    "contract_expires",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    CustomersCsv,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub objects: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// One line of a JSON Lines document.
#[derive(Serialize, Deserialize)]
struct Line {
    kind: Kind,
    object: serde_json::Value,
}

/// An object read from a document: its kind, id and stored JSON, and
/// whether the catalog held it, and as it is.
struct Read {
    line: usize,
    kind: Kind,
    id: String,
    body: String,
    held: Option<bool>,
}

fn at_line(line: usize, e: Error) -> Error {
    match e {
        Error::InvalidArgument { field, reason } => Error::invalid(format!("line {line}: {field}"), reason),
        Error::FailedPrecondition(m) => Error::invalid(format!("line {line}"), m),
        other => other,
    }
}

/// Reads `value` as an object of kind `T`, bounds it and checks it against
/// `working` (the catalog with the lines before it applied), then applies
/// it there.
fn admit<T: Object + Bounded>(
    working: &mut Catalog,
    line: usize,
    value: T,
    keep_password: bool,
) -> Result<Read, Error> {
    let mut value = value;
    if keep_password {
        // An exported agent carries no password: it keeps the stored one.
        keep_stored_password(working, &mut value);
    }
    value.bounded().map_err(|e| at_line(line, e))?;
    working.check_put(&value).map_err(|e| at_line(line, e))?;
    let body = serde_json::to_string(&value).map_err(|e| Error::Internal(format!("encoding: {e}")))?;
    let id = value.id().to_string();
    let held = working.get::<T>(&id).map(|v| v.value == value);
    let next = Revision(working.revision().0 + 1);
    working.apply(&id, next, Some(value));
    Ok(Read {
        line,
        kind: T::KIND,
        id,
        body,
        held,
    })
}

/// For agents: an empty SIP password is the stored one.
fn keep_stored_password<T: Object>(working: &Catalog, value: &mut T) {
    if T::KIND != Kind::Agent {
        return;
    }
    let Ok(serde_json::Value::Object(mut v)) = serde_json::to_value(&*value) else {
        return;
    };
    if v.get("sip_password")
        .and_then(|p| p.as_str())
        .is_some_and(|p| !p.is_empty())
    {
        return;
    }
    let id = value.id().to_string();
    if let Some(stored) = working
        .get::<AgentProfile>(&id)
        .filter(|a| !a.value.sip_password.is_empty())
    {
        v.insert("sip_password".into(), stored.value.sip_password.clone().into());
        if let Ok(with) = serde_json::from_value(serde_json::Value::Object(v)) {
            *value = with;
        }
    }
}

fn kind_rank(k: Kind) -> usize {
    Kind::ALL.iter().position(|x| *x == k).unwrap_or(usize::MAX)
}

fn json_lines(text: &str, working: &mut Catalog) -> Result<Vec<Read>, Error> {
    // Kinds in dependency order, so a line may name what a later line of
    // an earlier kind creates.
    let mut lines: Vec<(usize, Line)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line =
            serde_json::from_str(raw).map_err(|e| Error::invalid(format!("line {n}"), e.to_string()))?;
        lines.push((n, line));
    }
    lines.sort_by_key(|(n, l)| (kind_rank(l.kind), *n));
    let mut out = Vec::with_capacity(lines.len());
    for (n, line) in lines {
        let read = for_kind!(line.kind, T => {
            let value: T = serde_json::from_value(line.object)
                .map_err(|e| Error::invalid(format!("line {n}"), e.to_string()))?;
            admit(working, n, value, true)?
        });
        out.push(read);
    }
    Ok(out)
}

fn customers_csv(text: &str, working: &mut Catalog) -> Result<Vec<Read>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| Error::invalid("line 1", e.to_string()))?
        .clone();
    if headers.iter().map(str::trim).collect::<Vec<_>>() != CUSTOMER_COLUMNS {
        return Err(Error::invalid(
            "line 1",
            format!("the header must be {}", CUSTOMER_COLUMNS.join(",")),
        ));
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            Error::invalid(format!("line {line}"), e.to_string())
        })?;
        let n = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let bad = |name: &str, why: String| Error::invalid(format!("line {n}: {name}"), why);
        let tier = match field(2) {
            "" => hotline_core::acd::Tier::Regular,
            t => serde_json::from_value(serde_json::Value::String(t.into())).map_err(|_| {
                bad(
                    "tier",
                    format!(
                        "{} is not key-account, potential, regular or one-off",
                        crate::error::quote(t)
                    ),
                )
            })?,
        };
        let contract = match field(5) {
            "" => Contract::None,
            c => serde_json::from_value(serde_json::Value::String(c.into())).map_err(|_| {
                bad(
                    "contract",
                    format!("{} is not none, free-period or contract", crate::error::quote(c)),
                )
            })?,
        };
        let contract_expires = match field(6) {
            "" => None,
            d => Some(d.parse().map_err(|_| {
                bad(
                    "contract_expires",
                    format!("{} is not a date YYYY-MM-DD", crate::error::quote(d)),
                )
            })?),
        };
        let customer = Customer {
            id: field(0).to_string(),
            name: field(1).to_string(),
            tier,
            numbers: field(3)
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            account_manager: field(4).to_string(),
            contract,
            contract_expires,
        };
        out.push(admit(working, n, customer, false)?);
    }
    Ok(out)
}

/// Writes CSV of the directory's customers.
fn customers_to_csv(catalog: &Catalog) -> Result<Vec<u8>, Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    w.write_record(CUSTOMER_COLUMNS).map_err(failed)?;
    for c in catalog.list::<Customer>() {
        let c = &c.value;
        w.write_record([
            c.id.as_str(),
            c.name.as_str(),
            c.tier.as_str(),
            &c.numbers.join(";"),
            c.account_manager.as_str(),
            c.contract.as_str(),
            &c.contract_expires.map(|d| d.to_string()).unwrap_or_default(),
        ])
        .map_err(failed)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("writing CSV: {e}")))
}

fn to_json_lines(catalog: &Catalog) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for kind in Kind::ALL {
        for_kind!(kind, T => {
            for o in catalog.list::<T>() {
                let mut object = serde_json::to_value(&o.value).map_err(|e| Error::Internal(format!("encoding: {e}")))?;
                if let Some(p) = object.get_mut("sip_password") {
                    *p = serde_json::Value::String(String::new());
                }
                serde_json::to_writer(&mut out, &Line { kind, object })
                    .map_err(|e| Error::Internal(format!("encoding: {e}")))?;
                out.push(b'\n');
            }
        });
    }
    Ok(out)
}

impl App {
    /// The catalog as this node holds it, as a document.
    pub fn export_catalog(&self, p: &Principal, format: Format) -> Result<Vec<u8>, Error> {
        p.require(&[Role::Admin, Role::Supervisor])?;
        let catalog = self.catalog.read();
        match format {
            Format::JsonLines => to_json_lines(&catalog),
            Format::CustomersCsv => customers_to_csv(&catalog),
        }
    }

    /// Creates or replaces every object of `document` (see the module).
    pub async fn import_catalog(
        &self,
        p: &Principal,
        format: Format,
        document: &[u8],
    ) -> Result<ImportSummary, Error> {
        p.require(&[Role::Admin])?;
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::invalid(
                "data",
                format!("at most {MAX_DOCUMENT_BYTES} bytes"),
            ));
        }
        let text =
            std::str::from_utf8(document).map_err(|e| Error::invalid("data", format!("not UTF-8: {e}")))?;
        let mut working = self.catalog.read().clone();
        let reads = match format {
            Format::JsonLines => json_lines(text, &mut working)?,
            Format::CustomersCsv => customers_csv(text, &mut working)?,
        };
        let mut seen = std::collections::HashMap::new();
        let mut summary = ImportSummary {
            objects: reads.len(),
            ..ImportSummary::default()
        };
        let mut writes = Vec::with_capacity(reads.len());
        for r in &reads {
            if let Some(first) = seen.insert((r.kind, r.id.clone()), r.line) {
                return Err(Error::invalid(
                    format!("line {}", r.line),
                    format!(
                        "{} {} is also on line {first}",
                        r.kind,
                        crate::error::quote(&r.id)
                    ),
                ));
            }
            match r.held {
                None => summary.created += 1,
                Some(true) => {
                    summary.unchanged += 1;
                    continue;
                }
                Some(false) => summary.updated += 1,
            }
            writes.push(CatalogWrite {
                kind: r.kind,
                id: r.id.clone(),
                expect: Expect::Any,
                body: Some(r.body.clone()),
            });
        }
        let mut written = 0;
        for chunk in writes.chunks(WRITE_CHUNK) {
            if let Err(e) = self
                .catalog
                .store()
                .catalog_write(&p.sub, Timestamp::now_wall(), chunk)
                .await
            {
                return Err(Error::Unavailable(format!(
                    "{written} of {} changed objects were written before the store refused ({e}); run the import again to finish (what is written is unchanged by a rerun)",
                    writes.len()
                )));
            }
            written += chunk.len();
        }
        self.catalog.refresh().await?;
        info!(actor = %p.sub, objects = summary.objects, created = summary.created, updated = summary.updated, "catalog imported");
        self.audit_after(
            p,
            crate::store::audit::AuditAction::CatalogImported,
            "catalog:".into(),
            format!(
                "{} objects: {} created, {} updated, {} unchanged",
                summary.objects, summary.created, summary.updated, summary.unchanged
            ),
        )
        .await;
        Ok(summary)
    }
}
