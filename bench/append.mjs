// Appends one benchmark script's output to BENCHMARKS.md as a dated section, and keeps
// it in bench/results/<name>.txt.   node bench/append.mjs <name> <title> < output
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import path from "node:path";
import { root } from "../tests/js/harness.mjs";
import { gitState } from "./sizes.mjs";

const [name, title] = process.argv.slice(2);
const output = readFileSync(0, "utf8").trim();
mkdirSync(path.join(root, "bench/results"), { recursive: true });
writeFileSync(path.join(root, `bench/results/${name}.txt`), output + "\n");
const date = new Date().toISOString().slice(0, 10);
// Every section names the tree it measured (pkg/ is built from the working tree).
const git = gitState();
const tree = git ? `commit ${git.commit}${git.srcDirty ? ", with uncommitted changes" : ""}` : "no git";
appendFileSync(
  path.join(root, "BENCHMARKS.md"),
  `\n## ${title} (${date}, ${cpus().length} cores, ${tree})\n\n\`\`\`\n${output}\n\`\`\`\n`,
);
console.log(output);
