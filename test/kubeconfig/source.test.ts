import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {ConfigError} from '../../src/lib/errors.js'
import {readAdminKubeconfig} from '../../src/lib/kubeconfig/source.js'
import {tempDir} from '../helpers/cli.js'

function admin(text: string, configured = false) {
  const dir = tempDir('kp-admin-')
  const file = path.join(dir, 'admin.conf')
  writeFileSync(file, text)
  return {dir, read: () => readAdminKubeconfig({cluster: 'testlab', configured, file})}
}

describe('readAdminKubeconfig', () => {
  it('takes the current context\'s cluster and user, making relative file paths absolute', async () => {
    const {dir, read} = admin(`apiVersion: v1
kind: Config
clusters:
- {name: other, cluster: {server: https://other:6443}}
- {name: k, cluster: {server: https://10.77.0.11:6443, certificate-authority: pki/ca.crt}}
users:
- {name: u, user: {client-certificate: /abs/admin.crt, client-key: pki/admin.key}}
contexts:
- {name: c, context: {cluster: k, user: u, namespace: kube-system}}
- {name: d, context: {cluster: other, user: u}}
current-context: c
`)
    expect(await read()).toEqual({
      cluster: {'certificate-authority': path.join(dir, 'pki', 'ca.crt'), server: 'https://10.77.0.11:6443'},
      context: 'c',
      file: path.join(dir, 'admin.conf'),
      namespace: 'kube-system',
      server: 'https://10.77.0.11:6443',
      user: {'client-certificate': '/abs/admin.crt', 'client-key': path.join(dir, 'pki', 'admin.key')},
    })
  })

  it('a single context serves without current-context', async () => {
    const {read} = admin('contexts: [{name: only, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: "https://x:6443"}}]\nusers: [{name: u, user: {token: t}}]\n')
    expect(await read()).toMatchObject({context: 'only', server: 'https://x:6443'})
  })

  it.each([
    ['no context', 'apiVersion: v1\nkind: Config\n', 'it has no context'],
    ['several contexts, none current', 'contexts: [{name: a, context: {}}, {name: b, context: {}}]\n', 'it has several contexts and no current-context'],
    ['a dangling current-context', 'contexts: [{name: a, context: {}}]\ncurrent-context: b\n', 'its current-context "b" is not among its contexts'],
    ['a missing cluster', 'contexts: [{name: a, context: {cluster: k, user: u}}]\n', 'context "a" names cluster "k", which it does not define'],
    ['not a kubeconfig', 'kind: Pod\n', 'it has kind: Pod, not kind: Config'],
  ])('%s: a ConfigError naming the file', async (_name, text, why) => {
    const {dir, read} = admin(text)
    await expect(read()).rejects.toThrow(ConfigError)
    await expect(read()).rejects.toThrow(`${path.join(dir, 'admin.conf')} is not a usable kubeconfig: ${why}`)
  })

  it('a missing cluster.kubeconfig names the setting', async () => {
    await expect(readAdminKubeconfig({cluster: 'testlab', configured: true, file: '/nowhere/kubeconfig'})).rejects.toThrow('cluster.kubeconfig in kp.yaml names /nowhere/kubeconfig, which does not exist')
  })
})
