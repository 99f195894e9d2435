//! Reading: one stream by version range, the global log by position, the stream heads.
//! Reads hand IndexedDB's own result arrays to JS: the records already have the public
//! event shape, so there is no conversion per event.

use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::{IndexedDbStore, EVENTS, HEAD_KEY, META, STREAMS};
use crate::error::Result;
use crate::event::{Position, StreamId, Version};
use crate::replay::Move;
use crate::store::{retention, Direction, ReadOptions};
use crate::web::convert::{js_error, version_field};
use crate::web::idb::request;
use wasm_bindgen_futures::JsFuture;

impl IndexedDbStore {
    /// Reads one stream as IndexedDB's own array of event records (the public JS shape),
    /// in the requested direction. No per-event conversion.
    pub async fn read_records(&self, stream: &StreamId, options: ReadOptions) -> Result<Array> {
        let stream_key = JsValue::from_str(stream.as_str());
        let tx = self.begin(&[EVENTS, STREAMS, META], false)?;
        let backward = options.direction == Direction::Backward;
        // A forward read of a log that was never cut needs no bound: its page is asked for
        // with the bounds, in the same round. Once this store saw events dropped it asks
        // for the bounds first (the page would be read for nothing).
        let early = if backward || self.cut.get() {
            None
        } else {
            options.version_range(Version(crate::event::MAX_SAFE_INTEGER))
        };
        let (low, high) = early.map_or((0.0, 0.0), |(low, high)| (low.as_f64(), high.as_f64()));
        let bounds = crate::web::glue::stream_bounds(
            &tx.store(EVENTS)?,
            &tx.store(STREAMS)?,
            &tx.store(META)?,
            &stream_key,
            backward,
            low,
            high,
        );
        let bounds: Array = JsFuture::from(bounds).await.map_err(js_error)?.unchecked_into();
        let [floor, head, held_from] = super::retention::numbers(&bounds);
        self.count_read(0);
        // The early page comes back when the floor let it be the answer.
        let mut records = bounds.get(3);
        if records.is_undefined() {
            let range = if floor <= 1.0 {
                // Nothing dropped. Versions are dense (1..=head), so a forward read is one
                // range query that needs no head: a range past the head returns fewer
                // records.
                let head = if backward { head as u64 } else { crate::event::MAX_SAFE_INTEGER };
                options.version_range(Version(head))
            } else {
                self.cut.set(true);
                let (head, held_from) = (Version(head as u64), Version(held_from as u64));
                retention::stream_range(&options, head, held_from, Position(floor as u64), stream)?
            };
            let Some((low, high)) = range else {
                return Ok(Array::new());
            };
            let page = crate::web::glue::stream_page(
                &tx.store(EVENTS)?,
                &stream_key,
                low.as_f64(),
                high.as_f64(),
                backward,
            );
            records = JsFuture::from(page).await.map_err(js_error)?;
        }
        let records: Array = records.unchecked_into();
        self.count_read(records.length());
        Ok(records)
    }

    /// Reads the global log from `from` (inclusive; `None`: from retention's floor) as an
    /// array of event records.
    pub async fn read_all_records(&self, from: Option<Position>, limit: usize) -> Result<Array> {
        let tx = self.begin(&[EVENTS, META], false)?;
        self.count_read(0);
        if limit == 0 {
            return Ok(Array::new());
        }
        let read = log_read(&tx, from, limit, false)?;
        let (records, _) = checked_page(JsFuture::from(read).await.map_err(js_error)?, from)?;
        self.count_read(records.length());
        Ok(records)
    }

    /// Like [`Self::read_all_records`], and in the same transaction the move epoch and
    /// log (`meta["moves"]`; epoch 0 and no moves when nothing ever moved): a page and
    /// the moves it reflects.
    pub async fn read_all_with_moves(
        &self,
        from: Position,
        limit: usize,
    ) -> Result<(Array, u64, Vec<Move<JsValue>>)> {
        let tx = self.begin(&[EVENTS, META], false)?;
        self.count_read(0);
        let read = log_read(&tx, Some(from), limit, true)?;
        let (records, moves) =
            checked_page(JsFuture::from(read).await.map_err(js_error)?, Some(from))?;
        self.count_read(records.length());
        let (epoch, log) = moves_from_record(&moves)?;
        Ok((records, epoch, log))
    }

