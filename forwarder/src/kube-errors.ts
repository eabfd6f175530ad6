/** Errors of the forwarder's API server client (`kube-client.ts`, `list-stream.ts`). */

/** The API server answered with an error status (HTTP, or an `ERROR` watch event). */
export class KubeApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KubeApiError';
    this.status = status;
  }
  /** 410 Gone: the resourceVersion (or continue token) expired; list again. */
  get expired(): boolean {
    return this.status === 410;
  }
}

/** A response or watch line larger than the bound: the input is refused, not buffered. */
export class KubeResponseTooLargeError extends Error {
  readonly limit: number;
  constructor(what: string, limit: number) {
    super(`${what} exceeds ${limit} bytes`);
    this.name = 'KubeResponseTooLargeError';
    this.limit = limit;
  }
}
