import { loadSettings, type Settings } from './config.js';
import { type Env, flag, oneOf, read } from './config-env.js';
import type { Tier } from './config-table.js';
import { ConfigError, IoclusterError, isTransientRedisError } from './errors.js';
import { settleWithin } from './lifecycle.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './logger.js';

/*
 * A process that cannot start says so in one line: what is wrong, which variable, what to do; and exits
 * 1. The stack is for whoever debugs iocluster itself: it comes with LOG_LEVEL=debug.
 */

/** The ports a process listens on, by the variable that sets each: a port in use is named by it. */
export type PortVariables = Readonly<Record<string, number | undefined>>;

/** What a failed start is reported as. */
export interface StartFailure {
  /** The one line: what is wrong, which variable, what to do. */
  readonly message: string;
  /** The error's stable code (`CONFIG_INVALID`, `EADDRINUSE`...), or `START_FAILED`. */
  readonly code: string;
  /** The variable to change, when one is to blame. */
  readonly variable?: string;
}

/** An environment variable's name at the start of a message (`IO_NODE_PORT must be...`). */
const VARIABLE = /^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/;

/** Says in one line why a start failed (see {@link StartFailure}); `ports` names the listening ports. */
export function describeStartFailure(err: unknown, ports: PortVariables = {}): StartFailure {
  if (!(err instanceof Error)) return { message: `cannot start: ${String(err)}`, code: 'START_FAILED' };
  const raw = (err as { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : '';
  if (err instanceof ConfigError) {
    const variable = VARIABLE.exec(err.message)?.[1];
    return {
      // Most messages say what is expected; one that does not gets the generic advice.
      message: `cannot start: ${err.message}${err.message.includes(';') ? '' : '; correct it and start again'}`,
      code,
      ...(variable === undefined ? {} : { variable }),
    };
  }
  if (code === 'EADDRINUSE' || code === 'EACCES') {
    const { port, address } = err as { port?: number; address?: string };
    const variable = Object.entries(ports).find(([, value]) => value !== undefined && value === port)?.[0];
    const where = `port ${port ?? '?'}${address ? ` on ${address}` : ''}`;
    const named = variable === undefined ? where : `${variable}: ${where}`;
    const change = variable === undefined ? 'another port' : `another ${variable} (0 picks a free port)`;
    return {
      message:
        code === 'EADDRINUSE'
          ? `cannot start: ${named} is already in use; choose ${change} or stop the process that holds it`
          : `cannot start: ${named} may not be listened on without privileges; choose ${change}, above 1023`,
      code,
      ...(variable === undefined ? {} : { variable }),
    };
  }
  if (isTransientRedisError(err)) {
    return {
      message: `cannot start: Redis did not answer (${err.message}); check REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES) and that Redis runs`,
      code: code || 'REDIS_UNAVAILABLE',
    };
  }
  if (err instanceof IoclusterError) return { message: `cannot start: ${err.message}`, code };
  return {
    message: `cannot start: ${err.name}: ${err.message} (LOG_LEVEL=debug shows the stack)`,
    code: code || 'START_FAILED',
  };
}

/**
 * Logs the failure as one fatal line (with the error and its stack only when `debug` is enabled) and
 * exits 1.
 */
export function exitAfterStartFailure(logger: Logger, err: unknown, ports?: PortVariables): never {
  const failure = describeStartFailure(err, ports);
  const { message, ...fields } = failure;
  logger.fatal(logger.isLevelEnabled('debug') ? { ...fields, err } : fields, message);
  logger.flush();
  process.exit(1);
}

/**
 * `loadSettings(tier, env)` for a process's `main.ts`: a setting that does not parse ends the process
 * with one line ({@link exitAfterStartFailure}), logged as `LOG_LEVEL` and `LOG_PRETTY` say when they
 * parse.
 */
export function loadSettingsOrExit<T extends Tier>(
  name: string,
  tier: T,
  env: Env = process.env,
): Settings<T> {
  try {
    return loadSettings(tier, env);
  } catch (err) {
    exitAfterStartFailure(fallbackLogger(name, env), err);
  }
}

function fallbackLogger(name: string, env: Env): Logger {
  const lenient = <T>(
    kind: { env: { safeParse(text: string): { success: boolean; data?: T } } },
    variable: string,
    fallback: T,
  ): T => {
    const text = read(env, variable);
    const parsed = text === undefined ? undefined : kind.env.safeParse(text);
    return parsed?.success ? (parsed.data as T) : fallback;
  };
  return createLogger({
    name,
    level: lenient(oneOf(LOG_LEVELS as readonly [LogLevel, ...LogLevel[]]), 'LOG_LEVEL', 'info'),
    pretty: lenient(flag(), 'LOG_PRETTY', false),
  });
}

/** Options of {@link startOrExit}. */
export interface StartOrExitOptions {
  /** Ports the process listens on, by variable (`{ IO_NODE_PORT: 3001 }`). */
  ports?: PortVariables;
  /**
   * Undoes what the failed start did (closes the node: its Redis keys go), given at most `closeWithinMs`.
   * @defaultValue nothing to undo
   */
  close?: () => Promise<void>;
  /** @defaultValue 5000 */
  closeWithinMs?: number;
}

/**
 * Runs `start`; resolves true once it did. If it fails, closes what it began, says why in one line and
 * exits 1; if it failed because the process is already shutting down (a signal during the start,
 * `NODE_CLOSING`), resolves false and leaves the exit to the shutdown.
 */
export async function startOrExit(
  logger: Logger,
  start: () => Promise<unknown>,
  options: StartOrExitOptions = {},
): Promise<boolean> {
  try {
    await start();
    return true;
  } catch (err) {
    if (err instanceof IoclusterError && err.code === 'NODE_CLOSING') return false;
    if (options.close) await settleWithin(options.close(), options.closeWithinMs ?? 5_000);
    exitAfterStartFailure(logger, err, options.ports);
  }
}
