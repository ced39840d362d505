import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** A rendered Kubernetes object: what `kubectl kustomize` prints, one per document. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

interface Kustomization {
  resources?: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { path: string }[];
}

/** The only fields of a kustomization this renderer knows; anything else fails the render. */
const KNOWN = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches']);

/** Kinds that are not namespaced among those the manifests use. */
const CLUSTER_SCOPED = new Set(['Namespace']);

/**
 * Built-in lists merged by a key in a strategic merge patch (the `patchMergeKey`s of the Kubernetes API
 * for the fields these manifests patch); other lists, and every list of a custom resource, are replaced.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  ports: 'containerPort',
  volumes: 'name',
  volumeMounts: 'mountPath',
};

function readYaml(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((doc): doc is K8sObject => doc !== null);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Strategic merge of `patch` into `target` (maps recursively, keyed lists by key; `null` deletes). */
function merge(target: unknown, patch: unknown, builtIn: boolean, field = ''): unknown {
  if (isObject(target) && isObject(patch)) {
    const out: Record<string, unknown> = { ...target };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = key in out ? merge(out[key], value, builtIn, key) : value;
    }
    return out;
  }
  const key = MERGE_KEYS[field];
  if (builtIn && key && Array.isArray(target) && Array.isArray(patch)) {
    const out = [...target];
    for (const item of patch) {
      const at = out.findIndex(
        (existing) => isObject(existing) && isObject(item) && existing[key] === item[key],
      );
      if (at >= 0) out[at] = merge(out[at], item, builtIn);
      else out.push(item);
    }
    return out;
  }
  return patch;
}

/** Every container of a workload's pod template. */
export function containersOf(object: K8sObject): Record<string, unknown>[] {
  const template = (object.spec as { template?: { spec?: Record<string, unknown[]> } } | undefined)?.template;
  return [...(template?.spec?.containers ?? []), ...(template?.spec?.initContainers ?? [])] as Record<
    string,
    unknown
  >[];
}

/**
 * Renders a kustomization directory as `kubectl kustomize` would, for the subset these manifests use:
 * `resources` (files and kustomization directories), `namespace`, `images` and `patches` by `path`
 * (strategic merge patches matched by kind and name). Anything else throws, so the manifests cannot
 * drift into features this check would silently ignore.
 */
export function renderKustomization(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  const [kustomization] = readYaml(file) as unknown as Kustomization[];
  if (!kustomization) throw new Error(`${file} is empty`);
  for (const key of Object.keys(kustomization)) {
    if (!KNOWN.has(key)) throw new Error(`${file}: "${key}" is not supported by this renderer`);
  }
  let objects: K8sObject[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(dir, resource);
    if (!existsSync(path)) throw new Error(`${file}: resource ${resource} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readYaml(path)));
  }
  for (const { path } of kustomization.patches ?? []) {
    for (const patch of readYaml(join(dir, path))) {
      const at = objects.findIndex((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
      if (at < 0) throw new Error(`${file}: patch ${path} matches no ${patch.kind} ${patch.metadata.name}`);
      const builtIn = !objects[at]!.apiVersion.includes('.') || objects[at]!.apiVersion.includes('k8s.io/');
      objects[at] = merge(objects[at], patch, builtIn) as K8sObject;
    }
  }
  if (kustomization.namespace !== undefined) {
    const namespace = kustomization.namespace;
    objects = objects.map((o) =>
      CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace } },
    );
  }
  for (const image of kustomization.images ?? []) {
    for (const container of objects.flatMap(containersOf)) {
      const [name, tag] = String(container.image).split(':');
      if (name !== image.name) continue;
      container.image = `${image.newName ?? name}${(image.newTag ?? tag) ? `:${image.newTag ?? tag}` : ''}`;
    }
  }
  return objects;
}
