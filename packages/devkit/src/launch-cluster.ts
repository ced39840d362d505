import { randomBytes } from 'node:crypto';
import { isRunning } from './exit-status.js';
import { type ForkedProcess, type ForkProcessOptions, forkProcess } from './fork-process.js';

/** The tiers of an iocluster that run as processes of their own. */
export type NodeKind = 'io-node' | 'app-node' | 'frontend';

/** The module each tier's process runs (its `main`), absolute or relative to `cwd`. */
export type EntryPoints = Readonly<Record<NodeKind, string>>;

/**
 * Node options that run a package's TypeScript sources (`src/main.ts`) instead of its build: tsx, and the
 * `source` export condition so that workspace packages resolve to their sources too.
 */
export const SOURCE_EXEC_ARGV: readonly string[] = ['--import', 'tsx', '--conditions=source'];

/**
 * The entry points of the packages in this repository checked out at `root` (ending with `/`; `''` for
 * paths relative to it): `packages/<tier>/dist/main.js`, or with `source` the `src/main.ts` it is built
 * from (run it with {@link SOURCE_EXEC_ARGV}).
 */
export function workspaceEntryPoints(root: string, source = false): EntryPoints {
  const main = (pkg: NodeKind) => `${root}packages/${pkg}/${source ? 'src/main.ts' : 'dist/main.js'}`;
  return { 'io-node': main('io-node'), 'app-node': main('app-node'), frontend: main('frontend') };
}

/** Where a process's output goes: straight to this process's, or line by line to a function. */
export type NodeOutput = 'inherit' | ((label: string, line: string) => void);

/** One process to start, beyond what {@link LaunchClusterOptions} gives every process of its tier. */
export interface NodeSpec {
  /** Name in reports and errors. @defaultValue `<tier>-<n>`, n counting from 1 per tier; the first frontend's is `frontend` */
  label?: string;
  /** `IO_NODE_ID` / `APP_NODE_ID` (not used by the frontend). @defaultValue `<idPrefix>io-<n>-<4 hex>` */
  nodeId?: string;
  /** Added last to its environment. @defaultValue {} */
  env?: Record<string, string>;
  /** Its arguments. @defaultValue `[appModule]` for app-nodes, else [] */
  args?: string[];
  /** Runs this module instead of the tier's entry point (a fixture with hooks, say). @defaultValue the entry point */
  module?: string;
  /** Its Node options. @defaultValue the cluster's `execArgv` */
  execArgv?: string[];
  /** Where its output goes. @defaultValue the cluster's `output` */
  output?: NodeOutput;
}

/** Options of {@link launchCluster}. */
export interface LaunchClusterOptions {
  /** The module each tier runs. */
  entryPoints: EntryPoints;
  /** The handlers module app-nodes get as their argument. @defaultValue none: app-nodes get no argument */
  appModule?: string;
  /** io-nodes started at once (more with `start`). @defaultValue 0 */
  ioNodes?: number;
  /** app-nodes started at once, after the io-nodes. @defaultValue 0 */
  appNodes?: number;
  /** Start a frontend, after the nodes. @defaultValue false */
  frontend?: boolean;
  /** Environment of every process: Redis (`REDIS_URL`...), `IOCLUSTER_PREFIX`, `LOG_LEVEL`... @defaultValue {} */
  env?: Record<string, string>;
  /** Environment of every process of one tier, after `env`. @defaultValue {} */
  tierEnv?: Partial<Record<NodeKind, Record<string, string>>>;
  /** Interface io-nodes and the frontend listen on (`IO_NODE_HOST`, `FRONTEND_HOST`; ports are free ones). @defaultValue '127.0.0.1' */
  host?: string;
  /** Starts every generated node id, so that ids tell runs apart (`chaos-`). @defaultValue '' */
  idPrefix?: string;
  /** Node options of every process, e.g. {@link SOURCE_EXEC_ARGV}. @defaultValue [] */
  execArgv?: readonly string[];
  /** Working directory of every process. @defaultValue this process's */
  cwd?: string;
  /** Where output goes. @defaultValue lines are dropped (the last ones still end a start-up error) */
  output?: NodeOutput;
  /** Last lines kept for errors and `tail()`. @defaultValue 40 */
  tailLines?: number;
  /** Each process in a process group of its own: a Ctrl-C in the terminal reaches only its owner. @defaultValue false */
  detached?: boolean;
  /** How long each process may take to announce it is ready. @defaultValue 30000 */
  readyTimeoutMs?: number;
  /** Grace of the SIGTERM before the SIGKILL when stopping. @defaultValue 10000 */
  stopGraceMs?: number;
  /**
   * Aborting it while the cluster starts stops what was started once the step under way is done, and
   * rejects. @defaultValue never aborted
   */
  signal?: AbortSignal;
}

