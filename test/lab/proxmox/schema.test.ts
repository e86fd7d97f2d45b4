import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  checkRequestLog,
  implementedRoutes,
  pveApiSchema,
  validateParameters,
  validateRequest,
} from '../../../src/lib/lab/proxmox/index.js'
import type {SchemaProp} from '../../../src/lib/lab/proxmox/formats.js'
import {call, startLab, type TestLab} from './helpers.js'

const UNKNOWN = 'property is not defined in schema and the schema does not allow additional properties'
const SAMPLE_UPID = 'UPID:pve1:0004A3F1:01B2C3D4:6741A2B0:qmclone:9000:kp@pve!automation:'

/** A value the real API accepts for a required parameter, by name or by schema. */
function sample(name: string, prop: SchemaProp): string {
  const byName: Record<string, string> = {
    disk: 'scsi0',
    file: '/etc/hostname',
    newid: '201',
    node: 'pve1',
    size: '+1G',
    snapname: 'before-upgrade',
    storage: 'local-lvm',
    target: 'pve1',
    type: prop.enum?.[0] ?? 'vm',
    upid: SAMPLE_UPID,
    vmid: '9000',
  }
  if (byName[name] !== undefined) return byName[name]
  if (prop.enum) return prop.enum[0] ?? ''
  if (prop.type === 'integer' || prop.type === 'number') return String(prop.minimum ?? 1)
  if (prop.type === 'boolean') return '1'
  return 'x'
}

function requiredParams(method: string, template: string): Record<string, string> {
  const properties = pveApiSchema().paths[template]?.[method]?.parameters?.properties ?? {}
  return Object.fromEntries(
    Object.entries(properties)
      .filter(([name, prop]) => !prop.optional && !name.endsWith('[n]'))
      .map(([name, prop]) => [name, sample(name, prop)]),
  )
}

function concretePath(template: string, params: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(params[name] ?? ''))
}

describe('the embedded schema', () => {
  it('is the reference schema in shared/, when that is at hand', () => {
    const reference = ['/work/shared/reference/pve-api-subset.json', path.resolve(import.meta.dirname, '../../../../shared/reference/pve-api-subset.json')].find((p) => existsSync(p))
    if (!reference) return
    expect(pveApiSchema()).toEqual(JSON.parse(readFileSync(reference, 'utf8')))
  })
})

describe('schema conformance of the implemented routes', () => {
  let lab: TestLab
  beforeAll(async () => {
    lab = await startLab()
  })
  afterAll(() => lab.server.close())

  const routes = implementedRoutes().map((route) => {
    const [method = '', template = ''] = route.split(' ')
    return {method, route, template}
  })

  it('implements every call kp needs', () => {
    for (const needed of [
      'GET /version', 'GET /nodes', 'GET /nodes/{node}/status', 'GET /cluster/resources', 'GET /cluster/nextid',
      'POST /nodes/{node}/qemu/{vmid}/clone', 'GET /nodes/{node}/qemu/{vmid}/config', 'POST /nodes/{node}/qemu/{vmid}/config',
      'PUT /nodes/{node}/qemu/{vmid}/config', 'GET /nodes/{node}/qemu/{vmid}/pending', 'PUT /nodes/{node}/qemu/{vmid}/resize',
      'POST /nodes/{node}/qemu/{vmid}/status/start', 'POST /nodes/{node}/qemu/{vmid}/status/shutdown',
      'POST /nodes/{node}/qemu/{vmid}/status/stop', 'POST /nodes/{node}/qemu/{vmid}/status/reboot',
      'GET /nodes/{node}/qemu/{vmid}/status/current', 'POST /nodes/{node}/qemu/{vmid}/agent/ping',
      'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces', 'GET /nodes/{node}/qemu/{vmid}/agent/file-read',
      'GET /nodes/{node}/qemu/{vmid}/snapshot', 'POST /nodes/{node}/qemu/{vmid}/snapshot',
      'DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}', 'POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback',
      'DELETE /nodes/{node}/qemu/{vmid}', 'GET /nodes/{node}/storage/{storage}/status', 'GET /access/permissions',
      'GET /nodes/{node}/tasks/{upid}/status', 'GET /nodes/{node}/tasks/{upid}/log',
    ]) {
      expect(implementedRoutes()).toContain(needed)
    }
  })

  it.each(routes)('$route exists with that method in pve-api-subset.json', ({method, template}) => {
    expect(pveApiSchema().paths[template]?.[method], `${method} ${template}`).toBeDefined()
  })

  it.each(routes)('$route accepts every required parameter', ({method, template}) => {
    const schema = pveApiSchema().paths[template]?.[method] ?? {}
    expect(validateParameters(schema, requiredParams(method, template))).toEqual({})
  })

  it.each(routes)('$route rejects an unknown parameter, over HTTP', async ({method, template}) => {
    const params = requiredParams(method, template)
    const pathParams = new Set([...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]))
    const rest = Object.fromEntries(Object.entries(params).filter(([name]) => !pathParams.has(name)))
    const answer = await call(lab.server, method, concretePath(template, params), {...rest, 'kp-bogus': 1})
    expect(answer.status).toBe(400)
    expect(answer.statusText).toBe('Parameter verification failed.')
    expect(answer.body).toEqual({data: null, errors: {'kp-bogus': UNKNOWN}})
  })
})

