//! Watching the floor, for supervisors: agents, calls and queues as they
//! are, why a call went where it did, listening in (listen, whisper,
//! barge; every session audited), recordings, and grading calls.

use super::App;
use crate::acd::{AgentRecord, AgentState, CallRecord, CallStatus, Disposition, QueueView};
use crate::auth::{Principal, Role};
use crate::engine::Command;
use crate::error::Error;
use crate::ids::{AgentId, CallId, QueueName};
use crate::media::archive::ByteStream;
use crate::media::plane::MonitorSession;
use crate::quality::{GradeRecord, Letter, Scorecard};
use crate::recording::{MonitorMode, MonitorSessionRecord, RecordingFilter, RecordingRecord};
use crate::store::CallFilter;
use crate::time::Timestamp;
use crate::validate;

/// A ListCalls or ListRecordings position.
fn call_cursor(token: &str) -> Result<Option<(Timestamp, CallId)>, Error> {
    Ok(validate::time_cursor(token)?.map(|(t, id)| (t, CallId::new(id))))
}

/// An optional id filter: none when empty.
fn optional_id(field: &str, v: &str) -> Result<Option<String>, Error> {
    if v.is_empty() {
        Ok(None)
    } else {
        validate::id(field, v).map(|v| Some(v.to_string()))
    }
}

/// Which recordings to list (each filter off when empty or 0).
#[derive(Clone, Debug, Default)]
pub struct ListRecordings {
    pub agent_id: String,
    pub queue: String,
    pub ani: String,
    pub from_unix_ms: i64,
    pub to_unix_ms: i64,
    pub page_size: u32,
    pub page_token: String,
}

/// A supervisor's grades of one answered call.
#[derive(Clone, Debug)]
pub struct GradeCall {
    pub call_id: String,
    /// None: the configured scorecard.
    pub scorecard: Option<Scorecard>,
    pub grades: Vec<(String, Letter)>,
    pub comments: String,
}

/// What grading a recording starts from.
pub struct GradingSheet {
    pub recording: RecordingRecord,
    pub disposition: Option<Disposition>,
    pub scorecard: Scorecard,
    pub suggestions: Vec<crate::quality::suggest::Suggestion>,
}

