/**
 * The schema of kp.yaml: one zod schema gives the parsed type (`KpConfig`), the validation and the
 * JSON Schema (`kp config schema`). Objects are strict, so a misspelt key is an error rather than a
 * silently ignored setting. Rules that involve more than one section live in rules.ts.
 */
import {z} from 'zod'

import {splitCommandLine} from '../exec/argv.js'
import {DEFAULT_API_PORT, DEFAULT_KUBERNETES_REPO_BASE, SECRET_SOURCE_HELP} from './defaults.js'
import {DURATION_PATTERN, parseDuration} from './duration.js'
import {formatSubnet, ipv4ToInt, parseCidr} from './net.js'

const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/
const HOSTNAME = /^[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/
const ENDPOINT = /^(?<host>[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*)(?::(?<port>\d{1,5}))?$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const TOKEN_ID = /^[^\s@!:]+@[A-Za-z][A-Za-z0-9._-]*![A-Za-z][A-Za-z0-9._-]*$/
const FINGERPRINT = /^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/

export const ROLES = ['control-plane', 'worker'] as const
export const REBOOT_POLICIES = ['if-required', 'always', 'never'] as const

const dnsLabel = () =>
  z.string().regex(DNS_LABEL, {error: 'must be a DNS label: lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit'})
const ipv4 = () => z.ipv4({error: 'must be an IPv4 address like 192.168.10.21'})
/** The type error says "whole number"; bounds keep their own messages. */
const int = () => z.int({error: (issue) => (issue.code === 'invalid_type' ? 'must be a whole number' : undefined)})
const port = () => int().min(1).max(65_535)
const vmid = () => int().min(100, {error: 'Proxmox VMIDs start at 100'}).max(999_999_999)
const filePath = () => z.string().min(1, {error: 'must not be empty'})
/**
 * A URL that ends up in an apt sources line and a curl argument on every node: scheme, host (name,
 * IPv4 or [IPv6]), port and a plain path. Anything else — a space, a quote, `[trusted=yes]`,
 * `$(…)`, a newline, a query — is refused here rather than by the remote playbook.
 */
const APT_URL = /^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:\/[A-Za-z0-9._~%:+/-]*)?$/
const NO_CREDENTIALS = 'must not hold a user name or password (user:password@): kp would print it and write it to every node; use /etc/apt/auth.conf.d on the nodes'

/** user:password@ in a URL, even when the URL does not parse: it must never be accepted, hence printed. */
function hasCredentials(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(value)
}

const aptUrl = () =>
  z.string({error: 'must be an http(s):// URL'}).superRefine((value, ctx) => {
    if (hasCredentials(value)) ctx.addIssue({code: 'custom', message: NO_CREDENTIALS})
    else if (!/^https?:\/\//i.test(value)) ctx.addIssue({code: 'custom', message: 'must be an http(s):// URL'})
    else if (!APT_URL.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a plain http(s) URL: host, port and a path of letters, digits and . _ ~ % : + - / (no spaces, quotes, brackets, $, ?, # or newlines): it becomes a line of apt sources on every node',
      })
    }
  })
/** OpenPGP v4 fingerprint, as `gpg --show-keys` prints it (spaces between groups are fine). */
const OPENPGP_FINGERPRINT = /^[0-9A-Fa-f]{40}$/
const DURATION_ERROR = 'must be a duration like 90s, 10m or 1h30m'
const duration = () => z.string({error: DURATION_ERROR}).regex(new RegExp(DURATION_PATTERN), {error: DURATION_ERROR})

const cidr = () =>
  z.cidrv4({error: 'must be an IPv4 CIDR like 10.244.0.0/16'}).superRefine((value, ctx) => {
    const subnet = parseCidr(value)
    if (subnet && ipv4ToInt(value.split('/')[0]!) !== subnet.first) {
      ctx.addIssue({code: 'custom', message: `has host bits set: did you mean ${formatSubnet(subnet)}?`})
    }
  })

const envSource = z.strictObject({
  env: z.string().regex(ENV_NAME, {error: 'must be an environment variable name like PVE_TOKEN_SECRET'}).describe('Name of the environment variable that holds the secret.'),
}).meta({title: 'Secret from an environment variable'})

const fileSource = z.strictObject({
  file: filePath().describe("File that holds the secret, mode 0600 or stricter; relative to kp.yaml's folder. A trailing newline is ignored."),
}).meta({title: 'Secret from a file'})

const commandSource = z.strictObject({
  command: z
    .string()
    .superRefine((line, ctx) => {
      const split = splitCommandLine(line)
      if (!split.ok) ctx.addIssue({code: 'custom', message: split.error})
    })
    .describe("Command whose first line of output is the secret, run without a shell in kp.yaml's folder (30 s timeout), e.g. \"pass show pve/kp\"."),
}).meta({title: 'Secret from a command'})

export const SecretSourceSchema = z
  .union([envSource, fileSource, commandSource], {
    error: (issue) => (issue.input === undefined ? `required: where kp reads the secret, one of ${SECRET_SOURCE_HELP}` : `must be exactly one of ${SECRET_SOURCE_HELP}; secrets never live in kp.yaml itself`),
  })
  .describe(`Where kp reads a secret: ${SECRET_SOURCE_HELP}. Secrets never live in kp.yaml.`)

export type SecretSource = z.output<typeof SecretSourceSchema>

export const ClusterSchema = z
  .strictObject({
    cni: z
      .strictObject({
        manifest: z
          .string()
          .min(1, {error: 'must not be empty'})
          .superRefine((value, ctx) => {
            if (hasCredentials(value)) {
              ctx.addIssue({code: 'custom', message: 'must not hold a user name or password (user:password@): kp prints the URL in plans and logs'})
            } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !/^https:\/\/[^/\s]+\S*$/i.test(value)) {
              ctx.addIssue({code: 'custom', message: 'must be an https:// URL or a local file: it is applied with cluster-admin rights'})
            }
          })
          .describe("The CNI's manifest, applied after kubeadm init: an https:// URL or a file relative to kp.yaml's folder. Its pod CIDR must match podSubnet."),
      })
      .describe('The pod network add-on.'),
    controlPlaneEndpoint: z
      .string()
      .regex(ENDPOINT, {error: 'must be host[:port], like k8s.example.lan:6443 or 10.0.10.10'})
      .superRefine((value, ctx) => {
        const p = ENDPOINT.exec(value)?.groups?.port
        if (p !== undefined && (Number(p) < 1 || Number(p) > 65_535)) ctx.addIssue({code: 'custom', message: 'the port must be between 1 and 65535'})
      })
      .transform((value) => (ENDPOINT.exec(value)?.groups?.port ? value : `${value}:${DEFAULT_API_PORT}`))
      .describe(`host[:port] every node and client uses to reach the API server (kubeadm's controlPlaneEndpoint); port ${DEFAULT_API_PORT} when omitted. With several control planes, a load balancer or VIP.`),
    kubeconfig: filePath().optional().describe("Admin kubeconfig kp uses; default: the one kp bootstrap writes into the state dir. Relative to kp.yaml's folder."),
    kubernetesVersion: z
      .string()
      .regex(/^\d+\.\d+\.\d+$/, {error: 'must be a Kubernetes version X.Y.Z like 1.31.4 (no leading "v")'})
      .superRefine((value, ctx) => {
        const [major, minor] = value.split('.').map(Number)
        if (/^\d+\.\d+\.\d+$/.test(value) && (major !== 1 || (minor ?? 0) < 24)) ctx.addIssue({code: 'custom', message: 'must be 1.24.0 or newer: the Kubernetes package repositories (pkgs.k8s.io) start at 1.24'})
      })
      .describe('Kubernetes version the cluster runs (X.Y.Z). kp upgrade cluster moves it one minor at a time.'),
    name: dnsLabel().describe('Cluster name (a DNS label): names the state dir, the kubeconfig context and the lock.'),
    podSubnet: cidr().default('10.244.0.0/16').describe("Pod network CIDR (kubeadm's networking.podSubnet); must match the CNI."),
    serviceSubnet: cidr().default('10.96.0.0/12').describe("Service network CIDR (kubeadm's networking.serviceSubnet)."),
  })
  .meta({description: 'The Kubernetes cluster kubeadm builds.', title: 'cluster'})

