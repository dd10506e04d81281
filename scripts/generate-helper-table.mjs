// Generates the language server's table of BPF helpers from libbpf's bpf_helper_defs.h, so that
// completion, hover and signature help describe exactly the helpers of the libbpf the user builds
// against, with the kernel's own documentation (the header's doc comments, written in reStructuredText
// by the kernel's bpf_doc.py) turned into Markdown. Runs at build time, before bundling.
// Usage: node scripts/generate-helper-table.mjs   (env BPF_HELPER_DEFS=/path/to/bpf_helper_defs.h)
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const headerPath = process.env.BPF_HELPER_DEFS || '/usr/include/bpf/bpf_helper_defs.h';
const outputPath = join(root, 'language-server/generated/bpfHelpers.json');

// One helper declaration, e.g. `static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *) 3;`
const DECLARATION = /^static\s+(.+?)\s*\(\s*\*\s*(bpf_\w+)\s*\)\s*\((.*)\)\s*=\s*\(\s*void\s*\*\s*\)\s*(\d+)\s*;\s*$/;

function fail(message) {
  process.stderr.write(`generate-helper-table: ${message}\n`);
  process.exit(1);
}

function readHeader() {
  if (!existsSync(headerPath)) {
    fail(
      `${headerPath} not found. It comes with libbpf's development headers: install the Debian/Ubuntu ` +
        `package libbpf-dev (apt-get install libbpf-dev), or set BPF_HELPER_DEFS to the path of a ` +
        `bpf_helper_defs.h (e.g. from a libbpf source tree: src/bpf_helper_defs.h after 'make').`,
    );
  }
  return readFileSync(headerPath, 'utf8');
}

/** Splits `const void *key` into its type (`const void *`) and its name (`key`). */
function parseParameter(text, helperName) {
  const match = /^(.*?[\s*])(\w+)$/.exec(text.trim());
  if (!match) fail(`cannot read parameter '${text}' of ${helperName} in ${headerPath}`);
  return { type: match[1].trimEnd().replace(/\s+\*/g, ' *'), name: match[2] };
}

function formatSignature(returnType, name, params, variadic) {
  const joinedType = returnType.endsWith('*') ? returnType : `${returnType} `;
  const texts = params.map((p) => `${p.type.endsWith('*') ? p.type : `${p.type} `}${p.name}`);
  if (variadic) texts.push('...');
  return `${joinedType}${name}(${texts.length === 0 ? 'void' : texts.join(', ')})`;
}

// --- reStructuredText (the subset bpf_doc.py emits) to Markdown ---------------------------------

