//! `hotline.v1.CaseService` on the wire (`app::cases`).

use tonic::{Request, Response, Status};

use crate::app::cases::{links, CaseChangeRequest, FollowUp, ListCases, OpenCase};
use crate::app::App;
use crate::auth::principal;
use crate::convert;
use crate::error::Error;
use crate::ids::AgentId;
use crate::proto;
use crate::proto::case_service_server::CaseService;
use crate::status::status;
use crate::validate;
use hotline_core::case::{CaseChange, CaseKind, CaseLink, CaseRecord, CaseStatus, CaseTarget, Judgement};
use hotline_core::catalog::Cover;

pub struct CaseApi {
    pub app: App,
}

pub fn kind_from(k: i32) -> Result<CaseKind, Error> {
    match proto::CaseKind::try_from(k) {
        Ok(proto::CaseKind::Complaint) => Ok(CaseKind::Complaint),
        Ok(proto::CaseKind::Repair) => Ok(CaseKind::Repair),
        Ok(proto::CaseKind::Inquiry) => Ok(CaseKind::Inquiry),
        _ => Err(Error::invalid("kind", "must be COMPLAINT, REPAIR or INQUIRY")),
    }
}

fn kind_to(k: CaseKind) -> proto::CaseKind {
    match k {
        CaseKind::Complaint => proto::CaseKind::Complaint,
        CaseKind::Repair => proto::CaseKind::Repair,
        CaseKind::Inquiry => proto::CaseKind::Inquiry,
    }
}

fn status_from(s: i32) -> Result<CaseStatus, Error> {
    match proto::CaseStatus::try_from(s) {
        Ok(proto::CaseStatus::Open) => Ok(CaseStatus::Open),
        Ok(proto::CaseStatus::Assigned) => Ok(CaseStatus::Assigned),
        Ok(proto::CaseStatus::InProgress) => Ok(CaseStatus::InProgress),
        Ok(proto::CaseStatus::Resolved) => Ok(CaseStatus::Resolved),
        Ok(proto::CaseStatus::Closed) => Ok(CaseStatus::Closed),
        Ok(proto::CaseStatus::Reopened) => Ok(CaseStatus::Reopened),
        _ => Err(Error::invalid("statuses", format!("{s} is not a case status"))),
    }
}

fn status_to(s: CaseStatus) -> proto::CaseStatus {
    match s {
        CaseStatus::Open => proto::CaseStatus::Open,
        CaseStatus::Assigned => proto::CaseStatus::Assigned,
        CaseStatus::InProgress => proto::CaseStatus::InProgress,
        CaseStatus::Resolved => proto::CaseStatus::Resolved,
        CaseStatus::Closed => proto::CaseStatus::Closed,
        CaseStatus::Reopened => proto::CaseStatus::Reopened,
    }
}

fn target_from(t: Option<&proto::CaseTarget>) -> Result<Option<CaseTarget>, Error> {
    let Some(t) = t else { return Ok(None) };
    match proto::CaseTargetKind::try_from(t.kind) {
        Ok(proto::CaseTargetKind::Agent) => Ok(Some(CaseTarget::Agent(AgentId::new(&t.name)))),
        Ok(proto::CaseTargetKind::Team) => Ok(Some(CaseTarget::Team(t.name.clone()))),
        Ok(proto::CaseTargetKind::Product) => Ok(Some(CaseTarget::Product(t.name.clone()))),
        _ if t.name.is_empty() => Ok(None),
        _ => Err(Error::invalid("target.kind", "must be AGENT, TEAM or PRODUCT")),
    }
}

fn target_to(t: &CaseTarget) -> proto::CaseTarget {
    let (kind, name) = match t {
        CaseTarget::Agent(a) => (proto::CaseTargetKind::Agent, a.to_string()),
        CaseTarget::Team(n) => (proto::CaseTargetKind::Team, n.clone()),
        CaseTarget::Product(n) => (proto::CaseTargetKind::Product, n.clone()),
    };
    proto::CaseTarget {
        kind: kind as i32,
        name,
    }
}

