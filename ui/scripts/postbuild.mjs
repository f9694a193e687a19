// Writes a gzip sibling (`x.js.gz`) next to every compressible file in ../embed.
// zlib's gzip header carries mtime 0 and no file name, so the output is byte-identical for
// identical input (the CI check rebuilds and compares with git).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, constants } from "node:zlib";

const root = new URL("../../embed/", import.meta.url).pathname;
const compressible = /\.(js|css|html|svg|json|txt)$/;

function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (compressible.test(name)) {
      const data = readFileSync(p);
      const gz = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
      // Only keep the sibling when it actually saves bytes.
      if (gz.length < data.length) writeFileSync(p + ".gz", gz);
    }
  }
}
walk(root);
