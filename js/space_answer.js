// @ts-check
// A request for one space, answered by the Rust core: the request becomes the core's
// `{method, path, headers, body}` and its `{status, headers, body}` a `Response`. The
// core is `handleSpaceRequest` (tidelog/server) or `handleSyncRequest` (tidelog/worker)
// bound to the space's storage.

import { MAX_BODY_BYTES, discardBody } from "./front.js";

/** @typedef {{ method: string, path: string, headers: [string, string][], body: Uint8Array }} CoreRequest */
/** @typedef {{ status: number, headers: [string, string][], body: Uint8Array<ArrayBuffer> }} CoreAnswer */
/** @typedef {(request: CoreRequest, options: { basePath: string }) => Promise<CoreAnswer>} Core */

/**
 * Keeps at most MAX_BODY_BYTES + 1 bytes (enough for the core to answer 413); the rest
 * of a longer body is read and thrown away (up to a bound, front.js `discardBody`), so
 * the 413 reaches a client that is still sending.
 * @param {Request} request
 * @returns {Promise<Uint8Array>}
 */
export async function readBody(request) {
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  /** @type {Uint8Array[]} */
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await discardBody(reader, size);
      break;
    }
  }
  const body = new Uint8Array(Math.min(size, MAX_BODY_BYTES + 1));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, body.length - offset);
    body.set(part, offset);
    offset += part.length;
    if (offset >= body.length) break;
  }
  return body;
}

/**
 * The core's answer to `request` for the space mounted at `basePath`. HEAD is answered
 * as the GET it mirrors, without the body but with the GET's Content-Length (RFC 9110
 * section 9.3.2).
 * @param {Request} request
 * @param {string} basePath
 * @param {Core} core
 * @returns {Promise<Response>}
 */
export async function answerSpace(request, basePath, core) {
  const url = new URL(request.url);
  const method = request.method === "HEAD" ? "GET" : request.method;
  /** @type {[string, string][]} */
  const headers = [];
  request.headers.forEach((value, name) => headers.push([name, value]));
  const answer = await core({ method, path: url.pathname + url.search, headers, body: await readBody(request) }, { basePath });
  const hasBody = answer.body.length > 0 && answer.status !== 204 && answer.status !== 304;
  const out = new Headers(answer.headers);
  if (request.method === "HEAD" && hasBody) out.set("content-length", String(answer.body.length));
  return new Response(hasBody && request.method !== "HEAD" ? answer.body : null, { status: answer.status, headers: out });
}
