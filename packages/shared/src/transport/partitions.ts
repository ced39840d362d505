import { ingressPartitionOf } from '../keys.js';
import type { IngressJob } from '../wire/ingress.js';

/**
 * Splits jobs by their clients' ingress partitions: a job holding clients of several partitions becomes
 * one job per partition, so each client's events always go through the same partition. A job's presence
 * and occupancy changes ride with its first part, or alone in partition 0. Returns one list per partition, in order.
 */
export function splitByPartition(jobs: readonly IngressJob[], partitions: number): IngressJob[][] {
  const parts = Array.from({ length: partitions }, (): IngressJob[] => []);
  if (partitions === 1) {
    parts[0]!.push(...jobs);
    return parts;
  }
  for (const job of jobs) {
    const { presence, occupancy, batches, ...envelope } = job;
    const split = new Map<number, IngressJob>();
    for (const batch of batches) {
      const index = ingressPartitionOf(batch.client.id, partitions);
      const part = split.get(index);
      if (part) part.batches.push(batch);
      else split.set(index, { ...envelope, batches: [batch] });
    }
    if (presence || occupancy) {
      const first = split.values().next().value ?? { ...envelope, batches: [] };
      if (presence) first.presence = presence;
      if (occupancy) first.occupancy = occupancy;
      if (split.size === 0) split.set(0, first);
    }
    for (const [index, part] of split) parts[index]!.push(part);
  }
  return parts;
}

/** Client events a list of jobs carries (for logs). */
export function eventsIn(jobs: readonly IngressJob[]): number {
  return jobs.reduce((n, job) => n + job.batches.reduce((m, b) => m + b.events.length, 0), 0);
}
