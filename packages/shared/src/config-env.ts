import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * Kinds of setting values for the settings table (`config-table.ts`). A kind is a zod schema for the
 * variable's text and one for the option's value given in code, with the words the docs and the error
 * messages use, so a bound is written once.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface Kind<V> {
  /** Type column of the configuration reference. */
  readonly type: string;
  /** Bounds column of the configuration reference ('' when there are none). */
  readonly bounds: string;
  /** Completes "`<VARIABLE>` must …" and "`<Options>.<option>` must …". */
  readonly expects: string;
  /** Parses the variable's text (trimmed, never empty). */
  readonly env: z.ZodType<V, string>;
  /** Checks the value an option is given in code. */
  readonly option: z.ZodType<V>;
}

/** Adds a failure whose message the error shows in brackets after the value (`not a directory`). */
function detail(ctx: z.core.$RefinementCtx, message: string): void {
  ctx.addIssue({ code: 'custom', message, params: { detail: true } });
}

/** The variable's value, trimmed; undefined when unset or blank. */
export function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

export function integer(min: number, max: number): Kind<number> {
  const option = z.number().int().min(min).max(max);
  return {
    type: 'integer',
    bounds: `${min} to ${max}`,
    expects: `be an integer from ${min} to ${max}`,
    env: z.string().transform(Number).pipe(option),
    option,
  };
}

export function port(): Kind<number> {
  return { ...integer(0, 65535), type: 'port (0: any free one)' };
}

const TRUTHY = ['1', 'true', 'on', 'yes'];
const FALSY = ['0', 'false', 'off', 'no'];
export function flag(): Kind<boolean> {
  return {
    type: 'on/off',
    bounds: '',
    expects: 'be on/off (or true/false, 1/0)',
    env: z.stringbool({ truthy: TRUTHY, falsy: FALSY, case: 'insensitive' }),
    option: z.boolean(),
  };
}

export function oneOf<const T extends string>(values: readonly [T, ...T[]]): Kind<T> {
  const option = z.enum(values);
  return {
    type: 'one of',
    bounds: values.join(', '),
    expects: `be one of ${values.join(', ')}`,
    env: z.string().pipe(option),
    option,
  };
}

/** Free text, optionally held to a pattern described by `describe`. */
export function text(pattern?: RegExp, describe = 'be text'): Kind<string> {
  const option = pattern ? z.string().regex(pattern) : z.string().min(1);
  return {
    type: 'text',
    bounds: pattern ? describe.replace(/^be /, '') : '',
    expects: describe,
    env: option,
    option,
  };
}

/** A secret: never echoed in errors (the table row says `secret`). */
export function secret(minLength: number, unit: 'bytes' | 'characters', why = ''): Kind<string> {
  const length = (s: string) => (unit === 'bytes' ? Buffer.byteLength(s) : s.length);
  const option = z.string().refine((s) => length(s) >= minLength);
  return {
    type: 'secret',
    bounds: `at least ${minLength} ${unit}`,
    expects: `be at least ${minLength} ${unit}${why} long`,
    env: option,
    option,
  };
}

/** A URL with one of `protocols` (with their colon); `placeholder` may stand for the port. */
export function url(protocols: readonly string[], placeholder?: string): Kind<string> {
  const option = z.string().refine((raw) => {
    try {
      const parsed = new URL(placeholder === undefined ? raw : raw.replaceAll(placeholder, '1'));
      return protocols.includes(parsed.protocol);
    } catch {
      return false;
    }
  });
  return {
    type: 'URL',
    bounds: protocols.join(' '),
    expects: `be a URL with ${protocols.join(' or ')}`,
    env: option,
    option,
  };
}

