// tidelog's sync side, loaded up front: `import "tidelog/sync"` next to the import of
// "tidelog" in a service worker, where `import()` is not allowed, so the browser entry
// cannot load it when a store first opens with `sync`. Elsewhere there is no need: the
// entry imports it then by itself (a page that never syncs never loads it).
import * as glue from "./tidelog_sync.js";
import { __js } from "./tidelog.js";

__js.provideSyncGlue(glue);
