//! The seeded soak: N clients x M events over shared streams, every request through a
//! faulty wire in front of the real server handler, faults drawn at random by kind:
//!
//! | kind | what the wire does |
//! |---|---|
//! | `5xx` | answers 500/502/504 without applying |
//! | `429+RA` / `503+RA` | answers with `Retry-After` without applying |
//! | `reset_before` | connection reset before the request reaches the server |
//! | `reset_after` | the server applies the request, the answer is lost |
//! | `timeout` | the client gives up; the request reaches the server *later* (delivered before the next request on that wire) |
//! | `412_writer` | a concurrent writer appends to the stream just before the push arrives |
//! | `413` | answers 413 to a batch of two or more events |
//! | `401` | the token is revoked: every request is 401 until the app sets a new one |
//!
//! Then faults stop and every client runs rounds until all have converged. Checks: every
//! event exactly once on the server (by id and by payload), each client's events in its
//! append order per stream, every client holding exactly the server's order, no dead
//! letters, no conflicts. One report line is printed.
//!
//! `cargo test` runs a small size; `make soak SIZE=<events per client>` runs
//! `soak_at_size` (ignored by default) in release with `SOAK_SIZE`, `SOAK_CLIENTS`,
//! `SOAK_SEED`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use super::*;
use crate::server::ServerEvent;

/// A small deterministic generator (splitmix64) for the soak's own choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const KINDS: [&str; 9] = [
    "5xx",
    "429+RA",
    "503+RA",
    "reset_before",
    "reset_after",
    "timeout",
    "412_writer",
    "413",
    "401",
];

/// The shared fault plan: one random source and the tallies, for every wire.
struct Faults {
    rng: RefCell<Rng>,
    /// Percent of requests that meet a fault while faults are on.
    rate: Cell<u64>,
    injected: RefCell<BTreeMap<&'static str, u64>>,
    ghost_ids: RefCell<HashSet<String>>,
    ghosts: Cell<u64>,
}

impl Faults {
    fn pick(&self, push_of: Option<usize>) -> Option<&'static str> {
        let mut rng = self.rng.borrow_mut();
        if !rng.chance(self.rate.get()) {
            return None;
        }
        let kind = KINDS[rng.below(KINDS.len() as u64) as usize];
        let fits = match kind {
            "412_writer" => push_of.is_some(),
            "413" => push_of.is_some_and(|n| n >= 2),
            _ => true,
        };
        fits.then(|| {
            *self.injected.borrow_mut().entry(kind).or_default() += 1;
            kind
        })
    }
}

/// One client's wire to the shared server.
struct SoakTransport {
    server: Rc<MemoryServerStore>,
    config: Config,
    faults: Rc<Faults>,
    /// Requests that timed out on the client, still travelling to the server.
    late: RefCell<Vec<Request>>,
    revoked: Cell<bool>,
}

impl SoakTransport {
    fn apply(&self, request: Request) -> crate::server::Response {
        block_on(handle(&*self.server, &self.config, request))
    }

    fn exchange(
        &self,
        request: Request,
        push_of: Option<usize>,
        stream: Option<&StreamId>,
    ) -> Option<crate::server::Response> {
        for late in self.late.borrow_mut().drain(..) {
            let _ = self.apply(late);
        }
        if self.revoked.get() {
            return Some(crate::server::Response::error(
                401,
                "unauthorized",
                "the bearer token is not valid",
            ));
        }
        let retry_after = || 1 + self.faults.rng.borrow_mut().below(3);
        match self.faults.pick(push_of) {
            None => Some(self.apply(request)),
            Some("5xx") => {
                let status = [500, 502, 504][self.faults.rng.borrow_mut().below(3) as usize];
                Some(crate::server::Response::error(status, "internal", "injected"))
            }
            Some("429+RA") => Some(
                crate::server::Response::error(429, "busy", "slow down")
                    .with_retry_after(retry_after()),
            ),
            Some("503+RA") => Some(
                crate::server::Response::error(503, "unavailable", "later")
                    .with_retry_after(retry_after()),
            ),
            Some("reset_before") => None,
            Some("reset_after") => {
                let _ = self.apply(request);
                None
            }
            Some("timeout") => {
                self.late.borrow_mut().push(request);
                None
            }
            Some("412_writer") => {
                let ghost = self.faults.ghosts.get() + 1;
                self.faults.ghosts.set(ghost);
                let id = format!("ghost-{ghost}");
                self.faults.ghost_ids.borrow_mut().insert(id.clone());
                let body = json!({"events": [{"id": id, "type": "Ghost", "data": {"ghost": ghost}, "recordedAt": 1_700_000_000_000u64}]});
                let segment =
                    stream.and_then(|s| encode_stream_segment(s).ok()).unwrap_or_default();
                // `If-Match: *` needs the stream to exist; `If-None-Match: *` that it does not.
                let status = [("If-Match", "*"), ("If-None-Match", "*")]
                    .into_iter()
                    .map(|(name, value)| {
                        let write = Request::new("POST", format!("/streams/{segment}"))
                            .with_header(name, value)
                            .with_body(body.to_string());
                        self.apply(write).status
                    })
                    .find(|status| *status != 412);
                assert_eq!(status, Some(201), "the concurrent writer's push");
                Some(self.apply(request))
            }
            Some("413") => {
                Some(crate::server::Response::error(413, "batch_too_large", "split the batch"))
            }
            Some(_) => {
                self.revoked.set(true);
                Some(crate::server::Response::error(
                    401,
                    "unauthorized",
                    "the bearer token is not valid",
                ))
            }
        }
    }
}

