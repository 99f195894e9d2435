//! Helpers shared by the native unit tests.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use crate::event::StreamId;

/// Drives a future that never waits on I/O (every memory-store and server-handler
/// future in the native tests) to completion.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// A stream id from a literal known to be valid.
pub fn sid(s: &str) -> StreamId {
    StreamId::new(s).unwrap()
}
