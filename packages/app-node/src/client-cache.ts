import { type ClientBatch, type ClientInfo, type ClientStateStore, isClientRef } from '@iocluster/shared';

/** Where a batch's client state came from: the job itself, this cache, Redis, or nowhere. */
export type ClientStateSource = 'job' | 'cache' | 'redis' | 'missing';

/**
 * Slim events, the app-node side: the client states this app-node was given, by socket id, at most
 * `capacity` of them (the least recently used go first). A batch that carries its client's state
 * inline refreshes it here; one that names a version is served from here when this app-node holds
 * that version or a newer one, else from the store, read once for all the job's clients that need it.
 *
 * Handlers get copies of `data` and `user` (the copy here serves the next events) and a frozen
 * `handshake`.
 */
export class ClientCache {
  private readonly entries = new Map<string, ClientInfo>();

  constructor(
    private readonly store: Pick<ClientStateStore, 'read'>,
    private readonly capacity: number,
    /** Told where each batch's state came from (metrics); must not throw. */
    private readonly onResolved: (source: ClientStateSource) => void = () => undefined,
  ) {}

  /**
   * The state of each batch's client, in order: null where the batch names a version that neither
   * this cache nor the store has (the store lost it; the io-node must send it again). Rejects when
   * the store cannot be read.
   */
  async resolve(batches: readonly ClientBatch[]): Promise<(ClientInfo | null)[]> {
    const found: (ClientInfo | null)[] = [];
    const missing: number[] = [];
    for (let i = 0; i < batches.length; i++) {
      const { client } = batches[i]!;
      if (!isClientRef(client)) {
        // Inline: from an io-node that does not version its states, or a new version.
        found.push(client.v === undefined ? client : this.use(this.keep(client)));
        this.onResolved('job');
        continue;
      }
      const cached = this.entries.get(client.id);
      if (cached && cached.v! >= client.v) {
        this.entries.delete(client.id);
        this.entries.set(client.id, cached);
        found.push(this.use(cached));
        this.onResolved('cache');
        continue;
      }
      found.push(null);
      missing.push(i);
    }
    if (missing.length === 0) return found;
    const read = await this.store.read(missing.map((i) => batches[i]!.client.id));
    missing.forEach((i, k) => {
      const info = read[k];
      const named = batches[i]!.client.v!;
      if (!info || info.v! < named) {
        this.onResolved('missing');
        return;
      }
      // Another batch of the job may have brought a newer one meanwhile.
      const cached = this.entries.get(info.id);
      found[i] = this.use(cached && cached.v! > info.v! ? cached : this.keep(info));
      this.onResolved('redis');
    });
    return found;
  }

  /** Forgets a client (it disconnected). */
  forget(id: string): void {
    this.entries.delete(id);
  }

  /** Clients held (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  private keep(info: ClientInfo): ClientInfo {
    const cached = this.entries.get(info.id);
    if (cached && cached.v! > info.v!) return cached;
    deepFreeze(info.handshake);
    this.entries.delete(info.id);
    this.entries.set(info.id, info);
    if (this.entries.size > this.capacity) {
      // Maps iterate in insertion order: the first entry is the least recently used.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return info;
  }

  private use(info: ClientInfo): ClientInfo {
    return { ...info, data: structuredClone(info.data), user: structuredClone(info.user) };
  }
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const item of Object.values(value)) deepFreeze(item);
}
