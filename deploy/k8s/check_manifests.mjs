// Checks rendered Kubernetes manifests (kubectl kustomize output) against the Kubernetes schemas and against
// the skillsd binaries themselves. Run by check_manifests.sh:
//   node check_manifests.mjs NPM_DIR BIN_DIR RENDERED.yaml...
// Every problem is printed; the exit status is 1 when there was any.
//
// Checks, for every object: it validates against the schema of its kind (kubernetes-models, which compiles the
// upstream OpenAPI schemas), and every field name it uses is a field name of some Kubernetes schema (a misspelt
// field such as `readinesProbe` is otherwise silently ignored by the API server). For every skillsd container:
// each --flag is one its binary accepts (from --helpfull), the grpc/metrics/health container ports equal the
// --port/--metrics_port/--health_port it is given, its probes use the health port, it mounts what its paths
// need, the experiment config it reads is valid (`skillsd config`), and each server address it dials names a
// Service of the deployment with that Service's port. Services and NetworkPolicies must select pods that exist
// and name ports those pods have.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [npmDir, binDir, ...files] = process.argv.slice(2);
if (!npmDir || !binDir || files.length === 0) {
  console.error("usage: node check_manifests.mjs NPM_DIR BIN_DIR RENDERED.yaml...");
  process.exit(2);
}
const models = join(npmDir, "node_modules", "kubernetes-models");
const YAML = await import(pathToFileURL(join(npmDir, "node_modules", "yaml", "dist", "index.js")).href);

let problems = 0;
function problem(where, message) {
  problems++;
  console.error(`FAIL ${where}: ${message}`);
}

// Field names of every Kubernetes schema (the generated validators test `data.<field>` for each property).
const knownFields = new Set(["apiVersion", "kind", "metadata"]);
for (const dir of [join(models, "_schemas"), join(npmDir, "node_modules", "@kubernetes-models", "apimachinery", "_schemas")]) {
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".js")) continue;
    for (const m of readFileSync(join(dir, f), "utf8").matchAll(/parentDataProperty:"([^"]+)"/g)) knownFields.add(m[1]);
  }
}
// Maps whose keys are free-form (names chosen by the user), so not field names.
const freeForm = new Set(["labels", "annotations", "matchLabels", "data", "stringData", "binaryData", "limits",
                          "requests", "nodeSelector", "selector"]);
function checkFieldNames(where, value, path) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkFieldNames(where, v, `${path}[${i}]`));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (!knownFields.has(k)) problem(where, `unknown field ${path}.${k}`);
      // Service.spec.selector is a plain map; a workload's spec.selector is a LabelSelector.
      if (freeForm.has(k) && !(k === "selector" && v && (v.matchLabels || v.matchExpressions))) continue;
      checkFieldNames(where, v, `${path}.${k}`);
    }
  }
}

async function validateSchema(where, obj) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [null, obj.apiVersion];
  const file = join(models, ...(group ? [group, version] : [version]), `${obj.kind}.js`);
  let Model;
  try {
    Model = (await import(pathToFileURL(file).href))[obj.kind];
  } catch (e) {
    problem(where, `no schema for ${obj.apiVersion} ${obj.kind}`);
    return;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    problem(where, `schema: ${e.message}`);
  }
}

// Flags each binary accepts: name -> bool?
const flagCache = new Map();
function binaryFlags(binary) {
  if (!flagCache.has(binary)) {
    // absl prints the help and exits 1.
    const run = spawnSync(join(binDir, binary), ["--helpfull"], { encoding: "utf8" });
    if (run.error) throw run.error;
    const help = run.stdout + run.stderr;
    const flags = new Map();
    // Entries look like "    --name (help...); default: value;" with the help possibly over several lines.
    for (const m of help.matchAll(/^ {4}--(\w+) \(([\s\S]*?)\);\s+default: ([^;]*);/gm)) {
      flags.set(m[1], m[3] === "true" || m[3] === "false");
    }
    flagCache.set(binary, flags);
  }
  return flagCache.get(binary);
}
function parseArgs(args) {
  const out = new Map();
  for (const a of args) {
    const m = /^--(\w+)(?:=(.*))?$/.exec(a);
    if (m) out.set(m[1], m[2] === undefined ? null : m[2]);
  }
  return out;
}
function checkFlags(where, binary, args) {
  let flags;
  try {
    flags = binaryFlags(binary);
  } catch (e) {
    problem(where, `cannot run ${binary} --helpfull: ${e.message}`);
    return;
  }
  for (const [name, value] of parseArgs(args)) {
    const bare = name.startsWith("no") && flags.get(name.slice(2)) === true ? name.slice(2) : name;
    if (!flags.has(bare)) problem(where, `${binary} has no flag --${name}`);
    else if (value === null && !flags.get(bare)) problem(where, `--${name} of ${binary} needs a value`);
  }
}

const matches = (selector, labels) =>
  Object.entries(selector || {}).every(([k, v]) => labels && labels[k] === v);

