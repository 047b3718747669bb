/**
 * Options of each interpreter that take the next word as their value, so it is not the script:
 * one table for the rules that find an interpreter's script and for the stdin analysis that asks
 * whether it reads code from stdin (two copies had drifted apart).
 */
export const INTERPRETER_VALUE_OPTS: Record<string, readonly string[]> = {
  python: ['-W', '-X', '-Q'],
  node: [
    '-r',
    '--require',
    '--import',
    '--loader',
    '--experimental-loader',
    '-C',
    '--conditions',
    '--input-type',
    '--title',
    '--env-file',
    '--inspect-port',
    '--stack-size',
  ],
  perl: ['-I', '-M', '-m', '-x'],
  ruby: ['-I', '-r', '-C', '-E', '-F'],
  php: ['-c', '-d', '-z', '-t', '-S'],
  lua: ['-l'],
  Rscript: ['--default-packages'],
  pwsh: [
    '-ExecutionPolicy',
    '-WorkingDirectory',
    '-ConfigurationName',
    '-OutputFormat',
    '-InputFormat',
    '-WindowStyle',
  ],
};
