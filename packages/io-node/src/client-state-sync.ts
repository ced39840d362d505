import type { ClientInfo, ClientRef, ClientStateStore, Logger, StoredClientState } from '@iocluster/shared';

/**
 * How long a stored client state is kept: 10 minutes, or 4 event timeouts when longer. A batch naming
 * a state stored more than half of that ago stores it again first, so a state lives at least 2 event
 * timeouts after the last batch that names it: past its deadline no app-node runs that batch.
 */
export function clientStateTtlMs(eventTimeoutMs: number): number {
  return Math.max(600_000, 4 * eventTimeoutMs);
}

const RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 5_000;

export interface ClientStateSyncOptions {
  store: ClientStateStore;
  /** See {@link clientStateTtlMs}. */
  ttlMs: number;
  /** How long a gone client's stored state is kept: a batch sent before may still be run until its deadline. */
  keepAfterEndMs: number;
  logger: Logger;
  /** @defaultValue Date.now */
  now?: () => number;
}

interface Entry {
  /** Version of the state last sent (0: none yet). */
  v: number;
  /** What app-nodes see of the client changed since `v` was sent. */
  dirty: boolean;
  /** When version `v` was stored (undefined: not stored), and the store's epoch then. */
  storedAt: number | undefined;
  epoch: number;
  /** The write of version `v` under way: batches naming `v` are added after it. */
  storing: Promise<void> | undefined;
  /** Some version was written (or is being written): the store holds a state to expire. */
  written: boolean;
}

/** What one flush of the sequencer must have in the store before its jobs are added. */
export interface StateWrites {
  /** States to write: socket id → JSON. */
  readonly states: Map<string, string>;
  /** Writes under way that batches of the flush name. */
  readonly waits: Set<Promise<void>>;
}

/** An empty {@link StateWrites}, for one flush. */
export function stateWrites(): StateWrites {
  return { states: new Map(), waits: new Set() };
}

/**
 * Slim events, the io-node side: a version per client, moved on whenever what app-nodes see of it
 * changes (rooms, data, user). A batch carries the state inline when its version is new (app-nodes
 * cannot have it); a later batch of that version names it (`{ id, v }`) once the state is in the store,
 * where an app-node whose cache lacks it reads it. A state that changes with every batch is thus never
 * stored, and one that stays put is stored once, and again when its stored copy nears its expiry or
 * the store may have lost it.
 */
export class ClientStateSync {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly options: ClientStateSyncOptions) {}

  /** What app-nodes see of the client changed (or may have): its next batch carries it inline. */
  changed(id: string): void {
    const entry = this.entries.get(id);
    if (entry) entry.dirty = true;
  }

  /** The client's batch going out now: its state inline, or its version with the write it needs in `writes`. */
  take(id: string, describe: () => ClientInfo, writes: StateWrites): ClientInfo | ClientRef {
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { v: 0, dirty: true, storedAt: undefined, epoch: 0, storing: undefined, written: false };
      this.entries.set(id, entry);
    }
    if (entry.dirty) {
      entry.v++;
      entry.dirty = false;
      entry.storedAt = undefined;
      entry.storing = undefined;
      // A copy of `data`, the socket's own object, which later commands change.
      const info = describe();
      return { ...info, data: { ...info.data }, v: entry.v };
    }
    if (entry.storing) {
      writes.waits.add(entry.storing);
      return { id, v: entry.v };
    }
    const { store, ttlMs } = this.options;
    const stale =
      entry.storedAt === undefined || entry.epoch !== store.epoch || this.now() - entry.storedAt >= ttlMs / 2;
    // Taken now: `data` is the socket's own object, which later commands change.
    if (stale && !writes.states.has(id)) writes.states.set(id, JSON.stringify({ ...describe(), v: entry.v }));
    return { id, v: entry.v };
  }

  /** The batch of a client that is gone: its last state inline; what was stored expires soon. */
  final(id: string, final: ClientInfo): ClientInfo {
    const entry = this.entries.get(id);
    if (!entry) return final;
    this.entries.delete(id);
    if (entry.written) {
      this.options.store
        .expire([id], this.options.keepAfterEndMs)
        .catch((err: unknown) => this.options.logger.warn({ err, clientId: id }, 'client state not expired'));
    }
    return { ...final, v: entry.dirty ? entry.v + 1 : entry.v };
  }

  /**
   * Writes what `take` asked for (retrying until the store takes it, or until closed) and waits for
   * the writes under way that the batches need. Resolves once the jobs may be added.
   */
  commit(writes: StateWrites): Promise<void> | undefined {
    if (writes.states.size === 0) return writes.waits.size > 0 ? settleAll(writes.waits) : undefined;
    const epoch = this.options.store.epoch;
    const states: StoredClientState[] = [];
    for (const [id, json] of writes.states) states.push({ id, json });
    const versions = states.map(({ id }) => [this.entries.get(id), this.entries.get(id)?.v] as const);
    const storing = this.writeRetrying(states).then(() => {
      const now = this.now();
      for (const [entry, v] of versions) {
        if (!entry || entry.v !== v || entry.storing !== storing) continue;
        entry.storing = undefined;
        entry.storedAt = now;
        entry.epoch = epoch;
      }
    });
    for (const [entry] of versions) {
      if (!entry) continue;
      entry.storing = storing;
      entry.written = true;
    }
    return writes.waits.size > 0 ? settleAll([storing, ...writes.waits]) : storing;
  }

  /** Stops retrying writes. */
  close(): void {
    this.closed = true;
  }

  /** Clients followed (for tests). */
  get size(): number {
    return this.entries.size;
  }

  private async writeRetrying(states: readonly StoredClientState[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.store.write(states, this.options.ttlMs);
        return;
      } catch (err) {
        if (this.closed) throw err;
        const delay = Math.min(RETRY_DELAY_MS * 2 ** attempt, MAX_RETRY_DELAY_MS);
        this.options.logger.warn(
          { err, attempt, clients: states.length, retryInMs: delay },
          'could not store client states; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

async function settleAll(promises: Iterable<Promise<void>>): Promise<void> {
  await Promise.all(promises);
}
