/// <reference lib="dom" />
/**
 * What every webview script takes from its page: VS Code's message channel to the extension,
 * typed by the view's own messages (acquired once per page, as VS Code requires), and the page's
 * elements by id.
 */

interface VsCodeApi<Message> {
  postMessage(message: Message): void;
}
declare function acquireVsCodeApi(): VsCodeApi<unknown>;

export function vsCodeApi<Message>(): VsCodeApi<Message> {
  return acquireVsCodeApi() as VsCodeApi<Message>;
}

export function element<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}
