import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One process of the stack. */
export interface StackProcess {
  /** `frontend`, `io-node-1`, `app-node-2`, `redis`... */
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** What it announced when ready (`nodeId`, `url`, `port`). */
  readonly ready: Readonly<Record<string, unknown>>;
  /** Resolves when it exited. */
  readonly exited: Promise<void>;
  /** Sends a signal (SIGKILL for a crash, SIGTERM for a drain) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Redis to use; when nothing answers there and `startRedis` allows, a local redis-server is started. @defaultValue 'redis://127.0.0.1:6379' */
  redisUrl?: string;
  /** Start a redis-server on a free port when `redisUrl` does not answer. @defaultValue true */
  startRedis?: boolean;
  /** IOCLUSTER_PREFIX of every process. @defaultValue 'iocluster' */
  prefix?: string;
  /** @defaultValue 2 */
  ioNodes?: number;
  /** @defaultValue 2 */
  appNodes?: number;
  /** Frontend port; 0 picks a free one. @defaultValue 3000 */
  frontendPort?: number;
  /** Interface everything listens on. @defaultValue '127.0.0.1' */
  host?: string;
  /** FRONTEND_PROXY. @defaultValue false */
  proxy?: boolean;
  /**
   * Run the TypeScript sources through tsx (`src/main.ts`, `--conditions=source`) instead of the built
   * `dist/main.js`: for tests that must not depend on a build. @defaultValue false
   */
  source?: boolean;
  /** Extra environment for every process. @defaultValue {} */
  env?: Record<string, string>;
  /** Receives every output line of every process, prefixed. @defaultValue lines are dropped */
  output?: (name: string, line: string) => void;
  /** How long each process may take to get ready. @defaultValue 30000 */
  readyTimeoutMs?: number;
}

/** The running example: a frontend, io-nodes and app-nodes, and maybe a redis-server. */
export interface Stack {
  readonly frontendUrl: string;
  readonly redisUrl: string;
  readonly prefix: string;
  /** Set when the stack started its own redis-server. */
  readonly redis: StackProcess | undefined;
  readonly frontend: StackProcess;
  readonly ioNodes: StackProcess[];
  readonly appNodes: StackProcess[];
  /** Every process started, still running or not. */
  readonly processes: readonly StackProcess[];
  /**
   * Stops everything it started, by PID, in drain order (frontend, io-nodes, app-nodes, redis): SIGTERM,
   * then SIGKILL for a process still there after `graceMs`. Idempotent.
   */
  stop(graceMs?: number): Promise<void>;
}

/** Is something answering PING at this Redis URL? */
export function redisReachable(url: string, timeoutMs = 1_000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // "+PONG", or "-NOAUTH ..." from a server that wants a password: either way a Redis is there.
    socket.once('data', (chunk) => done(/^[+-]/.test(chunk.toString())));
  });
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function pipeLines(name: string, child: ChildProcess, output: StackOptions['output'], tail: string[]): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        output?.(name, line);
      }
    });
  }
}

function manage(
  name: string,
  child: ChildProcess,
  exited: Promise<void>,
): StackProcess & { ready: Record<string, unknown> } {
  return {
    name,
    pid: child.pid!,
    child,
    ready: {},
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** The processes of a stack, by package. */
export type StackPackage = 'frontend' | 'io-node' | 'app-node';

/**
 * The entry point of a package's process, from the repository root: `dist/main.js` (what
 * docker-compose.yml and `npm run example` run), or with `source` the `src/main.ts` it is built from.
 */
export function entryPoint(pkg: StackPackage, source = false): string {
  return source ? `packages/${pkg}/src/main.ts` : `packages/${pkg}/dist/main.js`;
}

/** The chat handlers module app-nodes load. */
export function chatModule(source = false): string {
  return source ? 'example/src/chat-app.ts' : 'example/dist/chat-app.js';
}

interface Spec {
  name: string;
  pkg: StackPackage;
  args?: string[];
  env: Record<string, string>;
}

type Resolved = Required<Omit<StackOptions, 'output'>> & StackOptions;

/** Forks one process and registers it in `processes` at once (so a failed start still stops it). */
async function startNode(spec: Spec, options: Resolved, processes: StackProcess[]): Promise<StackProcess> {
  const entry = entryPoint(spec.pkg, options.source);
  const tail: string[] = [];
  const child = fork(`${ROOT}${entry}`, spec.args ?? [], {
    cwd: ROOT,
    execArgv: options.source ? ['--import', 'tsx', '--conditions=source'] : [],
    env: { ...process.env, ...options.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // Own process group: a Ctrl-C in the terminal reaches only the launcher, which stops the others in
    // drain order, once each (a second signal would make them exit at once).
    detached: true,
  });
  pipeLines(spec.name, child, options.output, tail);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const managed = manage(spec.name, child, exited);
  processes.push(managed);
  managed.ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${spec.name} was not ready within ${options.readyTimeoutMs} ms:\n${tail.join('\n')}`),
      );
    }, options.readyTimeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${spec.name} exited (${signal ?? code}) before it was ready:\n${tail.join('\n')}`));
    });
    child.on('message', (message: { type?: string } & Record<string, unknown>) => {
      if (message?.type !== 'ready') return;
      clearTimeout(timer);
      resolve(message);
    });
  });
  return managed;
}

