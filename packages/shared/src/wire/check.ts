import { WireError } from '../errors.js';

/** Small validators shared by the decoders: each throws a WireError naming the path that is wrong. */
export type Plain = Record<string, unknown>;

export function isPlainObject(value: unknown): value is Plain {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function object(value: unknown, path: string): Plain {
  if (!isPlainObject(value)) throw new WireError(`${path} must be an object`);
  return value;
}

export function string(value: unknown, path: string, maxLength = 1024): string {
  if (typeof value !== 'string') throw new WireError(`${path} must be a string`);
  if (value.length > maxLength) throw new WireError(`${path} is longer than ${maxLength} characters`);
  return value;
}

export function nonEmptyString(value: unknown, path: string, maxLength = 1024): string {
  const result = string(value, path, maxLength);
  if (result.length === 0) throw new WireError(`${path} must not be empty`);
  return result;
}

export function optionalString(value: unknown, path: string): string | undefined {
  return value === undefined ? undefined : string(value, path);
}

export function integer(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new WireError(`${path} must be a non-negative integer`);
  }
  return value;
}

export function stringArray(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) throw new WireError(`${path} must be an array of strings`);
  for (let i = 0; i < value.length; i++) string(value[i], `${path}[${i}]`);
  return value as string[];
}

export function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new WireError(`${path} must be an array`);
  return value;
}

export function version(value: unknown, expected: number, path: string): void {
  if (value !== expected) throw new WireError(`${path} has version ${show(value)}, expected ${expected}`);
}

/**
 * A value for an error message, short and safe: `String()` throws on an object whose `toString` is not
 * a function (`{ "toString": 0 }` is valid JSON).
 */
export function show(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value).slice(0, 100);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** A non-negative integer, as a number or as the decimal string HGETALL returns. */
export function storedCount(value: unknown, path: string): number {
  const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isSafeInteger(parsed) || parsed < 0) {
    throw new WireError(`${path} must be a non-negative integer`);
  }
  return parsed;
}

/** A finite non-negative number, as a number or as the decimal string HGETALL returns. */
export function storedRate(value: unknown, path: string): number {
  const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
    throw new WireError(`${path} must be a non-negative number`);
  }
  return parsed;
}
