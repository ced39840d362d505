import { defaultOf, settingsOf } from './config.js';
import type { Setting, SettingRow, Tier } from './config-table.js';
import type { ReplicaWait } from './replica-wait.js';

/*
 * The settings table seen from code: the defaults and bounds of the options that `createIoNode`,
 * `createAppNode` and `createFrontend` share with the environment, so a node built in code and one
 * started from the environment behave alike and refuse the same values.
 */

type DefaultedOptionRows<T extends Tier> = Extract<
  SettingRow,
  { tier: 'cluster' | T; scope: 'option'; required: true }
>;
type ValueOf<R> = R extends Setting<infer V> ? V : never;

/** Defaults of a tier's options that have a variable (per-process ones, like node ids, made now). */
export type SettingDefaults<T extends Tier> = {
  [R in DefaultedOptionRows<T> as R['option']]: ValueOf<R>;
} & { replicaWait: ReplicaWait };

export function settingDefaults<T extends Tier>(tier: T): SettingDefaults<T> {
  const out: Record<string, unknown> = {};
  const rows = settingsOf([tier]);
  for (const row of rows)
    if (row.scope === 'option' && row.default !== undefined) out[row.option] = defaultOf(row);
  const wait = (field: string) => defaultOf(rows.find((row) => row.option === `replicaWait.${field}`)!);
  out.replicaWait = { replicas: wait('replicas'), timeoutMs: wait('timeoutMs') };
  return out as SettingDefaults<T>;
}

/**
 * Checks every option of `tier` that has a row in the table against the row's bounds; throws a TypeError
 * naming `owner.option` (e.g. `IoNodeOptions.eventTimeoutMs must be an integer from 100 to 3600000`).
 */
export function checkOptions(owner: string, tier: Tier, options: object): void {
  const given = options as Record<string, unknown>;
  for (const row of settingsOf([tier])) {
    if (row.scope !== 'option' || given[row.option] === undefined) continue;
    const value = given[row.option];
    if (!row.kind.option.safeParse(value).success) {
      const shown = row.secret ? '' : `, got ${typeof value === 'string' ? `"${value}"` : String(value)}`;
      throw new TypeError(`${owner}.${row.option} must ${row.kind.expects}${shown}`);
    }
  }
}
