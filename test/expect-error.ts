/** For unit tests: runs `run`, expects a SwitchyardError with `code`, and returns its message to match on. */
import { expect } from 'vitest';
import { type ErrorCode, isSwitchyardError } from '../src/errors.ts';

export function errorMessage(code: ErrorCode, run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(isSwitchyardError(error, code), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}
