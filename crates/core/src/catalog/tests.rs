use super::*;
use crate::acd::{Requirement, RouterConfig, SkillLevel, Tier};
use crate::ids::{QueueName, SkillName};

fn put<O: Object>(c: &mut Catalog, value: O) {
    c.check_put(&value).expect("a valid object");
    let next = Revision(c.revision().0 + 1);
    let id = value.id().to_string();
    c.apply(&id, next, Some(value));
}

fn skill(name: &str) -> Skill {
    Skill {
        name: name.into(),
        description: String::new(),
    }
}

fn agent(id: &str, skills: &[(&str, u8)]) -> AgentProfile {
    AgentProfile {
        id: id.into(),
        skills: skills
            .iter()
            .map(|(s, p)| SkillLevel {
                skill: SkillName::new(s),
                proficiency: *p,
            })
            .collect(),
        ..AgentProfile::default()
    }
}

fn customer(id: &str, numbers: &[&str]) -> Customer {
    Customer {
        id: id.into(),
        numbers: numbers.iter().map(|n| n.to_string()).collect(),
        ..Customer::default()
    }
}

fn center() -> Catalog {
    let mut c = Catalog::default();
    put(&mut c, skill("billing"));
    put(&mut c, agent("alice", &[("billing", 5)]));
    put(&mut c, QueueSettings::named("support").with_skill("billing", 3));
    put(
        &mut c,
        EntryPoint {
            number: "100".into(),
            queue: "support".into(),
            description: String::new(),
        },
    );
    c
}

fn field_of(e: Error) -> String {
    match e {
        Error::InvalidArgument { field, .. } => field,
        other => panic!("not an invalid argument: {other:?}"),
    }
}

#[test]
fn an_agent_may_have_only_catalog_skills_within_range() {
    let c = center();
    assert_eq!(
        field_of(c.check_put(&agent("bob", &[("french", 5)])).unwrap_err()),
        "skills"
    );
    assert_eq!(
        field_of(c.check_put(&agent("bob", &[("billing", 11)])).unwrap_err()),
        "skills"
    );
    assert_eq!(
        field_of(c.check_put(&agent("bob", &[("billing", 0)])).unwrap_err()),
        "skills"
    );
    assert_eq!(
        field_of(
            c.check_put(&agent("bob", &[("billing", 2), ("billing", 3)]))
                .unwrap_err()
        ),
        "skills"
    );
    c.check_put(&agent("bob", &[("billing", 10)])).expect("in range");
}

#[test]
fn a_queue_is_checked_as_the_router_would() {
    let c = center();
    let unknown = QueueSettings::named("sales").with_skill("french", 3);
    assert_eq!(field_of(c.check_put(&unknown).unwrap_err()), "required_skills");
    let mut no_ring = QueueSettings::named("sales");
    no_ring.ring_timeout_secs = 0;
    assert_eq!(field_of(c.check_put(&no_ring).unwrap_err()), "ring_timeout_secs");
    let mut to_self = QueueSettings::named("sales");
    to_self.overflow_queue = Some(QueueName::new("sales"));
    assert_eq!(field_of(c.check_put(&to_self).unwrap_err()), "overflow_queue");
    let mut to_nowhere = QueueSettings::named("sales");
    to_nowhere.overflow_queue = Some(QueueName::new("nowhere"));
    assert_eq!(field_of(c.check_put(&to_nowhere).unwrap_err()), "overflow_queue");
}

#[test]
fn a_number_belongs_to_one_customer() {
    let mut c = center();
    put(&mut c, customer("acme", &["+1555"]));
    let clash = customer("globex", &["+1555"]);
    assert_eq!(field_of(c.check_put(&clash).unwrap_err()), "numbers");
    // Acme may keep its own number through an update.
    c.check_put(&customer("acme", &["+1555", "+1556"]))
        .expect("own number");
    assert_eq!(c.customer_by_number("+1555").map(|c| c.id.as_str()), Some("acme"));
}

#[test]
fn a_customer_moving_numbers_is_found_by_the_new_ones_only() {
    let mut c = center();
    put(&mut c, customer("acme", &["+1555"]));
    put(&mut c, customer("acme", &["+1666"]));
    assert!(c.customer_by_number("+1555").is_none());
    assert_eq!(c.customer_by_number("+1666").map(|c| c.id.as_str()), Some("acme"));
    let next = Revision(c.revision().0 + 1);
    c.apply::<Customer>("acme", next, None);
    assert!(c.customer_by_number("+1666").is_none());
}

#[test]
fn an_account_manager_is_a_known_agent_who_cannot_then_be_deleted() {
    let mut c = center();
    let mut key = customer("acme", &[]);
    key.tier = Tier::KeyAccount;
    key.account_manager = "nobody".into();
    assert_eq!(field_of(c.check_put(&key).unwrap_err()), "account_manager");
    key.account_manager = "alice".into();
    put(&mut c, key);
    assert!(matches!(
        c.check_delete::<AgentProfile>("alice"),
        Err(Error::FailedPrecondition(m)) if m.contains("customer acme")
    ));
}

#[test]
fn what_is_still_named_cannot_be_deleted() {
    let c = center();
    assert!(matches!(
        c.check_delete::<Skill>("billing"),
        Err(Error::FailedPrecondition(m)) if m.contains("agent alice")
    ));
    assert!(matches!(
        c.check_delete::<QueueSettings>("support"),
        Err(Error::FailedPrecondition(m)) if m.contains("entry point 100")
    ));
    assert!(matches!(
        c.check_delete::<Skill>("french"),
        Err(Error::NotFound { .. })
    ));
    c.check_delete::<EntryPoint>("100")
        .expect("nothing names an entry point");
}

