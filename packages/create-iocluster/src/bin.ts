#!/usr/bin/env node
import { relative } from 'node:path';
import { ScaffoldError, scaffold } from './scaffold.js';

/** `npm create iocluster@latest [directory]`. */
const directory = process.argv[2] ?? 'my-iocluster-app';
if (directory === '--help' || directory === '-h') {
  process.stdout.write('usage: npm create iocluster@latest [directory]\n');
  process.exit(0);
}
try {
  const target = scaffold({ directory });
  const cd = relative(process.cwd(), target) || '.';
  process.stdout.write(
    [
      `Created ${target}`,
      '',
      'Next:',
      `  cd ${cd}`,
      '  npm install',
      '  npm run dev      # the whole cluster on this machine; open the page it prints',
      '  npm test',
      '',
    ].join('\n'),
  );
} catch (err) {
  if (!(err instanceof ScaffoldError)) throw err;
  process.stderr.write(`create-iocluster: ${err.message}\n`);
  process.exit(1);
}
