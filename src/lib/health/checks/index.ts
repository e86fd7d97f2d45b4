/** Every check, in report order (names.ts holds the same order for flag parsing). */
import type {Check} from '../types.js'
import {apiCheck} from './api.js'
import {apiserverCertificateCheck} from './apiserver-certificate.js'
import {backupCheck} from './backup.js'
import {certificatesCheck} from './certificates.js'
import {csrsCheck} from './csrs.js'
import {etcdCheck} from './etcd.js'
import {kubeSystemCheck} from './kube-system.js'
import {nodeStateCheck} from './node-state.js'
import {nodesCheck} from './nodes.js'
import {pdbsCheck} from './pdbs.js'
import {proxmoxCheck} from './proxmox.js'
import {workloadsCheck} from './workloads.js'

export const CHECKS: readonly Check[] = [apiCheck, etcdCheck, nodesCheck, kubeSystemCheck, workloadsCheck, pdbsCheck, csrsCheck, apiserverCertificateCheck, proxmoxCheck, backupCheck, certificatesCheck, nodeStateCheck]
