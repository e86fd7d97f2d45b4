/**
 * What every simulated kubeadm command shares: the call (session, VM, parsed argv), the lab's
 * services, reading the --config file from the VM and validating it as kubeadm does (warnings
 * printed the way kubeadm prints them, the fatal error with kubeadm's exit code), and the
 * preflight checks on the node's files, ports and packages.
 */
import path from 'node:path'

import {type KubeadmDocument, validateKubeadmConfig} from '../../kubeadm/validate.js'
import type {StubSession} from './agent.js'
import {flagList, flagString, type KubeadmCall} from './argv.js'
import type {LabClusters} from './clusters.js'
import type {LabStaticPods} from './static-pods.js'
import {ignoreErrors, klogWarning, plainError, type PreflightResult, preflightReport} from './output.js'
import {dirNotEmpty, installedVersion, type LabVm, unitEnabled} from './vm.js'
import {readVmFile, vmPathExists, vmReadable} from './vm-files.js'

export interface KubeadmLab {
  clusters: LabClusters
  /** Lifetime of the leaf certificates (kp lab up --cert-days). */
  certDays: number
  log: (line: string) => void
  /** The containers the kubelets run (etcd). */
  pods: LabStaticPods
  /** The kubelet registers its node now (as its first status post would), returning whether it did. */
  registerNode: (vm: LabVm) => Promise<boolean>
}

export interface Call {
  call: KubeadmCall
  lab: KubeadmLab
  session: StubSession
  /** The kubeadm binary's version (the stub package's). */
  version: string
  vm: LabVm
}