#[test]
fn an_old_or_repeated_change_is_ignored() {
    let mut c = center();
    c.apply("carol", Revision(10), Some(agent("carol", &[("billing", 4)])));
    c.apply("carol", Revision(9), Some(agent("carol", &[("billing", 1)])));
    c.apply("carol", Revision(10), Some(agent("carol", &[("billing", 2)])));
    assert_eq!(c.agent("carol").map(|a| a.skills[0].proficiency), Some(4));
    assert_eq!(c.revision(), Revision(10));
}

#[test]
fn the_router_configuration_is_the_catalogs_skills_and_queues() {
    let c = center();
    let base = RouterConfig {
        presence_grace: Some(std::time::Duration::from_secs(7)),
        ..RouterConfig::default()
    };
    let rc = c.router_config(&base, |_| None);
    assert_eq!(rc.skills, vec![SkillName::new("billing")]);
    assert_eq!(rc.queues.len(), 1);
    assert_eq!(
        rc.queues[0].required_skills,
        vec![Requirement {
            skill: SkillName::new("billing"),
            min_proficiency: 3,
            optional: false
        }]
    );
    assert_eq!(rc.presence_grace, base.presence_grace);
    assert_eq!(c.queue_for("100"), Some(QueueName::new("support")));
}

#[test]
fn cover_holds_through_its_last_day() {
    let mut cu = customer("acme", &[]);
    let day = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
    assert!(!cu.covered_on(day("2026-01-01")), "no contract");
    cu.contract = Contract::Contract;
    cu.contract_expires = Some(day("2026-03-31"));
    assert!(cu.covered_on(day("2026-03-31")));
    assert!(!cu.covered_on(day("2026-04-01")));
}

fn weekdays_9_to_18(id: &str) -> HoursCalendar {
    HoursCalendar {
        id: id.into(),
        time_zone: "Europe/Berlin".into(),
        open: vec![OpenSpan {
            days: ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec(),
            from: "09:00".into(),
            to: "18:00".into(),
        }],
        ..HoursCalendar::default()
    }
}

#[test]
fn a_queue_keeps_known_hours_and_those_hours_cannot_be_deleted_under_it() {
    let mut c = center();
    let mut q = QueueSettings::named("sales");
    q.hours = "office".into();
    assert_eq!(
        field_of(c.check_put(&q).unwrap_err()),
        "hours",
        "unknown calendar"
    );
    put(&mut c, weekdays_9_to_18("office"));
    c.check_put(&q).expect("known hours");
    q.when_closed = crate::acd::WhenClosed::Overflow;
    assert_eq!(
        field_of(c.check_put(&q).unwrap_err()),
        "when_closed",
        "overflow needs a queue"
    );
    q.when_closed = crate::acd::WhenClosed::Callback;
    put(&mut c, q);
    assert!(matches!(
        c.check_delete::<HoursCalendar>("office"),
        Err(Error::FailedPrecondition(m)) if m.contains("queue sales")
    ));
    let rc = c.router_config(&RouterConfig::default(), |name| {
        (name == "Europe/Berlin").then_some(jiff::tz::TimeZone::UTC)
    });
    assert!(
        rc.hours.contains_key("office"),
        "resolved with the zone looked up"
    );
    let unknown_zone = c.router_config(&RouterConfig::default(), |_| None);
    assert!(
        unknown_zone.hours.is_empty(),
        "a zone not found leaves the calendar out"
    );
}

#[test]
fn impossible_or_overlapping_hours_name_the_field() {
    let c = center();
    let mut cal = weekdays_9_to_18("office");
    cal.open[0].from = "25:00".into();
    assert_eq!(field_of(c.check_put(&cal).unwrap_err()), "open[0].from");
    let mut cal = weekdays_9_to_18("office");
    cal.open[0].to = "08:00".into();
    assert_eq!(field_of(c.check_put(&cal).unwrap_err()), "open");
    let mut cal = weekdays_9_to_18("office");
    cal.open.push(OpenSpan {
        days: vec!["mon".into()],
        from: "17:00".into(),
        to: "20:00".into(),
    });
    assert_eq!(
        field_of(c.check_put(&cal).unwrap_err()),
        "open",
        "overlaps Monday 09-18"
    );
    let mut cal = weekdays_9_to_18("office");
    cal.open[0].days.push("funday".into());
    assert_eq!(field_of(c.check_put(&cal).unwrap_err()), "open[0].days");
}

#[test]
fn a_customers_cover_holds_through_its_last_day_and_is_expired_after() {
    use super::{Contract, Cover, Customer};
    let day = |s: &str| s.parse::<jiff::civil::Date>().expect("date");
    let mut c = Customer {
        contract: Contract::Contract,
        contract_expires: Some(day("2026-11-30")),
        ..Default::default()
    };
    assert_eq!(c.cover(day("2026-11-30")), Cover::Active(Contract::Contract));
    assert_eq!(c.cover(day("2026-12-01")), Cover::Expired(Contract::Contract));
    c.contract_expires = None;
    assert_eq!(c.cover(day("2030-01-01")), Cover::Active(Contract::Contract));
    c.contract = Contract::None;
    assert_eq!(c.cover(day("2026-11-30")), Cover::None);
}
