export { GatehouseError, isGatehouseError, toGatehouseError, type ErrorCode } from './errors.js';
export { createLogger, log, setLogScrubber, setLogSink, type Logger, type LogLevel } from './log.js';
export { gatehouseHome, ensureHome, type HomePaths } from './home.js';
export { rewriterStream, type ChunkRewriter } from './streams.js';
export type { CommandOutput } from './process-result.js';
export { rowMac, rowMacValid, type MacField } from './row-mac.js';
export { HTTP_STATUS, httpStatusOf, isErrorCode } from './errors.js';
export {
  EXEC_ENV,
  EXEC_ENV_VERDICT,
  execEnvEntry,
  execEnvVerdict,
  isExecEnvName,
  type ExecEnvClass,
  type ExecEnvEntry,
  type ExecEnvVerdict,
} from './exec-env.js';
export { REDACTED, TRUNCATION_MARKER, cutText, truncateText } from './text.js';
export { MetricsRegistry, Counter, Histogram, type GaugeSample } from './metrics.js';
export { BoundedLru } from './lru.js';
export { type FlushableRewriter, type TextRewriter } from './streams.js';
export type { OutputScrub } from './output-scrub.js';
export {
  declaredCharsets,
  isBinaryMedia,
  isGraphqlMedia,
  isJsonMedia,
  isMultipartForm,
  isNdjsonMedia,
  isTextResponseMedia,
  isTextualRequestMedia,
  mediaParams,
  mediaTypeOf,
  type MediaType,
} from './media-type.js';
export { parseDuration, pointInTime } from './duration.js';
export { TokenBuckets, type Rate } from './token-bucket.js';
