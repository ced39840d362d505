#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { DevStack } from './dev-stack.js';
import { startTier } from './start.js';
import { isTier, TIERS } from './tiers.js';

const USAGE = `usage:
  iocluster dev [handlers] [--port 3000] [--host 127.0.0.1] [--static public] [--page src/page.ts]
                           [--io-nodes 1] [--app-nodes 1] [--no-watch]
      a whole cluster on this machine for a handlers module (JavaScript or TypeScript; default
      src/handlers.ts or .js), reloaded on change, its page script bundled into the static directory;
      uses REDIS_URL (default redis://127.0.0.1:6379) or starts a redis-server of its own
  iocluster start ${TIERS.join('|')} [handlers]
      one tier, configured from the environment (app-node: the handlers module, or APP_MODULE)
`;

const DEFAULT_HANDLERS = ['src/handlers.ts', 'src/handlers.js'];

function fail(message: string): never {
  process.stderr.write(`iocluster: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) fail(`--${name} must be a whole number, got "${value}"`);
  return n;
}

async function dev(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      static: { type: 'string' },
      page: { type: 'string' },
      'io-nodes': { type: 'string' },
      'app-nodes': { type: 'string' },
      'no-watch': { type: 'boolean' },
    },
  });
  const handlers = positionals[0] ?? DEFAULT_HANDLERS.find((file) => existsSync(file));
  if (!handlers) fail(`dev needs a handlers module (none of ${DEFAULT_HANDLERS.join(', ')} here)`);
  // Loaded here only: `iocluster start`, what containers run, needs neither devkit nor pino-pretty.
  const { startDevStack } = await import('./dev-stack.js');
  const { createLinePrinter } = await import('./output.js');
  const print = createLinePrinter(process.env.LOG_PRETTY !== 'off');
  let stack: DevStack | undefined;
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    print('dev', 'stopping');
    await stack?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  try {
    stack = await startDevStack({
      handlers,
      port: count(values.port, 'port', 3000),
      host: values.host ?? '127.0.0.1',
      ...(values.static === undefined ? {} : { staticDir: values.static }),
      ...(values.page === undefined ? {} : { page: values.page }),
      ioNodes: Math.max(1, count(values['io-nodes'], 'io-nodes', 1)),
      appNodes: Math.max(1, count(values['app-nodes'], 'app-nodes', 1)),
      watch: values['no-watch'] !== true,
      ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
      ...(process.env.IOCLUSTER_PREFIX ? { prefix: process.env.IOCLUSTER_PREFIX } : {}),
      env: { LOG_PRETTY: 'off' },
      output: print,
    });
  } catch (err) {
    print('dev', `could not start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  print('dev', `redis ${stack.redisUrl}${stack.redis ? ' (started here)' : ''}`);
  print('dev', `ready: open ${stack.frontendUrl}/   (Ctrl-C stops everything)`);
  process.send?.({ type: 'ready', url: stack.frontendUrl, redisUrl: stack.redisUrl });
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'dev') await dev(rest);
else if (command === 'start') {
  const [tier, ...args] = rest;
  if (!isTier(tier)) fail(`start needs one of ${TIERS.join(', ')}`);
  await startTier(tier, args);
} else if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
  process.stdout.write(USAGE);
} else fail(`unknown command "${command}"`);
