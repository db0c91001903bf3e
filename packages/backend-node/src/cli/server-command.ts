import type { CommandIo } from './generate-command.js';

/** The part of `@latentkit/server` the CLI uses (typed here: backend-node does not depend on the server). */
interface ServerModule {
  runServerCli(argv: readonly string[], io: Pick<CommandIo, 'stdout' | 'stderr'>): Promise<number>;
}

/**
 * Runs `latentkit serve …` / `latentkit worker …` (`argv` starts with the command) with
 * `@latentkit/server`, imported only now, by a name the bundler leaves alone: backend-node does not depend
 * on the server package, which is installed beside it when wanted. Resolves with the exit code.
 */
export async function runServerCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const name = '@latentkit/server';
  let server: ServerModule;
  try {
    server = (await import(name)) as ServerModule;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    // Only the server package itself (not a module it imports) being absent gets this message.
    if (missing && error instanceof Error && error.message.includes(`'${name}'`)) {
      io.stderr.write(
        `latentkit: \`latentkit ${argv[0]}\` needs the @latentkit/server package, which is not installed. Fix: npm install @latentkit/server (beside @latentkit/backend-node).\n`,
      );
      return 1;
    }
    throw error;
  }
  return server.runServerCli(argv, io);
}
