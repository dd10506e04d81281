/**
 * OpenSSH's questions answered by our own prompts. The OpenSSH client (opensshTransport.ts) runs
 * with SSH_ASKPASS set to a small script in a private (0700) directory; ssh runs it with its prompt,
 * the script hands the prompt over a Unix socket in that directory to this process, and prints the
 * answer it gets back for ssh to read. Here a prompt becomes what the rest of the client already
 * knows how to ask: a CredentialRequest (key passphrase, password, keyboard-interactive answer) or
 * an unknown host key to confirm. Answers pass only through the socket and ssh's pipe: nothing is
 * written to a file or a log. `classifyAskpassPrompt` is a pure function of ssh's words.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { shellQuote } from './transport';

/** What ssh asked, as our prompts understand it. */
export type AskpassQuestion =
  | { kind: 'host-key'; host: string; port: number; keyType: string; fingerprint: string }
  | { kind: 'key-passphrase'; keyFile: string }
  | { kind: 'password' }
  | { kind: 'keyboard-interactive'; prompt: string; echo: boolean }
  /** A notice that needs no answer ("Confirm user presence for key …" of a security key). */
  | { kind: 'notice'; text: string };

/** OpenSSH names key types in upper case in its host key question; the wire names are what our prompts show. */
const HOST_KEY_TYPES: Record<string, string> = {
  ED25519: 'ssh-ed25519',
  RSA: 'ssh-rsa',
  ECDSA: 'ecdsa-sha2-nistp256',
  DSA: 'ssh-dss',
};

/**
 * Reads OpenSSH's prompt (argv[1] of the askpass program) and SSH_ASKPASS_PROMPT ('confirm' for a
 * yes/no question, 'none' for a notice, empty otherwise).
 */
export function classifyAskpassPrompt(prompt: string, hint: string): AskpassQuestion {
  const text = prompt.replace(/\r/g, '');
  if (hint === 'none') return { kind: 'notice', text: text.trim() };
  const hostKey = /authenticity of host '([^' ]+)(?: \([^)]*\))?' can't be established[\s\S]*?^(\S+) key fingerprint is (SHA256:[A-Za-z0-9+/]+)/m.exec(text);
  if (hostKey !== null && /continue connecting/.test(text)) {
    const [, name, type, fingerprint] = hostKey as unknown as [string, string, string, string];
    const bracketed = /^\[(.+)\]:(\d+)$/.exec(name);
    return {
      kind: 'host-key',
      host: bracketed?.[1] ?? name,
      port: bracketed !== null ? Number(bracketed[2]) : 22,
      keyType: HOST_KEY_TYPES[type] ?? type,
      fingerprint,
    };
  }
  const passphrase = /^Enter passphrase for (?:key )?'([^']+)'/.exec(text);
  if (passphrase !== null) return { kind: 'key-passphrase', keyFile: passphrase[1]! };
  if (/^[^\s']+'s password: ?$/.test(text)) return { kind: 'password' };
  return { kind: 'keyboard-interactive', prompt: text.trim(), echo: hint === 'confirm' };
}

/** Answers one prompt: the text ssh gets, or undefined when the question is declined. */
export type AskpassAnswerer = (prompt: string, hint: string) => Promise<string | undefined>;

/**
 * The askpass program ssh runs: node (the editor's own runtime) with a few lines that pass the
 * prompt on and print the answer; exit 1 (declined) when no answer comes.
 */
function askpassScript(nodePath: string): string {
  const program = [
    "const s=require('net').connect(process.env.EBPF_STUDIO_ASKPASS_SOCKET);let b='';",
    "s.on('connect',()=>s.end(JSON.stringify({token:process.env.EBPF_STUDIO_ASKPASS_TOKEN,prompt:process.argv[1]||'',hint:process.env.SSH_ASKPASS_PROMPT||''})));",
    "s.on('data',(d)=>{b+=d;});s.on('error',()=>process.exit(1));",
    "s.on('end',()=>{let r;try{r=JSON.parse(b);}catch{process.exit(1);}if(typeof r.answer!=='string')process.exit(1);process.stdout.write(r.answer+'\\n');});",
  ].join('');
  return `#!/bin/sh\nELECTRON_RUN_AS_NODE=1 exec ${shellQuote(nodePath)} -e ${shellQuote(program)} "$1"\n`;
}

/** The socket and script that carry ssh's prompts to an answerer, for the life of one connection. */
export class AskpassBridge {
  /** The environment ssh needs (on top of the caller's) to ask through this bridge. */
  readonly env: Record<string, string>;
  private readonly server: Server;
  /** Scripts still waiting for an answer: closing the bridge hangs up on them (ssh sees a declined question). */
  private readonly sockets: Set<Socket>;

  private constructor(server: Server, sockets: Set<Socket>, env: Record<string, string>) {
    this.server = server;
    this.sockets = sockets;
    this.env = env;
  }

  /** Starts the bridge in `privateDir` (mode 0700, ours alone). */
  static async start(privateDir: string, answer: AskpassAnswerer): Promise<AskpassBridge> {
    const token = randomBytes(16).toString('hex');
    const socketPath = join(privateDir, 'askpass.sock');
    const scriptPath = join(privateDir, 'askpass');
    writeFileSync(scriptPath, askpassScript(process.execPath), { mode: 0o700 });
    chmodSync(scriptPath, 0o700);
    const sockets = new Set<Socket>();
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        // A prompt is a few hundred bytes; anything far larger is not our script.
        if (chunks.reduce((sum, c) => sum + c.length, 0) > 64 * 1024) socket.destroy();
      });
      socket.on('end', () => {
        let request: { token?: unknown; prompt?: unknown; hint?: unknown };
        try {
          request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof request;
        } catch {
          socket.destroy();
          return;
        }
        if (request.token !== token || typeof request.prompt !== 'string') {
          socket.destroy();
          return;
        }
        answer(request.prompt, typeof request.hint === 'string' ? request.hint : '').then(
          (text) => socket.end(JSON.stringify(text === undefined ? {} : { answer: text })),
          () => socket.end('{}'),
        );
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(socketPath, 0o600);
    return new AskpassBridge(server, sockets, {
      SSH_ASKPASS: scriptPath,
      SSH_ASKPASS_REQUIRE: 'force',
      // OpenSSH before 8.4 ignores SSH_ASKPASS_REQUIRE and asks the program only without a terminal
      // (ours run in their own session, so they have none) and with DISPLAY set.
      DISPLAY: process.env['DISPLAY'] ?? 'ebpf-studio-askpass',
      EBPF_STUDIO_ASKPASS_SOCKET: socketPath,
      EBPF_STUDIO_ASKPASS_TOKEN: token,
    });
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }
}
