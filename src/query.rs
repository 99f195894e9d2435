//! Reads across streams and the consistency rules built on them: a [`Query`] selects
//! events of the whole log by type and [`Tag`], and an [`AppendCondition`] makes an
//! append fail when an event it selects was stored after the position the caller's
//! decision was made at (the Dynamic Consistency Boundary model: a rule such as "a
//! username is claimed once across all accounts" spans every stream that mentions the
//! username, not one stream).
//!
//! - A query is `"all"` or a non-empty list of items, ORed together. An item matches an
//!   event whose type is one of its `types` (when given) and that carries every one of its
//!   `tags` (when given); an item gives at least one of the two.
//! - A condition is `{ failIfEventsMatch: query, after?: position }`: the append fails
//!   with [`Error::AppendCondition`] when an event after `after` (every event, without
//!   it) matches. Stores check it in the same atomic step as the write.
//!
//! The JSON form (the sync protocol's pushes) is the JS one: `"all"` or
//! `[{ "types": [..], "tags": [..] }]`, and `{ "failIfEventsMatch": .., "after": n }`;
//! unknown keys are refused.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::event::{
    tags_from_strings, Event, EventId, EventType, Position, StreamId, Tag, MAX_SAFE_INTEGER,
};

/// Most items one query lists.
pub const MAX_QUERY_ITEMS: usize = 64;
/// Most types one query item lists.
pub const MAX_ITEM_TYPES: usize = 64;

/// One item of a [`Query`]: the events of one of `types` (any type when empty) that carry
/// every one of `tags` (no tag needed when empty). Never both empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryItem {
    types: Vec<EventType>,
    tags: Vec<Tag>,
}

impl QueryItem {
    /// Validates an item given as strings; `field` is its path for errors (e.g.
    /// `"query[1]"`). `None` and an absent key are the same; an empty list is refused
    /// (it would match nothing, or everything: leave the key out instead).
    pub fn new(field: &str, types: Option<Vec<String>>, tags: Option<Vec<String>>) -> Result<Self> {
        if types.is_none() && tags.is_none() {
            return Err(Error::invalid(field, "must give types, tags or both"));
        }
        let types = match types {
            None => Vec::new(),
            Some(list) => {
                let path = format!("{field}.types");
                if list.is_empty() {
                    return Err(Error::invalid(
                        path,
                        "must not be empty (leave it out for any type)",
                    ));
                }
                if list.len() > MAX_ITEM_TYPES {
                    return Err(Error::invalid(
                        path,
                        format!("has {} types; an item lists at most {MAX_ITEM_TYPES}", list.len()),
                    ));
                }
                let mut checked = Vec::with_capacity(list.len());
                for (i, t) in list.into_iter().enumerate() {
                    checked.push(EventType::new(t).map_err(|e| e.at(format!("{path}[{i}]")))?);
                }
                checked
            }
        };
        let tags = match tags {
            None => Vec::new(),
            Some(list) => {
                let path = format!("{field}.tags");
                if list.is_empty() {
                    return Err(Error::invalid(
                        path,
                        "must not be empty (leave it out for no tag)",
                    ));
                }
                // An event carries at most MAX_TAGS tags, so an item needing more
                // could never match: the same limits as an event's tags.
                tags_from_strings(&path, list)?
            }
        };
        Ok(QueryItem { types, tags })
    }

    /// An item matching the events of one of `types` (checked values, no validation
    /// needed beyond non-emptiness, which the caller guarantees by giving at least one).
    pub fn of_types(types: Vec<EventType>) -> Self {
        QueryItem { types, tags: Vec::new() }
    }

    /// Adds required tags (builder).
    pub fn with_tags(mut self, tags: Vec<Tag>) -> Self {
        self.tags = tags;
        self
    }

    /// An item matching every event carrying all of `tags`.
    pub fn of_tags(tags: Vec<Tag>) -> Self {
        QueryItem { types: Vec::new(), tags }
    }

