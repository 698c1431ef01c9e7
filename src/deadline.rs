//! Deadlines end to end.
//!
//! A client's `grpc-timeout` header becomes the deadline of the work it
//! asked for: [`DeadlineLayer`] scopes each request's handling in it, a
//! command forwarded to the routing node carries what is left of it (as its
//! own `grpc-timeout`), and the engine drops a job whose deadline passed
//! while it waited in the queue, answering DEADLINE_EXCEEDED, instead of
//! carrying it out late for a client that has given up (and may be retrying
//! through another node).
//!
//! Invariant: work is never started after its deadline; work started
//! before it runs to the end (an engine job is atomic).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The longest `grpc-timeout` honoured: the header allows 10^8 hours; a
/// longer one is as good as none.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The deadline of the request being handled, if its client set one.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Runs `fut` with `deadline` as the current request's deadline.
pub async fn scope<F: Future>(deadline: Instant, fut: F) -> F::Output {
    DEADLINE.scope(deadline, fut).await
}

/// Parses a `grpc-timeout` value: 1 to 8 ASCII digits and a unit, one of
/// H, M, S, m (milli), u (micro), n (nano). None if malformed.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let d = match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    };
    Some(d.min(MAX_TIMEOUT))
}

/// Scopes every request in the deadline its `grpc-timeout` gives.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeadlineLayer;

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadlined<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Deadlined { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Deadlined<S> {
    inner: S,
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for Deadlined<S>
where
    S: tower::Service<http::Request<ReqBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let timeout = req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        let fut = self.inner.call(req);
        match timeout {
            Some(t) => Box::pin(scope(Instant::now() + t, fut)),
            None => Box::pin(fut),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_in_every_unit() {
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(
            parse_grpc_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        assert_eq!(parse_grpc_timeout("99999999H"), Some(MAX_TIMEOUT));
    }

    #[test]
    fn malformed_grpc_timeouts_are_ignored() {
        for bad in ["", "S", "3", "3s", "-3S", "123456789S", "3 S", "3SS", "３S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_deadline_is_known_inside_its_scope_only() {
        assert_eq!(current(), None);
        let at = Instant::now() + Duration::from_secs(5);
        assert_eq!(scope(at, async { current() }).await, Some(at));
        assert_eq!(current(), None);
    }
}
