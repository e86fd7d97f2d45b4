/**
 * The lab supervisor: the background process `kp lab up` starts (`kp lab supervise`, hidden). It
 * owns the lab network, the apt proxy, the package repository server and the Proxmox API, answers
 * the control socket, and tears everything down on SIGTERM or `POST /stop`. Its stdout and stderr go
 * to supervisor.log in the lab folder.
 */
import {chmodSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'

import {createLabHost, type VmFaults} from '../host/index.js'
import {addBridgeAddress} from '../host/system.js'
import {type FakeKube, startFakeKube} from '../kube/index.js'
import {LAB_ENDPOINT_IP, type LabKubeadm, type LabVmState, startLabKubeadm} from '../kubeadm/index.js'
import {startFakeProxmox, type FakeProxmox} from '../proxmox/index.js'
import {etcdClientCredentials, etcdClusterState} from '../kubeadm/etcd.js'
import type {FaultRequest, FaultResult, LabEtcdState, LabKubeState, LabState} from './control.js'
import {LAB_KUBE_PORT, LAB_PVE_NODE, LAB_PVE_PORT, LAB_SHARED_STORAGE, LAB_TEMPLATE_VMID, LAB_TOKEN_ID, labPaths} from './files.js'
import {LAB_HOST_IP} from './lab-config.js'
import {type Phase, type SupervisorStatus, writeStatus} from './status.js'

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`)

/** Proxmox node names of a lab with `count` nodes: pve, pve2, pve3… */
export function labPveNodes(count: number): string[] {
  return Array.from({length: count}, (_, i) => (i === 0 ? LAB_PVE_NODE : `${LAB_PVE_NODE}${i + 1}`))
}

export interface LabKubeOptions {
  /** Node names to register (the first is the control plane), with the demo workloads. */
  nodes: string[]
  version: string
}

export interface SuperviseOptions {
  /** Lifetime in days of the certificates the lab issues (kubeadm's leaves, API serving certificates); 365 by default. */
  certDays?: number
}

export async function superviseLab(dir: string, cluster: string, pveNodes = 1, kubeOptions?: LabKubeOptions, options: SuperviseOptions = {}): Promise<void> {
  const paths = labPaths(dir)
  const status: SupervisorStatus = {cluster, durations: {}, phase: 'starting', pid: process.pid, startedAt: new Date().toISOString()}
  const save = () => writeStatus(paths.status, status)
  save()
  const lab = createLabHost({stateDir: dir})
  let pve: FakeProxmox | undefined
  let kube: FakeKube | undefined
  let kubeadm: LabKubeadm | undefined
  let control: Server | undefined
  const certDays = options.certDays ?? 365
  let stopping: Promise<void> | undefined

  const stop = (exitCode: number) => {
    stopping ??= (async () => {
      log('stopping')
      status.phase = exitCode === 0 ? 'stopping' : 'failed'
      save()
      control?.close()
      await kubeadm?.close().catch((error: unknown) => log(`kubeadm close: ${String(error)}`))
      await pve?.close().catch((error: unknown) => log(`proxmox close: ${String(error)}`))
      await kube?.close().catch((error: unknown) => log(`kubernetes close: ${String(error)}`))
      const report = await lab.teardown()
      log(`torn down: ${report.processes} processes, ${report.mounts.length} mounts, ${report.netns.length} namespaces, ${report.links.length} links`)
      rmSync(paths.socket, {force: true})
      if (exitCode === 0) rmSync(paths.status, {force: true})
      process.exit(exitCode)
    })()
    return stopping
  }

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void stop(0))

  const phase = async <T>(name: Phase, fn: () => Promise<T>): Promise<T> => {
    status.phase = name
    save()
    log(`phase ${name}`)
    const started = Date.now()
    const result = await fn()
    status.durations[name] = Math.round((Date.now() - started) / 100) / 10
    return result
  }

  try {
    const secret = readFileSync(paths.tokenSecret, 'utf8').trim()
    await phase('network', async () => {
      await lab.startAptProxy()
      // The control-plane endpoint of the lab's kp.yaml: a virtual IP on the bridge, as a load
      // balancer or keepalived would hold in front of the control planes. It goes with the bridge.
      await addBridgeAddress(lab.options.network.bridge, LAB_ENDPOINT_IP)
    })
    await phase('image', () => lab.ensureImage())
    const repos = await phase('packages', () => lab.startRepoServer())
    pve = await phase('proxmox', () =>
      startFakeProxmox({
        backend: lab.backend,
        certDir: paths.pveCerts,
        host: LAB_HOST_IP,
        nodes: labPveNodes(pveNodes),
        port: LAB_PVE_PORT,
        stateFile: paths.pveState,
        // Node-local storage, and a shared one (NFS-like) that clones to another Proxmox node need.
        // The template lives on the shared one, as it must for cross-node clones.
        storage: ['local-lvm', {content: 'images,rootdir', id: LAB_SHARED_STORAGE, shared: true, type: 'nfs'}],
        templates: [{name: 'debian-12-cloudinit', node: LAB_PVE_NODE, storage: LAB_SHARED_STORAGE, vmid: LAB_TEMPLATE_VMID}],
        tokens: [{id: LAB_TOKEN_ID, secret}],
      }),
    )
    if (kubeOptions) kube = await phase('kubernetes', () => startLabKube(paths, kubeOptions, certDays))
    const fakePve = pve
    kubeadm = await startLabKubeadm({certDays, ...(kube ? {demo: kube} : {}), dir: path.join(dir, 'kubeadm'), host: LAB_HOST_IP, log, vms: () => labVms(lab, fakePve)})
    control = await listen(paths.socket, controlHandler(lab, pve, kubeadm, () => void stop(0)))
    Object.assign(status, {...(kube ? {kubeUrl: kube.url} : {}), apiUrl: pve.apiUrl, caPem: pve.caPem, fingerprint: pve.fingerprint, phase: 'ready', repoBaseUrl: repos.baseUrl, repoKeyFingerprint: repos.fingerprint})
    save()
    log(`ready: ${pve.apiUrl} (${pve.fingerprint})`)
  } catch (error) {
    status.message = error instanceof Error ? error.message : String(error)
    log(`failed: ${status.message}`)
    await stop(1)
  }
}

/**
 * The lab's Kubernetes API on the bridge address, with the VMs' names as nodes and demo workloads
 * (until kp bootstrap makes a real cluster), and an admin kubeconfig in the lab folder.
 */
async function startLabKube(paths: ReturnType<typeof labPaths>, options: LabKubeOptions, certDays: number): Promise<FakeKube> {
  const kube = await startFakeKube({
    certDir: paths.kube,
    gitVersion: `v${options.version}`,
    host: LAB_HOST_IP,
    port: LAB_KUBE_PORT,
    sans: [LAB_HOST_IP],
    servingCertificateDays: certDays,
    stateFile: path.join(paths.kube, 'state.json'),
  })
  // A restarted supervisor finds the cluster it kept in state.json: seeding again would duplicate it.
  if (kube.list('nodes').length === 0) kube.seedDemo({kubeletVersion: `v${options.version}`, nodes: options.nodes})
  await kube.writeKubeconfig(paths.kubeconfig)
  return kube
}

type Lab = ReturnType<typeof createLabHost>

/** The lab's VMs as the kubeadm simulation sees them: address, root, service state. */
function labVms(lab: Lab, pve: FakeProxmox): LabVmState[] {
  return pve.vms().filter((vm) => vm.config.template !== '1').map((vm) => {
    const init = lab.backend.initPid(vm.vmid)
    return {
      booted: lab.backend.booted(vm.vmid),
      ip: /(?:^|,)ip=([\d.]+)/.exec(vm.config.ipconfig0 ?? '')?.[1] ?? '',
      kubeletNotReady: lab.backend.kubeletHeldNotReady(vm.vmid),
      name: vm.config.name ?? `VM${vm.vmid}`,
      root: init === undefined ? '/nonexistent' : `/proc/${init}/root`,
      serviceActive: (unit: string) => lab.backend.serviceActive(vm.vmid, unit),
      vmid: vm.vmid,
    }
  })
}

/** The Kubernetes side of the lab state: every API server the lab runs (the demo one, kubeadm's). */
function kubeState(kubeadm: LabKubeadm | undefined): LabKubeState | undefined {
  if (!kubeadm) return undefined
  const kubes = kubeadm.kubelets.kubes()
  if (kubes.length === 0) return undefined
  return {faults: kubes[0]!.faults(), ...kubeadm.kubelets.state()}
}

/** The real etcd of each kubeadm cluster: members, health, leader (asked of the members themselves). */
async function etcdState(lab: Lab, pve: FakeProxmox, kubeadm: LabKubeadm | undefined): Promise<LabEtcdState | undefined> {
  if (!kubeadm) return undefined
  const running = kubeadm.clusters.all()
  const clusters = await Promise.all(running.map(async ({record}) => {
    try {
      return {name: record.name, ...(await etcdClusterState(record, await etcdClientCredentials(kubeadm.clusters.store.pkiDir(record.name))))}
    } catch (error) {
      log(`etcd state of ${record.name}: ${error instanceof Error ? error.message : String(error)}`)
      return {members: [], name: record.name}
    }
  }))
  const names = new Map(labVms(lab, pve).map((vm) => [vm.vmid, vm.name]))
  const down = [...kubeadm.pods.etcdDown].map((vmid) => names.get(vmid) ?? String(vmid)).sort()
  const wontStart = [...kubeadm.pods.controlPlane.wontStart].map((vmid) => names.get(vmid) ?? String(vmid)).sort()
  const upgradeFails = [...kubeadm.pods.controlPlane.upgradeFails].map((vmid) => names.get(vmid) ?? String(vmid)).sort()
  return clusters.length === 0 && down.length === 0
    ? undefined
    : {clusters, down, ...(wontStart.length > 0 ? {apiserverWontStart: wontStart} : {}), ...(upgradeFails.length > 0 ? {upgradeApplyFails: upgradeFails} : {})}
}

async function labStateWithEtcd(lab: Lab, pve: FakeProxmox, kubeadm?: LabKubeadm): Promise<LabState> {
  const etcd = await etcdState(lab, pve, kubeadm)
  return {...labState(lab, pve, kubeadm), ...(etcd ? {etcd} : {})}
}

function labState(lab: Lab, pve: FakeProxmox, kubeadm?: LabKubeadm): LabState {
  const vms = pve.vms().map((vm) => {
    const template = vm.config.template === '1'
    return {
      booted: !template && lab.backend.booted(vm.vmid),
      faults: template ? {} : withoutBootId(lab.backend.faults(vm.vmid)),
      ...(!template && lab.backend.kubeletHeldNotReady(vm.vmid) ? {kubeletNotReady: true} : {}),
      ip: /(?:^|,)ip=([\d.]+)/.exec(vm.config.ipconfig0 ?? '')?.[1],
      lock: vm.config.lock,
      name: vm.config.name ?? `VM${vm.vmid}`,
      node: vm.node,
      running: vm.running,
      template,
      vmid: vm.vmid,
    }
  })
  const kube = kubeState(kubeadm)
  return {faults: pve.faults(), ...(kube ? {kube} : {}), vms}
}

/** The boot a kubelet fault was armed in is bookkeeping, not a fault to show. */
function withoutBootId(faults: VmFaults): VmFaults {
  const {kubeletFaultBootId: _boot, ...shown} = faults
  return shown
}

async function applyFaults(lab: Lab, pve: FakeProxmox, kubeadm: LabKubeadm | undefined, request: FaultRequest): Promise<FaultResult> {
  if ((request.kube || request.kubelets) && !kubeState(kubeadm)) throw new Error('the lab runs no Kubernetes API (kp lab up --cluster, or kubeadm init on a lab VM)')
  if (request.kube) for (const k of kubeadm?.kubelets.kubes() ?? []) k.setFaults(request.kube)
  for (const [name, down] of Object.entries(request.kubelets ?? {})) kubeadm?.kubelets.set(name, down)
  for (const [vmid, down] of Object.entries(request.etcd ?? {})) {
    const vm = labVms(lab, pve).find((v) => v.vmid === Number(vmid))
    if (!vm || !kubeadm) throw new Error(`the lab has no VM ${vmid}`)
    kubeadm.pods.setDown(vm, down)
  }
  for (const [vmid, on] of Object.entries(request.apiserver ?? {})) {
    const vm = labVms(lab, pve).find((v) => v.vmid === Number(vmid))
    if (!vm || !kubeadm) throw new Error(`the lab has no VM ${vmid}`)
    kubeadm.pods.controlPlane.setWontStart(vm, on)
  }
  for (const [vmid, on] of Object.entries(request.upgradeApplyFails ?? {})) {
    if (!kubeadm) throw new Error(`the lab has no VM ${vmid}`)
    if (on) kubeadm.pods.controlPlane.upgradeFails.add(Number(vmid))
    else kubeadm.pods.controlPlane.upgradeFails.delete(Number(vmid))
  }
  if (request.proxmox) pve.setFaults({...request.proxmox, cloneLock: request.proxmox.cloneLock ?? pve.faults().cloneLock})
  for (const [vmid, faults] of Object.entries(request.vms ?? {})) await lab.setFault(Number(vmid), faults)
  const cutSessions: Record<string, number> = {}
  for (const vmid of request.dropSsh ?? []) cutSessions[vmid] = await lab.dropSshSessions(vmid)
  return {cutSessions, state: await labStateWithEtcd(lab, pve, kubeadm)}
}

function controlHandler(lab: Lab, pve: FakeProxmox, kubeadm: LabKubeadm | undefined, stop: () => void) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, {'content-type': 'application/json'})
      res.end(JSON.stringify(body))
    }

    try {
      if (req.method === 'GET' && req.url === '/status') return reply(200, {data: await labStateWithEtcd(lab, pve, kubeadm)})
      if (req.method === 'POST' && req.url === '/faults') return reply(200, {data: await applyFaults(lab, pve, kubeadm, (await readJson(req)) as FaultRequest)})
      if (req.method === 'POST' && req.url === '/stop') {
        reply(200, {data: {}})
        stop()
        return
      }

      reply(404, {error: `no such control call: ${req.method} ${req.url}`})
    } catch (error) {
      reply(400, {error: error instanceof Error ? error.message : String(error)})
    }
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
}

function listen(socket: string, handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<Server> {
  rmSync(socket, {force: true})
  const server = createServer((req, res) => void handler(req, res))
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(socket, () => {
      chmodSync(socket, 0o600)
      resolve(server)
    })
  })
}