/** A process of the cluster: a {@link ForkedProcess} with its tier, its id and chaos controls. */
export interface NodeProcess extends ForkedProcess {
  readonly kind: NodeKind;
  /** `IO_NODE_ID` / `APP_NODE_ID` it was given; undefined for the frontend. */
  readonly nodeId: string | undefined;
  /** The URL it announced when ready (io-nodes and the frontend; the supervisor of workers announces none). */
  readonly url: string | undefined;
  /** Is it stopped by {@link NodeProcess.freeze} right now? */
  readonly frozen: boolean;
  /** SIGSTOP: it keeps its connections and its Redis records until they expire, and answers nothing. */
  freeze(): void;
  /** SIGCONT after {@link NodeProcess.freeze}. */
  thaw(): void;
  /** Sends `signal` (a frozen process is thawed, so that it acts on it) and waits for the exit. @defaultValue 'SIGTERM' */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (a drain), then SIGKILL after `graceMs`; waits for the exit. @defaultValue the cluster's `stopGraceMs` */
  stop(graceMs?: number): Promise<void>;
}

/** io-nodes, app-nodes and a frontend as processes through their entry points, with the controls tests and chaos use. */
export interface LaunchedCluster {
  /** The running io-nodes, in start order (a process leaves the list when it exits). */
  readonly ioNodes: readonly NodeProcess[];
  /** The running app-nodes, in start order. */
  readonly appNodes: readonly NodeProcess[];
  /** The running frontend, if any. */
  readonly frontend: NodeProcess | undefined;
  /** Every process started, running or not, in start order. */
  readonly processes: readonly NodeProcess[];
  /** Starts one more process of `kind` and resolves once it is ready. */
  start(kind: NodeKind, spec?: NodeSpec): Promise<NodeProcess>;
  /**
   * Stops every process in drain order (frontend, io-nodes, app-nodes; each tier at once): SIGTERM,
   * then SIGKILL for one still there after `graceMs`. Idempotent; waits for every exit.
   */
  stop(graceMs?: number): Promise<void>;
}

const SHORT: Record<NodeKind, string> = { 'io-node': 'io', 'app-node': 'app', frontend: 'frontend' };
const DRAIN_ORDER: readonly NodeKind[] = ['frontend', 'io-node', 'app-node'];

/** The environment a tier's process needs beyond the cluster's: its id, and where it listens. */
function ownEnv(kind: NodeKind, nodeId: string, host: string): Record<string, string> {
  if (kind === 'io-node') return { IO_NODE_ID: nodeId, IO_NODE_HOST: host, IO_NODE_PORT: '0' };
  if (kind === 'app-node') return { APP_NODE_ID: nodeId };
  return { FRONTEND_HOST: host, FRONTEND_PORT: '0' };
}

/** Adds the tier, the id and the chaos controls to a forked process. */
function nodeProcess(
  kind: NodeKind,
  nodeId: string | undefined,
  forked: ForkedProcess,
  graceMs: number,
): NodeProcess {
  let frozen = false;
  const thaw = () => {
    if (frozen && isRunning(forked.child)) forked.child.kill('SIGCONT');
    frozen = false;
  };
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (isRunning(forked.child)) forked.child.kill(signal);
    thaw();
    await forked.exited;
  };
  return {
    ...forked,
    kind,
    nodeId,
    url: typeof forked.ready.url === 'string' ? forked.ready.url : undefined,
    get frozen() {
      return frozen;
    },
    freeze() {
      if (frozen || !isRunning(forked.child)) return;
      forked.child.kill('SIGSTOP');
      frozen = true;
    },
    thaw,
    kill,
    async stop(grace = graceMs) {
      const timer = setTimeout(() => forked.child.kill('SIGKILL'), grace);
      await kill('SIGTERM');
      clearTimeout(timer);
    },
  };
}

