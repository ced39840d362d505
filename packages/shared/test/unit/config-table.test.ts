import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import {
  checkOptions,
  createLogger,
  renderConfigurationDoc,
  SETTINGS,
  settingDefaults,
  unknownSettings,
  warnUnknownSettings,
} from '../../src/index.js';

const DOC = new URL('../../../../docs/configuration.md', import.meta.url);

describe('settings table', () => {
  test('docs - docs/configuration.md is what the table makes (npm run docs:config)', () => {
    const doc = readFileSync(DOC, 'utf8');
    expect(doc).toBe(renderConfigurationDoc());
    // Every variable has its row in the reference, once.
    for (const { env } of SETTINGS) expect(doc.split(`| \`${env}\` |`).length - 1, env).toBe(1);
  });

  test('table - every row has a doc, and a default the docs can show', () => {
    for (const row of SETTINGS) {
      expect(row.doc.length, row.env).toBeGreaterThan(5);
      if (typeof row.default === 'function') expect(row.shownDefault, row.env).toBeDefined();
      if (row.default !== undefined && typeof row.default !== 'function') {
        // A default is a valid value of its own row.
        expect(row.kind.option.safeParse(row.default).success, row.env).toBe(true);
      }
    }
  });

  test('options - defaults come from the table, node ids made per call', () => {
    const io = settingDefaults('io-node');
    expect(io).toMatchObject({
      eventTimeoutMs: 30_000,
      port: 3001,
      prefix: 'iocluster',
      replicaWait: { replicas: 0, timeoutMs: 1_000 },
    });
    expect(io.nodeId).not.toBe(settingDefaults('io-node').nodeId);
    expect(settingDefaults('app-node')).toMatchObject({ handlerTimeoutMs: 25_000, concurrency: 16 });
    expect(settingDefaults('app-node')).not.toHaveProperty('eventTimeoutMs');
    expect(settingDefaults('frontend')).toMatchObject({ port: 3000, strategy: 'fewest-connections' });
    // Process settings are no options.
    expect(settingDefaults('io-node')).not.toHaveProperty('workers');
    expect(settingDefaults('io-node')).not.toHaveProperty('logLevel');
  });

  test('options - bounds of the table, in a sentence naming the option', () => {
    expect(() => checkOptions('IoNodeOptions', 'io-node', { eventTimeoutMs: 50 })).toThrow(
      'IoNodeOptions.eventTimeoutMs must be an integer from 100 to 3600000, got 50',
    );
    expect(() => checkOptions('IoNodeOptions', 'io-node', { port: 70_000 })).toThrow(
      /^IoNodeOptions.port must be an integer from 0 to 65535/,
    );
    expect(() => checkOptions('IoNodeOptions', 'io-node', { parser: 'json' })).toThrow(
      'IoNodeOptions.parser must be one of default, msgpack, got "json"',
    );
    expect(() => checkOptions('FrontendOptions', 'frontend', { adminToken: 'short' })).toThrow(
      /^FrontendOptions.adminToken must be at least 8 characters long$/,
    );
    expect(() => checkOptions('AppNodeOptions', 'app-node', { handlerTimeoutMs: 1.5 })).toThrow(
      /^AppNodeOptions.handlerTimeoutMs must be an integer/,
    );
    // Options of another tier, and unset ones, are not this tier's business.
    expect(() =>
      checkOptions('AppNodeOptions', 'app-node', { eventTimeoutMs: 1, metricsPort: undefined }),
    ).not.toThrow();
    expect(() => checkOptions('IoNodeOptions', 'io-node', { ...settingDefaults('io-node') })).not.toThrow();
  });

  test('names - a variable that looks like ours is reported with the closest known name', () => {
    expect(
      unknownSettings({
        IO_NODE_PROT: '3001',
        EVENT_TIMOUT_MS: '100',
        REDIS_HOSTNAME: 'r',
        IO_NODE_PORT: '3001',
        HOME: '/root',
        NODE_ENV: 'production',
        KUBERNETES_SERVICE_HOST: '10.0.0.1',
      }),
    ).toEqual([
      { name: 'EVENT_TIMOUT_MS', closest: 'EVENT_TIMEOUT_MS' },
      { name: 'IO_NODE_PROT', closest: 'IO_NODE_PORT' },
      { name: 'REDIS_HOSTNAME', closest: expect.stringMatching(/^REDIS_/) },
    ]);
    expect(unknownSettings(Object.fromEntries(SETTINGS.map((row) => [row.env, 'x'])))).toEqual([]);
  });

  test('names - one warning line through pino per unknown variable', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = createLogger({ level: 'info', name: 'app-node', destination: sink });
    warnUnknownSettings({ IO_NODE_PROT: '3001', PATH: '/bin' }, logger);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        variable: 'IO_NODE_PROT',
        closest: 'IO_NODE_PORT',
        msg: 'unknown setting IO_NODE_PROT is ignored; did you mean IO_NODE_PORT?',
      }),
    ]);
  });
});
