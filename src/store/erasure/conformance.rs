//! The erasure part of the store contract: run by `store::conformance::run`
//! for every backend.

use super::{CustomerErasure, ERASED};
use crate::acd::CallStatus;
use crate::callback::CallbackStatus;
use crate::ids::{CallId, CallbackId, CustomerId};
use crate::store::conformance::{sample_call, sample_callback, sample_contact, sample_recording};
use crate::store::Store;
use crate::time::Timestamp;

/// A customer known by id `erase-cust` and number `+15550199`: two
/// contacts under each key, an ended call with its recording, a live call,
/// a closed and a live callback. Erasing them blanks what no longer
/// changes, files contacts under the pseudonym, and leaves other
/// customers and live records alone; erasing again changes nothing.
pub async fn erasing_a_customer_blanks_their_ended_records_under_a_pseudonym(store: &dyn Store) {
    let (id, number) = ("erase-cust", "+15550199");
    for (call, key, ended) in [("e1", id, 1_000), ("e2", number, 2_000), ("e3", id, 3_000)] {
        let mut c = sample_contact(call, key, "ann", ended, None);
        c.notes = Some("said their account number out loud".into());
        store.append_contact(&c).await.unwrap();
    }
    store
        .append_contact(&sample_contact("other", "someone-else", "ann", 1_500, None))
        .await
        .unwrap();
    let mut ended = sample_call("e1", "q", 900);
    ended.status = CallStatus::Ended;
    ended.ani = number.into();
    ended.customer = Some(CustomerId::new(id));
    store.put_call(&ended).await.unwrap();
    let mut live = sample_call("e-live", "q", 950);
    live.ani = number.into();
    store.put_call(&live).await.unwrap();
    let mut rec = sample_recording("e1", "ann", "q", number, 1_000);
    rec.live = false;
    rec.customer = Some(CustomerId::new(id));
    store.put_recording(&rec).await.unwrap();
    let mut closed = sample_callback("ecb-closed", "q", 500, CallbackStatus::Reached);
    closed.details.number = number.into();
    closed.details.customer_key = id.into();
    closed.details.notes = Some("call after six".into());
    closed.request_closed_at = Some(Timestamp(600));
    store.put_callback(&closed).await.unwrap();
    let mut open = sample_callback("ecb-live", "q", 700, CallbackStatus::Due);
    open.details.number = number.into();
    store.put_callback(&open).await.unwrap();

    let erasure = CustomerErasure {
        keys: vec![id.into(), number.into()],
        pseudonym: "erased-0001".into(),
        calls: vec![CallId::new("e1"), CallId::new("e-live")],
        callbacks: vec![CallbackId::new("ecb-closed"), CallbackId::new("ecb-live")],
        at: Timestamp(9_000),
    };
    let done = store.erase_customer(&erasure).await.unwrap();
    assert_eq!(
        (done.contacts, done.calls, done.callbacks, done.recordings),
        (3, 1, 1, 1),
        "three contacts, the ended call, the closed callback and the recording"
    );

    for key in [id, number] {
        assert!(
            store.contacts_of(key, 10).await.unwrap().is_empty(),
            "nothing is filed under {key} any more"
        );
    }
    let moved = store.contacts_of("erased-0001", 10).await.unwrap();
    let calls: Vec<&str> = moved.iter().map(|c| c.call.as_str()).collect();
    assert_eq!(calls, ["e3", "e2", "e1"], "one customer still, newest first");
    assert!(moved.iter().all(|c| c.notes.is_none()), "notes are blanked");
    let logged: Vec<_> = store
        .contacts_between(Timestamp(0), Timestamp(10_000), 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| ["e1", "e2", "e3"].contains(&c.call.as_str()))
        .collect();
    assert_eq!(logged.len(), 3, "the contact log keeps each contact once");
    assert!(logged
        .iter()
        .all(|c| c.customer_key == "erased-0001" && c.notes.is_none()));
    assert_eq!(
        store.contacts_of("someone-else", 10).await.unwrap().len(),
        1,
        "other customers are untouched"
    );

    let call = store.get_call(&CallId::new("e1")).await.unwrap().unwrap();
    assert_eq!((call.ani.as_str(), call.customer.clone()), (ERASED, None));
    assert_eq!(call.queue.as_str(), "q", "what reports count is kept");
    let live = store.get_call(&CallId::new("e-live")).await.unwrap().unwrap();
    assert_eq!(live.ani, number, "a live call is not rewritten under the engine");
    let rec = store.get_recording(&CallId::new("e1")).await.unwrap().unwrap();
    assert_eq!((rec.ani.as_str(), rec.path.as_str()), (ERASED, ""));
    assert_eq!(rec.erased_at, Some(Timestamp(9_000)));
    assert_eq!(
        rec.duration_ms,
        sample_recording("e1", "ann", "q", number, 1_000).duration_ms
    );
    let cb = store
        .get_callback(&CallbackId::new("ecb-closed"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cb.details.number, ERASED);
    assert_eq!(cb.details.customer_key, "erased-0001");
    assert_eq!(cb.details.notes, None);
    let open = store
        .get_callback(&CallbackId::new("ecb-live"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        open.details.number, number,
        "a live callback is left to the engine"
    );

    let again = store.erase_customer(&erasure).await.unwrap();
    assert_eq!(again.contacts, 0, "a second run finds nothing under the old keys");
    assert_eq!(
        store.contacts_of("erased-0001", 10).await.unwrap().len(),
        3,
        "and moves nothing twice"
    );
}
