//! Reading: one stream by version range, the global log by position, the stream heads.
//! Reads hand IndexedDB's own result arrays to JS: the records already have the public
//! event shape, so there is no conversion per event.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::IdbKeyRange;

use super::{IndexedDbStore, BY_STREAM, EVENTS, HEAD_KEY, META, STREAMS, SYNCED_VERSION};
use crate::error::Result;
use crate::event::{Position, StreamId, Version};
use crate::store::{Direction, ReadOptions};
use crate::web::convert::{js_error, set, synced_version_field, version_field};
use crate::web::idb::request;

impl IndexedDbStore {
    /// Reads one stream as IndexedDB's own array of event records (the public JS shape),
    /// in the requested direction. No per-event conversion.
    pub async fn read_records(&self, stream: &StreamId, options: ReadOptions) -> Result<Array> {
        let stream_key = JsValue::from_str(stream.as_str());
        // Versions are dense (1..=head), so a forward read is one range query that needs
        // no head lookup: a range past the head simply returns fewer records. A backward
        // read must know where the stream ends.
        let (tx, head) = if options.direction == Direction::Forward {
            (self.begin(&[EVENTS], false)?, Version(crate::event::MAX_SAFE_INTEGER))
        } else {
            let tx = self.begin(&[EVENTS, STREAMS], false)?;
            let head = request(tx.store(STREAMS)?.get(&stream_key))?;
            let head = Version(version_field(&head.await?, "version")?);
            (tx, head)
        };
        self.count_read(0);
        let Some((low, high)) = options.version_range(head) else {
            return Ok(Array::new());
        };
        let range = IdbKeyRange::bound(
            &Array::of2(&stream_key, &low.as_f64().into()),
            &Array::of2(&stream_key, &high.as_f64().into()),
        )
        .map_err(js_error)?;
        let index = tx.store(EVENTS)?.index(BY_STREAM).map_err(js_error)?;
        let records: Array = request(index.get_all_with_key(&range))?.await?.unchecked_into();
        if options.direction == Direction::Backward {
            records.reverse();
        }
        self.count_read(records.length());
        Ok(records)
    }

    /// Reads the global log from `from` (inclusive) as an array of event records.
    pub async fn read_all_records(&self, from: Position, limit: usize) -> Result<Array> {
        let tx = self.begin(&[EVENTS], false)?;
        self.count_read(0);
        if limit == 0 {
            return Ok(Array::new());
        }
        let range =
            IdbKeyRange::lower_bound(&JsValue::from_f64(from.0.max(1) as f64)).map_err(js_error)?;
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let records: Array = request(tx.store(EVENTS)?.get_all_with_key_and_limit(&range, limit))?
            .await?
            .unchecked_into();
        self.count_read(records.length());
        Ok(records)
    }

    /// Lists the stream head records `{stream, version, lastPosition, syncedVersion}`.
    pub async fn stream_records(&self) -> Result<Array> {
        let tx = self.begin(&[STREAMS], false)?;
        self.count_read(0);
        let records: Array = request(tx.store(STREAMS)?.get_all())?.await?.unchecked_into();
        // The public shape only (the stored heads also carry sync bookkeeping); records
        // written before schema 3 have no syncedVersion: nothing of them is synced.
        records
            .iter()
            .map(|record| {
                let out = Object::new();
                set(&out, "stream", &Reflect::get(&record, &"stream".into()).map_err(js_error)?)?;
                set(&out, "version", &Reflect::get(&record, &"version".into()).map_err(js_error)?)?;
                set(
                    &out,
                    "lastPosition",
                    &Reflect::get(&record, &"lastPosition".into()).map_err(js_error)?,
                )?;
                set(&out, SYNCED_VERSION, &(synced_version_field(&record)? as f64).into())?;
                Ok(JsValue::from(out))
            })
            .collect()
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
