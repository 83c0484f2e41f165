/**
 * switchyard's runtime-neutral core: the contract every rung implements, the envelope and codecs, close codes
 * and errors. Browser apps add `switchyard/client` and `switchyard/transports/browser`; servers import
 * `switchyard/server/*`. Nothing here pulls in server or Node-only code.
 */
export * from './close-codes.ts';
export * from './codec.ts';
export * from './envelope.ts';
export * from './errors.ts';
export { RAW_JSON_MIN_BYTES } from './json-envelope.ts';
export * from './negotiate.ts';
export * from './raw-json.ts';
export * from './transport.ts';
export * from './utf8-text.ts';
