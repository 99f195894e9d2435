// @ts-check
// The self-hosted server's PostgreSQL backend (a `SpaceBackend`, js/server/space_store.js)
// over a `pg` Pool the app creates (npm `pg`; tidelog does not depend on it).
//
// Schema (created by `migrate()`, idempotent; the prefix is `tidelog` by default):
//   tidelog_spaces (space PK, head)        the feed head of each space; its row is the
//                                          space's write lock
//   tidelog_events (space, position) PK    the feed, by position
//                  (space, stream, version) UNIQUE   a stream's events, by version
//                  (space, id) UNIQUE      the idempotency index, by id
//                  + body text: the event as pushed, JSON text, byte for byte
//
// A push is ONE transaction of two statements: `INSERT .. ON CONFLICT DO UPDATE` takes
// the space's row lock (so pushes to one space are serialized by the database, across
// any number of server processes, and pushes to different spaces do not wait for each
// other); then one statement checks the stream's version and the ids and, when both
// hold, inserts the rows and moves the head. Reads are single statements (one snapshot
// each).

/**
 * @typedef {import("./space_store.js").SpaceStore} SpaceStore
 * @typedef {import("./space_store.js").SpaceBackend} SpaceBackend
 * @typedef {import("./space_store.js").Row} Row
 * @typedef {{ rows: any[] }} QueryResult
 * @typedef {{ query: (text: string, values?: unknown[]) => Promise<QueryResult> }} Queryable
 * @typedef {Queryable & { release: (destroy?: boolean | Error) => void,
 *   on: (event: "error", listener: (error: Error) => void) => unknown,
 *   off: (event: "error", listener: (error: Error) => void) => unknown }} PoolClient
 * @typedef {Queryable & { connect: () => Promise<PoolClient>, end: () => Promise<void>,
 *   on?: (event: "error", listener: (error: Error) => void) => unknown,
 *   listenerCount?: (event: "error") => number }} Pool
 */

const NAME = /^[a-z_][a-z0-9_]{0,40}$/;

/**
 * The PostgreSQL backend over `pool` (a `pg.Pool`).
 * @param {Pool} pool
 * @param {{ prefix?: string, ownsPool?: boolean }} [options] `prefix` of the table
 *   names (default `tidelog`); `ownsPool`: `close()` ends the pool
 * @returns {SpaceBackend & { migrate: () => Promise<void>, pool: Pool }}
 */
