import { type ClientInfo, decodeClientInfo } from '../wire/client-info.js';

/** A client's state as an io-node stores it: its `ClientInfo`, `v` included, as JSON. */
export interface StoredClientState {
  id: string;
  /** `JSON.stringify` of the `ClientInfo` with its version `v`, taken when the batch naming it was made. */
  json: string;
}

/**
 * Where io-nodes keep the client states their ingress batches name by version (slim events), for
 * app-nodes whose cache lacks that version. The io-node writes a state before it adds the first batch
 * that names it; an app-node reads the states of one job's clients together.
 *
 * Every implementation must:
 * - resolve `write` only once every state given is readable, and keep each for `ttlMs`;
 * - give `read` the latest state written per client (null where none is kept, or it does not decode);
 * - bump `epoch` whenever what was written may be gone (its Redis connection dropped: Redis may have
 *   restarted or failed over), so the io-node writes its clients' states again.
 *
 * It does not order writes of different calls and keeps no history: a state is replaced by the next.
 */
export interface ClientStateStore {
  write(states: readonly StoredClientState[], ttlMs: number): Promise<void>;
  /** Keeps the clients' states at most `ms` more (their clients are gone). */
  expire(ids: readonly string[], ms: number): Promise<void>;
  /** The stored state of each client, in the order given. */
  read(ids: readonly string[]): Promise<(ClientInfo | null)[]>;
  /** Changes whenever states written before may have been lost. */
  readonly epoch: number;
}

/** The in-memory twin of the client states in Redis, with what a test needs to break it. */
export interface MemoryClientStates extends ClientStateStore {
  /** Loses one client's state, as a Redis that evicted its key. */
  delete(id: string): void;
  /** Loses every state, as a Redis restarted without its data (the epoch moves on). */
  clear(): void;
  /** States read so far (one per id asked for). */
  readonly reads: number;
  /** States written so far. */
  readonly writes: number;
}

export function createMemoryClientStates(now: () => number = Date.now): MemoryClientStates {
  const states = new Map<string, { json: string; until: number }>();
  let epoch = 0;
  let reads = 0;
  let writes = 0;
  return {
    async write(list, ttlMs) {
      for (const { id, json } of list) states.set(id, { json, until: now() + ttlMs });
      writes += list.length;
    },
    async expire(ids, ms) {
      for (const id of ids) {
        const state = states.get(id);
        if (state) state.until = now() + ms;
      }
    },
    async read(ids) {
      reads += ids.length;
      return ids.map((id) => {
        const state = states.get(id);
        if (!state || state.until <= now()) return null;
        const info = decodeClientInfo(JSON.parse(state.json));
        return info.v === undefined ? null : info;
      });
    },
    get epoch() {
      return epoch;
    },
    delete: (id) => void states.delete(id),
    clear() {
      states.clear();
      epoch++;
    },
    get reads() {
      return reads;
    },
    get writes() {
      return writes;
    },
  };
}
