/**
 * `kubeadm upgrade plan [VERSION]`, `kubeadm upgrade apply VERSION [-y]` and `kubeadm upgrade node`
 * in the lab, after cmd/kubeadm/app/cmd/upgrade (plan.go, apply.go, node.go, common.go) and
 * phases/upgrade (policy.go, staticpods.go, health.go): the version skew policy with kubeadm's
 * messages, the cluster health checks, the static pod manifests backed up and rewritten with the
 * new image tags (the lab kubelet restarts the pods, as a changed pod hash makes the real one do),
 * the kubeadm-config ConfigMap moved to the new version, and `kp lab fault NODE
 * --upgrade-apply-fails`: the new kube-apiserver never comes up, kubeadm rolls the manifests back.
 */
import {parse, stringify} from 'yaml'

import {type Cluster, NODES, PODS} from '../kube/cluster.js'
import {findResource} from '../kube/discovery.js'
import type {Node, Pod} from '../kube/types.js'
import {flagBool, flagString} from './argv.js'
import type {RunningCluster} from './clusters.js'
import {type Call, fail, finishPreflight, out, rootCheck} from './context.js'
import {CONTROL_PLANE_COMPONENTS} from './control-plane-pods.js'
import {compareVersions} from './kubelets.js'
import {etcdImage} from './manifests.js'
import {plainError, type PreflightResult} from './output.js'
import {kubeconfigServer} from './vm.js'
import {readVmFile, writeVmFiles} from './vm-files.js'

const MANIFESTS = '/etc/kubernetes/manifests'
const COMPONENTS = ['etcd', ...CONTROL_PLANE_COMPONENTS] as const
/** How long the lab's kubeadm waits for a restarted static pod (kubeadm: 5m0s). */
export const UPGRADE_WAIT_MS = {component: 60_000, faulty: 3000}

/** How long a restarted container must keep running to count as up. */
const STABLE_MS = 1500
const configMaps = () => findResource('', 'v1', 'configmaps')!
const minor = (v: string) => Number(v.replace(/^v/, '').split('.')[1])
const bare = (v: string) => v.replace(/^v/, '')

/** Go's tabwriter as kubeadm's plan uses it (minwidth 10, padding 3). */
export function planTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(10, ...rows.map((r) => (r[i] ?? '').length + 3)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('').trimEnd()).join('\n') + '\n'
}

/** policy.go EnforceVersionPolicies: the mandatory and the skippable (--force) errors. */
export function versionPolicy(cluster: string, target: string, kubeadm: string): {mandatory: string[]; skippable: string[]} {
  const mandatory: string[] = []
  const skippable: string[] = []
  const t = `v${bare(target)}`
  const cl = `v${bare(cluster)}`
  if (compareVersions(t, cl) < 0) {
    if (minor(t) > minor(cl) - 1) skippable.push(`Specified version to upgrade to "${t}" is equal to or lower than the cluster version "${cl}". Downgrades are not supported yet`)
    else mandatory.push(`Specified version to downgrade to "${t}" is too low; kubeadm can downgrade only 1 minor version at a time`)
  }

  if (minor(t) > minor(cl) + 1) mandatory.push(`Specified version to upgrade to "${t}" is too high; kubeadm can upgrade only 1 minor version at a time`)
  const k = `v${bare(kubeadm)}`
  if (minor(k) > minor(t)) skippable.push(`Kubeadm version "${k}" can only be used to upgrade to Kubernetes version "v1.${minor(k)}"`)
  if (compareVersions(k, t) < 0) {
    if (minor(t) > minor(k)) mandatory.push(`Specified version to upgrade to "${t}" is at least one minor release higher than the kubeadm minor release (${minor(t)} > ${minor(k)}). Such an upgrade is not supported`)
    else skippable.push(`Specified version to upgrade to "${t}" is higher than the kubeadm version "${k}". Upgrade kubeadm first using the tool you used to install kubeadm`)
  }

  return {mandatory, skippable}
}

const formatErrors = (errors: string[]) => errors.map((e) => `\t- ${e}\n`).join('')

