/**
 * The GitOps edit plan: only the image fields change; every other byte of the file (comments, order, quoting,
 * indentation, blank lines) stays, checked by comparing the whole text with the expected text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { editFile, imageName, type EditResult } from '../../src/gitops/yaml-edit.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const IMAGE = '127.0.0.1:5000/prod/web';

function text(r: EditResult): string {
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.text;
}

describe('gitops yaml edit: kustomization', () => {
  const before = `# prod overlay — owned by the platform team
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base   # the base
images:
  # the web front end
  - name: ${IMAGE}
    newTag: "1.4"   # pinned by hand once

  - name: other/api
    digest: 'sha256:${'9'.repeat(64)}'
namePrefix: prod-
`;

  it('adds the digest to the named entry, keeping every other byte', () => {
    const r = editFile(before, { kind: 'kustomize', image: IMAGE, digest: D1 });
    assert.equal(
      text(r),
      before.replace(
        'newTag: "1.4"   # pinned by hand once',
        `newTag: "1.4"   # pinned by hand once\n    digest: ${D1}`,
      ),
    );
    assert.ok(r.ok && r.changes.length === 1 && r.changes[0]?.to === D1);
  });

  it('replaces an existing digest in place, keeping its quotes, and changes nothing the second time', () => {
    const once = text(editFile(before, { kind: 'kustomize', image: IMAGE, digest: D1 }));
    const twice = text(editFile(once, { kind: 'kustomize', image: IMAGE, digest: D2 }));
    assert.equal(twice, once.replace(D1, D2));
    const quoted = text(editFile(before, { kind: 'kustomize', image: 'other/api', digest: D2 }));
    assert.equal(quoted, before.replace(`'sha256:${'9'.repeat(64)}'`, `'${D2}'`));
    const again = editFile(twice, { kind: 'kustomize', image: IMAGE, digest: D2 });
    assert.ok(again.ok && again.changes.length === 0 && again.text === twice);
  });

  it('sets newName when asked', () => {
    const r = text(editFile(before, { kind: 'kustomize', image: IMAGE, newName: 'reg.example/prod/web', digest: D1 }));
    assert.equal(
      r,
      before.replace(
        'newTag: "1.4"   # pinned by hand once',
        `newTag: "1.4"   # pinned by hand once\n    newName: reg.example/prod/web\n    digest: ${D1}`,
      ),
    );
  });

  it('adds an entry, or the images list, when there is none', () => {
    const r = text(editFile(before, { kind: 'kustomize', image: 'new/one', digest: D1 }));
    assert.equal(
      r,
      before.replace(
        `    digest: 'sha256:${'9'.repeat(64)}'`,
        `    digest: 'sha256:${'9'.repeat(64)}'\n  - name: new/one\n    digest: ${D1}`,
      ),
    );
    const bare = 'kind: Kustomization\nresources: [a.yaml]\n';
    assert.equal(
      text(editFile(bare, { kind: 'kustomize', image: IMAGE, digest: D1 })),
      `${bare}images:\n- name: ${IMAGE}\n  digest: ${D1}\n`,
    );
  });

  it('refuses invalid YAML with the position', () => {
    const r = editFile('images: [\n', { kind: 'kustomize', image: IMAGE, digest: D1 });
    assert.ok(!r.ok && r.line !== undefined && /not valid YAML/.test(r.error));
  });
});

describe('gitops yaml edit: helm values', () => {
  const before = `# values for prod
replicaCount: 3

image:
  repository: ${IMAGE}   # where it lives
  tag: "1.4"
  digest: ""   # set by hoist
resources: {}
`;

  it('sets image.digest in place', () => {
    assert.equal(
      text(editFile(before, { kind: 'helm', key: 'image.digest', digest: D1 })),
      before.replace('digest: ""', `digest: "${D1}"`),
    );
  });

  it('adds a missing key path under the deepest mapping there is', () => {
    const r = text(editFile(before, { kind: 'helm', key: 'image.pin.digest', digest: D1 }));
    assert.equal(
      r,
      before.replace('digest: ""   # set by hoist', `digest: ""   # set by hoist\n  pin:\n    digest: ${D1}`),
    );
    const top = text(editFile(before, { kind: 'helm', key: 'web.digest', digest: D1 }));
    assert.equal(top, `${before.replace('resources: {}\n', 'resources: {}')}\nweb:\n  digest: ${D1}\n`);
  });

  it('refuses a key path through a non-mapping', () => {
    const r = editFile(before, { kind: 'helm', key: 'replicaCount.digest', digest: D1 });
    assert.ok(!r.ok && /replicaCount is not a mapping/.test(r.error));
  });
});

describe('gitops yaml edit: plain manifests', () => {
  const before = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}   # flow style stays
spec:
  template:
    spec:
      containers:
        - name: web
          image: ${IMAGE}:1.4 # the app
        - name: sidecar
          image: "${IMAGE}-sidecar:1.0"
      initContainers:
        - image: '${IMAGE}@sha256:${'0'.repeat(64)}'
---
# second document
apiVersion: batch/v1
kind: Job
spec:
  template:
    spec:
      containers: [{name: migrate, image: ${IMAGE}}]
`;

  it('rewrites every image: naming the repository, in every document, and nothing else', () => {
    const r = editFile(before, { kind: 'manifests', image: IMAGE, digest: D1 });
    const expected = before
      .replace(`image: ${IMAGE}:1.4 #`, `image: ${IMAGE}@${D1} #`)
      .replace(`'${IMAGE}@sha256:${'0'.repeat(64)}'`, `'${IMAGE}@${D1}'`)
      .replace(`image: ${IMAGE}}]`, `image: ${IMAGE}@${D1}}]`);
    assert.equal(text(r), expected);
    assert.ok(r.ok && r.changes.length === 3);
    const again = editFile(expected, { kind: 'manifests', image: IMAGE, digest: D1 });
    assert.ok(again.ok && again.changes.length === 0);
  });

  it('reads image names with ports, tags and digests', () => {
    assert.equal(imageName('127.0.0.1:5000/prod/web:1.4'), '127.0.0.1:5000/prod/web');
    assert.equal(imageName('127.0.0.1:5000/prod/web'), '127.0.0.1:5000/prod/web');
    assert.equal(imageName(`web:1@${D1}`), 'web');
  });
});
