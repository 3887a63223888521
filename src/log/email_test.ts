import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { getLogger } from "@logtape/logtape";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import type { EmailConfig, LoggingConfig } from "../config/types.ts";
import { setPluginEmails } from "./plugin_emails.ts";
import { setupLogging } from "./setup.ts";

// Against a real SMTP server (smtp-server) on 127.0.0.1, port 0. LogTape is global, so the
// tests in this file run one after another; disposing the logging waits for mails in flight.

interface Received {
  readonly from: string;
  readonly to: string[];
  readonly user: string | null;
  readonly secure: boolean;
  readonly text: string;
}

async function startServer(
  options: Partial<SMTPServerOptions> & { readonly password?: string } = {},
): Promise<{ port: number; mails: Received[] } & AsyncDisposable> {
  const mails: Received[] = [];
  const { password, ...serverOptions } = options;
  const server = new SMTPServer({
    authOptional: password === undefined,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === "mailer" && auth.password === password) {
        callback(null, { user: auth.username });
      } else callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      const chunks: Uint8Array[] = [];
      stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      stream.on("end", () => {
        const from = session.envelope.mailFrom;
        mails.push({
          from: from === false ? "" : from.address,
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address).sort(),
          user: typeof session.user === "string" ? session.user : null,
          secure: session.secure,
          text: decodeQuotedPrintable(new TextDecoder().decode(concat(chunks))),
        });
        callback();
      });
    },
    ...serverOptions,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Undoes the quoted-printable body encoding nodemailer uses for long lines. */
function decodeQuotedPrintable(text: string): string {
  const bytes = text.replace(/=\r?\n/g, "").replace(
    /=([0-9A-F]{2})/g,
    (_, hex: string) => String.fromCharCode(parseInt(hex, 16)),
  );
  return new TextDecoder().decode(Uint8Array.from(bytes, (char) => char.charCodeAt(0)));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

const logging: LoggingConfig = {
  level: "info",
  dir: null,
  perPlugin: true,
  timing: false,
  format: "plain",
  levels: {},
  maxFileBytes: 1024 * 1024,
  maxFiles: 2,
};

function emailConfig(port: number, overrides: Partial<EmailConfig> = {}): EmailConfig {
  return {
    enabled: true,
    server: "127.0.0.1",
    port,
    security: "none",
    username: null,
    password: null,
    from: "sgevents@example.com",
    to: ["ops@example.com"],
    subject: "sgevents: {plugin} error",
    rateLimit: 10,
    rateWindowMs: 3_600_000,
    ...overrides,
  };
}

function capture(): { stream: WritableStream<Uint8Array>; text: () => string } {
  const chunks: string[] = [];
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      chunks.push(new TextDecoder().decode(chunk));
    },
  });
  return { stream, text: () => chunks.join("") };
}

Deno.test("getEmailSink() mails error records, not warnings, without auth", async () => {
  await using server = await startServer({ disabledCommands: ["STARTTLS"] });
  {
    await using _ = await setupLogging(logging, {
      console: false,
      email: emailConfig(server.port),
    });
    getLogger(["sgevents", "engine"]).warn("Only a warning");
    getLogger(["sgevents", "engine"]).error("Cannot reach {site}", {
      site: "https://x.example",
      error: new Error("connection refused"),
    });
  }
  assert.equal(server.mails.length, 1);
  const mail = server.mails[0]!;
  assert.deepEqual(mail.to, ["ops@example.com"]);
  assert.equal(mail.from, "sgevents@example.com");
  assert.equal(mail.user, null);
  assert.match(mail.text, /^Subject: sgevents: daemon error\r?$/m);
  assert.match(mail.text, /Cannot reach https:\/\/x.example/);
  assert.match(mail.text, /Error: connection refused/);
  assert.doesNotMatch(mail.text, /Only a warning/);
});

Deno.test("getEmailSink() logs in with username and password and never shows the password", async () => {
  const password = "smtp-pa55word-never-shown";
  await using server = await startServer({ disabledCommands: ["STARTTLS"], password });
  const console = capture();
  {
    await using _ = await setupLogging(logging, {
      consoleStream: console.stream,
      email: emailConfig(server.port, { username: "mailer", password }),
    });
    getLogger(["sgevents", "engine"]).error(`Login failed with ${password}`, { password });
  }
  assert.equal(server.mails.length, 1);
  assert.equal(server.mails[0]?.user, "mailer");
  assert.ok(!server.mails[0]?.text.includes(password), "the mail shows the password");
  assert.match(server.mails[0]?.text ?? "", /Login failed with \*\*\*/);
  assert.ok(!console.text().includes(password), "the console shows the password");
});