impl App {
    /// A page of agents (in `state` only, if given) and the next page's token.
    pub async fn list_agents(
        &self,
        p: &Principal,
        state: Option<AgentState>,
        page_size: u32,
        page_token: &str,
    ) -> Result<(Vec<AgentRecord>, String), Error> {
        p.require(&[Role::Supervisor])?;
        let size = validate::page_size(page_size)?;
        let mut cursor = match page_token {
            "" => None,
            t => Some(AgentId::new(validate::id("page_token", t)?)),
        };
        let mut agents = Vec::new();
        'pages: loop {
            let batch = self.store.list_agents(cursor.as_ref(), size).await?;
            let exhausted = batch.len() < size;
            for a in batch {
                cursor = Some(a.id.clone());
                if state.is_none_or(|s| s == a.state) {
                    agents.push(a);
                    if agents.len() == size {
                        break 'pages;
                    }
                }
            }
            if exhausted {
                cursor = None;
                break;
            }
        }
        Ok((agents, cursor.map(|c| c.to_string()).unwrap_or_default()))
    }

    /// A page of calls (of one queue, if named; ended ones too, if asked).
    pub async fn list_calls(
        &self,
        p: &Principal,
        queue: &str,
        include_ended: bool,
        page_size: u32,
        page_token: &str,
    ) -> Result<(Vec<CallRecord>, String), Error> {
        p.require(&[Role::Supervisor])?;
        let size = validate::page_size(page_size)?;
        let after = call_cursor(page_token)?;
        let queue = match queue {
            "" => None,
            q => {
                let q = QueueName::new(validate::id("queue", q)?);
                let known = self
                    .engine
                    .execute(None, Command::HasQueue { queue: q.clone() })
                    .await?
                    .bool()?;
                if !known {
                    return Err(Error::NotFound {
                        what: "queue",
                        id: q.to_string(),
                    });
                }
                Some(q)
            }
        };
        let filter = CallFilter { queue, include_ended };
        let calls = self.store.list_calls(&filter, after.as_ref(), size).await?;
        let next = validate::page_token(
            calls.len() == size,
            calls.last().map(|c| (c.enqueued_at, c.id.as_str())),
        );
        Ok((calls, next))
    }

    /// Every queue's live figures, and when they were taken.
    pub async fn queue_views(&self, p: &Principal) -> Result<(Timestamp, Vec<QueueView>), Error> {
        p.require(&[Role::Supervisor])?;
        self.engine.execute(None, Command::QueueViews).await?.queues()
    }

    /// A call with the routing decisions made for it.
    pub async fn routing_of(&self, p: &Principal, call_id: &str) -> Result<CallRecord, Error> {
        p.require(&[Role::Supervisor])?;
        self.call_record(&App::call_id(call_id)?).await
    }

    /// Starts listening in on a connected call (with the supervisor's SDP
    /// offer for WHISPER and BARGE); the session is audited.
    pub async fn monitor(
        &self,
        p: &Principal,
        call_id: &str,
        mode: MonitorMode,
        offer: Option<&str>,
    ) -> Result<MonitorSession, Error> {
        p.require(&[Role::Supervisor])?;
        let call = App::call_id(call_id)?;
        let record = self.call_record(&call).await?;
        if record.status != CallStatus::Connected {
            return Err(Error::FailedPrecondition(format!("call {call} is not connected")));
        }
        self.audit_before(
            p,
            crate::store::audit::AuditAction::MonitorStarted,
            format!("call:{call}"),
            format!("{mode:?}").to_lowercase(),
        )
        .await?;
        self.media.monitor(&call, mode, &p.sub, offer).await
    }

    /// A trickled ICE candidate of a supervisor's WHISPER or BARGE leg.
    pub async fn monitor_candidate(
        &self,
        p: &Principal,
        session_id: &str,
        candidate: crate::media::webrtc::RTCIceCandidateInit,
    ) -> Result<(), Error> {
        p.require(&[Role::Supervisor])?;
        let session = validate::id("session_id", session_id)?;
        self.media.monitor_candidate(session, candidate).await
    }

    /// A page of recordings, each with the disposition the agent gave.
    pub async fn list_recordings(
        &self,
        p: &Principal,
        r: ListRecordings,
    ) -> Result<(Vec<(RecordingRecord, Option<Disposition>)>, String), Error> {
        p.require(&[Role::Supervisor])?;
        let size = validate::page_size(r.page_size)?;
        let filter = RecordingFilter {
            agent: optional_id("agent_id", &r.agent_id)?.map(AgentId::new),
            queue: optional_id("queue", &r.queue)?.map(QueueName::new),
            ani: optional_id("ani", &r.ani)?,
            from: validate::optional_time("from_unix_ms", r.from_unix_ms)?,
            to: validate::optional_time("to_unix_ms", r.to_unix_ms)?,
        };
        let cursor = call_cursor(&r.page_token)?;
        let page = self.store.list_recordings(&filter, cursor.as_ref(), size).await?;
        let next = validate::page_token(
            page.len() == size,
            page.last().map(|r| (r.started_at, r.call.as_str())),
        );
        let mut out = Vec::with_capacity(page.len());
        for rec in page {
            let disposition = self.disposition_of(&rec).await?;
            out.push((rec, disposition));
        }
        Ok((out, next))
    }

    /// A recording's record, its disposition and its audio (the WAV
    /// file), played (or, `download`, kept as a copy): audited first.
    pub async fn recording(
        &self,
        p: &Principal,
        recording_id: &str,
        download: bool,
    ) -> Result<(RecordingRecord, Option<Disposition>, ByteStream), Error> {
        p.require(&[Role::Supervisor])?;
        let rec = self.stored_recording(recording_id).await?;
        let id = rec.call.clone();
        if let Some(at) = rec.erased_at {
            return Err(Error::FailedPrecondition(format!(
                "recording {id} was erased at the customer's request ({})",
                at
            )));
        }
        let action = if download {
            crate::store::audit::AuditAction::RecordingDownloaded
        } else {
            crate::store::audit::AuditAction::RecordingPlayed
        };
        self.audit_before(
            p,
            action,
            format!("call:{id}"),
            match &rec.agent {
                Some(a) => format!("agent {a}"),
                None => String::new(),
            },
        )
        .await?;
        let data = self.media.recording_chunks(&rec).await?;
        let disposition = self.disposition_of(&rec).await?;
        Ok((rec, disposition, data))
    }

    /// A page of listening-in sessions (of one call, if named).
    pub async fn monitor_audit(
        &self,
        p: &Principal,
        call_id: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<(Vec<MonitorSessionRecord>, String), Error> {
        p.require(&[Role::Supervisor])?;
        let call = match call_id {
            "" => None,
            c => Some(App::call_id(c)?),
        };
        let size = validate::page_size(page_size)?;
        let after = validate::time_cursor(page_token)?;
        let entries = self
            .store
            .monitor_sessions(call.as_ref(), after.as_ref(), size)
            .await?;
        let next = validate::page_token(
            entries.len() == size,
            entries.last().map(|s| (s.started_at, s.id.as_str())),
        );
        Ok((entries, next))
    }

    /// The stored record of the recording a request's `recording_id`
    /// names; INVALID_ARGUMENT or NOT_FOUND naming it.
    async fn stored_recording(&self, recording_id: &str) -> Result<RecordingRecord, Error> {
        let id = CallId::new(validate::id("recording_id", recording_id)?);
        self.store
            .get_recording(&id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "recording",
                id: id.to_string(),
            })
    }

    /// What grading a recording starts from: its record (with its
    /// disposition), the configured scorecard, and the grades its signals
    /// suggest.
    pub async fn grading_sheet(&self, p: &Principal, recording_id: &str) -> Result<GradingSheet, Error> {
        p.require(&[Role::Supervisor])?;
        let recording = self.stored_recording(recording_id).await?;
        let disposition = self.disposition_of(&recording).await?;
        let scorecard = self.scorecard.as_ref().clone();
        let suggestions = recording
            .signals
            .as_ref()
            .map(|s| crate::quality::suggest::suggest(&scorecard, s))
            .unwrap_or_default();
        Ok(GradingSheet {
            recording,
            disposition,
            scorecard,
            suggestions,
        })
    }

    /// Grades an answered call on a scorecard and stores the grade.
    pub async fn grade_call(&self, p: &Principal, r: GradeCall) -> Result<GradeRecord, Error> {
        p.require(&[Role::Supervisor])?;
        let id = App::call_id(&r.call_id)?;
        let card = r.scorecard.unwrap_or_else(|| self.scorecard.as_ref().clone());
        card.check()
            .map_err(|e| Error::invalid("scorecard", e.to_string()))?;
        let comments = validate::label("comments", &r.comments, validate::MAX_TEXT_LEN)?.to_string();
        let score = card
            .score(&r.grades)
            .map_err(|e| Error::invalid("grades", e.to_string()))?;
        let (call, agent) = self.answered_call(&id, "grade").await?;
        let grade = GradeRecord {
            id: format!("grade-{}", uuid::Uuid::now_v7().simple()),
            call: id,
            agent,
            queue: call.queue.clone(),
            supervisor: p.sub.clone(),
            graded_at: Timestamp::now_wall(),
            scorecard: card,
            grades: r.grades,
            score,
            comments,
        };
        self.store.put_grade(&grade).await?;
        self.audit_after(
            p,
            crate::store::audit::AuditAction::CallGraded,
            format!("call:{}", grade.call),
            format!("score {:.1} on {}", grade.score, grade.scorecard.name),
        )
        .await;
        Ok(grade)
    }

    /// The disposition the agent gave the recorded call at wrap-up, if any.
    async fn disposition_of(&self, rec: &RecordingRecord) -> Result<Option<Disposition>, Error> {
        let key = rec
            .customer
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_else(|| rec.ani.clone());
        let contacts = self.store.contacts_of(&key, 200).await?;
        Ok(contacts
            .into_iter()
            .find(|c| c.call == rec.call)
            .and_then(|c| c.disposition))
    }
}