export const ProxmoxSchema = z
  .strictObject({
    caFile: filePath().optional().describe("PEM CA bundle that signed the Proxmox API certificate; relative to kp.yaml's folder."),
    endpoint: z
      .string({error: 'must be an https:// URL like https://pve.example.lan:8006'})
      .superRefine((value, ctx) => {
        // Checked before the URL itself, so no message can carry the password.
        if (hasCredentials(value)) {
          ctx.addIssue({code: 'custom', message: 'must not hold a user name or password (user:password@): kp signs in with tokenId and tokenSecret'})
          return
        }

        const url = URL.canParse(value) ? new URL(value) : undefined
        if (!url || url.protocol !== 'https:' || /[\s"'\\]/.test(value)) {
          ctx.addIssue({code: 'custom', message: 'must be an https:// URL like https://pve.example.lan:8006'})
        } else if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
          ctx.addIssue({code: 'custom', message: `must be just scheme, host and port (like ${url.origin}); kp adds /api2/json itself`})
        }
      })
      .describe('Base URL of the Proxmox VE API, like https://pve.example.lan:8006.'),
    fingerprint: z
      .string()
      .regex(FINGERPRINT, {error: 'must be a SHA-256 fingerprint: 32 hex pairs separated by ":" (pvenode cert info shows it)'})
      .transform((s) => s.toUpperCase())
      .optional()
      .describe("SHA-256 fingerprint of the API's TLS certificate to pin (AB:CD:…, 32 pairs), for Proxmox's self-signed certificate."),
    fullClone: z.boolean().default(true).describe('Full clone (independent disk) rather than a linked clone of the template.'),
    insecureSkipTlsVerify: z.boolean().default(false).describe('Do not verify the API certificate at all. kp warns on every run; prefer fingerprint.'),
    node: z.string().regex(HOSTNAME, {error: 'must be a Proxmox node name like pve'}).describe('Default Proxmox node for the VMs (a node may override it with pveNode).'),
    pool: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, {error: 'must be a Proxmox pool id: letters, digits, ".", "_" and "-" (as pveum pool add accepts)'})
      .optional()
      .describe('Resource pool the VMs are put in.'),
    storage: z.string().regex(/^[A-Za-z][A-Za-z0-9._-]*$/, {error: 'must be a Proxmox storage id like local-lvm'}).default('local-lvm').describe('Storage for the cloned disks.'),
    templateVmid: vmid().describe('VMID of the cloud-init template the nodes are cloned from.'),
    tokenId: z.string().regex(TOKEN_ID, {error: 'must be an API token id USER@REALM!TOKENID, like kp@pve!kp'}).describe('API token id, USER@REALM!TOKENID.'),
    tokenSecret: SecretSourceSchema,
  })
  .superRefine((value, ctx) => {
    if (value.insecureSkipTlsVerify && (value.fingerprint || value.caFile)) {
      ctx.addIssue({code: 'custom', message: 'choose one: fingerprint/caFile verify the certificate, insecureSkipTlsVerify turns verification off', path: ['insecureSkipTlsVerify']})
    }
  })
  .meta({description: 'The Proxmox VE API that runs the VMs. Optional: without it kp manages the cluster but not its VMs.', title: 'proxmox'})

