// Types of scripts/test-groups.mjs, for its test (test/unit/test-groups.test.ts).
export interface TestProcess {
  files: string[];
  seconds: number;
  /** Imported as it is, not in a suite (it awaits at its top level). */
  plain?: true;
}
export const LONG: number;
export const GROUP_SECONDS: number;
export const UNTIMED: number;
export function ownProcessReason(file: string, text: string, seconds: number | undefined): string | undefined;
export function planProcesses(
  files: string[],
  seconds: Record<string, number>,
  text: (file: string) => string,
): TestProcess[];
export function writeEntries(processes: TestProcess[], dir: string): string[];
export function readText(file: string): string;
