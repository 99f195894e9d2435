//! Partial sync on the client: which part of the feed a device pulls, and where it is in
//! it. A [`FeedCursor`] is one or more [`FeedLane`]s, each a filter (or the whole feed)
//! and the feed position it has pulled through. Normally there is one lane; when the app
//! widens what it pulls, the newly wanted streams get a lane of their own that starts at
//! position 0 while the old lane carries on, so nothing already pulled is pulled again
//! (except the few events the two lanes share while the new one catches up, which
//! integration skips). Once every lane has reached the feed's head in a round, they
//! merge into one.

use crate::error::{Error, Result};
use crate::event::{Position, StreamId};
use crate::protocol::FeedFilter;

/// One part of the feed a device pulls, and the position pulled through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedLane {
    /// What this lane pulls; `None`: the whole feed.
    pub filter: Option<FeedFilter>,
    /// Every event of the lane's scope up to this feed position is local.
    pub position: Position,
}

/// Where a device is in the feed: the lanes it pulls (none: it pulls nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedCursor {
    /// The lanes, each read with its own requests.
    pub lanes: Vec<FeedLane>,
}

impl Default for FeedCursor {
    fn default() -> Self {
        FeedCursor::whole(Position(0))
    }
}

fn has(list: &[StreamId], id: &StreamId) -> bool {
    list.contains(id)
}

/// The items of `filter` that `wanted` names too.
fn intersect(filter: &FeedFilter, wanted: &FeedFilter) -> FeedFilter {
    FeedFilter {
        streams: filter.streams.iter().filter(|s| has(&wanted.streams, s)).cloned().collect(),
        prefixes: filter.prefixes.iter().filter(|p| has(&wanted.prefixes, p)).cloned().collect(),
    }
}

/// Both filters' items, without repeats.
fn union(a: &FeedFilter, b: &FeedFilter) -> FeedFilter {
    let mut out = a.clone();
    out.streams.extend(b.streams.iter().filter(|s| !has(&a.streams, s)).cloned());
    out.prefixes.extend(b.prefixes.iter().filter(|p| !has(&a.prefixes, p)).cloned());
    out
}

impl FeedCursor {
    /// One lane over the whole feed at `position` (a device that pulls everything).
    pub fn whole(position: Position) -> Self {
        FeedCursor { lanes: vec![FeedLane { filter: None, position }] }
    }

    /// The feed position through which every lane has pulled (the lowest lane; 0 for
    /// none): what a decision taken now has seen of the server.
    pub fn pulled_through(&self) -> Position {
        self.lanes.iter().map(|l| l.position).min().unwrap_or_default()
    }

    /// Aims the cursor at `wanted` (`None`: the whole feed), keeping what the lanes have
    /// already pulled: items no longer wanted leave their lane, newly wanted ones get a
    /// lane from position 0. Whether anything changed.
    pub fn rescope(&mut self, wanted: Option<&FeedFilter>) -> bool {
        let before = self.lanes.clone();
        match wanted {
            None => {
                if self.lanes.iter().any(|l| l.filter.is_none()) {
                    self.lanes.retain(|l| l.filter.is_none());
                } else {
                    self.lanes.push(FeedLane { filter: None, position: Position(0) });
                }
            }
            Some(wanted) => {
                for lane in &mut self.lanes {
                    lane.filter = Some(match &lane.filter {
                        None => wanted.clone(),
                        Some(filter) => intersect(filter, wanted),
                    });
                }
                self.lanes.retain(|l| l.filter.as_ref().is_some_and(|f| !f.is_empty()));
                let covered = self
                    .lanes
                    .iter()
                    .filter_map(|l| l.filter.as_ref())
                    .fold(FeedFilter::default(), |acc, f| union(&acc, f));
                let missing = FeedFilter {
                    streams: wanted
                        .streams
                        .iter()
                        .filter(|s| !has(&covered.streams, s))
                        .cloned()
                        .collect(),
                    prefixes: wanted
                        .prefixes
                        .iter()
                        .filter(|p| !has(&covered.prefixes, p))
                        .cloned()
                        .collect(),
                };
                if !missing.is_empty() {
                    self.lanes.push(FeedLane { filter: Some(missing), position: Position(0) });
                }
            }
        }
        self.lanes != before
    }

    /// Merges every lane into one at the lowest position (call it when each lane has
    /// reached the feed's head); whether anything changed.
    pub fn merge(&mut self) -> bool {
        if self.lanes.len() < 2 {
            return false;
        }
        let position = self.lanes.iter().map(|l| l.position).min().unwrap_or_default();
        let filter = self.lanes.iter().try_fold(FeedFilter::default(), |acc, lane| {
            lane.filter.as_ref().map(|f| union(&acc, f))
        });
        self.lanes = vec![FeedLane { filter, position }];
        true
    }

