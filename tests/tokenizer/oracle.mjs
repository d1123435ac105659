// Encodes files with the real clients, one JSON array of ids per line:
//   node oracle.mjs hf TOKENIZER_JSON FILE...   Hugging Face tokenizers.js loading moelab's tokenizer.json
//   node oracle.mjs gpt2 FILE...                js-tiktoken's GPT-2 encoding
// and checks that decode(encode(text)) gives the text back.
import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import { Tiktoken } from "js-tiktoken/lite";
import gpt2 from "js-tiktoken/ranks/gpt2";

const [mode, ...rest] = process.argv.slice(2);
let encode, decode, files;
if (mode === "hf") {
  const tok = new Tokenizer(JSON.parse(readFileSync(rest[0], "utf8")), {});
  encode = (t) => tok.encode(t, { add_special_tokens: false }).ids;
  decode = (ids) => tok.decode(ids, { clean_up_tokenization_spaces: false });
  files = rest.slice(1);
} else if (mode === "gpt2") {
  const enc = new Tiktoken(gpt2);
  encode = (t) => enc.encode(t, [], []);  // no special tokens from text, as moelab
  decode = (ids) => enc.decode(ids);
  files = rest;
} else {
  console.error("usage: oracle.mjs hf TOKENIZER_JSON FILE... | gpt2 FILE...");
  process.exit(2);
}
for (const f of files) {
  const text = readFileSync(f, "utf8");
  const ids = Array.from(encode(text));
  if (decode(ids) !== text) {
    console.error(`oracle: ${mode} does not decode its own ids of ${f} back to the text`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(ids) + "\n");
}
