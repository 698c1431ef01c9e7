//! Cases through the public API, for the tests that work them: the
//! requests they keep making, with the defaults the tests share.

use hotline::client::Clients;
use hotline::proto;
use tonic::Status;

/// A complaint of `customer` about a late fee, against the billing team.
pub fn complaint(customer: &str) -> proto::OpenCaseRequest {
    proto::OpenCaseRequest {
        kind: proto::CaseKind::Complaint as i32,
        customer_id: customer.into(),
        category: "billing/late-fee".into(),
        target: Some(proto::CaseTarget {
            kind: proto::CaseTargetKind::Team as i32,
            name: "billing".into(),
        }),
        wanted: "a refund of the late fee".into(),
        summary: "charged a late fee for a payment made on time".into(),
        ..Default::default()
    }
}

/// A repair request of `customer`: their boiler gives no hot water.
pub fn repair(customer: &str) -> proto::OpenCaseRequest {
    proto::OpenCaseRequest {
        kind: proto::CaseKind::Repair as i32,
        customer_id: customer.into(),
        category: "repairs/boiler".into(),
        summary: "no hot water".into(),
        ..Default::default()
    }
}

pub async fn open(c: &mut Clients, r: proto::OpenCaseRequest) -> proto::Case {
    c.case.open_case(r).await.expect("opened").into_inner()
}

pub async fn get(c: &mut Clients, id: &str) -> proto::Case {
    c.case
        .get_case(proto::CaseRef { case_id: id.into() })
        .await
        .expect("the case")
        .into_inner()
}

/// Judges the case: one that does not stand is answered with `answer`.
pub async fn judge(c: &mut Clients, id: &str, stands: bool, answer: &str) -> Result<proto::Case, Status> {
    c.case
        .judge_case(proto::JudgeCaseRequest {
            case_id: id.into(),
            stands,
            answer: answer.into(),
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Hands the case to `owner` of `team`, due at `due_unix_ms` (0: the
/// category's or kind's target).
pub async fn assign(
    c: &mut Clients,
    id: &str,
    team: &str,
    owner: &str,
    due_unix_ms: i64,
) -> Result<proto::Case, Status> {
    c.case
        .assign_case(proto::AssignCaseRequest {
            case_id: id.into(),
            team: team.into(),
            owner_agent_id: owner.into(),
            due_unix_ms,
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

pub async fn resolve(c: &mut Clients, id: &str, fix: &str) -> proto::Case {
    c.case
        .resolve_case(proto::ResolveCaseRequest {
            case_id: id.into(),
            fix: fix.into(),
            request_id: String::new(),
        })
        .await
        .expect("resolved")
        .into_inner()
}

/// The customer's rating, taken by whoever `c` is.
pub async fn rate(
    c: &mut Clients,
    id: &str,
    satisfaction: u32,
    request_id: &str,
) -> Result<proto::Case, Status> {
    c.case
        .rate_case(proto::RateCaseRequest {
            case_id: id.into(),
            satisfaction,
            request_id: request_id.into(),
        })
        .await
        .map(|r| r.into_inner())
}
