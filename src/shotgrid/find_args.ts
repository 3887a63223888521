/**
 * The arguments of `find()`/`findOne()` after the fields, in either shape a plugin may use:
 * an options object (`{order, limit, ...}`), or the Python API's positional order
 * (`find(type, filters, fields, order, filter_operator?)`, then options) that untyped
 * ported code passes. An `order` array in the options position must not be ignored.
 *
 * @module
 */
import type { Filter, FilterGroup } from "./types.ts";

/** One sort key, Python-API shape. */
export interface OrderKey {
  readonly field_name: string;
  readonly direction?: "asc" | "desc";
}

/** What the trailing arguments mean once sorted out. */
export interface TrailingArgs<O> {
  readonly order: readonly OrderKey[] | undefined;
  readonly filters: readonly Filter[] | FilterGroup;
  readonly options: O;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const optionKeys = new Set(["order", "limit", "page", "pageSize", "retiredOnly", "signal"]);

/**
 * The options with the Python API's keyword names a port may keep (`retired_only`,
 * `filter_operator`) turned into this client's; any other unknown key is an error rather
 * than a silently different search.
 */
function normalizeOptions<O>(
  options: Record<string, unknown>,
  filters: readonly Filter[] | FilterGroup,
): { options: O; filters: readonly Filter[] | FilterGroup } {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(options)) {
    if (optionKeys.has(key)) continue;
    out ??= { ...options };
    if (key === "retired_only") {
      out.retiredOnly = options.retired_only;
    } else if (key === "filter_operator") {
      filters = withOperator(filters, options.filter_operator);
    } else {
      throw new TypeError(
        `Invalid find() option "${key}": expected one of ${[...optionKeys].join(", ")}, ` +
          "retired_only, filter_operator",
      );
    }
    delete out[key];
  }
  return { options: (out ?? options) as O, filters };
}

function withOperator(filters: readonly Filter[] | FilterGroup, operator: unknown): FilterGroup {
  if (operator !== "all" && operator !== "any") {
    throw new TypeError(
      `Invalid filter_operator ${JSON.stringify(operator)}: expected "all" or "any"`,
    );
  }
  if (!Array.isArray(filters)) {
    throw new TypeError(`Invalid filter_operator "${operator}": the filters are already a group`);
  }
  return { filter_operator: operator, filters };
}

/**
 * Sort out `find(type, filters, fields, fourth, fifth)`.
 *
 * @param filters The filters as given.
 * @param fourth An options object, or an order array (Python positional).
 * @param fifth After an order: an options object, or the Python `filter_operator` (`"all"` or
 *   `"any"`, which wraps a filter list in that group).
 * @returns The order, filters and options.
 * @throws {TypeError} When an argument has neither shape, or an order key is malformed.
 */
export function trailingArgs<O extends { readonly order?: readonly OrderKey[] }>(
  filters: readonly Filter[] | FilterGroup,
  fourth: unknown,
  fifth: unknown,
): TrailingArgs<O> {
  if (isPlainObject(fourth) || ((fourth === undefined || fourth === null) && fifth === undefined)) {
    if (fifth !== undefined) {
      throw new TypeError(
        `Invalid find() argument ${JSON.stringify(fifth)}: nothing is taken after the options`,
      );
    }
    const normalized = normalizeOptions<O>(fourth ?? {}, filters);
    return { order: checkOrder(normalized.options.order), ...normalized };
  }
  // Python's `find(type, filters, fields, None, "any")`: no order, then more positionals.
  if (fourth === undefined || fourth === null) fourth = [];
  if (!Array.isArray(fourth)) {
    throw new TypeError(
      `Invalid find() argument ${
        JSON.stringify(fourth)
      }: expected an options object or an order array`,
    );
  }
  const order = fourth.length === 0 ? undefined : checkOrder(fourth);
  if (fifth === undefined || fifth === null) return { order, filters, options: {} as O };
  if (fifth === "all" || fifth === "any") {
    return { order, filters: withOperator(filters, fifth), options: {} as O };
  }
  if (isPlainObject(fifth)) {
    if ("order" in fifth) {
      throw new TypeError("Invalid find() arguments: order given both positionally and in options");
    }
    return { order, ...normalizeOptions<O>(fifth, filters) };
  }
  throw new TypeError(
    `Invalid find() argument ${
      JSON.stringify(fifth)
    }: expected an options object or "all"/"any" after the order`,
  );
}

function checkOrder(order: unknown): readonly OrderKey[] | undefined {
  if (order === undefined || order === null) return undefined;
  if (!Array.isArray(order)) {
    throw new TypeError(`Invalid order ${JSON.stringify(order)}: expected an array`);
  }
  for (const key of order) {
    const k = key as Partial<OrderKey> | null;
    if (
      !isPlainObject(k) || typeof k.field_name !== "string" ||
      (k.direction !== undefined && k.direction !== "asc" && k.direction !== "desc")
    ) {
      throw new TypeError(
        `Invalid order key ${
          JSON.stringify(key)
        }: expected {field_name, direction: "asc" | "desc"}`,
      );
    }
  }
  return order as readonly OrderKey[];
}
