/**
 * Finds the handler a plan step names: `apt`, `script`, `file`, `agent` (self-update) or
 * `custom:<name>`. An unknown, disabled or unconfigured handler is a REJECTED result with a reason,
 * never an exception.
 */
import { type AgentUpdateHandlerOptions, createAgentUpdateHandler } from './agent-update.js';
import { type AptHandlerOptions, createAptHandler } from './apt.js';
import { createCustomHandler, isCustomHandlerName } from './custom.js';
import { createFileHandler } from './file.js';
import type { HandlerResult, UpdateHandler } from './handler.js';
import { createScriptHandler } from './script.js';

export const BUILT_IN_HANDLERS = ['apt', 'script', 'file', 'agent'] as const;
export type BuiltInHandler = (typeof BUILT_IN_HANDLERS)[number];

export interface HandlerRegistryOptions {
  readonly aptOptions?: AptHandlerOptions;
  /** Install root and health check of the `agent` self-update handler; without it `agent` is not available. */
  readonly agentUpdate?: AgentUpdateHandlerOptions;
  /** Folder of the device's scripts (`script` handler); without it only `scriptFile` runs work. */
  readonly scriptsDir?: string;
  /** Folder of custom handler executables; without it `custom:*` is REJECTED. */
  readonly handlersDir?: string;
  /** Where the `file` handler may write. */
  readonly allowedRoots: readonly string[];
  /** Built-in handlers the agent may run (config `handlers.enabled`; default: all). */
  readonly enabled?: readonly string[];
  /** Default limit per script or custom handler run. */
  readonly timeoutMs?: number;
  /** Extra built-in handlers (e.g. `agent`), by name; they override the defaults. */
  readonly extra?: Readonly<Record<string, UpdateHandler>>;
}

export type HandlerLookup =
  | { readonly handler: UpdateHandler; readonly error?: undefined }
  | { readonly handler?: undefined; readonly error: HandlerResult & { readonly status: 'REJECTED' } };

export interface HandlerRegistry {
  lookup(name: string): HandlerLookup;
}

const reject = (reasonCode: string, reason: string): HandlerLookup => ({
  error: { status: 'REJECTED', reasonCode, reason },
});

export function createHandlerRegistry(options: HandlerRegistryOptions): HandlerRegistry {
  const enabled = new Set(options.enabled ?? BUILT_IN_HANDLERS);
  const timeouts = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  const builtIn: Record<string, UpdateHandler> = {
    apt: createAptHandler(options.aptOptions),
    script: createScriptHandler({
      ...(options.scriptsDir === undefined ? {} : { scriptsDir: options.scriptsDir }),
      ...timeouts,
    }),
    file: createFileHandler({ allowedRoots: options.allowedRoots }),
    // Self-update only where the agent was told where it is installed.
    ...(options.agentUpdate ? { agent: createAgentUpdateHandler(options.agentUpdate) } : {}),
    ...options.extra,
  };
  return {
    lookup(name) {
      if (typeof name !== 'string') return reject('UNKNOWN_HANDLER', 'the handler name is not a string');
      if (name.startsWith('custom:')) {
        const file = name.slice('custom:'.length);
        if (!isCustomHandlerName(file))
          return reject('INVALID_HANDLER_NAME', `${JSON.stringify(file)} is not a file name (no / or ..)`);
        if (options.handlersDir === undefined)
          return reject('HANDLER_NOT_CONFIGURED', `${name}: the agent has no handlers folder (handlers.dir)`);
        return { handler: createCustomHandler(file, { handlersDir: options.handlersDir, ...timeouts }) };
      }
      if (
        !(BUILT_IN_HANDLERS as readonly string[]).includes(name) &&
        !Object.hasOwn(options.extra ?? {}, name)
      )
        return reject('UNKNOWN_HANDLER', `unknown handler ${JSON.stringify(name)}`);
      if (!enabled.has(name))
        return reject('HANDLER_DISABLED', `the ${name} handler is not enabled on this device`);
      const handler = Object.hasOwn(builtIn, name) ? builtIn[name] : undefined;
      if (!handler)
        return reject('HANDLER_NOT_AVAILABLE', `the ${name} handler is not available in this agent`);
      return { handler };
    },
  };
}
