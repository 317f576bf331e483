import { isOtterError } from '@otter/core';
import type { FastifyError, FastifyInstance } from 'fastify';

/** One handler: typed errors keep their AWS type; anything else is a 500 that leaks nothing. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let type: string;
    let status: number;
    let body: Record<string, unknown>;
    if (isOtterError(err)) {
      type = err.type;
      status = err.status;
      body = { ...err.fields, message: err.message };
    } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      type = 'RequestEntityTooLargeException';
      status = 413;
      body = { message: 'The request body exceeds the maximum size allowed' };
    } else if (err.statusCode && err.statusCode < 500) {
      type = 'InvalidRequestException';
      status = err.statusCode;
      body = { message: err.message };
    } else {
      req.log.error({ err }, 'request failed');
      type = 'InternalFailureException';
      status = 500;
      body = { message: `Internal failure (request id ${req.id})` };
    }
    if (status >= 500 && isOtterError(err)) req.log.error({ err }, 'request failed');
    reply
      .code(status)
      .header('x-amzn-ErrorType', type)
      .header('x-amzn-RequestId', req.id)
      .type('application/json')
      .send(JSON.stringify({ __type: type, ...body }));
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .header('x-amzn-ErrorType', 'UnknownOperationException')
      .header('x-amzn-RequestId', req.id)
      .type('application/json')
      .send(
        JSON.stringify({
          __type: 'UnknownOperationException',
          message: `No route for ${req.method} ${req.url.split('?')[0]}`,
        }),
      );
  });
}