    /// The cursor as text (for a local store to keep): a line per lane, its position, then
    /// a tab and `s` or `p` before each stream or prefix of its filter (stream ids hold no
    /// control characters), or a lone tab for a filter of nothing; no tab: the whole feed.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for lane in &self.lanes {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&lane.position.0.to_string());
            if let Some(filter) = &lane.filter {
                if filter.is_empty() {
                    out.push('\t');
                }
                for (kind, ids) in [('s', &filter.streams), ('p', &filter.prefixes)] {
                    for id in ids {
                        out.push('\t');
                        out.push(kind);
                        out.push_str(id.as_str());
                    }
                }
            }
        }
        out
    }

    /// The cursor [`FeedCursor::encode`] wrote.
    pub fn decode(text: &str) -> Result<Self> {
        let mut lanes = Vec::new();
        for line in text.split('\n').filter(|line| !line.is_empty()) {
            let mut parts = line.split('\t');
            let position = parts.next().unwrap_or_default().parse().map_err(|_| corrupt())?;
            let mut filter = None;
            for part in parts {
                let filter = filter.get_or_insert_with(FeedFilter::default);
                let mut chars = part.chars();
                let list = match chars.next() {
                    None => continue,
                    Some('s') => &mut filter.streams,
                    Some('p') => &mut filter.prefixes,
                    Some(_) => return Err(corrupt()),
                };
                list.push(StreamId::new(chars.as_str())?);
            }
            lanes.push(FeedLane { filter, position: Position(position) });
        }
        Ok(FeedCursor { lanes })
    }
}

fn corrupt() -> Error {
    Error::invalid("feed cursor", "is not a stored feed cursor")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(streams: &[&str], prefixes: &[&str]) -> FeedFilter {
        FeedFilter {
            streams: streams.iter().map(|s| StreamId::new(*s).unwrap()).collect(),
            prefixes: prefixes.iter().map(|s| StreamId::new(*s).unwrap()).collect(),
        }
    }

    #[test]
    fn narrowing_keeps_the_position_widening_adds_a_lane_from_zero() {
        let mut cursor = FeedCursor::whole(Position(40));
        assert!(cursor.rescope(Some(&filter(&[], &["cart-"]))));
        assert_eq!(
            cursor.lanes,
            [FeedLane { filter: Some(filter(&[], &["cart-"])), position: Position(40) }]
        );
        assert!(!cursor.rescope(Some(&filter(&[], &["cart-"]))), "same filter: nothing changes");
        cursor.lanes[0].position = Position(50);
        assert!(cursor.rescope(Some(&filter(&["order 7"], &["cart-"]))));
        assert_eq!(
            cursor.lanes,
            [
                FeedLane { filter: Some(filter(&[], &["cart-"])), position: Position(50) },
                FeedLane { filter: Some(filter(&["order 7"], &[])), position: Position(0) },
            ]
        );
        cursor.lanes[1].position = Position(60);
        assert!(cursor.merge());
        assert_eq!(
            cursor.lanes,
            [FeedLane {
                filter: Some(filter(&[], &["cart-"]).clone())
                    .map(|f| union(&f, &filter(&["order 7"], &[]))),
                position: Position(50)
            }]
        );
        // Back to everything: a whole-feed lane from 0, the old lane keeps pulling.
        assert!(cursor.rescope(None));
        assert_eq!(cursor.lanes.len(), 2);
        assert_eq!(cursor.lanes[1], FeedLane { filter: None, position: Position(0) });
        cursor.merge();
        assert_eq!(cursor.lanes, [FeedLane { filter: None, position: Position(0) }]);
    }

    #[test]
    fn dropping_every_item_pulls_nothing() {
        let mut cursor = FeedCursor::whole(Position(9));
        assert!(cursor.rescope(Some(&FeedFilter::default())));
        assert!(cursor.lanes.is_empty());
        assert!(cursor.rescope(Some(&filter(&["a"], &[]))));
        assert_eq!(
            cursor.lanes,
            [FeedLane { filter: Some(filter(&["a"], &[])), position: Position(0) }]
        );
    }

    #[test]
    fn encodes_and_decodes() {
        for cursor in [
            FeedCursor::whole(Position(7)),
            FeedCursor { lanes: vec![] },
            FeedCursor {
                lanes: vec![
                    FeedLane {
                        filter: Some(filter(&["a b", "c&d=e+é"], &["x%"])),
                        position: Position(3),
                    },
                    FeedLane { filter: None, position: Position(0) },
                    FeedLane { filter: Some(FeedFilter::default()), position: Position(1) },
                ],
            },
        ] {
            assert_eq!(FeedCursor::decode(&cursor.encode()).unwrap(), cursor);
        }
        assert!(FeedCursor::decode("x").is_err());
        assert!(FeedCursor::decode("1\tq").is_err());
        assert!(FeedCursor::decode("1\ts").is_err(), "an empty stream id");
    }
}
