//! `hotline.v1.SupervisorService`: watching the floor.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::app::App;
use crate::auth::principal;
use crate::auth::Role;
use crate::engine::Command;
use crate::error::Error;
use crate::ids::{AgentId, CallId, QueueName};
use crate::proto;
use crate::proto::supervisor_service_server::SupervisorService;
use crate::quality::GradeRecord;
use crate::recording::{MonitorMode, RecordingFilter, RecordingRecord};
use crate::status::status;
use crate::store::CallFilter;
use crate::time::Timestamp;
use crate::{convert, validate};

pub struct SupervisorApi {
    pub app: App,
}

/// A ListCalls or ListRecordings position.
fn call_cursor(token: &str) -> Result<Option<(Timestamp, CallId)>, Error> {
    Ok(validate::time_cursor(token)?.map(|(t, id)| (t, CallId::new(id))))
}

#[tonic::async_trait]
impl SupervisorService for SupervisorApi {
    async fn list_agents(
        &self,
        req: Request<proto::ListAgentsRequest>,
    ) -> Result<Response<proto::ListAgentsResponse>, Status> {
        principal(&req)
            .map_err(status)?
            .require(&[Role::Supervisor])
            .map_err(status)?;
        let r = req.into_inner();
        let size = validate::page_size(r.page_size).map_err(status)?;
        let state = match proto::AgentState::try_from(r.state) {
            Ok(s) => convert::agent_state_from(s),
            Err(_) => {
                return Err(status(Error::invalid(
                    "state",
                    format!("unknown value {}", r.state),
                )))
            }
        };
        let mut cursor = if r.page_token.is_empty() {
            None
        } else {
            Some(AgentId::new(
                validate::id("page_token", &r.page_token).map_err(status)?,
            ))
        };
        let mut agents = Vec::new();
        'pages: loop {
            let batch = self.app.store.list_agents(cursor.as_ref(), size).await?;
            let exhausted = batch.len() < size;
            for a in batch {
                cursor = Some(a.id.clone());
                if state.is_none_or(|s| s == a.state) {
                    agents.push(convert::agent(&a));
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
        Ok(Response::new(proto::ListAgentsResponse {
            agents,
            next_page_token: cursor.map(|c| c.to_string()).unwrap_or_default(),
        }))
    }

    async fn list_calls(
        &self,
        req: Request<proto::ListCallsRequest>,
    ) -> Result<Response<proto::ListCallsResponse>, Status> {
        principal(&req)
            .map_err(status)?
            .require(&[Role::Supervisor])
            .map_err(status)?;
        let r = req.into_inner();
        let size = validate::page_size(r.page_size).map_err(status)?;
        let after = call_cursor(&r.page_token).map_err(status)?;
        let queue = if r.queue.is_empty() {
            None
        } else {
            let q = QueueName::new(validate::id("queue", &r.queue).map_err(status)?);
            let known = self
                .app
                .engine
                .execute(None, Command::HasQueue { queue: q.clone() })
                .await
                .map_err(status)?
                .bool()
                .map_err(status)?;
            if !known {
                return Err(status(Error::NotFound {
                    what: "queue",
                    id: q.to_string(),
                }));
            }
            Some(q)
        };
        let filter = CallFilter {
            queue,
            include_ended: r.include_ended,
        };
        let calls = self.app.store.list_calls(&filter, after.as_ref(), size).await?;
        let next_page_token = validate::page_token(
            calls.len() == size,
            calls.last().map(|c| (c.enqueued_at, c.id.as_str())),
        );
        Ok(Response::new(proto::ListCallsResponse {
            calls: calls.iter().map(convert::call).collect(),
            next_page_token,
        }))
    }

    type WatchQueuesStream = super::Polled<proto::QueueSnapshot>;

    async fn watch_queues(
        &self,
        req: Request<proto::WatchQueuesRequest>,
    ) -> Result<Response<Self::WatchQueuesStream>, Status> {
        principal(&req)
            .map_err(status)?
            .require(&[Role::Supervisor])
            .map_err(status)?;
        let interval = validate::stream_interval(req.get_ref().interval_ms).map_err(status)?;
        let engine = self.app.engine.clone();
        Ok(Response::new(super::polled(interval, move || {
            let engine = engine.clone();
            async move {
                let (at, queues) = engine
                    .execute(None, Command::QueueViews)
                    .await
                    .and_then(|r| r.queues())
                    .ok()?;
                Some(proto::QueueSnapshot {
                    at_unix_ms: convert::ms(at),
                    queues: queues.iter().map(convert::queue_stats).collect(),
                })
            }
        })))
    }

    async fn set_agent_state(
        &self,
        req: Request<proto::SupervisorSetAgentStateRequest>,
    ) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let state = proto::AgentState::try_from(r.state)
            .ok()
            .and_then(convert::agent_state_from)
            .and_then(crate::app::agents::forceable)
            .ok_or_else(|| Error::invalid("state", "must be LOGGED_OUT, AVAILABLE or NOT_READY"))
            .map_err(status)?;
        let agent = self
            .app
            .force_state(&p, &r.agent_id, state, &r.reason, &r.request_id)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::agent(&agent)))
    }

    async fn explain_routing(
        &self,
        req: Request<proto::ExplainRoutingRequest>,
    ) -> Result<Response<proto::RoutingExplanation>, Status> {
        principal(&req)
            .map_err(status)?
            .require(&[Role::Supervisor])
            .map_err(status)?;
        let id = CallId::new(validate::id("call_id", &req.get_ref().call_id).map_err(status)?);
        let call = self.app.call_record(&id).await.map_err(status)?;
        Ok(Response::new(proto::RoutingExplanation {
            call_id: id.to_string(),
            decisions: call.decisions.iter().map(convert::decision).collect(),
        }))
    }

    type MonitorStream = Pin<Box<dyn Stream<Item = Result<proto::MonitorEvent, Status>> + Send>>;

    async fn monitor(
        &self,
        req: Request<proto::MonitorRequest>,
    ) -> Result<Response<Self::MonitorStream>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Supervisor]).map_err(status)?;
        let r = req.into_inner();
        let call = CallId::new(validate::id("call_id", &r.call_id).map_err(status)?);
        let mode = match proto::MonitorMode::try_from(r.mode) {
            Ok(proto::MonitorMode::Listen) => MonitorMode::Listen,
            Ok(proto::MonitorMode::Whisper) => MonitorMode::Whisper,
            Ok(proto::MonitorMode::Barge) => MonitorMode::Barge,
            _ => return Err(status(Error::invalid("mode", "LISTEN, WHISPER or BARGE"))),
        };
        let offer = if mode.speaks() {
            Some(validate::offer("offer.sdp", r.offer.as_ref()).map_err(status)?)
        } else {
            None
        };
        let record = self.app.stored_call(&call).await.map_err(status)?;
        if record.status != proto::CallStatus::Connected as i32 {
            return Err(status(Error::FailedPrecondition(format!(
                "call {call} is not connected"
            ))));
        }
        let session = self
            .app
            .media
            .monitor(&call, mode, &p.sub, offer)
            .await
            .map_err(status)?;
        let started = proto::MonitorEvent {
            event: Some(proto::monitor_event::Event::Started(proto::MonitorStarted {
                session_id: session.id.clone(),
                answer: session.answer.map(|(sdp, codec)| proto::SessionAnswer {
                    sdp,
                    codec,
                    session_id: session.id.clone(),
                }),
            })),
        };
        let guard = session.guard;
        let frames = ReceiverStream::new(session.frames).map(move |f| {
            // The stream owns the guard: the session ends when it is dropped.
            let _ = &guard;
            Ok(proto::MonitorEvent {
                event: Some(proto::monitor_event::Event::Frame(audio_frame(&f))),
            })
        });
        let stream = futures::stream::once(async move { Ok(started) }).chain(frames);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn add_monitor_ice_candidate(
        &self,
        req: Request<proto::MonitorIceCandidate>,
    ) -> Result<Response<proto::MonitorIceAck>, Status> {
        principal(&req)
            .map_err(status)?
            .require(&[Role::Supervisor])
            .map_err(status)?;
        let r = req.into_inner();
        let session = validate::id("session_id", &r.session_id).map_err(status)?;
        let candidate = validate::candidate(r.candidate.as_ref()).map_err(status)?;
        self.app
            .media
            .monitor_candidate(session, candidate)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::MonitorIceAck {}))
    }

    async fn list_recordings(
        &self,
        req: Request<proto::ListRecordingsRequest>,
    ) -> Result<Response<proto::ListRecordingsResponse>, Status> {
        principal(&req)
            .map_err(status)?
            .require(&[Role::Supervisor])
            .map_err(status)?;
        let r = req.into_inner();
        let size = validate::page_size(r.page_size).map_err(status)?;
        let bound = |field: &str, v: i64| -> Result<Option<Timestamp>, Error> {
            match v {
                0 => Ok(None),
                v => u64::try_from(v)
                    .map(|ms| Some(Timestamp(ms)))
                    .map_err(|_| Error::invalid(field, "must not be negative")),
            }
        };
        let non_empty = |field: &str, v: &str| -> Result<Option<String>, Error> {
            if v.is_empty() {
                Ok(None)
            } else {
                validate::id(field, v).map(|v| Some(v.to_string()))
            }
        };
        let filter = RecordingFilter {
            agent: non_empty("agent_id", &r.agent_id)
                .map_err(status)?
                .map(AgentId::new),
            queue: non_empty("queue", &r.queue).map_err(status)?.map(QueueName::new),
            ani: non_empty("ani", &r.ani).map_err(status)?,
            from: bound("from_unix_ms", r.from_unix_ms).map_err(status)?,
            to: bound("to_unix_ms", r.to_unix_ms).map_err(status)?,
        };
        let cursor = call_cursor(&r.page_token).map_err(status)?;
        let page = self
            .app
            .store
            .list_recordings(&filter, cursor.as_ref(), size)
            .await?;
        let next_page_token = validate::page_token(
            page.len() == size,
            page.last().map(|r| (r.started_at, r.call.as_str())),
        );
        let mut recordings = Vec::with_capacity(page.len());
        for rec in &page {
            recordings.push(convert::recording(
                rec,
                self.disposition_of(rec).await.map_err(status)?,
            ));
        }
        Ok(Response::new(proto::ListRecordingsResponse {
            recordings,
            next_page_token,
        }))
    }

    type GetRecordingStream = Pin<Box<dyn Stream<Item = Result<proto::RecordingChunk, Status>> + Send>>;

    async fn get_recording(
        &self,
        req: Request<proto::GetRecordingRequest>,
    ) -> Result<Response<Self::GetRecordingStream>, Status> {
        principal(&req)
            .map_err(status)?
            .require(&[Role::Supervisor])
            .map_err(status)?;
        let r = req.into_inner();
        let id = CallId::new(validate::id("recording_id", &r.recording_id).map_err(status)?);
        let rec = self
            .app
            .store
            .get_recording(&id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "recording",
                id: id.to_string(),
            })
            .map_err(status)?;
        let data = self.app.media.recording_chunks(&rec).await.map_err(status)?;
        let meta = convert::recording(&rec, self.disposition_of(&rec).await.map_err(status)?);
        // The first chunk carries the metadata (alone, if the file is empty).
        let first = futures::stream::once(async move {
            Ok(proto::RecordingChunk {
                recording: Some(meta),
                data: Vec::new(),
            })
        });
        let chunks = first.chain(data.map(|chunk| {
            chunk
                .map(|data| proto::RecordingChunk {
                    recording: None,
                    data,
                })
                .map_err(status)
        }));
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn list_monitor_audit(
        &self,
        req: Request<proto::ListMonitorAuditRequest>,
    ) -> Result<Response<proto::ListMonitorAuditResponse>, Status> {
        principal(&req)
            .map_err(status)?
            .require(&[Role::Supervisor])
            .map_err(status)?;
        let r = req.into_inner();
        let call = if r.call_id.is_empty() {
            None
        } else {
            Some(CallId::new(validate::id("call_id", &r.call_id).map_err(status)?))
        };
        let size = validate::page_size(r.page_size).map_err(status)?;
        let after = validate::time_cursor(&r.page_token).map_err(status)?;
        let entries = self
            .app
            .store
            .monitor_sessions(call.as_ref(), after.as_ref(), size)
            .await?;
        Ok(Response::new(proto::ListMonitorAuditResponse {
            next_page_token: validate::page_token(
                entries.len() == size,
                entries.last().map(|s| (s.started_at, s.id.as_str())),
            ),
            entries: entries.iter().map(convert::monitor_audit).collect(),
        }))
    }
    async fn grade_call(
        &self,
        req: Request<proto::GradeCallRequest>,
    ) -> Result<Response<proto::CallGrade>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Supervisor]).map_err(status)?;
        let r = req.into_inner();
        let id = CallId::new(validate::id("call_id", &r.call_id).map_err(status)?);
        let card = match &r.scorecard {
            None => self.app.scorecard.as_ref().clone(),
            Some(c) => validate::scorecard(c).map_err(status)?,
        };
        card.check()
            .map_err(|e| Error::invalid("scorecard", e.to_string()))
            .map_err(status)?;
        let grades = validate::criterion_grades(&r.grades).map_err(status)?;
        let comments = validate::label("comments", &r.comments, validate::MAX_TEXT_LEN)
            .map_err(status)?
            .to_string();
        let score = card
            .score(&grades)
            .map_err(|e| Error::invalid("grades", e.to_string()))
            .map_err(status)?;
        let (call, agent) = self.app.answered_call(&id, "grade").await.map_err(status)?;
        let grade = GradeRecord {
            id: format!("grade-{}", uuid::Uuid::now_v7().simple()),
            call: id,
            agent,
            queue: call.queue.clone(),
            supervisor: p.sub.clone(),
            graded_at: Timestamp::now_wall(),
            scorecard: card,
            grades,
            score,
            comments,
        };
        self.app.store.put_grade(&grade).await?;
        Ok(Response::new(convert::grade(&grade)))
    }
}

impl SupervisorApi {
    /// The disposition the agent gave the recorded call at wrap-up, if any.
    async fn disposition_of(&self, rec: &RecordingRecord) -> Result<Option<crate::acd::Disposition>, Error> {
        let key = rec
            .customer
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_else(|| rec.ani.clone());
        let contacts = self.app.store.contacts_of(&key, 200).await?;
        Ok(contacts
            .into_iter()
            .find(|c| c.call == rec.call)
            .and_then(|c| c.disposition))
    }
}

fn audio_frame(f: &crate::media::call::StereoFrame) -> proto::AudioFrame {
    proto::AudioFrame {
        sequence: f.sequence,
        sample_rate: f.rate.hz(),
        caller_pcm: crate::media::pcm_bytes(&f.caller),
        agent_pcm: crate::media::pcm_bytes(&f.agent),
    }
}
