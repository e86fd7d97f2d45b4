import {afterEach, describe, expect, it} from 'vitest'

import {clearSecretsForTests, redact, redactDeep, REDACTED, registerSecret} from '../../src/lib/redact.js'

afterEach(() => clearSecretsForTests())

// Characters JSON escapes: a redactor that searched the serialized JSON missed every one of them.
const SECRETS = ['pa"ss"word-1', 'back\\slash\\2', 'two\nlines-3', 'tab\there-4', 'mixed"\\\n-5']

describe('redactDeep', () => {
  it.for(SECRETS)('redacts %j wherever it stands in a value: strings, nested, in lists, in keys', (secret) => {
    registerSecret(secret)
    const value = {argv: ['--token', secret], error: {message: `auth failed for ${secret}!`}, n: 1, nested: {[secret]: true, deep: [{v: secret}]}, ok: null}

    const out = redactDeep(value)

    expect(JSON.stringify(out)).not.toContain(JSON.stringify(secret).slice(1, -1))
    expect(JSON.stringify(out)).not.toContain(secret)
    expect(out).toEqual({argv: ['--token', REDACTED], error: {message: `auth failed for ${REDACTED}!`}, n: 1, nested: {[REDACTED]: true, deep: [{v: REDACTED}]}, ok: null})
    // The input is left as it was.
    expect(value.argv[1]).toBe(secret)
  })

  it('keeps what JSON keeps: dates as text, undefined fields dropped, undefined list items as null', () => {
    registerSecret('s3cr3t-value')
    const out = redactDeep({at: new Date('2026-11-23T09:00:00.000Z'), gone: undefined, list: [undefined, 's3cr3t-value']})
    expect(out).toEqual({at: '2026-11-23T09:00:00.000Z', list: [null, REDACTED]})
  })
})

describe('redact', () => {
  it('also redacts the JSON-escaped form, as a quoted API answer holds it', () => {
    registerSecret('pa"ss\\word')
    expect(redact('answer: {"token":"pa\\"ss\\\\word"}')).toBe(`answer: {"token":"${REDACTED}"}`)
    expect(redact('plain pa"ss\\word')).toBe(`plain ${REDACTED}`)
  })
})
