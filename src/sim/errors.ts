/**
 * ShotGrid-shaped errors: the one error class the simulator's handlers throw, and the
 * `{"errors":[...]}` body real sites answer with.
 *
 * @module
 */

/** A request the simulated site refuses, with the status and ShotGrid code to answer. */
export class SimRequestError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** ShotGrid error code: 102 authentication, 103 bad request, 104 not found. */
  readonly code: number;
  /** Optional `detail` of the error body. */
  readonly detail: string | null;

  /**
   * @param status HTTP status.
   * @param code ShotGrid code.
   * @param title The error's `title`.
   * @param options `detail` and `cause`.
   */
  constructor(
    status: number,
    code: number,
    title: string,
    options: { detail?: string | null; cause?: unknown } = {},
  ) {
    super(title, { cause: options.cause });
    this.name = "SimRequestError";
    this.status = status;
    this.code = code;
    this.detail = options.detail ?? null;
  }
}

/**
 * The JSON body of a ShotGrid error answer.
 *
 * @param status HTTP status.
 * @param code ShotGrid code.
 * @param title Error title.
 * @param detail Error detail.
 * @returns `{"errors":[{id,status,code,title,detail,source,meta}]}`.
 */
export function errorBody(
  status: number,
  code: number,
  title: string,
  detail: string | null = null,
): { errors: unknown[] } {
  const id = Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  return { errors: [{ id, status, code, title, detail, source: null, meta: null }] };
}

/**
 * `400 code 103` for a bad request.
 *
 * @param title Error title.
 * @returns The error.
 */
export function badRequest(title: string): SimRequestError {
  return new SimRequestError(400, 103, title);
}
