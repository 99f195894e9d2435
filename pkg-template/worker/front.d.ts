// Types of tidelog/worker/front.js: the front door every tidelog sync server shares (CORS,
// the space, authorization, the body limit); see js/front.js and js/auth.js in the repo.

/** What a request does to a space. */
export type Access = "read" | "write";

/** The authorization settings. */
export interface AuthConfig {
  /** HS256 secret: when set, every request needs a JWT. */
  jwtSecret?: string;
  /** A public JWK as JSON (ES256 or RS256). */
  jwtPublicJwk?: string;
  /** The shared bearer token, used only when no JWT key is set. */
  syncToken?: string;
}

/** The front door's settings. */
export interface FrontConfig extends AuthConfig {
  /** Allowed origins; "*" allows any. */
  origins: string[];
}

/** The request may go on; `sub` is the token's subject. */
export interface Allowed { ok: true; sub: string | undefined }
/** The request is refused: a JSON answer with WWW-Authenticate, without CORS headers. */
export interface Refused { ok: false; status: 401 | 403; response: Response }

/** An app's own authorization, replacing the JWT/token rules. */
export type AuthorizeHook = (request: Request, space: string, access: Access) => Promise<Allowed | Refused>;

/** What `gate` lets through. */
export interface Admitted {
  space: string;
  base: string;
  sub: string | undefined;
  cors: Record<string, string>;
  response?: undefined;
}

/** Largest request body (1 MiB). */
export const MAX_BODY_BYTES: number;
/** Longest bearer token read (8 KiB). */
export const MAX_TOKEN_CHARS: number;

/** GET, HEAD, OPTIONS: "read"; anything else: "write". */
export function accessOf(method: string): Access;
/** Whether a `spaces` entry covers `space` (exactly, or by prefix when it ends in `*`). */
export function spaceMatches(entry: string, space: string): boolean;
/** Decides whether `request` may have `access` to `space` (JWT, shared token, or open). */
export function authorize(request: Request, space: string, access: Access, config: AuthConfig): Promise<Allowed | Refused>;
/** A JSON error answer `{error, message}`. */
export function jsonError(status: number, error: string, message: string, headers?: Record<string, string>): Response;
/** The settings from TIDELOG_JWT_SECRET, TIDELOG_JWT_PUBLIC_JWK, TIDELOG_SYNC_TOKEN, TIDELOG_CORS_ORIGINS. */
export function frontConfig(env: Record<string, unknown>): FrontConfig;
/** Splits `/v1/{space}/...` into the decoded space and its mount, or the 400/404 answer. */
export function parseSpacePath(pathname: string): { space: string; base: string; response?: undefined } | { response: Response };
/** The CORS headers for `origin`: `{}` without one, `null` when it is not allowed. */
export function corsHeaders(config: FrontConfig, origin: string | null): Record<string, string> | null;
/** Everything before storage: a response to send as is, or the admitted request. */
export function gate(request: Request, config: FrontConfig, authorizeHook?: AuthorizeHook): Promise<{ response: Response; sub?: string | undefined } | Admitted>;
/** `response` with `headers` set on it. */
export function finish(response: Response, headers: Record<string, string>): Response;
/** The request's JSON log line. */
export function logLine(fields: { method: string; path: string; status: number; ms: number; sub?: string | undefined }): string;
