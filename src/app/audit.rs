//! The audit trail from the application's side: what every sensitive
//! operation writes to it, and the paged, filtered listing supervisors and
//! admins read (and export).
//!
//! Two rules, by what the action is:
//! - **Reading sensitive data** (listening in, playing or downloading a
//!   recording, exporting a customer) is recorded *before* the data is
//!   given, and refused (UNAVAILABLE) when the trail cannot be written: no
//!   one reads unrecorded.
//! - **Changes** (forced states, grades, callback changes, admin changes,
//!   revocations, erasures) are recorded once made, since a change that
//!   did not happen must not appear. A trail write that fails then is
//!   warned and counted (`hotline_audit_writes_failed_total`); the change
//!   itself is in its own record (with its actor) in the store.

use tracing::warn;

use super::App;
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::store::audit::{AuditAction, AuditEvent, AuditQuery};
use crate::time::Timestamp;
use crate::validate;

/// A listing request, as the edges hand it over.
#[derive(Clone, Debug, Default)]
pub struct ListAudit {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub from_unix_ms: i64,
    pub to_unix_ms: i64,
    pub page_size: u32,
    pub page_token: String,
}

impl App {
    fn audit_event(&self, p: &Principal, action: AuditAction, target: String, detail: String) -> AuditEvent {
        AuditEvent {
            id: String::new(),
            at: Timestamp::now_wall(),
            actor: p.sub.clone(),
            role: p.role.as_str().to_string(),
            action,
            target,
            detail,
            node: self.node.clone().unwrap_or_else(|| "local".into()),
        }
    }

    /// Records a read of sensitive data before it happens; refused if the
    /// trail cannot be written.
    pub(crate) async fn audit_before(
        &self,
        p: &Principal,
        action: AuditAction,
        target: String,
        detail: String,
    ) -> Result<(), Error> {
        let event = self.audit_event(p, action, target, detail);
        self.audit.audit_append(&event).await.map(|_| ()).map_err(|e| {
            crate::metrics::events::audit_write_failed();
            warn!(action = action.as_str(), target = %event.target, error = %e, "refused: the audit trail cannot be written");
            Error::Unavailable(format!("the audit trail cannot be written, so this is not done: {e}"))
        })
    }

    /// Records a change once made; a trail that cannot be written is
    /// warned and counted.
    pub(crate) async fn audit_after(
        &self,
        p: &Principal,
        action: AuditAction,
        target: String,
        detail: String,
    ) {
        let event = self.audit_event(p, action, target, detail);
        if let Err(e) = self.audit.audit_append(&event).await {
            crate::metrics::events::audit_write_failed();
            warn!(action = action.as_str(), target = %event.target, actor = %event.actor, error = %e, "done, but the audit trail could not be written");
        }
    }

    /// What the authenticator calls on each new sign-in: a `signed-in`
    /// event, written in the background (a request never waits on it; a
    /// write that fails is warned and counted).
    pub fn sign_in_recorder(&self) -> crate::auth::SignInHook {
        let app = self.clone();
        std::sync::Arc::new(move |v: &crate::auth::Verified| {
            let app = app.clone();
            let p = v.principal.clone();
            let detail = format!("signed in at {} ms", v.signed_in_at.as_millis());
            tokio::spawn(async move {
                let target = format!("subject:{}", p.sub);
                app.audit_after(&p, AuditAction::SignedIn, target, detail).await;
            });
        })
    }

    /// A page of the trail, newest first, filtered; and the next page's
    /// token ("" at the end).
    pub async fn audit_events(
        &self,
        p: &Principal,
        r: ListAudit,
    ) -> Result<(Vec<AuditEvent>, String), Error> {
        p.require(&[Role::Supervisor])?;
        let size = validate::page_size(r.page_size)?;
        let query = AuditQuery {
            actor: (!r.actor.is_empty())
                .then(|| validate::id("actor", &r.actor).map(str::to_string))
                .transpose()?,
            action: match r.action.as_str() {
                "" => None,
                a => Some(AuditAction::parse(a).ok_or_else(|| {
                    Error::invalid(
                        "action",
                        format!(
                            "unknown action {}; one of {}",
                            crate::error::quote(a),
                            AuditAction::ALL.map(|a| a.as_str()).join(", ")
                        ),
                    )
                })?),
            },
            target: (!r.target.is_empty())
                .then(|| validate::label("target", &r.target, validate::MAX_LABEL_LEN).map(str::to_string))
                .transpose()?,
            from: validate::optional_time("from_unix_ms", r.from_unix_ms)?,
            to: validate::optional_time("to_unix_ms", r.to_unix_ms)?,
        };
        let before = match r.page_token.as_str() {
            "" => None,
            t if crate::store::audit::parse_id(t).is_some() => Some(t),
            t => {
                return Err(Error::invalid(
                    "page_token",
                    format!("not a token this listing gave ({})", crate::error::quote(t)),
                ))
            }
        };
        let (events, next) = self.audit.audit_events(&query, before, size).await?;
        Ok((events, next.unwrap_or_default()))
    }
}
