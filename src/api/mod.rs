//! The gRPC edge: authenticated, role-checked, validated handlers that turn
//! requests into engine jobs and store reads. No routing logic lives here.

pub mod agent;
pub mod call;
pub mod callback;
pub mod report;
pub mod supervisor;

use std::sync::Arc;

use crate::cluster::RouterLink;
use crate::config::Directory;
use crate::error::Error;
use crate::store::Store;

/// What every service needs.
#[derive(Clone)]
pub struct ApiContext {
    /// The way to the routing core (here, or on the routing node).
    pub engine: RouterLink,
    pub store: Arc<dyn Store>,
    pub directory: Arc<Directory>,
    /// This node's id in a cluster (stamped on the calls it takes), none alone.
    pub node: Option<String>,
    /// The call audio this node carries.
    pub media: crate::media::plane::MediaPlane,
    /// How reports count.
    pub report_rules: Arc<crate::report::ReportRules>,
    /// The scorecard GradeCall uses by default.
    pub scorecard: Arc<crate::quality::Scorecard>,
    /// Dials accepted callbacks through the SIP trunk, when one is set up
    /// for it (otherwise agents dial them).
    pub dialer: Option<crate::dialer::Dialer>,
}

impl ApiContext {
    /// A call as recorded in the store (live or ended), or NOT_FOUND.
    pub async fn stored_call(&self, id: &crate::ids::CallId) -> Result<crate::proto::Call, Error> {
        Ok(crate::convert::call(&self.call_record(id).await?))
    }

    /// The directory's customer named by a request's `customer_id` field,
    /// with their tier; INVALID_ARGUMENT or NOT_FOUND naming it.
    pub fn customer(&self, customer_id: &str) -> Result<(crate::ids::CustomerId, crate::acd::Tier), Error> {
        let id = crate::validate::id("customer_id", customer_id)?;
        let (c, t) = self.directory.customer(id).ok_or_else(|| Error::NotFound {
            what: "customer",
            id: id.to_string(),
        })?;
        Ok((c.clone(), *t))
    }

    /// A call's stored record, or NOT_FOUND.
    pub async fn call_record(&self, id: &crate::ids::CallId) -> Result<crate::acd::CallRecord, Error> {
        self.store.get_call(id).await?.ok_or_else(|| Error::NotFound {
            what: "call",
            id: id.to_string(),
        })
    }

    /// A stored call an agent answered, and that agent; FAILED_PRECONDITION
    /// for a call nobody answered (there is nothing to `purpose`).
    pub async fn answered_call(
        &self,
        id: &crate::ids::CallId,
        purpose: &str,
    ) -> Result<(crate::acd::CallRecord, crate::ids::AgentId), Error> {
        let call = self.call_record(id).await?;
        match (&call.agent, call.answered_at) {
            (Some(a), Some(_)) => {
                let agent = a.clone();
                Ok((call, agent))
            }
            _ => Err(Error::FailedPrecondition(format!(
                "call {id} was not answered: nothing to {purpose}"
            ))),
        }
    }
}

/// A server stream of what `next` returns every `interval`.
pub type Polled<T> = std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, tonic::Status>> + Send>>;

/// Every `interval`, runs `next` and streams what it returns, until the
/// client goes away or `next` returns none (the engine stopped).
pub fn polled<T, F, Fut>(interval: std::time::Duration, mut next: F) -> Polled<T>
where
    T: Send + 'static,
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<T>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            let Some(item) = next().await else { break };
            if tx.send(Ok(item)).await.is_err() {
                break;
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
