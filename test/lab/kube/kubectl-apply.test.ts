/**
 * The real `kubectl apply --server-side` against the fake API with a flannel-like CNI manifest
 * (Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, ConfigMap, a host-network DaemonSet
 * mounting /etc/cni/net.d and tolerating every NoSchedule taint), and the DaemonSet it rolls out on
 * every node, NotReady ones included.
 */
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {DaemonSet, KubeObject, Pod} from '../../../src/lib/lab/kube/index.js'
import {KUBECTL, kubectl, startTestKube, type TestKube, until} from './helpers.js'

const MANIFEST = path.join(import.meta.dirname, 'fixtures', 'flannel-like.yaml')
const NAMES = ['namespace/kube-flannel', 'serviceaccount/flannel', 'clusterrole.rbac.authorization.k8s.io/flannel', 'clusterrolebinding.rbac.authorization.k8s.io/flannel', 'configmap/kube-flannel-cfg', 'daemonset.apps/kube-flannel-ds']

const flannelPods = (t: TestKube) => t.kube.list<Pod>('pods', 'kube-flannel').filter((p) => !p.metadata.deletionTimestamp)
const ds = (t: TestKube) => t.kube.get<DaemonSet>('daemonsets', 'kube-flannel', 'kube-flannel-ds')

if (!KUBECTL) console.warn('kubectl not found: skipping the kubectl apply tests of the fake Kubernetes API')