describe('parameter validation like PVE::JSONSchema', () => {
  const put = pveApiSchema().paths['/nodes/{node}/qemu/{vmid}/config']?.PUT ?? {}
  const base = {node: 'pve1', vmid: '201'}

  it('checks types, ranges and enums with the real messages', () => {
    expect(validateParameters(put, {...base, cores: 'abc'})).toEqual({cores: "type check ('integer') failed - got 'abc'"})
    expect(validateParameters(put, {...base, cores: '0'})).toEqual({cores: 'value must have a minimum value of 1'})
    expect(validateParameters(put, {...base, onboot: 'yes'})).toEqual({onboot: "type check ('boolean') failed - got 'yes'"})
    expect(validateParameters(put, {...base, ostype: 'linux'}).ostype).toMatch(/^value 'linux' does not have a value in the enumeration 'other, wxp/)
    // The format is checked before the range, as check_prop does.
    expect(validateParameters(put, {...base, vmid: '99'})).toEqual({vmid: 'invalid format - value does not look like a valid VM ID\n'})
    expect(validateParameters(put, {...base, balloon: '-1'})).toEqual({balloon: 'value must have a minimum value of 0'})
    expect(validateParameters(put, {...base, digest: 'a'.repeat(41)})).toEqual({digest: 'value may only be 40 characters long'})
    expect(validateParameters(put, {node: 'pve1'})).toEqual({vmid: 'property is missing and it is not optional'})
  })

  it('parses property strings: net[n], ipconfig[n], agent, memory', () => {
    expect(validateParameters(put, {...base, net0: 'virtio,bridge=vmbr0,tag=20', ipconfig0: 'ip=10.20.0.11/24,gw=10.20.0.1', agent: 'enabled=1', memory: '4096'})).toEqual({})
    expect(validateParameters(put, {...base, net0: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1'})).toEqual({})
    expect(validateParameters(put, {...base, net0: 'virtio,bridge=vmbr0,tag=5000'})).toEqual({
      net0: 'invalid format - format error\nnet0.tag: value must have a maximum value of 4094\n',
    })
    expect(validateParameters(put, {...base, net0: 'bridge=vmbr0'})).toEqual({net0: 'invalid format - format error\nnet0.model: property is missing and it is not optional\n'})
    expect(validateParameters(put, {...base, net0: 'virtio,bridge=vmbr0,vlan=20'})).toEqual({net0: 'invalid format - invalid key in comma-separated list property: vlan\n'})
    expect(validateParameters(put, {...base, ipconfig0: 'ip=10.20.0.11,gw=10.20.0.1'})).toEqual({
      ipconfig0: 'invalid format - format error\nipconfig0.ip: invalid format - value does not look like a valid ipv4 network configuration\n\n',
    })
    expect(validateParameters(put, {...base, ipconfig0: 'ip=dhcp'})).toEqual({})
  })

  it('knows how many of each [n] option there are', () => {
    expect(validateParameters(put, {...base, net31: 'virtio,bridge=vmbr0'})).toEqual({})
    expect(validateParameters(put, {...base, net32: 'virtio,bridge=vmbr0'})).toEqual({net32: UNKNOWN})
    expect(validateParameters(put, {...base, scsi30: 'local-lvm:8'})).toEqual({})
    expect(validateParameters(put, {...base, ide4: 'none,media=cdrom'})).toEqual({ide4: UNKNOWN})
  })

  it('wants sshkeys percent-encoded', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq2 ops@laptop'
    expect(validateParameters(put, {...base, sshkeys: encodeURIComponent(key)})).toEqual({})
    expect(validateParameters(put, {...base, sshkeys: key})).toEqual({sshkeys: `invalid format - invalid urlencoded string: ${key}\n`})
  })

  it('checks formats: pve-vmid, pve-node, pve-configid, pve-storage-id, tags', () => {
    const clone = pveApiSchema().paths['/nodes/{node}/qemu/{vmid}/clone']?.POST ?? {}
    expect(validateParameters(clone, {newid: '201', node: 'pve_1', vmid: '9000'})).toEqual({node: 'invalid format - value does not look like a valid node name\n'})
    expect(validateParameters(clone, {newid: '201', node: 'pve1', storage: 'local lvm', vmid: '9000'})).toEqual({storage: "invalid format - storage ID 'local lvm' contains illegal characters\n"})
    expect(validateParameters(clone, {name: 'cp_1', newid: '201', node: 'pve1', vmid: '9000'})).toEqual({name: 'invalid format - value does not look like a valid DNS name\n'})
    const snapshot = pveApiSchema().paths['/nodes/{node}/qemu/{vmid}/snapshot']?.POST ?? {}
    expect(validateParameters(snapshot, {node: 'pve1', snapname: '1st', vmid: '201'})).toEqual({snapname: "invalid format - invalid configuration ID '1st'\n"})
    expect(validateParameters(put, {...base, tags: 'k8s;control-plane'})).toEqual({})
    expect(validateParameters(put, {...base, tags: 'k8s;bad tag!'})).toEqual({tags: 'invalid format - invalid characters in tag\n'})
    expect(validateParameters(put, {...base, force: '1'})).toEqual({delete: "missing property - 'force' requires this property"})
  })

  it('checks a request, or a request log, against the schema', () => {
    expect(validateRequest({method: 'GET', params: {type: 'vm'}, path: '/api2/json/cluster/resources'})).toEqual({errors: {}, template: '/cluster/resources'})
    expect(validateRequest({method: 'POST', params: {}, path: '/nodes/pve1/qemu/201/agent/network-get-interfaces'}).problem).toBe('method not in schema')
    expect(validateRequest({method: 'GET', params: {}, path: '/nodes/pve1/lxc'}).problem).toBe('unknown path')
    const problems = checkRequestLog([
      {method: 'GET', params: {}, path: '/version'},
      {method: 'PUT', params: {cores: 'two'}, path: '/api2/json/nodes/pve1/qemu/201/config'},
    ])
    expect(problems).toEqual([
      {errors: {cores: "type check ('integer') failed - got 'two'"}, index: 1, method: 'PUT', path: '/api2/json/nodes/pve1/qemu/201/config', problem: 'parameters rejected', template: '/nodes/{node}/qemu/{vmid}/config'},
    ])
  })
})