    /// The types (empty: any type).
    pub fn types(&self) -> &[EventType] {
        &self.types
    }

    /// The required tags (empty: none).
    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    /// Whether an event of `event_type` carrying `tags` matches.
    pub fn matches(&self, event_type: &EventType, tags: &[Tag]) -> bool {
        (self.types.is_empty() || self.types.contains(event_type))
            && self.tags.iter().all(|t| tags.contains(t))
    }
}

/// Which events a read or a condition selects (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// Every event (`"all"`).
    All,
    /// The events matching at least one item (never empty).
    Items(Vec<QueryItem>),
}

impl Query {
    /// A query of `items`: 1..=[`MAX_QUERY_ITEMS`] of them.
    pub fn items(field: &str, items: Vec<QueryItem>) -> Result<Self> {
        if items.is_empty() {
            return Err(Error::invalid(
                field,
                "must list at least one item (or be \"all\" for every event)",
            ));
        }
        if items.len() > MAX_QUERY_ITEMS {
            return Err(Error::invalid(
                field,
                format!("has {} items; a query lists at most {MAX_QUERY_ITEMS}", items.len()),
            ));
        }
        Ok(Query::Items(items))
    }

    /// Whether an event of `event_type` carrying `tags` matches.
    pub fn matches(&self, event_type: &EventType, tags: &[Tag]) -> bool {
        match self {
            Query::All => true,
            Query::Items(items) => items.iter().any(|i| i.matches(event_type, tags)),
        }
    }

    /// Whether `event` matches.
    pub fn matches_event<P>(&self, event: &Event<P>) -> bool {
        self.matches(&event.event_type, &event.tags)
    }
}

/// Options of a query read: `after` (exclusive lower bound on positions; `None`: from the
/// start), `backwards` (newest first: the last `limit` matching events after `after`),
/// `limit` (most events returned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryOptions {
    /// Only events at positions greater than this.
    pub after: Option<Position>,
    /// Newest first.
    pub backwards: bool,
    /// Most events returned.
    pub limit: usize,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions { after: None, backwards: false, limit: usize::MAX }
    }
}

/// An append's consistency rule: fail when an event after `after` matches
/// `fail_if_events_match` (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendCondition {
    /// The query whose matches make the append fail.
    pub fail_if_events_match: Query,
    /// Only events after this position count (`None`: every event).
    pub after: Option<Position>,
}

impl AppendCondition {
    /// The lowest position that counts (`after + 1`).
    pub fn first_position(&self) -> Position {
        Position(self.after.map_or(0, |a| a.0).saturating_add(1))
    }

    /// The error for `event` matching this condition, or `Ok` when it does not count
    /// (at or before `after`, or not matching): the one check every store runs on the
    /// candidates it finds.
    pub fn check<P>(&self, stream: &StreamId, event: &Event<P>) -> Result<()> {
        if event.position < self.first_position() || !self.fail_if_events_match.matches_event(event)
        {
            return Ok(());
        }
        Err(self.violation(stream, event.position, event.id.clone()))
    }

    /// The error of an append to `stream` refused because the event `event_id` at
    /// `position` matches this condition.
    pub fn violation(&self, stream: &StreamId, position: Position, event_id: EventId) -> Error {
        Error::AppendCondition { stream: stream.clone(), position, event_id, after: self.after }
    }
}

/// Merges ascending, duplicate-free `next` into ascending, duplicate-free `acc` (the union
/// of two index lists). A merge, not a sort: the stores' candidate lists come sorted, and
/// a sort would add kilobytes of code to the browser's wasm.
pub fn merge_ascending<T: Ord + Copy>(acc: Vec<T>, next: &[T]) -> Vec<T> {
    if acc.is_empty() {
        return next.to_vec();
    }
    let mut out = Vec::with_capacity(acc.len() + next.len());
    let (mut i, mut j) = (0, 0);
    while i < acc.len() || j < next.len() {
        let take = match (acc.get(i), next.get(j)) {
            (Some(&a), Some(&b)) if a == b => {
                j += 1;
                i += 1;
                a
            }
            (Some(&a), Some(&b)) if a < b => {
                i += 1;
                a
            }
            (_, Some(&b)) => {
                j += 1;
                b
            }
            (Some(&a), None) => {
                i += 1;
                a
            }
            (None, None) => break,
        };
        out.push(take);
    }
    out
}

