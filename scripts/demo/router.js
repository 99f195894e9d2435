// The demo server's front door (runs in workerd, see scripts/demo/serve):
//   /        -> www/ (the demo app)
//   /pkg/... -> pkg/ (the built npm package)
//   /v1/...  -> the sync server (tidelog/worker, service binding SYNC), when built
// with the Content-Type each file needs (module scripts and streaming wasm insist).
const TYPES = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  wasm: "application/wasm",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  ts: "text/plain; charset=utf-8",
  md: "text/plain; charset=utf-8",
};

async function serveFile(disk, path) {
  if (path.endsWith("/")) path += "index.html";
  if (path.split("/").some((part) => part === "..")) {
    return new Response("bad path", { status: 400 });
  }
  const upstream = await disk.fetch(new URL(path, "http://disk"));
  if (!upstream.ok) {
    return new Response(`not found: ${path}`, { status: 404, headers: { "content-type": "text/plain" } });
  }
  const extension = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  const headers = new Headers({
    "content-type": TYPES[extension] ?? "application/octet-stream",
    "cache-control": "no-cache",
  });
  return new Response(upstream.body, { status: 200, headers });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/v1" || url.pathname.startsWith("/v1/")) {
      if (env.SYNC) return env.SYNC.fetch(request);
      return new Response('{"error":"not_found","message":"the sync worker is not built (make pkg)"}', {
        status: 404,
        headers: { "content-type": "application/json" },
      });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (url.pathname === "/pkg" || url.pathname.startsWith("/pkg/")) {
      return serveFile(env.PKG, url.pathname.slice("/pkg".length) || "/");
    }
    return serveFile(env.WWW, url.pathname);
  },
};
