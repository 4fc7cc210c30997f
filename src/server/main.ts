#!/usr/bin/env node
// Entry point: parse flags, start everything, stop cleanly on SIGTERM/SIGINT.
import { ConfigError, parseConfig, usage } from './config.ts';
import { createLogger, flushLogger } from './logger.ts';
import { withPodNamespace } from './pod-namespace.ts';
import { startServer } from './run.ts';

async function main(): Promise<number> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2), withPodNamespace(process.env));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n\nRun with --help for the flags.\n`);
      return 2;
    }
    throw error;
  }
  if (config.help) {
    process.stdout.write(usage());
    return 0;
  }
  const logger = createLogger(config.logLevel);
  let server;
  try {
    server = await startServer(config, logger);
  } catch (error) {
    logger.fatal(
      { err: error instanceof Error ? error.message : String(error) },
      'start-up failed',
    );
    await flushLogger(logger);
    return 1;
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down');
  // Past the grace period the kubelet kills us anyway; exit on our own terms first.
  const deadline = setTimeout(() => {
    logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out');
    void flushLogger(logger).then(() => process.exit(1));
  }, config.shutdownTimeoutMs);
  deadline.unref();
  await server.stop();
  logger.info('stopped');
  await flushLogger(logger);
  return 0;
}

process.exit(await main());
