// Runs an actions/github-script `script:` body the way the action does (an async function of
// require, github, context, core), with a recording stand-in for the GitHub REST client.
// Usage: node github_script_harness.js SCRIPT_FILE STATE_FILE  -> prints the calls as JSON.
// STATE_FILE: {"comments": [...], "issues": [...], "context": {...}}.
"use strict";
const fs = require("fs");

async function main() {
  const [scriptFile, stateFile] = process.argv.slice(2);
  const script = fs.readFileSync(scriptFile, "utf8");
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
  const calls = [];
  const record = (name) => async (params) => {
    calls.push({ call: name, params });
    return { data: {} };
  };
  const list = (items) => {
    const lister = async () => ({ data: items });
    lister.items = items;
    return lister;
  };
  const github = {
    // Octokit's paginate returns the concatenated items of every page.
    paginate: async (method, params) => {
      calls.push({ call: "paginate", params });
      return method.items;
    },
    rest: {
      issues: {
        listComments: list(state.comments || []),
        listForRepo: list(state.issues || []),
        createComment: record("createComment"),
        updateComment: record("updateComment"),
        create: record("create"),
        update: record("update"),
      },
    },
  };
  const core = { setFailed: (message) => calls.push({ call: "setFailed", params: message }) };
  const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
  const run = new AsyncFunction("require", "github", "context", "core", script);
  await run(require, github, state.context, core);
  process.stdout.write(JSON.stringify(calls));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