/** The cluster the kubeconfig points at, or kubeadm's error for a client that cannot reach it. */
function clusterOf(c: Call, file: string): RunningCluster {
  if (readVmFile(c.vm.root, file) === undefined) fail(c, plainError(`[upgrade/init config] FATAL: failed to create a Kubernetes client from file "${file}": stat ${file}: no such file or directory`))
  const server = kubeconfigServer(c.vm.root, file) ?? ''
  const running = c.lab.clusters.byEndpoint(server)
  if (!running) {
    fail(c, plainError(`[upgrade/init config] FATAL: failed to get config map: Get "https://${server}/api/v1/namespaces/kube-system/configmaps/kubeadm-config?timeout=10s": dial tcp ${server}: connect: connection refused`))
  }

  return running
}

function clusterConfiguration(cluster: Cluster): Record<string, unknown> {
  const cm = cluster.find<{data?: Record<string, string>} & Pod>(configMaps(), 'kube-system', 'kubeadm-config')
  return (parse(cm?.data?.ClusterConfiguration ?? '{}') as Record<string, unknown> | null) ?? {}
}

/** The cluster's version as kubeadm reads it: ClusterConfiguration.kubernetesVersion. */
export function clusterVersion(running: RunningCluster): string {
  const version = clusterConfiguration(running.kube.cluster).kubernetesVersion
  return bare(typeof version === 'string' ? version : running.record.spec.kubernetesVersion)
}

function readingConfiguration(c: Call): void {
  out(c, `[upgrade] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...`, "[upgrade] Use 'kubeadm init phase upload-config --config your-config-file' to re-upload it.")
}

/** health.go: the control-plane nodes Ready, and (the lab's addition) each control plane's kube-apiserver running. */
function healthChecks(c: Call, running: RunningCluster): void {
  out(c, '[upgrade] Running cluster health checks')
  const result: PreflightResult = {errors: [], warnings: []}
  const planes = running.record.members.filter((m) => m.role === 'control-plane')
  const nodes = running.kube.cluster.all<Node>(NODES)
  const notReady = planes.filter((m) => nodes.find((n) => n.metadata.name === m.name)?.status?.conditions?.find((x) => x.type === 'Ready')?.status !== 'True')
  if (notReady.length > 0) result.errors.push({check: 'ControlPlaneNodesReady', message: `there are NotReady control-planes in the cluster: [${notReady.map((m) => m.name).join(' ')}]`})
  const down = planes.filter((m) => !c.lab.pods.controlPlane.running(m.vmid))
  if (down.length > 0) result.errors.push({check: 'ControlPlanePodsRunning', message: `the kube-apiserver is not running on the control-plane nodes: [${down.map((m) => m.name).join(' ')}]`})
  finishPreflight(c, result, 'preflight')
}

function enforcePolicy(c: Call, cluster: string, target: string, prefix: string): void {
  const {mandatory, skippable} = versionPolicy(cluster, target, c.version)
  if (mandatory.length > 0) {
    fail(c, plainError(`${prefix}[upgrade/version] FATAL: the --version argument is invalid due to these fatal errors:\n\n${formatErrors(mandatory)}\nPlease fix the misalignments highlighted above and try upgrading again`))
  }

  if (skippable.length > 0 && !flagBool(c.call, 'force')) {
    fail(c, plainError(`${prefix}[upgrade/version] FATAL: the --version argument is invalid due to these errors:\n\n${formatErrors(skippable)}\nCan be bypassed if you pass the --force flag`))
  }
}

function imageTag(image: string | undefined): string {
  return image?.split(':').at(-1) ?? ''
}

