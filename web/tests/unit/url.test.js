// WebSocket / REST URL derivation from the page location.
import { describe, expect, it } from 'vitest';
import { apiUrl, wsUrl } from '../../app/lib/url.js';

const loc = (href) => ({ href });

describe('wsUrl', () => {
  it('derives ws:/wss: next to the page', () => {
    expect(wsUrl(loc('http://127.0.0.1:4000/'))).toBe('ws://127.0.0.1:4000/ws');
    expect(wsUrl(loc('https://dash.example/'))).toBe('wss://dash.example/ws');
    expect(wsUrl(loc('https://dash.example/pp/index.html?host=vm-1#x'))).toBe('wss://dash.example/pp/ws');
  });

  it('honours ?ws= (absolute, http-ish or relative) and ignores other schemes', () => {
    expect(wsUrl(loc('http://a:1/?ws=ws://b:2/ws'))).toBe('ws://b:2/ws');
    expect(wsUrl(loc('http://a:1/?ws=https://b/x/ws'))).toBe('wss://b/x/ws');
    expect(wsUrl(loc('https://a/d/?ws=/other/ws'))).toBe('wss://a/other/ws');
    expect(wsUrl(loc('http://a:1/?ws=javascript:alert(1)'))).toBe('ws://a:1/ws');
  });

  it('REST fallback sits next to the socket', () => {
    expect(apiUrl('ws://127.0.0.1:4000/ws', 'latest')).toBe('http://127.0.0.1:4000/api/v1/latest');
    expect(apiUrl('wss://d/pp/ws', 'latest')).toBe('https://d/pp/api/v1/latest');
  });
});
