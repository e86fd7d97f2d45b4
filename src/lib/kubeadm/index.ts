/** kubeadm's configuration files: rendering them from kp.yaml, validating them as kubeadm does, their secrets. */
export * from './config.js'
export * from './secrets.js'
export * from './validate.js'
