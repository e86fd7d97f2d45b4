import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {NotAKubeconfigError} from '../../src/lib/kubeconfig/document.js'
import {kpNames, mergeKubeconfig} from '../../src/lib/kubeconfig/merge.js'

const names = kpNames('homelab')
const admin = {cluster: {'certificate-authority-data': 'Q0EK', server: 'https://10.77.0.11:6443'}, user: {'client-certificate-data': 'Q0VSVAo=', 'client-key-data': 'S0VZCg=='}}

const USER_FILE = `# my clusters; kp must keep this comment
apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- cluster:
    server: https://work.example:6443
  name: work # the office
- cluster:
    server: https://old.example:6443
  name: kp-homelab
contexts:
- context:
    cluster: work
    namespace: team
    user: me
  name: work
users:
- name: me
  user:
    token: abc
current-context: work
extensions:
- name: my-extension
  extension: {anything: 1}
`

describe('mergeKubeconfig', () => {
  it('into nothing: a complete kubeconfig whose current context is kp-<cluster>', () => {
    const out = mergeKubeconfig(undefined, names, admin)
    const config = parse(out.text) as Record<string, unknown>
    expect(out).toMatchObject({changed: true, currentContext: 'kp-homelab', replaced: false})
    expect(config).toMatchObject({
      apiVersion: 'v1',
      clusters: [{cluster: admin.cluster, name: 'kp-homelab'}],
      contexts: [{context: {cluster: 'kp-homelab', user: 'kp-homelab-admin'}, name: 'kp-homelab'}],
      'current-context': 'kp-homelab',
      kind: 'Config',
      users: [{name: 'kp-homelab-admin', user: admin.user}],
    })
  })

  it('replaces a stale entry of its names and keeps everything else, comments included', () => {
    const out = mergeKubeconfig(USER_FILE, names, admin)
    const config = parse(out.text) as {clusters: Array<{cluster: {server: string}; name: string}>; [k: string]: unknown}
    expect(out).toMatchObject({changed: true, currentContext: 'work', previousContext: 'work', replaced: true})
    expect(config.clusters).toEqual([{cluster: {server: 'https://work.example:6443'}, name: 'work'}, {cluster: admin.cluster, name: 'kp-homelab'}])
    expect(config['current-context']).toBe('work')
    expect(config.preferences).toEqual({colors: true})
    expect(config.extensions).toEqual([{extension: {anything: 1}, name: 'my-extension'}])
    expect(out.text).toContain('# my clusters; kp must keep this comment')
    expect(out.text).toContain('name: work # the office')
    expect(out.text).not.toContain('old.example')
  })

  it('a second merge changes nothing, byte for byte', () => {
    const first = mergeKubeconfig(USER_FILE, names, admin)
    const second = mergeKubeconfig(first.text, names, admin)
    expect(second).toMatchObject({changed: false, replaced: false})
    expect(second.text).toBe(first.text)
  })

  it('--use-context switches the current context; a file without one gets it anyway', () => {
    expect(mergeKubeconfig(USER_FILE, names, admin, {useContext: true})).toMatchObject({currentContext: 'kp-homelab', previousContext: 'work'})
    expect(mergeKubeconfig('apiVersion: v1\nkind: Config\ncurrent-context: ""\n', names, admin).currentContext).toBe('kp-homelab')
  })

  it('removes duplicates of its names, and takes an empty or comment-only file as empty', () => {
    const dup = 'users:\n- name: kp-homelab-admin\n  user: {token: a}\n- name: kp-homelab-admin\n  user: {token: b}\n'
    const users = (parse(mergeKubeconfig(dup, names, admin).text) as {users: unknown[]}).users
    expect(users).toEqual([{name: 'kp-homelab-admin', user: admin.user}])
    const commented = mergeKubeconfig('# nothing yet\n', names, admin)
    expect(commented.text).toContain('# nothing yet')
    expect(parse(commented.text)).toMatchObject({'current-context': 'kp-homelab', kind: 'Config'})
    expect(mergeKubeconfig('', names, admin).changed).toBe(true)
  })

  it.each([
    ['bad YAML', 'clusters: [\n', /YAML syntax error at line 2/],
    ['a list', '- a\n- b\n', /a YAML list, not a mapping/],
    ['another kind', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n', /kind: Pod, not kind: Config/],
    ['another apiVersion', 'apiVersion: v2\nkind: Config\n', /apiVersion: v2/],
    ['clusters not a list', 'clusters: {a: 1}\n', /clusters is not a list/],
    ['an entry without a name', 'contexts:\n- context: {cluster: a}\n', /contexts\[0\] has no name/],
    ['two documents', 'kind: Config\n---\nkind: Config\n', /2 YAML documents/],
    ['duplicate keys', 'kind: Config\nkind: Config\n', /YAML syntax error/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => mergeKubeconfig(text, names, admin)).toThrow(NotAKubeconfigError)
    expect(() => mergeKubeconfig(text, names, admin)).toThrow(message)
  })
})
