import { SETTINGS, type Setting, TIERS, type Tier } from './config-table.js';

/** `docs/configuration.md`, made from the settings table; a test keeps the file and the table equal. */

const HEADINGS: Record<Tier, [title: string, intro: string]> = {
  cluster: [
    'Cluster-wide (every process)',
    'Every io-node, app-node and frontend reads these, and all processes of a deployment must agree on them.',
  ],
  'io-node': ['io-node', 'Read only by io-nodes (`packages/io-node/dist/main.js`).'],
  'app-node': ['app-node', 'Read only by app-nodes (`packages/app-node/dist/main.js <handlers-module>`).'],
  frontend: ['frontend', 'Read only by the frontend (`packages/frontend/dist/main.js`).'],
  example: [
    'Chat example',
    'Read only by `npm run example`, which also checks the settings of every tier it starts.',
  ],
};

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function shownDefault(row: Setting): string {
  if (row.shownDefault !== undefined) return row.shownDefault;
  if (row.default === undefined) return 'unset';
  if (typeof row.default === 'boolean') return row.default ? '`on`' : '`off`';
  return `\`${typeof row.default === 'string' ? row.default : JSON.stringify(row.default)}\``;
}

function option(row: Setting): string {
  if (row.scope === 'process') return '—';
  return `\`${row.option}\``;
}

/** The configuration reference in Markdown. */
export function renderConfigurationDoc(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Made from the settings table (packages/shared/src/config-rows-*.ts) by `npm run docs:config`; edit the table, not this file. -->',
    '',
    'Every process is configured by environment variables, and reads only those of its own tier and the',
    'cluster-wide ones: one ConfigMap can hold the settings of every tier, and an app-node never looks at an',
    "io-node's key file. A variable that looks like one of these but is not (`IO_NODE_PROT`) is reported at",
    'start with the closest name. A bad value stops the process with a line naming the variable.',
    '',
    'The **Option** column names the option of `createIoNode`, `createAppNode` or `createFrontend` that the',
    'variable sets (— for settings of the process itself); options given in code have the same defaults and',
    'bounds. Durations are in milliseconds; flags take `on`/`off` (or `true`/`false`, `1`/`0`).',
    '',
    'Checked together: `HEARTBEAT_TTL_MS` must exceed `HEARTBEAT_INTERVAL_MS`; one of the three `AUTH_JWT_*`',
    'keys at most; `REDIS_SENTINELS` or `REDIS_CLUSTER_NODES`, not both. Each event carries the time its',
    "io-node stops waiting for it (`EVENT_TIMEOUT_MS`, less a tenth of it up to 1 s); an app-node stops the event's",
    'handler at that time or at `HANDLER_TIMEOUT_MS`, whichever comes first, so no setting lets a',
    "client's next event run beside its previous handler. A process that starts both tiers (the example)",
    'refuses a `HANDLER_TIMEOUT_MS` that the io-nodes would never let a handler reach.',
  ];
  for (const tier of TIERS) {
    const [title, intro] = HEADINGS[tier];
    lines.push('', `## ${title}`, '', intro, '');
    lines.push('| Variable | Option | Type | Default | Bounds | Description |', '|---|---|---|---|---|---|');
    for (const row of SETTINGS as readonly Setting[]) {
      if (row.tier !== tier) continue;
      lines.push(
        `| \`${row.env}\` | ${option(row)} | ${cell(row.kind.type)} | ${cell(shownDefault(row))} | ${cell(row.kind.bounds)} | ${cell(row.doc)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