impl Transport for SoakTransport {
    type Payload = Value;

    async fn push(
        &self,
        stream: &StreamId,
        base_version: Version,
        events: &[PushEvent<Value>],
        conditions: &[PushCondition],
    ) -> PushOutcome {
        http::push_outcome(self.exchange(
            http::push_request(stream, base_version, events, conditions),
            Some(events.len()),
            Some(stream),
        ))
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after: Version,
        limit: u32,
    ) -> ReadOutcome<StreamReadResponse<Value>> {
        http::read_outcome(self.exchange(http::stream_request(stream, after, limit), None, None))
    }

    async fn read_feed(
        &self,
        after: Position,
        limit: u32,
        filter: Option<&FeedFilter>,
    ) -> ReadOutcome<FeedReadResponse<Value>> {
        http::read_outcome(self.exchange(http::feed_request(after, limit, filter), None, None))
    }
}

/// The figures of one soak run.
#[derive(Debug)]
pub(super) struct SoakReport {
    seed: u64,
    clients: usize,
    events: usize,
    ghosts: u64,
    injected: BTreeMap<&'static str, u64>,
    token_fixes: u64,
    duplicates: usize,
    losses: usize,
    rounds: u64,
    drain_rounds: u64,
    converge_sim_ms: u64,
    wall_ms: u128,
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let faults: u64 = self.injected.values().sum();
        let kinds: Vec<String> = KINDS
            .iter()
            .map(|k| format!("{k}={}", self.injected.get(k).copied().unwrap_or(0)))
            .collect();
        write!(
            f,
            "soak seed={} clients={} events={} (+{} concurrent-writer events) faults={} [{}] token_fixes={} duplicates={} losses={} rounds={} converge_rounds={} converge_sim_ms={} wall_ms={}",
            self.seed, self.clients, self.events, self.ghosts, faults, kinds.join(" "), self.token_fixes,
            self.duplicates, self.losses, self.rounds, self.drain_rounds, self.converge_sim_ms, self.wall_ms
        )
    }
}

