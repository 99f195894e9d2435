// Writes the package's package.json: pkg-template/package.json with the version from
// Cargo.toml and the file list wasm-pack produced.
import { readFileSync, writeFileSync } from "node:fs";

const [templatePath, outPath, version] = process.argv.slice(2);
const template = JSON.parse(readFileSync(templatePath, "utf8"));
const generated = JSON.parse(readFileSync(outPath, "utf8"));
const merged = { ...template, version };
merged.files = [...new Set([...(template.files ?? []), ...(generated.files ?? [])])];
writeFileSync(outPath, JSON.stringify(merged, null, 2) + "\n");
