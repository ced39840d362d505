import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { chatModule, entryPoint, type StackPackage } from '../example/src/launcher.js';
import { runShellCommand } from './support/shell-command.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const installed = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;

interface ComposeService {
  profiles?: string[];
  volumes?: unknown[];
  command?: string[] | string;
  environment?: Record<string, string>;
  ports?: unknown[];
  healthcheck?: { test?: string[] };
  container_name?: string;
  build?: unknown;
  image?: string;
}

/** YAML text as JSON, through PyYAML (compose v1's own YAML reader). */
function yamlToJson<T>(text: string): T {
  const json = spawnSync(
    'python3',
    ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    { input: text, encoding: 'utf8' },
  );
  if (json.status !== 0) throw new Error(`cannot read YAML: ${json.stderr}`);
  return JSON.parse(json.stdout) as T;
}

/** The token secret compose requires, as a user's .env would give it (any .env of the checkout is ignored). */
const SECRET = 'c29tZS1yYW5kb20tc2VjcmV0LW9mLTMyLWJ5dGVzLi4u';
/** An empty env file: what a checkout without .env has. */
const NO_ENV_FILE = join(mkdtempSync(join(tmpdir(), 'iocluster-compose-')), 'empty.env');
writeFileSync(NO_ENV_FILE, '');

/** `docker-compose config` of `files`, with `env` as the environment it interpolates. */
function runConfig(files: string[], env: Record<string, string>, profile?: string) {
  const args = [
    ...files.flatMap((file) => ['-f', file]),
    '--env-file',
    NO_ENV_FILE,
    ...(profile ? ['--profile', profile] : []),
    'config',
  ];
  return spawnSync('docker-compose', args, {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
}

/** `docker-compose config`: validates the file (with `profile`, its services too) and prints it normalized. */
function composeConfig(
  profile?: string,
  files = ['docker-compose.yml'],
): { services: Record<string, ComposeService> } {
  const config = runConfig(files, { AUTH_JWT_SECRET: SECRET }, profile);
  expect(config.stderr.trim(), 'docker-compose config printed warnings or errors').toBe('');
  expect(config.status).toBe(0);
  return yamlToJson(config.stdout);
}

/** Runs a command to its end without blocking the event loop (the test's own server must answer it). */
function run(command: string, args: string[]): Promise<{ code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('exit', (code) => resolve({ code }));
  });
}

function commandLine(service: ComposeService): string {
  return Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? '');
}

const skipReason = installed ? '' : ' (skipped: docker-compose is not installed; .ci/run installs it)';

