/**
 * The questions of `kp config init`, which are also its flags. Plain data with no heavy imports, so
 * the command can build its flags from it without loading zod or yaml for --help.
 */
import type {PathSegment} from './problems.js'
import {DEFAULT_API_PORT, DEFAULT_CNI_MANIFEST, DEFAULT_TOKEN_SECRET_ENV} from './defaults.js'

export type AnswerValue = number | string | undefined
export type Answers = Record<string, AnswerValue>

export interface InitField {
  /** Interactive runs use the default without asking; a flag still overrides it. */
  advanced?: boolean
  default?: (a: Answers) => AnswerValue
  flag: string
  /** Shown in --help when the default depends on other answers. */
  defaultHelp?: string
  /** Where the answer ends up, to validate it and to name it in messages. */
  key: PathSegment[]
  kind: 'int' | 'list' | 'string'
  message: string
  proxmox?: boolean
  required?: (a: Answers) => boolean
}

const always = () => true

/** Every question, in the order they are asked. Flags of `kp config init` have the same names. */
export const INIT_FIELDS: readonly InitField[] = [
  {flag: 'name', key: ['cluster', 'name'], kind: 'string', message: 'Cluster name (a DNS label)', required: always},
  {flag: 'kubernetes-version', key: ['cluster', 'kubernetesVersion'], kind: 'string', message: 'Kubernetes version (X.Y.Z)', required: always},
  {default: () => 1, flag: 'control-planes', key: [], kind: 'int', message: 'Number of control-plane nodes (1, 3 or 5)'},
  {default: () => 2, flag: 'workers', key: [], kind: 'int', message: 'Number of worker nodes'},
  {flag: 'first-vmid', key: ['nodes', 0, 'vmid'], kind: 'int', message: 'VMID of the first node (the others follow)', required: always},
  {flag: 'first-ip', key: ['nodes', 0, 'ip'], kind: 'string', message: 'IPv4 address of the first node (the others follow)', required: always},
  {flag: 'gateway', key: ['network', 'gateway'], kind: 'string', message: 'Gateway of the node network', required: always},
  {default: () => 24, flag: 'prefix', key: ['network', 'prefix'], kind: 'int', message: 'Prefix length of the node network'},
  {
    default: (a) => (a['control-planes'] === 1 && a['first-ip'] ? `${a['first-ip']}:${DEFAULT_API_PORT}` : undefined),
    defaultHelp: `<first-ip>:${DEFAULT_API_PORT} with one control plane`,
    flag: 'endpoint',
    key: ['cluster', 'controlPlaneEndpoint'],
    kind: 'string',
    message: 'Control-plane endpoint host[:port] (a load balancer or VIP with several control planes)',
    required: (a) => a['control-planes'] !== 1,
  },
  {default: (a) => a.gateway, defaultHelp: 'the gateway', flag: 'dns', key: ['network', 'dns'], kind: 'list', message: 'DNS servers (comma-separated)'},
  {advanced: true, flag: 'search-domain', key: ['network', 'searchDomain'], kind: 'string', message: 'DNS search domain'},
  {advanced: true, default: () => 'vmbr0', flag: 'bridge', key: ['network', 'bridge'], kind: 'string', message: 'Proxmox bridge'},
  {flag: 'vlan', key: ['network', 'vlan'], kind: 'int', message: 'VLAN tag (empty: none)'},
  {advanced: true, default: () => '10.244.0.0/16', flag: 'pod-subnet', key: ['cluster', 'podSubnet'], kind: 'string', message: 'Pod subnet'},
  {advanced: true, default: () => '10.96.0.0/12', flag: 'service-subnet', key: ['cluster', 'serviceSubnet'], kind: 'string', message: 'Service subnet'},
  {advanced: true, default: () => DEFAULT_CNI_MANIFEST, flag: 'cni-manifest', key: ['cluster', 'cni', 'manifest'], kind: 'string', message: 'CNI manifest (https URL or file)'},
  {flag: 'ssh-user', key: ['ssh', 'user'], kind: 'string', message: 'SSH user on the nodes (the cloud-init user)', required: always},
  {flag: 'identity-file', key: ['ssh', 'identityFile'], kind: 'string', message: 'SSH private key file (empty: the SSH agent only)'},
  {flag: 'proxmox-endpoint', key: ['proxmox', 'endpoint'], kind: 'string', message: 'Proxmox API URL, like https://pve.example.lan:8006', proxmox: true, required: always},
  {flag: 'pve-node', key: ['proxmox', 'node'], kind: 'string', message: 'Proxmox node', proxmox: true, required: always},
  {flag: 'token-id', key: ['proxmox', 'tokenId'], kind: 'string', message: 'API token id (USER@REALM!TOKENID)', proxmox: true, required: always},
  {default: () => DEFAULT_TOKEN_SECRET_ENV, flag: 'token-secret-env', key: ['proxmox', 'tokenSecret', 'env'], kind: 'string', message: 'Environment variable that will hold the token secret', proxmox: true},
  {flag: 'template-vmid', key: ['proxmox', 'templateVmid'], kind: 'int', message: 'VMID of the cloud-init template', proxmox: true, required: always},
  {advanced: true, default: () => 'local-lvm', flag: 'storage', key: ['proxmox', 'storage'], kind: 'string', message: 'Storage for the VM disks', proxmox: true},
  {flag: 'fingerprint', key: ['proxmox', 'fingerprint'], kind: 'string', message: 'SHA-256 fingerprint of the API certificate (empty: trust the system CAs)', proxmox: true},
]

