// The TypeORM CLI's DataSource (migration:run, migration:revert, migration:generate): the app's own definition.
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { dataSourceOptions, loadConfig } from './libs/core/src';

if (existsSync('.env')) process.loadEnvFile('.env');

export default new DataSource({
  ...dataSourceOptions(loadConfig(process.env)),
  entities: [`${__dirname}/libs/*/src/**/*.entity.js`, `${__dirname}/libs/*/src/entities.js`],
});