describe.skipIf(!installed)(`compose${skipReason}`, () => {
  test('compose - the file parses and runs the entry points the tests run, with health checks', () => {
    const { services } = composeConfig();
    const always = Object.entries(services).filter(([, service]) => !service.profiles);
    expect(always.map(([name]) => name).sort()).toEqual(['app-node', 'frontend', 'io-node', 'redis']);
    for (const pkg of ['frontend', 'io-node', 'app-node'] as StackPackage[]) {
      const service = services[pkg]!;
      // The same files the launcher (npm run example, the browser test) starts; tests run their sources.
      expect(commandLine(service)).toMatch(
        new RegExp(`(^|\\s)node ${entryPoint(pkg).replaceAll('.', '\\.')}(\\s|$)`),
      );
      expect(existsSync(`${root}${entryPoint(pkg, true)}`)).toBe(true);
      expect(service.image).toBe('iocluster:local');
      expect(service.healthcheck?.test?.length).toBeGreaterThan(1);
      expect(service.environment?.REDIS_URL).toBe('redis://redis:6379');
    }
    expect(services.redis!.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    // What the guarantees need of Redis (docs/guarantees.md): AOF fsynced every second, no eviction, and
    // the data dir on a volume so a recreated container starts from its AOF.
    const redisArgs = services.redis!.command as string[];
    const setting = (name: string) => redisArgs[redisArgs.indexOf(`--${name}`) + 1];
    expect(redisArgs[0]).toBe('redis-server');
    expect([setting('appendonly'), setting('appendfsync'), setting('maxmemory-policy')]).toEqual([
      'yes',
      'everysec',
      'noeviction',
    ]);
    expect(services.redis!.volumes).toEqual([expect.stringMatching(/:\/data(:rw)?$/)]);
    // The app-node runs the module APP_MODULE names: the chat's here.
    expect(services['app-node']!.environment?.APP_MODULE).toBe(chatModule());
    expect(existsSync(`${root}${chatModule(true)}`)).toBe(true);
  });

  test('compose - the token secret is required, never a default in the file, and the refusal says what to do', () => {
    const refused = runConfig(['docker-compose.yml'], {});
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/AUTH_JWT_SECRET/);
    expect(refused.stderr).toMatch(
      /AUTH_JWT_SECRET is not set - put a random one in \.env .*openssl rand -base64 32/,
    );
    const { services } = composeConfig();
    for (const name of ['frontend', 'io-node', 'app-node']) {
      expect(services[name]!.environment?.AUTH_JWT_SECRET).toBe(SECRET);
    }
    const text = readFileSync(`${root}docker-compose.yml`, 'utf8');
    expect(text).not.toMatch(/AUTH_JWT_SECRET:-/);
    // The secret's .env stays out of git and out of the image.
    expect(readFileSync(`${root}.gitignore`, 'utf8').split('\n')).toContain('.env');
    expect(readFileSync(`${root}.dockerignore`, 'utf8').split('\n')).toContain('.env');
  });

  test('compose - your handlers: the image runs /app/handlers/index.js, mounted there by docker-compose.handlers.yml', () => {
    const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^ENV APP_MODULE=\/app\/handlers\/index\.js$/m);
    // The entry point takes APP_MODULE (the settings row of option appModule) when its command line
    // names no module.
    expect(readFileSync(`${root}packages/shared/src/config-rows-app-node.ts`, 'utf8')).toMatch(
      /env: 'APP_MODULE',\s*option: 'appModule',/,
    );
    expect(readFileSync(`${root}packages/app-node/src/main.ts`, 'utf8')).toContain(
      'process.argv[2] ?? appModule',
    );
    const { services } = composeConfig(undefined, ['docker-compose.yml', 'docker-compose.handlers.yml']);
    const appNode = services['app-node']!;
    expect(commandLine(appNode)).toBe('node packages/app-node/dist/main.js');
    expect(appNode.environment?.APP_MODULE).toBe('/app/handlers/index.js');
    expect(appNode.volumes).toEqual([`${root}example/handlers:/app/handlers:ro`]);
    expect(existsSync(`${root}example/handlers/index.js`)).toBe(true);
    // The other services are the chat's, unchanged.
    expect(services.frontend!.image).toBe('iocluster:local');
  });

  test('compose - io-nodes and app-nodes scale: no fixed names or host ports; browsers go through the proxy', () => {
    const { services } = composeConfig();
    for (const name of ['io-node', 'app-node']) {
      expect(services[name]!.container_name).toBeUndefined();
      expect(services[name]!.ports ?? []).toEqual([]);
    }
    const frontend = services.frontend!;
    expect(frontend.environment?.FRONTEND_PROXY).toBe('on');
    expect(existsSync(`${root}${frontend.environment?.FRONTEND_STATIC_DIR}/index.html`)).toBe(true);
    expect(frontend.ports).toEqual([{ published: 3000, target: 3000 }]);
    // Each replica registers its own in-network address for the proxy (`$$` is compose's escaped `$`).
    expect(commandLine(services['io-node']!)).toMatch(/hostname -i/);
    expect(commandLine(services['io-node']!)).toMatch(/IO_NODE_PUBLIC_URL="http:\/\/\$\$?addr:3001"/);
  });

  test('compose - the io-node registers its IPv4 address, or its IPv6 one in brackets', () => {
    const { services } = composeConfig();
    const command = services['io-node']!.command as string[];
    expect(command.slice(0, 2)).toEqual(['sh', '-c']);
    const script = command[2]!.replaceAll('$$', '$');
    const entry = 'packages/io-node/dist/main.js';
    expect(runShellCommand(script, {}, '172.18.0.3')).toBe(`http://172.18.0.3:3001 ${entry}`);
    expect(runShellCommand(script, {}, 'fd00:dead::3 172.18.0.3')).toBe(`http://172.18.0.3:3001 ${entry}`);
    expect(runShellCommand(script, {}, 'fd00:dead::3')).toBe(`http://[fd00:dead::3]:3001 ${entry}`);
  });

  test('compose - health checks are node one-liners asking each service its health endpoint (no curl in the image)', async () => {
    const { services } = composeConfig();
    const want = {
      frontend: 'http://127.0.0.1:3000/healthz',
      'io-node': 'http://127.0.0.1:3001/readyz',
      'app-node': 'http://127.0.0.1:9464/healthz',
    };
    expect(services['app-node']!.environment?.METRICS_PORT).toBe('9464');
    // A server that answers 200 on /ok and 503 elsewhere stands in for the service.
    const server = createServer((req, res) => res.writeHead(req.url === '/ok' ? 200 : 503).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const [name, url] of Object.entries(want)) {
        const test = services[name]!.healthcheck!.test!;
        expect(test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
        const code = test[3]!;
        expect(code).toContain(`'${url}'`);
        const exit = async (target: string) => (await run('node', ['-e', code.replace(url, target)])).code;
        expect(await exit(`${base}/ok`)).toBe(0);
        expect(await exit(`${base}/down`)).toBe(1);
      }
    } finally {
      server.close();
    }
  });

  test('compose - the image installs the locked dependencies and builds with npm run build', () => {
    const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-slim AS build$/m);
    expect(dockerfile).toMatch(/^RUN npm install\b/m);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    // The runtime stage: production dependencies of the workspaces that run, built files, not root.
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^FROM node:20-slim$/m);
    expect(runtime).toMatch(/^RUN npm install --omit=dev\b/m);
    expect(runtime).not.toMatch(/^RUN npm run build/m);
    expect(runtime).toMatch(/^USER node$/m);
    for (const dir of [
      'packages/shared/dist',
      'packages/shared/lua',
      'packages/io-node/dist',
      'packages/io-node/lua',
      'packages/app-node/dist',
      'packages/emitter/dist',
    ]) {
      expect(runtime).toContain(`COPY --from=build /app/${dir} ${dir}`);
    }
    expect(runtime).toContain('COPY --from=build /app/example/public example/public');
    const ignored = readFileSync(`${root}.dockerignore`, 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist']));
  });

  test('compose - the monitoring profile scrapes every worker of every node the frontend lists, frontends by DNS, and provisions the dashboard', () => {
    const { services } = composeConfig('monitoring');
    expect(services.prometheus!.profiles).toEqual(['monitoring']);
    expect(services.grafana!.profiles).toEqual(['monitoring']);
    expect(services['app-node']!.environment?.METRICS_PORT).toBe('9464');
    const prometheus = yamlToJson<{
      scrape_configs: {
        job_name: string;
        http_sd_configs?: { url: string }[];
        dns_sd_configs?: { names: string[]; type: string; port: number }[];
      }[];
    }>(readFileSync(`${root}deploy/monitoring/prometheus.yml`, 'utf8'));
    // io-node and app-node workers past the first have ports of their own: only the registry knows them.
    expect(
      prometheus.scrape_configs.map((job) => [
        job.job_name,
        job.http_sd_configs?.map((sd) => sd.url) ?? job.dns_sd_configs?.map((sd) => [sd.names, sd.port]),
      ]),
    ).toEqual([
      ['io-node', ['http://frontend:3000/api/scrape-targets?tier=io-node']],
      ['app-node', ['http://frontend:3000/api/scrape-targets?tier=app-node']],
      ['frontend', [[['frontend'], 3000]]],
    ]);
    expect(services.frontend!.environment?.FRONTEND_PORT).toBe('3000');
    // Every metric the dashboard plots is one the processes export (docs/operations.md lists them).
    const dashboard = JSON.parse(
      readFileSync(`${root}deploy/monitoring/grafana/dashboards/iocluster.json`, 'utf8'),
    ) as { panels: { targets: { expr: string }[] }[] };
    const names = new Set(
      dashboard.panels.flatMap((p) =>
        p.targets.flatMap((t) => t.expr.match(/\b(iocluster|process)_[a-z_]+/g) ?? []),
      ),
    );
    const documented = readFileSync(`${root}docs/operations.md`, 'utf8');
    for (const name of names) {
      const base = name.replace(/_(bucket|count|sum)$/, '');
      expect(documented.includes(`\`${base}\``) || base.startsWith('process_'), name).toBe(true);
    }
    expect(names.size).toBeGreaterThan(8);
  });
});
