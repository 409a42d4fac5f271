// Validates rendered Kubernetes manifests (the output of `kubectl kustomize`)
// offline: every object against the Kubernetes 1.27 schemas of the npm
// package kubernetes-models (an object of a kind it does not know fails),
// then the invariants of this suite that no schema states:
//   - every container of a workload has cpu and memory requests and limits;
//   - every container of a Deployment or StatefulSet has liveness and
//     readiness probes, and a probe's port is one the container declares;
//   - every pod runs as non-root, without privilege escalation, with a
//     read-only root filesystem and all capabilities dropped;
//   - every Deployment and StatefulSet has a PodDisruptionBudget and a
//     Service selecting its pods, and every Service port's named targetPort
//     exists on the pods it selects;
//   - every HorizontalPodAutoscaler scales a Deployment that exists;
//   - every CronJob has concurrencyPolicy Forbid, a starting deadline, an
//     active deadline, history limits and restartPolicy Never or OnFailure;
//   - auth is never turned off (no --auth=false, FLAGS_auth is "true");
//   - with --pinned-images, no image is untagged or :latest.
//
// Usage: node validate.mjs [--pinned-images] [--name LABEL] FILE
// FILE holds one or more YAML documents ("-" reads stdin). Prints one line
// per problem and a summary; exits 0 when all is well, 1 on any problem,
// 2 on a usage or YAML error.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

function usage(message) {
  console.error(`validate.mjs: ${message}`);
  console.error("usage: node validate.mjs [--pinned-images] [--name LABEL] FILE|-");
  process.exit(2);
}

const args = process.argv.slice(2);
let pinnedImages = false;
let label = "";
let file = "";
while (args.length > 0) {
  const arg = args.shift();
  if (arg === "--pinned-images") pinnedImages = true;
  else if (arg === "--name") label = args.shift() ?? usage("--name needs a value");
  else if (arg.startsWith("--")) usage(`unknown flag ${arg}`);
  else if (file === "") file = arg;
  else usage(`unexpected argument ${arg}`);
}
if (file === "") usage("no input file");
if (label === "") label = file;

const text = readFileSync(file === "-" ? 0 : file, "utf8");
const objects = [];
for (const doc of parseAllDocuments(text)) {
  if (doc.errors.length > 0) {
    console.error(`${label}: YAML error: ${doc.errors[0].message}`);
    process.exit(2);
  }
  const value = doc.toJS();
  if (value !== null && value !== undefined) objects.push(value);
}

// kustomize folds a long base64 value of a Secret's data over several lines;
// the API server's base64 decoder skips the line breaks, the "byte" format
// of the schemas does not, so they are removed first.
for (const obj of objects) {
  if (obj?.kind !== "Secret" || !obj.data || typeof obj.data !== "object") continue;
  for (const [key, value] of Object.entries(obj.data)) {
    if (typeof value === "string") obj.data[key] = value.replace(/[\r\n]/g, "");
  }
}

const problems = [];
function problem(obj, message) {
  const ns = obj?.metadata?.namespace ? `${obj.metadata.namespace}/` : "";
  problems.push(`${label}: ${obj?.kind ?? "?"} ${ns}${obj?.metadata?.name ?? "?"}: ${message}`);
}

// ---------------------------------------------------------------------------
// Schemas. "apps/v1" -> kubernetes-models/apps/v1, "v1" -> kubernetes-models/v1;
// the module's export named like the kind must be that kind's model.
// ---------------------------------------------------------------------------
const modules = new Map();
async function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || !/^[a-z0-9.]+(\/[a-z0-9]+)?$/.test(apiVersion)) {
    return null;
  }
  if (!modules.has(apiVersion)) {
    try {
      modules.set(apiVersion, await import(`kubernetes-models/${apiVersion}`));
    } catch {
      modules.set(apiVersion, null);
    }
  }
  const mod = modules.get(apiVersion);
  const model = mod?.[kind];
  if (typeof model !== "function" || model.kind !== kind || model.apiVersion !== apiVersion) {
    return null;
  }
  return model;
}

for (const obj of objects) {
  if (typeof obj !== "object" || Array.isArray(obj)) {
    problems.push(`${label}: a document is not an object`);
    continue;
  }
  const model = await modelFor(obj.apiVersion, obj.kind);
  if (model === null) {
    problem(obj, `unknown kind ${obj.kind} in apiVersion ${obj.apiVersion} (no Kubernetes schema)`);
    continue;
  }
  try {
    new model(obj).validate();
  } catch (error) {
    // ajv-style messages: "data/spec/... must be integer"; several joined by ", ".
    const message = String(error?.message ?? error).replace(/\bdata\//g, "");
    problem(obj, `schema: ${message}`);
  }
}

// ---------------------------------------------------------------------------
// Invariants.
// ---------------------------------------------------------------------------
const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]);
const LONG_RUNNING_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

