/**
 * Sending e-mail over SMTP (nodemailer, loaded only when e-mail is configured). The one port the dispatcher uses,
 * and the wording of the approval request.
 */
import type { PromotionNotice } from './outbox.ts';

export interface Mailer {
  send(to: string[], subject: string, text: string): Promise<void>;
  close(): void;
}

export interface SmtpSettings {
  /** smtp://user:pass@host:port or smtps://…; `?secure=false&ignoreTLS=true` for a local relay. */
  url: string;
  from: string;
}

export async function smtpMailer(s: SmtpSettings): Promise<Mailer> {
  const nodemailer = await import('nodemailer');
  const transport = nodemailer.createTransport(s.url);
  return {
    async send(to, subject, text) {
      await transport.sendMail({ from: s.from, to, subject, text });
    },
    close: () => transport.close(),
  };
}

/** Subject and text of the e-mail asking approvers to decide. */
export function approvalMail(n: Omit<PromotionNotice, 'projectId'>): { subject: string; text: string } {
  const envs = n.environments.join(', ');
  const short = n.digest.slice(0, 19);
  return {
    subject: `[hoist] ${n.project}/${n.application} ${short} waits for your approval to enter ${envs}`,
    text: [
      `${n.requestedBy} asks to promote ${n.project}/${n.application} from ${n.from} to ${envs}.`,
      '',
      `  digest:  ${n.digest}`,
      ...(n.comment ? [`  comment: ${n.comment}`] : []),
      `  request: ${n.requestId}`,
      '',
      'To decide:',
      `  hoist approve ${n.requestId} --project ${n.project}`,
      `  hoist reject ${n.requestId} --project ${n.project} --comment "why"`,
      '',
      'You get this because you may approve promotions to these environments.',
    ].join('\n'),
  };
}
