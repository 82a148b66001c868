// npm run keys:create -- --tenant acme --role user --name billing-service: builds, then issues a key and prints it once.
const { execFileSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
if (existsSync(path.join(root, '.env'))) process.loadEnvFile(path.join(root, '.env'));
require('reflect-metadata');
const { runKeysCreate } = require(path.join(root, 'dist/apps/api/src/cli/keys-create.js'));

runKeysCreate(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
})
  .then((code) => process.exit(code))
  .catch((error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