export function pgStore(pool, options = {}) {
  const prefix = options.prefix ?? "tidelog";
  if (!NAME.test(prefix)) throw new TypeError("pgStore: prefix must be a lower-case SQL identifier");
  // An idle client whose server went away emits "error" on the pool; without a
  // listener that would end the process. Requests on it fail (500) and are retried.
  /** @param {Error} error */
  const lost = (error) => console.error(JSON.stringify({ level: "warn", msg: "postgres connection lost", error: error.message }));
  if (pool.on && (pool.listenerCount?.("error") ?? 0) === 0) pool.on("error", lost);
  const spaces = `${prefix}_spaces`;
  const events = `${prefix}_events`;
  const sql = {
    version: `SELECT coalesce(max(version), 0) AS v FROM ${events} WHERE space = $1 AND stream = $2`,
    byId: `SELECT id, stream, version, position, body FROM ${events} WHERE space = $1 AND id = ANY($2::text[])`,
    lock: `INSERT INTO ${spaces} (space, head) VALUES ($1, 0)
           ON CONFLICT (space) DO UPDATE SET head = ${spaces}.head RETURNING head`,
    // After `lock`, so its snapshot sees every push committed before the lock was ours:
    // checks the stream's version and the ids, and only when both hold inserts the rows
    // and moves the head; answers what it found.
    append: `WITH state AS (
               SELECT (SELECT coalesce(max(version), 0) FROM ${events} WHERE space = $1 AND stream = $3) AS v,
                      (SELECT id FROM ${events} WHERE space = $1 AND id = ANY($5::text[]) LIMIT 1) AS taken
             ), rows AS (
               INSERT INTO ${events} (space, position, stream, version, id, body)
               SELECT $1, $2::bigint + n, $3, $4::bigint + n, id, body
               FROM unnest($5::text[], $6::text[]) WITH ORDINALITY AS t(id, body, n), state
               WHERE state.v = $4::bigint AND state.taken IS NULL
               RETURNING 1
             ), bump AS (
               UPDATE ${spaces} SET head = $2::bigint + $7 WHERE space = $1 AND EXISTS (SELECT 1 FROM rows)
             )
             SELECT v, taken FROM state`,
    stream: `SELECT (SELECT coalesce(max(version), 0) FROM ${events} WHERE space = $1 AND stream = $2) AS v,
                    e.stream, e.version, e.position, e.body
             FROM (SELECT 1) AS one LEFT JOIN LATERAL (
               SELECT stream, version, position, body FROM ${events}
               WHERE space = $1 AND stream = $2 AND version > $3 ORDER BY version LIMIT $4
             ) AS e ON true`,
    feed: `SELECT coalesce((SELECT head FROM ${spaces} WHERE space = $1), 0) AS v,
                  e.stream, e.version, e.position, e.body
           FROM (SELECT 1) AS one LEFT JOIN LATERAL (
             SELECT stream, version, position, body FROM ${events}
             WHERE space = $1 AND position > $2 ORDER BY position LIMIT $3
           ) AS e ON true`,
  };

  /**
   * A client of the pool for one transaction. While it is checked out, the pool does not
   * listen for its errors: a connection lost between two queries would be an unhandled
   * "error" event (the end of the process) without this listener; the next query fails.
   * @returns {Promise<PoolClient>}
   */
  async function checkout() {
    const client = await pool.connect();
    client.on("error", lost);
    return client;
  }

  /**
   * @param {PoolClient} client
   * @param {boolean} broken destroy it rather than return it to the pool
   */
  function checkin(client, broken) {
    client.off("error", lost);
    client.release(broken);
  }

  /**
   * Rows of a read that joined the events to one leading value (`v`).
   * @param {any[]} result
   * @returns {{ v: number, rows: Row[] }}
   */
  function joined(result) {
    const rows = result.filter((r) => r.body !== null).map(row);
    return { v: Number(result[0]?.v ?? 0), rows };
  }

  /**
   * @param {string} space
   * @returns {SpaceStore}
   */
  function space(space) {
    return {
      async streamVersion(stream) {
        const { rows } = await pool.query(sql.version, [space, stream]);
        return Number(rows[0].v);
      },
      async eventsById(ids) {
        const { rows } = await pool.query(sql.byId, [space, ids]);
        const found = new Map(rows.map((r) => [r.id, row(r)]));
        return ids.map((id) => found.get(id) ?? null);
      },
      async append(stream, expected, ids, bodies) {
        const client = await checkout();
        let broken = false;
        try {
          await client.query("BEGIN");
          const head = Number((await client.query(sql.lock, [space])).rows[0].head);
          const state = (await client.query(sql.append, [space, head, stream, expected, ids, bodies, ids.length])).rows[0];
          if (Number(state.v) !== expected || state.taken !== null) {
            await client.query("ROLLBACK"); // nothing was written; end the transaction
            return Number(state.v) !== expected ? { versionMoved: Number(state.v) } : { idTaken: state.taken };
          }
          await client.query("COMMIT");
          return { position: head + 1 };
        } catch (error) {
          broken = true;
          await client.query("ROLLBACK").catch(() => {});
          throw error;
        } finally {
          // A client that failed mid-transaction may be dead: never reuse it.
          checkin(client, broken);
        }
      },
      async readStream(stream, after, limit) {
        const { v, rows } = joined((await pool.query(sql.stream, [space, stream, after, limit])).rows);
        return { version: v, rows };
      },
      async readFeed(after, limit) {
        const { v, rows } = joined((await pool.query(sql.feed, [space, after, limit])).rows);
        return { head: v, rows };
      },
    };
  }

  return {
    pool,
    space,
    /** Creates the tables and indexes when missing (safe from several processes at once). */
    async migrate() {
      const client = await checkout();
      try {
        await client.query("BEGIN");
        // CREATE .. IF NOT EXISTS is not safe against itself running concurrently.
        await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`${prefix} migrate`]);
        await client.query(`CREATE TABLE IF NOT EXISTS ${spaces} (
          space text PRIMARY KEY,
          head bigint NOT NULL
        )`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${events} (
          space text NOT NULL,
          position bigint NOT NULL,
          stream text NOT NULL,
          version bigint NOT NULL,
          id text NOT NULL,
          body text NOT NULL,
          PRIMARY KEY (space, position),
          UNIQUE (space, stream, version),
          UNIQUE (space, id)
        )`);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        checkin(client, false);
      }
    },
    async close() {
      if (options.ownsPool) await pool.end();
    },
  };
}

/**
 * A result row as a `Row`.
 * @param {{ stream: string, version: string | number, position: string | number, body: string }} r
 * @returns {Row}
 */
function row(r) {
  return [r.stream, Number(r.version), Number(r.position), r.body];
}