/**
 * Starts io-nodes, then app-nodes, then a frontend (each tier at once) as separate processes through
 * their entry points, and resolves once every one said it is ready. A process that fails to start
 * stops the others and rejects with its {@link DevkitError} (`EXITED_BEFORE_READY`, `READY_TIMEOUT`...),
 * whose message ends with its last output lines.
 */
export async function launchCluster(options: LaunchClusterOptions): Promise<LaunchedCluster> {
  const host = options.host ?? '127.0.0.1';
  const graceMs = options.stopGraceMs ?? 10_000;
  const processes: NodeProcess[] = [];
  const counts: Record<NodeKind, number> = { 'io-node': 0, 'app-node': 0, frontend: 0 };
  let stopping: Promise<void> | undefined;

  const running = (kind: NodeKind) => processes.filter((p) => p.kind === kind && isRunning(p.child));

  const start = async (kind: NodeKind, spec: NodeSpec = {}): Promise<NodeProcess> => {
    const n = ++counts[kind];
    const nodeId =
      kind === 'frontend'
        ? undefined
        : (spec.nodeId ?? `${options.idPrefix ?? ''}${SHORT[kind]}-${n}-${randomBytes(2).toString('hex')}`);
    const label = spec.label ?? (kind === 'frontend' && n === 1 ? 'frontend' : `${kind}-${n}`);
    const output = spec.output ?? options.output;
    const args = spec.args ?? (kind === 'app-node' && options.appModule ? [options.appModule] : []);
    const forkOptions: ForkProcessOptions = {
      label,
      module: spec.module ?? options.entryPoints[kind],
      args,
      env: {
        ...options.env,
        ...options.tierEnv?.[kind],
        ...ownEnv(kind, nodeId ?? '', host),
        ...spec.env,
      },
      execArgv: [...(spec.execArgv ?? options.execArgv ?? [])],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(output === 'inherit'
        ? { stdio: 'inherit' as const }
        : { stdio: 'pipe' as const, ...(output ? { output: (line: string) => output(label, line) } : {}) }),
      ...(options.tailLines === undefined ? {} : { tailLines: options.tailLines }),
      detached: options.detached ?? false,
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    };
    const node = nodeProcess(kind, nodeId, await forkProcess(forkOptions), graceMs);
    processes.push(node);
    // Started while the cluster stops: it goes too.
    if (stopping) await node.stop();
    return node;
  };

  const stop = (grace = graceMs): Promise<void> => {
    stopping ??= (async () => {
      for (const kind of DRAIN_ORDER) {
        await Promise.all(running(kind).map((p) => p.stop(grace)));
      }
    })();
    return stopping;
  };

  /** Starts `count` processes of `kind` at once; every one that got ready is kept (for `stop`) even when another failed. */
  const startTier = async (kind: NodeKind, count: number) => {
    if (options.signal?.aborted) throw new Error('start aborted');
    const results = await Promise.allSettled(Array.from({ length: count }, () => start(kind)));
    // They got ready in any order; they are listed in the order they were started.
    const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    for (const node of started) processes.splice(processes.indexOf(node), 1);
    processes.push(...started);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    await startTier('io-node', options.ioNodes ?? 0);
    await startTier('app-node', options.appNodes ?? 0);
    await startTier('frontend', options.frontend ? 1 : 0);
    if (options.signal?.aborted) throw new Error('start aborted');
  } catch (err) {
    await stop(2_000);
    throw err;
  }

  return {
    get ioNodes() {
      return running('io-node');
    },
    get appNodes() {
      return running('app-node');
    },
    get frontend() {
      return running('frontend')[0];
    },
    processes,
    start,
    stop,
  };
}
