use proptest::prelude::*;

use super::*;

const T0: Timestamp = Timestamp(1_000_000);
const HOUR: u64 = 3_600_000;

fn complaint() -> CaseRecord {
    CaseRecord::open(
        NewCase {
            id: CaseId::new("case-1"),
            kind: CaseKind::Complaint,
            customer: CustomerId::new("smallco"),
            contact: "+2000".into(),
            channel: "phone".into(),
            category: "billing/late-fee".into(),
            target: Some(CaseTarget::Team("billing".into())),
            wanted: "a refund of the late fee".into(),
            summary: "charged a late fee for a payment made on time".into(),
            priority: 1,
        },
        "alice",
        T0,
    )
}

fn at(h: u64) -> Timestamp {
    Timestamp(T0.as_millis() + h * HOUR / 10)
}

fn step(case: &CaseRecord, cmd: CaseCommand, h: u64) -> CaseRecord {
    case.apply(cmd, "sue", at(h)).expect("applies").0
}

#[test]
fn a_complaint_that_stands_is_assigned_resolved_reopened_by_an_unhappy_rating_and_closed_by_a_happy_one() {
    let case = complaint();
    let case = step(
        &case,
        CaseCommand::Judge {
            stands: true,
            answer: String::new(),
        },
        1,
    );
    let due = Timestamp(T0.as_millis() + 4 * HOUR);
    let case = step(
        &case,
        CaseCommand::Assign {
            team: "billing".into(),
            owner: AgentId::new("alice"),
            due,
        },
        2,
    );
    assert_eq!((case.status, case.due), (CaseStatus::Assigned, Some(due)));
    let case = step(&case, CaseCommand::Start, 3);
    let case = step(
        &case,
        CaseCommand::Resolve {
            fix: "fee refunded".into(),
        },
        4,
    );
    assert_eq!(case.status, CaseStatus::Resolved);
    let case = step(&case, CaseCommand::Rate { satisfaction: 2 }, 5);
    assert_eq!((case.status, case.reopened), (CaseStatus::Reopened, 1));
    assert_eq!(case.owner, Some(AgentId::new("alice")), "back to its owner");
    let case = step(&case, CaseCommand::Start, 6);
    let case = step(
        &case,
        CaseCommand::Resolve {
            fix: "fee refunded and apology sent".into(),
        },
        7,
    );
    let case = step(&case, CaseCommand::Rate { satisfaction: 5 }, 8);
    assert_eq!(case.status, CaseStatus::Closed);
    assert_eq!((case.satisfaction, case.closed_at), (Some(5), Some(at(8))));
    let changes: Vec<&CaseChange> = case.timeline.iter().map(|e| &e.change).collect();
    assert!(matches!(changes[0], CaseChange::Opened));
    assert!(matches!(changes.last(), Some(CaseChange::Closed)));
    assert_eq!(
        case.apply(CaseCommand::AddNote { note: "late".into() }, "sue", at(9)),
        Err(CaseError::Closed(CaseId::new("case-1"))),
        "a closed case is archived"
    );
}

#[test]
fn a_complaint_that_does_not_stand_is_closed_with_its_answer() {
    let case = complaint();
    assert_eq!(
        case.apply(
            CaseCommand::Judge {
                stands: false,
                answer: " ".into()
            },
            "sue",
            at(1)
        ),
        Err(CaseError::NoAnswer)
    );
    let answer = "the fee was for the March invoice, paid late; here is the statement";
    let case = step(
        &case,
        CaseCommand::Judge {
            stands: false,
            answer: answer.into(),
        },
        1,
    );
    assert_eq!(case.status, CaseStatus::Closed);
    assert_eq!(
        case.judgement,
        Judgement::DoesNotStand {
            answer: answer.into()
        }
    );
}

#[test]
fn a_complaint_is_judged_before_it_is_assigned_and_bad_changes_are_refused() {
    let case = complaint();
    let assign = |due| CaseCommand::Assign {
        team: "billing".into(),
        owner: AgentId::new("alice"),
        due,
    };
    assert!(matches!(
        case.apply(assign(at(50)), "sue", at(1)),
        Err(CaseError::WrongStatus {
            action: "assigned",
            ..
        })
    ));
    let case = step(
        &case,
        CaseCommand::Judge {
            stands: true,
            answer: String::new(),
        },
        1,
    );
    assert_eq!(
        case.apply(assign(at(1)), "sue", at(2)),
        Err(CaseError::DueInThePast {
            due: at(1),
            now: at(2)
        })
    );
    assert!(matches!(
        case.apply(CaseCommand::Rate { satisfaction: 5 }, "sue", at(2)),
        Err(CaseError::WrongStatus { action: "rated", .. })
    ));
    let case = step(&case, assign(at(50)), 2);
    let case = step(&case, CaseCommand::Resolve { fix: "done".into() }, 3);
    for bad in [0, 6, 200] {
        assert_eq!(
            case.apply(CaseCommand::Rate { satisfaction: bad }, "sue", at(4)),
            Err(CaseError::BadRating(bad))
        );
    }
}

