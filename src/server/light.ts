/**
 * The server module's second public face: its configuration alone, without the runtime, the MCP
 * SDK or the routes that ./index.ts loads. `gatehouse run` (a sandboxed program for a person at a
 * terminal) reads the configuration's sandbox profiles and nothing else, and starts ~0.5 s sooner
 * through this face. Other modules import either this file or ./index.ts, never another file of
 * src/server (test/structure/imports.test.ts checks it).
 */
export { loadConfig, defaultConfig, type GatehouseConfig } from './config.js';