export function upgradePlan(c: Call): number {
  const running = clusterOf(c, flagString(c.call, 'kubeconfig') ?? '/etc/kubernetes/admin.conf')
  readingConfiguration(c)
  out(c, '[preflight] Running pre-flight checks.')
  healthChecks(c, running)
  const current = clusterVersion(running)
  const target = bare(c.call.args[0] ?? c.version)
  out(c, '[upgrade] Fetching available versions to upgrade to', `[upgrade/versions] Cluster version: ${current}`, `[upgrade/versions] kubeadm version: v${c.version}`)
  if (c.call.args[0] !== undefined) enforcePolicy(c, current, target, '')
  out(c, `[upgrade/versions] Target version: v${target}`, `[upgrade/versions] Latest version in the v1.${minor(current)} series: v${current}`, '')
  const {cluster} = running.kube
  const planes = running.record.members.filter((m) => m.role === 'control-plane')
  const kubelets = cluster.all<Node>(NODES).map((n) => ['kubelet', n.metadata.name, String((n.status?.nodeInfo as {kubeletVersion?: string} | undefined)?.kubeletVersion ?? ''), `v${target}`])
  const pod = (component: string, node: string) => cluster.find<Pod>(PODS, 'kube-system', `${component}-${node}`)?.spec?.containers?.[0]?.image
  const components = [
    ...CONTROL_PLANE_COMPONENTS.flatMap((component) => planes.map((m) => [component, m.name, imageTag(pod(component, m.name)), `v${target}`])),
    ['kube-proxy', '', current, `v${target}`],
    ...planes.map((m) => ['etcd', m.name, imageTag(pod('etcd', m.name)), imageTag(etcdImage(target))]),
  ]
  c.session.out(`Components that must be upgraded manually after you have upgraded the control plane with 'kubeadm upgrade apply':\n${planTable([['COMPONENT', 'NODE', 'CURRENT', 'TARGET'], ...kubelets])}\n`)
  const heading = minor(target) > minor(current) ? 'Upgrade to the latest stable version:' : `Upgrade to the latest version in the v1.${minor(current)} series:`
  c.session.out(`${heading}\n\n${planTable([['COMPONENT', 'NODE', 'CURRENT', 'TARGET'], ...components])}\n`)
  c.session.out('You can now apply the upgrade by executing the following command:\n\n')
  c.session.out(`\tkubeadm upgrade apply v${target}\n\n`)
  if (compareVersions(c.version, target) < 0) c.session.out(`Note: Before you can perform this upgrade, you have to update kubeadm to v${target}.\n\n`)
  c.session.out('_____________________________________________________________________\n\n')
  return 0
}

/** The manifest with kubeadm's image for the version: the component's tag, etcd's per minor. */
export function upgradedManifest(component: string, text: string, version: string): string {
  const image = component === 'etcd' ? etcdImage(version) : `registry.k8s.io/${component}:v${bare(version)}`
  return text.replace(/^(\s*image:\s*)\S+$/m, `$1${image}`)
}

