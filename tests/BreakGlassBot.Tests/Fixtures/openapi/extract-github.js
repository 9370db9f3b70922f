// Run once by hand (not at test time): node extract-github.js <path to @octokit/openapi>/generated/api.github.com.deref.json > github-excerpt.json
// Keeps, for each operation the bot calls, its path and query parameters and its JSON request body schema, from the
// dereferenced description (no $ref left). OpenAPI 3.0's "nullable: true" becomes a JSON Schema type that admits null;
// descriptions and examples are dropped (they are not checks).
const fs = require("fs");
const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const wanted = [
  ["get", "/user"],
  ["get", "/users/{username}"],
  ["get", "/user/{account_id}"],
  ["get", "/repos/{owner}/{repo}/pulls/{pull_number}"],
  ["put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"],
  ["get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"],
  ["post", "/repos/{owner}/{repo}/issues/{issue_number}/labels"],
  ["get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
  ["post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
  ["get", "/orgs/{org}/teams/{team_slug}/memberships/{username}"],
  ["put", "/orgs/{org}/teams/{team_slug}/memberships/{username}"],
  ["delete", "/orgs/{org}/teams/{team_slug}/memberships/{username}"],
  ["get", "/search/issues"],
  ["post", "/app/installations/{installation_id}/access_tokens"],
  ["get", "/orgs/{org}/memberships/{username}"],
  ["get", "/orgs/{org}/invitations"],
  ["delete", "/orgs/{org}/invitations/{invitation_id}"],
  ["get", "/repos/{owner}/{repo}/collaborators/{username}/permission"],
  ["get", "/repos/{owner}/{repo}/rulesets/rule-suites"],
  ["get", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"],
  ["get", "/repos/{owner}/{repo}/commits"],
  ["get", "/repos/{owner}/{repo}"],
];
const drop = new Set(["description", "example", "examples", "externalDocs", "x-github", "deprecated", "title"]);
function clean(s) {
  if (Array.isArray(s)) return s.map(clean);
  if (s === null || typeof s !== "object") return s;
  const out = {};
  for (const [k, v] of Object.entries(s)) {
    if (drop.has(k) && typeof v !== "object" || k === "examples" || k === "example") continue;
    if (k === "nullable") continue;
    // "properties" maps names to schemas: a property may itself be called "description" or "title".
    out[k] = k === "properties" ? Object.fromEntries(Object.entries(v).map(([n, p]) => [n, clean(p)])) : clean(v);
  }
  if (s.nullable === true) {
    if (typeof out.type === "string") out.type = [out.type, "null"];
    else if (out.enum) out.enum = [...out.enum, null];
    else return { anyOf: [out, { type: "null" }] };
    if (out.enum && !out.enum.includes(null)) out.enum = [...out.enum, null];
  }
  return out;
}
const operations = wanted.map(([method, path]) => {
  const op = spec.paths[path] && spec.paths[path][method];
  if (!op) throw new Error(`not in the description: ${method} ${path}`);
  const params = [...(spec.paths[path].parameters || []), ...(op.parameters || [])]
    .filter(p => p.in === "path" || p.in === "query")
    .map(p => ({ name: p.name, in: p.in, required: !!p.required, schema: clean(p.schema || {}) }));
  const json = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  return {
    method: method.toUpperCase(), path, operationId: op.operationId, parameters: params,
    requestBody: json ? { required: !!op.requestBody.required, schema: clean(json.schema) } : null,
  };
});
process.stdout.write(JSON.stringify({
  source: { package: "@octokit/openapi", version: spec.info.version, file: "generated/api.github.com.deref.json", openapi: spec.openapi },
  operations,
}, null, 1) + "\n");
