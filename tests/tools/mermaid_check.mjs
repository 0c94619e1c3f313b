import { JSDOM } from 'jsdom';
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window; globalThis.document = dom.window.document;
globalThis.DOMPurify = undefined;
const { default: mermaid } = await import('mermaid');
import fs from 'fs';
const text = fs.readFileSync(0, 'utf8');
try { const r = await mermaid.parse(text); console.log('OK', JSON.stringify(r)); }
catch (e) { console.log('ERR', e.message); process.exit(1); }
