/** Who is asking: a user, how they proved it, and their project roles. */

import type { Membership } from '../store/schema.ts';

export type { Membership, ProjectRole } from '../store/schema.ts';

export interface Identity {
  userId: string;
  username: string;
  isAdmin: boolean;
  memberships: Membership[];
  /** How the request proved who it is; sessions need a CSRF token on mutating calls. */
  via: 'token' | 'session';
}
