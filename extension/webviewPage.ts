/**
 * The HTML page around every eBPF Studio webview: a Content-Security-Policy that lets in only the
 * extension's own stylesheets and fonts and the one script carrying the page's nonce (no inline
 * script or style, nothing from elsewhere), the shared controls stylesheet, then the view's own.
 * Pages hold no data — scripts fill them in with textContent — so `body` is static markup.
 * Imports neither vscode nor the DOM (the log view's bench serves the same page to a browser).
 */

export interface PageSources {
  /** Fresh per page: only the script tag carrying it runs. */
  nonce: string;
  /** Where the webview's own resources come from (vscode.Webview.cspSource). */
  cspSource: string;
  /** The view's script, as a webview URI. */
  script: string;
  /** Stylesheets as webview URIs: out/webview/controls.css first, then the view's own. */
  styles: string[];
}

export function webviewPage({ nonce, cspSource, script, styles }: PageSources, title: string, body: string): string {
  const csp = [`default-src 'none'`, `style-src ${cspSource}`, `script-src 'nonce-${nonce}'`, `img-src ${cspSource}`, `font-src ${cspSource}`].join('; ');
  const links = styles.map((href) => `<link rel="stylesheet" href="${href}">`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${links}
<title>${title}</title>
</head>
<body>
${body.trim()}
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}
