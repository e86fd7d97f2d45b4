export interface InterruptHandlers {
  first(signal: NodeJS.Signals): void
  second(signal: NodeJS.Signals): void
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/**
 * Ctrl-C, SIGTERM and a closed terminal all mean "stop where you are, cleanly". The first signal
 * asks the run to stop; a second one means now. Returns the function that stops listening.
 */
export function onInterrupt(handlers: InterruptHandlers): () => void {
  let count = 0
  const listener = (signal: NodeJS.Signals): void => {
    count += 1
    if (count === 1) handlers.first(signal)
    else handlers.second(signal)
  }

  for (const signal of SIGNALS) process.on(signal, listener)
  return () => {
    for (const signal of SIGNALS) process.off(signal, listener)
  }
}