describe.skipIf(!KUBECTL)('kubectl apply --server-side against the fake API server', () => {
  let t: TestKube
  beforeEach(async () => {
    t = await startTestKube()
    t.kube.seedDemo({nodes: ['cp1', 'w1', 'w2']})
    t.kube.nodeReady('w2', false)
    await until('w2 NotReady', () => t.kube.get<{status?: {conditions?: Array<{status: string; type: string}>}} & KubeObject>('nodes', undefined, 'w2')?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'Unknown'))
  })
  afterEach(() => t.kube.close())

  it('applies a CNI manifest; its DaemonSet has a pod on every node, Ready only where the node is', async () => {
    // When
    const result = await kubectl(t, ['apply', '--server-side', '-f', MANIFEST])
    // Then
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim().split('\n')).toEqual(NAMES.map((n) => `${n} serverside-applied`))
    await until('a flannel pod on each node', () => flannelPods(t).length === 3)
    expect(flannelPods(t).map((p) => p.spec.nodeName).sort()).toEqual(['cp1', 'w1', 'w2'])
    await until('status counted', () => ds(t)?.status?.numberReady === 2)
    expect(ds(t)?.status).toEqual({
      currentNumberScheduled: 3, desiredNumberScheduled: 3, numberAvailable: 2, numberMisscheduled: 0, numberReady: 2, numberUnavailable: 1, observedGeneration: 1, updatedNumberScheduled: 3,
    })
    const onW2 = flannelPods(t).find((p) => p.spec.nodeName === 'w2')!
    expect(onW2.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).toBeFalsy()
    // The daemon tolerations are added to the pods; the manifest's own come first.
    expect(onW2.spec.tolerations?.[0]).toEqual({effect: 'NoSchedule', operator: 'Exists'})
    expect(onW2.spec.tolerations).toContainEqual({effect: 'NoExecute', key: 'node.kubernetes.io/unreachable', operator: 'Exists'})
    const table = await kubectl(t, ['get', 'ds', '-n', 'kube-flannel'])
    expect(table.stdout).toMatch(/kube-flannel-ds\s+3\s+3\s+2\s+3\s+2\s/)

    // The node comes back: every pod Ready, and kubectl's own rollout status agrees.
    t.kube.nodeReady('w2', true)
    const rollout = await kubectl(t, ['rollout', 'status', 'daemonset/kube-flannel-ds', '-n', 'kube-flannel', '--timeout=20s'])
    expect(rollout.code, rollout.stderr).toBe(0)
    expect(rollout.stdout).toContain('daemon set "kube-flannel-ds" successfully rolled out')
    expect(ds(t)?.status).toMatchObject({numberAvailable: 3, numberReady: 3})
    expect(ds(t)?.status).not.toHaveProperty('numberUnavailable')
  })

  it('before the pod network: a node NotReady for its CNI runs the host-network CNI pods, and nothing else', async () => {
    // Given: w1 has a kubelet but no CNI configuration yet
    t.kube.nodeReady('w1', false, 'network')
    await until('w1 tainted', () => t.kube.get<KubeObject & {spec?: {taints?: Array<{key: string}>}}>('nodes', undefined, 'w1')?.spec?.taints?.some((x) => x.key === 'node.kubernetes.io/not-ready'))
    const nodes = await kubectl(t, ['get', 'nodes'])
    expect(nodes.stdout).toMatch(/w1\s+NotReady\s/)
    const described = await kubectl(t, ['describe', 'node', 'w1'])
    expect(described.stdout).toMatch(/Ready\s+False\s.*KubeletNotReady\s+container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized/)
    expect(described.stdout).toContain('node.kubernetes.io/not-ready:NoSchedule')
    // When
    expect((await kubectl(t, ['apply', '--server-side', '-f', MANIFEST])).code).toBe(0)
    // Then: the flannel pod on w1 (host network, tolerating NoSchedule) runs and is Ready; the one on w2 (kubelet stopped) is not
    await until('flannel Ready on w1', () => flannelPods(t).some((p) => p.spec.nodeName === 'w1' && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')))
    await until('counted', () => ds(t)?.status?.numberReady === 2)
    expect(ds(t)?.status).toMatchObject({desiredNumberScheduled: 3, numberAvailable: 2, numberReady: 2})
    // A pod on the pod network bound to w1 does not start (ContainerCreating).
    expect((await kubectl(t, ['run', 'probe', '--image=busybox', '--overrides={"spec":{"nodeName":"w1"}}'])).code).toBe(0)
    await until('a few ticks', () => ds(t)?.status?.numberReady === 2)
    expect(t.kube.get<Pod>('pods', 'default', 'probe')?.status?.phase).toBe('Pending')
    expect((await kubectl(t, ['get', 'pod', 'probe'])).stdout).toMatch(/probe\s+0\/1\s+ContainerCreating/)
  })

  it('changes nothing on a second apply of the same manifest', async () => {
    expect((await kubectl(t, ['apply', '--server-side', '-f', MANIFEST])).code).toBe(0)
    await until('pods', () => flannelPods(t).length === 3)
    const versions = () => ['namespaces', 'serviceaccounts', 'clusterroles', 'clusterrolebindings', 'configmaps'].map((r) => t.kube.list(r).filter((o) => o.metadata.name.includes('flannel')).map((o) => o.metadata.resourceVersion))
    const before = versions()
    const dsGeneration = ds(t)?.metadata.generation
    const again = await kubectl(t, ['apply', '--server-side', '-f', MANIFEST])
    expect(again.code, again.stderr).toBe(0)
    expect(versions()).toEqual(before)
    expect(ds(t)?.metadata.generation).toBe(dsGeneration)
    const cm = t.kube.get('configmaps', 'kube-flannel', 'kube-flannel-cfg')!
    expect(cm.metadata.managedFields?.map((e) => [e.manager, e.operation])).toEqual([['kubectl', 'Apply']])
  })

  it('reports a conflict with another field manager, and --force-conflicts takes the field over', async () => {
    expect((await kubectl(t, ['apply', '--server-side', '-f', MANIFEST])).code).toBe(0)
    // Someone else applies their own value of the same label.
    const theirs = path.join(t.dir, 'theirs.yaml')
    const {writeFileSync} = await import('node:fs')
    writeFileSync(theirs, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kube-flannel-cfg\n  namespace: kube-flannel\n  labels:\n    app: mine\n')
    const refused = await kubectl(t, ['apply', '--server-side', '--field-manager=other', '-f', theirs])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('Apply failed with 1 conflict: conflict with "kubectl": .metadata.labels.app')
    expect(refused.stderr).toContain('--force-conflicts')

    const forced = await kubectl(t, ['apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', theirs])
    expect(forced.code, forced.stderr).toBe(0)
    const cm = t.kube.get('configmaps', 'kube-flannel', 'kube-flannel-cfg')!
    expect(cm.metadata.labels).toEqual({app: 'mine'})
    expect((cm as KubeObject & {data: Record<string, string>}).data['net-conf.json']).toContain('10.244.0.0/16')
    // Now kubectl's own manifest conflicts in turn.
    const back = await kubectl(t, ['apply', '--server-side', '-f', MANIFEST])
    expect(back.stderr).toContain('conflict with "other": .metadata.labels.app')
  })

  it('places DaemonSet pods by taints and node affinity, and rolls a template change out', async () => {
    // A DaemonSet without tolerations skips the control plane (its NoSchedule taint), and one whose
    // node affinity names no node runs nowhere.
    const manifest = path.join(t.dir, 'agents.yaml')
    const {writeFileSync} = await import('node:fs')
    const daemonSet = (name: string, image: string, affinity = '') => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${name}, namespace: default}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: agent, image: ${image}}]${affinity}
`
    const nowhere = `
      nodeSelector: {disk: ssd}`
    writeFileSync(manifest, `${daemonSet('agent', 'agent:1')}---\n${daemonSet('ssd-agent', 'agent:1', nowhere)}`)
    expect((await kubectl(t, ['apply', '--server-side', '-f', manifest])).code).toBe(0)
    const agents = () => t.kube.list<Pod>('pods', 'default').filter((p) => p.metadata.labels?.app === 'agent' && !p.metadata.deletionTimestamp)
    await until('agents on the workers', () => agents().length === 2)
    expect(agents().map((p) => p.spec.nodeName).sort()).toEqual(['w1', 'w2'])
    await until('ssd-agent status', () => t.kube.get<DaemonSet>('daemonsets', 'default', 'ssd-agent')?.status?.observedGeneration === 1)
    expect(t.kube.get<DaemonSet>('daemonsets', 'default', 'ssd-agent')?.status).toMatchObject({currentNumberScheduled: 0, desiredNumberScheduled: 0})

    // When: a new image
    t.kube.nodeReady('w2', true)
    writeFileSync(manifest, daemonSet('agent', 'agent:2'))
    expect((await kubectl(t, ['apply', '--server-side', '-f', manifest])).code).toBe(0)
    // Then: every pod replaced, one at a time
    const rollout = await kubectl(t, ['rollout', 'status', 'daemonset/agent', '--timeout=20s'])
    expect(rollout.code, rollout.stderr).toBe(0)
    await until('new pods only', () => agents().length === 2 && agents().every((p) => p.spec.containers[0]?.image === 'agent:2'))
    expect(t.kube.get<DaemonSet>('daemonsets', 'default', 'agent')?.status).toMatchObject({desiredNumberScheduled: 2, observedGeneration: 2, updatedNumberScheduled: 2})
  })
})
