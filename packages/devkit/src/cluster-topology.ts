/** One line of `CLUSTER NODES`, as one node sees the cluster. */
export interface ClusterNodeView {
  /** The node's 40-character id. */
  readonly id: string;
  readonly port: number;
  readonly role: 'primary' | 'replica';
  /** The primary's id, for a replica. */
  readonly primaryId: string | undefined;
  /** Marked failing (`fail`, or `fail?` by this viewer). */
  readonly failing: boolean;
  /** Slot ranges it serves, `[first, last]` inclusive (a primary's only). */
  readonly slots: readonly (readonly [number, number])[];
}

/** Parses a `CLUSTER NODES` reply (import/migration markers `[...]` are skipped). */
export function parseClusterNodes(text: string): ClusterNodeView[] {
  const views: ClusterNodeView[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    const [id, address, flagText, primary] = fields as [string, string, string, string];
    const flags = flagText.split(',');
    const port = Number(/:(\d+)@/.exec(address)?.[1] ?? 0);
    const slots: [number, number][] = [];
    for (const range of fields.slice(8)) {
      if (range.startsWith('[')) continue;
      const [first, last] = range.split('-').map(Number) as [number, number | undefined];
      slots.push([first, last ?? first]);
    }
    views.push({
      id,
      port,
      role: flags.includes('master') ? 'primary' : 'replica',
      primaryId: primary === '-' ? undefined : primary,
      failing: flags.includes('fail') || flags.includes('fail?'),
      slots,
    });
  }
  return views;
}

/**
 * Who serves which slots and who replicates whom, as a comparable string: two nodes agree on the
 * cluster's shape when theirs are equal.
 */
export function clusterShape(views: readonly ClusterNodeView[]): string {
  const portOf = new Map(views.map((view) => [view.id, view.port]));
  return views
    .map((view) =>
      view.role === 'primary'
        ? `${view.port}:${view.slots.map(([a, b]) => `${a}-${b}`).join(',')}`
        : `${view.port}>${portOf.get(view.primaryId ?? '') ?? '?'}`,
    )
    .sort()
    .join(' ');
}

/** The primaries that serve slots, in the order of their first slot (index 0 serves slot 0). */
export function primariesBySlot(views: readonly ClusterNodeView[]): ClusterNodeView[] {
  const first = (view: ClusterNodeView) => Math.min(...view.slots.map(([a]) => a));
  return views
    .filter((view) => view.role === 'primary' && view.slots.length > 0)
    .sort((a, b) => first(a) - first(b));
}
