// A real PostgreSQL server for the self-hosted sync server's tests and benchmarks, like
// a CI service: Debian's binaries (scripts/bootstrap installs package postgresql), a
// fresh cluster in a temporary directory, on a free loopback port, trust auth for the
// user `tidelog`. As root the server runs as the system user `postgres` (initdb and
// postgres refuse root). One server per test process, started on first use.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { freePort } from "./harness.mjs";

const USER = "tidelog";

function binDir() {
  const base = "/usr/lib/postgresql";
  let versions = [];
  try {
    versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch {}
  if (versions.length === 0) throw new Error("PostgreSQL is not installed (scripts/bootstrap installs Debian's postgresql)");
  return path.join(base, versions[0], "bin");
}

function run(dir, tool, args, asUser) {
  const command = path.join(binDir(), tool);
  if (asUser) return execFileSync("runuser", ["-u", asUser, "--", command, ...args], { cwd: dir, stdio: "pipe" });
  return execFileSync(command, args, { cwd: dir, stdio: "pipe" });
}

let started;

/** Starts (once per process) a PostgreSQL server; resolves to `{ url(db), database(name), restart(), stop() }`. */
export function postgres() {
  started ??= start();
  return started;
}

async function start() {
  const dir = mkdtempSync(path.join(tmpdir(), "tidelog-pg-"));
  const data = path.join(dir, "data");
  const asUser = process.getuid?.() === 0 ? "postgres" : null;
  if (asUser) execFileSync("chown", [asUser, dir]);
  const port = await freePort();
  run(dir, "initdb", ["-D", data, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-instructions"], asUser);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const ctl = (...args) => run(dir, "pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-w", ...args], asUser);
  ctl("-o", options, "start");
  const url = (db = "postgres") => `postgres://${USER}@127.0.0.1:${port}/${db}`;
  const psql = (sql) => execFileSync(path.join(binDir(), "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", url(), "-c", sql], { stdio: "pipe" });
  const made = new Set();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      ctl("-m", "immediate", "stop");
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stop);
  return {
    port,
    url,
    /** A database for `key` (created on first use): the same key, the same database. */
    database(key) {
      const name = `t_${createHash("sha1").update(String(key)).digest("hex").slice(0, 16)}`;
      if (!made.has(name)) {
        try {
          psql(`CREATE DATABASE ${name}`);
        } catch (error) {
          if (!String(error.stderr).includes("already exists")) throw error;
        }
        made.add(name);
      }
      return url(name);
    },
    /** Stops the server at once (no clean shutdown, like a crash) and starts it again after `downMs`. */
    async restart(downMs = 0) {
      ctl("-m", "immediate", "stop");
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      ctl("-o", options, "start");
    },
    stop,
  };
}
