import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKeys, INGRESS_GROUP, loadSettings } from '@iocluster/shared';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runShellCommand } from './support/shell-command.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const overlay = join(root, 'deploy/k8s/overlays/example');

/** The JSON-schema validator (Kubernetes' OpenAPI, KEDA's CRDs) of every kind the manifests use. */
const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}

/** A rendered Kubernetes object: what `kubectl kustomize` prints, one per document. */
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

/**
 * The overlay as a cluster would get it: rendered by kustomize itself (`kubectl kustomize`, which Debian's
 * kubernetes-client ships), so every kustomize feature the overlays use means what it means there. That
 * kubectl (1.20) embeds kustomize 2.0, hence the overlay's `bases:`/`patchesStrategicMerge:`; newer
 * kubectls render it the same (their deprecation notes go to stderr, which is not read).
 */
function kustomize(dir: string): K8sObject[] {
  const rendered = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (rendered.error || rendered.status !== 0) {
    throw new Error(
      `kubectl kustomize ${dir} failed (install Debian's kubernetes-client): ${rendered.error?.message ?? rendered.stderr}`,
    );
  }
  return parseAllDocuments(rendered.stdout).map((doc) => doc.toJS() as K8sObject);
}

const containersOf = (object: K8sObject): Record<string, unknown>[] =>
  (object.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers;

const objects = kustomize(overlay);
const find = (kind: string, name: string): K8sObject => {
  const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!object) throw new Error(`no ${kind} ${name} rendered`);
  return object;
};
const container = (deployment: string) =>
  containersOf(find('Deployment', deployment))[0] as unknown as Container;
const spec = <T>(object: K8sObject) => object.spec as T;
const env = (c: Container, name: string) => c.env?.find((e) => e.name === name);