export const NetworkSchema = z
  .strictObject({
    bridge: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,14}$/, {error: 'must be a Linux bridge name like vmbr0'}).default('vmbr0').describe('Proxmox bridge the VMs are attached to.'),
    dns: z.array(ipv4()).min(1, {error: 'needs at least one DNS server'}).max(3, {error: 'at most 3 DNS servers (resolv.conf uses no more)'}).describe('DNS servers given to the nodes by cloud-init.'),
    gateway: ipv4().describe('Default gateway of the node network.'),
    prefix: int().min(1).max(32).describe('Prefix length of the node network (24 for a /24); the nodes and the gateway are in gateway/prefix.'),
    searchDomain: z.string().regex(HOSTNAME, {error: 'must be a domain like example.lan'}).optional().describe('DNS search domain given to the nodes.'),
    vlan: int().min(1).max(4094).optional().describe('VLAN tag of the VMs\' network interface.'),
  })
  .meta({description: 'The node network the VMs live on.', title: 'network'})

const SshSchema = z
  .strictObject({
    agent: z.boolean().default(true).describe('Use the SSH agent ($SSH_AUTH_SOCK) when it is there.'),
    identityFile: filePath().optional().describe("Private key file; relative to kp.yaml's folder, ~ is expanded."),
    jumpHost: z
      .strictObject({
        host: z.string().regex(HOSTNAME, {error: 'must be a host name or IPv4 address'}).describe('Host name or address of the jump host.'),
        port: port().default(22).describe('SSH port of the jump host.'),
        user: z.string().regex(UNIX_USER, {error: 'must be a user name'}).optional().describe('User on the jump host; default: ssh.user.'),
      })
      .optional()
      .describe('Bastion to go through, like ssh -J.'),
    knownHostsFile: filePath().optional().describe('OpenSSH known_hosts file kp checks and pins host keys in; default: known_hosts in the state dir.'),
    port: port().default(22).describe('SSH port of the nodes.'),
    user: z.string().regex(UNIX_USER, {error: 'must be a user name like debian'}).describe('Cloud-init user kp logs in as; it needs passwordless sudo.'),
  })
  .superRefine((value, ctx) => {
    if (!value.agent && !value.identityFile) ctx.addIssue({code: 'custom', message: 'no way to log in: set identityFile, or agent: true', path: ['identityFile']})
  })
  .meta({description: 'How kp reaches the nodes over SSH.', title: 'ssh'})

