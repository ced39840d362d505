import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, stripVTControlCharacters } from 'node:util';
import { type ForkedProcess, forkProcess } from '@iocluster/devkit';
import { createRedis } from '@iocluster/shared';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys } from './support/cluster.js';
import { until } from './support/poll.js';

/**
 * The packages as a user gets them: packed (`npm pack`); a project scaffolded by the packed
 * create-iocluster (as `npm create` runs it) in a directory outside the workspace; the tarballs installed
 * there (third-party dependencies from npm's cache or registry); then run. One packing and one install
 * serve every test here: they take most of the time. No retries: a second run would repeat minutes of
 * installing, and nothing here depends on timing.
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PACKAGES = [
  'shared',
  'io-node',
  'app-node',
  'emitter',
  'frontend',
  'client',
  'devkit',
  'cli',
  'create-iocluster',
];
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'iocluster-packages-'));
const project = join(work, 'my-app');
/** Where the stack tests keep their handlers: inside the project, outside what its own tests compile. */
const e2e = join(project, 'e2e');
const prefixes: string[] = [];
const processes: ForkedProcess[] = [];
const sockets: Socket[] = [];
let tarballs: string[] = [];
let redisUrl = '';
let scaffolded = '';

/** The environment of a nested npm: none of the outer npm's or vitest's settings leak into it. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(npm_|VITEST|NODE_ENV$|TEST$)/i.test(key)),
  ) as NodeJS.ProcessEnv;
}

async function npm(cwd: string, args: string[], timeoutMs = 300_000): Promise<string> {
  try {
    const { stdout, stderr } = await run('npm', args, {
      cwd,
      env: { ...cleanEnv(), NO_COLOR: '1' },
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stripVTControlCharacters(`${stdout}${stderr}`);
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `npm ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
  }
}

const install = (cwd: string) =>
  npm(cwd, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tarballs]);

/** Runs the installed `iocluster` bin until it says it is ready. */
async function iocluster(label: string, args: string[], env: Record<string, string>): Promise<ForkedProcess> {
  const forked = await forkProcess({
    label,
    module: join(project, 'node_modules/iocluster/dist/bin.js'),
    args,
    cwd: e2e,
    env: { REDIS_URL: redisUrl, LOG_LEVEL: 'info', ...env },
    readyTimeoutMs: 60_000,
  });
  processes.push(forked);
  return forked;
}

/** A workspace package's package.json. */
function manifest(name: string): Record<string, unknown> & {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  exports: Record<string, Record<string, string>>;
} {
  return JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8'));
}

function prefix(): string {
  const p = `t${randomBytes(5).toString('hex')}`;
  prefixes.push(p);
  return p;
}

