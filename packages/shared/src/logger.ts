import { isatty } from 'node:tty';
import { type DestinationStream, type Logger, pino } from 'pino';

export type { DestinationStream, Logger };

/**
 * Log fields that may hold credentials, replaced by `[redacted]` on every line: client tokens (handshake
 * `auth`, refresh arguments), HTTP credentials, configured secrets. pino's `*` spans one level, so the
 * usual nestings are listed.
 */
export const REDACTED_PATHS: readonly string[] = [
  'token',
  'secret',
  'password',
  'authorization',
  'cookie',
  '*.token',
  '*.secret',
  '*.password',
  'auth',
  '*.auth',
  '*.*.auth',
  'handshake.auth',
  'client.handshake.auth',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.*.headers.authorization',
  '*.*.headers.cookie',
  'jwt.secret',
  'config.auth',
];

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
  /** Where JSON lines go (tests capture them here); ignored with `pretty`. @defaultValue stdout */
  destination?: DestinationStream;
}

/** The one root logger factory: JSON lines to stdout, or pretty output for humans. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = 'info', name = 'iocluster', pretty = false, destination } = options;
  const redact = { paths: [...REDACTED_PATHS], censor: '[redacted]' };
  if (pretty) {
    return pino({
      name,
      level,
      redact,
      transport: {
        target: 'pino-pretty',
        // Colours only on a terminal: escape codes in a file or a log collector are noise.
        options: { colorize: isatty(1), ignore: 'pid,hostname', singleLine: true },
      },
    });
  }
  return destination ? pino({ name, level, redact }, destination) : pino({ name, level, redact });
}

/** A logger that drops everything: the default for library components given none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
