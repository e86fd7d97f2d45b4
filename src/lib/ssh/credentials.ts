/**
 * What kp logs in with: the identity file (its passphrase asked once per run when it is
 * encrypted) and/or the agent. Resolved once per pool, before the first connection, so a bad key
 * fails fast with a clear message instead of as "all authentication methods failed".
 */
import {readFile} from 'node:fs/promises'

import {errorMessage} from '../errors.js'
import {registerSecret} from '../redact.js'
import {SshIdentityError} from './errors.js'
import type {Ssh2} from './load.js'
import type {SshPoolOptions} from './types.js'

export interface Credentials {
  agent?: string
  passphrase?: string
  privateKey?: Buffer
  /** For messages: what was offered to the server. */
  offered: string[]
}

export async function loadCredentials(ssh2: Ssh2, options: SshPoolOptions, env = process.env): Promise<Credentials> {
  const creds: Credentials = {offered: []}
  if (options.agent && env.SSH_AUTH_SOCK) {
    creds.agent = env.SSH_AUTH_SOCK
    creds.offered.push(`the agent at ${env.SSH_AUTH_SOCK}`)
  }

  if (options.identityFile) {
    const file = options.identityFile
    let data: Buffer
    try {
      data = await readFile(file)
    } catch (error) {
      throw new SshIdentityError(`cannot read the SSH identity file ${file}: ${errorMessage(error)}`, {hint: 'Check ssh.identityFile in kp.yaml.'})
    }

    let parsed = ssh2.utils.parseKey(data)
    if (parsed instanceof Error && /passphrase/i.test(parsed.message)) {
      if (!options.passphrase) {
        throw new SshIdentityError(`the SSH identity file ${file} is encrypted, and there is no terminal to ask for its passphrase`, {
          hint: `Load it into your agent ("ssh-add ${file}") and set ssh.agent: true in kp.yaml, or run kp on a terminal so it can ask.`,
        })
      }

      const passphrase = await options.passphrase()
      registerSecret(passphrase)
      parsed = ssh2.utils.parseKey(data, passphrase)
      if (parsed instanceof Error) throw new SshIdentityError(`cannot decrypt the SSH identity file ${file}: wrong passphrase?`, {hint: `Check it with "ssh-keygen -y -f ${file}".`})
      creds.passphrase = passphrase
    } else if (parsed instanceof Error) {
      throw new SshIdentityError(`the SSH identity file ${file} is not a private key kp can use: ${parsed.message}`, {hint: 'Point ssh.identityFile at a private key (OpenSSH or PEM format), not its .pub.'})
    }

    creds.privateKey = data
    creds.offered.push(`the key ${file}`)
  }

  if (creds.offered.length === 0) {
    throw new SshIdentityError('no SSH identity to log in with: ssh.identityFile is not set and no agent is available ($SSH_AUTH_SOCK is empty)', {
      hint: 'Set ssh.identityFile in kp.yaml, or start an agent with your key loaded.',
    })
  }

  return creds
}
