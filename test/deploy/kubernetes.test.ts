/**
 * deploy/kubernetes as far as this machine can check it without a cluster: `kubectl kustomize` renders the base and
 * the example overlay; every document parses and has what the API server requires; selectors match the pod labels;
 * the probes and the scrape annotations name paths the server really answers (asked of a real in-process server) on
 * the port the image exposes; the pods run as the image's user on a read-only root with the image's volume mounted;
 * the secrets are the ones the README lists; every HOIST_* variable set is one hoist reads; and the image is the one
 * `npm run image` tags.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { startApi, type TestApi } from '../helpers/api.ts';
import { DATA_DIR, IMAGE_USER } from '../../scripts/image-rootfs.ts';
import { IMAGE_REPOSITORY, imageTag, PORT } from '../../scripts/image-layout.ts';
import { variablesHoistReads } from './environment-variables.ts';
import { ROOT } from './image-cache.ts';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered YAML, checked field by field

const KUBECTL = '/usr/bin/kubectl';
const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
let api: TestApi;

async function render(dir: string): Promise<Doc[]> {
  const { stdout } = await promisify(execFile)(KUBECTL, ['kustomize', join(ROOT, 'deploy', 'kubernetes', dir)], {
    timeout: 60_000,
  });
  const docs = parseAllDocuments(stdout);
  for (const d of docs) assert.deepEqual(d.errors, [], `${dir}: every document parses`);
  return docs.map((d) => d.toJS() as Doc);
}

const one = (docs: Doc[], kind: string): Doc => {
  const found = docs.filter((d) => d.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
};

const subset = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

before(async () => {
  api = await startApi('pglite');
});
after(async () => {
  await api?.close();
});

for (const [dir, image, namespace] of [
  ['base', `${IMAGE_REPOSITORY}:${imageTag(ROOT)}`, undefined],
  ['example', `registry.example.com/platform/${IMAGE_REPOSITORY}:${imageTag(ROOT)}`, 'hoist'],
] as const) {
  test(`deploy/kubernetes/${dir} renders a valid deployment of N replicas on PostgreSQL`, async () => {
    const docs = await render(dir);
    assert.deepEqual(docs.map((d) => d.kind).sort(), [
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    for (const d of docs) {
      assert.match(String(d.apiVersion), /^(v1|apps\/v1|policy\/v1)$/, `${d.kind} apiVersion`);
      assert.match(String(d.metadata?.name), DNS_1123, `${d.kind} metadata.name`);
      assert.equal(d.metadata?.namespace, namespace, `${d.kind} namespace`);
    }

    const deployment = one(docs, 'Deployment');
    const pod = deployment.spec.template;
    const podLabels = pod.metadata.labels as Record<string, string>;
    assert.ok(subset(deployment.spec.selector.matchLabels, podLabels), 'the Deployment selects its pods');
    assert.ok(deployment.spec.replicas >= 2, 'N replicas');
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, 'upgrades one new replica at a time');
    assert.equal(deployment.spec.strategy.rollingUpdate.maxSurge, 1);
    const service = one(docs, 'Service');
    assert.ok(subset(service.spec.selector, podLabels), 'the Service selects the pods');
    const pdb = one(docs, 'PodDisruptionBudget');
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels, 'the PDB covers them');
    assert.ok(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable >= 1);

    const containers = pod.spec.containers as Doc[];
    assert.equal(containers.length, 1);
    const c = containers[0]!;
    assert.equal(c.image, image, 'the image npm run image tags');
    const port = (c.ports as Doc[]).find((p) => p.name === 'http');
    assert.equal(port?.containerPort, PORT, 'the port the image exposes');
    assert.ok((service.spec.ports as Doc[]).some((p) => p.targetPort === 'http'));
    const probePath = (probe: string): string => {
      const get = c[probe]?.httpGet as Doc | undefined;
      assert.ok(get, `${probe} is an HTTP probe`);
      assert.ok(get.port === 'http' || get.port === PORT, `${probe} port`);
      return String(get.path);
    };
    assert.equal(probePath('livenessProbe'), '/healthz');
    assert.equal(probePath('readinessProbe'), '/readyz');
    assert.equal(probePath('startupProbe'), '/healthz');
    const annotations = pod.metadata.annotations as Record<string, string>;
    assert.equal(annotations['prometheus.io/scrape'], 'true');
    assert.equal(annotations['prometheus.io/port'], String(PORT));
    for (const path of ['/healthz', '/readyz', annotations['prometheus.io/path']!]) {
      const res = await api.app.inject({ url: path });
      assert.equal(res.statusCode, 200, `the server answers ${path}`);
    }
    for (const kind of ['requests', 'limits'])
      for (const resource of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[resource], `${kind}.${resource}`);

    const podSecurity = pod.spec.securityContext as Doc;
    assert.equal(podSecurity.runAsNonRoot, true);
    assert.equal(podSecurity.runAsUser, IMAGE_USER.uid, "the image's user");
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    const mounts = (c.volumeMounts as Doc[]).map((m) => m.mountPath as string).sort();
    assert.deepEqual(mounts, ['/tmp', DATA_DIR].sort(), 'writable: the data directory and /tmp only');
    const volumes = new Set((pod.spec.volumes as Doc[]).map((v) => v.name));
    for (const m of c.volumeMounts as Doc[]) assert.ok(volumes.has(m.name), `volume ${m.name} exists`);
    assert.equal(pod.spec.serviceAccountName, one(docs, 'ServiceAccount').metadata.name);
    assert.equal(pod.spec.automountServiceAccountToken, false);

    // The shared keys and the database come from the Secret; the settings from the generated ConfigMap.
    const env = c.env as Doc[];
    const fromSecret = Object.fromEntries(
      env.filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom.secretKeyRef.name]),
    );
    for (const name of ['HOIST_DATABASE_URL', 'HOIST_SECRET_KEY', 'HOIST_AUDIT_SIGNING_KEY'])
      assert.equal(fromSecret[name], 'hoist', `${name} from the Secret`);
    const configMap = one(docs, 'ConfigMap');
    assert.deepEqual(
      (c.envFrom as Doc[]).map((e) => e.configMapRef?.name),
      [configMap.metadata.name],
      'envFrom names the generated ConfigMap (with its hash suffix)',
    );
    const read = new Set(variablesHoistReads());
    for (const name of [...env.map((e) => e.name as string), ...Object.keys(configMap.data ?? {})])
      assert.ok(read.has(name), `${name} is a variable hoist reads`);
  });
}

test('the README names the Secret keys deploy/kubernetes reads', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const deployment = one(await render('base'), 'Deployment');
  for (const e of deployment.spec.template.spec.containers[0].env as Doc[]) {
    const key = e.valueFrom?.secretKeyRef?.key as string | undefined;
    if (key !== undefined) assert.ok(readme.includes(`--from-literal=${key}=`), `README creates the Secret key ${key}`);
  }
});