/// What a timeline entry said, for people.
fn detail(c: &CaseChange) -> String {
    match c {
        CaseChange::Opened | CaseChange::Started | CaseChange::Closed => String::new(),
        CaseChange::Judged { stands: true } => "stands".into(),
        CaseChange::Judged { stands: false } => "does not stand".into(),
        CaseChange::Assigned { team, owner, due } => format!("{team} / {owner}, due {due}"),
        CaseChange::NoteAdded { note } => note.clone(),
        CaseChange::Linked {
            link: CaseLink::Call(c),
        } => format!("call {c}"),
        CaseChange::Linked {
            link: CaseLink::Callback(b),
        } => format!("callback {b}"),
        CaseChange::Resolved { fix } => fix.clone(),
        CaseChange::DueWarned { due } => format!("due {due}"),
        CaseChange::DueBreached { due } => format!("was due {due}"),
        CaseChange::Rated {
            satisfaction,
            satisfied,
        } => format!(
            "{satisfaction} of 5: {}",
            if *satisfied { "satisfied" } else { "not satisfied" }
        ),
    }
}

/// A case on the wire, with the customer's maintenance cover as the
/// directory has it today.
pub fn case_proto(app: &App, c: &CaseRecord) -> proto::Case {
    {
        let (calls, callbacks) = links(c);
        let (verdict, answer) = match &c.judgement {
            Judgement::Pending => (proto::Verdict::Pending, String::new()),
            Judgement::Stands => (proto::Verdict::Stands, String::new()),
            Judgement::DoesNotStand { answer } => (proto::Verdict::DoesNotStand, answer.clone()),
        };
        let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
        let (cover, contract_kind, contract_expires) = match app.catalog.read().customer(c.customer.as_str())
        {
            Some(customer) => (
                match customer.cover(today) {
                    Cover::None => proto::ContractCover::None,
                    Cover::Active(_) => proto::ContractCover::Active,
                    Cover::Expired(_) => proto::ContractCover::Expired,
                },
                customer.contract.as_str().to_string(),
                customer
                    .contract_expires
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ),
            None => (proto::ContractCover::Unspecified, String::new(), String::new()),
        };
        proto::Case {
            case_id: c.id.to_string(),
            kind: kind_to(c.kind) as i32,
            customer_id: c.customer.to_string(),
            contact: c.contact.clone(),
            channel: c.channel.clone(),
            opened_at_unix_ms: convert::ms(c.opened_at),
            opened_by: c.opened_by.clone(),
            category: c.category.clone(),
            target: c.target.as_ref().map(target_to),
            wanted: c.wanted.clone(),
            summary: c.summary.clone(),
            verdict: verdict as i32,
            answer,
            priority: c.priority,
            team: c.team.clone().unwrap_or_default(),
            owner_agent_id: c.owner.as_ref().map(|o| o.to_string()).unwrap_or_default(),
            due_unix_ms: c.due.map(convert::ms).unwrap_or_default(),
            status: status_to(c.status) as i32,
            fix: c.fix.clone().unwrap_or_default(),
            satisfaction: c.satisfaction.map(u32::from).unwrap_or_default(),
            reopened: c.reopened,
            call_ids: calls.iter().map(|c| c.to_string()).collect(),
            callback_ids: callbacks.iter().map(|c| c.to_string()).collect(),
            timeline: c
                .timeline
                .iter()
                .map(|e| proto::CaseTimelineEntry {
                    at_unix_ms: convert::ms(e.at),
                    by: e.by.clone(),
                    change: e.change.name().to_string(),
                    detail: detail(&e.change),
                })
                .collect(),
            closed_at_unix_ms: c.closed_at.map(convert::ms).unwrap_or_default(),
            updated_at_unix_ms: convert::ms(c.updated_at),
            contract: cover as i32,
            contract_kind,
            contract_expires,
            due_warned: c.due_warned,
            milestones: Vec::new(),
            overdue: crate::cases::board::is_overdue(c, crate::time::Timestamp::now_wall()),
            due_outcome: match c.due_met {
                None => proto::DueOutcome::Unspecified,
                Some(true) => proto::DueOutcome::Met,
                Some(false) => proto::DueOutcome::Missed,
            } as i32,
        }
    }
}