describe('kubernetes', () => {
  test('kubernetes - every rendered object is valid against its Kubernetes (or KEDA) schema', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/iocluster-config',
      'Deployment/app-node',
      'Deployment/frontend',
      'Deployment/io-node',
      'HorizontalPodAutoscaler/io-node',
      'Ingress/frontend',
      'Namespace/iocluster',
      'PodDisruptionBudget/app-node',
      'PodDisruptionBudget/frontend',
      'PodDisruptionBudget/io-node',
      'ScaledObject/app-node',
      'Secret/iocluster-redis',
      'Service/frontend',
      'TriggerAuthentication/iocluster-redis',
    ]);
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(
        () => new Model!(object as never).validate(),
        `${object.kind} ${object.metadata.name}`,
      ).not.toThrow();
      if (object.kind !== 'Namespace') expect(object.metadata.namespace).toBe('iocluster');
    }
  });

  test('kubernetes - probes on the health endpoints, ports that exist, grace longer than the drain', () => {
    const probes = {
      frontend: { port: 3000, ready: '/readyz', live: '/healthz' },
      'io-node': { port: 3001, ready: '/readyz', live: '/healthz' },
      'app-node': { port: 9464, ready: '/readyz', live: '/healthz' },
    };
    for (const [name, want] of Object.entries(probes)) {
      const c = container(name);
      // The image docker-compose.yml builds (the Dockerfile), under the name compose gives it.
      expect(c.image).toBe('iocluster:local');
      const portOf = (port: string | number | undefined) =>
        typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
      expect([c.readinessProbe?.httpGet?.path, portOf(c.readinessProbe?.httpGet?.port)]).toEqual([
        want.ready,
        want.port,
      ]);
      expect([c.livenessProbe?.httpGet?.path, portOf(c.livenessProbe?.httpGet?.port)]).toEqual([
        want.live,
        want.port,
      ]);
      // The process listens where the probes look.
      const portVar = { frontend: 'FRONTEND_PORT', 'io-node': 'IO_NODE_PORT', 'app-node': 'METRICS_PORT' }[
        name
      ]!;
      expect(env(c, portVar)?.value).toBe(String(want.port));
    }
    // Same entry points as docker-compose.yml and the tests; the example's frontend adds its demo login.
    expect(container('frontend').command).toEqual(['node', 'example/dist/frontend.js']);
    expect(container('io-node').command?.join(' ')).toContain('exec node packages/io-node/dist/main.js');
    // The app-node runs the module APP_MODULE names (the image's default is /app/handlers/index.js).
    expect(container('app-node').command).toEqual(['node', 'packages/app-node/dist/main.js']);
    expect(env(container('app-node'), 'APP_MODULE')?.value).toBe('example/dist/chat-app.js');

    const grace = (name: string) =>
      spec<{ template: { spec: { terminationGracePeriodSeconds: number } } }>(find('Deployment', name))
        .template.spec.terminationGracePeriodSeconds;
    const preStopSeconds = (name: string) =>
      Number(container(name).lifecycle?.preStop?.exec?.command[1] ?? 0);
    // io-node: drainTimeoutMs (10 s) plus disconnecting clients and closing, after any preStop.
    expect(grace('io-node')).toBeGreaterThanOrEqual(preStopSeconds('io-node') + 10 + 10);
    // app-node: a handler may run as long as its client waits for the answer (EVENT_TIMEOUT_MS).
    expect(grace('app-node')).toBeGreaterThan(loadSettings('io-node', {}).eventTimeoutMs / 1000);
    expect(grace('frontend')).toBeGreaterThan(preStopSeconds('frontend'));
    expect(preStopSeconds('frontend')).toBeGreaterThan(0);
  });

  test('kubernetes - budgets, the Service and the autoscalers select the pods they mean', () => {
    for (const name of ['frontend', 'io-node', 'app-node']) {
      const deployment = spec<{
        selector: { matchLabels: Record<string, string> };
        template: { metadata: { labels: Record<string, string> } };
      }>(find('Deployment', name));
      expect(deployment.template.metadata.labels).toMatchObject(deployment.selector.matchLabels);
      const pdb = spec<{ selector: { matchLabels: Record<string, string> }; maxUnavailable: number }>(
        find('PodDisruptionBudget', name),
      );
      expect(pdb.selector.matchLabels).toEqual(deployment.selector.matchLabels);
      expect(pdb.maxUnavailable).toBe(1);
    }
    const service = spec<{ selector: Record<string, string>; ports: { name: string }[] }>(
      find('Service', 'frontend'),
    );
    expect(container('frontend').ports?.map((p) => p.name)).toContain('http');
    expect(service.selector).toEqual({ 'app.kubernetes.io/name': 'frontend' });
    const ingress = spec<{
      rules: { http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] } }[];
    }>(find('Ingress', 'frontend'));
    expect(ingress.rules[0]!.http.paths[0]!.backend.service).toEqual({
      name: 'frontend',
      port: { name: 'http' },
    });
    expect(service.ports.map((p) => p.name)).toContain('http');

    const hpa = spec<{ scaleTargetRef: { kind: string; name: string }; maxReplicas: number }>(
      find('HorizontalPodAutoscaler', 'io-node'),
    );
    expect(hpa.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'io-node' });
    expect(hpa.maxReplicas).toBe(4); // the overlay's patch
    const scaled = spec<{
      scaleTargetRef: { name: string };
      maxReplicaCount: number;
      triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[];
    }>(find('ScaledObject', 'app-node'));
    expect(scaled.scaleTargetRef.name).toBe('app-node');
    expect(scaled.maxReplicaCount).toBe(6);
    // The lag of the ingress consumer group on each partition's stream, for the settings the pods run with.
    const settings = loadSettings('app-node', {
      ...(find('ConfigMap', 'iocluster-config').data as Record<string, string>),
      REDIS_URL: 'redis://redis:6379',
    });
    expect(settings.ingressTransport).toBe('streams');
    const partitions = createKeys(settings.prefix).ingressPartitions(settings.ingressPartitions);
    expect(scaled.triggers).toHaveLength(partitions.length);
    for (const [i, trigger] of scaled.triggers.entries()) {
      expect(trigger.type).toBe('redis-streams');
      expect(trigger.metadata).toMatchObject({ stream: partitions[i]!.stream, consumerGroup: INGRESS_GROUP });
      expect(Number(trigger.metadata.lagCount)).toBeGreaterThan(Number(trigger.metadata.activationLagCount));
      find('TriggerAuthentication', trigger.authenticationRef.name);
    }
  });

  test('kubernetes - every referenced ConfigMap, Secret and key exists; proxy mode is on', () => {
    const secret = find('Secret', 'iocluster-redis') as K8sObject & { stringData: Record<string, string> };
    for (const name of ['frontend', 'io-node', 'app-node']) {
      for (const from of container(name).envFrom ?? []) {
        if (from.configMapRef) find('ConfigMap', from.configMapRef.name);
        // The token secret is the operator's to create (no secret lives in these files).
        if (from.secretRef && from.secretRef.name !== 'iocluster-auth') find('Secret', from.secretRef.name);
      }
    }
    const auth = spec<{ secretTargetRef: { name: string; key: string }[] }>(
      find('TriggerAuthentication', 'iocluster-redis'),
    );
    for (const ref of auth.secretTargetRef) {
      expect(ref.name).toBe('iocluster-redis');
      expect(secret.stringData).toHaveProperty(ref.key);
    }
    const config = find('ConfigMap', 'iocluster-config').data as Record<string, string>;
    // The Secret and ConfigMap parse as the pods will read them.
    const env = { ...config, ...secret.stringData };
    // Every tier reads the one ConfigMap, each its own rows of it.
    for (const tier of ['io-node', 'app-node', 'frontend'] as const) {
      expect(loadSettings(tier, env).redis).toEqual({ kind: 'standalone', url: secret.stringData.REDIS_URL });
    }
    expect(loadSettings('frontend', env).proxy).toBe(true);
    expect(secret.stringData.KEDA_REDIS_ADDRESS).toBe(new URL(secret.stringData.REDIS_URL!).host);
  });

  test('kubernetes - io-nodes verify tokens with the secret the frontend signs them with, and the claims agree', () => {
    const secrets = (name: string) =>
      (container(name).envFrom ?? []).flatMap((from) => (from.secretRef ? [from.secretRef.name] : []));
    expect(secrets('io-node')).toContain('iocluster-auth');
    expect(secrets('frontend')).toContain('iocluster-auth');
    expect(objects.some((o) => o.kind === 'Secret' && o.metadata.name === 'iocluster-auth')).toBe(false);
    const config = find('ConfigMap', 'iocluster-config').data as Record<string, string>;
    // As the pods read it once the operator created the Secret the overlay documents.
    const parsed = loadSettings('io-node', { ...config, AUTH_JWT_SECRET: 'a'.repeat(44) });
    expect(parsed.jwt).toMatchObject({ issuer: 'iocluster-example', audience: ['chat'] });
    const overlayText = readFileSync(join(overlay, 'kustomization.yaml'), 'utf8');
    expect(overlayText).toContain('create secret generic iocluster-auth --from-literal=AUTH_JWT_SECRET=');
  });

  test('kubernetes - the io-node registers its pod address, IPv6 in brackets', () => {
    const c = container('io-node');
    expect(env(c, 'POD_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
    expect(c.command?.slice(0, 2)).toEqual(['sh', '-c']);
    const script = c.command![2]!;
    expect(runShellCommand(script, { POD_IP: '10.1.2.3' })).toBe(
      'http://10.1.2.3:3001 packages/io-node/dist/main.js',
    );
    expect(runShellCommand(script, { POD_IP: 'fd00:10:244::7' })).toBe(
      'http://[fd00:10:244::7]:3001 packages/io-node/dist/main.js',
    );
    // Both parse as the io-node will read them.
    expect(
      loadSettings('io-node', { IO_NODE_PUBLIC_URL: 'http://[fd00:10:244::7]:3001' }).publicUrl,
    ).toBeDefined();
  });
});
