// @peculiar/x509 (through tsyringe) needs the Reflect metadata API before it loads: import x509
// only through this module.
import 'reflect-metadata';

export * from '@peculiar/x509';