/** The kubelet replaces the mirror pod of a static pod whose manifest changed: the API shows the new image. */
function mirror(running: RunningCluster, node: string, manifest: string): void {
  const pod = parse(manifest) as Pod
  running.kube.addStaticPod(node, pod)
  const name = `${pod.metadata.name}-${node}`
  if (running.kube.cluster.find(PODS, 'kube-system', name)) running.kube.cluster.store.remove(PODS, 'kube-system', name)
  running.kube.tick()
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until the node's container of the component runs the image (the kubelet restarted it). */
async function waitForImage(c: Call, component: string, image: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  // Up means up for a while: a container that crashes at once is seen running for a moment (kubeadm waits for the pod's health).
  let since: number | undefined
  for (;;) {
    const runs = component === 'etcd' ? c.lab.pods.runningImage(c.vm.vmid, image) : c.lab.pods.controlPlane.image(c.vm.vmid, component as (typeof CONTROL_PLANE_COMPONENTS)[number]) === image
    since = runs ? (since ?? Date.now()) : undefined
    if (since !== undefined && Date.now() - since >= STABLE_MS) return true
    if (Date.now() >= until) return false
    await sleep(250)
  }
}

function timestamp(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}-${p(now.getHours())}-${p(now.getMinutes())}-${p(now.getSeconds())}`
}

/** staticpods.go: each component's manifest backed up, rewritten, waited for; on a failure every manifest moved back. */
async function upgradeStaticPods(c: Call, running: RunningCluster, version: string, prefix: string): Promise<void> {
  const node = running.record.members.find((m) => m.vmid === c.vm.vmid)?.name ?? c.vm.name
  const backup = `/etc/kubernetes/tmp/kubeadm-backup-manifests-${timestamp()}`
  const faulty = prefix === 'apply' && c.lab.pods.controlPlane.upgradeFails.has(c.vm.vmid)
  out(c, `[upgrade/staticpods] Writing new Static Pod manifests to "/etc/kubernetes/tmp/kubeadm-upgraded-manifests${timestamp().replaceAll('-', '')}"`)
  const done: string[] = []
  for (const component of COMPONENTS) {
    const file = `${MANIFESTS}/${component}.yaml`
    const old = readVmFile(c.vm.root, file)
    if (old === undefined) continue
    const next = upgradedManifest(component, old, version)
    out(c, `[upgrade/staticpods] Preparing for "${component}" upgrade`)
    if (next === old) {
      out(c, `[upgrade/staticpods] Current and new manifests of ${component} are equal, skipping upgrade`)
      continue
    }

    writeVmFiles(c.vm.root, [[`${backup}/${component}.yaml`, {content: old, mode: 0o600}]])
    done.push(component)
    out(c, `[upgrade/staticpods] Moving new manifest to "${file}" and backing up old manifest to "${backup}/${component}.yaml"`)
    // The fault: the new kube-apiserver exits at once, so its pod never turns up with the new hash.
    if (faulty && component === 'kube-apiserver') c.lab.pods.controlPlane.wontStart.add(c.vm.vmid)
    writeVmFiles(c.vm.root, [[file, {content: next, mode: 0o600}]])
    out(c, '[upgrade/staticpods] Waiting for the kubelet to restart the component', '[upgrade/staticpods] This can take up to 5m0s')
    const image = (parse(next) as Pod).spec?.containers?.[0]?.image ?? ''
    const ok = await waitForImage(c, component, image, faulty && component === 'kube-apiserver' ? UPGRADE_WAIT_MS.faulty : UPGRADE_WAIT_MS.component)
    if (!ok) {
      for (const back of done) writeVmFiles(c.vm.root, [[`${MANIFESTS}/${back}.yaml`, {content: readVmFile(c.vm.root, `${backup}/${back}.yaml`)!, mode: 0o600}]])
      // The fault stays (every apply fails) until kp lab fault --clear; the old kube-apiserver starts again now.
      if (faulty) c.lab.pods.controlPlane.setWontStart({...c.vm, booted: true}, false)

      for (const back of done) mirror(running, node, readVmFile(c.vm.root, `${MANIFESTS}/${back}.yaml`)!)
      c.lab.log(`kubeadm upgrade ${prefix} on ${c.vm.name}: ${component} did not come up, manifests rolled back`)
      fail(c, plainError(`[upgrade/${prefix}] FATAL: couldn't upgrade control plane. kubeadm has tried to recover everything into the earlier state. Errors faced: `
        + `static Pod hash for component ${component} on Node ${node} did not change after 5m0s: timed out waiting for the condition`))
    }

    out(c, `[apiclient] Found 1 Pods for label selector component=${component}`, `[upgrade/staticpods] Component "${component}" upgraded successfully!`)
    mirror(running, node, next)
  }
}

function writeKubeletConfig(c: Call): void {
  const file = '/var/lib/kubelet/config.yaml'
  const current = readVmFile(c.vm.root, file)
  if (current !== undefined) writeVmFiles(c.vm.root, [[file, {content: current, mode: 0o644}]])
  out(c, `[upgrade] Backing up kubelet config file to /etc/kubernetes/tmp/kubeadm-kubelet-config${timestamp().replaceAll('-', '')}/config.yaml`, `[kubelet-start] Writing kubelet configuration to file "${file}"`)
}

