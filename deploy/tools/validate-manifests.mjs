#!/usr/bin/env node
// Validates a multi-document YAML stream of Kubernetes objects (as `helm template` prints it) against the
// OpenAPI schemas that the kubernetes-models packages ship, offline.
//
//   helm template ciosegment deploy/helm/ciosegment | node deploy/tools/validate-manifests.mjs
//   node deploy/tools/validate-manifests.mjs rendered.yaml [--json objects.json]
//
// Prints one line per object ("ok" or "FAIL" with the schema errors) and exits 1 if any object fails.
// An apiVersion/kind that no loaded model knows is a failure, not a pass: add its model below when the
// chart starts rendering a new kind. The models check types, required fields and enums; like the API
// server's default (non-strict) decoding they do not reject unknown fields.
// --json FILE also writes the parsed objects as a JSON array, for tests that inspect the rendered output.
// Exit codes: 0 all valid, 1 an object is invalid or unknown, 2 bad usage or unreadable/unparsable input.
import { readFileSync, writeFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// Stable API groups only: a removed beta version (policy/v1beta1, autoscaling/v2beta2, ...) is unknown.
const modelModules = [
  "kubernetes-models/v1",
  "kubernetes-models/apps/v1",
  "kubernetes-models/autoscaling/v2",
  "kubernetes-models/batch/v1",
  "kubernetes-models/policy/v1",
  "kubernetes-models/networking.k8s.io/v1",
  "kubernetes-models/rbac.authorization.k8s.io/v1",
  "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
  "@kubernetes-models/keda/keda.sh/v1alpha1",
];

function usage(message) {
  if (message) console.error(`validate-manifests: ${message}`);
  console.error("usage: node validate-manifests.mjs [FILE|-] [--json OUT.json]");
  process.exit(2);
}

let input = "-";
let jsonOut = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--json") {
    jsonOut = args[++i];
    if (!jsonOut) usage("--json needs a file name");
  } else if (arg === "-h" || arg === "--help") {
    usage();
  } else if (input === "-" && (arg === "-" || !arg.startsWith("-"))) {
    input = arg;
  } else {
    usage(`unexpected argument '${arg}'`);
  }
}

const models = new Map();
for (const name of modelModules) {
  const module = await import(name);
  for (const value of Object.values(module)) {
    if (typeof value === "function" && typeof value.apiVersion === "string" && typeof value.kind === "string") {
      models.set(`${value.apiVersion} ${value.kind}`, value);
    }
  }
}

let text;
try {
  text = readFileSync(input === "-" ? 0 : input, "utf8");
} catch (e) {
  usage(`cannot read ${input === "-" ? "standard input" : input}: ${e.message}`);
}

const documents = parseAllDocuments(text);
const objects = [];
let failures = 0;
documents.forEach((doc, index) => {
  if (doc.errors.length > 0) {
    console.log(`FAIL document ${index + 1}: YAML error: ${doc.errors.map((e) => e.message).join("; ")}`);
    failures++;
    return;
  }
  const obj = doc.toJS();
  if (obj === null || obj === undefined) return; // an empty document (only comments)
  objects.push(obj);
});

if (failures === 0 && objects.length === 0) {
  console.log("FAIL the input holds no Kubernetes object");
  process.exit(1);
}

const seen = new Set();
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
for (const obj of objects) {
  const apiVersion = obj?.apiVersion;
  const kind = obj?.kind;
  const name = obj?.metadata?.name;
  const label = `${apiVersion ?? "<no apiVersion>"} ${kind ?? "<no kind>"} ${name ?? "<no name>"}`;
  const problems = [];
  const Model = models.get(`${apiVersion} ${kind}`);
  if (typeof obj !== "object" || Array.isArray(obj)) {
    problems.push("not a mapping");
  } else if (!Model) {
    problems.push(`unknown apiVersion/kind: no model loaded for '${apiVersion} ${kind}' (validate-manifests.mjs lists the known groups)`);
  } else {
    try {
      new Model(obj).validate();
    } catch (e) {
      problems.push(e.message);
    }
  }
  if (typeof name !== "string" || name.length === 0) {
    problems.push("metadata.name is missing");
  } else if (name.length > 253 || !dnsSubdomain.test(name)) {
    problems.push(`metadata.name '${name}' is not a DNS subdomain name`);
  }
  for (const [key, value] of Object.entries(obj?.metadata?.labels ?? {})) {
    if (typeof value !== "string" || value.length > 63) problems.push(`label ${key} must be a string of at most 63 characters`);
  }
  const identity = `${apiVersion?.split("/").slice(0, -1).join("/")}|${kind}|${obj?.metadata?.namespace ?? ""}|${name}`;
  if (seen.has(identity)) problems.push("duplicate object (same group, kind, namespace and name)");
  seen.add(identity);

  if (problems.length === 0) {
    console.log(`ok   ${label}`);
  } else {
    failures++;
    console.log(`FAIL ${label}: ${problems.join("; ")}`);
  }
}

if (jsonOut) writeFileSync(jsonOut, JSON.stringify(objects, null, 1));
console.log(`${objects.length} objects, ${failures} invalid`);
process.exit(failures === 0 ? 0 : 1);
