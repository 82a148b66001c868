// npm run migration:run / migration:revert: creates the database when missing, then runs the TypeORM CLI on the built DataSource.
const { execFileSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const command = process.argv[2] === 'revert' ? 'migration:revert' : 'migration:run';
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
if (existsSync(path.join(root, '.env'))) process.loadEnvFile(path.join(root, '.env'));
const { ensureDatabaseExists, loadConfig } = require(path.join(root, 'dist/libs/core/src'));

ensureDatabaseExists(loadConfig(process.env).databaseUrl)
  .then(() => {
    execFileSync(path.join(root, 'node_modules/.bin/typeorm'), [command, '-d', 'dist/ormconfig.js'], {
      cwd: root,
      stdio: 'inherit',
    });
  })
  .catch((error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
