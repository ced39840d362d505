import { type Logger, pino } from 'pino';

export type { Logger };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Options of the root logger; components take children of it (`{ component, nodeId }`). */
export interface LoggerOptions {
  /** @defaultValue 'info' */
  level?: LogLevel;
  /** Process name shown on every line. @defaultValue 'iocluster' */
  name?: string;
  /** Human-readable output through pino-pretty (must be installed), one line per entry. @defaultValue false */
  pretty?: boolean;
}

/** The one root logger factory: JSON lines to stdout, or pretty output for humans. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = 'info', name = 'iocluster', pretty = false } = options;
  return pino({
    name,
    level,
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, ignore: 'pid,hostname', singleLine: true },
          },
        }
      : {}),
  });
}

/** A logger that drops everything: the default for library components given none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
