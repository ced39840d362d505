import { setTimeout as pause } from 'node:timers/promises';
import type { Frontend } from '@iocluster/frontend';
import type { IoNodeRecord } from '@iocluster/shared';

/**
 * Polls `probe` every 20 ms until `done` holds; fails after `deadlineMs`. Only for states that raise no
 * event (a registry record expiring); everything else is awaited on its event.
 */
export async function until<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  deadlineMs: number,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${deadlineMs} ms`);
    await pause(20);
  }
}

/** The io-nodes a frontend lists (none when it answers 503); throws on any other status. */
export async function listed(frontend: Frontend): Promise<IoNodeRecord[]> {
  const res = await fetch(`${frontend.url}/api/io-nodes`);
  if (res.status === 503) return [];
  if (res.status !== 200) throw new Error(`/api/io-nodes answered ${res.status}`);
  return ((await res.json()) as { nodes: IoNodeRecord[] }).nodes;
}
