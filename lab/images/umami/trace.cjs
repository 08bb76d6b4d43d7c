// node trace.cjs ROOT OUT ENTRY...: copy into OUT the files that the ENTRY scripts (paths under
// ROOT, the built Umami tree) load at run time, as `next build` does for server.js when it writes
// .next/standalone: traced with @vercel/nft (the copy bundled in next), relative paths kept, pnpm's
// symlinks kept as symlinks, files already in OUT left alone. Only node_modules/ is copied (the
// entries and the app's own files are COPY lines of the Dockerfile, as upstream's). Used by fetch
// for what upstream's image adds beside the standalone server with `pnpm add` (check-db's and
// update-tracker's imports, npm-run-all); prints how many files it added.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [root, out, ...entries] = process.argv.slice(2);
if (!root || !out || entries.length === 0) {
  console.error('usage: node trace.cjs ROOT OUT ENTRY...');
  process.exit(2);
}
const { nodeFileTrace } = require(require.resolve('next/dist/compiled/@vercel/nft', { paths: [root] }));

const exists = p => {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

(async () => {
  const { fileList, warnings } = await nodeFileTrace(
    entries.map(e => path.join(root, e)),
    { base: root, processCwd: root },
  );
  for (const w of warnings) {
    if (!/Failed to resolve dependency/.test(String(w.message))) console.error(`trace: ${w.message}`);
  }
  let added = 0;
  // parents first, so that a symlinked package directory exists before files under it are looked at
  for (const rel of [...fileList].sort()) {
    if (!rel.startsWith('node_modules/')) continue;
    const src = path.join(root, rel);
    const dst = path.join(out, rel);
    if (exists(dst)) continue;
    const st = fs.lstatSync(src);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(src), dst);
    } else if (st.isFile()) {
      fs.copyFileSync(src, dst);
      fs.chmodSync(dst, st.mode & 0o777);
    } else {
      continue;
    }
    added += 1;
  }
  console.log(`trace: ${added} files added for ${entries.join(' ')}`);
})().catch(e => {
  console.error(e);
  process.exit(1);
});
