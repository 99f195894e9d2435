//! Command handling with decide/evolve and optimistic concurrency: [`execute`].

use super::{replay, Projection, ReplayOptions};
use crate::error::{Error, Result};
use crate::event::{AppendResult, ExpectedVersion, NewEvent, StreamId, Version};
use crate::store::EventStore;

/// What [`execute`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandOutcome<S> {
    /// The append, or `None` when `decide` returned no events.
    pub appended: Option<AppendResult>,
    /// The state `decide` saw on the successful attempt.
    pub state: S,
    /// The stream version that state was built at.
    pub version: Version,
    /// Attempts made (1 when there was no conflict).
    pub attempts: u32,
}

/// Handles `command` on `stream`: folds the stream into `initial` (evolve, through the
/// state's [`Projection`] impl), asks `decide(command, &state)` for the new events, and
/// appends them expecting the version the state was built at. When another writer got
/// there first ([`Error::VersionConflict`]), it folds only the events it missed and
/// decides again, up to `max_attempts` attempts in all; then the last conflict is
/// returned. `decide`'s own errors are returned as they are.
///
/// ```
/// # use tidelog::store::{EventStore, MemoryStore};
/// # use tidelog::replay::{execute, Fold};
/// # use tidelog::{Error, EventType, ExpectedVersion, NewEvent, StreamId};
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// // State: the balance; events carry signed amounts.
/// let balance = Fold::new(0i64, |b: &mut i64, e: &tidelog::Event<i64>| *b += e.data);
/// let withdraw = |amount: &i64, state: &Fold<i64, _>| {
///     if state.state < *amount {
///         return Err(Error::invalid("amount", "insufficient funds"));
///     }
///     Ok(vec![NewEvent::new(EventType::new("Withdrawn")?, -*amount)])
/// };
/// let store = MemoryStore::<i64>::new();
/// let account = StreamId::new("account-1")?;
/// block_on(store.append(&account, ExpectedVersion::NoStream,
///     vec![NewEvent::new(EventType::new("Deposited")?, 100)]))?;
/// let outcome = block_on(execute(&store, &account, &balance, &30, withdraw, 3))?;
/// assert_eq!((outcome.state.state, outcome.attempts), (100, 1));
/// assert!(block_on(execute(&store, &account, &balance, &500, withdraw, 3)).is_err());
/// # Ok::<(), tidelog::Error>(())
/// ```
pub async fn execute<St, S, C, D>(
    store: &St,
    stream: &StreamId,
    initial: &S,
    command: &C,
    mut decide: D,
    max_attempts: u32,
) -> Result<CommandOutcome<S>>
where
    St: EventStore,
    S: Projection<St::Payload> + Clone,
    D: FnMut(&C, &S) -> Result<Vec<NewEvent<St::Payload>>>,
{
    let mut state = initial.clone();
    let mut version = Version(0);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        // Evolve: only the events not yet folded (all of them on the first attempt).
        let options = ReplayOptions { from_version: Some(version.next()?), ..ReplayOptions::default() };
        let report = replay(store, Some(stream), &mut state, None, &options).await?;
        if let Some(last) = report.last_version {
            version = last;
        }
        let events = decide(command, &state)?;
        if events.is_empty() {
            return Ok(CommandOutcome { appended: None, state, version, attempts });
        }
        match store.append(stream, ExpectedVersion::Exact(version), events).await {
            Ok(result) => {
                return Ok(CommandOutcome { appended: Some(result), state, version, attempts })
            }
            Err(Error::VersionConflict { .. }) if attempts < max_attempts.max(1) => continue,
            Err(e) => return Err(e),
        }
    }
}