    /// The move epoch and log (`meta["moves"]`): see `outbox.rs`.
    pub async fn moves(&self) -> Result<(u64, Vec<Move<JsValue>>)> {
        let tx = self.begin(&[META], false)?;
        let moves = request(tx.store(META)?.get(&super::outbox::MOVES_KEY.into()))?.await?;
        moves_from_record(&moves)
    }

    /// Sets `pending` on each record (true while not on the sync server: its version is
    /// above its stream's synced version), reading the heads of the streams in `records`
    /// in one transaction (`js/idb.js`'s `markPendingFrom`).
    pub async fn mark_pending(&self, records: &Array) -> Result<()> {
        if records.length() == 0 {
            return Ok(());
        }
        let tx = self.begin(&[STREAMS], false)?;
        let marked = crate::web::glue::mark_pending_from(&tx.store(STREAMS)?, records);
        JsFuture::from(marked).await.map_err(js_error)?;
        Ok(())
    }

    /// Lists the stream head records `{stream, version, lastPosition, syncedVersion}`.
    pub async fn stream_records(&self) -> Result<Array> {
        let tx = self.begin(&[STREAMS], false)?;
        self.count_read(0);
        let heads = request(tx.store(STREAMS)?.get_all())?.await?;
        Ok(crate::web::glue::stream_rows(&heads))
    }

    /// The last global position written (0 for an empty log).
    pub async fn head_position(&self) -> Result<Position> {
        let tx = self.begin(&[META], false)?;
        let head = request(tx.store(META)?.get(&HEAD_KEY.into()))?;
        Ok(Position(version_field(&head.await?, "position")?))
    }

    pub(super) fn count_read(&self, events: u32) {
        let mut metrics = self.metrics.borrow_mut();
        if events == 0 {
            metrics.reads += 1;
        }
        metrics.events_read += u64::from(events);
    }
}

/// Asks `js/retention.js` for a page of the log from `from` (`None`: the floor) with the
/// floor (and with `with_moves` the move log), in `tx` (over `events` and `meta`).
fn log_read(
    tx: &crate::web::idb::Transaction,
    from: Option<Position>,
    limit: usize,
    with_moves: bool,
) -> Result<js_sys::Promise> {
    let from = from.map_or(0.0, |p| p.0.max(1) as f64);
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    Ok(crate::web::glue::log_read(&tx.store(EVENTS)?, &tx.store(META)?, from, limit, with_moves))
}

/// The records and moves record of a [`log_read`], once its start is checked against the
/// floor (below it: [`crate::error::Error::NotRetained`]).
fn checked_page(read: JsValue, from: Option<Position>) -> Result<(Array, JsValue)> {
    let read: Array = read.unchecked_into();
    let floor = Position(read.get(0).as_f64().unwrap_or(1.0) as u64);
    retention::check_from(floor, from)?;
    Ok((read.get(1).unchecked_into(), read.get(2)))
}

/// The move epoch and log of a `meta["moves"]` record (epoch 0, no moves: none yet);
/// each move's note is its logged entry.
fn moves_from_record(moves: &JsValue) -> Result<(u64, Vec<Move<JsValue>>)> {
    if moves.is_undefined() {
        return Ok((0, Vec::new()));
    }
    let log: Array = Reflect::get(moves, &"log".into()).map_err(js_error)?.unchecked_into();
    let place = |entry: &JsValue, key: &str| -> Result<Position> {
        let at = Reflect::get(entry, &key.into()).map_err(js_error)?;
        Ok(Position(version_field(&at, "position")?))
    };
    let log = log
        .iter()
        .map(|entry| {
            Ok(Move {
                epoch: version_field(&entry, "epoch")?,
                from: place(&entry, "from")?,
                to: place(&entry, "to")?,
                note: entry,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((version_field(moves, "epoch")?, log))
}
