// A DataSource on the test database for tests that check what the app stored, or prepare rows.
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '@lib/core';
import { TEST_DATABASE_URL } from './test-env';

export async function openTestDataSource(): Promise<DataSource> {
  const dataSource = new DataSource(
    dataSourceOptions({ databaseUrl: TEST_DATABASE_URL, databasePoolSize: 2 }),
  );
  return dataSource.initialize();
}