/** Thrown to end a command with kubeadm's exit code after its message was printed. */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`)
  }
}

export function fail(c: Call, text: string, code = 1): never {
  c.session.err(text)
  throw new Exit(code)
}

export const out = (c: Call, ...lines: string[]) => c.session.out(lines.map((l) => `${l}\n`).join(''))

export interface LoadedConfig {
  documents: KubeadmDocument[]
  find: (kind: string) => Record<string, unknown> | undefined
}

/** Where kubeadm prints each kind of warning from (for the klog line's source). */
const WARNING_SOURCE: Record<string, string> = {'deprecated-api': 'common.go:101', 'unknown-field': 'initconfiguration.go:333', 'wrong-type': 'initconfiguration.go:333'}

/** Reads and validates --config from the VM, as `kubeadm init|join --config` loads it. */
export function loadConfig(c: Call, command: 'init' | 'join'): LoadedConfig {
  const file = flagString(c.call, 'config') ?? ''
  const cwd = c.session.request.cwd
  const full = path.posix.resolve(path.posix.isAbsolute(cwd) ? cwd : '/', file)
  // kubeadm reads the file as the user who runs it, before any preflight check.
  const readable = vmReadable(c.vm.root, full, c.session.request.euid)
  const text = readable ? readVmFile(c.vm.root, full) : undefined
  if (text === undefined) {
    const why = !vmPathExists(c.vm.root, full) ? 'no such file or directory' : readable ? 'is a directory' : 'permission denied'
    fail(c, plainError(`unable to read config from ${JSON.stringify(file)} : open ${file}: ${why}`))
  }

  return validateConfig(c, command, text)
}

/** Validates a configuration as kubeadm loads it: warnings printed, the fatal error printed with kubeadm's exit code. */
export function validateConfig(c: Call, command: 'init' | 'join', text: string): LoadedConfig {
  const result = validateKubeadmConfig(text, {command, kubeadmVersion: c.version})
  for (const p of result.problems.filter((x) => x.severity === 'warning')) {
    if (p.code === 'ignored-document') out(c, p.message)
    else c.session.err(klogWarning(p.message, command === 'join' && p.code !== 'deprecated-api' ? 'joinconfiguration.go:115' : (WARNING_SOURCE[p.code] ?? 'common.go:101'), 1000 + c.vm.vmid))
  }

  if (!result.ok) {
    // kubeadm exits 3 for a validation aggregate (ValidationExitCode), 1 for everything else.
    const code = result.problems.some((p) => p.severity === 'error' && p.code === 'invalid-value') ? 3 : 1
    fail(c, plainError(result.error ?? 'invalid configuration'), code)
  }

  const find = (kind: string) => result.documents.find((d) => d.kind === kind)?.data
  return {documents: result.documents, find}
}

/** The checks's name for a path: `FileAvailable--etc-kubernetes-kubelet.conf`. */
const pathCheck = (kind: string, p: string) => `${kind}-${p.replaceAll('/', '-')}`

export function fileAvailable(vm: LabVm, file: string, result: PreflightResult): void {
  if (vmPathExists(vm.root, file)) result.errors.push({check: pathCheck('FileAvailable', file), message: `${file} already exists`})
}

export function portInUse(port: number, inUse: boolean, result: PreflightResult): void {
  if (inUse) result.errors.push({check: `Port-${port}`, message: `Port ${port} is in use`})
}

/** Whether the kubelet runs with a configuration (it serves 10250 then; without one it restarts in a loop). */
export function kubeletServing(vm: LabVm): boolean {
  return vm.serviceActive('kubelet.service') && vmPathExists(vm.root, '/etc/kubernetes/kubelet.conf')
}

/** Whether a static pod runs (its manifest is there and the kubelet runs): its ports are taken. */
export function staticPodRunning(vm: LabVm, component: string): boolean {
  return vm.serviceActive('kubelet.service') && vmPathExists(vm.root, `/etc/kubernetes/manifests/${component}.yaml`)
}

/** KubeletVersionCheck and the kubelet service check (checks.go). */
export function kubeletChecks(vm: LabVm, controlPlaneVersion: string | undefined, kubeadmVersion: string, result: PreflightResult): void {
  const kubelet = installedVersion(vm.root, 'kubelet')
  const [, kMinor = 0] = kubeadmVersion.split('.').map(Number)
  if (!kubelet) {
    result.errors.push({check: 'KubeletVersion', message: "couldn't get kubelet version: cannot execute 'kubelet --version': executable file not found in $PATH"})
  } else {
    const [, minor = 0] = kubelet.split('.').map(Number)
    if (minor < kMinor - 1) result.errors.push({check: 'KubeletVersion', message: `Kubelet version "${kubelet}" is lower than kubeadm can support. Please upgrade kubelet`})
    else if (controlPlaneVersion && minor > Number(controlPlaneVersion.split('.')[1])) {
      result.errors.push({check: 'KubeletVersion', message: `the kubelet version is higher than the control plane version. This is not a supported version skew and may lead to a malfunctional cluster. Kubelet version: "${kubelet}" Control plane version: "${controlPlaneVersion}"`})
    }
  }

  if (!unitEnabled(vm.root, 'kubelet.service')) result.warnings.push({check: 'Service-Kubelet', message: "kubelet service is not enabled, please run 'systemctl enable kubelet.service'"})
}

/** The control-plane checks of init and of a control-plane join. */
export function controlPlaneChecks(vm: LabVm, bindPort: number, result: PreflightResult): void {
  portInUse(bindPort, staticPodRunning(vm, 'kube-apiserver'), result)
  portInUse(10_259, staticPodRunning(vm, 'kube-scheduler'), result)
  portInUse(10_257, staticPodRunning(vm, 'kube-controller-manager'), result)
  for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd']) fileAvailable(vm, `/etc/kubernetes/manifests/${c}.yaml`, result)
}

export function etcdChecks(vm: LabVm, result: PreflightResult): void {
  portInUse(2379, staticPodRunning(vm, 'etcd'), result)
  portInUse(2380, staticPodRunning(vm, 'etcd'), result)
  if (dirNotEmpty(vm.root, '/var/lib/etcd')) result.errors.push({check: 'DirAvailable--var-lib-etcd', message: '/var/lib/etcd is not empty'})
}

/** The root check kubeadm runs alone, first. */
export function rootCheck(c: Call, phase = 'preflight'): void {
  if (c.session.request.euid !== 0) {
    const {error} = preflightReport({errors: [{check: 'IsPrivilegedUser', message: 'user is not running as root'}], warnings: []}, phase)
    fail(c, error!)
  }
}

/** Prints the warnings and stops on the errors left after --ignore-preflight-errors. */
export function finishPreflight(c: Call, result: PreflightResult, phase = 'preflight'): void {
  const report = preflightReport(ignoreErrors(result, flagList(c.call, 'ignore-preflight-errors')), phase)
  if (report.warnings) c.session.out(report.warnings)
  if (report.error) fail(c, report.error)
}
