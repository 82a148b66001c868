// The process end of a graceful shutdown: SIGTERM (or SIGINT) runs the shutdown once and exits; a second signal,
// or a shutdown that outlives its deadline, exits at once.
export function onShutdownSignal(
  shutdown: (signal: NodeJS.Signals) => Promise<void>,
  deadlineMs: number,
  log: (message: string) => void,
): void {
  let started = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (started) {
      log(`${signal} received again: exiting without waiting.`);
      process.exit(1);
    }
    started = true;
    const timer = setTimeout(() => {
      log(`The shutdown did not finish within ${deadlineMs} ms: exiting.`);
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        log(`The shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