async function startRedisServer(
  output: StackOptions['output'],
  processes: StackProcess[],
): Promise<{ url: string; process: StackProcess }> {
  const port = await freePort();
  const tail: string[] = [];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--loglevel', 'warning');
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  pipeLines('redis', child, output, tail);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const managed = manage('redis', child, exited);
  managed.ready = { port };
  if (child.pid !== undefined) processes.push(managed);
  const url = `redis://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const onExit = (code: number | null) =>
      reject(new Error(`redis-server exited with ${code}:\n${tail.join('\n')}`));
    child.once('exit', onExit);
    child.once('error', (err) => {
      child.off('exit', onExit);
      reject(
        new Error(
          `no Redis answers and redis-server cannot be started (${err.message}): install Redis ` +
            '(Debian/Ubuntu: apt-get install redis-server) or set REDIS_URL to a running one',
        ),
      );
    });
    // Bounded poll: redis-server (at loglevel warning) says nothing when ready.
    const poll = async () => {
      while (child.exitCode === null && child.pid !== undefined) {
        if (await redisReachable(url, 200)) {
          child.off('exit', onExit);
          return resolve();
        }
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          return reject(new Error(`redis-server did not answer within 10 s:\n${tail.join('\n')}`));
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    void poll();
  });
  return { url, process: managed };
}

/**
 * Starts the chat example as separate processes through the packages' entry points (the same ones
 * docker-compose.yml runs): a frontend serving example/public, io-nodes on free ports and app-nodes
 * running example/src/chat-app. Resolves once every process said it is ready.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const opts = {
    redisUrl: 'redis://127.0.0.1:6379',
    startRedis: true,
    prefix: 'iocluster',
    ioNodes: 2,
    appNodes: 2,
    frontendPort: 3000,
    host: '127.0.0.1',
    proxy: false,
    source: false,
    env: {},
    readyTimeoutMs: 30_000,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Resolved;
  const processes: StackProcess[] = [];
  let stopping: Promise<void> | undefined;

  const stop = (graceMs = 10_000): Promise<void> => {
    stopping ??= (async () => {
      const order = ['frontend', 'io-node', 'app-node', 'redis'];
      for (const kind of order) {
        const group = processes.filter((p) => p.name.startsWith(kind));
        await Promise.all(
          group.map(async (p) => {
            const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
            await p.kill('SIGTERM');
            clearTimeout(timer);
          }),
        );
      }
    })();
    return stopping;
  };

  try {
    let redisUrl = opts.redisUrl;
    let redis: StackProcess | undefined;
    if (!(await redisReachable(redisUrl))) {
      if (!opts.startRedis) throw new Error(`no Redis answers at ${redisUrl}`);
      const started = await startRedisServer(opts.output, processes);
      redisUrl = started.url;
      redis = started.process;
    }
    const common = {
      REDIS_URL: redisUrl,
      IOCLUSTER_PREFIX: opts.prefix,
    };
    const appModule = chatModule(opts.source);
    const io = await Promise.all(
      Array.from({ length: opts.ioNodes }, (_, i) =>
        startNode(
          {
            name: `io-node-${i + 1}`,
            pkg: 'io-node',
            env: {
              ...common,
              IO_NODE_ID: `io-${i + 1}-${randomBytes(2).toString('hex')}`,
              IO_NODE_HOST: opts.host,
              IO_NODE_PORT: '0',
            },
          },
          opts,
          processes,
        ),
      ),
    );
    const apps = await Promise.all(
      Array.from({ length: opts.appNodes }, (_, i) =>
        startNode(
          {
            name: `app-node-${i + 1}`,
            pkg: 'app-node',
            args: [appModule],
            env: { ...common, APP_NODE_ID: `app-${i + 1}-${randomBytes(2).toString('hex')}` },
          },
          opts,
          processes,
        ),
      ),
    );
    const frontend = await startNode(
      {
        name: 'frontend',
        pkg: 'frontend',
        env: {
          ...common,
          FRONTEND_HOST: opts.host,
          FRONTEND_PORT: String(opts.frontendPort),
          FRONTEND_STATIC_DIR: `${ROOT}example/public`,
          FRONTEND_PROXY: opts.proxy ? 'on' : 'off',
        },
      },
      opts,
      processes,
    );
    const port = frontend.ready.port;
    return {
      frontendUrl: `http://${opts.host}:${String(port)}`,
      redisUrl,
      prefix: opts.prefix,
      redis,
      frontend,
      ioNodes: io,
      appNodes: apps,
      processes,
      stop,
    };
  } catch (err) {
    await stop(2_000);
    throw err;
  }
}
