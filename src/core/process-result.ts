/**
 * What running a command produced, wherever it ran (over SSH, in the sandbox): the tools return
 * these fields under the same names, so they are declared once.
 */
export interface CommandOutput {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** An output stream hit its cap and was cut. */
  truncated: boolean;
  durationMs: number;
}