const PackagesSchema = z
  .strictObject({
    kubernetesKeyFingerprint: z
      .string()
      .transform((s) => s.replaceAll(/\s/g, '').toUpperCase())
      .refine((s) => OPENPGP_FINGERPRINT.test(s), {error: 'must be the OpenPGP fingerprint of the key: 40 hex digits, as gpg --show-keys prints it'})
      .optional()
      .describe('Fingerprint (40 hex digits) the signing key must have; every node checks the key it downloads against it before trusting it. Required when the key comes over http.'),
    kubernetesKeyUrl: aptUrl().optional().describe('Signing key of the repository; default: <kubernetesRepoBase>/v<minor>/deb/Release.key.'),
    kubernetesRepoBase: aptUrl()
      .transform((s) => s.replace(/\/+$/, ''))
      .default(DEFAULT_KUBERNETES_REPO_BASE)
      .describe('Base of the per-minor Kubernetes apt repositories; kp adds /v<minor>/deb/. Change it for a mirror or the lab.'),
  })
  .superRefine((value, ctx) => {
    // The key becomes a root trust anchor on every node: over plain http anyone on the path could
    // swap it, unless the node can check it against a fingerprint kp.yaml pins.
    const keyUrl = value.kubernetesKeyUrl ?? value.kubernetesRepoBase
    if (/^http:/i.test(keyUrl) && !value.kubernetesKeyFingerprint) {
      ctx.addIssue({
        code: 'custom',
        message: `the repository's signing key would come over plain http${value.kubernetesKeyUrl ? '' : ' (<kubernetesRepoBase>/v<minor>/deb/Release.key)'} and be trusted as root on every node: use https, or pin the key with packages.kubernetesKeyFingerprint (gpg --show-keys KEYFILE prints it)`,
        path: [value.kubernetesKeyUrl ? 'kubernetesKeyUrl' : 'kubernetesRepoBase'],
      })
    }
  })
  .meta({description: 'Where nodes get kubeadm, kubelet and kubectl.', title: 'packages'})

export const NodeSchema = z
  .strictObject({
    cores: int().min(1).max(512).default(2).describe('vCPUs.'),
    diskGiB: int().min(8).max(65_536).default(32).describe('Size of the root disk in GiB.'),
    ip: ipv4().describe('Static IPv4 address, inside network.gateway/network.prefix.'),
    memoryMiB: int().min(1024).max(4_194_304).default(4096).describe('Memory in MiB.'),
    name: dnsLabel().describe('Node and VM name (a DNS label); the Kubernetes node name.'),
    pveNode: z.string().regex(HOSTNAME, {error: 'must be a Proxmox node name'}).optional().describe('Proxmox node for this VM; default: proxmox.node.'),
    role: z.enum(ROLES, {error: `must be one of: ${ROLES.join(', ')}`}).describe('control-plane or worker.'),
    vmid: vmid().describe('Proxmox VMID of the node.'),
  })
  .meta({title: 'node'})

