import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../', import.meta.url));
const monitoring = `${root}deploy/monitoring/`;
const installed = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface Panel {
  type: string;
  title: string;
  datasource: { uid: string };
  targets: { expr: string; datasource: { uid: string } }[];
}

const rules = (parse(readFileSync(`${monitoring}alerts.yml`, 'utf8')) as { groups: { rules: Rule[] }[] })
  .groups[0]!.rules;
/** Grafana's reference to the `datasource` variable. */
const DATASOURCE_VARIABLE = ['$', '{datasource}'].join('');
const documented = readFileSync(`${root}docs/operations.md`, 'utf8');

/** The metric names an expression reads (ours, Node's and Prometheus's `up`). */
function metricsOf(expr: string): string[] {
  return (expr.match(/\b(iocluster|nodejs|process)_[a-z0-9_]+/g) ?? []).map((name) =>
    name.replace(/_(bucket|count|sum)$/, ''),
  );
}

function promtool(...args: string[]) {
  return spawnSync('promtool', args, { cwd: monitoring, encoding: 'utf8', timeout: 60_000 });
}

const skipReason = installed
  ? ''
  : " (skipped: promtool is not installed; Debian's prometheus package has it)";

describe.skipIf(!installed)(`monitoring${skipReason}`, () => {
  test('monitoring - the alert rules are valid (promtool check rules)', () => {
    const checked = promtool('check', 'rules', 'alerts.yml');
    expect(checked.stderr).toBe('');
    expect(checked.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(checked.status).toBe(0);
  });

  test('monitoring - each alert fires on the series it is about and not on healthy ones (promtool test rules)', () => {
    const tested = promtool('test', 'rules', 'alerts.test.yml');
    expect(tested.stdout + tested.stderr).toContain('SUCCESS');
    expect(tested.status).toBe(0);
    // Every alert has at least one case in which it fires.
    const cases = readFileSync(`${monitoring}alerts.test.yml`, 'utf8');
    for (const rule of rules) {
      expect(cases, rule.alert).toMatch(new RegExp(`alertname: ${rule.alert}\\n\\s+exp_alerts:\\n\\s+- `));
    }
  });
});

describe('monitoring files', () => {
  test('monitoring - the alerts cover nodes down, ingress lag, ack timeouts, event-loop lag and Redis errors, on metrics that exist', () => {
    const byName = new Map(rules.map((rule) => [rule.alert, rule]));
    const cover = {
      IoclusterNodeDown: 'up{',
      IoclusterIngressLag: 'iocluster_queue_jobs{state="waiting"}',
      IoclusterAckTimeouts: 'iocluster_io_ack_timeouts_total',
      IoclusterEventLoopLag: 'nodejs_eventloop_lag_p99_seconds',
      IoclusterRedisErrors: 'iocluster_redis_reconnects_total',
      IoclusterInboxLag: 'iocluster_io_inbox_lag_seconds_bucket',
      IoclusterHandshakesRefused: 'iocluster_io_handshakes_refused_total',
      IoclusterEventsRefused: 'iocluster_io_events_refused_total',
    };
    for (const [alert, reads] of Object.entries(cover)) {
      expect(byName.get(alert)?.expr, alert).toContain(reads);
    }
    for (const rule of rules) {
      expect(rule.labels.severity, rule.alert).toMatch(/^(critical|warning|info)$/);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      // Each alert is explained where operators look.
      expect(documented, rule.alert).toContain(`| \`${rule.alert}\` |`);
      for (const name of metricsOf(rule.expr)) {
        expect(documented.includes(`\`${name}\``) || name.startsWith('process_'), name).toBe(true);
      }
    }
    const prometheus = parse(readFileSync(`${monitoring}prometheus.yml`, 'utf8')) as { rule_files: string[] };
    expect(prometheus.rule_files).toEqual(['alerts.yml']);
  });

  test('monitoring - the dashboard picks its data source and jobs from variables, and counts read 0 with none up', () => {
    const dashboard = JSON.parse(readFileSync(`${monitoring}grafana/dashboards/iocluster.json`, 'utf8')) as {
      panels: Panel[];
      templating: { list: { name: string; type: string; query: unknown }[] };
    };
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['io_job', 'query'],
      ['app_job', 'query'],
      ['frontend_job', 'query'],
    ]);
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid, panel.title).toBe(DATASOURCE_VARIABLE);
      for (const target of panel.targets) {
        expect(target.datasource.uid, panel.title).toBe(DATASOURCE_VARIABLE);
        // No job name is written into a query: every selector of a metric of ours names a job variable.
        expect(target.expr, panel.title).not.toMatch(/job\s*=\s*"/);
        for (const selector of target.expr.match(/\b(iocluster|process|nodejs)_[a-z0-9_]+(\{[^}]*\})?/g) ??
          []) {
          expect(selector, panel.title).toMatch(/job=~"\$(io_job|app_job|frontend_job)/);
        }
      }
      // A stat is one number: with nothing to count it must read 0, not "No data".
      if (panel.type === 'stat') {
        for (const target of panel.targets) expect(target.expr, panel.title).toMatch(/ or vector\(0\)$/);
      }
    }
    const titles = dashboard.panels.map((p) => p.title);
    expect(titles).toEqual(
      expect.arrayContaining(['Live io-nodes', 'Live app-nodes', 'Refused handshakes/s by code']),
    );
  });
});
