/** Who is signed in (GET /api/v1/me), shared by every screen; sign-in and sign-out update it. */
import { createContext, useContext } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, setCsrfToken } from './api.ts';
import { earlyOr } from './early.ts';

export interface Membership {
  project: string;
  role: 'owner' | 'promoter' | 'developer' | 'viewer';
  environments: string[] | null;
}

export interface Me {
  username: string;
  isAdmin: boolean;
  memberships: Membership[];
  csrfToken?: string;
  /** What GET /me answers (the Me schema). */
  badges?: { approvalsWaiting?: number };
  counts?: { approvalsWaiting?: number };
}

export function useMe() {
  return useQuery({
    queryKey: ['me'],
    queryFn: async () => {
      try {
        // Opening the console asked already (early.ts); take that answer the first time.
        const me = await earlyOr('/api/v1/me', () => api<Me>('GET', '/api/v1/me'));
        if (me.csrfToken !== undefined) setCsrfToken(me.csrfToken);
        return me;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }
    },
    staleTime: 30_000,
  });
}

export const MeContext = createContext<Me | null>(null);

/** The signed-in user; only used below the guard in app.tsx, so it is never null there. */
export function useSignedIn(): Me {
  const me = useContext(MeContext);
  if (me === null) throw new Error('useSignedIn outside a signed-in page');
  return me;
}

export function useSignOut(): () => Promise<void> {
  const qc = useQueryClient();
  return async () => {
    await api('POST', '/api/v1/logout').catch(() => undefined);
    setCsrfToken(undefined);
    qc.clear();
    qc.setQueryData(['me'], null);
  };
}

/** What a role may do in a project, for disabling buttons with the role one would need. */
export function roleIn(me: Me, project: string): Membership['role'] | 'admin' | null {
  if (me.isAdmin) return 'admin';
  return me.memberships.find((m) => m.project === project)?.role ?? null;
}
