// Types of tidelog/worker (see index.js and wrangler.toml.example). Like tidelog.d.ts,
// checked by tests/types/ under `strict` and `exactOptionalPropertyTypes`.

/** The bindings and variables the sync worker reads. */
export interface TidelogWorkerEnv {
  /** Durable Object namespace of the class `TidelogSpace`. */
  TIDELOG_SPACES: DurableObjectNamespace;
  /** When set, every request needs `Authorization: Bearer <JWT>` (HS256 with this secret) granting the space. */
  TIDELOG_JWT_SECRET?: string | undefined;
  /** A public JWK (JSON) for ES256/RS256 tokens, beside or instead of the secret. */
  TIDELOG_JWT_PUBLIC_JWK?: string | undefined;
  /** Without a JWT key: one shared bearer token for every space. */
  TIDELOG_SYNC_TOKEN?: string | undefined;
  /** Comma-separated allowed origins; unset or "*" allows any origin. */
  TIDELOG_CORS_ORIGINS?: string | undefined;
  /** "kv" keeps the Durable Object key-value API; default: the SQL API where the object has it. */
  TIDELOG_STORAGE?: "sql" | "kv" | undefined;
}

// Minimal structural types, so the package does not depend on @cloudflare/workers-types.
interface DurableObjectNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}

/** Splits `/v1/{space}/...` into the decoded space and its mount, or the 400/404 answer. */
export function parseSpacePath(pathname: string): { space: string; base: string; response?: undefined } | { response: Response };

/** Which storage API a space uses: "sql" unless `TIDELOG_STORAGE` is "kv" or the object has no SQL storage. */
export function storageKind(ctx: { storage: unknown }, env?: Partial<TidelogWorkerEnv>): "sql" | "kv";

/** The worker: CORS, bearer auth, routing to the space's Durable Object, JSON logs. */
declare const worker: { fetch(request: Request, env: TidelogWorkerEnv): Promise<Response> };
export default worker;

/** The Durable Object class of one space (bind it as TIDELOG_SPACES). */
export class TidelogSpace {
  /** `ctx.storage` is the Durable Object's storage (the runtime passes both). */
  constructor(ctx: { storage: unknown; blockConcurrencyWhile<T>(body: () => Promise<T>): Promise<T> }, env: TidelogWorkerEnv);
  fetch(request: Request): Promise<Response>;
}
