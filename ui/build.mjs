// Builds the UI into dist/ (committed; the api crate embeds it): one
// minified script, one stylesheet, index.html, and gzipped copies. Fails
// when the gzipped script, stylesheet and page together pass the budget.
//
//   node build.mjs           build into dist/
//   node build.mjs --check   build into a temporary folder and fail unless
//                            dist/ holds exactly that (a stale dist/)

import { build } from 'esbuild';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Gzipped bytes of everything a first visit loads. */
export const BUDGET_GZIPPED_BYTES = 300 * 1024;
const FILES = ['index.html', 'app.js', 'app.css'];

const here = dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes('--check');
const out = check ? mkdtempSync(join(tmpdir(), 'tel-ui-')) : join(here, 'dist');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(here, 'src/main.jsx') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'none',
  // The page compiles no validator (src/noClientValidation.js says why).
  alias: { ajv: join(here, 'src/stubs/ajv.js'), 'ajv-formats': join(here, 'src/stubs/ajv-formats.js') },
  outdir: out,
  logLevel: 'warning',
});
// uPlot's own layout rules (legend, cursor) first, ours after them.
writeFileSync(
  join(out, 'app.css'),
  Buffer.concat([readFileSync(join(here, 'node_modules/uplot/dist/uPlot.min.css')), Buffer.from('\n'), readFileSync(join(here, 'src/styles.css'))]),
);
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));

let total = 0;
const sizes = [];
for (const file of FILES) {
  const plain = readFileSync(join(out, file));
  // Level 9 and no timestamp in the header: the same sources give the same bytes.
  const gzipped = gzipSync(plain, { level: 9 });
  writeFileSync(join(out, `${file}.gz`), gzipped);
  total += gzipped.length;
  sizes.push(`${file} ${(plain.length / 1024).toFixed(1)} KB (${(gzipped.length / 1024).toFixed(1)} KB gzipped)`);
}
console.log(`ui: ${sizes.join(', ')}; ${(total / 1024).toFixed(1)} KB gzipped of a ${BUDGET_GZIPPED_BYTES / 1024} KB budget`);
if (total > BUDGET_GZIPPED_BYTES) {
  console.error(`ui: over the bundle budget by ${((total - BUDGET_GZIPPED_BYTES) / 1024).toFixed(1)} KB`);
  process.exit(1);
}

if (check) {
  const stale = FILES.flatMap((f) => [f, `${f}.gz`]).filter((f) => {
    try {
      return !readFileSync(join(out, f)).equals(readFileSync(join(here, 'dist', f)));
    } catch {
      return true;
    }
  });
  rmSync(out, { recursive: true, force: true });
  if (stale.length > 0) {
    console.error(`ui: dist/ is not what the sources build (${stale.join(', ')}): run \`npm run build\` in ui/ and commit dist/`);
    process.exit(1);
  }
  console.log('ui: dist/ matches the sources');
}
