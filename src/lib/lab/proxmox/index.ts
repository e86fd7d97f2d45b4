/**
 * The lab's simulated Proxmox VE API (see README.md beside this file for what it reproduces and how).
 */
export {type FakeProxmox, type FakeProxmoxOptions, type FakeProxmoxToken, implementedRoutes, type RequestLogEntry, startFakeProxmox} from './server.js'
export {type Faults, type ErrorFault, type LatencyFault, type TaskFailure, type CloneLockFault, type RouteSelector, seededRandom} from './faults.js'
export {MemoryBackend, type BackendCall, type MemoryVm} from './memory-backend.js'
export {ALL_PRIVILEGES, type TokenPrivileges} from './permissions.js'
export {checkRequestLog, findProperty, type LogProblem, matchPath, pveApiSchema, type RequestCheck, type RequestLike, validateParameters, validateRequest} from './schema.js'
export {decodeUpid, UPID_RE} from './tasks.js'
export type {StorageSpec} from './lab.js'
export type {TemplateSpec} from './vm-config.js'

/** The usual template of the lab: a Debian 12 cloud-init image as VM 9000. */
export const DEBIAN_TEMPLATE = {name: 'debian-12-cloudinit', vmid: 9000} as const