function split(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Comma-separated items, each one of `items` when given. */
export function list<T extends string = string>(items?: readonly [T, ...T[]]): Kind<readonly T[]> {
  const item = (items ? z.enum(items) : z.string().min(1)) as z.ZodType<T, string>;
  const option = z.array(item).min(1).readonly();
  return {
    type: 'comma-separated list',
    bounds: items ? `of ${items.join(', ')}` : '',
    expects: items ? `list some of ${items.join(', ')}` : 'be a comma-separated list',
    env: z
      .string()
      .transform((raw) => split(raw) as readonly string[])
      .pipe(option),
    option,
  };
}

const HOST_PORT = /^\[?([^\]]+?)\]?:(\d{1,5})$/;
export interface HostPort {
  host: string;
  port: number;
}
export function hostPorts(): Kind<HostPort[]> {
  const option = z
    .array(z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }))
    .min(1);
  return {
    type: 'comma-separated list',
    bounds: 'of host:port',
    expects: 'be a comma-separated list of host:port',
    env: z
      .string()
      .transform((raw) =>
        raw.split(',').map((part) => {
          const match = HOST_PORT.exec(part.trim());
          return { host: match?.[1] ?? '', port: Number(match?.[2]) };
        }),
      )
      .pipe(option),
    option,
  };
}

/** `*` or comma-separated origins (each normalised to scheme://host:port). */
export function origins(): Kind<readonly string[] | '*'> {
  const origin = z.string().transform((value, ctx) => {
    try {
      return new URL(value).origin;
    } catch {
      detail(ctx, `"${value}" is not an origin`);
      return z.NEVER;
    }
  });
  return {
    type: 'origins',
    bounds: '`*` or a comma-separated list',
    expects: 'be "*" or a comma-separated list of origins',
    env: z.string().transform((raw, ctx) => {
      if (raw === '*') return '*' as const;
      const parsed = z.array(origin).min(1).safeParse(split(raw));
      if (!parsed.success) {
        detail(ctx, parsed.error.issues[0]?.message ?? 'bad origin');
        return z.NEVER;
      }
      return Object.freeze(parsed.data);
    }),
    option: z.union([z.literal('*'), z.array(z.string()).readonly()]),
  };
}

export function urlPath(): Kind<string> {
  const option = z.string().regex(/^\/([A-Za-z0-9._~-]+\/)*$/);
  return {
    type: 'URL path',
    bounds: 'starts and ends with /',
    expects: 'be a URL path that starts and ends with "/"',
    env: option,
    option,
  };
}

/** An existing directory; the variable's value is made absolute. */
export function directory(): Kind<string> {
  const option = z.string().transform((raw, ctx) => {
    const path = resolve(raw);
    let isDirectory = false;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      detail(ctx, 'no such directory');
      return z.NEVER;
    }
    if (!isDirectory) detail(ctx, 'not a directory');
    return path;
  });
  return { type: 'path', bounds: 'a directory', expects: 'name an existing directory', env: option, option };
}

/** A file whose contents (UTF-8) are the value; `holds` checks them. */
export function fileContents(holds?: { test: (text: string) => boolean; what: string }): Kind<string> {
  return {
    type: 'path',
    bounds: holds ? `a file holding ${holds.what}` : 'a readable file',
    expects: holds ? `name a readable file holding ${holds.what}` : 'name a readable file',
    env: z.string().transform((raw, ctx) => {
      let contents: string;
      try {
        contents = readFileSync(resolve(raw), 'utf8');
      } catch {
        detail(ctx, 'cannot read it');
        return z.NEVER;
      }
      if (holds && !holds.test(contents)) detail(ctx, `not ${holds.what}`);
      return contents;
    }),
    option: z.string(),
  };
}

/** How many worker processes: a count, or `auto` for one per core. */
export function workers(): Kind<number> {
  const count = integer(1, 256);
  return {
    type: 'integer or auto',
    bounds: '1 to 256, auto: one per core',
    expects: 'be an integer from 1 to 256 or auto',
    env: z.string().transform((raw, ctx) => {
      if (raw.toLowerCase() === 'auto') return availableParallelism();
      const parsed = count.env.safeParse(raw);
      if (!parsed.success) {
        ctx.addIssue({ code: 'custom', message: 'out of bounds' });
        return z.NEVER;
      }
      return parsed.data;
    }),
    option: count.option,
  };
}