function podTemplate(obj) {
  if (obj.kind === "CronJob") return obj.spec?.jobTemplate?.spec?.template;
  return obj.spec?.template;
}

function namespaceOf(obj) {
  return obj.metadata?.namespace ?? "";
}

function matches(selector, labels) {
  if (!selector || typeof selector !== "object") return false;
  const matchLabels = selector.matchLabels ?? {};
  const expressions = selector.matchExpressions ?? [];
  if (Object.keys(matchLabels).length === 0 && expressions.length === 0) return false;
  for (const [key, value] of Object.entries(matchLabels)) {
    if (labels?.[key] !== value) return false;
  }
  for (const e of expressions) {
    const has = labels !== undefined && Object.hasOwn(labels, e.key);
    const value = has ? labels[e.key] : undefined;
    if (e.operator === "In" && !(has && e.values?.includes(value))) return false;
    if (e.operator === "NotIn" && has && e.values?.includes(value)) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

function declaredPort(container, port) {
  const ports = container.ports ?? [];
  if (typeof port === "string") return ports.some((p) => p.name === port);
  return ports.some((p) => p.containerPort === port);
}

function probePort(probe) {
  return probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port;
}

function checkContainer(obj, pod, container, longRunning) {
  const where = `container ${container.name}`;
  const r = container.resources ?? {};
  for (const kind of ["requests", "limits"]) {
    for (const resource of ["cpu", "memory"]) {
      if (r[kind]?.[resource] === undefined) {
        problem(obj, `${where}: no resources.${kind}.${resource}`);
      }
    }
  }
  if (longRunning) {
    for (const name of ["livenessProbe", "readinessProbe"]) {
      if (!container[name]) problem(obj, `${where}: no ${name}`);
    }
  }
  for (const name of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    const probe = container[name];
    if (!probe) continue;
    const port = probePort(probe);
    if (port !== undefined && !declaredPort(container, port)) {
      problem(obj, `${where}: ${name} uses port ${port}, which the container does not declare`);
    }
  }
  const podSc = pod.spec?.securityContext ?? {};
  const sc = container.securityContext ?? {};
  if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) {
    problem(obj, `${where}: runAsNonRoot is not true (pod or container securityContext)`);
  }
  if ((sc.runAsUser ?? podSc.runAsUser) === 0) problem(obj, `${where}: runAsUser is 0`);
  if (sc.allowPrivilegeEscalation !== false) {
    problem(obj, `${where}: securityContext.allowPrivilegeEscalation is not false`);
  }
  if (sc.readOnlyRootFilesystem !== true) {
    problem(obj, `${where}: securityContext.readOnlyRootFilesystem is not true`);
  }
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) {
    problem(obj, `${where}: securityContext.capabilities.drop does not include ALL`);
  }
  if (sc.privileged === true) problem(obj, `${where}: privileged`);
  if (pinnedImages) {
    const image = String(container.image ?? "");
    const tagged = /@sha256:[0-9a-f]{64}$/.test(image) || /:[^/:]+$/.test(image);
    if (!tagged || image.endsWith(":latest")) {
      problem(obj, `${where}: image '${image}' is not pinned (give a tag other than latest or a digest)`);
    }
  }
}

