/** Who is asking: a user, how they proved it, and their project roles. */

export type ProjectRole = 'owner' | 'promoter' | 'developer' | 'viewer';

export interface Membership {
  project: string;
  role: ProjectRole;
  environments: string[] | null;
}

export interface Identity {
  userId: string;
  username: string;
  isAdmin: boolean;
  memberships: Membership[];
  /** How the request proved who it is; sessions need a CSRF token on mutating calls. */
  via: 'token' | 'session';
}
