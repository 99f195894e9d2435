// Types of tidelog/worker (see index.js and wrangler.toml.example). Like tidelog.d.ts,
// checked by tests/types/ under `strict` and `exactOptionalPropertyTypes`.

/** The bindings and variables the sync worker reads. */
export interface TidelogWorkerEnv {
  /** Durable Object namespace of the class `TidelogSpace`. */
  TIDELOG_SPACES: DurableObjectNamespace;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  TIDELOG_SYNC_TOKEN?: string | undefined;
  /** Comma-separated allowed origins; unset or "*" allows any origin. */
  TIDELOG_CORS_ORIGINS?: string | undefined;
}

// Minimal structural types, so the package does not depend on @cloudflare/workers-types.
interface DurableObjectNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}

/** Splits `/v1/{space}/...` into the decoded space and its mount, or the 400/404 answer. */
export function parseSpacePath(pathname: string): { space: string; base: string; response?: undefined } | { response: Response };

/** The worker: CORS, bearer auth, routing to the space's Durable Object, JSON logs. */
declare const worker: { fetch(request: Request, env: TidelogWorkerEnv): Promise<Response> };
export default worker;

/** The Durable Object class of one space (bind it as TIDELOG_SPACES). */
export class TidelogSpace {
  /** `ctx.storage` is the Durable Object's storage (the runtime passes both). */
  constructor(ctx: { storage: unknown }, env: TidelogWorkerEnv);
  fetch(request: Request): Promise<Response>;
}