fn tallies(t: &std::collections::BTreeMap<String, crate::cases::board::Tally>) -> Vec<proto::CaseTally> {
    t.iter()
        .map(|(name, t)| proto::CaseTally {
            name: name.clone(),
            open: t.open,
            overdue: t.overdue,
        })
        .collect()
}

/// A follow-up callback's milestones: the callback by its deadline, and
/// once the work is done, the close within the close rule.
fn milestones(
    cb: &crate::callback::CallbackRecord,
    close_within: std::time::Duration,
) -> Vec<proto::CaseMilestone> {
    let outcome = |met: Option<bool>| match met {
        None => proto::DueOutcome::Unspecified,
        Some(true) => proto::DueOutcome::Met,
        Some(false) => proto::DueOutcome::Missed,
    } as i32;
    let mut out = vec![proto::CaseMilestone {
        name: "callback".into(),
        callback_id: cb.id.to_string(),
        due_unix_ms: convert::ms(cb.deadline),
        warned: cb.warned,
        breached: cb.breached,
        outcome: outcome(cb.met),
    }];
    if let Some(due) = cb.close_deadline(close_within) {
        out.push(proto::CaseMilestone {
            name: "close".into(),
            callback_id: cb.id.to_string(),
            due_unix_ms: convert::ms(due),
            warned: cb.close_warned,
            breached: cb.close_breached,
            outcome: outcome(cb.request_closed_at.map(|t| t <= due)),
        });
    }
    out
}

impl CaseApi {
    fn case(&self, c: &CaseRecord) -> proto::Case {
        case_proto(&self.app, c)
    }

    /// One case with its follow-ups' milestones.
    async fn case_with_milestones(&self, c: &CaseRecord) -> Result<proto::Case, Error> {
        let mut out = self.case(c);
        for cb in self.app.case_callbacks(c).await? {
            out.milestones
                .extend(milestones(&cb, self.app.callback_rules.close_within));
        }
        Ok(out)
    }

    async fn reply(&self, r: Result<CaseRecord, Error>) -> Result<Response<proto::Case>, Status> {
        let case = r.map_err(status)?;
        Ok(Response::new(
            self.case_with_milestones(&case).await.map_err(status)?,
        ))
    }

