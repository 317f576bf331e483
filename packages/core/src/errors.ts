/**
 * Typed errors named exactly as the AWS models name them. One table maps each to its HTTP status;
 * the server's error handler turns any OtterError into the AWS REST-JSON error shape
 * (`x-amzn-ErrorType` header, `{ "message": ... }` body).
 */

/** Default HTTP status of every error type Otter raises (from the AWS IoT models). */
export const ERROR_STATUS = {
  InvalidRequestException: 400,
  ValidationException: 400,
  InvalidQueryException: 400,
  IndexNotReadyException: 400,
  InvalidAggregationException: 400,
  CertificateValidationException: 400,
  RegistrationCodeValidationException: 400,
  // Otter's native API (docs/native-api.md); same error shape as the AWS planes.
  DigestMismatchException: 400,
  IncompleteBodyException: 400,
  PreconditionFailedException: 412,
  RangeNotSatisfiableException: 416,
  UnauthorizedException: 401,
  ForbiddenException: 403,
  InvalidSignatureException: 403,
  IncompleteSignatureException: 403,
  SignatureDoesNotMatchException: 403,
  MissingAuthenticationTokenException: 403,
  UnrecognizedClientException: 403,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  NotConfiguredException: 404,
  UnknownOperationException: 404,
  MethodNotAllowedException: 405,
  CertificateStateException: 406,
  ResourceAlreadyExistsException: 409,
  VersionConflictException: 409,
  ConflictException: 409,
  CertificateConflictException: 409,
  ConflictingResourceUpdateException: 409,
  DeleteConflictException: 409,
  InvalidStateTransitionException: 409,
  VersionsLimitExceededException: 409,
  LimitExceededException: 410,
  TerminalStateException: 410,
  RequestEntityTooLargeException: 413,
  UnsupportedDocumentEncodingException: 415,
  ThrottlingException: 429,
  InternalFailureException: 500,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
} as const;

export type ErrorType = keyof typeof ERROR_STATUS;
export const ERROR_TYPES = Object.keys(ERROR_STATUS) as ErrorType[];

/** An error that reaches clients with its AWS type and message. */
export class OtterError extends Error {
  readonly type: ErrorType;
  readonly status: number;
  /** Extra members of the AWS error body (e.g. `resourceId`, `resourceArn`). */
  readonly fields: Readonly<Record<string, unknown>>;

  constructor(type: ErrorType, message: string, fields: Record<string, unknown> = {}, status?: number) {
    super(message);
    this.name = type;
    this.type = type;
    this.status = status ?? ERROR_STATUS[type];
    this.fields = fields;
  }
}

export const isOtterError = (e: unknown): e is OtterError => e instanceof OtterError;

export const invalidRequest = (message: string) => new OtterError('InvalidRequestException', message);

export const notFound = (message: string) => new OtterError('ResourceNotFoundException', message);

export const alreadyExists = (message: string, resourceId?: string, resourceArn?: string) =>
  new OtterError('ResourceAlreadyExistsException', message, {
    ...(resourceId === undefined ? {} : { resourceId }),
    ...(resourceArn === undefined ? {} : { resourceArn }),
  });

export const versionConflict = (message: string) => new OtterError('VersionConflictException', message);

export const invalidQuery = (message: string) => new OtterError('InvalidQueryException', message);