#[test]
fn a_repair_request_needs_no_judgement_and_links_are_kept_once() {
    let mut new = complaint();
    new.kind = CaseKind::Repair;
    let case = step(
        &new,
        CaseCommand::Assign {
            team: "field".into(),
            owner: AgentId::new("tom"),
            due: at(40),
        },
        1,
    );
    assert_eq!(
        (case.status, &case.judgement),
        (CaseStatus::Assigned, &Judgement::Stands)
    );
    let link = CaseLink::Call(CallId::new("c1"));
    let case = step(&case, CaseCommand::Link { link: link.clone() }, 2);
    let case = step(&case, CaseCommand::Link { link }, 3);
    assert_eq!(case.links.len(), 1);
}

fn command() -> impl Strategy<Value = CaseCommand> {
    prop_oneof![
        (any::<bool>(), prop::option::of("[a-z ]{0,8}")).prop_map(|(stands, answer)| CaseCommand::Judge {
            stands,
            answer: answer.unwrap_or_default()
        }),
        (0u64..20).prop_map(|h| CaseCommand::Assign {
            team: "billing".into(),
            owner: AgentId::new("alice"),
            due: at(h),
        }),
        Just(CaseCommand::Start),
        Just(CaseCommand::AddNote {
            note: "called".into()
        }),
        Just(CaseCommand::Resolve { fix: "fixed".into() }),
        (0u8..8).prop_map(|satisfaction| CaseCommand::Rate { satisfaction }),
        (0u64..20, any::<bool>()).prop_map(|(h, breached)| CaseCommand::MarkDue { due: at(h), breached }),
    ]
}

/// Each due time is warned and breached at most once, and only the due
/// time then set.
fn due_alerts_fire_once_per_due_time(case: &CaseRecord) -> Result<(), TestCaseError> {
    let (mut due, mut warned, mut breached) = (None, 0, 0);
    for e in &case.timeline {
        match &e.change {
            CaseChange::Assigned { due: d, .. } if due != Some(*d) => {
                (due, warned, breached) = (Some(*d), 0, 0);
            }
            CaseChange::DueWarned { due: d } => {
                prop_assert_eq!(Some(*d), due);
                warned += 1;
            }
            CaseChange::DueBreached { due: d } => {
                prop_assert_eq!(Some(*d), due);
                breached += 1;
            }
            _ => {}
        }
        prop_assert!(warned <= 1 && breached <= 1, "{:?}", case.timeline);
    }
    Ok(())
}

proptest! {
    /// Whatever is asked, in whatever order: a closed case stays closed and
    /// unchanged, a refused command changes nothing, an applied one only
    /// adds to the timeline, and `reopened` counts the unhappy ratings.
    #[test]
    fn the_flow_holds_for_any_sequence_of_commands(cmds in prop::collection::vec(command(), 0..40)) {
        let mut case = complaint();
        let mut unhappy = 0;
        for (i, cmd) in cmds.into_iter().enumerate() {
            let now = at(i as u64 + 1);
            if let Ok((next, _)) = case.apply(cmd.clone(), "sue", now) {
                {
                    prop_assert!(case.status != CaseStatus::Closed);
                    prop_assert!(next.timeline.len() > case.timeline.len());
                    prop_assert_eq!(&next.timeline[..case.timeline.len()], &case.timeline[..]);
                    if let CaseCommand::Rate { satisfaction } = cmd {
                        prop_assert!((1..=5).contains(&satisfaction));
                        if satisfaction < SATISFIED_AT {
                            unhappy += 1;
                        }
                    }
                    if next.status == CaseStatus::Closed {
                        prop_assert!(next.closed_at.is_some());
                        let answered = matches!(next.judgement, Judgement::DoesNotStand { .. });
                        let satisfied = next.satisfaction.is_some_and(|s| s >= SATISFIED_AT);
                        prop_assert!(answered || satisfied, "closed only by an answer or a happy customer");
                    }
                    if matches!(next.status, CaseStatus::Assigned | CaseStatus::InProgress | CaseStatus::Resolved) {
                        prop_assert_eq!(&next.judgement, &Judgement::Stands);
                        prop_assert!(next.owner.is_some() && next.due.is_some());
                    }
                    if let CaseCommand::MarkDue { due, .. } = cmd {
                        prop_assert_eq!(case.running_due(), Some(due));
                    }
                    due_alerts_fire_once_per_due_time(&next)?;
                    case = next;
                }
            }
            prop_assert_eq!(case.reopened, unhappy);
        }
    }
}

#[test]
fn every_change_is_named_as_it_is_serialised() {
    let changes = [
        CaseChange::Opened,
        CaseChange::Judged { stands: true },
        CaseChange::Assigned {
            team: "t".into(),
            owner: AgentId::new("a"),
            due: Timestamp(1),
        },
        CaseChange::Started,
        CaseChange::NoteAdded { note: "n".into() },
        CaseChange::Linked {
            link: CaseLink::Call(CallId::new("c")),
        },
        CaseChange::Resolved { fix: "f".into() },
        CaseChange::Rated {
            satisfaction: 5,
            satisfied: true,
        },
        CaseChange::Closed,
        CaseChange::DueWarned { due: Timestamp(1) },
        CaseChange::DueBreached { due: Timestamp(1) },
    ];
    let names: Vec<&str> = changes.iter().map(CaseChange::name).collect();
    assert_eq!(names, CaseChange::NAMES);
    for c in &changes {
        let json = serde_json::to_value(c).expect("serialises");
        assert_eq!(json["change"], c.name());
    }
}