    async fn change<T>(
        &self,
        req: &Request<T>,
        case_id: &str,
        change: CaseChangeRequest,
        request_id: &str,
    ) -> Result<Response<proto::Case>, Status> {
        let p = principal(req).map_err(status)?;
        self.reply(self.app.change_case(&p, case_id, change, request_id).await)
            .await
    }
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    async fn open_case(&self, req: Request<proto::OpenCaseRequest>) -> Result<Response<proto::Case>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let open = OpenCase {
            kind: kind_from(r.kind).map_err(status)?,
            call_id: r.call_id.clone(),
            customer_id: r.customer_id.clone(),
            contact: r.contact.clone(),
            channel: r.channel.clone(),
            category: r.category.clone(),
            target: target_from(r.target.as_ref()).map_err(status)?,
            wanted: r.wanted.clone(),
            summary: r.summary.clone(),
            priority: r.priority,
            request_id: r.request_id.clone(),
        };
        self.reply(self.app.open_case(&p, open).await).await
    }

    async fn get_case(&self, req: Request<proto::CaseRef>) -> Result<Response<proto::Case>, Status> {
        let p = principal(&req).map_err(status)?;
        self.reply(self.app.get_case(&p, &req.get_ref().case_id).await)
            .await
    }

    async fn list_cases(
        &self,
        req: Request<proto::ListCasesRequest>,
    ) -> Result<Response<proto::ListCasesResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        if r.statuses.len() > 6 {
            return Err(status(Error::invalid("statuses", "at most the 6 statuses")));
        }
        let statuses = r
            .statuses
            .iter()
            .map(|&s| status_from(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(status)?;
        let (cases, next) = self
            .app
            .list_cases(
                &p,
                ListCases {
                    customer_id: r.customer_id.clone(),
                    owner_agent_id: r.owner_agent_id.clone(),
                    kind: match r.kind {
                        0 => None,
                        k => Some(kind_from(k).map_err(status)?),
                    },
                    category: r.category.clone(),
                    team: r.team.clone(),
                    statuses,
                    open_only: r.open_only,
                    page_size: r.page_size,
                    page_token: r.page_token.clone(),
                },
            )
            .await
            .map_err(status)?;
        Ok(Response::new(proto::ListCasesResponse {
            cases: cases.iter().map(|c| self.case(c)).collect(),
            next_page_token: next,
        }))
    }

    async fn judge_case(
        &self,
        req: Request<proto::JudgeCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let r = req.get_ref();
        let change = CaseChangeRequest::Judge {
            stands: r.stands,
            answer: r.answer.clone(),
        };
        self.change(&req, &r.case_id, change, &r.request_id).await
    }

    async fn assign_case(
        &self,
        req: Request<proto::AssignCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let r = req.get_ref();
        let change = CaseChangeRequest::Assign {
            team: r.team.clone(),
            owner_agent_id: r.owner_agent_id.clone(),
            due: validate::optional_time("due_unix_ms", r.due_unix_ms).map_err(status)?,
        };
        self.change(&req, &r.case_id, change, &r.request_id).await
    }

    async fn start_case(
        &self,
        req: Request<proto::CaseActionRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let r = req.get_ref();
        self.change(&req, &r.case_id, CaseChangeRequest::Start, &r.request_id)
            .await
    }

    async fn add_case_note(
        &self,
        req: Request<proto::AddCaseNoteRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let r = req.get_ref();
        let change = CaseChangeRequest::Note { note: r.note.clone() };
        self.change(&req, &r.case_id, change, &r.request_id).await
    }

    async fn link_case(&self, req: Request<proto::LinkCaseRequest>) -> Result<Response<proto::Case>, Status> {
        let r = req.get_ref();
        let change = CaseChangeRequest::Link {
            call_id: r.call_id.clone(),
            callback_id: r.callback_id.clone(),
        };
        self.change(&req, &r.case_id, change, &r.request_id).await
    }

    async fn schedule_case_follow_up(
        &self,
        req: Request<proto::ScheduleCaseFollowUpRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let follow_up = FollowUp {
            queue: r.queue.clone(),
            not_before: validate::optional_time("not_before_unix_ms", r.not_before_unix_ms)
                .map_err(status)?,
            deadline: validate::optional_time("deadline_unix_ms", r.deadline_unix_ms).map_err(status)?,
            notes: r.notes.clone(),
            request_id: r.request_id.clone(),
        };
        self.reply(self.app.schedule_case_follow_up(&p, &r.case_id, follow_up).await)
            .await
    }

    async fn resolve_case(
        &self,
        req: Request<proto::ResolveCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let r = req.get_ref();
        let change = CaseChangeRequest::Resolve { fix: r.fix.clone() };
        self.change(&req, &r.case_id, change, &r.request_id).await
    }

    type WatchCasesStream = crate::api::Polled<proto::CaseBoard>;

    async fn watch_cases(
        &self,
        req: Request<proto::WatchCasesRequest>,
    ) -> Result<Response<Self::WatchCasesStream>, Status> {
        let p = principal(&req).map_err(status)?;
        let interval = validate::stream_interval(req.get_ref().interval_ms).map_err(status)?;
        let live = self.app.watch_cases(&p).map_err(status)?;
        let app = self.app.clone();
        Ok(Response::new(crate::api::polled(interval, move || {
            let b = crate::cases::board::board(live.snapshot(), crate::time::Timestamp::now_wall());
            let board = proto::CaseBoard {
                at_unix_ms: convert::ms(b.at),
                open: b.open,
                unassigned: b.unassigned,
                overdue: b.overdue,
                due_soon: b.due_soon,
                awaiting_confirmation: b.awaiting_confirmation,
                reopened: b.reopened,
                by_category: tallies(&b.by_category),
                by_target: tallies(&b.by_target),
                attention: b.attention.iter().map(|c| case_proto(&app, c)).collect(),
            };
            std::future::ready(Some(board))
        })))
    }

    async fn rate_case(&self, req: Request<proto::RateCaseRequest>) -> Result<Response<proto::Case>, Status> {
        let r = req.get_ref();
        let change = CaseChangeRequest::Rate {
            satisfaction: r.satisfaction,
        };
        self.change(&req, &r.case_id, change, &r.request_id).await
    }
}