export async function upgradeApply(c: Call): Promise<number> {
  const version = c.call.args[0]
  if (version === undefined && flagString(c.call, 'config') === undefined) fail(c, plainError('missing one or more required arguments. Required arguments: [version]'))
  const running = clusterOf(c, flagString(c.call, 'kubeconfig') ?? '/etc/kubernetes/admin.conf')
  readingConfiguration(c)
  out(c, '[preflight] Running pre-flight checks.')
  rootCheck(c)
  healthChecks(c, running)
  const target = bare(version ?? c.version)
  const current = clusterVersion(running)
  out(c, `[upgrade/version] You have chosen to change the cluster version to "v${target}"`, `[upgrade/versions] Cluster version: v${current}`, `[upgrade/versions] kubeadm version: v${c.version}`)
  enforcePolicy(c, current, target, '')
  if (!flagBool(c.call, 'yes') && !flagBool(c.call, 'force') && !flagBool(c.call, 'dry-run')) {
    const answer = await c.session.ask('[upgrade/confirm] Are you sure you want to proceed? [y/N]: ')
    if (answer.trim().toLowerCase() !== 'y') fail(c, plainError("won't proceed; the user didn't answer (Y|y) in order to continue"))
  }

  if (flagBool(c.call, 'dry-run')) {
    out(c, '[dryrun] Finished dryrunning successfully!')
    return 0
  }

  out(c, '[upgrade/prepull] Pulling images required for setting up a Kubernetes cluster', `[upgrade/control-plane] Upgrading your static Pod-hosted control plane to version "v${target}" (timeout: 5m0s)...`)
  await upgradeStaticPods(c, running, target, 'apply')
  out(c, '[upgrade/control-plane] The control plane instance for this node was successfully upgraded!')
  const config = {...clusterConfiguration(running.kube.cluster), kubernetesVersion: `v${target}`}
  running.kube.cluster.patch(configMaps(), 'kube-system', 'kubeadm-config', 'application/merge-patch+json', {data: {ClusterConfiguration: stringify(config)}})
  running.record.spec.kubernetesVersion = target
  c.lab.clusters.save(running.record)
  out(c, '[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace',
    '[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system with the configuration for the kubelets in the cluster')
  writeKubeletConfig(c)
  out(c, '[upgrade/kubelet-config] The kubelet configuration for this node was successfully updated!',
    '[upgrade/kubelet-config] Now you should go ahead and upgrade the kubelet package using your package manager.',
    '[addons] Applied essential addon: CoreDNS', '[addons] Applied essential addon: kube-proxy', '',
    `[upgrade/successful] SUCCESS! Your cluster was upgraded to "v${target}". Enjoy!`, '',
    "[upgrade/kubelet] Now that your control plane is upgraded, please proceed with upgrading your kubelets if you haven't already done so.")
  c.lab.log(`kubeadm upgrade apply v${target} on ${c.vm.name}`)
  return 0
}

export async function upgradeNode(c: Call): Promise<number> {
  const member = c.lab.clusters.all().flatMap((r) => r.record.members.map((m) => ({m, r}))).find((x) => x.m.vmid === c.vm.vmid)
  const running = member?.r ?? clusterOf(c, flagString(c.call, 'kubeconfig') ?? '/etc/kubernetes/kubelet.conf')
  readingConfiguration(c)
  out(c, '[preflight] Running pre-flight checks')
  rootCheck(c)
  const version = clusterVersion(running)
  // node.go: a kubeadm older than the cluster it would configure the node for is refused.
  if (compareVersions(c.version, version) < 0) {
    fail(c, plainError(`error execution phase preflight: the kubeadm version "v${c.version}" is lower than the cluster version "v${version}". `
      + 'Upgrade kubeadm first using the tool you used to install kubeadm'))
  }

  if (member?.m.role === 'control-plane') {
    out(c, '[upgrade] Upgrading your Static Pod-hosted control plane instance to version "v' + version + '"...')
    await upgradeStaticPods(c, running, version, 'node')
    out(c, '[upgrade] The control plane instance for this node was successfully updated!')
  } else {
    out(c, '[preflight] Skipping prepull. Not a control plane node.', '[upgrade] Skipping phase. Not a control plane node.')
  }

  writeKubeletConfig(c)
  out(c, '[upgrade] The configuration for this node was successfully updated!', '[upgrade] Now you should go ahead and upgrade the kubelet package using your package manager.')
  c.lab.log(`kubeadm upgrade node on ${c.vm.name}: v${version}`)
  return 0
}