function podTemplate(obj) {
  if (obj.kind === "Deployment" || obj.kind === "StatefulSet" || obj.kind === "Job") return obj.spec.template;
  return null;
}

function checkDocument(name, objs) {
  const workloads = objs.filter(podTemplate);
  const services = objs.filter((o) => o.kind === "Service");
  const claims = new Set(objs.filter((o) => o.kind === "PersistentVolumeClaim").map((o) => o.metadata.name));
  const configMaps = new Map(objs.filter((o) => o.kind === "ConfigMap").map((o) => [o.metadata.name, o]));
  const podsMatching = (selector) => workloads.filter((w) => matches(selector, podTemplate(w).metadata.labels));
  // Pods without ports (the prepare-model Job) are not reachable and are left out of port checks.
  const hasPorts = (w) => podTemplate(w).spec.containers.some((c) => (c.ports || []).length > 0);
  const portNames = (w) =>
    new Set(podTemplate(w).spec.containers.flatMap((c) => (c.ports || []).map((p) => p.name)));

  for (const w of workloads) {
    const where = `${name} ${w.kind}/${w.metadata.name}`;
    const tpl = podTemplate(w);
    for (const key of ["app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/part-of"]) {
      if (!w.metadata.labels?.[key]) problem(where, `metadata label ${key} missing`);
      if (!tpl.metadata.labels?.[key]) problem(where, `pod label ${key} missing`);
    }
    if (w.spec.selector && !matches(w.spec.selector.matchLabels, tpl.metadata.labels)) {
      problem(where, "selector does not match the pod labels");
    }
    if (tpl.spec.securityContext?.runAsNonRoot !== true) problem(where, "pods must set runAsNonRoot");
    const volumes = new Map((tpl.spec.volumes || []).map((v) => [v.name, v]));
    const templates = new Set((w.spec.volumeClaimTemplates || []).map((t) => t.metadata.name));
    for (const v of volumes.values()) {
      if (v.persistentVolumeClaim && !claims.has(v.persistentVolumeClaim.claimName)) {
        problem(where, `volume ${v.name} uses a claim that is not in the manifests: ${v.persistentVolumeClaim.claimName}`);
      }
      if (v.configMap && !configMaps.has(v.configMap.name)) problem(where, `volume ${v.name}: no ConfigMap ${v.configMap.name}`);
    }
    for (const c of [...(tpl.spec.initContainers || []), ...tpl.spec.containers]) {
      const cw = `${where} container ${c.name}`;
      const mounts = c.volumeMounts || [];
      for (const m of mounts) {
        if (!volumes.has(m.name) && !templates.has(m.name)) problem(cw, `mount ${m.name} has no volume`);
      }
      if (c.securityContext?.allowPrivilegeEscalation !== false) problem(cw, "allowPrivilegeEscalation must be false");
      if (!c.resources?.requests?.cpu && !tpl.spec.initContainers?.includes(c)) problem(cw, "no cpu request");
      if (!c.resources?.limits?.memory && !tpl.spec.initContainers?.includes(c)) problem(cw, "no memory limit");
      const binary = c.command?.[0];
      if (binary && binary.startsWith("skillsd")) {
        checkContainer(cw, c, binary, mounts, volumes, configMaps, services, workloads);
      } else if (binary === "/bin/sh") {
        // Shell snippets: check the flags of each skillsd invocation.
        const script = [...c.command.slice(1), ...(c.args || [])].join("\n");
        for (const segment of script.split(/\n|&&|\|\||;/)) {
          const tokens = segment.trim().split(/\s+/);
          const at = tokens.findIndex((t) => /^skillsd(-\w+)?$/.test(t));
          if (at >= 0) checkFlags(`${cw} (script)`, tokens[at], tokens.slice(at + 1).filter((t) => t.startsWith("--")));
        }
      }
    }
  }

  for (const s of services) {
    const where = `${name} Service/${s.metadata.name}`;
    const pods = podsMatching(s.spec.selector);
    if (pods.length === 0) problem(where, "selects no pods");
    for (const p of s.spec.ports) {
      if (typeof p.targetPort === "string" && !pods.every((w) => portNames(w).has(p.targetPort))) {
        problem(where, `target port ${p.targetPort} is not a port of every selected pod`);
      }
    }
  }

  for (const np of objs.filter((o) => o.kind === "NetworkPolicy")) {
    const where = `${name} NetworkPolicy/${np.metadata.name}`;
    const selected = podsMatching(np.spec.podSelector.matchLabels);
    if (selected.length === 0) problem(where, "selects no pods");
    for (const rule of np.spec.ingress || []) {
      for (const p of rule.ports || []) {
        if (typeof p.port === "string" && !selected.filter(hasPorts).every((w) => portNames(w).has(p.port))) {
          problem(where, `ingress port ${p.port} is not a port of every selected pod`);
        }
      }
      for (const peer of rule.from || []) {
        if (peer.podSelector && !peer.namespaceSelector && podsMatching(peer.podSelector.matchLabels).length === 0) {
          problem(where, "an ingress peer selects no pods");
        }
      }
    }
    for (const rule of np.spec.egress || []) {
      for (const peer of rule.to || []) {
        const peers = peer.podSelector ? podsMatching(peer.podSelector.matchLabels) : [];
        if (peer.podSelector && peers.length === 0) problem(where, "an egress peer selects no pods");
        for (const p of rule.ports || []) {
          if (typeof p.port === "string" && !peers.every((w) => portNames(w).has(p.port))) {
            problem(where, `egress port ${p.port} is not a port of every peer`);
          }
        }
      }
    }
  }
}

