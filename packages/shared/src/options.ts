/**
 * Defaults first, caller's options last (fields the caller left `undefined` keep their default), the way
 * BullMQ's Worker merges its options.
 */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O): D & O {
  const merged: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  return merged as D & O;
}

/** Throws a TypeError naming `owner.name` unless `value` is an integer of at least `min`. */
export function assertInteger(owner: string, name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new TypeError(`${owner}.${name} must be an integer of at least ${min}, got ${String(value)}`);
  }
}

/** Throws a TypeError naming `owner.name` unless `port` is a TCP port, or 0 for "any free one". */
export function assertPort(owner: string, name: string, port: number): void {
  assertInteger(owner, name, port, 0);
  if (port > 65535) throw new TypeError(`${owner}.${name} must be at most 65535, got ${port}`);
}

/**
 * Throws a TypeError naming `owner` unless both heartbeat settings are positive integers and the TTL
 * exceeds the interval (a record must outlive the gap between two heartbeats).
 */
export function assertHeartbeat(owner: string, intervalMs: number, ttlMs: number): void {
  assertInteger(owner, 'heartbeatIntervalMs', intervalMs, 1);
  assertInteger(owner, 'heartbeatTtlMs', ttlMs, 1);
  if (ttlMs <= intervalMs) {
    throw new TypeError(
      `${owner}.heartbeatTtlMs (${ttlMs}) must be larger than heartbeatIntervalMs (${intervalMs})`,
    );
  }
}
