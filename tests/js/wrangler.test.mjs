// The sync server as a user runs it on their machine: `npx wrangler dev` (npm wrangler,
// pinned in package.json) in an app folder with the package installed, the package's
// wrangler.toml.example copied as wrangler.toml unchanged, and settings in .dev.vars
// (harness.mjs, startWrangler). Offline: nothing here needs the network. The protocol
// suite (tests/js/protocol.mjs) runs against it.
import { startWrangler } from "./harness.mjs";
import { protocolSuite } from "./protocol.mjs";

protocolSuite("wrangler dev", startWrangler);
