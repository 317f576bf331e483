import { testDatabases } from '../testing/test-databases.js';
import { runRegistryStoreContract } from './registry-store.contract.js';

for (const db of testDatabases('store contract'))
  runRegistryStoreContract(db.name, db.open, db.skip ? { skip: db.skip } : {});
