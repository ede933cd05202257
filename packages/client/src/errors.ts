/** Every failure the client reports: an HTTP status (0 when no answer came) and a code. */
export class SluiceApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "SluiceApiError";
    this.status = status;
    this.code = code;
  }
}
