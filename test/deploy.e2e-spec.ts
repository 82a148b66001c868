// Static validation of what cannot run here (no Docker engine, no cluster): docker-compose.yml against the Compose
// Specification's JSON schema (and `docker compose config` when the CLI plugin exists), every Kubernetes manifest
// against the Kubernetes OpenAPI schemas (kubernetes-models), and the rules the manifests must keep: selectors that
// match labels, probes on the ports that serve them, resources, grace periods longer than the drain, settings the
// app accepts.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { Namespace, ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { loadConfig } from '@lib/core';

const ROOT = join(__dirname, '..');
const K8S = join(ROOT, 'deploy', 'k8s');
const read = (...path: string[]) => readFileSync(join(ROOT, ...path), 'utf8');

type Manifest = Record<string, any>;

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
};

function manifests(): Array<{ file: string; doc: Manifest }> {
  const out: Array<{ file: string; doc: Manifest }> = [];
  for (const file of readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const document of parseAllDocuments(readFileSync(join(K8S, file), 'utf8'))) {
      expect(document.errors).toEqual([]);
      out.push({ file, doc: document.toJS() });
    }
  }
  return out;
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([key, value]) => labels?.[key] === value);

/** The variables the README's configuration table documents. */
function documentedSettings(): Set<string> {
  const readme = read('README.md');
  return new Set(
    [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)`(?: \/ `([A-Z][A-Z0-9_]+)`)?/gm)].flatMap((m) =>
      m.slice(1, 3).filter(Boolean),
    ),
  );
}

describe('deployment files', () => {
  describe('Dockerfile', () => {
    const dockerfile = read('Dockerfile');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    const runtime = stages[stages.length - 1];

    it('builds in stages and ships Node 22 with production dependencies only', () => {
      expect(stages.length).toBeGreaterThanOrEqual(3);
      expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-/m);
      expect(dockerfile).toMatch(/npm ci --omit=dev/);
      // The runtime stage installs nothing itself and copies the compiled output and the production modules.
      expect(runtime).not.toMatch(/npm (ci|install)/);
      expect(runtime).toMatch(/COPY --from=production-dependencies .*node_modules/);
      expect(runtime).toMatch(/COPY --from=build .*dist/);
    });

    it('runs as a non-root user, with a health check, and starts the API', () => {
      expect(runtime).toMatch(/^USER node$/m);
      expect(runtime.indexOf('USER node')).toBeLessThan(runtime.indexOf('CMD '));
      expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/health\/live/m);
      expect(runtime).toMatch(/^CMD \["node", "dist\/apps\/api\/src\/main\.js"\]$/m);
    });

    it('keeps secrets and local state out of the build context', () => {
      const ignored = read('.dockerignore').split('\n');
      for (const entry of ['node_modules', '.env', '.local-admin-key', '.git'])
        expect(ignored).toContain(entry);
    });
  });

  describe('docker-compose.yml', () => {
    const text = read('docker-compose.yml');
    const compose = parse(text, { merge: true });

    it('is valid against the Compose Specification schema', () => {
      const ajv = new Ajv({ allErrors: true, strict: false });
      // Draft 07 (ajv's default); its `$schema` names the https URL, which ajv knows by its http one.
      const { $schema: _draft, ...schema } = JSON.parse(
        read('test', 'support', 'schemas', 'compose-spec.json'),
      );
      const validate = ajv.compile(schema);
      // As Compose reads it: YAML merge keys (`<<: *app-environment`) resolved.
      const valid = validate(compose);
      expect(validate.errors ?? []).toEqual([]);
      expect(valid).toBe(true);
      // Not vacuous: a misspelt key or a wrong type is refused.
      expect(validate({ services: { api: { image: 'x', restart_policy: 'always' } } })).toBe(false);
      expect(validate({ services: { api: { image: 'x', ports: 3000 } } })).toBe(false);
    });

    it('passes `docker compose config` where the Compose CLI exists', () => {
      let hasCompose = false;
      try {
        execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
        hasCompose = true;
      } catch {
        // No Compose plugin on this machine: the schema check above stands in for it.
      }
      if (!hasCompose) return;
      execFileSync('docker', ['compose', '-f', 'docker-compose.yml', 'config', '--quiet'], { cwd: ROOT });
    });

    it('runs postgres, redis, migrations, a scalable api behind a proxy, and a worker', () => {
      const { services } = compose;
      expect(Object.keys(services)).toEqual(
        expect.arrayContaining(['postgres', 'redis', 'migrate', 'api', 'worker', 'proxy']),
      );
      // Scalable: no fixed host port on the api (the proxy publishes one), no container_name.
      expect(services.api.ports).toBeUndefined();
      expect(services.api.container_name).toBeUndefined();
      expect(services.worker.container_name).toBeUndefined();
      expect(services.proxy.ports).toEqual(['${API_PORT:-3000}:3000']);
      expect(services.worker.command).toEqual(['node', 'dist/apps/worker/src/main.js']);
      expect(services.api.depends_on.migrate.condition).toBe('service_completed_successfully');
      expect(services.api.environment.RUN_WORKERS_IN_API).toBe('false');
      for (const name of ['api', 'worker', 'migrate']) {
        expect(services[name].environment.DATABASE_MIGRATE).toBe('false');
      }
      // The drain gets its time before compose kills a container.
      const graceMs = Number(services.api.environment.SHUTDOWN_GRACE_MS);
      for (const name of ['api', 'worker']) {
        expect(Number(/^(\d+)s$/.exec(services[name].stop_grace_period)![1]) * 1000).toBeGreaterThan(graceMs);
      }
      const nginx = read('deploy', 'nginx', 'nginx.conf');
      expect(nginx).toContain('server api:3000');
      expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade/);
      expect(nginx).toMatch(/proxy_buffering off/);
    });

    it('has an observability profile with Jaeger (OTLP) and Prometheus scraping every replica', () => {
      const { services } = compose;
      expect(services.jaeger.profiles).toEqual(['observability']);
      expect(services.prometheus.profiles).toEqual(['observability']);
      const prometheus = parse(read('deploy', 'prometheus', 'prometheus.yml'));
      const targets = prometheus.scrape_configs.flatMap((job: any) =>
        job.dns_sd_configs.map((sd: any) => `${sd.names[0]}:${sd.port}`),
      );
      const metricsPort = services.api.environment.METRICS_PORT;
      expect(targets).toEqual([`api:${metricsPort}`, `worker:${metricsPort}`]);
      expect(services.api.expose).toContain(metricsPort);
      expect(services.worker.expose).toContain(metricsPort);
    });

    it('configures the app with settings it accepts and documents', () => {
      const documented = documentedSettings();
      for (const name of ['api', 'worker']) {
        const env = compose.services[name].environment as Record<string, string>;
        for (const key of Object.keys(env)) {
          if (!key.startsWith('OTEL_')) expect([key, documented.has(key)]).toEqual([key, true]);
        }
        const resolved = Object.fromEntries(
          Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]),
        );
        expect(() => loadConfig(resolved)).not.toThrow();
      }
    });
  });

  describe('Kubernetes manifests (deploy/k8s)', () => {
    const all = manifests();
    const of = (kind: string) => all.filter(({ doc }) => doc.kind === kind).map(({ doc }) => doc);
    const deployments = of('Deployment');
    const deployment = (component: string) =>
      deployments.find((d) => d.metadata.labels['app.kubernetes.io/component'] === component)!;
    const configMap = of('ConfigMap')[0];
    const secret = of('Secret')[0];

    it.each(all.map(({ file, doc }) => [`${file}: ${doc.kind} ${doc.metadata?.name}`, doc]))(
      'validates against the Kubernetes schema: %s',
      (_name, doc) => {
        const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
        expect(model).toBeDefined();
        expect(() => new model(doc).validate()).not.toThrow();
      },
    );

    it('refuses a broken manifest (the schema check is not vacuous)', () => {
      const broken = structuredClone(deployment('api'));
      broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
      expect(() => new Deployment(broken).validate()).toThrow(/containerPort must be integer/);
      delete broken.spec.selector;
      expect(() => new Deployment(broken).validate()).toThrow();
    });

    it('has what the issue asks for: api and worker Deployments, Service, HPA, ConfigMap, Secret, PDB, Ingress', () => {
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual([
        'agent-backend-api',
        'agent-backend-worker',
      ]);
      for (const kind of [
        'Service',
        'HorizontalPodAutoscaler',
        'ConfigMap',
        'Secret',
        'PodDisruptionBudget',
        'Ingress',
      ]) {
        expect([kind, of(kind).length > 0]).toEqual([kind, true]);
      }
      const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8'));
      const files = readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
      expect([...kustomization.resources].sort()).toEqual(files.sort());
    });

    it('gives every Deployment selectors matching its pod labels, named ports, probes on them and resources', () => {
      for (const d of [...deployments, ...of('Job')]) {
        const pod = d.spec.template;
        if (d.kind === 'Deployment')
          expect(matches(d.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
        expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
        for (const container of pod.spec.containers) {
          expect(container.image).toBe('agent-backend');
          expect(container.resources.requests).toMatchObject({
            cpu: expect.any(String),
            memory: expect.any(String),
          });
          expect(container.resources.limits.memory).toEqual(expect.any(String));
          expect(container.securityContext).toMatchObject({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
          });
          expect(container.envFrom).toEqual([
            { configMapRef: { name: configMap.metadata.name } },
            { secretRef: { name: secret.metadata.name } },
          ]);
          const ports = new Set((container.ports ?? []).map((p: any) => p.name));
          for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
            if (container[probe]) expect(ports.has(container[probe].httpGet.port)).toBe(true);
          }
        }
      }
      const api = deployment('api').spec.template.spec.containers[0];
      expect(api.readinessProbe.httpGet.path).toBe('/health/ready');
      expect(api.livenessProbe.httpGet.path).toBe('/health/live');
      expect(api.startupProbe.httpGet.path).toBe('/health/live');
      const worker = deployment('worker').spec.template.spec.containers[0];
      expect(worker.command).toEqual(['node', 'dist/apps/worker/src/main.js']);
      expect(worker.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'metrics' });
      const metricsPort = Number(configMap.data.METRICS_PORT);
      for (const container of [api, worker]) {
        expect(container.ports.find((p: any) => p.name === 'metrics').containerPort).toBe(metricsPort);
      }
      expect(api.ports.find((p: any) => p.name === 'http').containerPort).toBe(Number(configMap.data.PORT));
    });

    it('gives pods more time to stop than the drain takes, and rolls out without losing capacity', () => {
      const graceMs = Number(configMap.data.SHUTDOWN_GRACE_MS);
      for (const d of deployments) {
        const pod = d.spec.template.spec;
        const preStopSeconds = Number(pod.containers[0].lifecycle?.preStop?.exec?.command?.[1] ?? 0);
        expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
          graceMs + preStopSeconds * 1000 + 10_000,
        );
        expect(d.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
      }
    });

    it('points the Service, HPAs, PDBs and Ingress at what exists', () => {
      const api = deployment('api');
      const apiLabels = api.spec.template.metadata.labels;
      const [service] = of('Service');
      expect(matches(service.spec.selector, apiLabels)).toBe(true);
      const apiPorts = new Set(api.spec.template.spec.containers[0].ports.map((p: any) => p.name));
      for (const port of service.spec.ports) expect(apiPorts.has(port.targetPort)).toBe(true);
      const names = new Set(deployments.map((d) => d.metadata.name));
      for (const hpa of of('HorizontalPodAutoscaler')) {
        expect(hpa.spec.scaleTargetRef).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment' });
        expect(names.has(hpa.spec.scaleTargetRef.name)).toBe(true);
        expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      }
      const pdbs = of('PodDisruptionBudget');
      for (const d of deployments) {
        expect(
          pdbs.some((pdb) => matches(pdb.spec.selector.matchLabels, d.spec.template.metadata.labels)),
        ).toBe(true);
      }
      const [ingress] = of('Ingress');
      const backend = ingress.spec.rules[0].http.paths[0].backend.service;
      expect(backend.name).toBe(service.metadata.name);
      expect(service.spec.ports.map((p: any) => p.name)).toContain(backend.port.name);
      expect(backend.port.name).not.toBe('metrics');
      expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('3600');
    });

    it('configures the app with settings it accepts and documents (ConfigMap + example Secret)', () => {
      const documented = documentedSettings();
      for (const key of [...Object.keys(configMap.data), ...Object.keys(secret.stringData)]) {
        if (!key.startsWith('OTEL_')) expect([key, documented.has(key)]).toEqual([key, true]);
      }
      const config = loadConfig({ ...configMap.data, ...secret.stringData });
      expect(config).toMatchObject({
        nodeEnv: 'production',
        runWorkersInApi: false,
        databaseMigrate: false,
        metricsPort: 9464,
      });
    });
  });
});
