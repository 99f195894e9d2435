// @ts-check
// The self-hosted sync server as a standard fetch handler, `(Request) => Promise<Response>`:
// the front door every server shares (js/front.js: CORS, token or the app's `authorize`
// hook, space ids, body limit, log line) in front of the Rust core (`handleSpaceRequest`,
// passed in as `core` by the package entry once the wasm is loaded) over a
// `SpaceBackend` (PostgreSQL, the log file). Mounted at `/v1/{space}/...` like the worker.

import { finish, frontConfig, gate, jsonError, logLine, withDate } from "../front.js";
import { answerSpace } from "../space_answer.js";

/**
 * @typedef {import("./space_store.js").SpaceBackend} SpaceBackend
 * @typedef {import("./space_store.js").SpaceStore} SpaceStore
 * @typedef {import("../auth.js").Access} Access
 * @typedef {import("../front.js").AuthorizeHook} AuthorizeHook
 * @typedef {import("../space_answer.js").CoreRequest} CoreRequest
 * @typedef {import("../space_answer.js").CoreAnswer} CoreAnswer
 * @typedef {(store: SpaceStore, request: CoreRequest, options: { basePath: string }) => Promise<CoreAnswer>} Core
 */

/**
 * An app's own check, once the space is known: `true` lets the request in, `false`
 * answers 403, a `Response` is sent as it is (a 401 of the app's own, say).
 * @typedef {(request: Request, space: string, access: Access) => boolean | Response | Promise<boolean | Response>} Authorize
 */

/**
 * What `createHandler` takes.
 * @typedef {object} HandlerOptions
 * @property {SpaceBackend} store where the spaces live: `pgStore(pool)` or `fileStore(dir)`
 * @property {Record<string, string | undefined> | undefined} [env] the settings, as the
 *   worker reads them: TIDELOG_SYNC_TOKEN, TIDELOG_CORS_ORIGINS (`process.env` works)
 * @property {Authorize | undefined} [authorize] replaces the token rule
 * @property {((line: string) => void) | undefined} [log] where the JSON log lines go (console.log)
 */

/**
 * The app's `authorize` as the front door's hook.
 * @param {Authorize} authorize
 * @returns {AuthorizeHook}
 */
function hookOf(authorize) {
  return async (request, space, access) => {
    const verdict = await authorize(request, space, access);
    if (verdict === true) return { ok: true, sub: undefined };
    if (verdict instanceof Response) return { ok: false, status: verdict.status === 401 ? 401 : 403, response: verdict };
    return { ok: false, status: 403, response: jsonError(403, "forbidden", `this request may not ${access} the space`) };
  };
}

/**
 * The sync server as a fetch handler over `options.store`.
 * @param {HandlerOptions & { core: Core }} options
 * @returns {(request: Request) => Promise<Response>}
 */
export function makeHandler(options) {
  const { store, core } = options;
  const config = frontConfig(options.env ?? {});
  const hook = options.authorize ? hookOf(options.authorize) : undefined;
  const log = options.log ?? ((line) => console.log(line));
  return async (request) => {
    const started = Date.now();
    const path = new URL(request.url).pathname;
    let response;
    let sub;
    try {
      const admitted = await gate(request, config, hook);
      sub = admitted.sub;
      if ("response" in admitted && admitted.response) {
        response = admitted.response;
      } else {
        const { space, base, cors } = /** @type {import("../front.js").Admitted} */ (admitted);
        const spaceStore = store.space(space);
        response = finish(await answerSpace(request, base, (req, opts) => core(spaceStore, req, opts)), cors);
      }
    } catch (error) {
      const name = String(/** @type {{ name?: unknown }} */ (error)?.name ?? "Error");
      console.error(JSON.stringify({ level: "error", msg: "sync request failed", path, error: name }));
      response = jsonError(500, "internal", "the sync server failed; retry later", { "retry-after": "1" });
    }
    log(logLine({ method: request.method, path, status: response.status, ms: Date.now() - started, sub }));
    return withDate(response);
  };
}