// ---- JSON (the sync protocol) ------------------------------------------------------------

impl Serialize for QueryItem {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let len = usize::from(!self.types.is_empty()) + usize::from(!self.tags.is_empty());
        let mut map = s.serialize_map(Some(len))?;
        if !self.types.is_empty() {
            map.serialize_entry("types", &self.types)?;
        }
        if !self.tags.is_empty() {
            map.serialize_entry("tags", &self.tags)?;
        }
        map.end()
    }
}

impl Serialize for Query {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Query::All => s.serialize_str("all"),
            Query::Items(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    types: Option<Vec<String>>,
    tags: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct QueryVisitor;
        impl<'de> Visitor<'de> for QueryVisitor {
            type Value = Query;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"all\" or a list of query items")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Query, E> {
                if v == "all" {
                    Ok(Query::All)
                } else {
                    Err(E::custom("a query string must be \"all\""))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Query, A::Error> {
                let mut items = Vec::new();
                while let Some(raw) = seq.next_element::<RawItem>()? {
                    let field = format!("query[{}]", items.len());
                    items.push(
                        QueryItem::new(&field, raw.types, raw.tags).map_err(de::Error::custom)?,
                    );
                    if items.len() > MAX_QUERY_ITEMS {
                        break;
                    }
                }
                Query::items("query", items).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(QueryVisitor)
    }
}

impl Serialize for AppendCondition {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1 + usize::from(self.after.is_some())))?;
        map.serialize_entry("failIfEventsMatch", &self.fail_if_events_match)?;
        if let Some(after) = self.after {
            map.serialize_entry("after", &after.0)?;
        }
        map.end()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCondition {
    fail_if_events_match: Query,
    after: Option<u64>,
}

impl<'de> Deserialize<'de> for AppendCondition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let raw = RawCondition::deserialize(d)?;
        if raw.after.is_some_and(|a| a > MAX_SAFE_INTEGER) {
            return Err(de::Error::custom("condition.after exceeds Number.MAX_SAFE_INTEGER"));
        }
        Ok(AppendCondition {
            fail_if_events_match: raw.fail_if_events_match,
            after: raw.after.map(Position),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Version;
    use proptest::prelude::*;

    fn strings(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|s| s.to_string()).collect())
    }

    fn item(types: Option<&[&str]>, tags: Option<&[&str]>) -> QueryItem {
        QueryItem::new("query[0]", types.and_then(strings), tags.and_then(strings)).unwrap()
    }

    fn tag(t: &str) -> Tag {
        Tag::new(t).unwrap()
    }

    fn ty(t: &str) -> EventType {
        EventType::new(t).unwrap()
    }

    fn event(position: u64, event_type: &str, tags: &[&str]) -> Event<()> {
        Event {
            id: EventId::new(format!("e{position}")).unwrap(),
            stream: StreamId::new("s").unwrap(),
            version: Version(1),
            position: Position(position),
            event_type: ty(event_type),
            tags: tags.iter().map(|t| tag(t)).collect(),
            data: (),
            meta: None,
            recorded_at: 0,
            schema: 1,
        }
    }

    #[test]
    fn item_semantics() {
        let claimed = item(Some(&["UsernameClaimed", "UsernameReleased"]), Some(&["username:ada"]));
        assert!(claimed.matches(&ty("UsernameClaimed"), &[tag("username:ada"), tag("account:1")]));
        assert!(!claimed.matches(&ty("UsernameClaimed"), &[tag("username:bob")]));
        assert!(!claimed.matches(&ty("Other"), &[tag("username:ada")]));
        let both_tags = item(None, Some(&["course:c1", "student:s1"]));
        assert!(both_tags.matches(&ty("Any"), &[tag("student:s1"), tag("course:c1")]));
        assert!(!both_tags.matches(&ty("Any"), &[tag("course:c1")]), "all tags are needed");
        let only_type = item(Some(&["A"]), None);
        assert!(only_type.matches(&ty("A"), &[]));
        let q = Query::items("query", vec![only_type, both_tags]).unwrap();
        assert!(q.matches(&ty("A"), &[]), "items are ORed");
        assert!(q.matches(&ty("B"), &[tag("course:c1"), tag("student:s1")]));
        assert!(!q.matches(&ty("B"), &[tag("course:c1")]));
        assert!(Query::All.matches(&ty("B"), &[]));
    }

    #[test]
    fn bad_items_name_their_field() {
        let err = |types: Option<Vec<String>>, tags: Option<Vec<String>>| {
            let e = QueryItem::new("condition.failIfEventsMatch[2]", types, tags).unwrap_err();
            assert_eq!(e.js_name(), "InvalidInputError");
            e.to_string()
        };
        assert_eq!(
            err(None, None),
            "invalid condition.failIfEventsMatch[2]: must give types, tags or both"
        );
        assert!(err(strings(&[]), None)
            .starts_with("invalid condition.failIfEventsMatch[2].types: must not be empty"));
        assert!(err(None, strings(&[]))
            .starts_with("invalid condition.failIfEventsMatch[2].tags: must not be empty"));
        assert_eq!(
            err(strings(&["A", ""]), None),
            "invalid condition.failIfEventsMatch[2].types[1]: must not be empty"
        );
        assert_eq!(
            err(None, strings(&["ok", "a\u{7}"])),
            "invalid condition.failIfEventsMatch[2].tags[1]: must not contain control characters (found U+0007)"
        );
        assert!(Query::items("query", vec![]).is_err());
        let many = vec![item(Some(&["A"]), None); MAX_QUERY_ITEMS + 1];
        assert!(Query::items("query", many).unwrap_err().to_string().contains("at most 64"));
    }

    #[test]
    fn merges_ascending_lists() {
        assert_eq!(merge_ascending(vec![], &[2, 5]), [2, 5]);
        assert_eq!(merge_ascending(vec![1, 4, 5], &[]), [1, 4, 5]);
        assert_eq!(merge_ascending(vec![1, 4, 5, 9], &[2, 4, 6, 9, 10]), [1, 2, 4, 5, 6, 9, 10]);
    }

    #[test]
    fn condition_checks_only_after_its_position() {
        let s = StreamId::new("s").unwrap();
        let condition = AppendCondition {
            fail_if_events_match: Query::Items(vec![item(None, Some(&["username:ada"]))]),
            after: Some(Position(3)),
        };
        assert!(condition.check(&s, &event(3, "Claimed", &["username:ada"])).is_ok());
        assert!(condition.check(&s, &event(4, "Claimed", &["username:bob"])).is_ok());
        let e = condition.check(&s, &event(5, "Claimed", &["username:ada"])).unwrap_err();
        assert_eq!(
            e,
            Error::AppendCondition {
                stream: s.clone(),
                position: Position(5),
                event_id: EventId::new("e5").unwrap(),
                after: Some(Position(3)),
            }
        );
        let always = AppendCondition { fail_if_events_match: Query::All, after: None };
        assert!(always.check(&s, &event(1, "X", &[])).is_err());
    }

    #[cfg(feature = "server")]
    #[test]
    fn json_round_trip_and_refusals() {
        let condition = AppendCondition {
            fail_if_events_match: Query::Items(vec![
                item(Some(&["UsernameClaimed"]), Some(&["username:ada"])),
                item(None, Some(&["account:1"])),
            ]),
            after: Some(Position(12)),
        };
        let json = serde_json::to_string(&condition).unwrap();
        assert_eq!(
            json,
            r#"{"failIfEventsMatch":[{"types":["UsernameClaimed"],"tags":["username:ada"]},{"tags":["account:1"]}],"after":12}"#
        );
        assert_eq!(serde_json::from_str::<AppendCondition>(&json).unwrap(), condition);
        let all: AppendCondition = serde_json::from_str(r#"{"failIfEventsMatch":"all"}"#).unwrap();
        assert_eq!(all, AppendCondition { fail_if_events_match: Query::All, after: None });
        for bad in [
            r#"{"failIfEventsMatch":"some"}"#,
            r#"{"failIfEventsMatch":[]}"#,
            r#"{"failIfEventsMatch":[{}]}"#,
            r#"{"failIfEventsMatch":[{"tags":[1]}]}"#,
            r#"{"failIfEventsMatch":[{"tags":["a"],"kinds":["b"]}]}"#,
            r#"{"failIfEventsMatch":"all","after":-1}"#,
            r#"{"failIfEventsMatch":"all","after":9007199254740992}"#,
            r#"{"failIfEventsMatch":"all","before":3}"#,
        ] {
            assert!(serde_json::from_str::<AppendCondition>(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// The merge is the sorted union of its inputs.
        #[test]
        fn merge_is_the_sorted_union(
            a in proptest::collection::btree_set(0u32..50, 0..20),
            b in proptest::collection::btree_set(0u32..50, 0..20),
        ) {
            let a: Vec<u32> = a.into_iter().collect();
            let b: Vec<u32> = b.into_iter().collect();
            let union: std::collections::BTreeSet<u32> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(merge_ascending(a, &b), union.into_iter().collect::<Vec<_>>());
        }

        /// Matching follows the definition: some item whose type list is empty or has
        /// the event's type, and whose tags are all on the event.
        #[test]
        fn matching_follows_the_definition(
            items in proptest::collection::vec(
                (proptest::collection::vec(0u8..4, 0..3), proptest::collection::vec(0u8..5, 0..3)),
                1..4,
            ),
            event_type in 0u8..4,
            event_tags in proptest::collection::btree_set(0u8..5, 0..4),
        ) {
            let items: Vec<QueryItem> = items
                .into_iter()
                .filter(|(types, tags)| !types.is_empty() || !tags.is_empty())
                .map(|(types, tags)| {
                    let mut tags: Vec<u8> = tags;
                    tags.sort_unstable();
                    tags.dedup();
                    QueryItem {
                        types: types.iter().map(|t| ty(&format!("T{t}"))).collect(),
                        tags: tags.iter().map(|t| tag(&format!("t{t}"))).collect(),
                    }
                })
                .collect();
            prop_assume!(!items.is_empty());
            let query = Query::items("query", items.clone()).unwrap();
            let et = ty(&format!("T{event_type}"));
            let etags: Vec<Tag> = event_tags.iter().map(|t| tag(&format!("t{t}"))).collect();
            let expected = items.iter().any(|i| {
                (i.types.is_empty() || i.types.contains(&et))
                    && i.tags.iter().all(|t| etags.iter().any(|e| e == t))
            });
            prop_assert_eq!(query.matches(&et, &etags), expected);
            prop_assert!(Query::All.matches(&et, &etags));
        }

        /// Any string lists either validate or give an InvalidInputError; never a panic.
        #[test]
        fn item_validation_never_panics(
            types in proptest::option::of(proptest::collection::vec(any::<String>(), 0..3)),
            tags in proptest::option::of(proptest::collection::vec(any::<String>(), 0..3)),
        ) {
            if let Err(e) = QueryItem::new("q[0]", types, tags) {
                prop_assert_eq!(e.js_name(), "InvalidInputError");
            }
        }
    }
}
