//! The gRPC edge: thin tonic handlers. Each reads the request's principal,
//! turns the proto request into the application layer's terms
//! ([`crate::app`]), calls it, and converts the answer back
//! ([`crate::convert`]) or its [`crate::error::Error`] to a status
//! ([`crate::status`]).
//! No routing logic or business rule lives here.

pub mod admin;
pub mod agent;
pub mod audit;
pub mod call;
pub mod callback;
pub mod case;
pub mod privacy;
pub mod report;
pub mod session;
pub mod staffing;
pub mod supervisor;

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
