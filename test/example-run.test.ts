import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRedis } from '@iocluster/shared';
import { afterEach, expect, inject, test } from 'vitest';
import { deleteKeys } from './support/cluster.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const RUN = `${root}example/dist/run.js`;
const prefix = `t${randomBytes(5).toString('hex')}`;
let child: ChildProcess | undefined;

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }
  const redis = createRedis(inject('redisUrl'), 'command');
  await deleteKeys(redis, prefix);
  await redis.quit();
}, 30_000);

test('run - npm run example logs one line per entry and ends its start-up with the banner', async () => {
  if (!existsSync(RUN)) throw new Error(`${RUN} is missing: run npm run build first (npm test does)`);
  const token = 'example-admin-token';
  child = spawn(process.execPath, [RUN], {
    cwd: root,
    env: {
      ...process.env,
      REDIS_URL: inject('redisUrl'),
      IOCLUSTER_PREFIX: prefix,
      FRONTEND_PORT: '0',
      ADMIN_TOKEN: token,
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'on',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let bannerAt = -1;
  const bannerShown = new Promise<void>((resolve, reject) => {
    child!.once('exit', (code) =>
      reject(new Error(`npm run example exited (${code}):\n${lines.join('\n')}`)),
    );
    createInterface({ input: child!.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.endsWith('| Ctrl-C stops everything.')) {
        bannerAt = lines.length;
        resolve();
      }
    });
  });
  await bannerShown;
  const startup = lines.slice(0, bannerAt);
  // Every line is `<process> | <one entry>`; node logs are pino-pretty single lines: time, level, message.
  for (const line of startup) expect(line).toMatch(/^[a-z0-9-]+ +\| /);
  const nodeLines = startup.filter((line) => /^(io-node|app-node|frontend)/.test(line));
  expect(nodeLines.length).toBeGreaterThanOrEqual(6);
  for (const line of nodeLines)
    expect(line).toMatch(/^\S+ +\| \[\d\d:\d\d:\d\d\.\d{3}\] [A-Z]+: .+ \{".*\}$/);
  expect(nodeLines.filter((line) => line.includes('INFO: io-node listening'))).toHaveLength(2);
  expect(nodeLines.filter((line) => line.includes('INFO: app-node started'))).toHaveLength(2);
  expect(nodeLines.filter((line) => line.includes('INFO: frontend listening'))).toHaveLength(1);

  // The banner is last: page, admin view with its token.
  const [ready, admin] = startup.slice(-3).map((line) => line.replace(/^example +\| /, ''));
  const page = /^chat example ready: open (http:\/\/127\.0\.0\.1:\d+)\/ /.exec(ready!)?.[1];
  expect(page, ready).toBeDefined();
  expect(admin).toBe(`admin view:         ${page}/admin?token=${token}  (token ${token})`);
  const opened = await fetch(`${page}/admin?token=${token}`, { redirect: 'manual' });
  expect(opened.status).toBe(303);
  // The frontend carries the page's Socket.IO traffic by default (FRONTEND_PROXY=on).
  expect(await (await fetch(`${page}/api/config`)).json()).toEqual({ proxy: true, proxyPath: '/socket.io/' });

  // Nothing was printed after the banner until Ctrl-C.
  const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
  child.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(lines[bannerAt]).toMatch(/^example +\| SIGINT: stopping every process it started$/);
  expect(lines.at(-1)).toMatch(/^example +\| stopped$/);
}, 90_000);
