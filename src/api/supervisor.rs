//! `hotline.v1.SupervisorService`: watching the floor.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::app::supervision::{GradeCall, ListRecordings};
use crate::app::App;
use crate::auth::principal;
use crate::error::Error;
use crate::proto;
use crate::proto::supervisor_service_server::SupervisorService;
use crate::recording::MonitorMode;
use crate::status::status;
use crate::{convert, validate};

pub struct SupervisorApi {
    pub app: App,
}

#[tonic::async_trait]
impl SupervisorService for SupervisorApi {
    async fn list_agents(
        &self,
        req: Request<proto::ListAgentsRequest>,
    ) -> Result<Response<proto::ListAgentsResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let state = match proto::AgentState::try_from(r.state) {
            Ok(s) => convert::agent_state_from(s),
            Err(_) => {
                return Err(status(Error::invalid(
                    "state",
                    format!("unknown value {}", r.state),
                )))
            }
        };
        let (agents, next_page_token) = self
            .app
            .list_agents(&p, state, r.page_size, &r.page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::ListAgentsResponse {
            agents: agents.iter().map(convert::agent).collect(),
            next_page_token,
        }))
    }

    async fn list_calls(
        &self,
        req: Request<proto::ListCallsRequest>,
    ) -> Result<Response<proto::ListCallsResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let (calls, next_page_token) = self
            .app
            .list_calls(&p, &r.queue, r.include_ended, r.page_size, &r.page_token)
            .await
            .map_err(status)?;
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
        let p = principal(&req).map_err(status)?;
        // Refused at once rather than on the first snapshot.
        self.app.queue_views(&p).await.map_err(status)?;
        let interval = validate::stream_interval(req.get_ref().interval_ms).map_err(status)?;
        let app = self.app.clone();
        Ok(Response::new(super::polled(interval, move || {
            let (app, p) = (app.clone(), p.clone());
            async move {
                let (at, queues) = app.queue_views(&p).await.ok()?;
                let board = app.staffing.board();
                Some(proto::QueueSnapshot {
                    at_unix_ms: convert::ms(at),
                    queues: queues
                        .iter()
                        .map(|q| proto::QueueStats {
                            staffing: board
                                .queues
                                .get(&q.name)
                                .map(|s| crate::api::staffing::queue_staffing(&board, s)),
                            ..convert::queue_stats(q)
                        })
                        .collect(),
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
        let p = principal(&req).map_err(status)?;
        let call = self
            .app
            .routing_of(&p, &req.get_ref().call_id)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::RoutingExplanation {
            call_id: call.id.to_string(),
            decisions: call.decisions.iter().map(convert::decision).collect(),
        }))
    }

    type MonitorStream = Pin<Box<dyn Stream<Item = Result<proto::MonitorEvent, Status>> + Send>>;

    async fn monitor(
        &self,
        req: Request<proto::MonitorRequest>,
    ) -> Result<Response<Self::MonitorStream>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
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
        let session = self
            .app
            .monitor(&p, &r.call_id, mode, offer)
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
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let candidate = validate::candidate(r.candidate.as_ref()).map_err(status)?;
        self.app
            .monitor_candidate(&p, &r.session_id, candidate)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::MonitorIceAck {}))
    }

    async fn list_recordings(
        &self,
        req: Request<proto::ListRecordingsRequest>,
    ) -> Result<Response<proto::ListRecordingsResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let list = ListRecordings {
            agent_id: r.agent_id,
            queue: r.queue,
            ani: r.ani,
            from_unix_ms: r.from_unix_ms,
            to_unix_ms: r.to_unix_ms,
            page_size: r.page_size,
            page_token: r.page_token,
        };
        let (page, next_page_token) = self.app.list_recordings(&p, list).await.map_err(status)?;
        Ok(Response::new(proto::ListRecordingsResponse {
            recordings: page
                .iter()
                .map(|(rec, disposition)| convert::recording(rec, *disposition))
                .collect(),
            next_page_token,
        }))
    }

    type GetRecordingStream = Pin<Box<dyn Stream<Item = Result<proto::RecordingChunk, Status>> + Send>>;

    async fn get_recording(
        &self,
        req: Request<proto::GetRecordingRequest>,
    ) -> Result<Response<Self::GetRecordingStream>, Status> {
        let p = principal(&req).map_err(status)?;
        let (rec, disposition, data) = self
            .app
            .recording(&p, &req.get_ref().recording_id, req.get_ref().download)
            .await
            .map_err(status)?;
        let meta = convert::recording(&rec, disposition);
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
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let (entries, next_page_token) = self
            .app
            .monitor_audit(&p, &r.call_id, r.page_size, &r.page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::ListMonitorAuditResponse {
            next_page_token,
            entries: entries.iter().map(convert::monitor_audit).collect(),
        }))
    }

    async fn grade_call(
        &self,
        req: Request<proto::GradeCallRequest>,
    ) -> Result<Response<proto::CallGrade>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let grade = GradeCall {
            scorecard: r
                .scorecard
                .as_ref()
                .map(validate::scorecard)
                .transpose()
                .map_err(status)?,
            grades: validate::criterion_grades(&r.grades).map_err(status)?,
            call_id: r.call_id,
            comments: r.comments,
        };
        let grade = self.app.grade_call(&p, grade).await.map_err(status)?;
        Ok(Response::new(convert::grade(&grade)))
    }

    async fn get_grading_sheet(
        &self,
        req: Request<proto::GetGradingSheetRequest>,
    ) -> Result<Response<proto::GradingSheet>, Status> {
        let p = principal(&req).map_err(status)?;
        let sheet = self
            .app
            .grading_sheet(&p, &req.get_ref().recording_id)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::GradingSheet {
            recording: Some(convert::recording(&sheet.recording, sheet.disposition)),
            scorecard: Some(convert::scorecard(&sheet.scorecard)),
            suggestions: sheet
                .suggestions
                .iter()
                .map(|s| proto::GradeSuggestion {
                    criterion: s.criterion.clone(),
                    grade: s.grade.as_str().into(),
                    reason: s.reason.clone(),
                })
                .collect(),
        }))
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
