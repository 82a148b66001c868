// Runs once before the e2e suite: makes sure the test database exists and carries every migration.
import { DataSource } from 'typeorm';
import { dataSourceOptions, ensureDatabaseExists } from '@lib/core';
import { TEST_DATABASE_URL } from './test-env';

export default async function globalSetup(): Promise<void> {
  await ensureDatabaseExists(TEST_DATABASE_URL);
  const dataSource = new DataSource(
    dataSourceOptions({ databaseUrl: TEST_DATABASE_URL, databasePoolSize: 2 }),
  );
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
}
