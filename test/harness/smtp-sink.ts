/**
 * A local SMTP server that accepts every message and keeps it (envelope and raw data), for testing e-mail without a
 * mail system. Speaks just enough RFC 5321: greeting, EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT.
 */
import { createServer, type Socket } from 'node:net';

export interface SunkMail {
  from: string;
  to: string[];
  data: string;
}

export interface SmtpSink {
  url: string;
  messages: SunkMail[];
  /** Resolves when `n` messages have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<SunkMail[]>;
  stop(): Promise<void>;
}

function session(socket: Socket, deliver: (m: SunkMail) => void): void {
  let buffer = '';
  let mail: SunkMail = { from: '', to: [], data: '' };
  let inData = false;
  const say = (line: string): boolean => socket.write(`${line}\r\n`);
  say('220 smtp-sink ready');
  socket.on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    for (;;) {
      if (inData) {
        const end = buffer.indexOf('\r\n.\r\n');
        if (end < 0) return;
        mail.data = buffer.slice(0, end).replace(/^\.\./gm, '.');
        buffer = buffer.slice(end + 5);
        inData = false;
        deliver(mail);
        mail = { from: '', to: [], data: '' };
        say('250 queued');
        continue;
      }
      const eol = buffer.indexOf('\r\n');
      if (eol < 0) return;
      const line = buffer.slice(0, eol);
      buffer = buffer.slice(eol + 2);
      const verb = line.slice(0, 4).toUpperCase();
      switch (verb) {
        case 'EHLO':
          say('250-smtp-sink\r\n250 8BITMIME');
          break;
        case 'HELO':
        case 'NOOP':
          say('250 ok');
          break;
        case 'RSET':
          mail = { from: '', to: [], data: '' };
          say('250 ok');
          break;
        case 'MAIL':
          mail.from = /<([^>]*)>/.exec(line)?.[1] ?? '';
          say('250 ok');
          break;
        case 'RCPT':
          mail.to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          say('250 ok');
          break;
        case 'DATA':
          inData = true;
          say('354 end with <CRLF>.<CRLF>');
          break;
        case 'QUIT':
          say('221 bye');
          socket.end();
          break;
        default:
          say('502 not implemented');
      }
    }
  });
  socket.on('error', () => undefined);
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: SunkMail[] = [];
  const waiters: Array<() => void> = [];
  const server = createServer((s) =>
    session(s, (m) => {
      messages.push(m);
      for (const w of waiters.splice(0)) w();
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} e-mails, got ${messages.length}`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 100))]);
      }
      return messages;
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