const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o?.kind));
for (const obj of workloads) {
  const pod = podTemplate(obj);
  if (!pod?.spec) continue;  // the schema check reported it
  const containers = [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
  const longRunning = LONG_RUNNING_KINDS.has(obj.kind);
  for (const container of pod.spec.containers ?? []) {
    checkContainer(obj, pod, container, longRunning);
  }
  for (const container of pod.spec.initContainers ?? []) {
    checkContainer(obj, pod, container, false);
  }
  if (containers.length === 0) problem(obj, "no containers");
}

// Deployments and StatefulSets: a PDB and a Service each.
const services = objects.filter((o) => o?.kind === "Service");
const pdbs = objects.filter((o) => o?.kind === "PodDisruptionBudget");
for (const obj of objects.filter((o) => o?.kind === "Deployment" || o?.kind === "StatefulSet")) {
  const labels = obj.spec?.template?.metadata?.labels ?? {};
  const ns = namespaceOf(obj);
  if (!pdbs.some((p) => namespaceOf(p) === ns && matches(p.spec?.selector, labels))) {
    problem(obj, "no PodDisruptionBudget selects its pods");
  }
  const selecting = services.filter(
    (s) => namespaceOf(s) === ns && s.spec?.selector && matches({ matchLabels: s.spec.selector }, labels));
  if (selecting.length === 0) problem(obj, "no Service selects its pods");
}

// A Service's named target ports exist on the pods it selects.
for (const svc of services) {
  if (!svc.spec?.selector) continue;
  const ns = namespaceOf(svc);
  const backends = workloads.filter(
    (w) => namespaceOf(w) === ns && matches({ matchLabels: svc.spec.selector }, podTemplate(w)?.metadata?.labels));
  if (backends.length === 0) {
    problem(svc, "selects no pods of any workload");
    continue;
  }
  for (const port of svc.spec.ports ?? []) {
    if (typeof port.targetPort !== "string") continue;
    for (const w of backends) {
      const containers = podTemplate(w)?.spec?.containers ?? [];
      if (!containers.some((c) => declaredPort(c, port.targetPort))) {
        problem(svc, `port ${port.name ?? port.port}: targetPort '${port.targetPort}' is not a port of ${w.kind} ${w.metadata?.name}`);
      }
    }
  }
}

// PDBs select something; HPAs scale something.
for (const pdb of pdbs) {
  const ns = namespaceOf(pdb);
  if (!workloads.some((w) => namespaceOf(w) === ns && matches(pdb.spec?.selector, podTemplate(w)?.metadata?.labels))) {
    problem(pdb, "selects no pods of any workload");
  }
}
for (const hpa of objects.filter((o) => o?.kind === "HorizontalPodAutoscaler")) {
  const ref = hpa.spec?.scaleTargetRef ?? {};
  const target = objects.find(
    (o) => o?.kind === ref.kind && o.metadata?.name === ref.name && namespaceOf(o) === namespaceOf(hpa));
  if (!target) problem(hpa, `scaleTargetRef ${ref.kind}/${ref.name} does not exist`);
  if ((hpa.spec?.minReplicas ?? 1) > (hpa.spec?.maxReplicas ?? 0)) {
    problem(hpa, "minReplicas is above maxReplicas");
  }
}

// CronJobs.
for (const cron of objects.filter((o) => o?.kind === "CronJob")) {
  const spec = cron.spec ?? {};
  if (spec.concurrencyPolicy !== "Forbid") {
    problem(cron, `concurrencyPolicy is ${spec.concurrencyPolicy ?? "unset (Allow)"}, not Forbid`);
  }
  for (const field of ["startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"]) {
    if (spec[field] === undefined) problem(cron, `no spec.${field}`);
  }
  const job = spec.jobTemplate?.spec ?? {};
  if (job.activeDeadlineSeconds === undefined) problem(cron, "no jobTemplate.spec.activeDeadlineSeconds");
  if (job.backoffLimit === undefined) problem(cron, "no jobTemplate.spec.backoffLimit");
  const restart = job.template?.spec?.restartPolicy;
  if (restart !== "Never" && restart !== "OnFailure") {
    problem(cron, `restartPolicy is ${restart ?? "unset"}, not Never or OnFailure`);
  }
}

// Auth is never off: no --auth=false / --noauth in any string, and every
// FLAGS_auth (ConfigMap data or container env) says true.
function walkStrings(value, visit, path = "") {
  if (typeof value === "string") visit(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, visit, `${path}[${i}]`));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) walkStrings(v, visit, path ? `${path}.${k}` : k);
  }
}
const AUTH_OFF = /(^|[\s"'=,])--?(auth(=|\s+)(false|0|no|f)\b|noauth\b)/i;
const TRUE_VALUES = new Set(["true", "1", "yes", "t"]);
for (const obj of objects) {
  walkStrings(obj, (s, path) => {
    if (AUTH_OFF.test(s)) problem(obj, `${path}: turns auth off ('${s}'); --auth=false is for local development only`);
  });
  if (obj?.kind === "ConfigMap" && obj.data && Object.hasOwn(obj.data, "FLAGS_auth") &&
      !TRUE_VALUES.has(String(obj.data.FLAGS_auth).toLowerCase())) {
    problem(obj, `data.FLAGS_auth is '${obj.data.FLAGS_auth}': auth must stay on`);
  }
  if (WORKLOAD_KINDS.has(obj?.kind)) {
    const spec = podTemplate(obj)?.spec ?? {};
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      for (const env of c.env ?? []) {
        if (env.name === "FLAGS_auth" && env.value !== undefined &&
            !TRUE_VALUES.has(String(env.value).toLowerCase())) {
          problem(obj, `container ${c.name}: env FLAGS_auth is '${env.value}': auth must stay on`);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
const counts = new Map();
for (const obj of objects) counts.set(obj?.kind, (counts.get(obj?.kind) ?? 0) + 1);
const summary = [...counts.entries()].sort().map(([k, n]) => `${k} ${n}`).join(", ");
if (objects.length === 0) problems.push(`${label}: no objects rendered`);
for (const p of problems) console.log(`FAIL ${p}`);
if (problems.length > 0) {
  console.log(`${label}: ${problems.length} problem(s) in ${objects.length} object(s)`);
  process.exit(1);
}
console.log(`ok ${label}: ${objects.length} objects valid (${summary})`);
