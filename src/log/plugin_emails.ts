/**
 * Who gets error mail about each plugin (the Python `reg.setEmails()`). A module of its
 * own so the daemon records plugins' choices without loading the mailer (nodemailer) when
 * no email is configured.
 *
 * @module
 */

const pluginEmails = new Map<string, readonly string[] | boolean>();

/**
 * Sets who gets mail about one plugin's errors (the Python `reg.setEmails()`): a list adds
 * those addresses to `email.to`, `true` means `email.to` only (the default), `false` nobody.
 *
 * @param plugin The plugin's name.
 * @param recipients Extra addresses, or `true`/`false`.
 */
export function setPluginEmails(plugin: string, recipients: readonly string[] | boolean): void {
  pluginEmails.set(plugin, Array.isArray(recipients) ? [...recipients] : recipients);
}

/**
 * Who gets mail for a record in a category.
 *
 * @param category The record's category.
 * @param defaults `email.to`.
 * @returns The recipients (empty: no mail).
 */
export function recipientsFor(category: readonly string[], defaults: readonly string[]): string[] {
  const plugin = category[1] === "plugin" ? category[2] : undefined;
  const extra = plugin === undefined ? true : pluginEmails.get(plugin) ?? true;
  if (extra === false) return [];
  return [...new Set([...defaults, ...(extra === true ? [] : extra)])];
}