/** A plain Socket.IO client on the io-node the frontend picks (`GET /api/connect`). */
async function connect(frontendUrl: string): Promise<Socket> {
  const { url } = await until(
    async () => {
      const res = await fetch(`${frontendUrl}/api/connect`);
      return res.status === 200 ? ((await res.json()) as { url: string }) : { url: '' };
    },
    (answer) => answer.url !== '',
    20_000,
  );
  const socket = io(url, { transports: ['websocket'], reconnection: false });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

beforeAll(async () => {
  for (const name of PACKAGES) {
    if (!existsSync(join(ROOT, 'packages', name, 'dist/index.js'))) {
      throw new Error(`packages/${name}/dist is missing: run npm run build first (npm test does)`);
    }
  }
  const tarballDir = join(work, 'tarballs');
  mkdirSync(tarballDir);
  const packed = JSON.parse(
    await npm(ROOT, [
      'pack',
      '--json',
      '--loglevel=error',
      '--pack-destination',
      tarballDir,
      ...PACKAGES.flatMap((name) => ['-w', `packages/${name}`]),
    ]),
  ) as { filename: string }[];
  tarballs = packed.map((p) => join(tarballDir, p.filename));
  // What `npm create iocluster my-app` does: run the bin of the create-iocluster package.
  const creator = tarballs.find((t) => /create-iocluster-[^/]+\.tgz$/.test(t))!;
  scaffolded = await npm(work, ['exec', '--yes', `--package=${creator}`, '--', 'create-iocluster', 'my-app']);
  await install(project);
  mkdirSync(e2e);
  // Redis from the installed devkit, in a plain Node process: nothing of the workspace helps it.
  writeFileSync(
    join(e2e, 'redis.js'),
    `import { startRedisServer } from '@iocluster/devkit';
     const redis = await startRedisServer();
     process.on('SIGTERM', () => void redis.close().then(() => process.exit(0)));
     process.send({ type: 'ready', url: redis.url });\n`,
  );
  const redis = await forkProcess({ label: 'redis', module: join(e2e, 'redis.js'), cwd: e2e });
  processes.push(redis);
  redisUrl = String(redis.ready.url);
}, 600_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  // Redis last: the nodes close their connections to it first.
  await Promise.all(processes.slice(1).map((p) => p.stop(10_000)));
  if (redisUrl) {
    const redis = createRedis(redisUrl, 'command');
    for (const p of prefixes) await deleteKeys(redis, p);
    await redis.quit();
  }
  await processes[0]?.stop(10_000);
  rmSync(work, { recursive: true, force: true });
}, 180_000);

