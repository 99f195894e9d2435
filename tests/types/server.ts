// The self-hosted server's declarations (tidelog/server) in a typed app, compiled (never
// run) like consumer.ts: the handler over each backend, the app's authorize hook, a
// space store of the app's own (the interface the Rust core calls), and serving it.
import {
  createHandler, fileStore, openStore, pgStore, serve,
  type AppendOutcome, type Authorize, type PgPool, type Row, type SpaceBackend, type SpaceStore,
} from "tidelog/server";

declare const pool: PgPool;

const onlyTeams: Authorize = (request, space, access) => {
  if (!request.headers.get("cookie")) return new Response(null, { status: 401 });
  return space.startsWith("team-") && (access === "read" || request.method === "POST");
};

/** A store of the app's own: one in-memory space (for the shape, not for production). */
function memorySpace(): SpaceStore {
  const rows: Row[] = [];
  return {
    streamVersion: (stream) => rows.filter((r) => r[0] === stream).length,
    eventsById: (ids) => ids.map((id) => rows.find((r) => (JSON.parse(r[3]) as { id: string }).id === id) ?? null),
    append(stream, expected, ids, bodies): AppendOutcome {
      const version = rows.filter((r) => r[0] === stream).length;
      if (version !== expected) return { versionMoved: version };
      ids.forEach((_, n) => rows.push([stream, expected + n + 1, rows.length + 1, bodies[n] ?? "{}"]));
      return { position: rows.length - ids.length + 1 };
    },
    readStream: async (stream, after, limit) => {
      const mine = rows.filter((r) => r[0] === stream);
      return { version: mine.length, rows: mine.slice(after, after + limit) };
    },
    readFeed: (after, limit) => ({ head: rows.length, rows: rows.slice(after, after + limit) }),
  };
}
const space = memorySpace();
const mine: SpaceBackend = { space: () => space, close: async () => {} };

export async function main(env: Record<string, string | undefined>): Promise<number> {
  const postgres = pgStore(pool, { prefix: "sync" });
  await postgres.migrate();
  const teams = createHandler({ store: postgres, env, authorize: onlyTeams });
  const file = createHandler({ store: fileStore("./tidelog-data"), log: (line) => void line });
  const handlers: ((request: Request) => Promise<Response>)[] = [
    createHandler({ store: mine }),
    createHandler({ store: await openStore({ databaseUrl: env["DATABASE_URL"] }) }),
  ];
  void handlers;
  const answer: Response = await teams(new Request("http://localhost/v1/team-1/events"));
  const server = await serve(file, { port: 8787, hostname: "127.0.0.1" });
  await server.close();
  return answer.status + server.port;
}
