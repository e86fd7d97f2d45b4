/**
 * Reads certificates off a node in one SSH command. Only certificate blocks come back: the kubelet's
 * current PEM and every kubeconfig also hold a private key, which must never leave the node (nor
 * reach kp's log), so the node itself cuts the certificates out before printing.
 */
import type {SshSession} from '../ssh/index.js'
import {parseCertificate, type CertificateInfo} from './x509.js'

export type ReadResult = {missing: true} | {error: string} | {certificate: CertificateInfo}

const MARK = '=== kp-cert '

// kubeconfigs: the embedded client certificate (a file reference is followed); anything else: its
// certificate blocks. `$1` of the loop is the path; nothing but certificates is printed.
export const READ_SCRIPT = `for f in "$@"; do
  printf '${MARK}%s\\n' "$f"
  if [ ! -e "$f" ]; then echo MISSING; continue; fi
  case "$f" in
    *.conf)
      data=$(sed -n 's/^[[:space:]]*client-certificate-data:[[:space:]]*//p' "$f" | head -n 1)
      if [ -n "$data" ]; then printf '%s' "$data" | base64 -d
      else ref=$(sed -n 's/^[[:space:]]*client-certificate:[[:space:]]*//p' "$f" | head -n 1)
        [ -n "$ref" ] && [ -e "$ref" ] && sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$ref"
      fi ;;
    *) sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$f" ;;
  esac
done`

/** Splits READ_SCRIPT's output into path → certificate (or missing, or why it could not be read). */
export function parseReadOutput(stdout: string): Map<string, ReadResult> {
  const found = new Map<string, ReadResult>()
  for (const part of stdout.split(MARK).slice(1)) {
    const newline = part.indexOf('\n')
    const file = part.slice(0, newline)
    const body = part.slice(newline + 1)
    if (body.trim() === 'MISSING') {
      found.set(file, {missing: true})
      continue
    }

    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(body)?.[0]
    if (!pem) {
      found.set(file, {error: 'holds no certificate'})
      continue
    }

    try {
      found.set(file, {certificate: parseCertificate(pem)})
    } catch (error) {
      found.set(file, {error: `is not a certificate kp can read (${error instanceof Error ? error.message : String(error)})`})
    }
  }

  return found
}

/** Reads these files (as root) on the node behind the session, one command for all. */
export async function readCertificates(session: SshSession, paths: readonly string[], signal?: AbortSignal): Promise<Map<string, ReadResult>> {
  const {stdout} = await session.exec(['sh', '-c', READ_SCRIPT, 'kp-certs', ...paths], {idempotent: true, signal, sudo: true})
  return parseReadOutput(stdout)
}
