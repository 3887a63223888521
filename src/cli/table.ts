/**
 * Plain aligned columns for command output. Hand-written on purpose: output meant for
 * `grep` and `awk` wants no box-drawing characters or colours, and this is all of it.
 *
 * @module
 */

/**
 * Format rows as left-aligned columns separated by two spaces.
 *
 * @param header Column titles.
 * @param rows Cells (converted with String; null shows as "-").
 * @returns The lines, joined with newlines.
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly unknown[])[],
): string {
  const cells = [
    header,
    ...rows.map((row) =>
      row.map((cell) => cell === null || cell === undefined ? "-" : String(cell))
    ),
  ];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  return cells
    .map((row) =>
      row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  ")
    )
    .join("\n");
}
