// `npm run openapi` writes openapi.json and the client's types from the server's route schemas;
// `npm run openapi:check` (part of `npm run check`) fails when the committed files and the server disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderContractFiles } from './openapi-files.ts';

const check = process.argv.includes('--check');
let stale = 0;
for (const file of await renderContractFiles()) {
  let committed: string | undefined;
  try {
    committed = readFileSync(file.path, 'utf8');
  } catch {
    committed = undefined;
  }
  if (committed === file.text) continue;
  if (check) {
    console.error(`${file.path} does not match the server's routes: run \`npm run openapi\` and commit the result`);
    stale++;
  } else {
    writeFileSync(file.path, file.text);
    console.log(`wrote ${file.path}`);
  }
}
process.exit(stale > 0 ? 1 : 0);