const MaintenanceSchema = z
  .strictObject({
    drainTimeout: duration()
      .refine((s) => parseDuration(s) !== 0, {error: 'must be longer than 0s'})
      .default('10m')
      .describe('How long a drain may take before it fails (a PodDisruptionBudget can block it).'),
    gracePeriod: duration().optional().describe("Termination grace period for evicted pods; default: each pod's own."),
    rebootPolicy: z.enum(REBOOT_POLICIES, {error: `must be one of: ${REBOOT_POLICIES.join(', ')}`}).default('if-required').describe('When kp node patch reboots: if-required (/var/run/reboot-required), always or never.'),
    snapshotBeforeMaintenance: z.boolean().default(true).describe('Take a Proxmox snapshot of the affected VMs before patch, upgrade and certificate rotation.'),
    snapshotKeep: int()
      .min(1)
      .default(3)
      .describe("How many of kp's own maintenance snapshots each VM keeps (the newest); older ones kp made are deleted, never another snapshot."),
  })
  .meta({description: 'How maintenance workflows behave.', title: 'maintenance'})

const HealthSchema = z
  .strictObject({
    certificateCriticalDays: int().min(0).default(7).describe('kp health is CRITICAL when a certificate expires within this many days.'),
    certificateWarnDays: int().min(1).default(30).describe('kp health is WARNING when a certificate expires within this many days.'),
    diskUsageCriticalPercent: int().min(1).max(100).default(90).describe('CRITICAL when a node filesystem is this full.'),
    diskUsageWarnPercent: int().min(1).max(100).default(80).describe('WARNING when a node filesystem is this full.'),
    podRestartWarn: int().min(1).default(5).describe('WARNING when a system pod restarted this many times.'),
  })
  .superRefine((value, ctx) => {
    if (value.certificateCriticalDays >= value.certificateWarnDays) {
      ctx.addIssue({code: 'custom', message: `must be smaller than certificateWarnDays (${value.certificateWarnDays})`, path: ['certificateCriticalDays']})
    }

    if (value.diskUsageCriticalPercent <= value.diskUsageWarnPercent) {
      ctx.addIssue({code: 'custom', message: `must be larger than diskUsageWarnPercent (${value.diskUsageWarnPercent})`, path: ['diskUsageCriticalPercent']})
    }
  })
  .meta({description: 'Thresholds of kp health.', title: 'health'})

const BackupSchema = z
  .strictObject({
    criticalAgeHours: int().min(1).default(50).describe('kp health is CRITICAL when the newest verified etcd backup is older than this many hours.'),
    keep: int().min(1).default(10).describe('How many of the backups kp wrote kp backup etcd keeps (the newest); older ones it wrote are deleted.'),
    warnAgeHours: int().min(1).default(26).describe('kp health is WARNING when the newest verified etcd backup is older than this many hours (26: a daily backup that missed one run).'),
  })
  .superRefine((value, ctx) => {
    if (value.criticalAgeHours <= value.warnAgeHours) {
      ctx.addIssue({code: 'custom', message: `must be larger than warnAgeHours (${value.warnAgeHours})`, path: ['criticalAgeHours']})
    }
  })
  .meta({description: 'etcd backups: kp backup etcd, and the backup check of kp health.', title: 'backup'})

export const KpConfigSchema = z
  .strictObject({
    backup: BackupSchema.prefault({}),
    cluster: ClusterSchema,
    health: HealthSchema.prefault({}),
    maintenance: MaintenanceSchema.prefault({}),
    network: NetworkSchema,
    nodes: z.array(NodeSchema).min(1, {error: 'needs at least one node'}).describe('The VMs of the cluster, control planes and workers.'),
    packages: PackagesSchema.prefault({}),
    proxmox: ProxmoxSchema.optional(),
    ssh: SshSchema,
  })
  .meta({description: 'One kubeadm cluster on Proxmox VMs, as kp manages it.', title: 'kp.yaml'})

/** kp.yaml after parsing: defaults filled in, the endpoint has its port. */
export type KpConfig = z.output<typeof KpConfigSchema>
/** kp.yaml as written: what `kp config init` builds. */
export type KpConfigInput = z.input<typeof KpConfigSchema>
export type NodeConfig = z.output<typeof NodeSchema>
export type NodeRole = (typeof ROLES)[number]
export type ClusterConfig = KpConfig['cluster']
export type NetworkConfig = KpConfig['network']
export type ProxmoxConfig = NonNullable<KpConfig['proxmox']>
export type SshConfig = KpConfig['ssh']
export type MaintenanceConfig = KpConfig['maintenance']
export type HealthConfig = KpConfig['health']
export type BackupConfig = KpConfig['backup']
export type PackagesConfig = KpConfig['packages']
