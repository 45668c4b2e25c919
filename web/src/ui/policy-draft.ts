/**
 * The policy editor's draft: the fields a policy version holds, as the form edits them (conditions one per line),
 * the body the API takes, and live validation of each condition (POST /policies/validate, debounced, cached per
 * expression) answering line:column for the draft's own lines.
 */
import { useEffect, useState } from 'react';
import { useQueries } from '@tanstack/react-query';
import { api } from '../api.ts';
import type { ExpressionCheck, Policy } from '../schemas.ts';

export interface Draft {
  description: string;
  pass: string;
  fail: string;
  approverCount: number;
  allowRequestFromApprove: boolean;
  allowImageBuilderFromApprove: boolean;
  allowApproverFromDeploy: boolean;
  allowSkipStages: boolean;
}

export const FLAGS = [
  ['allowRequestFromApprove', 'the requester may approve their own request'],
  ['allowImageBuilderFromApprove', 'whoever built the image may approve it'],
  ['allowApproverFromDeploy', 'an approver may deploy what they approved'],
  ['allowSkipStages', 'may come from any earlier stage without a pipeline edge'],
] as const;

export function draftOf(p: Policy): Draft {
  return {
    description: p.description,
    pass: p.passConditions.join('\n'),
    fail: p.failConditions.join('\n'),
    approverCount: p.approverCount,
    allowRequestFromApprove: p.allowRequestFromApprove,
    allowImageBuilderFromApprove: p.allowImageBuilderFromApprove,
    allowApproverFromDeploy: p.allowApproverFromDeploy,
    allowSkipStages: p.allowSkipStages,
  };
}

export const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

export function bodyOf(d: Draft) {
  return {
    description: d.description,
    passConditions: lines(d.pass),
    failConditions: lines(d.fail),
    approverCount: d.approverCount,
    allowRequestFromApprove: d.allowRequestFromApprove,
    allowImageBuilderFromApprove: d.allowImageBuilderFromApprove,
    allowApproverFromDeploy: d.allowApproverFromDeploy,
    allowSkipStages: d.allowSkipStages,
  };
}

/** The value, once it has stopped changing for `ms`. */
export function useSettled<T>(value: T, ms = 300): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

export interface Problem {
  /** 1-based line in the textarea; column as the server counts it on that line. */
  line: number;
  column: number | null;
  message: string;
}

/** The problems of a textarea of conditions (one per line), checked by the server as the user types. */
export function useConditionProblems(text: string): { problems: Problem[]; checking: boolean } {
  const settled = useSettled(text);
  const all = settled.split('\n').map((raw, i) => ({ raw: raw.trim(), line: i + 1 }));
  const filled = all.filter((l) => l.raw !== '');
  const checks = useQueries({
    queries: filled.map((l) => ({
      queryKey: ['validate-condition', l.raw],
      queryFn: () => api<ExpressionCheck>('POST', '/api/v1/policies/validate', { expression: l.raw }),
      staleTime: Infinity,
    })),
  });
  const problems: Problem[] = [];
  filled.forEach((l, i) => {
    const c = checks[i]?.data;
    if (c && !c.valid)
      problems.push({
        line: l.line + (c.line ?? 1) - 1,
        column: c.column ?? null,
        message: c.message ?? 'invalid',
      });
  });
  return { problems, checking: settled !== text || checks.some((c) => c.isFetching) };
}