/** Converts the inline markup of one line of prose; ``literals`` become code spans, left untouched. */
function convertInline(text) {
  return text
    .split(/(``.+?``)/)
    .map((part, i) => {
      if (i % 2 === 1) return `\`${part.slice(2, -2)}\``;
      return part
        // `*skb*\ **->hash**`: emphasis glued to the end of emphasis only opens in Markdown as `__…__`.
        .replace(/(\*)\\ (\*{1,2})([^*]+)\2/g, (_, end, open, inner) => `${end}${'_'.repeat(open.length)}${inner}${'_'.repeat(open.length)}`)
        // `**TCP_BPF_***`: a literal star ending strong emphasis needs escaping in Markdown.
        .replace(/(\*\*[^*\s][^*]*)\*\*\*(?=[\s.,)]|$)/g, '$1\\***')
        .replace(/\\ /g, '') // RST's "\ " separates markup from following text without a space
        .replace(/\\([|/*\\])/g, (_, c) => (c === '*' ? '\\*' : c))
        .replace(/</g, '\\<');
    })
    .join('');
}

/** A comment line as its nesting depth (tabs beyond the first) and its text. */
function toLines(rawLines) {
  const lines = [];
  for (let i = 0; i < rawLines.length; i++) {
    let raw = rawLines[i];
    // An escaped line break glues markup to the next line's text: keep it as RST's `\ ` for convertInline.
    while (/[^\\]\\$/.test(raw) && i + 1 < rawLines.length) raw = `${raw} ${rawLines[++i].replace(/^\t+/, '')}`;
    if (raw.trim() === '') {
      lines.push({ depth: -1, text: '' });
      continue;
    }
    const tabs = /^\t*/.exec(raw)[0].length;
    lines.push({ depth: Math.max(tabs - 1, 0), text: raw.slice(tabs).trimEnd() });
  }
  return lines;
}

/** The indented block starting at `start`: lines deeper than 0 and blank lines between them. */
function takeIndentedBlock(lines, start) {
  let end = start;
  let lastContent = start - 1;
  while (end < lines.length && (lines[end].depth === -1 || lines[end].depth >= 1)) {
    if (lines[end].depth >= 1) lastContent = end;
    end++;
  }
  const block = lines.slice(start, lastContent + 1).map((l) => (l.depth === -1 ? l : { depth: l.depth - 1, text: l.text }));
  return { block, next: lastContent + 1 };
}

function codeFence(block) {
  const body = block.map((l) => (l.depth === -1 ? '' : '    '.repeat(l.depth) + l.text));
  return ['```', ...body, '```'];
}

function rstToMarkdown(lines) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.depth === -1) {
      out.push('');
      i++;
      continue;
    }
    if (line.depth >= 1) {
      // An indented block after a blank line is a block quote: render its content unindented.
      const { block, next } = takeIndentedBlock(lines, i);
      out.push(...rstToMarkdown(block));
      i = next;
      continue;
    }
    if (line.text.endsWith('::')) {
      // `::` (alone, or ending a sentence as `text::`) announces a literal block.
      const intro = line.text.slice(0, -2).trimEnd();
      if (intro !== '') out.push(convertInline(intro) + ':', '');
      const { block, next } = takeIndentedBlock(lines, i + 1);
      while (block.length > 0 && block[0].depth === -1) block.shift();
      out.push(...codeFence(block));
      i = next;
      continue;
    }
    if (i + 1 < lines.length && lines[i + 1].depth >= 1) {
      // A line directly followed by indented lines is a definition list entry: term, then definition.
      const { block, next } = takeIndentedBlock(lines, i + 1);
      out.push(`- ${convertInline(line.text)}\\`);
      for (const defLine of rstToMarkdown(block)) out.push(defLine === '' ? '' : `  ${defLine}`);
      i = next;
      continue;
    }
    out.push(convertInline(line.text));
    i++;
  }
  return out;
}

function toMarkdown(rawLines) {
  return rstToMarkdown(toLines(rawLines))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

// --- the header ---------------------------------------------------------------------------------

/** Reads the doc comment that ends right before line `end`: ` * name`, description, ` * Returns`, text. */
function parseDocComment(headerLines, end, helperName) {
  if (headerLines[end - 1]?.trim() !== '*/') return { description: '', returns: '' };
  let start = end - 2;
  while (start >= 0 && headerLines[start].trim() !== '/*') start--;
  if (start < 0) fail(`unterminated comment above ${helperName} in ${headerPath}`);
  const body = headerLines.slice(start + 1, end - 1).map((l) => l.replace(/^ \*( |$)/, ''));
  const nameLine = body.findIndex((l) => l.trim() !== '');
  if (body[nameLine]?.trim() !== helperName) {
    fail(`the comment above ${helperName} in ${headerPath} documents '${body[nameLine]?.trim()}' instead`);
  }
  const returnsLine = body.indexOf('Returns');
  const descriptionLines = body.slice(nameLine + 1, returnsLine === -1 ? body.length : returnsLine);
  const returnsLines = returnsLine === -1 ? [] : body.slice(returnsLine + 1);
  return { description: toMarkdown(descriptionLines), returns: toMarkdown(returnsLines) };
}

function parseHeader(text) {
  const headerLines = text.split('\n');
  const helpers = [];
  headerLines.forEach((line, index) => {
    if (!line.startsWith('static ')) return;
    const match = DECLARATION.exec(line);
    if (!match) fail(`cannot read helper declaration at ${headerPath}:${index + 1}: ${line}`);
    const [, returnTypeText, name, paramText, id] = match;
    const returnType = returnTypeText.replace(/\s+\*/g, ' *');
    const paramTexts = paramText.trim() === 'void' ? [] : paramText.split(',').map((p) => p.trim());
    // Only bpf_trace_printk is variadic: its format's arguments follow `fmt_size`.
    const variadic = paramTexts.at(-1) === '...';
    const params = (variadic ? paramTexts.slice(0, -1) : paramTexts).map((p) => parseParameter(p, name));
    helpers.push({
      name,
      id: Number(id),
      returnType,
      params,
      variadic,
      signature: formatSignature(returnType, name, params, variadic),
      ...parseDocComment(headerLines, index, name),
    });
  });
  if (helpers.length === 0) fail(`no helper declarations found in ${headerPath}; is it really bpf_helper_defs.h?`);
  return helpers;
}

const helpers = parseHeader(readHeader());
const json = JSON.stringify({ source: headerPath, helpers }, null, 1) + '\n';
const previous = existsSync(outputPath) ? readFileSync(outputPath, 'utf8') : undefined;
if (previous !== json) {
  mkdirSync(dirname(outputPath), { recursive: true });
  // Written aside and renamed, so that a server or test reading the table never sees half of it.
  const partialPath = `${outputPath}.${process.pid}.partial`;
  writeFileSync(partialPath, json);
  renameSync(partialPath, outputPath);
}
process.stdout.write(
  `generate-helper-table: ${helpers.length} helpers from ${headerPath} -> ${relative(root, outputPath)}` +
    `${previous === json ? ' (unchanged)' : ''}\n`,
);
