//! The contract every [`AuditLog`] backend must meet: tests call [`run`]
//! with a fresh, empty log of each backend.

use super::*;

fn event(actor: &str, action: AuditAction, target: &str, at: u64) -> AuditEvent {
    AuditEvent {
        id: String::new(),
        at: Timestamp(at),
        actor: actor.into(),
        role: "supervisor".into(),
        action,
        target: target.into(),
        detail: format!("{actor} on {target}"),
        node: "node-a".into(),
    }
}

pub async fn run(log: &dyn AuditLog) {
    let (none, end) = log.audit_events(&AuditQuery::default(), None, 10).await.unwrap();
    assert!(none.is_empty() && end.is_none(), "a fresh log");

    let mut ids = Vec::new();
    for i in 0..30u64 {
        let (actor, action, target) = match i % 3 {
            0 => ("sue", AuditAction::MonitorStarted, format!("call:c{i}")),
            1 => ("ada", AuditAction::CatalogChanged, format!("agent:a{i}")),
            _ => ("sue", AuditAction::RecordingPlayed, format!("call:c{i}")),
        };
        ids.push(
            log.audit_append(&event(actor, action, &target, 1_000 + i))
                .await
                .unwrap(),
        );
    }
    let sorted = {
        let mut s = ids.clone();
        s.sort_by_key(|id| parse_id(id));
        s
    };
    assert_eq!(ids, sorted, "ids order like the appends");

    // Newest first, paged without gaps or repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = log
            .audit_events(&AuditQuery::default(), cursor.as_deref(), 7)
            .await
            .unwrap();
        seen.extend(page.iter().map(|e| e.id.clone()));
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    // Filters: actor, action, a target kind, a time window.
    let q = AuditQuery {
        actor: Some("sue".into()),
        action: Some(AuditAction::RecordingPlayed),
        ..Default::default()
    };
    let (page, _) = log.audit_events(&q, None, 100).await.unwrap();
    assert_eq!(page.len(), 10);
    assert!(page
        .iter()
        .all(|e| e.actor == "sue" && e.action == AuditAction::RecordingPlayed));
    let kind = AuditQuery {
        target: Some("agent:".into()),
        from: Some(Timestamp(1_010)),
        to: Some(Timestamp(1_020)),
        ..Default::default()
    };
    let (page, _) = log.audit_events(&kind, None, 100).await.unwrap();
    let targets: Vec<&str> = page.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["agent:a19", "agent:a16", "agent:a13", "agent:a10"]);
    assert_eq!(page[0].detail, "ada on agent:a19", "events come back whole");

    retention_deletes_the_events_before_a_time(log).await;
}

/// Everything before a millisecond goes (by the event's id, the time it
/// was appended), the rest stays.
async fn retention_deletes_the_events_before_a_time(log: &dyn AuditLog) {
    let now = || Timestamp::now_wall().as_millis();
    let first = log
        .audit_append(&event("ada", AuditAction::CustomerErased, "customer:old", now()))
        .await
        .unwrap();
    let (cut, _) = parse_id(&first).expect("an id");
    // Appended until the log's clock has moved past the first one's
    // millisecond (a few appends at most).
    let last = loop {
        let id = log
            .audit_append(&event(
                "ada",
                AuditAction::CustomerExported,
                "customer:new",
                now(),
            ))
            .await
            .unwrap();
        if parse_id(&id).is_some_and(|(ms, _)| ms > cut) {
            break id;
        }
    };
    let pruned = log.audit_prune(Timestamp(cut + 1)).await.unwrap();
    assert!(pruned >= 31, "the 30 older events and the first went: {pruned}");
    let (left, _) = log
        .audit_events(&AuditQuery::default(), None, 10_000)
        .await
        .unwrap();
    assert!(
        !left.is_empty()
            && left
                .iter()
                .all(|e| parse_id(&e.id).is_some_and(|(ms, _)| ms > cut))
    );
    assert_eq!(left[0].id, last, "the newest stays");
}
