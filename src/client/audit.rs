//! `hotline admin audit`: the audit trail, filtered, as JSON Lines (one
//! event per line, newest first), paged through to its end.

use crate::client::Clients;
use crate::error::Error;
use crate::proto;

/// Every event `filter` matches (its page fields are set here), as JSON
/// Lines; how many.
pub async fn export(
    c: &mut Clients,
    filter: proto::ListAuditEventsRequest,
) -> Result<(Vec<u8>, usize), Error> {
    let mut out = Vec::new();
    let mut count = 0;
    let mut req = proto::ListAuditEventsRequest {
        page_size: 500,
        page_token: String::new(),
        ..filter
    };
    loop {
        let page = c
            .audit
            .list_audit_events(req.clone())
            .await
            .map_err(|s| Error::Unavailable(format!("ListAuditEvents: {}", s.message())))?
            .into_inner();
        for e in &page.events {
            let line = serde_json::json!({
                "id": e.id,
                "at_unix_ms": e.at_unix_ms,
                "actor": e.actor,
                "role": e.role,
                "action": e.action,
                "target": e.target,
                "detail": e.detail,
                "node": e.node,
            });
            out.extend_from_slice(line.to_string().as_bytes());
            out.push(b'\n');
            count += 1;
        }
        if page.next_page_token.is_empty() {
            return Ok((out, count));
        }
        req.page_token = page.next_page_token;
    }
}
