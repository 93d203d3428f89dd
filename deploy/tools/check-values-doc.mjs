#!/usr/bin/env node
// Checks that a chart's values.yaml documents every value with the readme-generator convention
// (`## @param path description`): each leaf value (scalar, list, or empty map) must have a @param for
// its own path or for one of its parent maps, and every @param must name a value that exists.
//
//   node deploy/tools/check-values-doc.mjs deploy/helm/ciosegment/values.yaml
//
// Prints each problem on its own line and exits 1 if there is any; 2 on bad usage.
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  console.error("usage: node check-values-doc.mjs VALUES.yaml");
  process.exit(2);
}

const text = readFileSync(file, "utf8");
const values = parse(text) ?? {};
const params = new Set();
for (const match of text.matchAll(/^\s*##\s*@param\s+(\S+)\s+\S/gm)) params.add(match[1]);
for (const match of text.matchAll(/^\s*##\s*@param\s+(\S+)\s*$/gm)) {
  console.log(`@param ${match[1]} has no description`);
  process.exitCode = 1;
}

const paths = new Set();
const problems = [];
function walk(node, path) {
  if (path) paths.add(path);
  const isMap = node !== null && typeof node === "object" && !Array.isArray(node);
  if (isMap && Object.keys(node).length > 0) {
    for (const [key, value] of Object.entries(node)) walk(value, path ? `${path}.${key}` : key);
    return;
  }
  const parts = path.split(".");
  const documented = parts.some((_, i) => params.has(parts.slice(0, i + 1).join(".")));
  if (!documented) problems.push(`${path} has no ## @param`);
}
walk(values, "");

for (const param of params) {
  if (!paths.has(param)) problems.push(`## @param ${param} names no value in the file`);
}

for (const problem of problems) console.log(problem);
console.log(`${paths.size} values, ${params.size} @param lines, ${problems.length} problems`);
if (problems.length > 0) process.exitCode = 1;