describe('packages', { retry: 0 }, () => {
  it('packages - each public package declares its dependencies, exports, files, engines, license and a README', () => {
    const versions = new Set<string>();
    for (const name of PACKAGES) {
      const dir = join(ROOT, 'packages', name);
      const pkg = manifest(name);
      versions.add(pkg.version);
      expect(pkg.private, name).toBeUndefined();
      expect(pkg.license, name).toBe('MIT');
      expect(pkg.engines, name).toEqual({ node: '>=20.19' });
      expect(pkg.files, name).toContain('dist');
      expect(pkg.exports['.'], name).toEqual({
        types: './dist/index.d.ts',
        source: './src/index.ts',
        default: './dist/index.js',
      });
      expect(existsSync(join(dir, 'README.md')), `${name}/README.md`).toBe(true);
      // Our packages are released together: each depends on the others at exactly its own version.
      for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) {
        if (dep.startsWith('@iocluster/') || dep === 'iocluster')
          expect(range, `${name} → ${dep}`).toBe(pkg.version);
      }
    }
    expect([...versions]).toHaveLength(1);
    expect(tarballs).toHaveLength(PACKAGES.length);
  });

  it('packages - npm publish --dry-run is clean for each: nothing npm would correct or complain about', async () => {
    const output = await npm(ROOT, [
      'publish',
      '--dry-run',
      ...PACKAGES.flatMap((name) => ['-w', `packages/${name}`]),
    ]);
    const published = [...output.matchAll(/^\+ (\S+)@/gm)].map((m) => m[1]);
    expect(published.sort()).toEqual(PACKAGES.map((name) => manifest(name).name).sort());
    // A dry run without credentials says so; anything else npm warns about is a defect of a package.json.
    const warnings = output.split('\n').filter((line) => /\bwarn\b/i.test(line) && !/logged in/.test(line));
    expect(warnings).toEqual([]);
  }, 120_000);

  it('packages - a stack started from the installed tarballs chats with a Socket.IO client', async () => {
    // TypeScript, as the image runs it: `iocluster start app-node` loads it through tsx.
    writeFileSync(
      join(e2e, 'handlers.ts'),
      `import type { AppNode } from '@iocluster/app-node';
       export default function register(app: AppNode): void {
         app.on('connection', (socket) => socket.join('lobby'));
         app.on('chat message', (socket, msg: { text: string }) => {
           app.to('lobby').emit('chat message', { ...msg, from: socket.id });
           return { ok: true, text: msg.text };
         });
       }\n`,
    );
    const env = { IOCLUSTER_PREFIX: prefix() };
    await iocluster('io-node', ['start', 'io-node'], {
      ...env,
      IO_NODE_HOST: '127.0.0.1',
      IO_NODE_PORT: '0',
    });
    await iocluster('app-node', ['start', 'app-node', 'handlers.ts'], env);
    const frontend = await iocluster('frontend', ['start', 'frontend'], {
      ...env,
      FRONTEND_HOST: '127.0.0.1',
      FRONTEND_PORT: '0',
    });
    const socket = await connect(`http://127.0.0.1:${String(frontend.ready.port)}`);
    const received = new Promise<unknown>((resolve) => socket.once('chat message', resolve));
    const ack = await socket.timeout(20_000).emitWithAck('chat message', { text: 'hello from a tarball' });
    expect(ack).toEqual({ ok: true, text: 'hello from a tarball' });
    expect(await received).toEqual({ text: 'hello from a tarball', from: socket.id });
  }, 120_000);
  it('create-iocluster - the scaffolded project, installed from the tarballs, passes its own npm test', async () => {
    expect(scaffolded).toContain(`Created ${project}`);
    for (const file of [
      'src/events.ts',
      'src/handlers.ts',
      'src/page.ts',
      'public/index.html',
      'test/handlers.test.ts',
      'Dockerfile',
      'compose.yaml',
      '.gitignore',
    ]) {
      expect(existsSync(join(project, file)), file).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')).name).toBe('my-app');
    const output = await npm(project, ['test']);
    expect(output).toMatch(/Tests\s+2 passed \(2\)/);
    await npm(project, ['run', 'build:page']);
    expect(readFileSync(join(project, 'public/app.js'), 'utf8')).toContain('/api/connect');
  }, 600_000);
  // After the project's own test: this one edits its handlers (and puts them back).
  it('packages - npx iocluster dev in the project serves its page, runs its TypeScript handlers and reloads them on change', async () => {
    const handlers = join(project, 'src/handlers.ts');
    const original = readFileSync(handlers, 'utf8');
    // Built by the project's test run; dev must bundle it itself.
    rmSync(join(project, 'public/app.js'), { force: true });
    const lines: string[] = [];
    const dev = await forkProcess({
      label: 'dev',
      module: join(project, 'node_modules/iocluster/dist/bin.js'),
      args: ['dev', '--port', '0'],
      cwd: project,
      env: { REDIS_URL: redisUrl, IOCLUSTER_PREFIX: prefix(), LOG_PRETTY: 'off' },
      output: (line) => lines.push(line),
      readyTimeoutMs: 60_000,
    });
    processes.push(dev);
    try {
      const url = String(dev.ready.url);
      expect(lines.some((line) => line.includes(`ready: open ${url}/`))).toBe(true);
      expect(lines.some((line) => line.includes('page bundled'))).toBe(true);
      // The page, and its script bundled from src/page.ts with @iocluster/client.
      expect(await (await fetch(`${url}/`)).text()).toContain('<script type="module" src="/app.js">');
      expect(await (await fetch(`${url}/app.js`)).text()).toContain('/api/connect');

      const socket = await connect(url);
      expect(await socket.timeout(20_000).emitWithAck('join', 'lobby')).toEqual({
        room: 'lobby',
        rooms: ['lobby'],
      });
      const refused = { room: 'elsewhere', text: 'hi' };
      expect(await socket.timeout(20_000).emitWithAck('chat message', refused)).toEqual({
        error: { code: 'NOT_IN_ROOM', message: 'join elsewhere first' },
      });

      writeFileSync(handlers, original.replace('first` }', 'before writing` }'));
      await until(
        async () => lines.some((line) => line.includes('handlers reloaded')),
        (seen) => seen,
        60_000,
      );
      expect(await socket.timeout(20_000).emitWithAck('chat message', refused)).toEqual({
        error: { code: 'NOT_IN_ROOM', message: 'join elsewhere before writing' },
      });
    } finally {
      writeFileSync(handlers, original);
    }
  }, 180_000);
});
