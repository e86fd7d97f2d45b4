/**
 * What kp needs to know of one certificate, read with node:crypto (no openssl on the laptop).
 */
import {X509Certificate} from 'node:crypto'

export interface CertificateInfo {
  subject: string
  issuer: string
  serialNumber: string
  notBefore: Date
  notAfter: Date
  /** DNS names and IP addresses, as `DNS:kubernetes`, `IP:10.96.0.1`. */
  sans: string[]
  fingerprint256: string
  /** The certificate itself, to check its chain against a CA. */
  x509: X509Certificate
}

const DAY_MS = 86_400_000

/** The first certificate of a PEM text (a file may hold the key too: only certificates are read). */
export function parseCertificate(pem: string | Buffer): CertificateInfo {
  const x509 = new X509Certificate(pem)
  return {
    fingerprint256: x509.fingerprint256,
    issuer: x509.issuer.replaceAll('\n', ', '),
    notAfter: new Date(x509.validTo),
    notBefore: new Date(x509.validFrom),
    sans: parseSans(x509.subjectAltName),
    serialNumber: x509.serialNumber,
    subject: x509.subject.replaceAll('\n', ', '),
    x509,
  }
}

/** node:crypto's subjectAltName text (`DNS:a, IP Address:10.0.0.1`) as `DNS:a`, `IP:10.0.0.1`. */
export function parseSans(text: string | undefined): string[] {
  if (!text) return []
  return text
    .split(/,\s*/)
    .map((s) => s.trim().replace(/^IP Address:/, 'IP:'))
    .filter(Boolean)
}

/** Signed by this CA: the issuer names it and its key verifies the signature. */
export function chainsTo(cert: CertificateInfo, ca: CertificateInfo): boolean {
  return cert.x509.checkIssued(ca.x509) && cert.x509.verify(ca.x509.publicKey)
}

/** Whole days left, negative once expired. */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS)
}
