// Validates state machine definitions with asl-validator (the version tests/templates/asl/package-lock.json
// pins, installed by `make asl-validator` into build/asl-validator). Reads {"<name>": <definition>, ...} on
// stdin and prints {"<name>": ["<error>", ...], ...}: an empty list for a valid definition.
"use strict";

const validator = require("asl-validator");
const validate = validator.default || validator;

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => {
  const definitions = JSON.parse(input);
  const results = {};
  for (const [name, definition] of Object.entries(definitions)) {
    const { isValid, errors } = validate(definition, { checkArn: true, checkPaths: true });
    results[name] = isValid ? [] : errors.map((error) => `${error["Error code"]}: ${error.Message}`);
  }
  process.stdout.write(JSON.stringify(results));
});
