// @ts-check
// Node's http server in front of a fetch handler: `http.createServer(nodeListener(handler))`.
// Deno (`Deno.serve(handler)`) and Bun (`Bun.serve({ fetch: handler })`) take the
// handler as it is.

/**
 * The request body as a web stream. Cancelling it (the front door stops reading past
 * the 1 MiB limit) discards the rest instead of destroying the socket, so the client
 * still gets its 413.
 * @param {import("node:http").IncomingMessage} req
 * @returns {ReadableStream<Uint8Array>}
 */
function bodyStream(req) {
  let done = false;
  return new ReadableStream({
    start(controller) {
      req.on("data", (chunk) => {
        if (done) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.once("end", () => {
        if (!done) controller.close();
        done = true;
      });
      req.once("error", (error) => {
        if (!done) controller.error(error);
        done = true;
      });
    },
    pull() {
      req.resume();
    },
    cancel() {
      done = true;
      req.resume();
    },
  });
}

/**
 * A `request` listener for `node:http` that answers with `handler`.
 * @param {(request: Request) => Promise<Response>} handler
 * @returns {(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void}
 */
export function nodeListener(handler) {
  return (req, res) => {
    const host = req.headers.host ?? "localhost";
    const url = new URL(req.url ?? "/", `http://${host}`);
    const headers = new Headers();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      headers.append(/** @type {string} */ (req.rawHeaders[i]), /** @type {string} */ (req.rawHeaders[i + 1]));
    }
    const method = req.method ?? "GET";
    const hasBody = method !== "GET" && method !== "HEAD";
    /** @type {RequestInit & { duplex?: "half" }} */
    const init = { method, headers };
    if (hasBody) {
      init.body = bodyStream(req);
      init.duplex = "half";
    }
    Promise.resolve()
      .then(() => handler(new Request(url, init)))
      .then(async (response) => {
        /** @type {Record<string, string>} */
        const out = {};
        response.headers.forEach((value, name) => (out[name] = value));
        const body = response.body === null ? null : Buffer.from(await response.arrayBuffer());
        if (body !== null && !("content-length" in out)) out["content-length"] = String(body.length);
        // A body left unread (a 413, a refusal): close rather than read the rest.
        if (hasBody && !req.complete) out.connection = "close";
        res.writeHead(response.status, out);
        res.end(body ?? undefined);
      })
      .catch((error) => {
        console.error(JSON.stringify({ level: "error", msg: "node adapter failed", error: String(error?.name ?? "Error") }));
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "internal", message: "the sync server failed; retry later" }));
      });
  };
}
