//! [`Upcasters`]: a registry of schema transforms, applied on read so projections see
//! every event at its type's latest schema while the stored events stay as written.

use std::collections::HashMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::event::{Event, EventType};

/// One transform: the event's `data` at schema `n` (and the whole event, for context)
/// to `data` at schema `n + 1`, or a reason why it cannot.
pub type UpcastFn<P> = Box<dyn Fn(P, &Event<P>) -> std::result::Result<P, String>>;

/// Schema transforms by `(event type, from schema)`. Registering `1 -> 2` and `2 -> 3`
/// for a type makes a chain: a schema-1 event goes through both, in order.
pub struct Upcasters<P> {
    steps: HashMap<(String, u32), UpcastFn<P>>,
}

impl<P> Default for Upcasters<P> {
    fn default() -> Self {
        Upcasters { steps: HashMap::new() }
    }
}

impl<P> fmt::Debug for Upcasters<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<_> = self.steps.keys().collect();
        keys.sort();
        f.debug_struct("Upcasters").field("steps", &keys).finish()
    }
}

impl<P: Clone> Upcasters<P> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `f`, raising `event_type` events from `from_schema` to `from_schema + 1`.
    /// A second transform for the same step is refused (it would be ambiguous).
    pub fn register(
        &mut self,
        event_type: &EventType,
        from_schema: u32,
        f: impl Fn(P, &Event<P>) -> std::result::Result<P, String> + 'static,
    ) -> Result<()> {
        if from_schema == 0 || from_schema == u32::MAX {
            return Err(Error::invalid("fromSchema", "must be a whole number from 1 to 2^32 - 2"));
        }
        let key = (event_type.as_str().to_string(), from_schema);
        if self.steps.contains_key(&key) {
            return Err(Error::invalid(
                "fromSchema",
                format!("an upcaster for {event_type} schema {from_schema} is already registered"),
            ));
        }
        self.steps.insert(key, Box::new(f));
        Ok(())
    }

    /// The schema an event of `event_type` at `schema` ends at after upcasting.
    pub fn latest_schema(&self, event_type: &EventType, schema: u32) -> u32 {
        let mut schema = schema;
        while schema < u32::MAX && self.steps.contains_key(&(event_type.as_str().to_string(), schema)) {
            schema += 1;
        }
        schema
    }

    /// Raises `event` through every registered step from its schema on. An event with no
    /// step is returned unchanged (no copy). On failure, returns the event as it was
    /// before the failing step and the step's reason.
    pub fn upcast(&self, mut event: Event<P>) -> std::result::Result<Event<P>, (Event<P>, String)> {
        if self.steps.is_empty() {
            return Ok(event);
        }
        let mut key = (event.event_type.as_str().to_string(), event.schema);
        // The schema strictly increases and the registry is finite: this ends.
        while let Some(step) = self.steps.get(&key) {
            match step(event.data.clone(), &event) {
                Ok(data) => {
                    event.data = data;
                    event.schema += 1;
                    key.1 = event.schema;
                }
                Err(message) => {
                    let message = format!(
                        "upcaster {} schema {} -> {} failed: {message}",
                        event.event_type,
                        event.schema,
                        event.schema + 1
                    );
                    return Err((event, message));
                }
            }
        }
        Ok(event)
    }
}
