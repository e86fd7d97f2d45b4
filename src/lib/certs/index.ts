export * from './inventory.js'
export * from './remote.js'
export * from './served.js'
export * from './x509.js'
