// Types of tidelog/server (see index.js). Checked by tests/types/ under `strict` and
// `exactOptionalPropertyTypes`, like tidelog.d.ts.

/** One stored event: `[stream, version, position, body]` (`body`: the event as pushed, JSON text). */
export type Row = [stream: string, version: number, position: number, body: string];

/** What `SpaceStore.append` did. */
export type AppendOutcome = { position: number } | { versionMoved: number } | { idTaken: string };

/** One space's storage, as the Rust core calls it (write your own to use another database). */
export interface SpaceStore {
  streamVersion(stream: string): Promise<number> | number;
  eventsById(ids: string[]): Promise<(Row | null)[]> | (Row | null)[];
  /** Atomic, and serialized with every other append to the space by the database. */
  append(stream: string, expected: number, ids: string[], bodies: string[]): Promise<AppendOutcome> | AppendOutcome;
  readStream(stream: string, after: number, limit: number): Promise<{ version: number; rows: Row[] }> | { version: number; rows: Row[] };
  readFeed(after: number, limit: number): Promise<{ head: number; rows: Row[] }> | { head: number; rows: Row[] };
}

/** A database holding any number of spaces. */
export interface SpaceBackend {
  space(space: string): SpaceStore;
  close(): Promise<void>;
}

/** The part of a `pg.Pool` used (npm `pg`). */
export interface PgPool {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  connect(): Promise<{ query(text: string, values?: unknown[]): Promise<{ rows: any[] }>; release(destroy?: boolean | Error): void }>;
  end(): Promise<void>;
}

/** What a request may do to a space: `read` (GET, HEAD, OPTIONS) or `write` (POST). */
export type Access = "read" | "write";

/** An app's own check: `true` goes on, `false` answers 403, a `Response` is sent as it is. */
export type Authorize = (request: Request, space: string, access: Access) => boolean | Response | Promise<boolean | Response>;

export interface HandlerOptions {
  /** Where the spaces live: `pgStore(pool)` or `fileStore(dir)`. */
  store: SpaceBackend;
  /**
   * The settings as the worker reads them (`process.env` works): TIDELOG_SYNC_TOKEN (when
   * set, every request needs `Authorization: Bearer <token>`), TIDELOG_CORS_ORIGINS
   * (comma-separated allowed origins; unset or "*" allows any).
   */
  env?: Record<string, string | undefined> | undefined;
  /** The app's own check once the space is known; replaces the token rule. */
  authorize?: Authorize | undefined;
  /** Where the JSON log lines go (console.log by default). */
  log?: ((line: string) => void) | undefined;
}

/** The sync server (`/v1/{space}/streams/{stream}`, `/v1/{space}/events`) as a fetch handler. */
export function createHandler(options: HandlerOptions): (request: Request) => Promise<Response>;

/** PostgreSQL over a `pg.Pool`: tables `{prefix}_spaces` and `{prefix}_events`; `migrate()` creates them. */
export function pgStore(pool: PgPool, options?: { prefix?: string; ownsPool?: boolean }): SpaceBackend & { migrate(): Promise<void>; pool: PgPool };

/** The embedded default: every space in one log file in `dir` (one server process per directory). */
export function fileStore(dir: string): SpaceBackend & { dir: string };

/** PostgreSQL when `databaseUrl` is set (npm pg installed; tables created), else `fileStore(dataDir)`. */
export function openStore(options?: { databaseUrl?: string | undefined; dataDir?: string }): Promise<SpaceBackend>;

/** A `node:http` request listener answering with `handler`. */
export function nodeListener(handler: (request: Request) => Promise<Response>): (req: any, res: any) => void;

/** Serves `handler` with Deno.serve, Bun.serve or node:http; resolves once listening. */
export function serve(
  handler: (request: Request) => Promise<Response>,
  options?: { port?: number; hostname?: string },
): Promise<{ port: number; close(): Promise<void> }>;
