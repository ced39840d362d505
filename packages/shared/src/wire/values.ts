import { BINARY_TAG } from '../protocol.js';

/**
 * Event arguments are any JSON-compatible values plus binary (Buffer, ArrayBuffer, typed arrays), as
 * Socket.IO allows. Queue jobs and pub/sub messages are JSON, so binary travels as `{ $iocb: base64 }`
 * and the message says so (`bin: true`), which keeps the common text-only path free of any walk.
 */

/** Socket.IO's own test for binary content, bounded in depth like its `hasBinary`. */
export function hasBinary(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object' || depth > 32) return false;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (hasBinary(item, depth + 1)) return true;
    return false;
  }
  for (const key in value) {
    if (hasBinary((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/** Replaces binary leaves with `{ $iocb: base64 }`; returns a copy only along paths that hold binary. */
export function encodeBinary(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof ArrayBuffer) return { [BINARY_TAG]: Buffer.from(value).toString('base64') };
  if (ArrayBuffer.isView(value)) {
    return { [BINARY_TAG]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(encodeBinary);
  return copyWith(value as Record<string, unknown>, encodeBinary);
}

/** Turns `{ $iocb: base64 }` leaves back into Buffers. */
export function decodeBinary(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decodeBinary);
  const record = value as Record<string, unknown>;
  const tagged = record[BINARY_TAG];
  if (typeof tagged === 'string' && Object.keys(record).length === 1) return Buffer.from(tagged, 'base64');
  return copyWith(record, decodeBinary);
}

/**
 * A copy of an object's own keys with `map` applied to each value. `Object.fromEntries` defines each key
 * as an own property, so a key named `__proto__` (JSON.parse makes one) stays data instead of setting the
 * copy's prototype.
 */
function copyWith(
  record: Record<string, unknown>,
  map: (value: unknown) => unknown,
): Record<string, unknown> {
  return Object.fromEntries(Object.keys(record).map((key) => [key, map(record[key])]));
}

/** Encodes an argument list for the wire: `{ args, bin }` with `bin` only when binary was present. */
export function encodeArgs(args: unknown[]): { args: unknown[]; bin?: true } {
  return hasBinary(args) ? { args: encodeBinary(args) as unknown[], bin: true } : { args };
}

/** Inverse of {@link encodeArgs}. */
export function decodeArgs(args: unknown[], bin: boolean | undefined): unknown[] {
  return bin ? (decodeBinary(args) as unknown[]) : args;
}
