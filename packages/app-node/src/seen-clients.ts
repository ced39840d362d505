/**
 * Clients this app-node has served, so it can tell when it meets one for the first time (`no-client`).
 * Bounded: io-nodes that die never send their clients' disconnects, and a forgotten client only costs
 * one more `no-client`.
 */
export class SeenClients {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      // Sets iterate in insertion order: the first entry is the oldest.
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
  }

  delete(id: string): void {
    this.ids.delete(id);
  }
}
