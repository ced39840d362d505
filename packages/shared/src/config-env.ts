import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';

/**
 * Readers of single environment variables for `loadConfig`: each parses and validates one value and
 * throws a ConfigError naming the variable.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

export function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'on', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'off', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be on/off (or true/false, 1/0), got "${raw}"`);
}

export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/** How many worker processes: a count, or `auto` for one per core. */
export function workers(env: Env, name: string): number {
  if (read(env, name)?.toLowerCase() === 'auto') return availableParallelism();
  return int(env, name, 1, 1, 256);
}

export function url(
  env: Env,
  name: string,
  protocols: readonly string[],
  placeholder?: string,
): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(placeholder === undefined ? raw : raw.replaceAll(placeholder, '1'));
  } catch (cause) {
    throw new ConfigError(`${name} must be a URL, got "${raw}"`, { cause });
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got "${raw}"`);
  }
  return raw;
}

export function hostPorts(env: Env, name: string): { host: string; port: number }[] | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  return raw.split(',').map((part) => {
    const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(part.trim());
    const port = Number(match?.[2]);
    if (!match?.[1] || port < 1 || port > 65535) {
      throw new ConfigError(`${name} must be a comma-separated list of host:port, got "${part.trim()}"`);
    }
    return { host: match[1], port };
  });
}

export function origins(env: Env, name: string): readonly string[] | '*' {
  const raw = read(env, name);
  if (raw === undefined || raw === '*') return '*';
  return Object.freeze(
    raw.split(',').map((origin) => {
      const value = origin.trim();
      try {
        return new URL(value).origin;
      } catch (cause) {
        throw new ConfigError(`${name} must be "*" or a comma-separated list of origins, got "${value}"`, {
          cause,
        });
      }
    }),
  );
}

export function urlPath(env: Env, name: string, fallback: string): string {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\/([A-Za-z0-9._~-]+\/)*$/.test(raw)) {
    throw new ConfigError(`${name} must be a URL path that starts and ends with "/", got "${raw}"`);
  }
  return raw;
}

export function directory(env: Env, name: string): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  const path = resolve(raw);
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (cause) {
    throw new ConfigError(`${name} must name an existing directory, got "${raw}"`, { cause });
  }
  if (!isDirectory) throw new ConfigError(`${name} must name a directory, got "${raw}" (not a directory)`);
  return path;
}

export function token(env: Env, name: string): string | undefined {
  const raw = read(env, name);
  if (raw !== undefined && raw.length < 8) {
    throw new ConfigError(
      `${name} must be at least 8 characters (it guards the admin view), got ${raw.length}`,
    );
  }
  return raw;
}

export function list(env: Env, name: string): readonly string[] | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length === 0 ? undefined : Object.freeze(items);
}

export function fileContents(env: Env, name: string): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  try {
    return readFileSync(resolve(raw), 'utf8');
  } catch (cause) {
    throw new ConfigError(`${name} must name a readable file, got "${raw}"`, { cause });
  }
}