Deno.test("getEmailSink() upgrades with STARTTLS and connects with TLS", async (t) => {
  // smtp-server's built-in self-signed certificate: the client is told to accept it.
  const tls = { rejectUnauthorized: false };
  await t.step("starttls", async () => {
    await using server = await startServer();
    {
      await using _ = await setupLogging(logging, {
        console: false,
        email: emailConfig(server.port, { security: "starttls" }),
        emailTls: tls,
      });
      getLogger(["sgevents", "engine"]).error("Over STARTTLS");
    }
    assert.equal(server.mails.length, 1);
    assert.equal(server.mails[0]?.secure, true);
  });
  await t.step("starttls refused by a server without it", async () => {
    await using server = await startServer({ disabledCommands: ["STARTTLS"] });
    const console = capture();
    {
      await using _ = await setupLogging(logging, {
        consoleStream: console.stream,
        email: emailConfig(server.port, { security: "starttls" }),
        emailTls: tls,
      });
      getLogger(["sgevents", "engine"]).error("Needs STARTTLS");
    }
    assert.equal(server.mails.length, 0);
    assert.match(console.text(), /Cannot send error mail via 127.0.0.1:\d+/);
  });
  await t.step("tls", async () => {
    await using server = await startServer({ secure: true });
    {
      await using _ = await setupLogging(logging, {
        console: false,
        email: emailConfig(server.port, { security: "tls" }),
        emailTls: tls,
      });
      getLogger(["sgevents", "engine"]).error("Over TLS");
    }
    assert.equal(server.mails.length, 1);
    assert.equal(server.mails[0]?.secure, true);
  });
});

Deno.test("setPluginEmails() adds, keeps or removes recipients for a plugin's errors", async () => {
  await using server = await startServer({ disabledCommands: ["STARTTLS"] });
  setPluginEmails("adds", ["lead@example.com", "ops@example.com"]);
  setPluginEmails("silent", false);
  setPluginEmails("defaults", true);
  {
    await using _ = await setupLogging(logging, {
      console: false,
      email: emailConfig(server.port),
    });
    getLogger(["sgevents", "plugin", "adds"]).error("from adds");
    getLogger(["sgevents", "plugin", "silent"]).error("from silent");
    getLogger(["sgevents", "plugin", "defaults"]).error("from defaults");
    getLogger(["sgevents", "plugin", "unset"]).error("from unset");
  }
  const byBody = (text: string) => server.mails.find((mail) => mail.text.includes(text));
  assert.equal(server.mails.length, 3);
  assert.deepEqual(byBody("from adds")?.to, ["lead@example.com", "ops@example.com"]);
  assert.match(byBody("from adds")?.text ?? "", /^Subject: sgevents: adds error\r?$/m);
  assert.equal(byBody("from silent"), undefined);
  assert.deepEqual(byBody("from defaults")?.to, ["ops@example.com"]);
  assert.deepEqual(byBody("from unset")?.to, ["ops@example.com"]);
});

Deno.test("getEmailSink() sends at most rateLimit mails per window and counts the rest", async () => {
  await using server = await startServer({ disabledCommands: ["STARTTLS"] });
  let now = 1_000_000;
  {
    await using _ = await setupLogging(logging, {
      console: false,
      email: emailConfig(server.port, { rateLimit: 2, rateWindowMs: 60_000 }),
      clock: () => now,
    });
    const logger = getLogger(["sgevents", "engine"]);
    for (let i = 1; i <= 5; i++) logger.error("failure {i}", { i });
    now += 60_001;
    logger.error("after the window");
  }
  assert.equal(server.mails.length, 3);
  assert.match(server.mails[0]?.text ?? "", /failure 1/);
  assert.match(server.mails[1]?.text ?? "", /failure 2/);
  assert.match(server.mails[2]?.text ?? "", /after the window/);
  assert.match(
    server.mails[2]?.text ?? "",
    /3 earlier error mails were suppressed by the rate limit of 2 per 60 s/,
  );
});

Deno.test("getEmailSink() logs a failure to send once per window and never throws", async () => {
  // A port with nothing listening: bind one, note it, close it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const console = capture();
  {
    await using _ = await setupLogging(logging, {
      consoleStream: console.stream,
      email: emailConfig(port, { username: "mailer", password: "pw-in-failure-test" }),
    });
    const logger = getLogger(["sgevents", "engine"]);
    logger.error("first");
    logger.error("second");
  }
  const warnings = console.text().match(/Cannot send error mail/g) ?? [];
  assert.equal(warnings.length, 1, console.text());
  assert.ok(!console.text().includes("pw-in-failure-test"));
});