function checkContainer(where, c, binary, mounts, volumes, configMaps, services, workloads) {
  const args = c.args || [];
  checkFlags(where, binary, args);
  const flags = parseArgs(args);
  const ports = new Map((c.ports || []).map((p) => [p.name, p.containerPort]));
  for (const [portName, flag] of [["grpc", "port"], ["metrics", "metrics_port"], ["health", "health_port"]]) {
    if (!ports.has(portName)) problem(where, `no container port named ${portName}`);
    else if (Number(flags.get(flag)) !== ports.get(portName)) {
      problem(where, `container port ${portName} (${ports.get(portName)}) differs from --${flag}=${flags.get(flag)}`);
    }
  }
  for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
    const p = c[probe];
    if (!p) {
      if (probe !== "startupProbe") problem(where, `no ${probe}`);
      continue;
    }
    // The plaintext health port serves grpc.health.v1 without TLS, which is what the kubelet can speak.
    if (!p.grpc || p.grpc.port !== ports.get("health")) problem(where, `${probe} must be a gRPC probe of the health port`);
  }
  // Every file path given in a flag lies under a mount.
  const mountedAt = (path) => mounts.find((m) => path === m.mountPath || path.startsWith(m.mountPath + "/"));
  for (const [flag, value] of flags) {
    if (value && value.startsWith("/") && !mountedAt(value)) problem(where, `--${flag}=${value} is not under a mounted volume`);
  }
  // The config is a mounted ConfigMap key and is valid for skillsd.
  const config = flags.get("config");
  const mount = config && mountedAt(config);
  if (!config) problem(where, "no --config");
  else if (mount) {
    const cm = configMaps.get(volumes.get(mount.name)?.configMap?.name);
    const key = config.slice(mount.mountPath.length + 1);
    if (!cm || !(key in (cm.data || {}))) problem(where, `--config=${config} is not a key of a mounted ConfigMap`);
    else {
      const file = join(mkdtempSync(join(tmpdir(), "skillsd-k8s-")), "experiment.yaml");
      writeFileSync(file, cm.data[key]);
      try {
        execFileSync(join(binDir, "skillsd"), ["config", `--config=${file}`], { stdio: "pipe" });
      } catch (e) {
        problem(where, `the experiment config is invalid: ${e.stderr}`);
      }
    }
  }
  // Server addresses dial a Service of this deployment on that Service's port (learner-0.learner: rank 0's pod).
  for (const flag of ["learner", "env", "teacher", "skill"]) {
    const target = flags.get(flag);
    if (target === undefined || target === null || target === "") continue;
    const m = /^([a-z0-9-]+(?:\.[a-z0-9-]+)?):(\d+)$/.exec(target);
    if (!m) {
      problem(where, `--${flag}=${target} is not host:port`);
      continue;
    }
    const host = m[1].split(".");
    const service = services.find((s) => s.metadata.name === host[host.length - 1]);
    if (!service) {
      problem(where, `--${flag}=${target}: no Service ${host[host.length - 1]}`);
      continue;
    }
    if (!service.spec.ports.some((p) => p.port === Number(m[2]) && (p.name === "grpc"))) {
      problem(where, `--${flag}=${target}: Service ${service.metadata.name} has no grpc port ${m[2]}`);
    }
    if (host.length === 2) {
      const set = workloads.find((w) => w.kind === "StatefulSet" && w.spec.serviceName === host[1]);
      const ordinal = /^(.*)-(\d+)$/.exec(host[0]);
      if (!set || !ordinal || ordinal[1] !== set.metadata.name || Number(ordinal[2]) >= (set.spec.replicas ?? 1)) {
        problem(where, `--${flag}=${target} is not a pod of a StatefulSet behind Service ${host[1]}`);
      }
    }
  }
}

for (const file of files) {
  const objs = YAML.parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS()).filter(Boolean);
  if (objs.length === 0) problem(file, "renders no objects");
  for (const obj of objs) {
    const where = `${file} ${obj.kind}/${obj.metadata?.name}`;
    await validateSchema(where, obj);
    checkFieldNames(where, obj, obj.kind);
  }
  checkDocument(file, objs);
  console.log(`${file}: ${objs.length} objects checked`);
}
if (problems > 0) {
  console.error(`${problems} problem(s)`);
  process.exit(1);
}
console.log("all manifests agree with the schemas and the binaries");
