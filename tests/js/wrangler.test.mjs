// The sync server as a user runs it on their machine: `npx wrangler dev` (npm wrangler,
// pinned in package.json) in an app folder with the package installed
// (node_modules/tidelog is the built pkg/), the package's wrangler.toml.example copied
// as wrangler.toml unchanged, and settings in .dev.vars. Offline: nothing here needs the
// network. The protocol suite (tests/js/protocol.mjs) runs against it.
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after } from "node:test";
import { root, freePort } from "./harness.mjs";
import { protocolSuite } from "./protocol.mjs";

const app = mkdtempSync(path.join(tmpdir(), "tidelog-wrangler-app-"));
mkdirSync(path.join(app, "node_modules"));
symlinkSync(path.join(root, "pkg"), path.join(app, "node_modules/tidelog"), "dir");
cpSync(path.join(root, "pkg/worker/wrangler.toml.example"), path.join(app, "wrangler.toml"));
after(() => rmSync(app, { recursive: true, force: true }));

/**
 * Starts `wrangler dev` in the app folder with `env` as its .dev.vars (empty values left
 * out) and TIDELOG_DATA_DIR as --persist-to; resolves once /v1/ answers.
 */
async function startWrangler(env) {
  const { TIDELOG_DATA_DIR: dataDir, ...vars } = env;
  const lines = Object.entries(vars).filter(([, v]) => v !== "").map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  writeFileSync(path.join(app, ".dev.vars"), lines.join("\n") + "\n");
  const port = await freePort();
  const child = spawn(
    path.join(root, "node_modules/.bin/wrangler"),
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", dataDir, "--inspector-port", String(await freePort()), "--show-interactive-dev-session=false"],
    {
      cwd: app,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", WRANGLER_LOG_PATH: path.join(dataDir, "wrangler-logs") },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const response = await fetch(`${base}/v1/`);
      if (response.status === 404) break;
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) {
      try { process.kill(-child.pid, "SIGKILL"); } catch {}
      throw new Error(`wrangler dev did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    base,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      // wrangler runs workerd as a child: end the whole process group it leads.
      process.kill(-child.pid, "SIGTERM");
      const timer = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch {} }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

protocolSuite("wrangler dev", startWrangler);