/// Runs one soak; panics (with the seed) on any lost, duplicated or misordered event.
pub(super) fn soak(
    seed: u64,
    clients: usize,
    events_per_client: usize,
    streams: usize,
    fault_rate: u64,
) -> SoakReport {
    let started = Instant::now();
    let env = TestEnv::new(seed);
    let server = Rc::new(MemoryServerStore::new());
    let faults = Rc::new(Faults {
        rng: RefCell::new(Rng(seed)),
        rate: Cell::new(fault_rate),
        injected: RefCell::default(),
        ghost_ids: RefCell::default(),
        ghosts: Cell::new(0),
    });
    let options = SyncOptions {
        retry: RetryPolicy { base_ms: 100, cap_ms: 2_000 },
        limits: crate::outbox::BatchLimits { max_events: 8, ..Default::default() },
        ..SyncOptions::default()
    };
    let stores: Vec<Client> = (0..clients).map(|_| client(&env)).collect();
    let engines: Vec<SyncEngine<SoakTransport>> = (0..clients)
        .map(|_| {
            let wire = SoakTransport {
                server: server.clone(),
                config: Config::default(),
                faults: faults.clone(),
                late: RefCell::default(),
                revoked: Cell::new(false),
            };
            SyncEngine::new(wire, options.clone())
        })
        .collect();
    let mut token_fixes = 0u64;
    let mut rounds = 0u64;
    let mut round = |who: usize, token_fixes: &mut u64| -> SyncReport {
        rounds += 1;
        let report = block_on(engines[who].run(&stores[who], &env))
            .unwrap_or_else(|e| panic!("seed {seed}: round failed: {e}"));
        if report.paused.is_some() {
            // The app notices `auth` and sets a fresh token.
            engines[who].transport().revoked.set(false);
            *token_fixes += 1;
        }
        report
    };
    // Appends, interleaved with rounds of random clients, while faults fly.
    let mut written: Vec<Vec<(String, u64)>> = vec![Vec::new(); clients];
    let mut rng = Rng(seed ^ 0x5eed);
    let mut left: Vec<usize> = vec![events_per_client; clients];
    while left.iter().any(|n| *n > 0) {
        let who = rng.below(clients as u64) as usize;
        if left[who] > 0 {
            let stream = format!("s{}", rng.below(streams as u64));
            let count = (1 + rng.below(4) as usize).min(left[who]);
            let values: Vec<u64> = (0..count)
                .map(|_| {
                    let n = events_per_client - left[who];
                    left[who] -= 1;
                    n as u64
                })
                .collect();
            let batch = values
                .iter()
                .map(|n| {
                    NewEvent::new(
                        EventType::new("N").unwrap_or_else(|_| unreachable!()),
                        json!({"c": who, "n": n}),
                    )
                })
                .collect();
            block_on(stores[who].append(&sid(&stream), ExpectedVersion::Any, batch))
                .unwrap_or_else(|e| panic!("seed {seed}: append: {e}"));
            written[who].extend(values.into_iter().map(|n| (stream.clone(), n)));
        }
        if rng.chance(60) {
            round(who, &mut token_fixes);
        }
        env.advance(rng.below(300));
    }
    // Drain: faults stop; rounds for everyone until nothing is pending and a full pass
    // over the clients moved nothing.
    faults.rate.set(0);
    let drain_start = env.now_ms();
    let mut drain_rounds = 0u64;
    loop {
        drain_rounds += 1;
        assert!(drain_rounds < 10_000, "seed {seed}: did not converge");
        let mut moved = false;
        let mut next: Option<u64> = None;
        for who in 0..clients {
            let report = round(who, &mut token_fixes);
            moved |= report.pushed > 0
                || report.pulled > 0
                || report.conflicted > 0
                || report.more_now
                || report.paused.is_some();
            if let Some(at) = report.next_attempt_at {
                next = Some(next.map_or(at, |n: u64| n.min(at)));
            }
        }
        let pending: usize =
            stores.iter().map(|s| block_on(s.outbox()).map_or(1, |o| o.len())).sum();
        if pending == 0 && !moved {
            break;
        }
        env.advance(next.map_or(10, |t| t.saturating_sub(env.now_ms()) + 1));
    }
    let converge_sim_ms = env.now_ms() - drain_start;

    // Exactly once, by id and by payload.
    let all = server.all_events();
    let mut ids = HashSet::new();
    let mut duplicates = 0;
    let mut seen: HashMap<(u64, u64), usize> = HashMap::new();
    for e in &all {
        if !ids.insert(e.id.clone()) {
            duplicates += 1;
        }
        if let (Some(c), Some(n)) =
            (e.data.get("c").and_then(Value::as_u64), e.data.get("n").and_then(Value::as_u64))
        {
            *seen.entry((c, n)).or_default() += 1;
        }
    }
    duplicates += seen.values().filter(|n| **n > 1).map(|n| n - 1).sum::<usize>();
    let losses = written
        .iter()
        .enumerate()
        .map(|(c, w)| w.iter().filter(|(_, n)| !seen.contains_key(&(c as u64, *n))).count())
        .sum();
    let ghosts = faults.ghosts.get();
    let report = SoakReport {
        seed,
        clients,
        events: clients * events_per_client,
        ghosts,
        injected: faults.injected.borrow().clone(),
        token_fixes,
        duplicates,
        losses,
        rounds,
        drain_rounds,
        converge_sim_ms,
        wall_ms: started.elapsed().as_millis(),
    };
    if losses > 0 && std::env::var("SOAK_DEBUG").is_ok() {
        for (c, w) in written.iter().enumerate() {
            for (st, n) in w.iter().filter(|(_, n)| !seen.contains_key(&(c as u64, *n))) {
                let local =
                    block_on(stores[c].read(&sid(st), ReadOptions::default())).unwrap_or_default();
                let here: Vec<_> = local
                    .iter()
                    .filter(|e| e.data == json!({"c": c, "n": n}))
                    .map(|e| (e.id.to_string(), e.version.0))
                    .collect();
                eprintln!(
                    "lost: client {c} {st} n={n} local={here:?} dead={:?} conflicts={}",
                    stores[c]
                        .dead_letters()
                        .iter()
                        .map(|d| (d.failure.clone(), d.events.len()))
                        .collect::<Vec<_>>(),
                    stores[c].conflicts().len()
                );
            }
        }
    }
    assert_eq!((duplicates, losses), (0, 0), "seed {seed}: {report}");
    assert_eq!(
        all.len() as u64,
        (clients * events_per_client) as u64 + ghosts,
        "seed {seed}: server holds every event: {report}"
    );
    for e in &all {
        if e.data.get("ghost").is_some() {
            assert!(
                faults.ghost_ids.borrow().contains(e.id.as_str()),
                "seed {seed}: unknown event {}",
                e.id
            );
        }
    }
    // Per stream, each client's events in its order; every client holds the server's order.
    for s in 0..streams {
        let stream = format!("s{s}");
        let on_server: Vec<&ServerEvent> =
            all.iter().filter(|e| e.stream.as_str() == stream).collect();
        for (who, store) in stores.iter().enumerate() {
            let mine: Vec<u64> =
                written[who].iter().filter(|(st, _)| *st == stream).map(|(_, n)| *n).collect();
            let order: Vec<u64> = on_server
                .iter()
                .filter(|e| e.data.get("c").and_then(Value::as_u64) == Some(who as u64))
                .filter_map(|e| e.data.get("n").and_then(Value::as_u64))
                .collect();
            assert_eq!(order, mine, "seed {seed}: client {who}'s order in {stream}");
            let local = block_on(store.read(&sid(&stream), ReadOptions::default()))
                .unwrap_or_else(|e| panic!("seed {seed}: read: {e}"));
            let local: Vec<(&str, u64)> =
                local.iter().map(|e| (e.id.as_str(), e.version.0)).collect();
            let remote: Vec<(&str, u64)> =
                on_server.iter().map(|e| (e.id.as_str(), e.version.0)).collect();
            assert_eq!(local, remote, "seed {seed}: client {who} converged on {stream}");
        }
    }
    for (who, store) in stores.iter().enumerate() {
        assert!(
            store.dead_letters().is_empty(),
            "seed {seed}: client {who} dead letters: {:?}",
            store.dead_letters()
        );
        assert!(store.conflicts().is_empty(), "seed {seed}: client {who} conflicts");
    }
    report
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

#[test]
fn soak_small_every_fault_kind_nothing_lost_nothing_twice() {
    let mut injected: BTreeMap<&'static str, u64> = BTreeMap::new();
    for seed in [1u64, 0xdead_beef, 42] {
        let report = soak(seed, 4, 60, 3, 30);
        println!("{report}");
        for (k, n) in report.injected {
            *injected.entry(k).or_default() += n;
        }
    }
    for kind in KINDS {
        assert!(
            injected.get(kind).copied().unwrap_or(0) > 0,
            "fault kind {kind} was never injected: {injected:?}"
        );
    }
}

/// `make soak SIZE=<events per client>` (release, `--ignored`, `--nocapture`).
#[test]
#[ignore = "long: run with `make soak SIZE=...`"]
fn soak_at_size() {
    let events = env_number("SOAK_SIZE", 2_000) as usize;
    let clients = env_number("SOAK_CLIENTS", 8) as usize;
    let streams = env_number("SOAK_STREAMS", 6) as usize;
    let rate = env_number("SOAK_FAULT_RATE", 25);
    let seed = env_number(
        "SOAK_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(7, |d| d.as_nanos() as u64),
    );
    println!("soak: seed {seed} (rerun with SOAK_SEED={seed})");
    let report = soak(seed, clients, events, streams, rate);
    println!("{report}");
}
