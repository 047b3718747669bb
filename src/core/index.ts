export { GatehouseError, isGatehouseError, toGatehouseError, type ErrorCode } from './errors.js';
export { createLogger, log, setLogScrubber, setLogSink, type Logger, type LogLevel } from './log.js';
export { gatehouseHome, ensureHome, type HomePaths } from './home.js';
export { rewriterStream, type ChunkRewriter } from './streams.js';
export type { CommandOutput } from './process-result.js';
export { rowMac, rowMacValid, type MacField } from './row-mac.js';
